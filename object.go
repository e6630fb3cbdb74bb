package pkcs11

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/purepkcs11/pkcs11/ck"
)

// templateArena returns an arena holding t, with extra bytes to spare,
// and the offset of t's CK_ATTRIBUTE array.
func templateArena(f funcIndex, t []ck.Attribute, extra int) (arena, int, error) {
	if err := argsFit(f, uint64(len(t))); err != nil {
		return arena{}, 0, err
	}
	n, err := templateSize(t)
	if err != nil {
		return arena{}, 0, errorf(f, "%v", err)
	}
	a := newArena(n + extra + 8)
	off, err := a.template(t)
	if err != nil {
		a.free()
		return arena{}, 0, err
	}
	return a, off, nil
}

// CreateObject creates an object from a template (C_CreateObject).
func (m *Module) CreateObject(s ck.SessionHandle, template []ck.Attribute) (ck.ObjectHandle, error) {
	if err := argsFit(fnCreateObject, uint64(s)); err != nil {
		return 0, err
	}
	a, t, err := templateArena(fnCreateObject, template, 8)
	if err != nil {
		return 0, err
	}
	defer a.free()
	h := a.alloc(8)
	rv := m.call4(fnCreateObject, uintptr(s), uintptr(a.ptr(t)), uintptr(len(template)), uintptr(a.ptr(h)))
	if err := check(fnCreateObject, rv); err != nil {
		return 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), nil
}

// CopyObject copies an object, changing the attributes in template
// (C_CopyObject).
func (m *Module) CopyObject(s ck.SessionHandle, o ck.ObjectHandle, template []ck.Attribute) (ck.ObjectHandle, error) {
	if err := argsFit(fnCopyObject, uint64(s), uint64(o)); err != nil {
		return 0, err
	}
	a, t, err := templateArena(fnCopyObject, template, 8)
	if err != nil {
		return 0, err
	}
	defer a.free()
	h := a.alloc(8)
	rv := m.call5(fnCopyObject, uintptr(s), uintptr(o), uintptr(a.ptr(t)), uintptr(len(template)), uintptr(a.ptr(h)))
	if err := check(fnCopyObject, rv); err != nil {
		return 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), nil
}

// DestroyObject destroys an object (C_DestroyObject).
func (m *Module) DestroyObject(s ck.SessionHandle, o ck.ObjectHandle) error {
	if err := argsFit(fnDestroyObject, uint64(s), uint64(o)); err != nil {
		return err
	}
	return check(fnDestroyObject, m.call2(fnDestroyObject, uintptr(s), uintptr(o)))
}

// GetObjectSize returns the size of an object in bytes, as the token
// counts it (C_GetObjectSize).
func (m *Module) GetObjectSize(s ck.SessionHandle, o ck.ObjectHandle) (uint64, error) {
	if err := argsFit(fnGetObjectSize, uint64(s), uint64(o)); err != nil {
		return 0, err
	}
	a := newArena(8)
	defer a.free()
	rv := m.call3(fnGetObjectSize, uintptr(s), uintptr(o), uintptr(a.ptr(0)))
	if err := check(fnGetObjectSize, rv); err != nil {
		return 0, err
	}
	return getCount(a.buf), nil
}

// SetAttributeValue changes attributes of an object (C_SetAttributeValue).
func (m *Module) SetAttributeValue(s ck.SessionHandle, o ck.ObjectHandle, template []ck.Attribute) error {
	if err := argsFit(fnSetAttributeValue, uint64(s), uint64(o)); err != nil {
		return err
	}
	a, t, err := templateArena(fnSetAttributeValue, template, 0)
	if err != nil {
		return err
	}
	defer a.free()
	rv := m.call4(fnSetAttributeValue, uintptr(s), uintptr(o), uintptr(a.ptr(t)), uintptr(len(template)))
	return check(fnSetAttributeValue, rv)
}

// FindObjectsInit starts a search for objects matching a template
// (C_FindObjectsInit). An empty template matches every object the
// session can see.
func (m *Module) FindObjectsInit(s ck.SessionHandle, template []ck.Attribute) error {
	if err := argsFit(fnFindObjectsInit, uint64(s)); err != nil {
		return err
	}
	a, t, err := templateArena(fnFindObjectsInit, template, 0)
	if err != nil {
		return err
	}
	defer a.free()
	rv := m.call3(fnFindObjectsInit, uintptr(s), uintptr(a.ptr(t)), uintptr(len(template)))
	return check(fnFindObjectsInit, rv)
}

// FindObjects returns up to max more handles of the search
// (C_FindObjects); an empty result means the search is exhausted.
func (m *Module) FindObjects(s ck.SessionHandle, max int) ([]ck.ObjectHandle, error) {
	if max <= 0 {
		return nil, errorf(fnFindObjects, "max is %d, must be positive", max)
	}
	if err := argsFit(fnFindObjects, uint64(s), uint64(max)); err != nil {
		return nil, err
	}
	a := newArena((max + 1) * int(ulongSize))
	defer a.free()
	list := a.alloc(max * int(ulongSize))
	cnt := a.alloc(int(ulongSize))
	rv := m.call4(fnFindObjects, uintptr(s), uintptr(a.ptr(list)), uintptr(max), uintptr(a.ptr(cnt)))
	if err := check(fnFindObjects, rv); err != nil {
		return nil, err
	}
	n := getUL(a.buf[cnt:])
	if n > uint64(max) {
		return nil, badOutput(fnFindObjects, "%d handles for a list of %d", n, max)
	}
	out := make([]ck.ObjectHandle, n)
	for i := range out {
		out[i] = ck.ObjectHandle(getUL(a.buf[list+i*int(ulongSize):]))
	}
	return out, nil
}

// FindObjectsFinal ends a search (C_FindObjectsFinal).
func (m *Module) FindObjectsFinal(s ck.SessionHandle) error {
	if err := argsFit(fnFindObjectsFinal, uint64(s)); err != nil {
		return err
	}
	return check(fnFindObjectsFinal, m.call1(fnFindObjectsFinal, uintptr(s)))
}

// AttributeResult is one attribute read by GetAttributeValue, with its own
// outcome: Err is nil and Value holds the value (in the platform-neutral
// form of ck.Attribute), or Err says why there is none, matching
// ck.CKR_ATTRIBUTE_SENSITIVE, ck.CKR_ATTRIBUTE_TYPE_INVALID or another RV,
// or ErrAttributeUnavailable.
type AttributeResult struct {
	ck.Attribute
	Err error
}

// ErrAttributeUnavailable is matched by the Err of an AttributeResult
// whose value the token withheld without a reason: it gave the length
// CK_UNAVAILABLE_INFORMATION, and asked for that attribute alone, it
// returned CKR_OK with that length again. PKCS#11 pairs that length with
// CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID or
// CKR_BUFFER_TOO_SMALL, but some tokens answer so for a value they cannot
// produce. It is neither of the first two: the attribute may exist and
// need not be secret.
var ErrAttributeUnavailable = errors.New("attribute value unavailable")

func unavailable(t ck.AttributeType) error {
	return fmt.Errorf("pkcs11: %v: %v: %w", fnGetAttributeValue, t, ErrAttributeUnavailable)
}

// isArray tells the attributes whose value is an array of attributes
// (CKA_WRAP_TEMPLATE, ...): they are read on their own, by readArray.
func isArray(t ck.AttributeType) bool { return t.Kind() == ck.KindTemplate }

// GetAttributeValue reads attributes of an object (C_GetAttributeValue).
// Each result carries its own outcome, so a sensitive or unknown attribute
// does not hide the others; the returned error is for failures of the
// whole call. It asks the token for the lengths first, then for the
// values: two calls. GetAttributeValueHint saves the first when the
// values are known to be small.
//
// An attribute whose value is an array of attributes (CKA_WRAP_TEMPLATE,
// CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE, ...) takes three calls of its
// own, as PKCS#11 3.2 section 5.7.5 describes: the size of the array,
// then the type and length of each element, then the values. Its Value
// is in the encoding of ck.EncodeTemplate; use its Template method.
func (m *Module) GetAttributeValue(s ck.SessionHandle, o ck.ObjectHandle, types []ck.AttributeType) ([]AttributeResult, error) {
	return m.getAttributes(s, o, types, 0)
}

// GetAttributeValueHint is GetAttributeValue with a guess of each value's
// size: the first call offers sizeHint bytes for every attribute, and
// only the values that do not fit are asked for again. With a good hint
// the read takes one call.
func (m *Module) GetAttributeValueHint(s ck.SessionHandle, o ck.ObjectHandle, types []ck.AttributeType, sizeHint int) ([]AttributeResult, error) {
	if sizeHint < 0 || sizeHint > maxOutput {
		return nil, errorf(fnGetAttributeValue, "size hint %d out of range", sizeHint)
	}
	return m.getAttributes(s, o, types, sizeHint)
}

// attrOK tells which RVs of C_GetAttributeValue still leave per-attribute
// results to read.
func attrOK(rv ck.RV) bool {
	return rv == ck.CKR_OK || rv == ck.CKR_ATTRIBUTE_SENSITIVE ||
		rv == ck.CKR_ATTRIBUTE_TYPE_INVALID || rv == ck.CKR_BUFFER_TOO_SMALL
}

func (m *Module) getAttributes(s ck.SessionHandle, o ck.ObjectHandle, types []ck.AttributeType, hint int) ([]AttributeResult, error) {
	if err := argsFit(fnGetAttributeValue, uint64(s), uint64(o), uint64(len(types))); err != nil {
		return nil, err
	}
	for _, t := range types {
		if !fitsUL(uint64(t)) {
			return nil, errorf(fnGetAttributeValue, "attribute type %v does not fit in a CK_ULONG", t)
		}
	}
	res := make([]AttributeResult, len(types))
	for i, t := range types {
		res[i].Type = t
	}
	// lens[i] is the value length to ask for; want marks the attributes
	// still to be read in the current round.
	lens := make([]uint64, len(types))
	if hint > 0 {
		for i := range lens {
			lens[i] = uint64(hint)
		}
		if _, err := m.readRound(s, o, res, lens, true); err != nil {
			return nil, err
		}
	}
	// Size query for whatever the hint did not cover.
	var pending []int
	for i := range res {
		if res[i].Value == nil && res[i].Err == nil && !isArray(res[i].Type) {
			pending = append(pending, i)
		}
	}
	if len(pending) > 0 {
		if _, err := m.sizeRound(s, o, res, lens, pending); err != nil {
			return nil, err
		}
		for tries := 0; tries < 3; tries++ {
			rv, err := m.readRound(s, o, res, lens, false)
			if err != nil {
				return nil, err
			}
			if rv != ck.CKR_BUFFER_TOO_SMALL {
				break
			}
			// A value grew between the two calls: ask for its size again.
			var again []int
			for i := range res {
				if res[i].Value == nil && res[i].Err == nil && !isArray(res[i].Type) {
					again = append(again, i)
				}
			}
			if _, err := m.sizeRound(s, o, res, lens, again); err != nil {
				return nil, err
			}
		}
	}
	// Attributes the token refused: find each one's own reason.
	var refused []int
	for i := range res {
		if res[i].Value == nil && res[i].Err == nil && lens[i] == ck.CK_UNAVAILABLE_INFORMATION {
			refused = append(refused, i)
		}
	}
	var reappeared bool
	for _, i := range refused {
		rv, n, err := m.attrRV(s, o, res[i].Type)
		if err != nil {
			return nil, err
		}
		switch {
		case rv != ck.CKR_OK:
			res[i].Err = &Error{Func: funcNames[fnGetAttributeValue], RV: rv}
		case n == ck.CK_UNAVAILABLE_INFORMATION:
			res[i].Err = unavailable(res[i].Type)
		default:
			// It has a value now: read it once more.
			lens[i], reappeared = n, true
		}
	}
	if reappeared {
		if _, err := m.readRound(s, o, res, lens, false); err != nil {
			return nil, err
		}
	}
	for i := range res {
		if isArray(res[i].Type) && res[i].Value == nil && res[i].Err == nil {
			if err := m.readArray(s, o, &res[i]); err != nil {
				return nil, err
			}
		}
	}
	for i := range res {
		if res[i].Value == nil && res[i].Err == nil {
			res[i].Err = badOutput(fnGetAttributeValue, "%v: no value after retries", res[i].Type)
		}
	}
	return res, nil
}

// sizeRound asks for the lengths of the attributes in idx. Refused
// attributes get lens[i] = CK_UNAVAILABLE_INFORMATION.
func (m *Module) sizeRound(s ck.SessionHandle, o ck.ObjectHandle, res []AttributeResult, lens []uint64, idx []int) (ck.RV, error) {
	a := newArena(len(idx)*sizeAttr + 8)
	defer a.free()
	arr := a.alloc(max(len(idx)*sizeAttr, 1))
	for k, i := range idx {
		e := a.buf[arr+k*sizeAttr:]
		putUL(e, uint64(res[i].Type))
	}
	rv := m.call4(fnGetAttributeValue, uintptr(s), uintptr(o), uintptr(a.ptr(arr)), uintptr(len(idx)))
	if !attrOK(rv) {
		return rv, check(fnGetAttributeValue, rv)
	}
	for k, i := range idx {
		n := getCount(a.buf[arr+k*sizeAttr+offAttrLen:])
		if n != ck.CK_UNAVAILABLE_INFORMATION && n > maxOutput {
			return rv, badOutput(fnGetAttributeValue, "%v is %d bytes long", res[i].Type, n)
		}
		lens[i] = n
	}
	return rv, nil
}

// readRound reads the values of the attributes that have no result yet
// and a known length, into buffers of lens[i] bytes. With hinted, lengths
// are guesses: a value that did not fit is left for a size query.
func (m *Module) readRound(s ck.SessionHandle, o ck.ObjectHandle, res []AttributeResult, lens []uint64, hinted bool) (ck.RV, error) {
	var idx []int
	size := 0
	for i := range res {
		if res[i].Value == nil && res[i].Err == nil && lens[i] != ck.CK_UNAVAILABLE_INFORMATION && !isArray(res[i].Type) {
			idx = append(idx, i)
			size += round8(max(int(lens[i]), 1))
		}
	}
	if len(idx) == 0 {
		return ck.CKR_OK, nil
	}
	a := newArena(round8(len(idx)*sizeAttr) + size + 8)
	defer a.free()
	arr := a.alloc(len(idx) * sizeAttr)
	offs := make([]int, len(idx))
	for k, i := range idx {
		e := a.buf[arr+k*sizeAttr:]
		putUL(e, uint64(res[i].Type))
		offs[k] = a.alloc(max(int(lens[i]), 1))
		putPtr(e[offAttrValue:], a.addr(offs[k]))
		putUL(e[offAttrLen:], lens[i])
	}
	rv := m.call4(fnGetAttributeValue, uintptr(s), uintptr(o), uintptr(a.ptr(arr)), uintptr(len(idx)))
	if !attrOK(rv) {
		return rv, check(fnGetAttributeValue, rv)
	}
	for k, i := range idx {
		n := getCount(a.buf[arr+k*sizeAttr+offAttrLen:])
		switch {
		case n == ck.CK_UNAVAILABLE_INFORMATION:
			if !hinted && rv != ck.CKR_BUFFER_TOO_SMALL {
				lens[i] = n // refused: the reason is found later
			}
		case n > lens[i]:
			return rv, badOutput(fnGetAttributeValue, "%v: %d bytes written into a buffer of %d", res[i].Type, n, lens[i])
		default:
			res[i].Value = canonical(res[i].Type, a.buf[offs[k]:offs[k]+int(n)])
		}
	}
	return rv, nil
}

// attrRV asks for the length of one attribute alone, to learn why the
// token refuses it, and returns the RV and the length (bounded by
// maxOutput, or CK_UNAVAILABLE_INFORMATION).
func (m *Module) attrRV(s ck.SessionHandle, o ck.ObjectHandle, t ck.AttributeType) (ck.RV, uint64, error) {
	a := newArena(sizeAttr)
	defer a.free()
	putUL(a.buf, uint64(t))
	rv := m.call4(fnGetAttributeValue, uintptr(s), uintptr(o), uintptr(a.ptr(0)), 1)
	if !attrOK(rv) {
		return rv, 0, check(fnGetAttributeValue, rv)
	}
	n := getCount(a.buf[offAttrLen:])
	if n != ck.CK_UNAVAILABLE_INFORMATION && n > maxOutput {
		return rv, 0, badOutput(fnGetAttributeValue, "%v is %d bytes long", t, n)
	}
	return rv, n, nil
}

// readArray reads an attribute whose value is an array of attributes
// into r, in the three calls of PKCS#11 3.2 section 5.7.5: the size of
// the CK_ATTRIBUTE array; the array with NULL values, which the token
// fills with each element's type and length; the array with a buffer
// for each value. An array that changes between the calls is read again,
// a few times. A refusal or a bad answer about this attribute alone is
// r.Err; the error is for failures of the whole call.
func (m *Module) readArray(s ck.SessionHandle, o ck.ObjectHandle, r *AttributeResult) error {
	for range 3 {
		rv, size, err := m.attrRV(s, o, r.Type)
		if err != nil {
			return err
		}
		switch {
		case rv != ck.CKR_OK:
			r.Err = &Error{Func: funcNames[fnGetAttributeValue], RV: rv}
			return nil
		case size == ck.CK_UNAVAILABLE_INFORMATION:
			r.Err = unavailable(r.Type)
			return nil
		case size%uint64(sizeAttr) != 0:
			r.Err = badOutput(fnGetAttributeValue, "%v: %d bytes is no array of %d-byte CK_ATTRIBUTEs", r.Type, size, sizeAttr)
			return nil
		case size == 0:
			r.Value = []byte{}
			return nil
		}
		elems, done, err := m.arrayElements(s, o, r, int(size)/sizeAttr)
		if err != nil || done {
			return err
		}
		if elems == nil {
			continue // the array grew
		}
		if done, err := m.arrayValues(s, o, r, elems); err != nil || done {
			return err
		}
	}
	r.Err = badOutput(fnGetAttributeValue, "%v: the array changed at every read", r.Type)
	return nil
}

// arrayElement is one element of an attribute array: its type and
// length, as the token gave them.
type arrayElement struct {
	t ck.AttributeType
	n uint64
}

// arrayCall makes the C_GetAttributeValue call for one attribute array:
// the CK_ATTRIBUTE of r.Type at the start of a, pointing to the array at
// arr of count elements. It returns the RV and the count of elements the
// token reports, or done with r.Err set when the token refused or lied.
func (m *Module) arrayCall(s ck.SessionHandle, o ck.ObjectHandle, r *AttributeResult, a *arena, arr, count int) (rv ck.RV, n int, done bool, err error) {
	size := uint64(count * sizeAttr)
	putUL(a.buf, uint64(r.Type))
	putPtr(a.buf[offAttrValue:], a.addr(arr))
	putUL(a.buf[offAttrLen:], size)
	rv = m.call4(fnGetAttributeValue, uintptr(s), uintptr(o), uintptr(a.ptr(0)), 1)
	if !attrOK(rv) {
		return rv, 0, true, check(fnGetAttributeValue, rv)
	}
	if rv == ck.CKR_BUFFER_TOO_SMALL {
		return rv, 0, false, nil
	}
	if rv != ck.CKR_OK {
		r.Err = &Error{Func: funcNames[fnGetAttributeValue], RV: rv}
		return rv, 0, true, nil
	}
	got := getCount(a.buf[offAttrLen:])
	if got > size || got%uint64(sizeAttr) != 0 {
		r.Err = badOutput(fnGetAttributeValue, "%v: an array of %d bytes in a buffer of %d", r.Type, got, size)
		return rv, 0, true, nil
	}
	return rv, int(got) / sizeAttr, false, nil
}

// arrayElements asks for the types and lengths of the count elements of
// an attribute array. It returns nil elements when the array grew.
func (m *Module) arrayElements(s ck.SessionHandle, o ck.ObjectHandle, r *AttributeResult, count int) ([]arrayElement, bool, error) {
	a := newArena(round8(sizeAttr) + count*sizeAttr + 8)
	defer a.free()
	a.alloc(sizeAttr)
	arr := a.alloc(count * sizeAttr)
	rv, n, done, err := m.arrayCall(s, o, r, &a, arr, count)
	if err != nil || done || rv == ck.CKR_BUFFER_TOO_SMALL {
		return nil, done, err
	}
	elems := make([]arrayElement, n)
	total := 0
	for k := range elems {
		e := a.buf[arr+k*sizeAttr:]
		elems[k] = arrayElement{ck.AttributeType(getUL(e)), getCount(e[offAttrLen:])}
		if elems[k].n == ck.CK_UNAVAILABLE_INFORMATION {
			r.Err = unavailable(r.Type)
			return nil, true, nil
		}
		if elems[k].n > maxOutput-uint64(total) {
			r.Err = badOutput(fnGetAttributeValue, "%v: element %d (%v) is %d bytes long", r.Type, k, elems[k].t, elems[k].n)
			return nil, true, nil
		}
		total += round8(max(int(elems[k].n), 1))
	}
	if total > maxOutput {
		r.Err = badOutput(fnGetAttributeValue, "%v: elements of %d bytes", r.Type, total)
		return nil, true, nil
	}
	return elems, false, nil
}

// arrayValues reads the values of the elements of an attribute array
// into r. It returns false, with nothing set, when a value grew.
func (m *Module) arrayValues(s ck.SessionHandle, o ck.ObjectHandle, r *AttributeResult, elems []arrayElement) (bool, error) {
	size := round8(sizeAttr) + round8(len(elems)*sizeAttr) + 8
	for _, e := range elems {
		size += round8(max(int(e.n), 1))
	}
	a := newArena(size)
	defer a.free()
	a.alloc(sizeAttr)
	arr := a.alloc(len(elems) * sizeAttr)
	offs := make([]int, len(elems))
	for k, el := range elems {
		e := a.buf[arr+k*sizeAttr:]
		putUL(e, uint64(el.t))
		offs[k] = a.alloc(max(int(el.n), 1))
		putPtr(e[offAttrValue:], a.addr(offs[k]))
		putUL(e[offAttrLen:], el.n)
	}
	rv, n, done, err := m.arrayCall(s, o, r, &a, arr, len(elems))
	if err != nil || done || rv == ck.CKR_BUFFER_TOO_SMALL {
		return done, err
	}
	attrs := make([]ck.Attribute, n)
	for k := range attrs {
		e := a.buf[arr+k*sizeAttr:]
		t := ck.AttributeType(getUL(e))
		got := getCount(e[offAttrLen:])
		if got > elems[k].n {
			r.Err = badOutput(fnGetAttributeValue, "%v: element %d (%v): %d bytes written into a buffer of %d", r.Type, k, t, got, elems[k].n)
			return true, nil
		}
		if isArray(t) {
			r.Err = errorf(fnGetAttributeValue, "%v: element %d is %v, an attribute array: arrays in arrays are not supported", r.Type, k, t)
			return true, nil
		}
		attrs[k] = ck.Attribute{Type: t, Value: canonical(t, a.buf[offs[k]:offs[k]+int(got)])}
	}
	r.Value = ck.EncodeTemplate(attrs)
	return true, nil
}

// canonical copies a value read from the module into the
// platform-neutral form of ck.Attribute.
func canonical(t ck.AttributeType, v []byte) []byte {
	switch t.Kind() {
	case ck.KindULong:
		if len(v) == int(ulongSize) {
			return binary.LittleEndian.AppendUint64(make([]byte, 0, 8), getUL(v))
		}
	case ck.KindMechanisms:
		if len(v)%int(ulongSize) == 0 {
			out := make([]byte, 0, len(v)/int(ulongSize)*8)
			for i := 0; i < len(v); i += int(ulongSize) {
				out = binary.LittleEndian.AppendUint64(out, getUL(v[i:]))
			}
			return out
		}
	}
	return append(make([]byte, 0, len(v)), v...)
}

// String prints the attribute, or its type and why it has no value.
func (r AttributeResult) String() string {
	if r.Err != nil {
		return r.Type.String() + ": " + r.Err.Error()
	}
	return r.Attribute.String()
}
