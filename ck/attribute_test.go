package ck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// le returns v as 8 little-endian bytes, the neutral form of a CK_ULONG.
func le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// lenError checks that err is the wrong-length error of a decoder.
func lenError(t *testing.T, what string, err error, n int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s of %d bytes: no error", what, n)
		return
	}
	if want := fmt.Sprintf("value is %d bytes, want", n); !strings.HasPrefix(err.Error(), "ck: ") || !strings.Contains(err.Error(), want) {
		t.Errorf("%s of %d bytes: error %q, want one containing %q", what, n, err, want)
	}
}

func TestAttributeBool(t *testing.T) {
	for _, tc := range []struct {
		v    []byte
		want bool
	}{{[]byte{0}, false}, {[]byte{1}, true}, {[]byte{0xff}, true}} {
		got, err := Attribute{CKA_TOKEN, tc.v}.Bool()
		if err != nil || got != tc.want {
			t.Errorf("Bool(% x) = %v, %v; want %v", tc.v, got, err, tc.want)
		}
	}
	for _, n := range []int{0, 2, 8} {
		_, err := Attribute{CKA_TOKEN, make([]byte, n)}.Bool()
		lenError(t, "Bool", err, n)
	}
}

func TestAttributeULong(t *testing.T) {
	for _, v := range []uint64{0, 1, 0x1234, 1<<32 - 1, 1 << 32, CK_UNAVAILABLE_INFORMATION} {
		got, err := Attribute{CKA_VALUE_LEN, le(v)}.ULong()
		if err != nil || got != v {
			t.Errorf("ULong(%#x) = %#x, %v", v, got, err)
		}
	}
	for _, n := range []int{0, 1, 4, 7, 9, 16} {
		_, err := Attribute{CKA_VALUE_LEN, make([]byte, n)}.ULong()
		lenError(t, "ULong", err, n)
	}
}

func TestAttributeDate(t *testing.T) {
	got, err := Attribute{CKA_START_DATE, []byte("20240229")}.Date()
	if want := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("Date(20240229) = %v, %v; want %v", got, err, want)
	}
	got, err = Attribute{CKA_END_DATE, nil}.Date()
	if err != nil || !got.IsZero() {
		t.Errorf("Date of an empty value = %v, %v; want the zero time", got, err)
	}
	for _, n := range []int{1, 6, 7, 9, 16} {
		_, err := Attribute{CKA_START_DATE, bytes.Repeat([]byte("1"), n)}.Date()
		lenError(t, "Date", err, n)
	}
	for _, v := range []string{"20230229", "20241301", "2024ab01", "        ", "2024-1-1", "\x00\x00\x00\x00\x00\x00\x00\x00"} {
		_, err := Attribute{CKA_START_DATE, []byte(v)}.Date()
		if err == nil || !strings.Contains(err.Error(), "is not a date") {
			t.Errorf("Date(%q): error %v, want one saying it is not a date", v, err)
		}
	}
}

func TestDate(t *testing.T) {
	leap := Date{2024, time.February, 29}
	a, err := NewAttribute(CKA_START_DATE, leap)
	if err != nil || string(a.Value) != "20240229" {
		t.Fatalf("NewAttribute(%v) = %q, %v; want 20240229", leap, a.Value, err)
	}
	if got, err := a.CKDate(); err != nil || got != leap {
		t.Errorf("CKDate = %v, %v; want %v", got, err, leap)
	}
	if got := leap.Time(); !got.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Time = %v", got)
	}
	if got := DateOf(time.Date(2024, 3, 1, 1, 0, 0, 0, time.FixedZone("", 2*3600))); got != leap {
		t.Errorf("DateOf(2024-03-01 01:00 +02:00) = %v, want the UTC date %v", got, leap)
	}

	a, err = NewAttribute(CKA_END_DATE, Date{})
	if err != nil || len(a.Value) != 0 {
		t.Errorf("NewAttribute(zero Date) = %q, %v; want an empty value", a.Value, err)
	}
	if got, err := a.CKDate(); err != nil || !got.IsZero() || !got.Time().IsZero() || got.String() != "" {
		t.Errorf("CKDate of an empty value = %v, %v; want the zero Date", got, err)
	}

	for _, d := range []Date{{2023, time.February, 29}, {2024, 13, 1}, {2024, 0, 1}, {10000, 1, 1}, {-1, 1, 1}, {2024, 4, 31}} {
		if _, err := NewAttribute(CKA_START_DATE, d); err == nil || !strings.Contains(err.Error(), "not a calendar date") {
			t.Errorf("NewAttribute(%+v): error %v, want one saying it is not a calendar date", d, err)
		}
	}
	if _, err := NewAttribute(CKA_LABEL, leap); err == nil {
		t.Error("NewAttribute(CKA_LABEL, Date) succeeded")
	}
	if _, err := (Attribute{CKA_START_DATE, []byte("2024")}).CKDate(); err == nil {
		t.Error("CKDate of 4 bytes succeeded")
	}
}

func TestAttributeMechanisms(t *testing.T) {
	want := []MechanismType{CKM_ECDSA, CKM_SHA256_RSA_PKCS, CKM_VENDOR_DEFINED + 1}
	v := append(append(le(uint64(want[0])), le(uint64(want[1]))...), le(uint64(want[2]))...)
	got, err := Attribute{CKA_ALLOWED_MECHANISMS, v}.Mechanisms()
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Mechanisms = %v, %v; want %v", got, err, want)
	}
	got, err = Attribute{CKA_ALLOWED_MECHANISMS, nil}.Mechanisms()
	if err != nil || len(got) != 0 {
		t.Errorf("Mechanisms of an empty value = %v, %v", got, err)
	}
	for _, n := range []int{1, 4, 7, 9, 12, 17} {
		_, err := Attribute{CKA_ALLOWED_MECHANISMS, make([]byte, n)}.Mechanisms()
		lenError(t, "Mechanisms", err, n)
	}
}

func TestAttributeBigIntText(t *testing.T) {
	for _, tc := range []struct {
		v    []byte
		want string
	}{{nil, "0"}, {[]byte{0}, "0"}, {[]byte{1, 0}, "256"}, {[]byte{0, 0, 1, 0, 1}, "65537"}} {
		if got := (Attribute{CKA_PUBLIC_EXPONENT, tc.v}).BigInt(); got.String() != tc.want {
			t.Errorf("BigInt(% x) = %v, want %s", tc.v, got, tc.want)
		}
	}
	for _, s := range []string{"", "label", "caf\u00e9", "\xff\x00"} {
		if got := (Attribute{CKA_LABEL, []byte(s)}).Text(); got != s {
			t.Errorf("Text(%q) = %q", s, got)
		}
	}
}

func TestTemplate(t *testing.T) {
	inner := []Attribute{
		MustAttribute(CKA_CLASS, CKO_SECRET_KEY),
		MustAttribute(CKA_EXTRACTABLE, false),
		MustAttribute(CKA_LABEL, ""),
		MustAttribute(CKA_ALLOWED_MECHANISMS, []MechanismType{CKM_AES_GCM}),
	}
	outer := []Attribute{
		MustAttribute(CKA_TOKEN, true),
		MustAttribute(CKA_WRAP_TEMPLATE, inner),
		{CKA_ID, []byte{1, 2, 3}},
	}
	b := EncodeTemplate(outer)
	if want := 3*16 + 1 + (4*16 + 8 + 1 + 0 + 8) + 3; len(b) != want {
		t.Errorf("EncodeTemplate is %d bytes, want %d", len(b), want)
	}
	if got := EncodeTemplate(nil); len(got) != 0 {
		t.Errorf("EncodeTemplate(nil) = % x", got)
	}

	got, err := DecodeTemplate(b)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(outer) {
		t.Fatalf("DecodeTemplate = %v, %v; want %v", got, err, outer)
	}
	gotInner, err := got[1].Template()
	if err != nil || fmt.Sprint(gotInner) != fmt.Sprint(inner) {
		t.Errorf("Template() = %v, %v; want %v", gotInner, err, inner)
	}
	for _, a := range got {
		if cap(a.Value) != len(a.Value) {
			t.Errorf("%v: a decoded value has room to grow into its neighbour", a.Type)
		}
	}
	if got, err := DecodeTemplate(nil); err != nil || len(got) != 0 {
		t.Errorf("DecodeTemplate(nil) = %v, %v", got, err)
	}

	// Every cut inside the encoding is an error.
	for n := 1; n < len(b); n++ {
		if got, err := DecodeTemplate(b[:n]); err == nil {
			// The cuts between entries are valid shorter templates.
			if !bytes.Equal(EncodeTemplate(got), b[:n]) {
				t.Errorf("DecodeTemplate of %d bytes = %v", n, got)
			}
			continue
		} else if !strings.HasPrefix(err.Error(), "ck: ") || !strings.Contains(err.Error(), "template") {
			t.Errorf("DecodeTemplate of %d bytes: error %q", n, err)
		}
	}
	huge := append(le(uint64(CKA_LABEL)), le(1<<63)...)
	if _, err := DecodeTemplate(huge); err == nil || !strings.Contains(err.Error(), "claims 9223372036854775808 bytes, 0 left") {
		t.Errorf("DecodeTemplate of a huge length: %v", err)
	}
}

type testInt int16

func TestNewAttribute(t *testing.T) {
	date := time.Date(2030, 12, 31, 23, 0, 0, 0, time.FixedZone("x", -3*3600))
	for _, tc := range []struct {
		t     AttributeType
		value any
		want  []byte
	}{
		{CKA_TOKEN, true, []byte{1}},
		{CKA_PRIVATE, false, []byte{0}},
		{CKA_VALUE_LEN, int(32), le(32)},
		{CKA_VALUE_LEN, int8(32), le(32)},
		{CKA_VALUE_LEN, int16(32), le(32)},
		{CKA_VALUE_LEN, int32(32), le(32)},
		{CKA_VALUE_LEN, int64(32), le(32)},
		{CKA_VALUE_LEN, uint(32), le(32)},
		{CKA_VALUE_LEN, uint8(32), le(32)},
		{CKA_VALUE_LEN, uint16(32), le(32)},
		{CKA_VALUE_LEN, uint32(32), le(32)},
		{CKA_VALUE_LEN, uint64(1 << 40), le(1 << 40)},
		{CKA_VALUE_LEN, 0, le(0)},
		{CKA_CLASS, CKO_PRIVATE_KEY, le(uint64(CKO_PRIVATE_KEY))},
		{CKA_KEY_TYPE, CKK_EC, le(uint64(CKK_EC))},
		{CKA_KEY_GEN_MECHANISM, CKM_EC_KEY_PAIR_GEN, le(uint64(CKM_EC_KEY_PAIR_GEN))},
		{CKA_CERTIFICATE_TYPE, CKC_X_509, le(uint64(CKC_X_509))},
		{CKA_HW_FEATURE_TYPE, CKH_CLOCK, le(uint64(CKH_CLOCK))},
		{CKA_PROFILE_ID, CKP_BASELINE_PROVIDER, le(uint64(CKP_BASELINE_PROVIDER))},
		{CKA_CLASS, AttributeType(7), le(7)},
		{CKA_CERTIFICATE_CATEGORY, CK_CERTIFICATE_CATEGORY_TOKEN_USER, le(1)},
		{CKA_PARAMETER_SET, CKP_ML_DSA_65, le(uint64(CKP_ML_DSA_65))},
		{CKA_TRUST_SERVER_AUTH, CKT_TRUSTED, le(uint64(CKT_TRUSTED))},
		{CKA_VALUE_LEN, testInt(16), le(16)},
		{CKA_VALUE_LEN, uintptr(16), le(16)},
		{CKA_LABEL, "key 1", []byte("key 1")},
		{CKA_LABEL, "", []byte{}},
		{CKA_START_DATE, date, []byte("20310101")},
		{CKA_MODULUS, big.NewInt(65537), []byte{1, 0, 1}},
		{CKA_PUBLIC_EXPONENT, new(big.Int), []byte{}},
		{CKA_ALLOWED_MECHANISMS, []MechanismType{CKM_ECDSA, CKM_EDDSA}, append(le(uint64(CKM_ECDSA)), le(uint64(CKM_EDDSA))...)},
		{CKA_ALLOWED_MECHANISMS, []MechanismType{}, []byte{}},
		{CKA_UNWRAP_TEMPLATE, []Attribute{{CKA_SENSITIVE, []byte{1}}}, append(append(le(uint64(CKA_SENSITIVE)), le(1)...), 1)},
		{CKA_ID, []byte{9, 8}, []byte{9, 8}},
		{CKA_TOKEN, []byte{7}, []byte{7}}, // []byte is taken as encoded

		// KindBytes attributes take every kind.
		{CKA_ID, true, []byte{1}},
		{CKA_ID, 5, le(5)},
		{CKA_ID, "x", []byte("x")},
		{CKA_ID, date, []byte("20310101")},
		{CKA_ID, big.NewInt(2), []byte{2}},
		{CKA_ID, []MechanismType{1}, le(1)},
		{CKA_VENDOR_DEFINED + 1, []Attribute{}, []byte{}},
	} {
		a, err := NewAttribute(tc.t, tc.value)
		if err != nil || a.Type != tc.t || !bytes.Equal(a.Value, tc.want) {
			t.Errorf("NewAttribute(%v, %T %v) = %v (% x), %v; want % x", tc.t, tc.value, tc.value, a.Type, a.Value, err, tc.want)
		}
	}
}

func TestNewAttributeErrors(t *testing.T) {
	type myStruct struct{}
	for _, tc := range []struct {
		t     AttributeType
		value any
		want  string
	}{
		{CKA_LABEL, true, "CKA_LABEL takes a string value, not bool"},
		{CKA_TOKEN, "yes", "CKA_TOKEN takes a bool value, not string"},
		{CKA_LABEL, time.Now(), "takes a string value, not time.Time"},
		{CKA_CLASS, big.NewInt(1), "CKA_CLASS takes a CK_ULONG value, not *big.Int"},
		{CKA_LABEL, []MechanismType{CKM_ECDSA}, "not []ck.MechanismType"},
		{CKA_LABEL, []Attribute{}, "not []ck.Attribute"},
		{CKA_ALLOWED_MECHANISMS, []Attribute{}, "takes a mechanism list value"},
		{CKA_WRAP_TEMPLATE, []MechanismType{}, "takes a attribute template value"},
		{CKA_LABEL, 5, "CKA_LABEL takes a string value, not int"},
		{CKA_TOKEN, uint8(1), "CKA_TOKEN takes a bool value, not uint8"},
		{CKA_MODULUS, 65537, "takes a big integer value, not int"},
		{CKA_START_DATE, "20240101", "takes a CK_DATE value, not string"},
		{CKA_VALUE_LEN, -1, "negative value -1"},
		{CKA_VALUE_LEN, int8(-1), "negative value -1"},
		{CKA_VALUE_LEN, int16(-2), "negative value -2"},
		{CKA_VALUE_LEN, int32(-3), "negative value -3"},
		{CKA_VALUE_LEN, int64(-1 << 63), "negative value -9223372036854775808"},
		{CKA_VALUE_LEN, testInt(-4), "negative value -4"},
		{CKA_LABEL, testInt(4), "CKA_LABEL takes a string value, not ck.testInt"},
		{CKA_MODULUS, (*big.Int)(nil), "needs a non-negative integer"},
		{CKA_MODULUS, big.NewInt(-5), "needs a non-negative integer"},
		{CKA_ID, (*big.Int)(nil), "needs a non-negative integer"},
		{CKA_LABEL, 1.5, "unsupported value type float64"},
		{CKA_VALUE_LEN, myStruct{}, "unsupported value type ck.myStruct"},
		{CKA_VALUE_LEN, nil, "unsupported value type <nil>"},
	} {
		a, err := NewAttribute(tc.t, tc.value)
		if err == nil {
			t.Errorf("NewAttribute(%v, %T) = %v, want an error", tc.t, tc.value, a)
			continue
		}
		if !strings.HasPrefix(err.Error(), "ck: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewAttribute(%v, %T): error %q, want one containing %q", tc.t, tc.value, err, tc.want)
		}
	}

	defer func() {
		if r := recover(); r == nil {
			t.Error("MustAttribute with a wrong value did not panic")
		}
	}()
	MustAttribute(CKA_TOKEN, "yes")
}

func TestAttributeString(t *testing.T) {
	for _, tc := range []struct {
		a    Attribute
		want string
	}{
		{MustAttribute(CKA_TOKEN, true), "CKA_TOKEN=true"},
		{Attribute{CKA_TOKEN, []byte{1, 2}}, "CKA_TOKEN=0102"},
		{MustAttribute(CKA_CLASS, CKO_PRIVATE_KEY), "CKA_CLASS=CKO_PRIVATE_KEY"},
		{MustAttribute(CKA_KEY_TYPE, CKK_EC), "CKA_KEY_TYPE=CKK_EC"},
		{MustAttribute(CKA_CERTIFICATE_TYPE, CKC_X_509), "CKA_CERTIFICATE_TYPE=CKC_X_509"},
		{MustAttribute(CKA_KEY_GEN_MECHANISM, CKM_EC_KEY_PAIR_GEN), "CKA_KEY_GEN_MECHANISM=CKM_EC_KEY_PAIR_GEN"},
		{MustAttribute(CKA_NAME_HASH_ALGORITHM, CKM_SHA256), "CKA_NAME_HASH_ALGORITHM=CKM_SHA256"},
		{MustAttribute(CKA_MODULUS_BITS, 2048), "CKA_MODULUS_BITS=2048"},
		{Attribute{CKA_MODULUS_BITS, []byte{0, 8}}, "CKA_MODULUS_BITS=0008"},
		{MustAttribute(CKA_LABEL, "a \"key\""), `CKA_LABEL="a \"key\""`},
		{Attribute{CKA_START_DATE, []byte("20240101")}, `CKA_START_DATE="20240101"`},
		{Attribute{CKA_ID, []byte{0xab, 0xcd}}, "CKA_ID=abcd"},
		{Attribute{CKA_VENDOR_DEFINED + 0x10, []byte{1}}, "CKA_VENDOR_DEFINED+0x10=01"},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}

	// Secret values print as their length only.
	secret := []byte{0xde, 0xad, 0xbe, 0xef, 'p', 'i', 'n'}
	for _, typ := range []AttributeType{CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
		CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT, CKA_SEED} {
		got := Attribute{typ, secret}.String()
		if want := typ.String() + "=<7 bytes>"; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		for _, leak := range []string{"dead", "beef", "pin", "\\xde"} {
			if strings.Contains(got, leak) {
				t.Errorf("%v String() = %q shows the value", typ, got)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		v    Version
		want string
	}{{Version{2, 40}, "2.40"}, {Version{3, 0}, "3.0"}, {Version{3, 2}, "3.2"}, {Version{255, 255}, "255.255"}} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.v, got, tc.want)
		}
	}
	ordered := []Version{{0, 0}, {1, 255}, {2, 1}, {2, 20}, {2, 40}, {3, 0}, {3, 2}, {4, 0}}
	for i, v := range ordered {
		for j, w := range ordered {
			if got := v.Less(w); got != (i < j) {
				t.Errorf("%v.Less(%v) = %v", v, w, got)
			}
		}
	}
}

func TestTokenInfoTime(t *testing.T) {
	for _, tc := range []struct {
		utc  string
		want time.Time
		ok   bool
	}{
		{"2024022913045900", time.Date(2024, 2, 29, 13, 4, 59, 0, time.UTC), true},
		{"20240229130459  ", time.Date(2024, 2, 29, 13, 4, 59, 0, time.UTC), true},
		{"20240229130459", time.Date(2024, 2, 29, 13, 4, 59, 0, time.UTC), true},
		{"", time.Time{}, false},
		{"2024022913045", time.Time{}, false},
		{"2023022913045900", time.Time{}, false},
		{"20240229250000", time.Time{}, false},
		{"abcdefghijklmnop", time.Time{}, false},
	} {
		ti := TokenInfo{UTCTime: tc.utc}
		got, ok := ti.Time()
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("Time(%q) = %v, %v; want %v, %v", tc.utc, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRVError(t *testing.T) {
	var err error = CKR_PIN_INCORRECT
	if err.Error() != "CKR_PIN_INCORRECT" {
		t.Errorf("Error() = %q", err.Error())
	}
	if got := RV(0xCE534351).Error(); got != "CKR_VENDOR_DEFINED+0x4e534351" {
		t.Errorf("Error() of NSS's vendor code = %q", got)
	}
	if got := RV(0x2ff).Error(); got != "CKR_0x2ff" {
		t.Errorf("Error() of an unknown code = %q", got)
	}

	wrap := func(err error) error { return fmt.Errorf("session: C_Login: %w", err) }
	for _, tc := range []struct {
		err    error
		target error
		want   bool
	}{
		{CKR_PIN_INCORRECT, CKR_PIN_INCORRECT, true},
		{CKR_PIN_INCORRECT, CKR_PIN_LOCKED, false},
		{CKR_OK, CKR_OK, true},
		{CKR_FUNCTION_NOT_SUPPORTED, errors.ErrUnsupported, true},
		{CKR_FUNCTION_NOT_SUPPORTED, CKR_FUNCTION_NOT_SUPPORTED, true},
		{CKR_MECHANISM_INVALID, errors.ErrUnsupported, false},
		{CKR_FUNCTION_FAILED, errors.ErrUnsupported, false},
		{CKR_OK, errors.ErrUnsupported, false},
		{RV(0xCE534351), errors.ErrUnsupported, false},
		{CKR_PIN_INCORRECT, errors.New("CKR_PIN_INCORRECT"), false},
		{CKR_PIN_INCORRECT, nil, false},
	} {
		for _, err := range []error{tc.err, wrap(tc.err), wrap(wrap(tc.err))} {
			if got := errors.Is(err, tc.target); got != tc.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", err, tc.target, got, tc.want)
			}
		}
	}

	var rv RV
	if !errors.As(wrap(CKR_DEVICE_REMOVED), &rv) || rv != CKR_DEVICE_REMOVED {
		t.Errorf("errors.As gave %v", rv)
	}
}

// templateSeeds are encoded templates of the shapes modules and callers
// use.
func templateSeeds() [][]byte {
	return [][]byte{
		EncodeTemplate([]Attribute{
			MustAttribute(CKA_CLASS, CKO_PRIVATE_KEY),
			MustAttribute(CKA_SIGN, true),
			MustAttribute(CKA_LABEL, "k"),
		}),
		EncodeTemplate([]Attribute{MustAttribute(CKA_WRAP_TEMPLATE, []Attribute{
			MustAttribute(CKA_EXTRACTABLE, false),
			MustAttribute(CKA_ALLOWED_MECHANISMS, []MechanismType{CKM_AES_GCM}),
		})}),
		EncodeTemplate([]Attribute{{CKA_VALUE, nil}}),
		append(le(uint64(CKA_LABEL)), le(1<<63)...),
		le(uint64(CKA_LABEL)),
		nil,
	}
}

func FuzzDecodeTemplate(f *testing.F) {
	for _, s := range templateSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeTemplate(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ck: ") {
				t.Errorf("error without the package prefix: %v", err)
			}
			return
		}

		// The encoding is canonical: decoding then encoding gives b back.
		if again := EncodeTemplate(got); !bytes.Equal(again, b) {
			t.Errorf("EncodeTemplate(DecodeTemplate(% x)) = % x", b, again)
		}
		for _, a := range got {
			if cap(a.Value) != len(a.Value) {
				t.Errorf("%v value of %d bytes has capacity %d", a.Type, len(a.Value), cap(a.Value))
			}
		}
	})
}

func FuzzAttributeDecoders(f *testing.F) {
	for _, typ := range []AttributeType{CKA_TOKEN, CKA_CLASS, CKA_LABEL, CKA_START_DATE,
		CKA_MODULUS, CKA_ALLOWED_MECHANISMS, CKA_WRAP_TEMPLATE, CKA_VALUE, CKA_ID} {
		f.Add(uint64(typ), []byte{1})
		f.Add(uint64(typ), le(uint64(CKO_SECRET_KEY)))
		f.Add(uint64(typ), []byte("20240229"))
		f.Add(uint64(typ), []byte("key label"))
	}
	for _, s := range templateSeeds() {
		f.Add(uint64(CKA_UNWRAP_TEMPLATE), s)
	}
	f.Fuzz(func(t *testing.T, typ uint64, v []byte) {
		a := Attribute{AttributeType(typ), v}

		if b, err := a.Bool(); (err == nil) != (len(v) == 1) || err == nil && b != (v[0] != 0) {
			t.Errorf("Bool(% x) = %v, %v", v, b, err)
		}

		if n, err := a.ULong(); (err == nil) != (len(v) == 8) || err == nil && !bytes.Equal(le(n), v) {
			t.Errorf("ULong(% x) = %#x, %v", v, n, err)
		}

		if d, err := a.Date(); err == nil && len(v) > 0 {
			if len(v) != 8 || d.Format("20060102") != string(v) {
				t.Errorf("Date(%q) = %v, which prints as %s", v, d, d.Format("20060102"))
			}
		} else if err == nil && !d.IsZero() {
			t.Errorf("Date of an empty value = %v", d)
		} else if err != nil && len(v) == 0 {
			t.Errorf("Date of an empty value: %v", err)
		}

		ms, err := a.Mechanisms()
		if (err == nil) != (len(v)%8 == 0) {
			t.Errorf("Mechanisms(%d bytes): %v", len(v), err)
		}
		if err == nil {
			back, err := NewAttribute(CKA_ALLOWED_MECHANISMS, ms)
			if err != nil || !bytes.Equal(back.Value, v) {
				t.Errorf("Mechanisms(% x) = %v, which encodes as % x, %v", v, ms, back.Value, err)
			}
		}

		if tmpl, err := a.Template(); err == nil && !bytes.Equal(EncodeTemplate(tmpl), v) {
			t.Errorf("Template(% x) = %v, which encodes as % x", v, tmpl, EncodeTemplate(tmpl))
		}

		if n := a.BigInt(); !bytes.Equal(n.Bytes(), bytes.TrimLeft(v, "\x00")) || n.Sign() < 0 {
			t.Errorf("BigInt(% x) = %v", v, n)
		}
		if a.Text() != string(v) {
			t.Errorf("Text(% x) = %q", v, a.Text())
		}

		// String never fails, and never shows a secret.
		s := a.String()
		if !strings.HasPrefix(s, a.Type.String()+"=") {
			t.Errorf("String() = %q", s)
		}
		switch a.Type {
		case CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
			CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT, CKA_SEED:
			if want := fmt.Sprintf("%v=<%d bytes>", a.Type, len(v)); s != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
		}
	})
}
