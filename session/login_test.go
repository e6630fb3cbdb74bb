package session_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// TestPoolSO logs a pool in as the security officer on SoftHSM: it sees
// the token's public objects and not the private ones, sets a new user
// PIN with C_InitPIN, and logs in as the SO again after its sessions
// were closed behind its back.
func TestPoolSO(t *testing.T) {
	m, log := tracedSoftHSM(t)
	pin, newPIN := []byte("7777"), []byte("8888")
	slot := recoveryToken(t, m, "security officer", pin)
	soPIN := hsm.Tokens[0].SOPIN

	// A public and a private data object, made by the user, who then
	// logs out: the SO cannot log in while the user is.
	u, err := session.NewPool(ctx, m, slot, session.WithPIN(pin), session.ReadWrite())
	require.NoError(t, err)
	pubLabel, privLabel := uniqueLabel(t), uniqueLabel(t)
	require.NoError(t, u.Do(ctx, func(s *session.Session) error {
		for _, o := range []struct {
			label   string
			private bool
		}{{pubLabel, false}, {privLabel, true}} {
			if _, err := s.Create([]ck.Attribute{
				attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, true),
				attr(ck.CKA_PRIVATE, o.private), attr(ck.CKA_LABEL, o.label),
				attr(ck.CKA_VALUE, []byte("data")),
			}); err != nil {
				return err
			}
		}
		return s.Logout()
	}))
	require.NoError(t, u.Close())

	log.reset()
	so, err := session.NewPool(ctx, m, slot, session.WithUser(ck.CKU_SO), session.WithPIN(soPIN), session.ReadWrite())
	require.NoError(t, err)
	defer so.Close()
	assert.Equal(t, 1, log.count("C_Login"))
	state := func(s *session.Session) error {
		info, err := s.Info()
		if err == nil && info.State != ck.CKS_RW_SO_FUNCTIONS {
			return errors.New("not the SO: " + info.State.String())
		}
		return err
	}
	require.NoError(t, so.Do(ctx, state))
	found, err := so.Find(ctx, []ck.Attribute{attr(ck.CKA_LABEL, pubLabel)})
	require.NoError(t, err)
	assert.Len(t, found, 1, "the SO sees public objects")
	found, err = so.Find(ctx, []ck.Attribute{attr(ck.CKA_LABEL, privLabel)})
	require.NoError(t, err)
	assert.Empty(t, found, "and not the user's private ones")
	require.NoError(t, so.Do(ctx, func(s *session.Session) error {
		return s.Module().InitPIN(s.Handle(), newPIN)
	}))

	// Sessions closed behind the pool's back log the SO out: the pool
	// logs in as the SO again, not as the user.
	require.NoError(t, m.CloseAllSessions(slot))
	log.reset()
	require.NoError(t, so.Retry(ctx, state))
	assert.Equal(t, 1, log.count("C_Login"))
	require.NoError(t, so.Close())
	require.NoError(t, m.CloseAllSessions(slot))

	// The user's new PIN works; the old one is refused.
	_, err = session.NewPool(ctx, m, slot, session.WithPIN(pin))
	requireRV(t, err, ck.CKR_PIN_INCORRECT)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(newPIN))
	require.NoError(t, err)
	defer p.Close()
	found, err = p.Find(ctx, []ck.Attribute{attr(ck.CKA_LABEL, privLabel)})
	require.NoError(t, err)
	assert.Len(t, found, 1)
}

// TestLoginUserUnsupported checks C_LoginUser (PKCS#11 3.0) on SoftHSM,
// which offers no 3.0 interface: Session.LoginUser and a pool with
// WithUserName report the function as not supported, in terms
// errors.Is understands, and record nothing: the token is not logged in
// and no PIN counts as refused. (The root package answers for the
// missing function without a call, so the call log shows none.)
func TestLoginUserUnsupported(t *testing.T) {
	m, log := tracedSoftHSM(t)
	pin := []byte("9191")
	slot := recoveryToken(t, m, "login user", pin)

	s, err := session.Open(m, slot, false)
	require.NoError(t, err)
	defer s.Close()
	log.reset()
	err = s.LoginUser(ck.CKU_USER, pin, "alice")
	require.ErrorIs(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorContains(t, err, "C_LoginUser")
	assert.NotContains(t, err.Error(), string(pin))
	assert.False(t, session.IsSessionLost(err))
	info, err := s.Info()
	require.NoError(t, err)
	assert.Equal(t, ck.CKS_RO_PUBLIC_SESSION, info.State)

	for range 2 {
		log.reset()
		_, err = session.NewPool(ctx, m, slot, session.WithUserName("alice"), session.WithPIN(pin))
		require.ErrorIs(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
		require.ErrorIs(t, err, errors.ErrUnsupported)
		assert.NotContains(t, err.Error(), "not trying", "not a refusal of the PIN")
		assert.Zero(t, log.count("C_Login"), "no C_Login in place of C_LoginUser")
	}

	// The same PIN without a user name logs in.
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(pin))
	require.NoError(t, err)
	defer p.Close()
	info, err = s.Info()
	require.NoError(t, err)
	assert.Equal(t, ck.CKS_RO_USER_FUNCTIONS, info.State)
}
