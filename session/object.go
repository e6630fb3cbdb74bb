package session

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// Object is an object on a token: its handle, and the attributes that
// identify it, so that it can be found again when the handle no longer
// names it (see [Session.Resolve]).
//
// KeyType is meaningful for keys only (CKO_PUBLIC_KEY, CKO_PRIVATE_KEY,
// CKO_SECRET_KEY); objects of other classes, and attributes the token
// would not give, have ck.CK_UNAVAILABLE_INFORMATION in Class and
// KeyType. An Object made by hand with only a Handle works for every
// operation; it just cannot be resolved.
type Object struct {
	Handle   ck.ObjectHandle
	Class    ck.ObjectClass
	KeyType  ck.KeyType
	ID       []byte // CKA_ID
	Label    string // CKA_LABEL
	UniqueID string // CKA_UNIQUE_ID (PKCS#11 3.0), empty when the token has none
}

// unavailable is the Class and KeyType of an object that has none.
const unavailable = ck.CK_UNAVAILABLE_INFORMATION

// ErrNotFound is matched by the error of FindOne and Resolve when no
// object matches.
var ErrNotFound = errors.New("no object matches")

// ErrAmbiguous is matched by the error of FindOne and Resolve when more
// than one object matches.
var ErrAmbiguous = errors.New("more than one object matches")

// identityHint is the size offered for each identity attribute in the
// first read; labels and IDs longer than that cost one more call.
const identityHint = 64

// isKeyClass reports whether objects of class c have a CKA_KEY_TYPE.
func isKeyClass(c ck.ObjectClass) bool {
	return c == ck.CKO_PUBLIC_KEY || c == ck.CKO_PRIVATE_KEY || c == ck.CKO_SECRET_KEY
}

// expectedClass returns the class a template asks for, or anyClass.
func expectedClass(template []ck.Attribute) ck.ObjectClass {
	for _, a := range template {
		if a.Type == ck.CKA_CLASS {
			if v, err := a.ULong(); err == nil {
				return ck.ObjectClass(v)
			}
		}
	}
	return anyClass
}

// Object reads the identity of the object with handle h: its class, key
// type, CKA_ID, label and CKA_UNIQUE_ID (C_GetAttributeValue).
func (s *Session) Object(h ck.ObjectHandle) (Object, error) {
	o, err := s.identify(h, anyClass)
	return o, s.wrap("reading object identity", err)
}

// anyClass is the class guess for an object that may be of any class.
const anyClass = ck.ObjectClass(unavailable)

// identityTypes returns the identity attributes objects of class have:
// a key has them all, a certificate no key type, a data object no key
// type nor CKA_ID. Asking an object for an attribute it lacks costs the
// root package further calls to tell which attribute was refused and
// why, so identify asks for the attributes of the class it expects.
func identityTypes(class ck.ObjectClass) []ck.AttributeType {
	switch {
	case class == anyClass || isKeyClass(class):
		return []ck.AttributeType{ck.CKA_CLASS, ck.CKA_ID, ck.CKA_LABEL, ck.CKA_KEY_TYPE}
	case class == ck.CKO_CERTIFICATE:
		return []ck.AttributeType{ck.CKA_CLASS, ck.CKA_ID, ck.CKA_LABEL}
	}
	return []ck.AttributeType{ck.CKA_CLASS, ck.CKA_LABEL}
}

// identify reads the identity of h: one C_GetAttributeValue with a size
// hint for the attributes of the class expected (anyClass when unknown),
// and a second only if the object turns out to be of a class with more
// of them.
func (s *Session) identify(h ck.ObjectHandle, expect ck.ObjectClass) (Object, error) {
	o := Object{Handle: h, Class: ck.ObjectClass(unavailable), KeyType: ck.KeyType(unavailable)}
	asked := identityTypes(expect)
	types := asked
	if !s.tok.caps.noUniqueID.Load() {
		types = append(types, ck.CKA_UNIQUE_ID)
	}
	if err := s.readIdentity(&o, types); err != nil {
		return o, err
	}
	if o.Class == ck.ObjectClass(unavailable) || o.Class == expect {
		return o, nil
	}
	var missing []ck.AttributeType
	for _, t := range identityTypes(o.Class) {
		if !slices.Contains(asked, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return o, nil
	}
	return o, s.readIdentity(&o, missing)
}

// readIdentity reads the identity attributes types of o.Handle into o.
func (s *Session) readIdentity(o *Object, types []ck.AttributeType) error {
	res, err := s.m.GetAttributeValueHint(s.h, o.Handle, types, identityHint)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			if r.Type == ck.CKA_UNIQUE_ID && errors.Is(r.Err, ck.CKR_ATTRIBUTE_TYPE_INVALID) {
				s.tok.caps.noUniqueID.Store(true)
			}
			continue
		}
		switch r.Type {
		case ck.CKA_CLASS:
			if v, err := r.ULong(); err == nil {
				o.Class = ck.ObjectClass(v)
			}
		case ck.CKA_KEY_TYPE:
			if v, err := r.ULong(); err == nil {
				o.KeyType = ck.KeyType(v)
			}
		case ck.CKA_ID:
			o.ID = r.Value
		case ck.CKA_LABEL:
			o.Label = r.Text()
		case ck.CKA_UNIQUE_ID:
			o.UniqueID = r.Text()
		}
	}
	return nil
}

// findBatch is the number of handles asked for per C_FindObjects.
const findBatch = 256

// handles returns the handles of every object matching template
// (C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal).
func (s *Session) handles(template []ck.Attribute) ([]ck.ObjectHandle, error) {
	var hs []ck.ObjectHandle
	for h, err := range s.FindIter(template, findBatch) {
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// Find returns every object matching template, with its identity
// (C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal, then one
// C_GetAttributeValue per object). An empty template matches every
// object the session can see; private objects are visible only when
// the token is logged in. For tokens with very many objects, FindIter
// reads handles only.
func (s *Session) Find(template []ck.Attribute) ([]Object, error) {
	hs, err := s.handles(template)
	if err != nil {
		return nil, err
	}
	expect := expectedClass(template)
	out := make([]Object, 0, len(hs))
	for _, h := range hs {
		o, err := s.identify(h, expect)
		if err != nil {
			return nil, s.wrap("find: reading object identity", err)
		}
		out = append(out, o)
	}
	return out, nil
}

// FindOne returns the one object matching template, with its identity.
// No match is an error matching ErrNotFound, several one matching
// ErrAmbiguous; both print the template. It calls the functions of Find.
func (s *Session) FindOne(template []ck.Attribute) (Object, error) {
	hs, err := s.handles(template)
	if err != nil {
		return Object{}, err
	}
	switch len(hs) {
	case 0:
		return Object{}, fmt.Errorf("session: find one: %w: %s", ErrNotFound, TemplateString(template))
	case 1:
	default:
		return Object{}, fmt.Errorf("session: find one: %w (%d do): %s", ErrAmbiguous, len(hs), TemplateString(template))
	}
	o, err := s.identify(hs[0], expectedClass(template))
	return o, s.wrap("find one: reading object identity", err)
}

// FindIter returns an iterator over the handles of the objects matching
// template, read batch handles at a time (C_FindObjectsInit, then
// C_FindObjects until the search is exhausted, then C_FindObjectsFinal),
// for tokens with more objects than are worth holding at once. A
// failure is yielded as a zero handle with the error, and ends the
// iteration.
//
// The search ends with C_FindObjectsFinal whenever the loop ends, early
// break included. While it runs, the loop body may read and change
// objects on the session but must not start another search on it.
func (s *Session) FindIter(template []ck.Attribute, batch int) iter.Seq2[ck.ObjectHandle, error] {
	return func(yield func(ck.ObjectHandle, error) bool) {
		if batch < 1 {
			yield(0, fmt.Errorf("session: find: batch size %d, must be at least 1", batch))
			return
		}
		err := s.m.FindObjectsInit(s.h, template)
		if errors.Is(err, ck.CKR_OPERATION_ACTIVE) {
			// A search someone left open: end it and start ours.
			s.m.FindObjectsFinal(s.h)
			err = s.m.FindObjectsInit(s.h, template)
		}
		if errors.Is(err, ck.CKR_OPERATION_ACTIVE) {
			// tpm2-pkcs11 keeps one operation per session for every
			// kind, searches included, and leaves a failed one active:
			// end whatever is in the way (crypto.go).
			s.endAll(kindSign)
			err = s.m.FindObjectsInit(s.h, template)
		}
		if err != nil {
			yield(0, s.wrap("find "+TemplateString(template), err))
			return
		}
		ended := false
		defer func() {
			if !ended {
				s.endFind()
			}
		}()
		for {
			hs, err := s.m.FindObjects(s.h, batch)
			if err != nil {
				yield(0, s.wrap("find", err))
				return
			}
			if len(hs) == 0 {
				break
			}
			for _, h := range hs {
				if !yield(h, nil) {
					return
				}
			}
		}
		ended = true
		if err := s.m.FindObjectsFinal(s.h); err != nil {
			yield(0, s.wrap("find", err))
		}
	}
}

// endFind ends a search that stopped early. If that fails the session
// is left with a search open, so the pool is told not to reuse it.
func (s *Session) endFind() {
	if err := s.m.FindObjectsFinal(s.h); err != nil {
		s.wrap("find", err)
		s.lost = true
	}
}

// TemplateString prints a template for people, each attribute decoded by
// its kind, as in {CKA_CLASS=CKO_PRIVATE_KEY, CKA_LABEL="signing key"}.
// Secret values (CKA_VALUE and the private key components) print as
// their length only.
func TemplateString(template []ck.Attribute) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, a := range template {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte('}')
	return b.String()
}

// Create creates an object from template and returns it with its
// identity (C_CreateObject, C_GetAttributeValue).
func (s *Session) Create(template []ck.Attribute) (Object, error) {
	h, err := s.m.CreateObject(s.h, template)
	if err != nil {
		return Object{}, s.wrap("create", err)
	}
	o, err := s.identify(h, expectedClass(template))
	return o, s.wrap("create: reading object identity", err)
}

// Copy copies the object h, changing the attributes in template, and
// returns the copy with its identity (C_CopyObject,
// C_GetAttributeValue).
func (s *Session) Copy(h ck.ObjectHandle, template []ck.Attribute) (Object, error) {
	c, err := s.m.CopyObject(s.h, h, template)
	if err != nil {
		return Object{}, s.wrap("copy", err)
	}
	o, err := s.identify(c, anyClass)
	return o, s.wrap("copy: reading object identity", err)
}

// Destroy destroys the object h (C_DestroyObject).
func (s *Session) Destroy(h ck.ObjectHandle) error {
	return s.wrap("destroy", s.m.DestroyObject(s.h, h))
}

// Attributes reads attributes of the object h (C_GetAttributeValue).
// Each result carries its own outcome, so that a sensitive or unknown
// attribute does not hide the others; the error is for failures of the
// whole call.
func (s *Session) Attributes(h ck.ObjectHandle, types ...ck.AttributeType) ([]pkcs11.AttributeResult, error) {
	res, err := s.m.GetAttributeValue(s.h, h, types)
	return res, s.wrap("reading attributes", err)
}

// SetAttributes changes attributes of the object h
// (C_SetAttributeValue).
func (s *Session) SetAttributes(h ck.ObjectHandle, attrs ...ck.Attribute) error {
	return s.wrap("setting attributes", s.m.SetAttributeValue(s.h, h, attrs))
}

// Resolve returns o with a handle valid on this session. When o.Handle
// still names an object of o's identity, o comes back unchanged (one
// C_GetAttributeValue). Otherwise the object is found again (the
// functions of FindOne), in this order, the first search that finds
// exactly one object winning:
//
//  1. by CKA_UNIQUE_ID and class, if o has a CKA_UNIQUE_ID;
//  2. by CKA_ID, class and key type, if o has a CKA_ID; and when that
//     finds several, by CKA_ID, class, key type and label;
//  3. by label, class and key type, only if o has neither a
//     CKA_UNIQUE_ID nor a CKA_ID.
//
// An object with a CKA_UNIQUE_ID or a CKA_ID is never found by its
// label alone: another key that merely has the same label is not it.
// A key made since with the same CKA_ID (and class and key type) is
// taken for it, as after a token was initialized again and its keys
// put back. Handles change when a token is initialized again or an
// object is replaced, and on some modules from one session to the next.
//
// An Object without any identity (made by hand from a handle) comes
// back unchanged while its handle is valid, and cannot be found again
// once it is not. Nor can an object that its identity no longer names
// uniquely: the errors then match ErrNotFound or ErrAmbiguous.
func (s *Session) Resolve(o Object) (Object, error) {
	if o.Handle != ck.CK_INVALID_HANDLE {
		cur, err := s.identify(o.Handle, o.Class)
		if err == nil && (sameObject(o, cur) || !resolvable(o)) {
			return o, nil
		}
		if err != nil && !isHandleInvalid(err) {
			return o, s.wrap("resolve", err)
		}
	}
	return s.refind(o)
}

// sameObject reports whether cur, just read, has o's identity.
func sameObject(o, cur Object) bool {
	return o.Class == cur.Class && o.KeyType == cur.KeyType && bytes.Equal(o.ID, cur.ID) &&
		o.Label == cur.Label && (o.UniqueID == "" || o.UniqueID == cur.UniqueID)
}

// isHandleInvalid reports whether err says an object handle is invalid.
func isHandleInvalid(err error) bool {
	return errors.Is(err, ck.CKR_OBJECT_HANDLE_INVALID) || errors.Is(err, ck.CKR_KEY_HANDLE_INVALID)
}

// resolvable reports whether o has an identity to find it by.
func resolvable(o Object) bool {
	return o.UniqueID != "" || len(o.ID) > 0 || o.Label != ""
}

// refind finds o again by its identity, in the order Resolve states.
func (s *Session) refind(o Object) (Object, error) {
	if !resolvable(o) {
		return o, errors.New("session: resolve: the object has no CKA_UNIQUE_ID, CKA_ID or label to find it by")
	}
	var class []ck.Attribute
	if o.Class != ck.ObjectClass(unavailable) {
		class = append(class, ck.MustAttribute(ck.CKA_CLASS, o.Class))
	}
	base := class
	if isKeyClass(o.Class) && o.KeyType != ck.KeyType(unavailable) {
		base = append(base[:len(base):len(base)], ck.MustAttribute(ck.CKA_KEY_TYPE, o.KeyType))
	}
	label := ck.MustAttribute(ck.CKA_LABEL, o.Label)
	with := func(t []ck.Attribute, a ...ck.Attribute) []ck.Attribute {
		return append(t[:len(t):len(t)], a...)
	}

	var tries [][]ck.Attribute
	narrow := -1 // the index of the search by CKA_ID and label
	if o.UniqueID != "" {
		tries = append(tries, with(class, ck.MustAttribute(ck.CKA_UNIQUE_ID, o.UniqueID)))
	}
	if len(o.ID) > 0 {
		byID := with(base, ck.Attribute{Type: ck.CKA_ID, Value: o.ID})
		tries = append(tries, byID)
		if o.Label != "" {
			narrow = len(tries)
			tries = append(tries, with(byID, label))
		}
	}
	if o.UniqueID == "" && len(o.ID) == 0 {
		tries = append(tries, with(base, label))
	}

	var errs []error
	for i, t := range tries {
		r, err := s.FindOne(t)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrAmbiguous) {
			return o, err
		}
		errs = append(errs, err)
		// The label only narrows a CKA_ID that several objects have.
		if i+1 == narrow && errors.Is(err, ErrNotFound) {
			break
		}
	}
	return o, fmt.Errorf("session: resolve: %w", errors.Join(errs...))
}
