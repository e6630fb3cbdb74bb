package session_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// uriObjects makes one object of each type a URI can name, all labelled
// label: an EC key pair and a certificate with CKA_ID keyID, an AES key
// with CKA_ID secretID, and a data object. They are destroyed when the
// test ends.
func uriObjects(t *testing.T, s *session.Session, label string, keyID, secretID []byte) map[token.ObjectType]session.Object {
	t.Helper()
	pub, priv, err := s.GenerateEC("P-256", session.KeyLabel(label), session.KeyID(keyID))
	require.NoError(t, err)
	secret, err := s.GenerateAES(128, session.KeyLabel(label), session.KeyID(secretID))
	require.NoError(t, err)

	gk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7512),
		Subject:      pkix.Name{CommonName: label},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &gk.PublicKey, gk)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	cert, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_CERTIFICATE), attr(ck.CKA_CERTIFICATE_TYPE, ck.CKC_X_509),
		attr(ck.CKA_TOKEN, true), attr(ck.CKA_LABEL, label), attr(ck.CKA_ID, keyID),
		attr(ck.CKA_SUBJECT, c.RawSubject), attr(ck.CKA_ISSUER, c.RawIssuer), attr(ck.CKA_VALUE, der),
	})
	require.NoError(t, err)
	data, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, false),
		attr(ck.CKA_LABEL, label), attr(ck.CKA_APPLICATION, "uri test"), attr(ck.CKA_VALUE, []byte("data")),
	})
	require.NoError(t, err)

	objs := map[token.ObjectType]session.Object{
		token.TypePublic: pub, token.TypePrivate: priv, token.TypeSecretKey: secret,
		token.TypeCert: cert, token.TypeData: data,
	}
	t.Cleanup(func() {
		for _, o := range objs {
			s.Destroy(o.Handle)
		}
	})
	return objs
}

// esc percent-encodes a value for a URI built by hand.
func esc(v string) string { return strings.ReplaceAll(url.PathEscape(v), ";", "%3B") }

// hexID writes an ID as a URI's id value.
func hexID(id []byte) string {
	var b strings.Builder
	for _, c := range id {
		b.WriteString("%")
		b.WriteString(strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
	}
	return b.String()
}

func TestFindURI(t *testing.T) {
	m, s := alpha(t)
	slot, tok := slotOf(t, m, tokAlpha)
	label := uniqueLabel(t)
	keyID, secretID := []byte("key-"+label), []byte("secret-"+label)
	objs := uriObjects(t, s, label, keyID, secretID)

	info, err := m.GetInfo()
	require.NoError(t, err)
	ti, err := m.GetTokenInfo(slot)
	require.NoError(t, err)
	si, err := m.GetSlotInfo(slot)
	require.NoError(t, err)
	obj := "object=" + esc(label)
	all := []token.ObjectType{token.TypePublic, token.TypePrivate, token.TypeSecretKey, token.TypeCert, token.TypeData}
	keyAndCert := []token.ObjectType{token.TypePublic, token.TypePrivate, token.TypeCert}
	module := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(hsm.Lib), "lib"), ".so")

	for _, tc := range []struct {
		uri  string
		want []token.ObjectType
	}{
		{"pkcs11:" + obj, all},
		{"pkcs11:" + obj + ";type=private", []token.ObjectType{token.TypePrivate}},
		{"pkcs11:" + obj + ";type=public", []token.ObjectType{token.TypePublic}},
		{"pkcs11:" + obj + ";type=secret-key", []token.ObjectType{token.TypeSecretKey}},
		{"pkcs11:" + obj + ";type=cert", []token.ObjectType{token.TypeCert}},
		{"pkcs11:" + obj + ";type=data", []token.ObjectType{token.TypeData}},
		{"pkcs11:id=" + hexID(keyID), keyAndCert},
		{"pkcs11:id=" + hexID(keyID) + ";type=cert", []token.ObjectType{token.TypeCert}},
		{"pkcs11:id=" + hexID(secretID), []token.ObjectType{token.TypeSecretKey}},
		{"pkcs11:id=" + hexID(secretID) + ";type=private", nil},
		{"pkcs11:id=" + hexID(keyID[:3]), nil}, // a prefix of an ID is another ID
		{"pkcs11:" + obj + "-nope", nil},
		{"pkcs11:" + obj + "%20", nil}, // labels are not padded: a blank counts
		// The token, slot and library attributes must describe this
		// token, module and file.
		{"pkcs11:token=" + esc(ti.Label) + ";manufacturer=" + esc(ti.ManufacturerID) + ";serial=" + esc(ti.SerialNumber) +
			";model=" + esc(ti.Model) + ";" + obj + ";type=private", []token.ObjectType{token.TypePrivate}},
		{"pkcs11:token=" + tokBeta + ";" + obj, nil},
		{"pkcs11:serial=0;" + obj, nil},
		{"pkcs11:slot-id=" + strconv.FormatUint(uint64(slot), 10) + ";slot-description=" + esc(si.SlotDescription) + ";" + obj + ";type=cert",
			[]token.ObjectType{token.TypeCert}},
		{"pkcs11:slot-id=" + strconv.FormatUint(uint64(slot)+1, 10) + ";" + obj, nil},
		{"pkcs11:library-manufacturer=" + esc(info.ManufacturerID) + ";library-version=" +
			strconv.Itoa(int(info.LibraryVersion.Major)) + "." + strconv.Itoa(int(info.LibraryVersion.Minor)) + ";" + obj + ";type=data",
			[]token.ObjectType{token.TypeData}},
		{"pkcs11:library-manufacturer=Another;" + obj, nil},
		{"pkcs11:" + obj + ";type=public?module-name=" + module, []token.ObjectType{token.TypePublic}},
		{"pkcs11:" + obj + ";type=public?module-path=" + esc(hsm.Lib), []token.ObjectType{token.TypePublic}},
		{"pkcs11:" + obj + "?module-name=another", nil},
		{"pkcs11:" + obj + "?module-path=/usr/lib/another.so", nil},
		// The query's PIN and vendor attributes do not change the search.
		{"pkcs11:" + obj + ";type=secret-key?pin-value=0000&x-q=1", []token.ObjectType{token.TypeSecretKey}},
		// An unknown path attribute names nothing, vendor or not.
		{"pkcs11:" + obj + ";x-p=1", nil},
		{"pkcs11:" + obj + ";vendor-aaa=value-a", nil},
	} {
		u, err := token.ParseURI(tc.uri)
		require.NoError(t, err, tc.uri)
		found, err := s.FindURI(u)
		require.NoError(t, err, tc.uri)
		var want []ck.ObjectHandle
		for _, typ := range tc.want {
			want = append(want, objs[typ].Handle)
		}
		var got []ck.ObjectHandle
		for _, o := range found {
			got = append(got, o.Handle)
		}
		assert.ElementsMatch(t, want, got, tc.uri)

		// MatchesObject says the same of the objects made here, as
		// read from the token, once the token matches.
		if len(tc.want) > 0 {
			for typ, o := range objs {
				id := o.ID
				if typ == token.TypeData {
					id = nil
				}
				assert.Equal(t, containsType(tc.want, typ), u.MatchesObject(o.Class, o.Label, id), "%s %s", tc.uri, typ)
			}
		}

		one, err := s.FindOneURI(u)
		switch len(tc.want) {
		case 0:
			require.ErrorIs(t, err, session.ErrNotFound, tc.uri)
			assert.NotContains(t, err.Error(), "0000", "no PIN in the error")
		case 1:
			require.NoError(t, err, tc.uri)
			assert.Equal(t, objs[tc.want[0]].Handle, one.Handle)
			assert.Equal(t, objs[tc.want[0]], one)
		default:
			require.ErrorIs(t, err, session.ErrAmbiguous, tc.uri)
		}
	}

	// A URI from an Object names it, and Pool.FindOneURI finds it.
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(tok.PIN))
	require.NoError(t, err)
	defer p.Close()
	for typ, o := range objs {
		u, err := s.URI(o)
		require.NoError(t, err)
		assert.Equal(t, typ, u.Type)
		assert.Equal(t, ti.Label, u.Token)
		back, err := token.ParseURI(u.String())
		require.NoError(t, err)
		if typ == token.TypeData {
			// No CKA_ID: the label and type name it.
			assert.Nil(t, back.ID)
		}
		got, err := p.FindOneURI(ctx, back)
		require.NoError(t, err, "%s", back)
		assert.Equal(t, o, got, "%s", back)
	}
	found, err := p.FindURI(ctx, token.MustParseURI("pkcs11:token="+tokAlpha+";"+obj))
	require.NoError(t, err)
	assert.Len(t, found, len(all))

	// The same URIs on the other token of the module name nothing.
	beta := userSession(t, m, tokBeta)
	found, err = beta.FindURI(token.MustParseURI("pkcs11:token=" + tokAlpha + ";" + obj))
	require.NoError(t, err)
	assert.Empty(t, found)
	_, err = beta.FindOneURI(token.MustParseURI("pkcs11:token=" + tokAlpha + ";" + obj + ";type=private"))
	require.ErrorIs(t, err, session.ErrNotFound)
	assert.ErrorContains(t, err, "token attributes do not match")

	// Private objects are seen only once logged in: FindURI does not
	// log in, whatever the URI's query says.
	public, err := session.Open(m, slot, false)
	require.NoError(t, err)
	defer public.Close()
	require.NoError(t, public.Logout())
	// Log in again before the objects are destroyed (t.Cleanup runs
	// this first).
	t.Cleanup(func() { assert.NoError(t, s.Login(ck.CKU_USER, tok.PIN)) })
	found, err = public.FindURI(token.MustParseURI("pkcs11:" + obj + "?pin-value=" + string(tok.PIN)))
	require.NoError(t, err)
	var classes []ck.ObjectClass
	for _, o := range found {
		classes = append(classes, o.Class)
	}
	assert.ElementsMatch(t, []ck.ObjectClass{ck.CKO_PUBLIC_KEY, ck.CKO_CERTIFICATE, ck.CKO_DATA}, classes)

	// No panic on a nil URI.
	_, err = s.FindURI(nil)
	assert.Error(t, err)
	_, err = p.FindOneURI(ctx, nil)
	assert.Error(t, err)
}

func containsType(ts []token.ObjectType, t token.ObjectType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
