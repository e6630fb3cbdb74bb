package x509hsm_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// sha256DigestInfo is the DER DigestInfo of SHA-256 without the digest
// (RFC 8017, 9.2, note 1), written out here so that the test does not
// share the package's table.
var sha256DigestInfo, _ = hex.DecodeString("3031300d060960864801650304020105000420")

// TestVerifyOnToken signs with Go keys and verifies on the token, with
// the public key objects that Import made for them, through a session
// pool that never logs in: the other direction of the signing tests,
// which proves that the public keys Import stores are the keys', and
// that the token takes Go's signatures in every form this package
// produces (PKCS #1 v1.5, PSS, ECDSA r||s, Ed25519).
func TestVerifyOnToken(t *testing.T) {
	m := softhsm(t)
	s := workStore(t, m)
	ca := newCA(t, "verify CA")
	pool, err := session.NewPool(ctx, m, slotOf(t, m, x509hsm.TokWork))
	require.NoError(t, err)
	t.Cleanup(func() { pool.Close() })

	// importKey imports key with a certificate and returns its public
	// key object, as a pool that never logged in finds it.
	importKey := func(t *testing.T, key crypto.Signer) session.Object {
		id := []byte(unique("verify"))
		_, err := s.Import(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokWork),
			Certificate: ca.issue(t, key.Public(), "verify"), Key: key, ID: id, Label: string(id)})
		require.NoError(t, err)
		pub, err := pool.FindOne(ctx, []ck.Attribute{attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), {Type: ck.CKA_ID, Value: id}})
		require.NoError(t, err)
		return pub
	}
	// check verifies sig over data on the token, then a tampered sig and
	// other data, which must be refused as invalid.
	check := func(t *testing.T, pub session.Object, mech ck.Mechanism, data, sig []byte) {
		t.Helper()
		require.NoError(t, pool.Verify(ctx, pub, mech, data, sig))
		bad := bytes.Clone(sig)
		bad[len(bad)/2] ^= 0x01
		require.ErrorIs(t, pool.Verify(ctx, pub, mech, data, bad), ck.CKR_SIGNATURE_INVALID)
		other := bytes.Clone(data)
		other[0] ^= 0x01
		require.ErrorIs(t, pool.Verify(ctx, pub, mech, other, sig), ck.CKR_SIGNATURE_INVALID)
	}
	sha256 := digest(crypto.SHA256, message)
	sha384 := digest(crypto.SHA384, message)

	t.Run("RSA", func(t *testing.T) {
		key := rsaKey(t, "d")
		pub := importKey(t, key)

		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sha256)
		require.NoError(t, err)
		t.Run("PKCS1v15", func(t *testing.T) {
			check(t, pub, session.RSAPKCS1v15(0), append(bytes.Clone(sha256DigestInfo), sha256...), sig)
		})
		t.Run("PKCS1v15 hashed on the token", func(t *testing.T) {
			check(t, pub, session.RSAPKCS1v15(crypto.SHA256), message, sig)
		})

		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, sha256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		require.NoError(t, err)
		t.Run("PSS", func(t *testing.T) {
			check(t, pub, session.RSAPSSPrehashed(crypto.SHA256, 32), sha256, sig)
		})
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA384, sha384, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		require.NoError(t, err)
		t.Run("PSS hashed on the token, longest salt", func(t *testing.T) {
			check(t, pub, session.RSAPSS(crypto.SHA384, 256-48-2), message, sig)
		})
	})

	for _, c := range []struct {
		curve elliptic.Curve
		d     []byte
	}{{elliptic.P256(), sha256}, {elliptic.P384(), sha384}} {
		t.Run(c.curve.Params().Name, func(t *testing.T) {
			key := ecKey(t, c.curve)
			pub := importKey(t, key)
			r, ss, err := ecdsa.Sign(rand.Reader, key, c.d)
			require.NoError(t, err)
			// PKCS #11 takes r||s, each as wide as the field.
			n := (c.curve.Params().BitSize + 7) / 8
			sig := make([]byte, 2*n)
			r.FillBytes(sig[:n])
			ss.FillBytes(sig[n:])
			check(t, pub, session.ECDSA(0), c.d, sig)
		})
	}

	t.Run("Ed25519", func(t *testing.T) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		pub := importKey(t, key)
		check(t, pub, session.EdDSA(), message, ed25519.Sign(key, message))
	})
}

// TestVerifyWithoutPIN signs with every JWS algorithm on a store that
// has the PIN, and verifies on a store that never had one: Verify needs
// no login, for ES256K (verified on the token) too, and refuses
// tampered signatures.
func TestVerifyWithoutPIN(t *testing.T) {
	m := softhsm(t)
	signing := signers(t, m)
	algs := []struct{ label, alg string }{
		{"sig-rsa", "RS256"}, {"sig-rsa", "RS512"}, {"sig-rsa", "PS256"}, {"sig-rsa", "PS384"},
		{"sig-p256", "ES256"}, {"sig-p384", "ES384"}, {"sig-p521", "ES512"},
		{"sig-k1", "ES256K"}, {"sig-ed25519", "EdDSA"},
	}
	sigs := make([][]byte, len(algs))
	for i, a := range algs {
		e := entry(t, signing, a.label)
		require.NoError(t, e.SetJWSAlgorithm(a.alg))
		var err error
		sigs[i], err = e.Sign(message)
		require.NoError(t, err, a.alg)
	}

	tm, log := tracedSoftHSM(t)
	s, err := openStore(t, tm, x509hsm.WithTokens(token.Label(x509hsm.TokWork)))
	require.NoError(t, err)
	log.reset()
	for i, a := range algs {
		e := entry(t, s, a.label)
		assert.False(t, e.HasPrivateKey())
		require.NoError(t, e.SetJWSAlgorithm(a.alg))
		require.NoError(t, e.Verify(message, sigs[i]), a.alg)
		bad := bytes.Clone(sigs[i])
		bad[len(bad)/2] ^= 0x01
		require.ErrorIs(t, e.Verify(message, bad), x509hsm.ErrVerification, a.alg)
		require.ErrorIs(t, e.Verify(message[1:], sigs[i]), x509hsm.ErrVerification, a.alg)
	}
	assert.Zero(t, log.count("C_Login"), "%v", log.calls())
	// ES256K verified with the entry's public key object: nothing made.
	assert.Zero(t, log.count("C_CreateObject"))

	t.Run("ES256K after its public key object is gone", func(t *testing.T) {
		// A key pair of its own, whose public key object is destroyed
		// behind the store's back after discovery.
		raw := userSession(t, m, x509hsm.TokWork)
		label := unique("k1-gone")
		pub, _, err := raw.GenerateEC("secp256k1", session.KeyLabel(label), session.KeyID([]byte(label)))
		require.NoError(t, err)
		sig, err := entry(t, workStore(t, m), label).Sign(message)
		require.NoError(t, err)

		s, err := openStore(t, tm, x509hsm.WithTokens(token.Label(x509hsm.TokWork)))
		require.NoError(t, err)
		e := entry(t, s, label)
		require.NoError(t, raw.Destroy(pub.Handle))
		before := countObjects(t, raw)

		log.reset()
		require.NoError(t, e.Verify(message, sig))
		bad := bytes.Clone(sig)
		bad[5] ^= 0x01
		require.ErrorIs(t, e.Verify(message, bad), x509hsm.ErrVerification)
		assert.Zero(t, log.count("C_Login"), "%v", log.calls())
		assert.Equal(t, 2, log.count("C_CreateObject"), "a session object of the certificate's key for each verification")
		assert.Equal(t, 2, log.count("C_DestroyObject"), "and destroyed after it")
		assert.Equal(t, before, countObjects(t, raw), "nothing left behind")
	})
}

// TestVerifyFromCertificate verifies ES256K for an entry that never had
// a public key object: a secp256k1 private key that shows its public
// key (link fixture l6). The token verifies with a session object made
// from the certificate's key, destroyed after.
func TestVerifyFromCertificate(t *testing.T) {
	m := softhsm(t)
	linking(t, m)
	tm, log := tracedSoftHSM(t)
	tok := token.Label(x509hsm.TokLink)
	s, err := openStore(t, tm, x509hsm.WithTokens(tok), x509hsm.WithPIN(tok, userPIN))
	require.NoError(t, err)
	e := entry(t, s, "l6-k1")
	require.False(t, e.IsX509())
	require.IsType(t, &x509hsm.ECPublicKey{}, e.Public())
	assert.Equal(t, "ES256K", e.JWSAlgorithm())
	raw := userSession(t, m, x509hsm.TokLink)
	pubs, err := raw.Find([]ck.Attribute{attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), attr(ck.CKA_LABEL, "l6-k1")})
	require.NoError(t, err)
	require.Empty(t, pubs, "l6 has no public key object")
	before := countObjects(t, raw)

	sig, err := e.Sign(message)
	require.NoError(t, err)
	log.reset()
	require.NoError(t, e.Verify(message, sig))
	bad := bytes.Clone(sig)
	bad[40] ^= 0x01
	require.ErrorIs(t, e.Verify(message, bad), x509hsm.ErrVerification)
	require.ErrorIs(t, e.Verify(message, sig[:63]), x509hsm.ErrVerification)
	assert.Equal(t, 2, log.count("C_CreateObject"), "%v", log.calls())
	assert.Equal(t, 2, log.count("C_DestroyObject"))
	assert.Equal(t, before, countObjects(t, raw), "nothing left behind")
}
