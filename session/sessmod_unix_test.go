//go:build darwin || freebsd || linux || netbsd

package session_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/cbuild"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/session"
)

// The tests in this file need a token with a session limit, which no
// real module shows (SoftHSM reports none and never refuses a session):
// testdata/session/sessmod.c reports the limits a test sets, and refuses
// sessions with CKR_SESSION_COUNT past the number it allows, as a token
// whose limit is shared with other processes does.

// sessmod is testdata/session/sessmod.c, built once per test binary,
// with its hooks.
type sessmod struct {
	path                                string
	reset, report, limit, open, refused uintptr
}

var (
	sessmodOnce sync.Once
	sessmodLib  *sessmod
	sessmodErr  error
)

// sessmodSlot is sessmod's one slot.
const sessmodSlot = ck.SlotID(1)

// buildSessmod builds and loads sessmod.c and looks up its hooks
// (cbuild.BuildAndLoad keeps the library loaded, so they stay valid when
// a test closes its Module).
func buildSessmod() (*sessmod, error) {
	s := &sessmod{}
	var err error
	s.path, err = cbuild.BuildAndLoad(filepath.Join("..", "testdata", "session", "sessmod.c"), map[string]*uintptr{
		"sessmod_reset": &s.reset, "sessmod_report": &s.report, "sessmod_limit": &s.limit,
		"sessmod_open": &s.open, "sessmod_refused": &s.refused,
	})
	return s, err
}

// openSessmod opens sessmod for one test, reset to no limits, and
// closes it at the end.
func openSessmod(t testing.TB) (*pkcs11.Module, *sessmod) {
	t.Helper()
	sessmodOnce.Do(func() { sessmodLib, sessmodErr = buildSessmod() })
	if sessmodErr == cbuild.ErrNoCompiler {
		p11test.Require(t, "a C compiler", sessmodErr)
	}
	if sessmodErr != nil {
		t.Fatalf("building sessmod: %v", sessmodErr)
	}
	sessmodLib.Reset()
	m, err := pkcs11.Open(sessmodLib.path)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m, sessmodLib
}

// Reset closes every session and removes the limits.
func (s *sessmod) Reset() { purego.SyscallN(s.reset) }

// Report sets the limits C_GetTokenInfo reports.
func (s *sessmod) Report(max, maxRw uint64) {
	purego.SyscallN(s.report, uintptr(max), uintptr(maxRw))
}

// Limit makes C_OpenSession refuse a session past n open, or past nRw
// read-write ones; -1 is no limit.
func (s *sessmod) Limit(n, nRw int) { purego.SyscallN(s.limit, uintptr(n), uintptr(nRw)) }

// Open returns the number of sessions open.
func (s *sessmod) Open() int {
	r, _, _ := purego.SyscallN(s.open)
	return int(int32(r))
}

// Refused returns the number of C_OpenSession calls refused.
func (s *sessmod) Refused() int {
	r, _, _ := purego.SyscallN(s.refused)
	return int(int32(r))
}

// TestPoolReportedLimit checks that a pool's size is lowered to the
// limits the token reports, and that the pool then never asks the token
// for more sessions than that.
func TestPoolReportedLimit(t *testing.T) {
	m, mod := openSessmod(t)
	unavailable := uint64(ck.CK_UNAVAILABLE_INFORMATION)
	for _, tc := range []struct {
		name       string
		max, maxRw uint64
		opts       []session.Option
		size       int
	}{
		{"no limit", 0, 0, nil, 16},
		{"unknown limit", unavailable, unavailable, nil, 16},
		{"limit", 3, 1, nil, 3},
		{"read-write limit", 3, 1, []session.Option{session.ReadWrite()}, 1},
		{"read-write limit unknown", 3, unavailable, []session.Option{session.ReadWrite()}, 3},
		{"smaller pool", 3, 1, []session.Option{session.WithSize(2)}, 2},
		{"larger than the pool", 100, 100, []session.Option{session.WithSize(4)}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod.Reset()
			mod.Report(tc.max, tc.maxRw)
			p, err := session.NewPool(ctx, m, sessmodSlot, tc.opts...)
			require.NoError(t, err)
			defer p.Close()
			st := p.Stats()
			assert.Equal(t, tc.size, st.Size)
			assert.Equal(t, tc.size, st.Limit)
		})
	}

	// With a limit of 3 the fourth Get waits, and no C_OpenSession is
	// made for it.
	mod.Reset()
	mod.Report(3, 3)
	mod.Limit(3, 3)
	p, err := session.NewPool(ctx, m, sessmodSlot, session.WithPIN([]byte("1234")))
	require.NoError(t, err)
	defer p.Close()
	held := getN(t, p, 3)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = p.Get(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, mod.Refused())
	assert.Zero(t, p.Stats().Full)
	putAll(p, held)
}

// getN takes n sessions from p.
func getN(t testing.TB, p *session.Pool, n int) []*session.Session {
	t.Helper()
	var ss []*session.Session
	for range n {
		s, err := p.Get(ctx)
		require.NoError(t, err)
		ss = append(ss, s)
	}
	return ss
}

// putAll gives sessions back to p.
func putAll(p *session.Pool, ss []*session.Session) {
	for _, s := range ss {
		p.Put(s)
	}
}

// TestPoolSessionCount runs a pool on a token that reports no limit but
// has room for 3 sessions only, the rest being held elsewhere: the Get
// that the token refuses a session waits for one of the pool's, and the
// pool grows again once the token has room.
func TestPoolSessionCount(t *testing.T) {
	m, mod := openSessmod(t)
	mod.Limit(3, -1)
	p, err := session.NewPool(ctx, m, sessmodSlot, session.WithPIN([]byte("1234")), session.WithSize(8))
	require.NoError(t, err)
	defer p.Close()
	held := getN(t, p, 3)

	// The fourth Get is refused a session: it waits, as long as its
	// context allows, and the pool's limit is what it holds.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = p.Get(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	st := p.Stats()
	assert.Equal(t, 8, st.Size)
	assert.Equal(t, 3, st.Limit)
	assert.Equal(t, uint64(1), st.Full)
	assert.Equal(t, uint64(1), st.Waits)
	assert.Equal(t, 3, st.Open)
	assert.Equal(t, 1, mod.Refused())

	// A Get waiting gets the first session given back.
	got := make(chan error, 1)
	go func() {
		s, err := p.Get(ctx)
		if err == nil {
			p.Put(s)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Get returned while every session was in use: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	p.Put(held[0])
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Get still waits after a session came back")
	}
	assert.LessOrEqual(t, mod.Refused(), 2, "a try to grow at most, after the backoff")
	held[0] = nil

	// The token has room again: once the backoff has passed, a Get that
	// finds every session in use opens one more.
	mod.Limit(-1, -1)
	held[0] = getN(t, p, 1)[0]
	require.Eventually(t, func() bool {
		try, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		s, err := p.Get(try)
		if err != nil {
			return false
		}
		held = append(held, s)
		return true
	}, 5*time.Second, 20*time.Millisecond)
	st = p.Stats()
	assert.Equal(t, 4, st.Limit)
	assert.Equal(t, 4, st.Open)
	putAll(p, held)
	assert.Zero(t, p.Stats().InUse)
}

// TestPoolGrowsUnderContention checks that a pool whose limit the token
// lowered grows again once the token has room, also while Gets wait in
// line the whole time: the waiters are handed the tries to grow.
func TestPoolGrowsUnderContention(t *testing.T) {
	m, mod := openSessmod(t)
	mod.Limit(2, -1)
	p, err := session.NewPool(ctx, m, sessmodSlot, session.WithPIN([]byte("1234")), session.WithSize(6))
	require.NoError(t, err)
	defer p.Close()
	held := getN(t, p, 2)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = p.Get(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 2, p.Stats().Limit)
	putAll(p, held)

	// Room again; six goroutines keep every session busy and a line of
	// Gets waiting.
	mod.Limit(-1, -1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := p.Get(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(2 * time.Millisecond)
				p.Put(s)
			}
		})
	}
	grew := assert.Eventually(t, func() bool { return p.Stats().Open > 2 }, 5*time.Second, 10*time.Millisecond,
		"the pool never grew while Gets waited: %+v", p.Stats())
	close(stop)
	wg.Wait()
	if grew {
		assert.Greater(t, p.Stats().Limit, 2)
	}
}

// TestPoolSessionCountNone checks that a pool holding no session fails
// at once when the token refuses one, and says why.
func TestPoolSessionCountNone(t *testing.T) {
	m, mod := openSessmod(t)
	mod.Limit(0, -1)
	_, err := session.NewPool(ctx, m, sessmodSlot)
	require.ErrorIs(t, err, ck.CKR_SESSION_COUNT)
	assert.ErrorContains(t, err, "no session left, and the pool holds none")

	// A pool whose sessions were all lost holds none either.
	mod.Limit(-1, -1)
	p, err := session.NewPool(ctx, m, sessmodSlot, session.WithIdleCheck(0))
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, m.CloseAllSessions(sessmodSlot))
	mod.Limit(0, 0)
	_, err = p.Get(ctx)
	require.ErrorIs(t, err, ck.CKR_SESSION_COUNT)
	st := p.Stats()
	assert.Zero(t, st.Open)
	assert.Zero(t, st.InUse)
	assert.Equal(t, uint64(1), st.Replaced)

	// Read-write sessions have a limit of their own.
	mod.Limit(-1, 0)
	_, err = session.NewPool(ctx, m, sessmodSlot, session.ReadWrite())
	require.ErrorIs(t, err, ck.CKR_SESSION_COUNT)
	q, err := session.NewPool(ctx, m, sessmodSlot)
	require.NoError(t, err)
	q.Close()
}

// TestPoolSessionCountConcurrent has more goroutines than the token has
// sessions for: every operation completes, on the sessions the pool
// could open, none failing for want of one.
func TestPoolSessionCountConcurrent(t *testing.T) {
	m, mod := openSessmod(t)
	mod.Limit(3, -1)
	p, err := session.NewPool(ctx, m, sessmodSlot, session.WithPIN([]byte("1234")), session.WithSize(8))
	require.NoError(t, err)
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for range 20 {
				err := p.Do(ctx, func(s *session.Session) error {
					time.Sleep(time.Millisecond) // all want a session at once
					info, err := s.Info()
					if err == nil && info.State != ck.CKS_RO_USER_FUNCTIONS {
						t.Errorf("session state %v", info.State)
					}
					return err
				})
				if err != nil {
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
	assert.LessOrEqual(t, st.Open, 3)
	assert.Positive(t, st.Full)
	assert.Zero(t, st.InUse)
	assert.LessOrEqual(t, mod.Open(), 3)
}
