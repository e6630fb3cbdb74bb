package token

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/purepkcs11/pkcs11/ck"
)

// URI is a PKCS#11 URI (RFC 7512): it names a module, a slot, a token, or
// objects on a token, by the fields of CK_INFO, CK_SLOT_INFO,
// CK_TOKEN_INFO and the object's label, ID and class. [ParseURI] reads
// one; [URI.String] writes it back.
//
// A text field that is empty is absent, except in a URI parsed from an
// attribute with an empty value ("serial="), which matches only an empty
// field; [URI.Has] tells the two apart. ID and PINValue are absent when
// nil and present but empty when empty and not nil.
//
// PINValue is a secret: String, %v and every other fmt verb leave it out;
// only [URI.StringWithPIN] writes it.
type URI struct {
	// Path attributes: which module, slot, token and objects.

	Token               string // token: CK_TOKEN_INFO label
	Manufacturer        string // manufacturer: CK_TOKEN_INFO manufacturerID
	Serial              string // serial: CK_TOKEN_INFO serialNumber
	Model               string // model: CK_TOKEN_INFO model
	LibraryManufacturer string // library-manufacturer: CK_INFO manufacturerID
	LibraryDescription  string // library-description: CK_INFO libraryDescription
	// LibraryVersion is library-version, CK_INFO libraryVersion; "3"
	// means 3.0.
	LibraryVersion   *ck.Version
	SlotManufacturer string     // slot-manufacturer: CK_SLOT_INFO manufacturerID
	SlotDescription  string     // slot-description: CK_SLOT_INFO slotDescription
	SlotID           *ck.SlotID // slot-id: the slot's CK_SLOT_ID
	Object           string     // object: CKA_LABEL
	Type             ObjectType // type: CKA_CLASS
	ID               []byte     // id: CKA_ID, any bytes

	// Query attributes: how to get there.

	PINSource  string // pin-source: where to read the PIN, such as file:/path
	PINValue   []byte // pin-value: the PIN itself; secret
	ModuleName string // module-name: the module's name, without path or suffix
	ModulePath string // module-path: the module's file

	// VendorPath and VendorQuery are the attributes of the path and of the
	// query that this package does not know: vendor attributes (x-name)
	// and attributes of later versions of the URI scheme, in the order of
	// the URI. A URI with one in its path matches nothing: no module,
	// slot, token or object, and ObjectTemplate says so. RFC 7512,
	// section 2.5, asks this of every unrecognized path attribute,
	// vendor attributes included. Those of the query are left to the
	// caller; nothing in this package looks at them.
	VendorPath  []VendorAttribute
	VendorQuery []VendorAttribute

	// present records the attributes a parsed URI holds, also those with
	// an empty value.
	present uint32
}

// VendorAttribute is an attribute of a [URI] that this package does not
// interpret: its name and its percent-decoded value.
type VendorAttribute struct {
	Name  string
	Value string
}

// ObjectType is the value of the type attribute of a [URI]: which class
// of object it names.
type ObjectType string

// The object types of RFC 7512.
const (
	TypePublic    ObjectType = "public"     // CKO_PUBLIC_KEY
	TypePrivate   ObjectType = "private"    // CKO_PRIVATE_KEY
	TypeCert      ObjectType = "cert"       // CKO_CERTIFICATE
	TypeSecretKey ObjectType = "secret-key" // CKO_SECRET_KEY
	TypeData      ObjectType = "data"       // CKO_DATA
)

// Class returns the object class of t, and false for the empty type and
// values that are not one of the five.
func (t ObjectType) Class() (ck.ObjectClass, bool) {
	switch t {
	case TypePublic:
		return ck.CKO_PUBLIC_KEY, true
	case TypePrivate:
		return ck.CKO_PRIVATE_KEY, true
	case TypeCert:
		return ck.CKO_CERTIFICATE, true
	case TypeSecretKey:
		return ck.CKO_SECRET_KEY, true
	case TypeData:
		return ck.CKO_DATA, true
	}
	return 0, false
}

// ObjectTypeOf returns the URI type of class c, and false for classes a
// URI cannot name.
func ObjectTypeOf(c ck.ObjectClass) (ObjectType, bool) {
	for _, t := range []ObjectType{TypePublic, TypePrivate, TypeCert, TypeSecretKey, TypeData} {
		if tc, _ := t.Class(); tc == c {
			return t, true
		}
	}
	return "", false
}

// attr numbers the attributes of RFC 7512, path then query, in the order
// String writes them: token, library, slot and object attributes, then
// the query attributes in the order of the RFC's grammar.
type attr uint8

const (
	attrToken attr = iota
	attrManufacturer
	attrSerial
	attrModel
	attrLibraryManufacturer
	attrLibraryDescription
	attrLibraryVersion
	attrSlotDescription
	attrSlotManufacturer
	attrSlotID
	attrObject
	attrType
	attrID
	attrPINSource // the first query attribute
	attrPINValue
	attrModuleName
	attrModulePath
	numAttrs
)

var attrNames = [numAttrs]string{
	"token", "manufacturer", "serial", "model",
	"library-manufacturer", "library-description", "library-version",
	"slot-description", "slot-manufacturer", "slot-id",
	"object", "type", "id",
	"pin-source", "pin-value", "module-name", "module-path",
}

func (a attr) inQuery() bool { return a >= attrPINSource }

func lookupAttr(name string) (attr, bool) {
	for i, n := range attrNames {
		if n == name {
			return attr(i), true
		}
	}
	return 0, false
}

// text returns a pointer to the string field of a, or nil for the
// attributes that are not strings.
func (u *URI) text(a attr) *string {
	switch a {
	case attrToken:
		return &u.Token
	case attrManufacturer:
		return &u.Manufacturer
	case attrSerial:
		return &u.Serial
	case attrModel:
		return &u.Model
	case attrLibraryManufacturer:
		return &u.LibraryManufacturer
	case attrLibraryDescription:
		return &u.LibraryDescription
	case attrObject:
		return &u.Object
	case attrSlotDescription:
		return &u.SlotDescription
	case attrSlotManufacturer:
		return &u.SlotManufacturer
	case attrPINSource:
		return &u.PINSource
	case attrModuleName:
		return &u.ModuleName
	case attrModulePath:
		return &u.ModulePath
	}
	return nil
}

func (u *URI) markPresent(attrs ...attr) {
	for _, a := range attrs {
		u.present |= 1 << a
	}
}

// has reports whether attribute a is in the URI.
func (u *URI) has(a attr) bool {
	if u.present&(1<<a) != 0 {
		return true
	}
	if p := u.text(a); p != nil {
		return *p != ""
	}
	switch a {
	case attrLibraryVersion:
		return u.LibraryVersion != nil
	case attrSlotID:
		return u.SlotID != nil
	case attrType:
		return u.Type != ""
	case attrID:
		return u.ID != nil
	case attrPINValue:
		return u.PINValue != nil
	}
	return false
}

// Has reports whether the URI holds the attribute called name ("token",
// "pin-source", "x-vendor", ...), also with an empty value.
func (u *URI) Has(name string) bool {
	if a, ok := lookupAttr(name); ok {
		return u.has(a)
	}
	for _, v := range u.VendorPath {
		if v.Name == name {
			return true
		}
	}
	for _, v := range u.VendorQuery {
		if v.Name == name {
			return true
		}
	}
	return false
}

// uriError is the error of ParseURI. It never holds the value of
// pin-value, nor the URI itself, which may contain one.
func uriError(format string, args ...any) error {
	return fmt.Errorf("token: invalid PKCS#11 URI: "+format, args...)
}

// ParseURI parses a PKCS#11 URI as RFC 7512 defines it: the scheme
// "pkcs11:" (in any case), path attributes separated by ";", then
// optionally "?" and query attributes separated by "&". Values are
// percent-decoded.
//
// It refuses what the RFC's grammar does not allow: a character that
// must be percent-encoded and is not, a bad percent-encoding, an
// attribute without "=", a query attribute in the path or a path
// attribute in the query, a malformed library-version, slot-id or type,
// and the same attribute twice (vendor attributes may repeat in the
// query only). It also refuses pin-source together with pin-value.
// Attributes it does not know are kept in VendorPath and VendorQuery.
func ParseURI(s string) (*URI, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, "pkcs11") {
		return nil, errors.New(`token: invalid PKCS#11 URI: does not start with "pkcs11:"`)
	}
	path, query, _ := strings.Cut(rest, "?")

	u := new(URI)
	var vendorSeen map[string]bool
	if path != "" {
		for _, field := range strings.Split(path, ";") {
			name, raw, err := splitAttr(field)
			if err != nil {
				return nil, err
			}
			a, known := lookupAttr(name)
			if known && a.inQuery() {
				return nil, uriError("query attribute %q in the path", name)
			}
			value, err := decodeValue(name, raw, false)
			if err != nil {
				return nil, err
			}
			if !known {
				if vendorSeen[name] {
					return nil, uriError("attribute %q appears twice in the path", name)
				}
				if vendorSeen == nil {
					vendorSeen = map[string]bool{}
				}
				vendorSeen[name] = true
				u.VendorPath = append(u.VendorPath, VendorAttribute{name, value})
				continue
			}
			if err := u.set(a, value); err != nil {
				return nil, err
			}
		}
	}
	if query != "" {
		for _, field := range strings.Split(query, "&") {
			name, raw, err := splitAttr(field)
			if err != nil {
				return nil, err
			}
			a, known := lookupAttr(name)
			if known && !a.inQuery() {
				return nil, uriError("path attribute %q in the query", name)
			}
			value, err := decodeValue(name, raw, true)
			if err != nil {
				return nil, err
			}
			if !known {
				u.VendorQuery = append(u.VendorQuery, VendorAttribute{name, value})
				continue
			}
			if err := u.set(a, value); err != nil {
				return nil, err
			}
		}
	}

	if u.has(attrPINSource) && u.has(attrPINValue) {
		return nil, uriError("both pin-source and pin-value")
	}
	return u, nil
}

// splitAttr splits one attribute "name=value" and checks the name. Its
// errors name only attributes this package knows: an unknown word could
// be a PIN put in the wrong place.
func splitAttr(field string) (name, raw string, err error) {
	name, raw, ok := strings.Cut(field, "=")
	if !ok {
		if field == "" {
			return "", "", uriError("empty attribute")
		}
		if _, known := lookupAttr(field); known {
			return "", "", uriError("attribute %q has no \"=\"", field)
		}
		return "", "", uriError("attribute without \"=\"")
	}
	if !validName(name) {
		return "", "", uriError("invalid attribute name %q", name)
	}
	return name, raw, nil
}

// decodeValue checks and percent-decodes the value of attribute name. Its
// errors never show a character of pin-value.
func decodeValue(name, raw string, query bool) (string, error) {
	value, err := unescape(raw, query)
	if err != nil {
		if name == attrNames[attrPINValue] {
			return "", uriError("value of pin-value: not a valid percent-encoded value")
		}
		return "", uriError("value of %s: %v", name, err)
	}
	return value, nil
}

// validName reports whether name is made of the characters RFC 7512
// allows in attribute names (letters, digits, "-" and "_").
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// set stores the decoded value of attribute a.
func (u *URI) set(a attr, value string) error {
	if u.present&(1<<a) != 0 {
		return uriError("attribute %q appears twice", attrNames[a])
	}
	u.present |= 1 << a
	if p := u.text(a); p != nil {
		*p = value
		return nil
	}
	switch a {
	case attrLibraryVersion:
		v, err := parseVersion(value)
		if err != nil {
			return err
		}
		u.LibraryVersion = &v
	case attrSlotID:
		if !allDigits(value) {
			return uriError("slot-id %q is not a decimal number", value)
		}
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return uriError("slot-id %q is too large", value)
		}
		id := ck.SlotID(n)
		u.SlotID = &id
	case attrType:
		t := ObjectType(value)
		if _, ok := t.Class(); !ok {
			return uriError("type %q is not public, private, cert, secret-key or data", value)
		}
		u.Type = t
	case attrID:
		u.ID = []byte(value)
	case attrPINValue:
		u.PINValue = []byte(value)
	}
	return nil
}

// parseVersion reads library-version: "M" or "M.N" in decimal, each at
// most 255.
func parseVersion(s string) (ck.Version, error) {
	maj, min, dot := strings.Cut(s, ".")
	if !allDigits(maj) || dot && !allDigits(min) {
		return ck.Version{}, uriError("library-version %q is not M or M.N", s)
	}
	var v ck.Version
	n, err := strconv.ParseUint(maj, 10, 8)
	if err != nil {
		return ck.Version{}, uriError("library-version %q: major version above 255", s)
	}
	v.Major = byte(n)
	if dot {
		n, err = strconv.ParseUint(min, 10, 8)
		if err != nil {
			return ck.Version{}, uriError("library-version %q: minor version above 255", s)
		}
		v.Minor = byte(n)
	}
	return v, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// unreservedOrAvail reports whether c may stand unencoded in a value of
// the path (pk11-pchar) or of the query (pk11-qchar): the unreserved
// characters of RFC 3986 and the reserved ones that are no delimiter
// there.
func unreservedOrAvail(c byte, query bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		':', '[', ']', '@', '!', '$', '\'', '(', ')', '*', '+', ',', '=': // pk11-res-avail
		return true
	case '&': // a delimiter in the query only
		return !query
	case '/', '?', '|': // allowed in the query only
		return query
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape checks that s holds only characters allowed in a path or
// query value and percent-decodes it.
func unescape(s string, query bool) (string, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return "", errors.New("incomplete percent-encoding")
			}
			_, ok1 := unhex(s[i+1])
			_, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", errors.New("bad percent-encoding")
			}
			i += 2
			n++
			continue
		}
		if !unreservedOrAvail(c, query) {
			if c < 0x20 || c >= 0x7f {
				return "", fmt.Errorf("byte 0x%02X must be percent-encoded", c)
			}
			return "", fmt.Errorf("character %q must be percent-encoded", c)
		}
	}
	if n == 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s)-2*n)
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			b = append(b, hi<<4|lo)
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b), nil
}

const upperHex = "0123456789ABCDEF"

// appendEscaped appends v percent-encoded for a path or a query value:
// every byte but the unreserved characters and those RFC 7512 lets stand
// in that component is written as %XX.
func appendEscaped(b []byte, v string, query bool) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if unreservedOrAvail(c, query) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// appendAllEscaped appends every byte of v as %XX, as RFC 7512 advises
// for id.
func appendAllEscaped(b []byte, v []byte) []byte {
	for _, c := range v {
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return b
}

// String returns the URI in the form ParseURI reads, without pin-value:
// the token's path attributes first, then the library's, the slot's and
// the object's, then vendor path attributes, then the query. Values are
// percent-encoded as the RFC says: every byte but the unreserved
// characters and the reserved ones the component allows, and every byte
// of id.
func (u *URI) String() string { return string(u.appendTo(nil, false)) }

// StringWithPIN is String with the pin-value attribute included. The
// result holds the PIN: keep it out of logs.
func (u *URI) StringWithPIN() string { return string(u.appendTo(nil, true)) }

func (u *URI) appendTo(b []byte, withPIN bool) []byte {
	b = append(b, "pkcs11:"...)
	sep := byte(0)
	next := func(s byte) {
		if sep != 0 {
			b = append(b, sep)
		}
		sep = s
	}
	for a := attrToken; a < attrPINSource; a++ {
		if !u.has(a) {
			continue
		}
		next(';')
		b = append(b, attrNames[a]...)
		b = append(b, '=')
		b = u.appendValue(b, a)
	}
	for _, v := range u.VendorPath {
		next(';')
		b = append(b, v.Name...)
		b = append(b, '=')
		b = appendEscaped(b, v.Value, false)
	}

	sep = '?'
	for a := attrPINSource; a < numAttrs; a++ {
		if !u.has(a) || a == attrPINValue && !withPIN {
			continue
		}
		next('&')
		b = append(b, attrNames[a]...)
		b = append(b, '=')
		b = u.appendValue(b, a)
	}
	for _, v := range u.VendorQuery {
		next('&')
		b = append(b, v.Name...)
		b = append(b, '=')
		b = appendEscaped(b, v.Value, true)
	}
	return b
}

func (u *URI) appendValue(b []byte, a attr) []byte {
	if p := u.text(a); p != nil {
		return appendEscaped(b, *p, a.inQuery())
	}
	switch a {
	case attrLibraryVersion:
		if v := u.LibraryVersion; v != nil {
			b = strconv.AppendUint(b, uint64(v.Major), 10)
			b = append(b, '.')
			b = strconv.AppendUint(b, uint64(v.Minor), 10)
		}
	case attrSlotID:
		if u.SlotID != nil {
			b = strconv.AppendUint(b, uint64(*u.SlotID), 10)
		}
	case attrType:
		b = appendEscaped(b, string(u.Type), false)
	case attrID:
		b = appendAllEscaped(b, u.ID)
	case attrPINValue:
		b = appendEscaped(b, string(u.PINValue), true)
	}
	return b
}

// Format writes the URI as String does, for every verb and flag of
// package fmt, so that no verb prints PINValue; %q quotes it and %#v
// writes a Go expression that parses it.
func (u URI) Format(f fmt.State, verb rune) {
	s := u.String()
	switch {
	case verb == 'q':
		s = strconv.Quote(s)
	case verb == 'v' && f.Flag('#'):
		s = "token.MustParseURI(" + strconv.Quote(s) + ")"
	}
	io.WriteString(f, s)
}

// MustParseURI is ParseURI for URIs known to be valid, such as constants
// in programs and tests: it panics on an error.
func MustParseURI(s string) *URI {
	u, err := ParseURI(s)
	if err != nil {
		panic(err)
	}
	return u
}

// fieldMatches compares an attribute's value with a blank-padded field of
// a CK_ structure, decoded and trimmed: trailing blanks of the URI's
// value are not significant either, since padding hides them.
func (u *URI) fieldMatches(a attr, field string) bool {
	if !u.has(a) {
		return true
	}
	return strings.TrimRight(*u.text(a), " ") == field
}

// MatchesModule reports whether a module with CK_INFO info matches the
// URI's library-manufacturer, library-description and library-version.
// Attributes the URI lacks match anything; a path attribute this package
// does not know matches nothing. MatchesModulePath checks module-name
// and module-path.
func (u *URI) MatchesModule(info ck.Info) bool {
	if len(u.VendorPath) > 0 {
		return false
	}
	if u.LibraryVersion != nil && *u.LibraryVersion != info.LibraryVersion {
		return false
	}
	return u.fieldMatches(attrLibraryManufacturer, info.ManufacturerID) &&
		u.fieldMatches(attrLibraryDescription, info.LibraryDescription)
}

// MatchesSlot reports whether slot id with CK_SLOT_INFO info matches the
// URI's slot-id, slot-manufacturer and slot-description, as
// MatchesModule does the library's.
func (u *URI) MatchesSlot(id ck.SlotID, info ck.SlotInfo) bool {
	if len(u.VendorPath) > 0 {
		return false
	}
	if u.SlotID != nil && *u.SlotID != id {
		return false
	}
	return u.fieldMatches(attrSlotManufacturer, info.ManufacturerID) &&
		u.fieldMatches(attrSlotDescription, info.SlotDescription)
}

// MatchesToken reports whether a token with CK_TOKEN_INFO info matches
// the URI's token (label), manufacturer, model and serial, as
// MatchesModule does the library's.
func (u *URI) MatchesToken(info ck.TokenInfo) bool {
	if len(u.VendorPath) > 0 {
		return false
	}
	return u.fieldMatches(attrToken, info.Label) &&
		u.fieldMatches(attrManufacturer, info.ManufacturerID) &&
		u.fieldMatches(attrModel, info.Model) &&
		u.fieldMatches(attrSerial, info.SerialNumber)
}

// MatchesObject reports whether an object with class, label and id, as
// read from the token (CKA_CLASS, CKA_LABEL, CKA_ID), matches the URI's
// type, object and id attributes; one the URI lacks matches anything.
// Labels and IDs compare exactly, byte for byte: unlike the fields of
// CK_TOKEN_INFO they are not padded. A URI with a path attribute this
// package does not know, or with a Type that is not one of the five,
// matches no object.
//
// The URI's module, slot and token attributes are not looked at here:
// see MatchesModule, MatchesSlot and MatchesToken.
func (u *URI) MatchesObject(class ck.ObjectClass, label string, id []byte) bool {
	if len(u.VendorPath) > 0 {
		return false
	}
	if u.Type != "" {
		if c, ok := u.Type.Class(); !ok || c != class {
			return false
		}
	}
	if u.has(attrObject) && u.Object != label {
		return false
	}
	if u.ID != nil && !bytes.Equal(u.ID, id) {
		return false
	}
	return true
}

// ObjectTemplate returns the attributes that objects named by the URI
// have, for C_FindObjectsInit: CKA_CLASS from type, CKA_LABEL from
// object, CKA_ID from id, each only when the URI has it. A URI without
// them names every object of the token and gives an empty template.
//
// ok is false when the URI names no object at all: it has a path
// attribute this package does not know (see VendorPath), or a Type that
// is not one of the five. No template says "nothing", so such a URI
// must not be searched with the template returned then, which is nil.
func (u *URI) ObjectTemplate() (template []ck.Attribute, ok bool) {
	if len(u.VendorPath) > 0 {
		return nil, false
	}
	var t []ck.Attribute
	if u.Type != "" {
		c, ok := u.Type.Class()
		if !ok {
			return nil, false
		}
		t = append(t, ck.MustAttribute(ck.CKA_CLASS, c))
	}
	if u.has(attrObject) {
		t = append(t, ck.Attribute{Type: ck.CKA_LABEL, Value: []byte(u.Object)})
	}
	if u.ID != nil {
		t = append(t, ck.Attribute{Type: ck.CKA_ID, Value: u.ID})
	}
	return t, true
}

// MatchesModulePath reports whether the module loaded from the file
// path matches the URI's module-path and module-name query attributes;
// one the URI lacks matches anything. RFC 7512, section 2.4, makes them
// say which library to load; comparing them with the library loaded
// keeps a URI meant for one module from naming the objects of another.
//
// module-path matches when the two paths name the same file: equal once
// cleaned (filepath.Clean), or equal once symbolic links are followed
// (filepath.EvalSymlinks), so that a URI naming a link matches the
// resolved path that pkcs11.Module.Path returns. module-name matches
// the file's base name without the suffix of a shared library (".so"
// with any version after it, ".dylib", ".dll") and, as the RFC's
// example "mypkcs11" for "libmypkcs11.so.1" shows, with or without the
// "lib" prefix. On Windows both compare in any case.
//
// Like the other matchers, it says false for a URI with a path
// attribute this package does not know.
func (u *URI) MatchesModulePath(path string) bool {
	if len(u.VendorPath) > 0 {
		return false
	}
	if u.has(attrModulePath) && !samePath(u.ModulePath, path) {
		return false
	}
	if u.has(attrModuleName) && !moduleNameMatches(u.ModuleName, path) {
		return false
	}
	return true
}

// sameFileName compares two names of files the way the platform does.
func sameFileName(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// samePath reports whether a and b name the same file: by their text
// once cleaned, or once made absolute and their links followed.
func samePath(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	if sameFileName(filepath.Clean(a), filepath.Clean(b)) {
		return true
	}
	ra, err := resolvePath(a)
	if err != nil {
		return false
	}
	rb, err := resolvePath(b)
	if err != nil {
		return false
	}
	return sameFileName(ra, rb)
}

func resolvePath(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}

// moduleNameMatches reports whether name is the module name of the
// library file path: its base name less the shared-library suffix, with
// or without a "lib" prefix.
func moduleNameMatches(name, path string) bool {
	if name == "" || path == "" {
		return false
	}
	base := moduleBaseName(filepath.Base(path))
	if sameFileName(name, base) {
		return true
	}
	if len(base) > 3 && sameFileName(base[:3], "lib") {
		return sameFileName(name, base[3:])
	}
	return false
}

// moduleBaseName cuts the suffix of a shared library off a file name:
// ".so" and any version after it ("libx.so.1.2"), ".dylib", ".dll".
func moduleBaseName(file string) string {
	lower := strings.ToLower(file)
	for _, suffix := range []string{".dll", ".dylib"} {
		if strings.HasSuffix(lower, suffix) {
			return file[:len(file)-len(suffix)]
		}
	}
	if i := strings.LastIndex(lower, ".so"); i > 0 {
		rest := file[i+3:]
		if rest == "" || rest[0] == '.' && allDigitsDots(rest[1:]) {
			return file[:i]
		}
	}
	return file
}

// allDigitsDots reports whether s is a version such as "1" or "1.2.3".
func allDigitsDots(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !allDigits(part) {
			return false
		}
	}
	return true
}
