// Package session gives goroutines shared, safe use of a token: sessions,
// a session pool with the token's login state, objects and attributes, and
// every cryptographic operation with typed mechanisms.
//
// # Entry points
//
// [NewPool] opens a pool of sessions on one token. [Pool.Do] lends a
// [Session] to a function; [Pool.Retry] does the same and, when the
// session was lost (closed behind the pool's back, token logged out,
// device removed), runs the function once more on a fresh, logged-in
// session — use it for operations that are safe to repeat. [Open] opens a
// single session outside any pool.
//
// A Session is not safe for concurrent use: one goroutine at a time, as
// PKCS#11 requires. A Pool is safe for concurrent use.
//
// # Objects and operations
//
// An [Object] is a handle with the attributes that identify it, so that
// [Session.Resolve] can find it again when the handle changes.
// [Session.Find], [Session.FindOne] and [Session.FindIter] search, and
// [Session.FindURI], [Session.FindOneURI] and their Pool forms find
// objects by RFC 7512 pkcs11: URI ([Session.URI] writes one);
// [Session.Sign], [Session.Verify], [Session.Encrypt], [Session.Decrypt],
// [Session.Digest], [Session.HMAC], [Session.DeriveECDH], [Session.Wrap]
// and the others take an Object and a ck.Mechanism, best built with the
// helpers [RSAPSS], [RSAOAEP], [ECDSA], [AESGCM] and so on. A mechanism
// the token does not list is refused before any call with a
// [*MechanismError]. [Session.GenerateEC], [Session.GenerateRSA] and the
// other generators make keys with secure defaults. [Pool.Sign],
// [Pool.Decrypt] and the other one-shot operations of a pool recover
// from lost sessions and stale handles on their own.
//
// # Login
//
// Login state belongs to the token, not to a session: one login serves
// every session the application has on the token. The pool logs in once
// with the PIN it was given (or asked its PIN provider for), treats
// CKR_USER_ALREADY_LOGGED_IN as success, and logs in again only after the
// token reports that the login was lost. A wrong PIN is reported at once
// and never sent again on the library's own initiative, by that pool or
// any other: tokens lock after a few wrong tries. The refusal is kept for
// that PIN only (as a keyed hash, never the PIN itself), so another PIN,
// from a new pool or a PIN provider's next answer, is tried once.
//
// A key with CKA_ALWAYS_AUTHENTICATE wants the PIN for each signature or
// decryption: Sign and Decrypt (of a Session or a Pool) give it right
// after the Init (C_Login with CKU_CONTEXT_SPECIFIC), from the pool's PIN
// or [Session.SetContextPIN]. Its refusal matches [ErrKeyPIN], is never
// taken for a lost session, and is never retried.
//
// # Throughput
//
// As far as the runtime's source and our measurements tell, a goroutine in a
// module call keeps its Go processor (P) in a system-call state. When every
// P is in one, the runtime takes one back after 20 µs and hands it to
// another thread, which costs the module's own threads CPU: on two cores,
// two goroutines signing with ECDSA P-256 through a Pool reached 1.45 to
// 1.55 times the rate of one with GOMAXPROCS=2, and 1.64 to 1.85 times with
// GOMAXPROCS=3 (the repository's README has the measurements). A service
// whose goroutines spend their time in a token should run with GOMAXPROCS
// one above its number of cores; this package never changes it.
//
// # Errors
//
// Errors start with "session: ", name the operation, and wrap the root
// package's *pkcs11.Error, so errors.Is(err, ck.CKR_...) works.
package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// Session is one PKCS#11 session on a token. It is not safe for
// concurrent use. A Session from a pool goes back to the pool when the
// function it was lent to returns; do not keep it.
type Session struct {
	m    *pkcs11.Module
	h    ck.SessionHandle
	slot ck.SlotID
	tok  *tokenState
	pool *Pool // nil for a session from Open
	// lost is set when an operation reported that the session or its
	// login is gone; the pool then closes it instead of reusing it.
	lost bool
	// lastUsed is when the pool last took the session back.
	lastUsed time.Time
	// ctx is the context of the Get that lent the session, for the
	// pool's PIN provider; nil outside a pool and between lendings.
	ctx context.Context
	// contextPIN is the PIN for keys with CKA_ALWAYS_AUTHENTICATE
	// (SetContextPIN), or nil.
	contextPIN []byte
}

// Open opens a single session on the token in slot, outside any pool.
// With rw the session is read-write. Close it when done.
func Open(m *pkcs11.Module, slot ck.SlotID, rw bool) (*Session, error) {
	flags := ck.SessionFlags(0)
	if rw {
		flags = ck.CKF_RW_SESSION
	}
	h, err := m.OpenSession(slot, flags)
	if err != nil {
		return nil, fmt.Errorf("session: opening a session on slot %d: %w", slot, err)
	}
	return &Session{m: m, h: h, slot: slot, tok: tokenFor(m, slot)}, nil
}

// Close closes a session from Open. Sessions lent by a pool are closed by
// the pool.
func (s *Session) Close() error {
	if s.pool != nil {
		return errors.New("session: a pooled session is closed by its pool")
	}
	s.SetContextPIN(nil)
	if err := s.m.CloseSession(s.h); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

// Handle returns the PKCS#11 session handle, for calls on the root
// package's Module that this package does not wrap.
func (s *Session) Handle() ck.SessionHandle { return s.h }

// Module returns the module the session belongs to.
func (s *Session) Module() *pkcs11.Module { return s.m }

// Slot returns the slot of the session's token.
func (s *Session) Slot() ck.SlotID { return s.slot }

// Info returns the session's state and flags (C_GetSessionInfo).
func (s *Session) Info() (ck.SessionInfo, error) {
	info, err := s.m.GetSessionInfo(s.h)
	return info, s.wrap("reading session info", err)
}

// Login logs the user into the token (C_Login). The login serves every
// session of the application on this token; CKR_USER_ALREADY_LOGGED_IN
// counts as success. The caller keeps ownership of pin.
func (s *Session) Login(user ck.UserType, pin []byte) error {
	return s.wrap("login", s.tok.login(s.m, s.h, credential{user: user, pin: pin}))
}

// LoginUser is Login with a user name (C_LoginUser, PKCS#11 3.0), for
// tokens that tell users apart by name. On a module without the
// function, the error matches ck.CKR_FUNCTION_NOT_SUPPORTED and
// errors.ErrUnsupported. The caller keeps ownership of pin.
func (s *Session) LoginUser(user ck.UserType, pin []byte, username string) error {
	return s.wrap("login", s.tok.login(s.m, s.h, credential{user: user, username: username, pin: pin}))
}

// LoginContext gives the PIN for a key with CKA_ALWAYS_AUTHENTICATE,
// right after the operation's Init call (C_Login with
// CKU_CONTEXT_SPECIFIC). It does not change the token's login state.
// Sign and Decrypt do this themselves with the PIN of SetContextPIN or
// of the session's pool; LoginContext is for operations started through
// the root package's Module.
func (s *Session) LoginContext(pin []byte) error {
	return s.wrap("context-specific login", s.m.Login(s.h, ck.CKU_CONTEXT_SPECIFIC, pin))
}

// Logout logs the token out (C_Logout), for every session.
func (s *Session) Logout() error {
	return s.wrap("logout", s.tok.logout(s.m, s.h))
}

// wrap adds the package prefix and the operation to an error, and marks
// the session lost when the error says the session or its login is gone.
func (s *Session) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if isLost(err) {
		// Whatever was lost, the token's login may be gone with it (the
		// last session closing logs the token out): the next session
		// logs in again, where CKR_USER_ALREADY_LOGGED_IN costs nothing.
		s.lost = true
		s.tok.forget()
	}
	return fmt.Errorf("session: %s: %w", op, err)
}

// lostRVs are the return values after which a session cannot be used
// again: the session, its login or its token is gone.
var lostRVs = []ck.RV{
	ck.CKR_SESSION_HANDLE_INVALID,
	ck.CKR_SESSION_CLOSED,
	ck.CKR_DEVICE_REMOVED,
	ck.CKR_TOKEN_NOT_PRESENT,
	ck.CKR_USER_NOT_LOGGED_IN,
}

// isLost reports whether err means the session can no longer be used.
// A key's refusal of its PIN (ErrKeyPIN) is not: CKR_USER_NOT_LOGGED_IN
// from such a key means that its own login is missing.
func isLost(err error) bool {
	if errors.Is(err, ErrKeyPIN) {
		return false
	}
	var rv ck.RV
	if !errors.As(err, &rv) {
		return false
	}
	for _, l := range lostRVs {
		if rv == l {
			return true
		}
	}
	return false
}

// IsSessionLost reports whether err means that the session it came from
// is gone (closed, logged out, token removed). Pool.Retry uses it to
// decide when a fresh session may help.
func IsSessionLost(err error) bool { return isLost(err) }
