package x509hsm_test

import (
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// TestPIN follows a PIN from refusal to re-login on token TokPIN, whose
// C_Login calls it counts through the module's tracing logger.
func TestPIN(t *testing.T) {
	m, log := tracedSoftHSM(t)
	require.NoError(t, x509hsm.SetUpPINToken(m))
	slot := slotOf(t, m, x509hsm.TokPIN)
	countLow := func() bool {
		ti, err := m.GetTokenInfo(slot)
		require.NoError(t, err)
		return ti.Flags&ck.CKF_USER_PIN_COUNT_LOW != 0
	}
	wrong := []byte("0000")

	// The token is logged out: no session of this process is logged in.
	raw, err := session.Open(m, slot, false)
	require.NoError(t, err)
	info, err := raw.Info()
	require.NoError(t, err)
	require.Equal(t, ck.CKS_RO_PUBLIC_SESSION, info.State)
	require.NoError(t, raw.Close())

	t.Run("wrong PIN in the options", func(t *testing.T) {
		log.reset()
		s, err := openStore(t, m, x509hsm.WithTokens(token.Label(x509hsm.TokPIN)),
			x509hsm.WithPIN(token.Label(x509hsm.TokPIN), wrong))
		require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
		assert.NotContains(t, err.Error(), string(wrong))
		assert.Equal(t, 1, log.count("C_Login"))
		e := entry(t, s, "pin-key")
		assert.False(t, e.HasPrivateKey())
		_, err = e.Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrNoPIN)
		assert.Equal(t, 1, log.count("C_Login"), "a refused PIN is never tried again")
		require.NoError(t, s.Close())
	})

	s, err := openStore(t, m, x509hsm.WithTokens(token.Label(x509hsm.TokPIN)))
	require.NoError(t, err)
	e := entry(t, s, "pin-key")
	assert.False(t, e.HasPrivateKey(), "private keys are invisible before login")

	t.Run("wrong PIN", func(t *testing.T) {
		log.reset()
		err := e.SetPIN(wrong)
		require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
		assert.NotContains(t, err.Error(), string(wrong))
		assert.Equal(t, 1, log.count("C_Login"))
		assert.True(t, countLow(), "the token saw the failure")

		// Nothing tries it again behind the caller's back.
		_, err = e.Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrNoPIN)
		_, err = e.Signer().Sign(nil, digest(crypto.SHA256, message), crypto.SHA256)
		require.ErrorIs(t, err, x509hsm.ErrNoPIN)
		assert.Equal(t, 1, log.count("C_Login"))
	})

	t.Run("right PIN", func(t *testing.T) {
		log.reset()
		require.NoError(t, e.SetPIN(x509hsm.PINTokenPIN))
		assert.Equal(t, 1, log.count("C_Login"))
		assert.False(t, countLow(), "a good login clears the count")
		assert.True(t, e.HasPrivateKey())
		sig, err := e.Signer().Sign(nil, digest(crypto.SHA256, message), crypto.SHA256)
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(e.Public().(*ecdsa.PublicKey), digest(crypto.SHA256, message), sig))
	})

	t.Run("wrong PIN while logged in", func(t *testing.T) {
		// The token would answer CKR_USER_ALREADY_LOGGED_IN to any PIN:
		// the store compares with the PIN it logged in with instead.
		log.reset()
		err := e.SetPIN(wrong)
		require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
		assert.Zero(t, log.count("C_Login"))
		assert.False(t, countLow())
		require.NoError(t, e.SetPIN(x509hsm.PINTokenPIN))
		assert.Zero(t, log.count("C_Login"))
		_, err = e.Sign(message)
		require.NoError(t, err, "the entry kept its PIN")
	})

	t.Run("login again", func(t *testing.T) {
		// Someone logs the token out; the next signature logs in again
		// with the PIN the entry keeps.
		raw, err := session.Open(m, slot, false)
		require.NoError(t, err)
		require.NoError(t, raw.Logout())
		require.NoError(t, raw.Close())
		log.reset()
		sig, err := e.Sign(message)
		require.NoError(t, err)
		require.NoError(t, e.Verify(message, sig))
		assert.Equal(t, 1, log.count("C_Login"))
	})

	t.Run("not printed", func(t *testing.T) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			for _, x := range []any{e, s, *e.Signer(), e.Decrypter()} {
				out := fmt.Sprintf(verb, x)
				assert.NotContains(t, out, string(x509hsm.PINTokenPIN), verb)
				assert.NotContains(t, strings.ToLower(out), fmt.Sprintf("%x", x509hsm.PINTokenPIN), verb)
			}
		}
		out := fmt.Sprintf("%+v", e)
		assert.Contains(t, out, `token "pin"`)
		assert.Contains(t, out, `label "pin-key"`)
	})

	t.Run("close", func(t *testing.T) {
		require.NoError(t, e.Close())
		require.NoError(t, e.Close())
		_, err := e.Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrClosed)
		require.ErrorIs(t, e.SetPIN(x509hsm.PINTokenPIN), x509hsm.ErrClosed)
		assert.NotContains(t, s.Entries(), e)
		assert.Contains(t, fmt.Sprint(e), "closed")
	})
}
