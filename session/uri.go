package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/purepkcs11/pkcs11/token"
)

// This file finds objects by a pkcs11: URI (RFC 7512): the URI's module,
// slot and token attributes must describe the session's token, and its
// object attributes make the search template.

// The path attributes of a URI that describe the library, the slot and
// the token, as token.URI.Has names them.
var (
	uriLibraryAttrs = []string{"library-manufacturer", "library-description", "library-version"}
	uriSlotAttrs    = []string{"slot-id", "slot-manufacturer", "slot-description"}
	uriTokenAttrs   = []string{"token", "manufacturer", "serial", "model"}
)

func hasAny(u *token.URI, names []string) bool {
	for _, n := range names {
		if u.Has(n) {
			return true
		}
	}
	return false
}

// uriMismatch returns why u names no object on the session's token, or
// "" when it may. It reads the CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO
// only if u has attributes to compare with them.
func (s *Session) uriMismatch(u *token.URI) (string, error) {
	if _, ok := u.ObjectTemplate(); !ok {
		return "it has a path attribute this package does not know, or an invalid type (RFC 7512, section 2.5)", nil
	}
	if !u.MatchesModulePath(s.m.Path()) {
		return fmt.Sprintf("its module-name or module-path is not the module %s", s.m.Path()), nil
	}
	if hasAny(u, uriLibraryAttrs) {
		info, err := s.m.GetInfo()
		if err != nil {
			return "", s.wrap("find by URI: reading the module's information", err)
		}
		if !u.MatchesModule(info) {
			return fmt.Sprintf("its library attributes do not match the module (%q, %q, version %v)",
				info.ManufacturerID, info.LibraryDescription, info.LibraryVersion), nil
		}
	}
	if hasAny(u, uriSlotAttrs) {
		info, err := s.m.GetSlotInfo(s.slot)
		if err != nil {
			return "", s.wrap("find by URI: reading the slot's information", err)
		}
		if !u.MatchesSlot(s.slot, info) {
			return fmt.Sprintf("its slot attributes do not match slot %d (%q)", s.slot, info.SlotDescription), nil
		}
	}
	if hasAny(u, uriTokenAttrs) {
		info, err := s.m.GetTokenInfo(s.slot)
		if err != nil {
			return "", s.wrap("find by URI: reading the token's information", err)
		}
		if !u.MatchesToken(info) {
			return fmt.Sprintf("its token attributes do not match the token %q (serial %q)", info.Label, info.SerialNumber), nil
		}
	}
	return "", nil
}

// errNilURI is the error of the FindURI functions for a nil URI.
var errNilURI = errors.New("session: find by URI: nil URI")

// FindURI returns the objects on the session's token that the pkcs11:
// URI u names, with their identity. The URI's library attributes are
// compared with the module's CK_INFO (C_GetInfo), its slot attributes
// with the session's slot (C_GetSlotInfo), its token attributes with
// the session's token (C_GetTokenInfo), and its module-name and
// module-path with the module's file (token.URI.MatchesModulePath);
// each is read only when the URI has such attributes. When they all
// match, the objects are searched with the URI's object, id and type
// (token.URI.ObjectTemplate), as Find does. Otherwise, and for a URI
// with a path attribute this package does not know, which RFC 7512
// says names nothing, the result is empty and the error nil.
//
// FindURI does not log in: pin-source and pin-value are the caller's
// to use (WithPIN), and private objects are seen only once the token
// is logged in. Other query attributes are not looked at.
func (s *Session) FindURI(u *token.URI) ([]Object, error) {
	if u == nil {
		return nil, errNilURI
	}
	why, err := s.uriMismatch(u)
	if err != nil || why != "" {
		return nil, err
	}
	tmpl, _ := u.ObjectTemplate()
	return s.Find(tmpl)
}

// FindOneURI returns the one object on the session's token that the
// pkcs11: URI u names, found as FindURI finds them. No match is an
// error matching ErrNotFound, several one matching ErrAmbiguous; both
// print the URI without its PIN, and say so when the URI names another
// module, slot or token.
func (s *Session) FindOneURI(u *token.URI) (Object, error) {
	if u == nil {
		return Object{}, errNilURI
	}
	why, err := s.uriMismatch(u)
	if err != nil {
		return Object{}, err
	}
	if why != "" {
		return Object{}, fmt.Errorf("session: find one: %w: %s names nothing here: %s", ErrNotFound, u, why)
	}
	tmpl, _ := u.ObjectTemplate()
	o, err := s.FindOne(tmpl)
	if err != nil {
		return Object{}, fmt.Errorf("%w (for %s)", err, u)
	}
	return o, nil
}

// FindURI is Session.FindURI on a pooled session, on a fresh session if
// the first was lost.
func (p *Pool) FindURI(ctx context.Context, u *token.URI) ([]Object, error) {
	var out []Object
	err := p.Retry(ctx, func(s *Session) error {
		var err error
		out, err = s.FindURI(u)
		return err
	})
	return out, err
}

// FindOneURI is Session.FindOneURI on a pooled session, on a fresh
// session if the first was lost.
func (p *Pool) FindOneURI(ctx context.Context, u *token.URI) (Object, error) {
	var out Object
	err := p.Retry(ctx, func(s *Session) error {
		var err error
		out, err = s.FindOneURI(u)
		return err
	})
	return out, err
}

// URI returns a pkcs11: URI that names o on the session's token: the
// token's label, manufacturer, serial and model (C_GetTokenInfo), and
// o's label, CKA_ID and type, each when o has it. The URI holds no PIN.
func (s *Session) URI(o Object) (*token.URI, error) {
	info, err := s.m.GetTokenInfo(s.slot)
	if err != nil {
		return nil, s.wrap("URI: reading the token's information", err)
	}
	u := &token.URI{
		Token:        info.Label,
		Manufacturer: info.ManufacturerID,
		Serial:       info.SerialNumber,
		Model:        info.Model,
		Object:       o.Label,
	}
	if len(o.ID) > 0 {
		u.ID = o.ID
	}
	if t, ok := token.ObjectTypeOf(o.Class); ok {
		u.Type = t
	}
	return u, nil
}
