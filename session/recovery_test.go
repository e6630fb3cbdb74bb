package session_test

import (
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// The tests in this file take the token away from a pool in the ways an
// application sharing a token meets: its sessions closed, its login
// ended, the token initialized again, each behind the pool's back,
// through a Module of the same file (one loaded instance, so the same
// C_ state). The pool's one-shot operations (Pool.Sign, Pool.Decrypt...)
// must recover without the caller's help. Each test works on a token of
// its own, initialized through the library in SoftHSM's free slot, so
// that the other tests' tokens are left alone.

// recoveryToken initializes SoftHSM's free slot as a token labelled
// label, with the SO PIN of the tokens of TestMain and user PIN pin, and
// returns its slot.
func recoveryToken(t *testing.T, m *pkcs11.Module, label string, pin []byte) ck.SlotID {
	t.Helper()
	soPIN := hsm.Tokens[0].SOPIN
	slots, err := m.GetSlotList(true)
	require.NoError(t, err)
	free, found := ck.SlotID(0), false
	for _, sl := range slots {
		if ti, err := m.GetTokenInfo(sl); err == nil && ti.Flags&ck.CKF_TOKEN_INITIALIZED == 0 {
			free, found = sl, true
		}
	}
	require.True(t, found, "SoftHSM has no free slot")
	require.NoError(t, m.InitToken(free, soPIN, label))

	// SoftHSM numbers slots by serial: find the token again.
	slot := slotByLabel(t, m, label)
	initPIN(t, m, slot, pin)
	return slot
}

// slotByLabel returns the slot of the token labelled label.
func slotByLabel(t *testing.T, m *pkcs11.Module, label string) ck.SlotID {
	t.Helper()
	slots, err := m.GetSlotList(true)
	require.NoError(t, err)
	for _, sl := range slots {
		if ti, err := m.GetTokenInfo(sl); err == nil && ti.Label == label {
			return sl
		}
	}
	t.Fatalf("no token %q", label)
	return 0
}

// initPIN sets the user PIN of the token in slot through an SO session
// (C_Login as CKU_SO, C_InitPIN, C_Logout).
func initPIN(t *testing.T, m *pkcs11.Module, slot ck.SlotID, pin []byte) {
	t.Helper()
	h, err := m.OpenSession(slot, ck.CKF_RW_SESSION)
	require.NoError(t, err)
	defer m.CloseSession(h)
	require.NoError(t, m.Login(h, ck.CKU_SO, hsm.Tokens[0].SOPIN))
	require.NoError(t, m.InitPIN(h, pin))
	require.NoError(t, m.Logout(h))
}

// behind opens the module file of m again: the same loaded instance, as
// another part of the application would have it.
func behind(t *testing.T, m *pkcs11.Module) *pkcs11.Module {
	t.Helper()
	other, err := pkcs11.Open(m.Path())
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	return other
}

// fill makes the pool open n sessions and keep them idle.
func fill(t *testing.T, p *session.Pool, n int) {
	t.Helper()
	var ss []*session.Session
	for range n {
		s, err := p.Get(ctx)
		require.NoError(t, err)
		ss = append(ss, s)
	}
	for _, s := range ss {
		p.Put(s)
	}
	require.Equal(t, n, p.Stats().Idle)
}

// recoveryKey generates an EC P-256 token key pair with a pooled session.
func recoveryKey(t *testing.T, p *session.Pool) (pub, priv session.Object) {
	t.Helper()
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		var err error
		pub, priv, err = s.GenerateEC("P-256", session.KeyLabel(uniqueLabel(t)))
		return err
	}))
	return pub, priv
}

// signs checks that the pool signs with priv, the signature verified by
// Go with the public key read from pub and by the token.
func signs(t *testing.T, p *session.Pool, pub, priv session.Object) {
	t.Helper()
	digest := sha256.Sum256(message)
	sig, err := p.Sign(ctx, priv, session.ECDSA(0), digest[:])
	require.NoError(t, err)
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		// SoftHSM renumbers objects when the application's last
		// session closes: find the public key again.
		r, err := s.Resolve(pub)
		if err == nil {
			verifyECDSA(t, ecPublic(t, s, r, elliptic.P256()), digest[:], sig)
		}
		return err
	}))
	require.NoError(t, p.Verify(ctx, pub, session.ECDSA(0), digest[:], sig))
}

func TestRecoverClosedSessions(t *testing.T) {
	m := softhsm(t)
	pin := []byte("1111")
	slot := recoveryToken(t, m, "recovery closed", pin)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(pin), session.ReadWrite())
	require.NoError(t, err)
	defer p.Close()
	pub, priv := recoveryKey(t, p)
	signs(t, p, pub, priv)

	// Several idle sessions, all closed behind the pool's back: the
	// token also logs out, as the application's last session closed.
	// Each stale session the pool tries is replaced; the caller sees
	// none of it.
	other := behind(t, m)
	for _, op := range []string{"sign", "find", "verify"} {
		fill(t, p, 4)
		require.NoError(t, other.CloseAllSessions(slot))
		before := p.Stats()
		switch op {
		case "sign":
			signs(t, p, pub, priv)
		case "find":
			found, err := p.Find(ctx, []ck.Attribute{attr(ck.CKA_ID, priv.ID)})
			require.NoError(t, err)
			assert.Len(t, found, 2, "the private key is seen: logged in again")
		case "verify":
			digest := sha256.Sum256(message)
			err := p.Verify(ctx, pub, session.ECDSA(0), digest[:], make([]byte, 64))
			requireRV(t, err, ck.CKR_SIGNATURE_INVALID)
		}
		after := p.Stats()
		assert.Greater(t, after.Replaced, before.Replaced, op)
		assert.Zero(t, after.InUse, op)
		assert.LessOrEqual(t, after.Open, after.Size, op)
	}
}

func TestRecoverLogout(t *testing.T) {
	m := softhsm(t)
	pin := []byte("2222")
	slot := recoveryToken(t, m, "recovery logout", pin)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(pin), session.ReadWrite())
	require.NoError(t, err)
	defer p.Close()
	pub, priv := recoveryKey(t, p)
	signs(t, p, pub, priv)
	fill(t, p, 3)

	// C_Logout through a session of the other Module: the pool's
	// sessions stay open, public. SoftHSM then answers
	// CKR_OBJECT_HANDLE_INVALID for the private key, not
	// CKR_USER_NOT_LOGGED_IN, and forgets its handle for good.
	logout := func() {
		other := behind(t, m)
		h, err := other.OpenSession(slot, 0)
		require.NoError(t, err)
		require.NoError(t, other.Logout(h))
		require.NoError(t, other.CloseSession(h))
	}
	logout()
	signs(t, p, pub, priv)
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		info, err := s.Info()
		assert.Equal(t, ck.CKS_RW_USER_FUNCTIONS, info.State, "logged in again")
		return err
	}))

	// A search right after a logout sees the public objects only; the
	// pool checks its sessions' login state when it lends one that
	// has been idle (WithIdleCheck, 0 here: every time).
	q, err := session.NewPool(ctx, m, slot, session.WithPIN(pin), session.WithIdleCheck(0))
	require.NoError(t, err)
	defer q.Close()
	fill(t, q, 2)
	logout()
	found, err := q.Find(ctx, []ck.Attribute{attr(ck.CKA_ID, priv.ID)})
	require.NoError(t, err)
	assert.Len(t, found, 2, "the private key is seen: logged in again")
}

func TestRecoverReinitializedToken(t *testing.T) {
	m := softhsm(t)
	const label = "recovery reinit"
	pin, newPIN := []byte("3333"), []byte("4444")
	slot := recoveryToken(t, m, label, pin)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(pin), session.ReadWrite())
	require.NoError(t, err)
	defer p.Close()
	pub, priv := recoveryKey(t, p)
	signs(t, p, pub, priv)
	fill(t, p, 3)

	// Behind the pool's back: the token initialized again with the SO
	// PIN (C_InitToken needs every session closed), which destroys its
	// objects and clears the user PIN. SoftHSM keeps the slot ID, which
	// derives from the serial number, which stays.
	other := behind(t, m)
	require.NoError(t, other.CloseAllSessions(slot))
	require.NoError(t, other.InitToken(slot, hsm.Tokens[0].SOPIN, label))
	assert.Equal(t, slot, slotByLabel(t, other, label))

	// No user PIN yet: the pool's login is refused, and said so.
	digest := sha256.Sum256(message)
	_, err = p.Sign(ctx, priv, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_USER_PIN_NOT_INITIALIZED)

	// A new user PIN: the pool's old one is refused, and not tried
	// again (tokens lock after a few tries) until SetPIN gives the new
	// one.
	initPIN(t, other, slot, newPIN)
	_, err = p.Sign(ctx, priv, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_PIN_INCORRECT)
	loginErrs := p.Stats().LoginErr
	_, err = p.Sign(ctx, priv, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_PIN_INCORRECT)
	assert.ErrorContains(t, err, "not trying a PIN the token refused")
	assert.Equal(t, loginErrs+1, p.Stats().LoginErr, "the refused PIN is not sent again")
	p.SetPIN(newPIN)

	// The old key is gone with the old token: the Object fails with the
	// handle's error and why it could not be found again. No panic, no
	// signature by another key.
	_, err = p.Sign(ctx, priv, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_KEY_HANDLE_INVALID, ck.CKR_OBJECT_HANDLE_INVALID)
	assert.ErrorIs(t, err, session.ErrNotFound)
	err = p.Verify(ctx, pub, session.ECDSA(0), digest[:], make([]byte, 64))
	assert.ErrorIs(t, err, session.ErrNotFound)

	// Sessions and login are back: new keys work at once.
	pub2, priv2 := recoveryKey(t, p)
	signs(t, p, pub2, priv2)
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		info, err := s.Info()
		assert.Equal(t, ck.CKS_RW_USER_FUNCTIONS, info.State)
		return err
	}))

	// A key made since with the old key's identity is a different key:
	// the old Object finds it (by CKA_ID and label), which is what
	// Resolve promises; its signatures verify with the new key only.
	var copyPriv session.Object
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		var err error
		_, copyPriv, err = s.GenerateEC("P-256", session.KeyLabel(priv.Label), session.KeyID(priv.ID))
		return err
	}))
	sig, err := p.Sign(ctx, priv, session.ECDSA(0), digest[:])
	require.NoError(t, err)
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		pubs, err := s.Find([]ck.Attribute{attr(ck.CKA_ID, copyPriv.ID), attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY)})
		if err != nil || len(pubs) != 1 {
			return errors.Join(err, errors.New("want one public key with the copied ID"))
		}
		verifyECDSA(t, ecPublic(t, s, pubs[0], elliptic.P256()), digest[:], sig)
		return nil
	}))
}
