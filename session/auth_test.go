package session_test

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// TestAlwaysAuthenticate signs and decrypts on SoftHSM with keys that
// want the PIN for each operation (CKA_ALWAYS_AUTHENTICATE): through a
// Session with SetContextPIN and through a Pool with its PIN, each
// signature checked by Go, each operation with one C_Login of
// CKU_CONTEXT_SPECIFIC. A missing or wrong PIN is reported, not
// retried, and leaves the session usable.
func TestAlwaysAuthenticate(t *testing.T) {
	m, log := tracedSoftHSM(t)
	pin := []byte("6666")
	slot := recoveryToken(t, m, "always authenticate", pin)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(pin), session.ReadWrite())
	require.NoError(t, err)
	defer p.Close()

	always := session.KeyAttributes(attr(ck.CKA_ALWAYS_AUTHENTICATE, true))
	var ecPub, ecPriv, rsaPub, rsaPriv session.Object
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		var err error
		ecPub, ecPriv, err = s.GenerateEC("P-256", session.KeyLabel("ec always"), always)
		if err == nil {
			rsaPub, rsaPriv, err = s.GenerateRSA(2048, session.KeyLabel("rsa always"), always)
		}
		return err
	}))
	s, err := session.Open(m, slot, false)
	require.NoError(t, err)
	defer s.Close()
	require.True(t, boolOf(t, s, ecPriv, ck.CKA_ALWAYS_AUTHENTICATE))
	ecKey := ecPublic(t, s, ecPub, elliptic.P256())
	rsaKey := rsaPublic(t, s, rsaPub)
	digest := sha256.Sum256(message)

	t.Run("session without a PIN", func(t *testing.T) {
		log.reset()
		_, err := s.Sign(ecPriv, session.ECDSA(0), digest[:])
		require.ErrorIs(t, err, session.ErrKeyPIN)
		assert.ErrorContains(t, err, "SetContextPIN")
		assert.False(t, session.IsSessionLost(err))
		assert.Zero(t, log.count("C_Login"))
		info, err := s.Info()
		require.NoError(t, err)
		assert.Equal(t, ck.CKS_RO_USER_FUNCTIONS, info.State, "the token's login is untouched")
	})

	t.Run("session", func(t *testing.T) {
		s.SetContextPIN(pin)
		for range 2 {
			log.reset()
			sig, err := s.Sign(ecPriv, session.ECDSA(0), digest[:])
			require.NoError(t, err)
			verifyECDSA(t, ecKey, digest[:], sig)
			assert.Equal(t, 1, log.count("C_Login"), "one context-specific login per signature")
			assert.Equal(t, 1, log.count("C_SignInit"))
		}
		ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, rsaKey, message, nil)
		require.NoError(t, err)
		pt, err := s.Decrypt(rsaPriv, session.RSAOAEP(crypto.SHA1, nil), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
	})

	t.Run("signature longer than the scratch buffer", func(t *testing.T) {
		// C_Sign answers CKR_BUFFER_TOO_SMALL and SoftHSM keeps the
		// operation, as PKCS#11 says: Sign asks for the size and signs,
		// without starting again.
		defer session.SetSignScratch(16)()
		s.SetContextPIN(pin)
		defer s.SetContextPIN(nil)
		log.reset()
		sig, err := s.Sign(rsaPriv, session.RSAPKCS1v15(crypto.SHA256), message)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(rsaKey, crypto.SHA256, digest[:], sig))
		assert.Equal(t, []string{"C_SignInit", "C_Login", "C_Sign", "C_Sign", "C_Sign"}, log.calls())

		log.reset()
		sig, err = p.Sign(ctx, ecPriv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		verifyECDSA(t, ecKey, digest[:], sig)
		assert.Equal(t, 3, log.count("C_Sign"), "%v", log.calls())
	})

	t.Run("multi-part", func(t *testing.T) {
		// The context login comes after C_SignInit, before the first
		// C_SignUpdate: SoftHSM refuses the update without it.
		s.SetContextPIN(pin)
		defer s.SetContextPIN(nil)
		log.reset()
		sig, err := s.SignMultipart(rsaPriv, session.RSAPKCS1v15(crypto.SHA256), message[:5], message[5:])
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(rsaKey, crypto.SHA256, digest[:], sig))
		assert.Equal(t, 1, log.count("C_Login"), "one context-specific login per signature")
		assert.Equal(t, 2, log.count("C_SignUpdate"))

		sig, err = s.SignReader(rsaPriv, session.RSAPKCS1v15(crypto.SHA256), bytes.NewReader(message))
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(rsaKey, crypto.SHA256, digest[:], sig))
	})

	t.Run("pool", func(t *testing.T) {
		for range 2 {
			log.reset()
			sig, err := p.Sign(ctx, ecPriv, session.ECDSA(0), digest[:])
			require.NoError(t, err)
			verifyECDSA(t, ecKey, digest[:], sig)
			assert.Equal(t, 1, log.count("C_Login"))
		}
		sig, err := p.Sign(ctx, rsaPriv, session.RSAPKCS1v15(crypto.SHA256), message)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(rsaKey, crypto.SHA256, digest[:], sig))
		ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, rsaKey, message, nil)
		require.NoError(t, err)
		pt, err := p.Decrypt(ctx, rsaPriv, session.RSAOAEP(crypto.SHA1, nil), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		// Do lends a session that takes the pool's PIN too.
		require.NoError(t, p.Do(ctx, func(s *session.Session) error {
			sig, err := s.Sign(ecPriv, session.ECDSA(0), digest[:])
			if err == nil {
				verifyECDSA(t, ecKey, digest[:], sig)
			}
			return err
		}))
		assert.Zero(t, p.Stats().Replaced)
	})

	t.Run("wrong PIN in a session", func(t *testing.T) {
		s.SetContextPIN([]byte("0001"))
		log.reset()
		_, err := s.Sign(ecPriv, session.ECDSA(0), digest[:])
		requireRV(t, err, ck.CKR_PIN_INCORRECT)
		require.ErrorIs(t, err, session.ErrKeyPIN)
		assert.NotContains(t, err.Error(), "0001")
		assert.False(t, session.IsSessionLost(err))
		assert.Equal(t, 1, log.count("C_Login"))
		assert.Equal(t, 1, log.count("C_SignInit"))

		// Never sent again; the session is still good for the right
		// one.
		log.reset()
		_, err = s.Sign(ecPriv, session.ECDSA(0), digest[:])
		requireRV(t, err, ck.CKR_PIN_INCORRECT)
		assert.ErrorContains(t, err, "not trying a PIN the token refused")
		assert.Zero(t, log.count("C_Login"))
		s.SetContextPIN(pin)
		sig, err := s.Sign(ecPriv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		verifyECDSA(t, ecKey, digest[:], sig)
	})

	t.Run("wrong PIN in a pool", func(t *testing.T) {
		// The token is logged in already, so this pool's PIN goes to
		// the key only.
		q, err := session.NewPool(ctx, m, slot, session.WithPIN([]byte("0002")))
		require.NoError(t, err)
		defer q.Close()
		log.reset()
		_, err = q.Sign(ctx, ecPriv, session.ECDSA(0), digest[:])
		requireRV(t, err, ck.CKR_PIN_INCORRECT)
		require.ErrorIs(t, err, session.ErrKeyPIN)
		assert.Equal(t, 1, log.count("C_Login"))
		assert.Equal(t, 1, log.count("C_SignInit"), "not retried: %v", log.calls())
		log.reset()
		_, err = q.Decrypt(ctx, rsaPriv, session.RSAOAEP(crypto.SHA1, nil), make([]byte, 256))
		requireRV(t, err, ck.CKR_PIN_INCORRECT)
		assert.Zero(t, log.count("C_Login"))
		assert.Zero(t, q.Stats().Replaced, "no session taken for lost")

		// SetPIN says the PIN is the one to use now: the keys get it
		// once more (the key's PIN may have been reset to it meanwhile).
		q.SetPIN([]byte("0002"))
		log.reset()
		_, err = q.Sign(ctx, ecPriv, session.ECDSA(0), digest[:])
		requireRV(t, err, ck.CKR_PIN_INCORRECT)
		assert.Equal(t, 1, log.count("C_Login"), "tried again after SetPIN")
	})

	t.Run("stale answer", func(t *testing.T) {
		// Remembered as not wanting a login: C_Sign answers
		// CKR_USER_NOT_LOGGED_IN, the key is asked again, and the
		// signature made with the login.
		session.SetAlwaysAuthenticate(s, ecPriv, false)
		log.reset()
		sig, err := s.Sign(ecPriv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		verifyECDSA(t, ecKey, digest[:], sig)
		assert.Equal(t, 2, log.count("C_SignInit"), "%v", log.calls())
		assert.Equal(t, 1, log.count("C_Login"))
		log.reset()
		_, err = s.Sign(ecPriv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		assert.Equal(t, 1, log.count("C_SignInit"), "the new answer is kept")

		// Remembered as wanting one, for a key that does not: the
		// token says no login is pending, and the signature goes on.
		var plainPriv session.Object
		require.NoError(t, p.Do(ctx, func(s *session.Session) error {
			var err error
			_, plainPriv, err = s.GenerateEC("P-256", session.KeyLabel("ec plain"))
			return err
		}))
		session.SetAlwaysAuthenticate(s, plainPriv, true)
		log.reset()
		_, err = s.Sign(plainPriv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		assert.Equal(t, 1, log.count("C_Login"))
		log.reset()
		_, err = s.Sign(plainPriv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		assert.Zero(t, log.count("C_Login"), "the new answer is kept")
	})
}
