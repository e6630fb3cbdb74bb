package ck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"time"
)

// Attribute is one attribute of an object: a type and its value, as used
// in templates and returned by reads.
//
// Values are held in a platform-neutral form, so the same Attribute works
// on every ABI; the library converts to the platform's C layout at the
// call:
//   - CK_BBOOL: one byte, 0 or 1;
//   - CK_ULONG and its typedefs (CKA_CLASS, CKA_KEY_TYPE, CKA_VALUE_LEN,
//     ...): 8 bytes, little-endian;
//   - arrays of CK_MECHANISM_TYPE (CKA_ALLOWED_MECHANISMS): 8 bytes each,
//     little-endian;
//   - attribute arrays (CKA_WRAP_TEMPLATE, ...): each attribute as an
//     8-byte type, an 8-byte length and the value, little-endian;
//   - everything else: the bytes the token stores (UTF-8 text, DER,
//     big-endian integers, CK_DATE as "YYYYMMDD").
//
// Build attributes with [NewAttribute] to get these encodings right.
// Vendor-defined attributes are passed through as raw bytes; a vendor
// attribute holding a CK_ULONG must be given in the platform's own width.
type Attribute struct {
	Type  AttributeType
	Value []byte
}

// ValueKind tells how an attribute's value is encoded.
type ValueKind uint8

// The value kinds of [Attribute].
const (
	KindBytes      ValueKind = iota // raw bytes (also unknown attributes)
	KindBool                        // CK_BBOOL
	KindULong                       // CK_ULONG or a typedef of it
	KindString                      // UTF-8 text
	KindDate                        // CK_DATE
	KindBigInt                      // big-endian unsigned integer
	KindMechanisms                  // array of CK_MECHANISM_TYPE
	KindTemplate                    // array of CK_ATTRIBUTE
)

var kindNames = [...]string{"bytes", "bool", "CK_ULONG", "string", "CK_DATE",
	"big integer", "mechanism list", "attribute template"}

// String returns a short name of the kind.
func (k ValueKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ValueKind(%d)", uint8(k))
}

// Kind returns how values of attribute type t are encoded. Types this
// package does not know, vendor types included, are KindBytes.
func (t AttributeType) Kind() ValueKind {
	switch t {
	case CKA_TOKEN, CKA_PRIVATE, CKA_TRUSTED, CKA_SENSITIVE, CKA_ENCRYPT,
		CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_SIGN_RECOVER,
		CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_DERIVE, CKA_EXTRACTABLE, CKA_LOCAL,
		CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_MODIFIABLE,
		CKA_COPYABLE, CKA_DESTROYABLE, CKA_SECONDARY_AUTH,
		CKA_ALWAYS_AUTHENTICATE, CKA_WRAP_WITH_TRUSTED, CKA_OTP_USER_FRIENDLY_MODE,
		CKA_RESET_ON_INIT, CKA_HAS_RESET, CKA_COLOR, CKA_X2RATCHET_BOBS1STMSG,
		CKA_X2RATCHET_ISALICE, CKA_ENCAPSULATE, CKA_DECAPSULATE:
		return KindBool
	case CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_CERTIFICATE_CATEGORY,
		CKA_JAVA_MIDP_SECURITY_DOMAIN, CKA_NAME_HASH_ALGORITHM, CKA_KEY_TYPE,
		CKA_MODULUS_BITS, CKA_PRIME_BITS, CKA_SUBPRIME_BITS, CKA_VALUE_BITS,
		CKA_VALUE_LEN, CKA_KEY_GEN_MECHANISM, CKA_AUTH_PIN_FLAGS,
		CKA_OTP_FORMAT, CKA_OTP_LENGTH, CKA_OTP_TIME_INTERVAL,
		CKA_OTP_CHALLENGE_REQUIREMENT, CKA_OTP_TIME_REQUIREMENT,
		CKA_OTP_COUNTER_REQUIREMENT, CKA_OTP_PIN_REQUIREMENT,
		CKA_HW_FEATURE_TYPE, CKA_PIXEL_X, CKA_PIXEL_Y, CKA_RESOLUTION,
		CKA_CHAR_ROWS, CKA_CHAR_COLUMNS, CKA_BITS_PER_PIXEL,
		CKA_MECHANISM_TYPE, CKA_PROFILE_ID, CKA_X2RATCHET_BAGSIZE,
		CKA_X2RATCHET_NR, CKA_X2RATCHET_NS, CKA_X2RATCHET_PNS,
		CKA_HSS_LEVELS, CKA_HSS_LMS_TYPE, CKA_HSS_LMOTS_TYPE,
		CKA_HSS_KEYS_REMAINING, CKA_PARAMETER_SET, CKA_OBJECT_VALIDATION_FLAGS,
		CKA_VALIDATION_TYPE, CKA_VALIDATION_LEVEL, CKA_VALIDATION_FLAG,
		CKA_VALIDATION_AUTHORITY_TYPE, CKA_TRUST_SERVER_AUTH,
		CKA_TRUST_CLIENT_AUTH, CKA_TRUST_CODE_SIGNING,
		CKA_TRUST_EMAIL_PROTECTION, CKA_TRUST_IPSEC_IKE,
		CKA_TRUST_TIME_STAMPING, CKA_TRUST_OCSP_SIGNING:
		return KindULong
	case CKA_LABEL, CKA_APPLICATION, CKA_URL, CKA_UNIQUE_ID,
		CKA_OTP_USER_IDENTIFIER, CKA_OTP_SERVICE_IDENTIFIER,
		CKA_OTP_SERVICE_LOGO_TYPE, CKA_OTP_TIME, CKA_CHAR_SETS,
		CKA_ENCODING_METHODS, CKA_MIME_TYPES, CKA_VALIDATION_COUNTRY,
		CKA_VALIDATION_CERTIFICATE_IDENTIFIER, CKA_VALIDATION_CERTIFICATE_URI,
		CKA_VALIDATION_VENDOR_URI, CKA_VALIDATION_MODULE_ID:
		return KindString
	case CKA_START_DATE, CKA_END_DATE:
		return KindDate
	case CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
		CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT,
		CKA_PRIME, CKA_SUBPRIME, CKA_BASE:
		return KindBigInt
	case CKA_ALLOWED_MECHANISMS, CKA_HSS_LMS_TYPES, CKA_HSS_LMOTS_TYPES:
		return KindMechanisms
	case CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE,
		CKA_ENCAPSULATE_TEMPLATE, CKA_DECAPSULATE_TEMPLATE:
		return KindTemplate
	}
	return KindBytes
}

// NewAttribute builds an attribute of type t from a Go value, checking
// that the value fits the attribute's kind:
//
//	bool                         CK_BBOOL attributes
//	int, uint, sized ints and    CK_ULONG attributes (not negative)
//	  other integer types
//	  (ObjectClass, KeyType, ...)
//	string                       text attributes
//	time.Time, Date              CK_DATE attributes (the date in UTC; the
//	                               zero Date is an empty value)
//	*big.Int                     big-integer attributes (not negative)
//	[]MechanismType              CKA_ALLOWED_MECHANISMS
//	[]Attribute                  CKA_WRAP_TEMPLATE and the other templates
//	[]byte                       any attribute, taken as already encoded
//
// []byte values are not copied.
func NewAttribute(t AttributeType, value any) (Attribute, error) {
	kind := t.Kind()
	bad := func() (Attribute, error) {
		return Attribute{}, fmt.Errorf("ck: %v takes a %v value, not %T", t, kind, value)
	}
	switch v := value.(type) {
	case []byte:
		return Attribute{t, v}, nil
	case bool:
		if kind != KindBool && kind != KindBytes {
			return bad()
		}
		if v {
			return Attribute{t, []byte{1}}, nil
		}
		return Attribute{t, []byte{0}}, nil
	case string:
		if kind != KindString && kind != KindBytes {
			return bad()
		}
		return Attribute{t, []byte(v)}, nil
	case time.Time:
		if kind != KindDate && kind != KindBytes {
			return bad()
		}
		return Attribute{t, []byte(v.UTC().Format("20060102"))}, nil
	case Date:
		if kind != KindDate && kind != KindBytes {
			return bad()
		}
		if v.IsZero() {
			return Attribute{t, nil}, nil
		}
		if !v.valid() {
			return Attribute{}, fmt.Errorf("ck: %v: %04d-%02d-%02d is not a calendar date", t, v.Year, int(v.Month), v.Day)
		}
		return Attribute{t, []byte(v.String())}, nil
	case *big.Int:
		if kind != KindBigInt && kind != KindBytes {
			return bad()
		}
		if v == nil || v.Sign() < 0 {
			return Attribute{}, fmt.Errorf("ck: %v needs a non-negative integer", t)
		}
		return Attribute{t, v.Bytes()}, nil
	case []MechanismType:
		if kind != KindMechanisms && kind != KindBytes {
			return bad()
		}
		b := make([]byte, 0, 8*len(v))
		for _, m := range v {
			b = binary.LittleEndian.AppendUint64(b, uint64(m))
		}
		return Attribute{t, b}, nil
	case []Attribute:
		if kind != KindTemplate && kind != KindBytes {
			return bad()
		}
		return Attribute{t, EncodeTemplate(v)}, nil
	}
	n, ok, err := toULong(value)
	if err != nil {
		return Attribute{}, fmt.Errorf("ck: %v: %w", t, err)
	}
	if !ok {
		return Attribute{}, fmt.Errorf("ck: %v: unsupported value type %T", t, value)
	}
	if kind != KindULong && kind != KindBytes {
		return bad()
	}
	return Attribute{t, binary.LittleEndian.AppendUint64(nil, n)}, nil
}

// MustAttribute is NewAttribute for values known to be right at compile
// time, such as constants in a template literal. It panics on error.
func MustAttribute(t AttributeType, value any) Attribute {
	a, err := NewAttribute(t, value)
	if err != nil {
		panic(err)
	}
	return a
}

func toULong(value any) (uint64, bool, error) {
	var i int64
	switch v := value.(type) {
	case int:
		i = int64(v)
	case int8:
		i = int64(v)
	case int16:
		i = int64(v)
	case int32:
		i = int64(v)
	case int64:
		i = v
	case uint:
		return uint64(v), true, nil
	case uint8:
		return uint64(v), true, nil
	case uint16:
		return uint64(v), true, nil
	case uint32:
		return uint64(v), true, nil
	case uint64:
		return v, true, nil
	case ObjectClass:
		return uint64(v), true, nil
	case KeyType:
		return uint64(v), true, nil
	case MechanismType:
		return uint64(v), true, nil
	case CertificateType:
		return uint64(v), true, nil
	case HardwareFeatureType:
		return uint64(v), true, nil
	case ProfileID:
		return uint64(v), true, nil
	case AttributeType:
		return uint64(v), true, nil
	default:
		// Every other integer type: the value types of the other
		// CK_ULONG attributes (CertificateCategory, MLDSAParameterSet,
		// Trust, ...) and the caller's own.
		rv := reflect.ValueOf(value)
		switch rv.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32,
			reflect.Uint64, reflect.Uintptr:
			return rv.Uint(), true, nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
			reflect.Int64:
			i = rv.Int()
		default:
			return 0, false, nil
		}
	}
	if i < 0 {
		return 0, false, fmt.Errorf("negative value %d", i)
	}
	return uint64(i), true, nil
}

// EncodeTemplate returns the platform-neutral encoding of an attribute
// array, as held by CKA_WRAP_TEMPLATE and the other template attributes.
func EncodeTemplate(template []Attribute) []byte {
	n := 0
	for _, a := range template {
		n += 16 + len(a.Value)
	}
	b := make([]byte, 0, n)
	for _, a := range template {
		b = binary.LittleEndian.AppendUint64(b, uint64(a.Type))
		b = binary.LittleEndian.AppendUint64(b, uint64(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b
}

// DecodeTemplate parses the encoding made by EncodeTemplate. The values
// alias b.
func DecodeTemplate(b []byte) ([]Attribute, error) {
	var out []Attribute
	for len(b) > 0 {
		if len(b) < 16 {
			return nil, errors.New("ck: truncated attribute template")
		}
		t := AttributeType(binary.LittleEndian.Uint64(b))
		n := binary.LittleEndian.Uint64(b[8:])
		b = b[16:]
		if n > uint64(len(b)) {
			return nil, fmt.Errorf("ck: attribute template: %v claims %d bytes, %d left", t, n, len(b))
		}
		out = append(out, Attribute{t, b[:n:n]})
		b = b[n:]
	}
	return out, nil
}

func (a Attribute) lenErr(want string) error {
	return fmt.Errorf("ck: %v value is %d bytes, want %s", a.Type, len(a.Value), want)
}

// Bool decodes a CK_BBOOL value. Any non-zero byte is true.
func (a Attribute) Bool() (bool, error) {
	if len(a.Value) != 1 {
		return false, a.lenErr("1")
	}
	return a.Value[0] != 0, nil
}

// ULong decodes a CK_ULONG value.
func (a Attribute) ULong() (uint64, error) {
	if len(a.Value) != 8 {
		return 0, a.lenErr("8")
	}
	return binary.LittleEndian.Uint64(a.Value), nil
}

// Text returns the value as a string. It never fails: any bytes are a
// string in Go.
func (a Attribute) Text() string { return string(a.Value) }

// BigInt decodes a big-endian unsigned integer.
func (a Attribute) BigInt() *big.Int { return new(big.Int).SetBytes(a.Value) }

// Date decodes a CK_DATE. An empty value (a date not set) gives the zero
// time and no error.
func (a Attribute) Date() (time.Time, error) {
	if len(a.Value) == 0 {
		return time.Time{}, nil
	}
	if len(a.Value) != 8 {
		return time.Time{}, a.lenErr("8 or 0")
	}
	t, err := time.Parse("20060102", string(a.Value))
	if err != nil {
		return time.Time{}, fmt.Errorf("ck: %v value %q is not a date", a.Type, a.Value)
	}
	return t, nil
}

// CKDate decodes a CK_DATE as a [Date]. An empty value (a date not set)
// gives the zero Date and no error.
func (a Attribute) CKDate() (Date, error) {
	t, err := a.Date()
	if err != nil || t.IsZero() {
		return Date{}, err
	}
	return DateOf(t), nil
}

// Mechanisms decodes an array of mechanism types.
func (a Attribute) Mechanisms() ([]MechanismType, error) {
	if len(a.Value)%8 != 0 {
		return nil, a.lenErr("a multiple of 8")
	}
	out := make([]MechanismType, len(a.Value)/8)
	for i := range out {
		out[i] = MechanismType(binary.LittleEndian.Uint64(a.Value[8*i:]))
	}
	return out, nil
}

// Template decodes an attribute array.
func (a Attribute) Template() ([]Attribute, error) { return DecodeTemplate(a.Value) }

// String prints the attribute for people: its type and its value decoded
// by kind. Values of CKA_VALUE and the private key components print as
// their length only.
func (a Attribute) String() string {
	switch a.Type {
	case CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
		CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT, CKA_SEED:
		return fmt.Sprintf("%v=<%d bytes>", a.Type, len(a.Value))
	}
	switch a.Type.Kind() {
	case KindBool:
		if v, err := a.Bool(); err == nil {
			return fmt.Sprintf("%v=%v", a.Type, v)
		}
	case KindULong:
		if v, err := a.ULong(); err == nil {
			switch a.Type {
			case CKA_CLASS:
				return fmt.Sprintf("%v=%v", a.Type, ObjectClass(v))
			case CKA_KEY_TYPE:
				return fmt.Sprintf("%v=%v", a.Type, KeyType(v))
			case CKA_CERTIFICATE_TYPE:
				return fmt.Sprintf("%v=%v", a.Type, CertificateType(v))
			case CKA_KEY_GEN_MECHANISM, CKA_MECHANISM_TYPE, CKA_NAME_HASH_ALGORITHM:
				return fmt.Sprintf("%v=%v", a.Type, MechanismType(v))
			}
			return fmt.Sprintf("%v=%d", a.Type, v)
		}
	case KindString, KindDate:
		return fmt.Sprintf("%v=%q", a.Type, a.Value)
	}
	return fmt.Sprintf("%v=%x", a.Type, a.Value)
}
