package session

import (
	"context"
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
	// badPIN remembers that the PIN given for this token was refused, so
	// that nothing tries it again and uses up the token's tries.
	badPIN error
	// caps is what the token can do, read lazily (mechanisms.go).
	caps tokenCaps
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

// login calls C_Login (or C_LoginUser with a user name) and records the
// result. The caller keeps ownership of pin.
func (t *tokenState) login(m *pkcs11.Module, h ck.SessionHandle, user ck.UserType, pin []byte, username string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loginLocked(m, h, user, pin, username)
}

func (t *tokenState) loginLocked(m *pkcs11.Module, h ck.SessionHandle, user ck.UserType, pin []byte, username string) error {
	var err error
	if username != "" {
		err = m.LoginUser(h, user, pin, username)
	} else {
		err = m.Login(h, user, pin)
	}
	switch {
	case err == nil, errors.Is(err, ck.CKR_USER_ALREADY_LOGGED_IN):
		t.loggedIn, t.user, t.badPIN = true, user, nil
		return nil
	case errors.Is(err, ck.CKR_PIN_INCORRECT), errors.Is(err, ck.CKR_PIN_LOCKED),
		errors.Is(err, ck.CKR_PIN_EXPIRED), errors.Is(err, ck.CKR_PIN_INVALID),
		errors.Is(err, ck.CKR_PIN_LEN_RANGE):
		t.badPIN = err
	}
	return err
}

// ensure logs in with the PIN from pin unless the token is logged in as
// user already. A PIN refused before is not tried again: ensure returns
// that refusal until setPIN clears it.
func (t *tokenState) ensure(ctx context.Context, m *pkcs11.Module, h ck.SessionHandle, user ck.UserType, pin PINProvider) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loggedIn && t.user == user {
		return nil
	}
	if t.badPIN != nil {
		return fmt.Errorf("not trying a PIN the token refused: %w", t.badPIN)
	}
	p, err := pin(ctx)
	if err != nil {
		return fmt.Errorf("getting the PIN: %w", err)
	}
	defer clear(p)
	return t.loginLocked(m, h, user, p, "")
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

// clearBadPIN allows logging in again after a new PIN was supplied.
func (t *tokenState) clearBadPIN() {
	t.mu.Lock()
	t.badPIN = nil
	t.mu.Unlock()
}

// PINProvider returns the PIN when the pool needs to log in. It returns a
// fresh slice each time: the pool clears it after use. It may prompt a
// person; the context tells how long to wait.
type PINProvider func(ctx context.Context) ([]byte, error)
