package token_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/token"
)

// rfcExamples are the example URIs of RFC 7512, section 3.3, each on one
// line, with the form String writes them in: the same but for the order
// of attributes, "3" written "3.0", and hexadecimal digits in upper case.
var rfcExamples = []struct{ in, out string }{
	{"pkcs11:", ""},
	{"pkcs11:object=my-pubkey;type=public", ""},
	{"pkcs11:object=my-key;type=private?pin-source=file:/etc/token", ""},
	{"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
		"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;serial=;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91?pin-source=file:/etc/token_pin"},
	{"pkcs11:object=my-sign-key;type=private?module-name=mypkcs11", ""},
	{"pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1", ""},
	{"pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin", ""},
	{"pkcs11:slot-description=Sun%20Metaslot", ""},
	{"pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23", ""},
	{"pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
		"pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3.0;id=%01%02%03%BA%DD%CA%FE%04%05%06"},
	{"pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert", ""},
	{"pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert", ""},
	{"pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b", ""},
}

func TestRFCExamples(t *testing.T) {
	for _, ex := range rfcExamples {
		u, err := token.ParseURI(ex.in)
		require.NoError(t, err, ex.in)
		want := ex.out
		if want == "" {
			want = ex.in
		}
		assert.Equal(t, want, u.StringWithPIN(), ex.in)
		again, err := token.ParseURI(u.StringWithPIN())
		require.NoError(t, err)
		assert.Equal(t, u, again, ex.in)
	}

	u := token.MustParseURI(rfcExamples[3].in)
	assert.Equal(t, &token.URI{
		Token:        "The Software PKCS#11 Softtoken",
		Manufacturer: "Snake Oil, Inc.",
		Model:        "1.0",
		Object:       "my-certificate",
		Type:         token.TypeCert,
		ID:           []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91},
		PINSource:    "file:/etc/token_pin",
	}, withoutPresence(u))
	assert.True(t, u.Has("serial"), "serial= is present, empty")
	assert.False(t, u.Has("slot-id"))
	assert.Equal(t, []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_CERTIFICATE),
		{Type: ck.CKA_LABEL, Value: []byte("my-certificate")},
		{Type: ck.CKA_ID, Value: u.ID},
	}, template(t, u))

	u = token.MustParseURI(rfcExamples[6].in)
	assert.Equal(t, []byte("the-pin"), u.PINValue)
	assert.Equal(t, "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.", u.String())

	u = token.MustParseURI(rfcExamples[8].in)
	assert.Equal(t, &ck.Version{Major: 1, Minor: 23}, u.LibraryVersion)
	assert.Equal(t, "Soft Token Library", u.LibraryDescription)
	u = token.MustParseURI(rfcExamples[9].in)
	assert.Equal(t, &ck.Version{Major: 3}, u.LibraryVersion)
	assert.Equal(t, "My token% created by Joe", u.Token)
	assert.Equal(t, []byte{1, 2, 3, 0xba, 0xdd, 0xca, 0xfe, 4, 5, 6}, u.ID)
	assert.Equal(t, "A name with a substring %;", token.MustParseURI(rfcExamples[10].in).Token)
	assert.Equal(t, "Name with a small A with acute: \u00e1", token.MustParseURI(rfcExamples[11].in).Token)

	u = token.MustParseURI(rfcExamples[12].in)
	assert.Equal(t, []token.VendorAttribute{{Name: "vendor-aaa", Value: "value-a"}}, u.VendorPath)
	assert.Equal(t, []token.VendorAttribute{{Name: "vendor-bbb", Value: "value-b"}}, u.VendorQuery)
	assert.True(t, u.Has("vendor-aaa"))
	assert.True(t, u.Has("vendor-bbb"))
	assert.False(t, u.Has("vendor-ccc"))
}

// withoutPresence returns u as ParseURI would give it for the same
// non-empty values, by a round trip through a URI built from the fields.
func withoutPresence(u *token.URI) *token.URI {
	c := *u
	v := reflect.ValueOf(&c).Elem()
	out := &token.URI{}
	o := reflect.ValueOf(out).Elem()
	for i := range v.NumField() {
		if o.Field(i).CanSet() {
			o.Field(i).Set(v.Field(i))
		}
	}
	return out
}

func TestURIEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    token.URI
		want string
	}{
		{"path reserved characters allowed", token.URI{Token: ":[]@!$'()*+,=&"}, "pkcs11:token=:[]@!$'()*+,=&"},
		{"path delimiters", token.URI{Token: "a;b?c/d#e%f g"}, "pkcs11:token=a%3Bb%3Fc%2Fd%23e%25f%20g"},
		{"query reserved characters allowed", token.URI{PINSource: ":[]@!$'()*+,=/?|"}, "pkcs11:?pin-source=:[]@!$'()*+,=/?|"},
		{"query delimiters", token.URI{ModulePath: "a&b;c#d%e f"}, "pkcs11:?module-path=a%26b%3Bc%23d%25e%20f"},
		{"pipe only in the query", token.URI{Object: "a|b", ModuleName: "a|b"}, "pkcs11:object=a%7Cb?module-name=a|b"},
		{"unreserved", token.URI{Serial: "AZaz09-._~"}, "pkcs11:serial=AZaz09-._~"},
		{"UTF-8 and control bytes", token.URI{Model: "\u00e1\x00\x7f\xff"}, "pkcs11:model=%C3%A1%00%7F%FF"},
		{"id is always fully encoded", token.URI{ID: []byte("abc/")}, "pkcs11:id=%61%62%63%2F"},
		{"empty id is present", token.URI{ID: []byte{}}, "pkcs11:id="},
		{"type", token.URI{Type: token.TypeSecretKey}, "pkcs11:type=secret-key"},
		{"numbers", token.URI{LibraryVersion: &ck.Version{Major: 2, Minor: 5}, SlotID: ptr(ck.SlotID(18446744073709551615))},
			"pkcs11:library-version=2.5;slot-id=18446744073709551615"},
		{"vendor attributes", token.URI{Token: "t", VendorPath: []token.VendorAttribute{{"x-a", "1 2"}},
			VendorQuery: []token.VendorAttribute{{"x-b", "&"}, {"x-b", "/"}}},
			"pkcs11:token=t;x-a=1%202?x-b=%26&x-b=/"},
		{"every attribute", token.URI{Token: "t", Manufacturer: "m", Serial: "s", Model: "o",
			LibraryManufacturer: "lm", LibraryDescription: "ld", LibraryVersion: &ck.Version{Major: 1},
			SlotDescription: "sd", SlotManufacturer: "sm", SlotID: ptr(ck.SlotID(3)),
			Object: "obj", Type: token.TypeData, ID: []byte{0},
			PINSource: "ps", ModuleName: "mn", ModulePath: "/mp"},
			"pkcs11:token=t;manufacturer=m;serial=s;model=o;library-manufacturer=lm;library-description=ld;library-version=1.0;" +
				"slot-description=sd;slot-manufacturer=sm;slot-id=3;object=obj;type=data;id=%00?pin-source=ps&module-name=mn&module-path=/mp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.u.String()
			assert.Equal(t, tc.want, got)
			back, err := token.ParseURI(got)
			require.NoError(t, err)
			assert.Equal(t, got, back.String())
		})
	}

	// Decoding: lower-case hexadecimal, needlessly encoded characters, and
	// the scheme in any case.
	u, err := token.ParseURI("PKCS11:token=%c3%a1%41%3a;object=a=b?module-name=%2f%7c")
	require.NoError(t, err)
	assert.Equal(t, "\u00e1A:", u.Token)
	assert.Equal(t, "a=b", u.Object)
	assert.Equal(t, "/|", u.ModuleName)
	assert.Equal(t, "pkcs11:token=%C3%A1A:;object=a=b?module-name=/|", u.String())
	_, err = token.ParseURI("Pkcs11:")
	assert.NoError(t, err)

	// A query without attributes is a URI without query.
	u, err = token.ParseURI("pkcs11:token=a?")
	require.NoError(t, err)
	assert.Equal(t, "pkcs11:token=a", u.String())

	// Vendor attributes may repeat in the query, and keep their order.
	u, err = token.ParseURI("pkcs11:?x-b=2&x-a=1&x-b=3")
	require.NoError(t, err)
	assert.Equal(t, []token.VendorAttribute{{"x-b", "2"}, {"x-a", "1"}, {"x-b", "3"}}, u.VendorQuery)
}

func ptr[T any](v T) *T { return &v }

func TestParseURIErrors(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"", `does not start with "pkcs11:"`},
		{"pkcs11", `does not start with "pkcs11:"`},
		{"http://example.com", `does not start with "pkcs11:"`},
		{"pkcs11x:token=a", `does not start with "pkcs11:"`},
		{" pkcs11:token=a", `does not start with "pkcs11:"`},
		{"pkcs11:token=a;token=b", `attribute "token" appears twice`},
		{"pkcs11:id=%01;object=a;id=%02", `attribute "id" appears twice`},
		{"pkcs11:?module-name=a&module-name=b", `attribute "module-name" appears twice`},
		{"pkcs11:x-a=1;x-a=2", `attribute "x-a" appears twice in the path`},
		{"pkcs11:token", `attribute "token" has no "="`},
		{"pkcs11:token=a;", `empty attribute`},
		{"pkcs11:;token=a", `empty attribute`},
		{"pkcs11:token=a?&pin-source=b", `empty attribute`},
		{"pkcs11:=a", `invalid attribute name ""`},
		{"pkcs11:to ken=a", `invalid attribute name "to ken"`},
		{"pkcs11:token=a b", `value of token: character ' ' must be percent-encoded`},
		{"pkcs11:token=a/b", `value of token: character '/' must be percent-encoded`},
		{"pkcs11:token=a|b", `value of token: character '|' must be percent-encoded`},
		{"pkcs11:token=a#b", `value of token: character '#' must be percent-encoded`},
		{"pkcs11:token=\u00e1", `value of token: byte 0xC3 must be percent-encoded`},
		{"pkcs11:?module-path=a;b", `value of module-path: character ';' must be percent-encoded`},
		{"pkcs11:token=%zz", `value of token: bad percent-encoding`},
		{"pkcs11:token=%4", `value of token: incomplete percent-encoding`},
		{"pkcs11:token=%", `value of token: incomplete percent-encoding`},
		{"pkcs11:pin-value=1234", `query attribute "pin-value" in the path`},
		{"pkcs11:module-path=/a", `query attribute "module-path" in the path`},
		{"pkcs11:?token=a", `path attribute "token" in the query`},
		{"pkcs11:?pin-source=file:/a&pin-value=1234", `both pin-source and pin-value`},
		{"pkcs11:library-version=", `library-version "" is not M or M.N`},
		{"pkcs11:library-version=1.", `library-version "1." is not M or M.N`},
		{"pkcs11:library-version=.1", `library-version ".1" is not M or M.N`},
		{"pkcs11:library-version=1.2.3", `library-version "1.2.3" is not M or M.N`},
		{"pkcs11:library-version=-1", `library-version "-1" is not M or M.N`},
		{"pkcs11:library-version=256", `library-version "256": major version above 255`},
		{"pkcs11:library-version=1.256", `library-version "1.256": minor version above 255`},
		{"pkcs11:slot-id=", `slot-id "" is not a decimal number`},
		{"pkcs11:slot-id=+1", `slot-id "+1" is not a decimal number`},
		{"pkcs11:slot-id=0x10", `slot-id "0x10" is not a decimal number`},
		{"pkcs11:slot-id=18446744073709551616", `slot-id "18446744073709551616" is too large`},
		{"pkcs11:type=", `type "" is not public, private, cert, secret-key or data`},
		{"pkcs11:type=Cert", `type "Cert" is not public, private, cert, secret-key or data`},
		{"pkcs11:type=key", `type "key" is not public, private, cert, secret-key or data`},
	} {
		_, err := token.ParseURI(tc.in)
		if assert.Error(t, err, tc.in) {
			assert.Equal(t, "token: invalid PKCS#11 URI: "+tc.err, err.Error(), tc.in)
		}
	}
}

// TestURIPINSecret checks that the PIN of a URI shows nowhere but in
// StringWithPIN: not in String, any fmt verb, nor parse errors.
func TestURIPINSecret(t *testing.T) {
	const pin = "s3cr3t-PIN"
	u, err := token.ParseURI("pkcs11:token=t?pin-value=" + pin)
	require.NoError(t, err)
	assert.Equal(t, []byte(pin), u.PINValue)
	assert.True(t, u.Has("pin-value"))
	assert.Equal(t, "pkcs11:token=t", u.String())
	assert.Equal(t, "pkcs11:token=t?pin-value="+pin, u.StringWithPIN())

	type holder struct {
		U  token.URI
		P  *token.URI
		Us []token.URI
	}
	h := holder{U: *u, P: u, Us: []token.URI{*u}}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10.3v"} {
		for _, v := range []any{u, *u, h, &h} {
			out := fmt.Sprintf(f, v)
			assert.NotContains(t, out, pin, "%s of %T", f, v)
			assert.NotContains(t, out, "s3cr3t", "%s of %T", f, v)
		}
	}
	assert.Equal(t, `token.MustParseURI("pkcs11:token=t")`, fmt.Sprintf("%#v", u))
	assert.Equal(t, `"pkcs11:token=t"`, fmt.Sprintf("%q", u))

	for _, in := range []string{
		"pkcs11:?pin-value=" + pin + "%zz",
		"pkcs11:?pin-value=" + pin + "%",
		"pkcs11:?pin-value=" + pin + "#x",
		"pkcs11:?pin-value=" + pin + "&pin-value=" + pin,
		"pkcs11:?pin-value=" + pin + "&pin-source=file:/x",
		"pkcs11:?pin-value=" + pin + "&token=t",
		"pkcs11:pin-value=" + pin,
		"pkcs11:token=t;" + pin,
	} {
		_, err := token.ParseURI(in)
		require.Error(t, err, in)
		assert.NotContains(t, err.Error(), "s3cr3t", in)
	}
}

func TestURIMatching(t *testing.T) {
	ti := ck.TokenInfo{Label: "My Token", ManufacturerID: "ACME", Model: "M1", SerialNumber: "0042"}
	si := ck.SlotInfo{SlotDescription: "Reader 1", ManufacturerID: "Readers Inc"}
	info := ck.Info{ManufacturerID: "ACME lib", LibraryDescription: "the library", LibraryVersion: ck.Version{Major: 2, Minor: 1}}

	for _, tc := range []struct {
		uri                 string
		module, slot, token bool
	}{
		{"pkcs11:", true, true, true},
		{"pkcs11:token=My%20Token;manufacturer=ACME;model=M1;serial=0042", true, true, true},
		{"pkcs11:token=My%20Token%20%20", true, true, true}, // padding is not significant
		{"pkcs11:token=my%20token", true, true, false},
		{"pkcs11:serial=", true, true, false}, // present and empty: only an empty serial
		{"pkcs11:serial=42", true, true, false},
		{"pkcs11:library-manufacturer=ACME%20lib;library-description=the%20library;library-version=2.1", true, true, true},
		{"pkcs11:library-version=2", false, true, true},
		{"pkcs11:library-description=", false, true, true},
		{"pkcs11:slot-id=7;slot-description=Reader%201;slot-manufacturer=Readers%20Inc", true, true, true},
		{"pkcs11:slot-id=8", true, false, true},
		{"pkcs11:slot-manufacturer=Readers", true, false, true},
		{"pkcs11:object=key;type=private;id=%01", true, true, true}, // object attributes are not looked at
		{"pkcs11:token=My%20Token?pin-value=1&module-name=acme&x-q=1", true, true, true},
		{"pkcs11:token=My%20Token;x-p=1", false, false, false}, // an unknown path attribute matches nothing
	} {
		u := token.MustParseURI(tc.uri)
		assert.Equal(t, tc.module, u.MatchesModule(info), "module %s", tc.uri)
		assert.Equal(t, tc.slot, u.MatchesSlot(7, si), "slot %s", tc.uri)
		assert.Equal(t, tc.token, u.MatchesToken(ti), "token %s", tc.uri)
	}

	// An empty field is absent, unless parsed as present.
	assert.True(t, (&token.URI{Serial: ""}).MatchesToken(ti))
	assert.True(t, token.MustParseURI("pkcs11:serial=").MatchesToken(ck.TokenInfo{Label: "x"}))
}

// template is ObjectTemplate for URIs that name objects.
func template(t *testing.T, u *token.URI) []ck.Attribute {
	t.Helper()
	tmpl, ok := u.ObjectTemplate()
	require.True(t, ok, "%s names objects", u)
	return tmpl
}

func TestObjectTemplate(t *testing.T) {
	assert.Nil(t, template(t, token.MustParseURI("pkcs11:token=a?pin-value=1&x-q=1")))
	assert.Equal(t, []ck.Attribute{
		{Type: ck.CKA_CLASS, Value: []byte{3, 0, 0, 0, 0, 0, 0, 0}},
		{Type: ck.CKA_LABEL, Value: []byte("my key")},
		{Type: ck.CKA_ID, Value: []byte{1, 2}},
	}, template(t, token.MustParseURI("pkcs11:object=my%20key;type=private;id=%01%02")))
	// Present and empty: an empty label and ID.
	assert.Equal(t, []ck.Attribute{
		{Type: ck.CKA_LABEL, Value: []byte{}},
		{Type: ck.CKA_ID, Value: []byte{}},
	}, template(t, token.MustParseURI("pkcs11:object=;id=")))

	for typ, class := range map[token.ObjectType]ck.ObjectClass{
		token.TypePublic: ck.CKO_PUBLIC_KEY, token.TypePrivate: ck.CKO_PRIVATE_KEY,
		token.TypeCert: ck.CKO_CERTIFICATE, token.TypeSecretKey: ck.CKO_SECRET_KEY, token.TypeData: ck.CKO_DATA,
	} {
		c, ok := typ.Class()
		assert.True(t, ok)
		assert.Equal(t, class, c)
		back, ok := token.ObjectTypeOf(class)
		assert.True(t, ok)
		assert.Equal(t, typ, back)
		tmpl := template(t, &token.URI{Type: typ})
		require.Len(t, tmpl, 1)
		v, err := tmpl[0].ULong()
		require.NoError(t, err)
		assert.Equal(t, uint64(class), v)
	}
	_, ok := token.ObjectType("").Class()
	assert.False(t, ok)
	_, ok = token.ObjectTypeOf(ck.CKO_PROFILE)
	assert.False(t, ok)

	// URIs that name no object: no template, since an empty one would
	// name every object.
	for _, u := range []*token.URI{
		{Type: "bogus"},
		{Object: "k", VendorPath: []token.VendorAttribute{{Name: "x-p", Value: "1"}}},
		token.MustParseURI("pkcs11:object=k;x-p=1"),
		token.MustParseURI("pkcs11:object=k;vendor-aaa=value-a"), // not x-, still unknown
		token.MustParseURI("pkcs11:future-attribute=1"),
	} {
		tmpl, ok := u.ObjectTemplate()
		assert.False(t, ok, "%#v", u)
		assert.Nil(t, tmpl)
	}
}

func TestMatchesObject(t *testing.T) {
	type object struct {
		class ck.ObjectClass
		label string
		id    []byte
	}
	key := object{ck.CKO_PRIVATE_KEY, "my key", []byte{1, 2}}
	for _, tc := range []struct {
		uri  string
		obj  object
		want bool
	}{
		{"pkcs11:", key, true},
		{"pkcs11:object=my%20key;type=private;id=%01%02", key, true},
		{"pkcs11:object=my%20key", key, true},
		{"pkcs11:object=my%20key", object{ck.CKO_CERTIFICATE, "my key", nil}, true},
		{"pkcs11:object=My%20key", key, false},    // labels compare exactly
		{"pkcs11:object=my%20key%20", key, false}, // not padded: a blank counts
		{"pkcs11:object=my", key, false},
		{"pkcs11:object=", key, false}, // present and empty: only an empty label
		{"pkcs11:object=", object{ck.CKO_DATA, "", nil}, true},
		{"pkcs11:id=%01%02", key, true},
		{"pkcs11:id=%01", key, false},
		{"pkcs11:id=%01%02%03", key, false},
		{"pkcs11:id=", key, false},
		{"pkcs11:id=", object{ck.CKO_DATA, "d", nil}, true}, // an absent CKA_ID reads as empty
		{"pkcs11:type=private", key, true},
		{"pkcs11:type=public", key, false},
		{"pkcs11:type=public", object{ck.CKO_PUBLIC_KEY, "my key", []byte{1, 2}}, true},
		{"pkcs11:type=secret-key", object{ck.CKO_SECRET_KEY, "", nil}, true},
		{"pkcs11:type=cert", object{ck.CKO_CERTIFICATE, "", nil}, true},
		{"pkcs11:type=data", object{ck.CKO_DATA, "", nil}, true},
		{"pkcs11:type=data", object{ck.CKO_PROFILE, "", nil}, false},
		// Token, slot and library attributes and the query are not
		// looked at here.
		{"pkcs11:token=other;slot-id=9;library-version=9;object=my%20key?module-name=x&x-q=1", key, true},
		// An unknown path attribute, vendor or not, names nothing.
		{"pkcs11:object=my%20key;x-p=1", key, false},
		{"pkcs11:vendor-aaa=value-a", key, false},
	} {
		u := token.MustParseURI(tc.uri)
		assert.Equal(t, tc.want, u.MatchesObject(tc.obj.class, tc.obj.label, tc.obj.id), "%s %+v", tc.uri, tc.obj)

		// The template and MatchesObject agree.
		tmpl, ok := u.ObjectTemplate()
		if !ok {
			assert.False(t, tc.want, tc.uri)
			continue
		}
		assert.Equal(t, tc.want, templateMatches(t, tmpl, tc.obj.class, tc.obj.label, tc.obj.id), "template of %s", tc.uri)
	}
	assert.False(t, (&token.URI{Type: "bogus"}).MatchesObject(ck.CKO_DATA, "", nil))
	assert.True(t, (&token.URI{}).MatchesObject(ck.CKO_DATA, "", nil))
}

// templateMatches reports whether an object with class, label and id
// has the attributes of tmpl, as C_FindObjectsInit compares them.
func templateMatches(t *testing.T, tmpl []ck.Attribute, class ck.ObjectClass, label string, id []byte) bool {
	t.Helper()
	for _, a := range tmpl {
		switch a.Type {
		case ck.CKA_CLASS:
			v, err := a.ULong()
			require.NoError(t, err)
			if ck.ObjectClass(v) != class {
				return false
			}
		case ck.CKA_LABEL:
			if string(a.Value) != label {
				return false
			}
		case ck.CKA_ID:
			if string(a.Value) != string(id) {
				return false
			}
		default:
			t.Fatalf("unexpected attribute %v", a.Type)
		}
	}
	return true
}

func TestMatchesModulePath(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libacme-p11.so.1.2")
	require.NoError(t, os.WriteFile(lib, nil, 0o600))
	link := filepath.Join(dir, "current.so")
	// Only where the system resolves the link it made: Wine makes one
	// that EvalSymlinks does not follow.
	linked := os.Symlink(lib, link) == nil
	if linked {
		rl, err1 := filepath.EvalSymlinks(link)
		rlib, err2 := filepath.EvalSymlinks(lib)
		linked = err1 == nil && err2 == nil && rl == rlib
	}
	if !linked {
		t.Logf("no symbolic link that resolves on %s: the link cases are left out", runtime.GOOS)
	}

	for _, tc := range []struct {
		uri, path string
		want      bool
	}{
		{"pkcs11:", "/usr/lib/libacme.so", true},
		{"pkcs11:?pin-value=1&x-q=1", "/usr/lib/libacme.so", true},
		{"pkcs11:?module-path=/usr/lib/libacme.so", "/usr/lib/libacme.so", true},
		{"pkcs11:?module-path=/usr/lib/../lib//libacme.so", "/usr/lib/libacme.so", true},
		{"pkcs11:?module-path=/usr/lib/libacme.so", "/usr/lib/libacme.so.1", false},
		{"pkcs11:?module-path=/opt/libacme.so", "/usr/lib/libacme.so", false},
		{"pkcs11:?module-path=", "/usr/lib/libacme.so", false},
		// The RFC's example: the name without path, "lib" or suffix.
		{"pkcs11:object=my-sign-key;type=private?module-name=mypkcs11", "/mnt/libmypkcs11.so.1", true},
		{"pkcs11:?module-path=/mnt/libmypkcs11.so.1", "/mnt/libmypkcs11.so.1", true},
		{"pkcs11:?module-name=libmypkcs11", "/mnt/libmypkcs11.so.1", true},
		{"pkcs11:?module-name=mypkcs11", "/mnt/libmypkcs11.so", true},
		{"pkcs11:?module-name=mypkcs11", `C:\Windows\mypkcs11.dll`, true},
		{"pkcs11:?module-name=mypkcs11", "/Library/mypkcs11.dylib", true},
		{"pkcs11:?module-name=p11-kit-trust", "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so", true},
		{"pkcs11:?module-name=softhsm2", "/usr/lib/softhsm/libsofthsm2.so", true},
		{"pkcs11:?module-name=softhsm", "/usr/lib/softhsm/libsofthsm2.so", false},
		{"pkcs11:?module-name=mypkcs11.so", "/mnt/libmypkcs11.so", false},
		{"pkcs11:?module-name=lib", "/mnt/lib.so", true},
		{"pkcs11:?module-name=", "/mnt/lib.so", false},
		{"pkcs11:?module-name=sohsm", "/mnt/sohsm.sox", false},
		{"pkcs11:?module-name=mypkcs11&module-path=/mnt/libmypkcs11.so.1", "/mnt/libmypkcs11.so.1", true},
		{"pkcs11:?module-name=other&module-path=/mnt/libmypkcs11.so.1", "/mnt/libmypkcs11.so.1", false},
		// An unknown path attribute names nothing, no module either.
		{"pkcs11:x-p=1?module-name=mypkcs11", "/mnt/libmypkcs11.so.1", false},
	} {
		if strings.Contains(tc.path, `\`) && filepath.Separator != '\\' {
			continue // a Windows path is one name elsewhere
		}
		u := token.MustParseURI(tc.uri)
		assert.Equal(t, tc.want, u.MatchesModulePath(tc.path), "%s against %s", tc.uri, tc.path)
	}

	// A URI naming a symbolic link matches the resolved path that
	// pkcs11.Module.Path gives, and the other way round.
	if linked {
		u := &token.URI{ModulePath: link}
		assert.True(t, u.MatchesModulePath(lib))
		assert.True(t, (&token.URI{ModulePath: lib}).MatchesModulePath(link))
		assert.False(t, u.MatchesModulePath(filepath.Join(dir, "libacme-p11.so.2")))
		assert.True(t, (&token.URI{ModuleName: "acme-p11"}).MatchesModulePath(lib))
	}
}

func FuzzParseURI(f *testing.F) {
	for _, ex := range rfcExamples {
		f.Add(ex.in)
	}
	for _, s := range []string{
		"pkcs11:token=:[]@!$'()*+,=&?pin-source=:[]@!$'()*+,=/?|",
		"PKCS11:id=;serial=;object=?pin-value=&x-a=1&x-a=",
		"pkcs11:library-version=255.255;slot-id=18446744073709551615;type=secret-key",
		"pkcs11:token=%00%ff%C3%A1;x-v=%25?module-path=/a/b?c",
		"pkcs11:token=a;;b", "pkcs11:?", "pkcs11:%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := token.ParseURI(s)
		if err != nil {
			return
		}
		// Parse, write, parse gives the same URI; writing is canonical.
		full := u.StringWithPIN()
		u2, err := token.ParseURI(full)
		if err != nil {
			t.Fatalf("ParseURI(%q) = %v, from ParseURI(%q)", full, err, s)
		}
		if !reflect.DeepEqual(u, u2) {
			t.Fatalf("ParseURI(%q) = %#v, want the URI of %q", full, u2, s)
		}
		if again := u2.StringWithPIN(); again != full {
			t.Fatalf("StringWithPIN changed from %q to %q", full, again)
		}

		// Without the PIN: the same URI less pin-value.
		short := u.String()
		if u.PINValue == nil && short != full {
			t.Fatalf("String() = %q, StringWithPIN() = %q without a PIN", short, full)
		}
		u3, err := token.ParseURI(short)
		if err != nil {
			t.Fatalf("ParseURI(%q) = %v", short, err)
		}
		if u3.PINValue != nil {
			t.Fatalf("String() = %q keeps the PIN", short)
		}
		if u.PINValue != nil {
			// Put the PIN back, through a parse to set the same presence
			// bits.
			u3 = token.MustParseURI(short + sepFor(u3) + "pin-value=" + escapePIN(u.PINValue))
		}
		if !reflect.DeepEqual(u, u3) {
			t.Fatalf("ParseURI(String()) = %#v, want %#v", u3, u)
		}
		_ = u.MatchesToken(ck.TokenInfo{})
		_ = u.MatchesModulePath("/usr/lib/libx.so.1")

		// The template names what MatchesObject matches: an object
		// with the template's values matches, and a URI without a
		// template matches no object.
		tmpl, ok := u.ObjectTemplate()
		if ok != (len(u.VendorPath) == 0) {
			t.Fatalf("ObjectTemplate of %q: ok %v with VendorPath %v", short, ok, u.VendorPath)
		}
		class, label, id := ck.CKO_DATA, "", []byte(nil)
		if c, typed := u.Type.Class(); typed {
			class = c
		}
		for _, a := range tmpl {
			switch a.Type {
			case ck.CKA_LABEL:
				label = string(a.Value)
			case ck.CKA_ID:
				id = a.Value
			}
		}
		if u.MatchesObject(class, label, id) != ok {
			t.Fatalf("MatchesObject of %q on its own template = %v, want %v", short, !ok, ok)
		}
		if ok && (u.Has("object") || u.ID != nil) && u.MatchesObject(class, label+"\x00", append(id, 0)) {
			t.Fatalf("%q matches an object with another label and ID", short)
		}
	})
}

func sepFor(u *token.URI) string {
	if strings.Contains(u.StringWithPIN(), "?") {
		return "&"
	}
	return "?"
}

func escapePIN(pin []byte) string {
	var b strings.Builder
	for _, c := range pin {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
