package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// Pool is a bounded set of sessions on one token, shared by goroutines.
// It opens sessions as they are needed, up to its size, keeps them for
// reuse, logs the token in when it has a PIN, and replaces sessions that
// were lost. It is safe for concurrent use.
//
// A token's own session limit is shared with every other pool and
// process using it, so the token may run out before the pool reaches
// its size. When C_OpenSession answers CKR_SESSION_COUNT, the pool
// lowers its limit to the sessions it holds and the Get waits, as long
// as its context allows, for one of them to come back; only a pool that
// holds no session at all fails the Get. Now and then, when every
// session is in use, the pool tries one more session again, waiting
// longer after each refusal (from 100 milliseconds up to 10 seconds), so
// that it grows back to its size once the token has room. Stats shows
// the limit and the refusals.
type Pool struct {
	m    *pkcs11.Module
	slot ck.SlotID
	tok  *tokenState
	cfg  config

	mu     sync.Mutex
	idle   []*Session
	open   int
	closed bool
	// At most limit sessions are lent or being opened at once (lent).
	// A Get beyond that waits in line (waiters), and Put hands its
	// place to the first in line. limit is the pool's size, lowered
	// when the token runs out of sessions.
	limit   int
	lent    int
	waiters []chan struct{}
	// probeAt is when the pool may next try to grow past a lowered
	// limit; backoff is how long it waits after the next refusal.
	probeAt time.Time
	backoff time.Duration

	waits, created, replaced, loginErrs, full atomic.Uint64
	inUse                                     atomic.Int64

	// moved maps the identity of an Object whose handle went stale to
	// the Object found again in its place (poolops.go).
	moved sync.Map
}

type config struct {
	size      int
	rw        bool
	user      ck.UserType
	username  string
	pin       PINProvider
	pinCopy   *pinCopy // WithPIN's copy, wiped by SetPIN and Close
	checkIdle time.Duration
}

// Option configures NewPool.
type Option func(*config)

// WithSize bounds the number of sessions. The default is 16, lowered to
// what the token reports as its limit (ulMaxSessionCount, and
// ulMaxRwSessionCount for a read-write pool).
func WithSize(n int) Option { return func(c *config) { c.size = n } }

// ReadWrite makes the pool's sessions read-write, as creating, changing
// and destroying token objects needs.
func ReadWrite() Option { return func(c *config) { c.rw = true } }

// WithPIN makes the pool log in as the normal user with pin whenever the
// token is not logged in. The pool keeps its own copy, cleared by Close;
// the caller may clear pin at once.
func WithPIN(pin []byte) Option {
	return func(c *config) {
		c.pinCopy = &pinCopy{pin: append([]byte{}, pin...)}
		c.pin = c.pinCopy.get
	}
}

// pinCopy is a pool's own copy of the PIN given with WithPIN. Logins read
// it without the pool's lock, while SetPIN or Close may wipe it: it has
// a lock of its own, and once wiped it gives an error, never the zeroed
// bytes, which the token would count as a wrong PIN.
type pinCopy struct {
	mu  sync.Mutex
	pin []byte
}

// errPINWiped is the error of a login that asked for a PIN the pool has
// wiped since (SetPIN replaced it, or Close).
var errPINWiped = errors.New("session: the pool's PIN was replaced or wiped (SetPIN or Close)")

func (c *pinCopy) get(context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pin == nil {
		return nil, errPINWiped
	}
	return append([]byte{}, c.pin...), nil
}

func (c *pinCopy) wipe() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.pin)
	c.pin = nil
	c.mu.Unlock()
}

// pinConfig returns the pool's PIN provider and user, read under its
// lock, as SetPIN writes them.
func (p *Pool) pinConfig() (PINProvider, ck.UserType) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.pin, p.cfg.user
}

// WithPINProvider makes the pool ask p for the PIN whenever it must log
// in. The pool clears the returned slice after use.
func WithPINProvider(p PINProvider) Option { return func(c *config) { c.pin = p } }

// WithUser sets the user type the pool logs in as; the default is
// ck.CKU_USER. A pool of the security officer (ck.CKU_SO) needs
// ReadWrite: tokens refuse the SO's login on a read-only session, or
// while the application has one open on the token
// (CKR_SESSION_READ_ONLY_EXISTS), or while the user is logged in. Only a
// pool of ck.CKU_USER gives its PIN to keys with CKA_ALWAYS_AUTHENTICATE.
func WithUser(u ck.UserType) Option { return func(c *config) { c.user = u } }

// WithUserName makes the pool log in with C_LoginUser (PKCS#11 3.0) as
// the user named name, for tokens that tell users apart by name, instead
// of with C_Login. A module without C_LoginUser fails NewPool with an
// error that matches ck.CKR_FUNCTION_NOT_SUPPORTED and
// errors.ErrUnsupported.
func WithUserName(name string) Option { return func(c *config) { c.username = name } }

// WithIdleCheck makes Get check with C_GetSessionInfo that a session idle
// for longer than d is still valid before lending it. The default is 10
// seconds; 0 checks every time, a negative value never.
func WithIdleCheck(d time.Duration) Option { return func(c *config) { c.checkIdle = d } }

// NewPool returns a pool of sessions on the token in slot. It opens one
// session at once, to check the slot and read the token's session
// limits, and logs in if a PIN was given: a wrong PIN is reported here.
func NewPool(ctx context.Context, m *pkcs11.Module, slot ck.SlotID, opts ...Option) (*Pool, error) {
	cfg := config{size: 16, user: ck.CKU_USER, checkIdle: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.size < 1 {
		return nil, fmt.Errorf("session: pool size %d, must be at least 1", cfg.size)
	}
	ti, err := m.GetTokenInfo(slot)
	if err != nil {
		return nil, fmt.Errorf("session: slot %d: %w", slot, err)
	}
	cfg.size = limitSize(cfg.size, ti.MaxSessionCount)
	if cfg.rw {
		cfg.size = limitSize(cfg.size, ti.MaxRwSessionCount)
	}
	p := &Pool{m: m, slot: slot, tok: tokenFor(m, slot), cfg: cfg, limit: cfg.size}
	s, err := p.Get(ctx)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.Put(s)
	return p, nil
}

// limitSize lowers n to a token's reported limit, unless the token
// reports none (CK_EFFECTIVELY_INFINITE) or cannot tell.
func limitSize(n int, limit uint64) int {
	if limit == ck.CK_EFFECTIVELY_INFINITE || limit == ck.CK_UNAVAILABLE_INFORMATION {
		return n
	}
	if limit < uint64(n) {
		return max(int(limit), 1)
	}
	return n
}

// Get lends a session, waiting for one while all are in use, or while
// the token has no session left for the pool and the pool holds some
// that will come back (see [Pool]). Return it with Put. Prefer Do,
// which cannot forget to. A goroutine that holds sessions of the pool
// and asks for another must give ctx a deadline: the sessions it waits
// for may be its own.
func (p *Pool) Get(ctx context.Context) (*Session, error) {
	return p.get(ctx, false)
}

// get is Get; with check, every idle session it takes is checked with
// C_GetSessionInfo first, however briefly it was idle.
func (p *Pool) get(ctx context.Context, check bool) (*Session, error) {
	waited := false
	for {
		if err := p.acquire(ctx, &waited); err != nil {
			return nil, err
		}
		s, err := p.take(ctx, check)
		if err == nil {
			p.inUse.Add(1)
			s.ctx = ctx
			return s, nil
		}
		p.release()
		if !errors.Is(err, errTokenFull) {
			return nil, err
		}
		// The token has no session left, and the pool lowered its
		// limit to those it holds: wait for one of them.
	}
}

// errTokenFull is returned by take when the token refused a new session
// (CKR_SESSION_COUNT) while the pool holds others to wait for.
var errTokenFull = errors.New("session: the token has no session left")

// Backoff of the pool's tries to grow again after CKR_SESSION_COUNT.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// acquire takes a place for one session, waiting in line while limit
// places are taken. It sets *waited the first time it waits.
func (p *Pool) acquire(ctx context.Context, waited *bool) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPoolClosed
	}
	if len(p.waiters) == 0 && (p.lent < p.limit || p.probeLocked()) {
		p.lent++
		p.mu.Unlock()
		return nil
	}
	w := make(chan struct{}, 1)
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	if !*waited {
		*waited = true
		p.waits.Add(1)
	}

	select {
	case <-w:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	select {
	case <-w:
		// Handed a place meanwhile: pass it on.
		p.lent--
		p.handOffLocked()
	default:
		for i, x := range p.waiters {
			if x == w {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				break
			}
		}
	}
	p.mu.Unlock()
	return fmt.Errorf("session: waiting for a session: %w", ctx.Err())
}

// probeLocked reports whether a Get that finds every place taken may
// try one session more, the limit having been lowered after
// CKR_SESSION_COUNT and the backoff having passed, and raises the limit
// if so. The caller holds mu.
func (p *Pool) probeLocked() bool {
	if p.limit >= p.cfg.size || time.Now().Before(p.probeAt) {
		return false
	}
	p.limit++
	p.probeAt = time.Now().Add(p.backoff)
	return true
}

// release gives back a place taken by acquire.
func (p *Pool) release() {
	p.mu.Lock()
	p.lent--
	p.handOffLocked()
	p.mu.Unlock()
}

// handOffLocked gives free places to the Gets waiting in line, first
// come first served. The caller holds mu.
func (p *Pool) handOffLocked() {
	// A pool whose limit the token lowered tries to grow again once the
	// backoff has passed, also while Gets wait in line.
	for len(p.waiters) > 0 && (p.lent < p.limit || p.closed || p.probeLocked()) {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.lent++
		w <- struct{}{}
	}
}

// tokenFull records that the token refused a new session with err
// (CKR_SESSION_COUNT): the pool lowers its limit to the sessions it
// holds, and backs off before trying to grow again. It returns
// errTokenFull, for the Get to wait, or when the pool holds no session
// the error for the caller.
func (p *Pool) tokenFull(err error) error {
	p.full.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == 0 {
		return fmt.Errorf("session: slot %d has no session left, and the pool holds none to wait for (the token's limit is shared with its other users): %w", p.slot, err)
	}
	p.limit = min(p.limit, p.open)
	p.backoff = min(max(2*p.backoff, minBackoff), maxBackoff)
	p.probeAt = time.Now().Add(p.backoff)
	return errTokenFull
}

// errPoolClosed is the error of a Get on a closed pool.
var errPoolClosed = errors.New("session: pool is closed")

// take returns an idle session, or opens one, and makes sure the token is
// logged in. The caller holds a place in sem.
func (p *Pool) take(ctx context.Context, check bool) (*Session, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed
		}
		var s *Session
		if n := len(p.idle); n > 0 {
			s = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if s == nil {
			break
		}
		if p.healthy(s, check) {
			err := p.login(ctx, s)
			if err == nil {
				return s, nil
			}
			p.discard(s)
			if !isLost(err) {
				return nil, err
			}
			// Closed behind the pool's back, as the other idle
			// sessions likely are: try the next, or a new one.
			p.replaced.Add(1)
			continue
		}
		p.discard(s)
		p.replaced.Add(1)
	}
	s, err := p.openSession()
	if errors.Is(err, ck.CKR_SESSION_COUNT) {
		return nil, p.tokenFull(err)
	}
	if err != nil {
		return nil, fmt.Errorf("session: opening a session on slot %d: %w", p.slot, err)
	}
	// The token may have logged out since the pool last looked: closing
	// an application's last session does that. A fresh session's state
	// tells.
	if pin, user := p.pinConfig(); pin != nil {
		if info, err := p.m.GetSessionInfo(s.h); err == nil && !loggedInState(info.State, user) {
			p.tok.forget()
		}
	}
	if err := p.login(ctx, s); err != nil {
		p.discard(s)
		return nil, err
	}
	return s, nil
}

func (p *Pool) openSession() (*Session, error) {
	flags := ck.SessionFlags(0)
	if p.cfg.rw {
		flags = ck.CKF_RW_SESSION
	}
	h, err := p.m.OpenSession(p.slot, flags)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.open++
	p.backoff = 0
	p.mu.Unlock()
	p.created.Add(1)
	return &Session{m: p.m, h: h, slot: p.slot, tok: p.tok, pool: p, lastUsed: time.Now()}, nil
}

// healthy checks an idle session when it has been idle long enough, or
// always with force: that it is still open and, for a pool with a PIN,
// still logged in. A token logged out behind the pool's back is logged
// in again by take.
func (p *Pool) healthy(s *Session, force bool) bool {
	if !force && (p.cfg.checkIdle < 0 || time.Since(s.lastUsed) < p.cfg.checkIdle) {
		return true
	}
	info, err := p.m.GetSessionInfo(s.h)
	if err != nil && isLost(err) {
		p.tok.forget()
		return false
	}
	if pin, user := p.pinConfig(); err == nil && pin != nil && !loggedInState(info.State, user) {
		p.tok.forget()
	}
	return err == nil
}

// relogin logs the token in again when the pool has a PIN and s shows
// that the login is gone (C_GetSessionInfo, then C_Login).
func (p *Pool) relogin(ctx context.Context, s *Session) error {
	pin, user := p.pinConfig()
	if pin == nil {
		return nil
	}
	info, err := p.m.GetSessionInfo(s.h)
	if err != nil || loggedInState(info.State, user) {
		return nil
	}
	p.tok.forget()
	return p.login(ctx, s)
}

// login logs the token in if the pool has a PIN and the token is not.
func (p *Pool) login(ctx context.Context, s *Session) error {
	pin, user := p.pinConfig()
	if pin == nil {
		return nil
	}
	if err := p.tok.ensure(ctx, p.m, s.h, user, p.cfg.username, pin); err != nil {
		p.loginErrs.Add(1)
		return fmt.Errorf("session: login to slot %d: %w", p.slot, err)
	}
	return nil
}

// Put returns a session lent by Get. A session that an operation found
// lost is closed instead of kept.
func (p *Pool) Put(s *Session) {
	if s == nil || s.pool != p {
		return
	}
	p.inUse.Add(-1)
	s.ctx = nil
	s.SetContextPIN(nil)
	if s.lost {
		p.discard(s)
		p.replaced.Add(1)
	} else {
		s.lastUsed = time.Now()
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			p.discard(s)
		} else {
			p.idle = append(p.idle, s)
			p.mu.Unlock()
		}
	}
	p.release()
}

// discard closes a session the pool will not reuse.
func (p *Pool) discard(s *Session) {
	p.m.CloseSession(s.h) // it may be gone already: nothing to do then
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
}

// Do lends a session to fn and takes it back when fn returns.
func (p *Pool) Do(ctx context.Context, fn func(*Session) error) error {
	return p.do(ctx, fn, false)
}

func (p *Pool) do(ctx context.Context, fn func(*Session) error, check bool) error {
	s, err := p.get(ctx, check)
	if err != nil {
		return err
	}
	defer p.Put(s)
	return fn(s)
}

// Retry is Do for operations that are safe to repeat (signing, verifying,
// reading, decrypting; not creating or destroying objects): when fn fails
// because its session or the token's login was lost, fn runs once more on
// a fresh, logged-in session.
//
// What lost one session has often lost the others (C_CloseAllSessions,
// a token removed, a logout), while another goroutine may already have
// logged the token in again: so the second run checks every idle
// session it is offered (C_GetSessionInfo) instead of trusting it, and
// opens a new one when none is left.
func (p *Pool) Retry(ctx context.Context, fn func(*Session) error) error {
	err := p.Do(ctx, fn)
	if err == nil || !isLost(err) {
		return err
	}
	return p.do(ctx, fn, true)
}

// SetPIN gives the pool a new PIN, after a refused one or a PIN change.
// A PIN the token refused is not tried again on its own, by any pool;
// SetPIN says that pin is the one to use now, and allows it to be tried
// again even if it was refused before.
func (p *Pool) SetPIN(pin []byte) {
	p.mu.Lock()
	p.cfg.pinCopy.wipe()
	WithPIN(pin)(&p.cfg)
	user, username := p.cfg.user, p.cfg.username
	p.mu.Unlock()
	p.tok.forgive(credential{user: user, username: username, pin: pin})
	if user == ck.CKU_USER {
		// The same PIN serves the keys with CKA_ALWAYS_AUTHENTICATE.
		p.tok.forgive(credential{user: ck.CKU_CONTEXT_SPECIFIC, pin: pin})
	}
}

// Stats is a snapshot of a pool's counters.
type Stats struct {
	Size     int    // the pool's size: WithSize, lowered to the token's reported limits
	Limit    int    // the most sessions the pool opens now: Size, or fewer while the token has no more
	Full     uint64 // sessions the token refused (CKR_SESSION_COUNT)
	Open     int    // sessions open now
	InUse    int    // sessions lent now
	Idle     int    // sessions open and waiting
	Waits    uint64 // Gets that had to wait for a session
	Created  uint64 // sessions opened
	Replaced uint64 // sessions closed because they were lost or stale
	LoginErr uint64 // failed logins
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Size: p.cfg.size, Limit: p.limit, Full: p.full.Load(), Open: p.open, InUse: int(p.inUse.Load()), Idle: len(p.idle),
		Waits: p.waits.Load(), Created: p.created.Load(), Replaced: p.replaced.Load(),
		LoginErr: p.loginErrs.Load(),
	}
}

// Close closes the idle sessions and clears the pool's copy of the PIN.
// Sessions still lent are closed when they are returned; Gets waiting
// for a session fail. Close does not log the token out: other pools may
// share the login.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.cfg.pinCopy.wipe()
	p.handOffLocked() // the Gets in line then find the pool closed
	p.mu.Unlock()
	for _, s := range idle {
		p.discard(s)
	}
	return nil
}

// loggedInState reports whether a session in state st is logged in as
// user.
func loggedInState(st ck.SessionState, user ck.UserType) bool {
	switch user {
	case ck.CKU_SO:
		return st == ck.CKS_RW_SO_FUNCTIONS
	default:
		return st == ck.CKS_RO_USER_FUNCTIONS || st == ck.CKS_RW_USER_FUNCTIONS
	}
}
