package x509hsm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// tokenState is one token of a store: its information, its session
// pools and the PINs known for it.
//
// Two pools serve a token. pub never logs in: discovery and the
// operations on public objects use it, so that they work before any PIN
// is known. priv logs in with providePIN whenever the token is not
// logged in, and serves the private keys; it exists once a PIN was
// accepted (or at once, on a token that needs no login).
type tokenState struct {
	store *Store
	index int // the token's position in the store's snapshot
	slot  token.Slot
	tok   *token.Token
	pub   *session.Pool

	// mu serializes logins and the making of priv. It is never held
	// while waiting for pinMu's holders, which call into nothing.
	mu   sync.Mutex
	priv atomic.Pointer[session.Pool]

	// pinMu guards the PINs. pins are the PINs known for the token,
	// oldest first: the store's own (from its options) and those that
	// entries hold (Entry.SetPIN). loginPIN is the one the token was
	// last logged in with by this store, when known.
	pinMu    sync.Mutex
	pins     []*sealedPIN
	loginPIN *sealedPIN
	ownPIN   *sealedPIN
}

// label returns the token's label for messages.
func (ts *tokenState) label() string { return ts.tok.Info.Label }

// errorf returns an error of an operation on the token.
func (ts *tokenState) errorf(format string, args ...any) error {
	return fmt.Errorf("x509hsm: token %q: "+format, append([]any{ts.label()}, args...)...)
}

// privPool returns the pool that serves private keys, or nil while no
// PIN is known.
func (ts *tokenState) privPool() *session.Pool { return ts.priv.Load() }

// providePIN is the PIN provider of priv: it opens the PIN the token
// was last logged in with, else the newest known one, into a slice the
// pool clears after the login.
func (ts *tokenState) providePIN(context.Context) ([]byte, error) {
	ts.pinMu.Lock()
	defer ts.pinMu.Unlock()
	if ts.loginPIN != nil {
		if b, err := ts.loginPIN.open(); err == nil {
			return b, nil
		}
	}
	for _, p := range slices.Backward(ts.pins) {
		if b, err := p.open(); err == nil {
			ts.loginPIN = p
			return b, nil
		}
	}
	return nil, ErrNoPIN
}

// addPIN records p as a known PIN; verified says the token was logged
// in with it.
func (ts *tokenState) addPIN(p *sealedPIN, verified bool) {
	ts.pinMu.Lock()
	defer ts.pinMu.Unlock()
	ts.pins = append(ts.pins, p)
	if verified {
		ts.loginPIN = p
	}
}

// removePIN forgets p, whose owner is about to wipe it.
func (ts *tokenState) removePIN(p *sealedPIN) {
	ts.pinMu.Lock()
	defer ts.pinMu.Unlock()
	ts.pins = slices.DeleteFunc(ts.pins, func(q *sealedPIN) bool { return q == p })
	if ts.loginPIN == p {
		ts.loginPIN = nil
	}
}

// currentLoginPIN returns the PIN the token was logged in with, if
// this store knows it.
func (ts *tokenState) currentLoginPIN() *sealedPIN {
	ts.pinMu.Lock()
	defer ts.pinMu.Unlock()
	if ts.loginPIN != nil && ts.loginPIN.alive() {
		return ts.loginPIN
	}
	return nil
}

// errOtherPIN is the error of a PIN that differs from the one the token
// is logged in with: checking it with C_Login is not possible then (the
// token answers CKR_USER_ALREADY_LOGGED_IN to any PIN).
var errOtherPIN = fmt.Errorf("the token is logged in with another PIN: %w", ck.CKR_PIN_INCORRECT)

// login checks pin with the token and, once it is accepted, records
// sealed (the same PIN, sealed by its owner) as a PIN of the token and
// makes the pool of private keys.
//
// When the token is not logged in, pin is checked with one C_Login
// through the session package's login state, which records a refusal
// so that nothing tries that PIN again. When it is logged in already, a
// PIN that differs from the one it was logged in with is refused without
// a call; if the login was made by other code, the PIN cannot be checked
// until the next login.
func (ts *tokenState) login(ctx context.Context, pin []byte, sealed *sealedPIN) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	verified := false
	if ts.tok.LoginRequired() {
		err := ts.pub.Do(ctx, func(s *session.Session) error {
			info, err := s.Info()
			if err != nil {
				return err
			}
			if !userLoggedIn(info.State) {
				if err := s.Login(ck.CKU_USER, pin); err != nil {
					return err
				}
				verified = true
				return nil
			}
			if known := ts.currentLoginPIN(); known != nil {
				if !known.equal(pin) {
					return errOtherPIN
				}
				verified = true
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	ts.addPIN(sealed, verified)
	return ts.ensurePrivLocked(ctx)
}

// ensurePrivLocked makes priv if it does not exist. The caller holds
// mu.
func (ts *tokenState) ensurePrivLocked(ctx context.Context) error {
	if ts.priv.Load() != nil {
		return nil
	}
	if !ts.tok.LoginRequired() {
		ts.priv.Store(ts.pub)
		return nil
	}
	p, err := session.NewPool(ctx, ts.store.m, ts.slot.ID, ts.store.poolOptions(ts,
		session.WithPINProvider(ts.providePIN))...)
	if err != nil {
		return err
	}
	ts.priv.Store(p)
	return nil
}

// close closes the pools and wipes the store's PIN of the token.
func (ts *tokenState) close() {
	if p := ts.priv.Load(); p != nil && p != ts.pub {
		p.Close()
	}
	if ts.pub != nil {
		ts.pub.Close()
	}
	ts.pinMu.Lock()
	own := ts.ownPIN
	ts.ownPIN = nil
	ts.pins = slices.DeleteFunc(ts.pins, func(q *sealedPIN) bool { return q == own })
	if ts.loginPIN == own {
		ts.loginPIN = nil
	}
	ts.pinMu.Unlock()
	own.wipe()
}

// userLoggedIn reports whether a session in state st is logged in as
// the normal user.
func userLoggedIn(st ck.SessionState) bool {
	return st == ck.CKS_RO_USER_FUNCTIONS || st == ck.CKS_RW_USER_FUNCTIONS
}
