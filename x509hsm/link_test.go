package x509hsm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// The link fixture puts on token link certificates whose private keys
// have no CKA_ID or another one than the certificate, so that only
// their public keys tell which goes with which:
//
//	l1  RSA certificate (CKA_ID 11), private key without CKA_ID: by modulus
//	l2  RSA certificate (CKA_ID 12), private key with CKA_ID 92: by modulus
//	l3  P-256 certificate (CKA_ID 13), private key without CKA_ID that
//	    shows its CKA_PUBLIC_KEY_INFO: by EC point
//	l4  P-384 certificate (CKA_ID 14), private key with CKA_ID 94 that
//	    shows its CKA_PUBLIC_KEY_INFO: by EC point
//	l5  P-256 certificate (CKA_ID 15), key pair generated on the token
//	    with CKA_ID 95, whose private key shows no public key: the
//	    certificate goes with the public key object by EC point, and
//	    that with the private key by CKA_ID
//	l6  a secp256k1 private key alone that shows its
//	    CKA_PUBLIC_KEY_INFO, visible after login: a synthetic entry
//	    without public key object
//
// Each key is the only one of the token with its public key, and the
// others are decoys: linking by type, or by being the only key without
// an ID, would pick a wrong one.
type linkFixture struct {
	certs map[string]*x509.Certificate // by label, l1 to l5
}

var (
	linkOnce sync.Once
	link     linkFixture
	linkErr  error
)

func linking(t *testing.T, m *pkcs11.Module) *linkFixture {
	t.Helper()
	linkOnce.Do(func() {
		linkErr = errors.New("link fixture failed")
		if t.Run("fixture", func(t *testing.T) { makeLink(t, m) }) {
			linkErr = nil
		}
	})
	require.NoError(t, linkErr)
	return &link
}

// linkLabels are the labels of the link fixture's certificates.
var linkLabels = []string{"l1-rsa", "l2-rsa", "l3-p256", "l4-p384", "l5-p256"}

func makeLink(t *testing.T, m *pkcs11.Module) {
	ca := newCA(t, "link CA")
	link.certs = map[string]*x509.Certificate{}
	s, err := session.Open(m, slotOf(t, m, x509hsm.TokLink), true)
	require.NoError(t, err)
	defer s.Close() // logs the token out: the tests see it as a new process would
	require.NoError(t, s.Login(ck.CKU_USER, userPIN))

	cert := func(label string, pub crypto.PublicKey, id byte) {
		c := ca.issue(t, pub, label)
		link.certs[label] = c
		createCert(t, s, c.Raw, []byte{id}, label)
	}

	ka, kb := rsaKey(t, "a"), rsaKey(t, "b")
	cert("l1-rsa", &ka.PublicKey, 0x11)
	createRSAPrivate(t, s, ka, nil, "l1-key")
	cert("l2-rsa", &kb.PublicKey, 0x12)
	createRSAPrivate(t, s, kb, []byte{0x92}, "l2-key")

	k3, k4 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())
	cert("l3-p256", k3.Public(), 0x13)
	createECPrivate(t, s, k3, nil, "l3-key")
	cert("l4-p384", k4.Public(), 0x14)
	createECPrivate(t, s, k4, []byte{0x94}, "l4-key")

	pub, _, err := s.GenerateEC("P-256", session.KeyID([]byte{0x95}), session.KeyLabel("l5-key"))
	require.NoError(t, err)
	cert("l5-p256", ecPublicOf(t, s, pub), 0x15)

	// l6: the token makes the pair (Go has no secp256k1); its private
	// key is given the public key's SubjectPublicKeyInfo, and the
	// public key object is destroyed.
	pub, priv, err := s.GenerateEC("secp256k1", session.KeyLabel("l6-k1"))
	require.NoError(t, err)
	res, err := s.Attributes(pub.Handle, ck.CKA_EC_PARAMS, ck.CKA_EC_POINT)
	require.NoError(t, err)
	point, err := mustCurve("secp256k1").DecodePoint(res[1].Value)
	require.NoError(t, err)
	spki := secp256k1SPKI(t, point)
	require.NoError(t, s.SetAttributes(priv.Handle, ck.Attribute{Type: ck.CKA_PUBLIC_KEY_INFO, Value: spki}))
	require.NoError(t, s.Destroy(pub.Handle))
}

// createECPrivate creates the EC private key k on the token, showing its
// public key as CKA_PUBLIC_KEY_INFO; without CKA_ID when id is nil.
func createECPrivate(t testing.TB, s *session.Session, k *ecdsa.PrivateKey, id []byte, label string) {
	t.Helper()
	c, ok := ck.CurveByName(k.Curve.Params().Name)
	require.True(t, ok)
	d, err := k.Bytes()
	require.NoError(t, err)
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	require.NoError(t, err)
	tmpl := []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_EC),
		attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_SENSITIVE, true),
		attr(ck.CKA_SIGN, true), attr(ck.CKA_LABEL, label),
		{Type: ck.CKA_EC_PARAMS, Value: c.ECParams()}, {Type: ck.CKA_VALUE, Value: d},
		{Type: ck.CKA_PUBLIC_KEY_INFO, Value: spki},
	}
	if id != nil {
		tmpl = append(tmpl, ck.Attribute{Type: ck.CKA_ID, Value: id})
	}
	_, err = s.Create(tmpl)
	require.NoError(t, err)
}

// secp256k1SPKI returns the SubjectPublicKeyInfo of a secp256k1 point
// (RFC 5480), which crypto/x509 cannot make.
func secp256k1SPKI(t testing.TB, point []byte) []byte {
	t.Helper()
	params := mustCurve("secp256k1").ECParams()
	alg := append([]byte{0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}, params...) // id-ecPublicKey, curve
	bits := append([]byte{0x03, byte(len(point) + 1), 0}, point...)
	body := append([]byte{0x30, byte(len(alg))}, alg...)
	body = append(body, bits...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// checkLinked signs with e's private key and checks the signature with
// the public key of the certificate e was linked to.
func checkLinked(t *testing.T, e *x509hsm.Entry, cert *x509.Certificate) {
	t.Helper()
	assert.Equal(t, cert.Raw, e.Certificate().Raw)
	d := digest(crypto.SHA256, message)
	sig, err := e.Signer().Sign(nil, d, crypto.SHA256)
	require.NoError(t, err, e.Label())
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig), e.Label())
	case *ecdsa.PublicKey:
		assert.True(t, ecdsa.VerifyASN1(pub, d, sig), e.Label())
	}
}

// TestLinkByValue checks that certificates find their private keys by
// public key when the CKA_IDs are missing or differ: at discovery with a
// PIN, and at first use when the PIN comes later.
func TestLinkByValue(t *testing.T) {
	m := softhsm(t)
	f := linking(t, m)
	tok := token.Label(x509hsm.TokLink)

	t.Run("at discovery", func(t *testing.T) {
		s, err := openStore(t, m, x509hsm.WithTokens(tok), x509hsm.WithPIN(tok, userPIN))
		require.NoError(t, err)
		assert.Equal(t, append(append([]string(nil), linkLabels...), "l6-k1"), labels(s.Entries()),
			"every key linked to its certificate: no synthetic entry but l6's")
		for i, label := range linkLabels {
			e := entry(t, s, label)
			assert.True(t, e.HasPrivateKey(), label)
			assert.Equal(t, []string{"11", "12", "13", "14", "15"}[i], e.ID(), "the certificate's CKA_ID")
			checkLinked(t, e, f.certs[label])
		}
	})

	t.Run("at first use", func(t *testing.T) {
		s, err := openStore(t, m, x509hsm.WithTokens(tok))
		require.NoError(t, err)
		assert.Equal(t, linkLabels, labels(s.Entries()))
		first := entry(t, s, linkLabels[0])
		assert.False(t, first.HasPrivateKey())
		require.NoError(t, first.SetPIN(userPIN))
		for _, label := range linkLabels {
			checkLinked(t, entry(t, s, label), f.certs[label])
		}
	})
}
