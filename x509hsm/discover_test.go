package x509hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// The discovery fixture puts a mix of objects on tokens disc-a and
// disc-b, made with the session package directly:
//
//	disc-a  a1  RSA key pair and its certificate, all with CKA_ID a1
//	        a2  P-256 key pair (CKA_ID a2) and its certificate without a
//	            CKA_ID: linked by public key value
//	        a3  an Ed25519 public key alone: synthetic, no private key
//	        a4  P-384 key pair without certificate: synthetic
//	        a5  a certificate object whose CKA_VALUE is garbage: skipped
//	        a6  the CA's certificate, without key
//	disc-b  b1  RSA private key (no public key object) and its
//	            certificate, padded with zero bytes
//	        b2  RSA private key alone: synthetic from its modulus,
//	            visible only after login
//	        b4  secp256k1 key pair: synthetic, ECPublicKey
type discFixture struct {
	ca         *testCA
	a1, a2, b1 *x509.Certificate
	a3         ed25519.PublicKey
	b2         *rsa.PublicKey
}

var (
	discOnce sync.Once
	disc     discFixture
	discErr  error
)

func discovery(t *testing.T, m *pkcs11.Module) *discFixture {
	t.Helper()
	discOnce.Do(func() {
		// A panic or FailNow inside Do would leave disc half made for
		// the next test: record failures instead.
		discErr = errors.New("discovery fixture failed")
		ok := t.Run("fixture", func(t *testing.T) { makeDiscovery(t, m) })
		if ok {
			discErr = nil
		}
	})
	require.NoError(t, discErr)
	return &disc
}

func makeDiscovery(t *testing.T, m *pkcs11.Module) {
	d := &disc
	d.ca = newCA(t, "discovery CA")

	// The sessions are closed at the end, so that the tokens log out:
	// the tests see them as a fresh process would.
	open := func(label string) *session.Session {
		s, err := session.Open(m, slotOf(t, m, label), true)
		require.NoError(t, err)
		require.NoError(t, s.Login(ck.CKU_USER, userPIN))
		return s
	}
	a := open(x509hsm.TokDiscA)
	defer a.Close()
	b := open(x509hsm.TokDiscB)
	defer b.Close()

	// a1: RSA pair and certificate, linked by ID.
	ka := rsaKey(t, "a")
	d.a1 = d.ca.issue(t, &ka.PublicKey, "a1 rsa", func(c *x509.Certificate) {
		c.SubjectKeyId = []byte{0xa1, 0xa1}
		c.KeyUsage |= x509.KeyUsageKeyEncipherment
	})
	createRSAPrivate(t, a, ka, []byte{0xa1}, "a1-rsa")
	createRSAPublic(t, a, &ka.PublicKey, []byte{0xa1}, "a1-rsa")
	createCert(t, a, d.a1.Raw, []byte{0xa1}, "a1-rsa")

	// a2: P-256 pair generated on the token, certificate without ID.
	pub, _, err := a.GenerateEC("P-256", session.KeyID([]byte{0xa2}), session.KeyLabel("a2-ec"))
	require.NoError(t, err)
	d.a2 = d.ca.issue(t, ecPublicOf(t, a, pub), "a2 ec")
	createCert(t, a, d.a2.Raw, nil, "a2-ec-cert")

	// a3: an orphan Ed25519 public key.
	d.a3, _, err = ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = a.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_EC_EDWARDS),
		attr(ck.CKA_TOKEN, true), attr(ck.CKA_LABEL, "a3-orphan"), {Type: ck.CKA_ID, Value: []byte{0xa3}},
		{Type: ck.CKA_EC_PARAMS, Value: mustCurve("Ed25519").ECParams()},
		{Type: ck.CKA_EC_POINT, Value: ck.EncodeECPoint(d.a3)},
	})
	require.NoError(t, err)

	// a4: P-384 pair without certificate.
	_, _, err = a.GenerateEC("P-384", session.KeyID([]byte{0xa4}), session.KeyLabel("a4-nocert"))
	require.NoError(t, err)

	// a5: a certificate object holding garbage.
	createCert(t, a, []byte("this is not a certificate"), []byte{0xa5}, "a5-bad")

	// a6: the CA alone.
	createCert(t, a, d.ca.cert.Raw, d.ca.cert.SubjectKeyId, "a6-ca")

	// b1: RSA private key and a zero-padded certificate.
	kb := rsaKey(t, "b")
	d.b1 = d.ca.issue(t, &kb.PublicKey, "b1 padded")
	createRSAPrivate(t, b, kb, []byte{0xb1}, "b1-key")
	createCert(t, b, append(append([]byte(nil), d.b1.Raw...), 0, 0, 0, 0, 0, 0, 0), []byte{0xb1}, "b1-padded")

	// b2: RSA private key alone.
	kc := rsaKey(t, "c")
	d.b2 = &kc.PublicKey
	createRSAPrivate(t, b, kc, []byte{0xb2}, "b2-private-only")

	// b4: secp256k1 pair.
	_, _, err = b.GenerateEC("secp256k1", session.KeyID([]byte{0xb4}), session.KeyLabel("b4-k1"))
	require.NoError(t, err)
}

func mustCurve(name string) ck.Curve {
	c, ok := ck.CurveByName(name)
	if !ok {
		panic(name)
	}
	return c
}

func createCert(t testing.TB, s *session.Session, der, id []byte, label string) {
	t.Helper()
	subject := []byte{0x30, 0} // an empty Name, for garbage
	if c, err := x509.ParseCertificate(bytes.TrimRight(der, "\x00")); err == nil {
		subject = c.RawSubject
	}
	tmpl := []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_CERTIFICATE), attr(ck.CKA_CERTIFICATE_TYPE, ck.CKC_X_509),
		attr(ck.CKA_TOKEN, true), attr(ck.CKA_LABEL, label), {Type: ck.CKA_VALUE, Value: der},
		{Type: ck.CKA_SUBJECT, Value: subject},
	}
	if id != nil {
		tmpl = append(tmpl, ck.Attribute{Type: ck.CKA_ID, Value: id})
	}
	_, err := s.Create(tmpl)
	require.NoError(t, err)
}

func createRSAPrivate(t testing.TB, s *session.Session, k *rsa.PrivateKey, id []byte, label string) {
	t.Helper()
	k.Precompute()
	_, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_RSA),
		attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_SENSITIVE, true),
		attr(ck.CKA_SIGN, true), attr(ck.CKA_DECRYPT, true),
		attr(ck.CKA_LABEL, label), {Type: ck.CKA_ID, Value: id},
		attr(ck.CKA_MODULUS, k.N), attr(ck.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E))),
		attr(ck.CKA_PRIVATE_EXPONENT, k.D), attr(ck.CKA_PRIME_1, k.Primes[0]), attr(ck.CKA_PRIME_2, k.Primes[1]),
		attr(ck.CKA_EXPONENT_1, k.Precomputed.Dp), attr(ck.CKA_EXPONENT_2, k.Precomputed.Dq),
		attr(ck.CKA_COEFFICIENT, k.Precomputed.Qinv),
	})
	require.NoError(t, err)
}

func createRSAPublic(t testing.TB, s *session.Session, k *rsa.PublicKey, id []byte, label string) {
	t.Helper()
	_, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_RSA),
		attr(ck.CKA_TOKEN, true), attr(ck.CKA_VERIFY, true),
		attr(ck.CKA_LABEL, label), {Type: ck.CKA_ID, Value: id},
		attr(ck.CKA_MODULUS, k.N), attr(ck.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E))),
	})
	require.NoError(t, err)
}

// ecPublicOf reads the public key of an EC public key object on a Go
// curve.
func ecPublicOf(t testing.TB, s *session.Session, pub session.Object) crypto.PublicKey {
	t.Helper()
	res, err := s.Attributes(pub.Handle, ck.CKA_EC_PARAMS, ck.CKA_EC_POINT)
	require.NoError(t, err)
	c, err := ck.DecodeECParams(res[0].Value)
	require.NoError(t, err)
	point, err := c.DecodePoint(res[1].Value)
	require.NoError(t, err)
	curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[c.Name]
	k, err := ecdsaParse(curve, point)
	require.NoError(t, err)
	return k
}

// labels returns the labels of entries, in order.
func labels(es []*x509hsm.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Label())
	}
	return out
}

// byLabel returns the entry labelled label among es.
func byLabel(t testing.TB, es []*x509hsm.Entry, label string) *x509hsm.Entry {
	t.Helper()
	for _, e := range es {
		if e.Label() == label {
			return e
		}
	}
	t.Fatalf("no entry %q among %q", label, labels(es))
	return nil
}

// checkLabels checks the labels of the entries on each discovery
// token, in the order discovery gives them: certificates, then
// synthetic ones, each by label.
func checkLabels(t *testing.T, s *x509hsm.Store, a, b []string) {
	t.Helper()
	assert.Equal(t, a, labels(s.Find(x509hsm.OnToken(token.Label(x509hsm.TokDiscA)))))
	assert.Equal(t, b, labels(s.Find(x509hsm.OnToken(token.Label(x509hsm.TokDiscB)))))
	assert.Len(t, s.Entries(), len(a)+len(b))
}

// discTokens limits a store to the discovery tokens.
var discTokens = []x509hsm.Option{
	x509hsm.WithTokens(token.Label(x509hsm.TokDiscA)),
	x509hsm.WithTokens(token.Label(x509hsm.TokDiscB)),
}

// checkBadCert checks that err reports exactly the garbage certificate.
func checkBadCert(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var de *x509hsm.DiscoveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, x509hsm.TokDiscA, de.Token)
	assert.Contains(t, de.Object, `certificate "a5-bad"`)
	assert.Contains(t, err.Error(), "x509hsm: ")
	assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 1, "%v", err)
}

func TestDiscovery(t *testing.T) {
	m := softhsm(t)
	d := discovery(t, m)

	// Without a PIN first: the tokens are logged out, as for a fresh
	// process.
	t.Run("without PIN", func(t *testing.T) {
		s, err := openStore(t, m, discTokens...)
		checkBadCert(t, err)
		all := s.Entries()
		checkLabels(t, s, []string{"a1-rsa", "a2-ec-cert", "a6-ca", "a3-orphan", "a4-nocert"}, []string{"b1-padded", "b4-k1"})
		for _, e := range all {
			assert.False(t, e.HasPrivateKey(), e.Label())
		}
		for label, x509 := range map[string]bool{"a1-rsa": true, "a2-ec-cert": true, "a6-ca": true,
			"a3-orphan": false, "a4-nocert": false, "b1-padded": true, "b4-k1": false} {
			e := byLabel(t, all, label)
			assert.Equal(t, x509, e.IsX509(), label)
			assert.Equal(t, !x509, x509hsm.IsSynthetic(e.Certificate()), label)
		}
		assert.Equal(t, d.b1.Raw, byLabel(t, all, "b1-padded").Certificate().Raw, "padding trimmed")
		assert.Equal(t, d.a3, byLabel(t, all, "a3-orphan").Public())

		// Signing needs the PIN; SetPIN links the key.
		a1 := byLabel(t, all, "a1-rsa")
		_, err = a1.Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrNoPIN)
		require.NoError(t, a1.SetPIN(userPIN))
		assert.True(t, a1.HasPrivateKey())
		sig, err := a1.Sign(message)
		require.NoError(t, err)
		require.NoError(t, a1.Verify(message, sig))

		// The PIN serves the token's other entries: a2's key is found at
		// its first use, by public key value (its certificate has no ID).
		a2 := byLabel(t, all, "a2-ec-cert")
		assert.Equal(t, "a2", a2.ID(), "the ID of the key linked by value")
		sig, err = a2.Sign(message)
		require.NoError(t, err)
		require.NoError(t, a2.Verify(message, sig))
		assert.True(t, a2.HasPrivateKey())

		// The CA and the orphan have none.
		_, err = byLabel(t, all, "a3-orphan").Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrNoPrivateKey)
		_, err = byLabel(t, all, "a6-ca").Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrNoPrivateKey)
		assert.Equal(t, 1, strings.Count(err.Error(), "x509hsm: "), "the package prefix, said once: %v", err)

		// disc-b was never logged in.
		_, err = byLabel(t, all, "b1-padded").Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrNoPIN)
	})

	t.Run("with PIN", func(t *testing.T) {
		s, err := openStore(t, m, append(discTokens,
			x509hsm.WithPIN(token.Label(x509hsm.TokDiscA), userPIN),
			x509hsm.WithPINFunc(func(tok *token.Token) ([]byte, error) {
				if tok.Info.Label == x509hsm.TokDiscB {
					return []byte("1234"), nil
				}
				return nil, nil
			}))...)
		checkBadCert(t, err)
		all := s.Entries()
		checkLabels(t, s, []string{"a1-rsa", "a2-ec-cert", "a6-ca", "a3-orphan", "a4-nocert"}, []string{"b1-padded", "b2-private-only", "b4-k1"})
		for label, want := range map[string]bool{"a1-rsa": true, "a2-ec-cert": true, "a6-ca": false,
			"a3-orphan": false, "a4-nocert": true, "b1-padded": true, "b4-k1": true, "b2-private-only": true} {
			assert.Equal(t, want, byLabel(t, all, label).HasPrivateKey(), label)
		}
		b2 := byLabel(t, all, "b2-private-only")
		assert.False(t, b2.IsX509())
		assert.Equal(t, "synthetic: b2-private-only", b2.Certificate().Subject.CommonName)
		assert.True(t, d.b2.Equal(b2.Public()))
		k1 := byLabel(t, all, "b4-k1")
		require.IsType(t, &x509hsm.ECPublicKey{}, k1.Public())
		assert.Equal(t, "secp256k1", k1.Public().(*x509hsm.ECPublicKey).Curve.Name)
		assert.Equal(t, "ES256K", k1.JWSAlgorithm())

		// Every entry with a key signs, and the signature verifies with
		// the entry's certificate.
		for _, e := range all {
			if !e.HasPrivateKey() {
				continue
			}
			sig, err := e.Sign(message)
			require.NoError(t, err, e.Label())
			require.NoError(t, e.Verify(message, sig), e.Label())
		}
	})

	t.Run("in the background", func(t *testing.T) {
		// A PIN function that blocks holds discovery back, so that the
		// store can be seen while it runs.
		release := make(chan struct{})
		s, err := x509hsm.Open(ctx, m, append(discTokens, x509hsm.WithPINFunc(func(*token.Token) ([]byte, error) {
			<-release
			return nil, nil
		}))...)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })

		select {
		case <-s.Done():
			t.Fatal("discovery ended while held back")
		default:
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err = s.Wait(short)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Empty(t, s.Entries())

		close(release)
		select {
		case <-s.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("discovery did not end")
		}
		checkBadCert(t, s.Wait(ctx))
		assert.Len(t, s.Entries(), 7)
		checkBadCert(t, s.Err())
	})

	t.Run("closed while running", func(t *testing.T) {
		release := make(chan struct{})
		s, err := x509hsm.Open(ctx, m, append(discTokens, x509hsm.WithPINFunc(func(*token.Token) ([]byte, error) {
			<-release
			return nil, nil
		}))...)
		require.NoError(t, err)
		go func() {
			time.Sleep(20 * time.Millisecond)
			close(release)
		}()
		require.NoError(t, s.Close())
		assert.Empty(t, s.Entries())
		_, err = s.Import(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokDiscA), Certificate: d.a1})
		require.ErrorIs(t, err, x509hsm.ErrClosed)
	})
}

// TestDiscoveryErrors checks what a store reports for tokens it cannot
// use: a wrong PIN in the options and a PIN function that fails.
func TestDiscoveryErrors(t *testing.T) {
	m := softhsm(t)
	discovery(t, m)
	s, err := openStore(t, m, x509hsm.WithTokens(token.Label(x509hsm.TokDiscB)),
		x509hsm.WithPINFunc(func(*token.Token) ([]byte, error) { return nil, errors.New("no PIN here") }))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `token "disc-b"`)
	assert.Contains(t, err.Error(), "no PIN here")
	// The public objects are there all the same.
	assert.Len(t, s.Entries(), 2)

	_, err = x509hsm.Open(ctx, nil)
	require.Error(t, err)
	_, err = x509hsm.Open(ctx, m, x509hsm.WithPoolSize(-1))
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "x509hsm: "))
}

// TestSynthetic checks the synthetic certificates of keys this package
// cannot otherwise describe: labels that are not UTF-8, keys without
// label or ID, and that the same key always gets the same certificate.
func TestSynthetic(t *testing.T) {
	m := softhsm(t)
	raw := userSession(t, m, x509hsm.TokWork)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	id1, id2 := []byte(unique("5a")), []byte(unique("5a"))
	for _, c := range []struct {
		label string
		id    []byte
	}{
		{"bad \xff label", id1},
		{"", id2},
	} {
		tmpl := []ck.Attribute{
			attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_EC_EDWARDS),
			attr(ck.CKA_TOKEN, true), {Type: ck.CKA_LABEL, Value: []byte(c.label)}, {Type: ck.CKA_ID, Value: c.id},
			{Type: ck.CKA_EC_PARAMS, Value: mustCurve("Ed25519").ECParams()},
			{Type: ck.CKA_EC_POINT, Value: ck.EncodeECPoint(pub)},
		}
		_, err := raw.Create(tmpl)
		require.NoError(t, err)
	}
	s1 := workStore(t, m)
	s2 := workStore(t, m)
	for _, c := range []struct{ id, cn string }{
		{hex.EncodeToString(id1), "synthetic: bad \uFFFD label"},
		{hex.EncodeToString(id2), "synthetic: " + hex.EncodeToString(id2)},
	} {
		e1, err := s1.FindOne(x509hsm.ByID(c.id))
		require.NoError(t, err)
		e2, err := s2.FindOne(x509hsm.ByID(c.id))
		require.NoError(t, err)
		cert := e1.Certificate()
		assert.Equal(t, c.cn, cert.Subject.CommonName)
		assert.Equal(t, []string{x509hsm.SyntheticOU}, cert.Subject.OrganizationalUnit)
		assert.Equal(t, cert.Raw, e2.Certificate().Raw, "the same key, the same certificate")
		assert.True(t, x509hsm.IsSynthetic(cert))
		assert.True(t, pub.Equal(cert.PublicKey))
	}
	assert.False(t, x509hsm.IsSynthetic(newCA(t, "real").cert))
	assert.False(t, x509hsm.IsSynthetic(nil))
}

// TestAmbiguousKeys puts two EC key pairs with the same CKA_ID on a
// token, and a certificate for one of them with that ID: the token does
// not show the public key of an EC private key, so nothing tells which
// private key is the certificate's. The store must not guess: it links
// neither, reports it, and refuses to sign.
func TestAmbiguousKeys(t *testing.T) {
	m := softhsm(t)
	id := []byte(unique("twin"))
	func() {
		s := userSession(t, m, x509hsm.TokTwins)
		pub1, _, err := s.GenerateEC("P-256", session.KeyID(id), session.KeyLabel("twin-1"))
		require.NoError(t, err)
		_, _, err = s.GenerateEC("P-256", session.KeyID(id), session.KeyLabel("twin-2"))
		require.NoError(t, err)
		cert := newCA(t, "twins CA").issue(t, ecPublicOf(t, s, pub1), "twin 1")
		createCert(t, s, cert.Raw, id, "twin-1")
	}()

	s, err := openStore(t, m, x509hsm.WithTokens(token.Label(x509hsm.TokTwins)),
		x509hsm.WithPIN(token.Label(x509hsm.TokTwins), userPIN))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("2 private keys have CKA_ID %x", id))
	entries := s.Find(x509hsm.ByID(hex.EncodeToString(id)))
	require.Len(t, entries, 2, "the certificate, and the second public key")
	for _, e := range entries {
		assert.False(t, e.HasPrivateKey(), e.Label())
		_, err := e.Sign(message)
		require.Error(t, err, e.Label())
		assert.Contains(t, err.Error(), "2 private keys have CKA_ID")
	}
}
