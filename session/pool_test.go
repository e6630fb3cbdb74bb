package session_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

func TestPoolLoginShared(t *testing.T) {
	m := softhsm(t)
	slot, tok := slotOf(t, m, tokAlpha)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(tok.PIN), session.WithSize(3))
	require.NoError(t, err)
	defer p.Close()

	// Three sessions at once, one login for all of them.
	var ss []*session.Session
	for range 3 {
		s, err := p.Get(ctx)
		require.NoError(t, err)
		info, err := s.Info()
		require.NoError(t, err)
		assert.Equal(t, ck.CKS_RO_USER_FUNCTIONS, info.State)
		ss = append(ss, s)
	}
	st := p.Stats()
	assert.Equal(t, 3, st.InUse)
	assert.Equal(t, 3, st.Open)

	// A fourth waits until the context ends.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = p.Get(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, uint64(1), p.Stats().Waits)
	for _, s := range ss {
		p.Put(s)
	}
	assert.Equal(t, 3, p.Stats().Idle)
}

func TestPoolWrongPINNeverRetried(t *testing.T) {
	m := softhsm(t)
	slot, tok := slotOf(t, m, tokBeta)
	// A PIN of its own per run: a refused PIN is not sent again in this
	// process (TestPoolRefusedPINOnly).
	wrong := fmt.Sprintf("wrong-%d", labelSeq.Add(1))
	_, err := session.NewPool(ctx, m, slot, session.WithPIN([]byte(wrong)))
	require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
	assert.NotContains(t, err.Error(), wrong)

	// A pool without a PIN does not log in; one given the right PIN by
	// SetPIN does.
	p, err := session.NewPool(ctx, m, slot)
	require.NoError(t, err)
	defer p.Close()
	ti, err := m.GetTokenInfo(slot)
	require.NoError(t, err)
	assert.NotZero(t, ti.Flags&ck.CKF_USER_PIN_COUNT_LOW, "one failed try is recorded: %v", ti.Flags)

	p.SetPIN(tok.PIN)
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		info, err := s.Info()
		if err == nil && info.State != ck.CKS_RO_USER_FUNCTIONS {
			err = errors.New(info.State.String())
		}
		return err
	}))
}

func TestPoolRecoversClosedSessions(t *testing.T) {
	m := softhsm(t)
	slot, tok := slotOf(t, m, tokAlpha)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(tok.PIN), session.WithIdleCheck(-1))
	require.NoError(t, err)
	defer p.Close()

	random := func(s *session.Session) error {
		_, err := s.Module().GenerateRandom(s.Handle(), 16)
		if err != nil {
			return wrapLost(s, err)
		}
		info, err := s.Info()
		if err == nil && info.State != ck.CKS_RO_USER_FUNCTIONS {
			return errors.New("not logged in: " + info.State.String())
		}
		return err
	}
	require.NoError(t, p.Retry(ctx, random))

	// Behind the pool's back: every session closed, which also logs the
	// token out. The next operation fails once, and Retry recovers on a
	// fresh, logged-in session.
	require.NoError(t, m.CloseAllSessions(slot))
	require.NoError(t, p.Retry(ctx, random))
	assert.GreaterOrEqual(t, p.Stats().Replaced, uint64(1))
	require.NoError(t, p.Retry(ctx, random))
}

// wrapLost reports a raw module error through a session, as the session's
// own operations do, so that the pool learns the session was lost.
func wrapLost(s *session.Session, err error) error {
	_, ierr := s.Info()
	return errors.Join(err, ierr)
}

func TestPoolConcurrent(t *testing.T) {
	m := softhsm(t)
	slot, tok := slotOf(t, m, tokAlpha)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(tok.PIN), session.WithSize(4))
	require.NoError(t, err)
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for range 20 {
				if err := p.Retry(ctx, func(s *session.Session) error {
					_, err := s.Module().GenerateRandom(s.Handle(), 8)
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := p.Stats()
	assert.LessOrEqual(t, st.Open, 4)
	assert.Zero(t, st.InUse)
}

// TestPoolRetryChecksIdleSessions loses every idle session at once, and
// has the token logged in again (as another goroutine's retry would)
// between the first attempt and the retry: the retry must not take
// another of the lost idle sessions on trust, but check it and use a
// fresh one.
func TestPoolRetryChecksIdleSessions(t *testing.T) {
	m := softhsm(t)
	slot, tok := slotOf(t, m, tokAlpha)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(tok.PIN))
	require.NoError(t, err)
	defer p.Close()

	// Three sessions in the pool, idle.
	var held []*session.Session
	for range 3 {
		s, err := p.Get(ctx)
		require.NoError(t, err)
		held = append(held, s)
	}
	for _, s := range held {
		p.Put(s)
	}
	require.Equal(t, 3, p.Stats().Idle)

	require.NoError(t, m.CloseAllSessions(slot))
	other, err := session.Open(m, slot, false)
	require.NoError(t, err)
	defer other.Close()
	var attempts []error
	err = p.Retry(ctx, func(s *session.Session) error {
		_, err := s.GenerateRandom(16)
		attempts = append(attempts, err)
		if len(attempts) == 1 {
			// Another goroutine logs the token in again meanwhile.
			require.NoError(t, other.Login(ck.CKU_USER, tok.PIN))
		}
		return err
	})
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	require.True(t, session.IsSessionLost(attempts[0]), "%v", attempts[0])
}

// TestPoolRefusedPINOnly checks that a refusal is kept for the PIN the
// token refused, not for the token: a later pool with another PIN logs
// in, while the refused PIN, from any pool or provider, is never sent
// again unless SetPIN says it is the PIN to use.
func TestPoolRefusedPINOnly(t *testing.T) {
	m, log := tracedSoftHSM(t)
	pin, wrong := []byte("5555"), []byte("0000")
	slot := recoveryToken(t, m, "refused PIN only", pin)

	log.reset()
	_, err := session.NewPool(ctx, m, slot, session.WithPIN(wrong))
	require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
	assert.NotContains(t, err.Error(), string(wrong))
	assert.Equal(t, 1, log.count("C_Login"), "%v", log.calls())

	// Another PIN is tried once, and works.
	log.reset()
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(pin))
	require.NoError(t, err)
	assert.Equal(t, 1, log.count("C_Login"))
	require.NoError(t, p.Do(ctx, func(s *session.Session) error {
		info, err := s.Info()
		assert.Equal(t, ck.CKS_RO_USER_FUNCTIONS, info.State)
		return err
	}))

	// Logged out, the refused PIN comes back from a new pool's provider:
	// it is refused again without a C_Login.
	require.NoError(t, p.Do(ctx, func(s *session.Session) error { return s.Logout() }))
	require.NoError(t, p.Close())
	asked := 0
	provider := func(context.Context) ([]byte, error) {
		asked++
		return append([]byte(nil), wrong...), nil
	}
	log.reset()
	_, err = session.NewPool(ctx, m, slot, session.WithPINProvider(provider))
	require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
	assert.ErrorContains(t, err, "not trying a PIN the token refused")
	assert.NotContains(t, err.Error(), string(wrong))
	assert.Equal(t, 1, asked, "the provider is asked: its answer may be another PIN")
	assert.Zero(t, log.count("C_Login"), "%v", log.calls())

	// SetPIN says its PIN is the one to use now: the refused PIN is
	// tried again, once; then the right one logs in.
	q, err := session.NewPool(ctx, m, slot, session.WithPIN(pin))
	require.NoError(t, err)
	defer q.Close()
	require.NoError(t, q.Do(ctx, func(s *session.Session) error { return s.Logout() }))
	log.reset()
	q.SetPIN(wrong)
	err = q.Do(ctx, func(*session.Session) error { return nil })
	require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
	assert.NotContains(t, err.Error(), "not trying")
	assert.Equal(t, 1, log.count("C_Login"))
	q.SetPIN(pin)
	require.NoError(t, q.Do(ctx, func(*session.Session) error { return nil }))
	assert.Equal(t, 2, log.count("C_Login"))
}
