package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// tokenState is the login state of one token, shared by every session and
// pool of the process on it: PKCS#11 keeps one login per token and
// application.
type tokenState struct {
	mu       sync.Mutex
	loggedIn bool
	user     ck.UserType
	username string // the C_LoginUser name of the login, "" for C_Login
	// refused remembers the PINs the token refused, as keyed hashes,
	// so that nothing tries one of them again on its own and uses up
	// the token's tries; another PIN is still tried.
	refused refusals
	// caps is what the token can do, read lazily (mechanisms.go).
	caps tokenCaps
	// alwaysAuth maps the identity of each key used for a signature or
	// decryption (objectKey) to whether it wants a context-specific
	// login (auth.go).
	alwaysAuth sync.Map
}

type tokenKey struct {
	module string
	slot   ck.SlotID
}

var tokens sync.Map // tokenKey -> *tokenState

// tokenFor returns the login state of the token in slot.
func tokenFor(m *pkcs11.Module, slot ck.SlotID) *tokenState {
	k := tokenKey{m.Path(), slot}
	if t, ok := tokens.Load(k); ok {
		return t.(*tokenState)
	}
	t, _ := tokens.LoadOrStore(k, &tokenState{})
	return t.(*tokenState)
}

// credential is what one C_Login or C_LoginUser call is given: the user
// type, the user name (empty for C_Login) and the PIN.
type credential struct {
	user     ck.UserType
	username string
	pin      []byte
}

// login calls C_Login (or C_LoginUser with a user name) and records the
// result. The caller keeps ownership of the PIN.
func (t *tokenState) login(m *pkcs11.Module, h ck.SessionHandle, c credential) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loginLocked(m, h, c)
}

func (t *tokenState) loginLocked(m *pkcs11.Module, h ck.SessionHandle, c credential) error {
	err := callLogin(m, h, c)
	switch {
	case err == nil:
		t.loggedIn, t.user, t.username = true, c.user, c.username
		t.refused.forget(c)
		return nil
	case errors.Is(err, ck.CKR_USER_ALREADY_LOGGED_IN):
		// The token did not check this PIN: a refusal of it stands.
		t.loggedIn, t.user, t.username = true, c.user, c.username
		return nil
	case isRefusal(err):
		t.refused.add(c, err)
	}
	return err
}

// callLogin calls C_LoginUser when c has a user name, else C_Login.
func callLogin(m *pkcs11.Module, h ck.SessionHandle, c credential) error {
	if c.username != "" {
		return m.LoginUser(h, c.user, c.pin, c.username)
	}
	return m.Login(h, c.user, c.pin)
}

// isRefusal reports whether err is the token's refusal of a PIN.
func isRefusal(err error) bool {
	return errors.Is(err, ck.CKR_PIN_INCORRECT) || errors.Is(err, ck.CKR_PIN_LOCKED) ||
		errors.Is(err, ck.CKR_PIN_EXPIRED) || errors.Is(err, ck.CKR_PIN_INVALID) ||
		errors.Is(err, ck.CKR_PIN_LEN_RANGE)
}

// errRefusedBefore heads the error of a PIN that is not tried because
// the token refused it before.
const errRefusedBefore = "not trying a PIN the token refused"

// ensure logs in as user, with the PIN from pin and the user name
// username (C_LoginUser when not empty), unless the token is logged in
// as user already. A PIN the token refused before is not tried again:
// ensure returns that refusal without calling the token, until the PIN
// is accepted through an explicit login or forgiven by forgive. Another
// PIN is tried.
func (t *tokenState) ensure(ctx context.Context, m *pkcs11.Module, h ck.SessionHandle, user ck.UserType, username string, pin PINProvider) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loggedIn && t.user == user && t.username == username {
		return nil
	}
	p, err := pin(ctx)
	if err != nil {
		return fmt.Errorf("getting the PIN: %w", err)
	}
	defer clear(p)
	c := credential{user: user, username: username, pin: p}
	if rerr := t.refused.find(c); rerr != nil {
		return fmt.Errorf("%s: %w", errRefusedBefore, rerr)
	}
	return t.loginLocked(m, h, c)
}

// contextLogin gives pin to the operation just initialized on session h
// (C_Login with CKU_CONTEXT_SPECIFIC), unless the token refused that PIN
// in a context-specific login before. It does not change the token's
// login state. The caller keeps ownership of pin.
func (t *tokenState) contextLogin(m *pkcs11.Module, h ck.SessionHandle, pin []byte) error {
	c := credential{user: ck.CKU_CONTEXT_SPECIFIC, pin: pin}
	t.mu.Lock()
	defer t.mu.Unlock()
	if rerr := t.refused.find(c); rerr != nil {
		return fmt.Errorf("%s: %w", errRefusedBefore, rerr)
	}
	err := m.Login(h, ck.CKU_CONTEXT_SPECIFIC, pin)
	switch {
	case err == nil:
		t.refused.forget(c)
	case isRefusal(err):
		t.refused.add(c, err)
	}
	return err
}

// logout calls C_Logout and records it.
func (t *tokenState) logout(m *pkcs11.Module, h ck.SessionHandle) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loggedIn = false
	err := m.Logout(h)
	if errors.Is(err, ck.CKR_USER_NOT_LOGGED_IN) {
		return nil
	}
	return err
}

// forget records that the token may have lost its login.
func (t *tokenState) forget() {
	t.mu.Lock()
	t.loggedIn = false
	t.mu.Unlock()
}

// forgive allows c's PIN to be tried again after a refusal: the caller
// said it is the PIN to use now.
func (t *tokenState) forgive(c credential) {
	t.mu.Lock()
	t.refused.forget(c)
	t.mu.Unlock()
}

// PINProvider returns the PIN when the pool needs to log in. It returns a
// fresh slice each time: the pool clears it after use. It may prompt a
// person; the context tells how long to wait.
type PINProvider func(ctx context.Context) ([]byte, error)

// refusals is a token's list of refused PINs. It holds no PIN: each is
// kept as an HMAC-SHA-256 under a key drawn at random once per process
// (pinKey), over the user type, the user name and the PIN, so that the
// list tells a refused PIN when it is offered again and nothing else.
// The token's refusal is kept with it, to be reported again.
type refusals struct {
	list []refusal
}

type refusal struct {
	mark pinMark
	err  error
}

// maxRefusals bounds the list; the oldest refusal goes first. A token
// locks its PIN long before that many tries.
const maxRefusals = 32

type pinMark [sha256.Size]byte

var pinKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand)
	return k
})

// markOf returns the keyed hash of c. The input is laid out in a buffer
// of whole SHA-256 blocks, cleared afterwards: the hash then processes
// it in place and keeps no PIN byte in a buffer of its own.
func markOf(c credential) pinMark {
	const block = sha256.BlockSize
	n := 24 + len(c.username) + len(c.pin)
	buf := make([]byte, (n+block-1)/block*block)
	defer clear(buf)
	binary.BigEndian.PutUint64(buf[0:], uint64(c.user))
	binary.BigEndian.PutUint64(buf[8:], uint64(len(c.username)))
	binary.BigEndian.PutUint64(buf[16:], uint64(len(c.pin)))
	copy(buf[24+copy(buf[24:], c.username):], c.pin)
	h := hmac.New(sha256.New, pinKey())
	h.Write(buf)
	var m pinMark
	h.Sum(m[:0])
	return m
}

// find returns the refusal of c's PIN, or nil if it was not refused.
func (r *refusals) find(c credential) error {
	if len(r.list) == 0 {
		return nil
	}
	m := markOf(c)
	for _, e := range r.list {
		if hmac.Equal(e.mark[:], m[:]) {
			return e.err
		}
	}
	return nil
}

// add records that the token refused c's PIN with err.
func (r *refusals) add(c credential, err error) {
	m := markOf(c)
	for i, e := range r.list {
		if e.mark == m {
			r.list[i].err = err
			return
		}
	}
	if len(r.list) == maxRefusals {
		r.list = append(r.list[:0], r.list[1:]...)
	}
	r.list = append(r.list, refusal{m, err})
}

// forget removes c's PIN from the list.
func (r *refusals) forget(c credential) {
	if len(r.list) == 0 {
		return
	}
	m := markOf(c)
	for i, e := range r.list {
		if e.mark == m {
			r.list = append(r.list[:i], r.list[i+1:]...)
			return
		}
	}
}
