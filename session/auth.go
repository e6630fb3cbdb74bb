package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/purepkcs11/pkcs11/ck"
)

// This file gives the PIN to keys with CKA_ALWAYS_AUTHENTICATE, which
// want it for every signature or decryption: right after C_SignInit or
// C_DecryptInit, a C_Login with CKU_CONTEXT_SPECIFIC (PKCS#11 2.40,
// 5.4 and 4.9). Whether a key wants it is read once per key and token
// and kept; a key that answers CKR_USER_NOT_LOGGED_IN right after a
// successful Init is asked again, in case the handle now names another
// key. Such an answer on a key that wants the PIN is the key's refusal,
// not a lost session or login: it is reported, never retried.

// ErrKeyPIN is matched by the error of a signature or decryption with a
// key that wants the PIN for each operation (CKA_ALWAYS_AUTHENTICATE)
// when no PIN was at hand for it or the token did not accept it. Such
// an error does not mean that the session or its login was lost
// ([IsSessionLost] is false), and pools do not retry it.
var ErrKeyPIN = errors.New("the key wants the PIN for each operation (CKA_ALWAYS_AUTHENTICATE)")

// errNoKeyPIN says what to do when no PIN is at hand for a key.
var errNoKeyPIN = errors.New("no PIN for it: give one with Session.SetContextPIN, or use a Pool with a PIN")

// SetContextPIN gives the session the PIN for keys with
// CKA_ALWAYS_AUTHENTICATE: Sign, Decrypt and their multi-part forms then
// log in for such a key right after the operation's Init (C_Login with
// CKU_CONTEXT_SPECIFIC). The session keeps its own copy, cleared by
// Close, by SetContextPIN(nil) and, for a session lent by a pool, when it
// goes back to the pool; the caller may clear pin at once.
//
// A session lent by a pool that logs in as the normal user with a PIN
// (WithPIN, WithPINProvider) uses the pool's PIN when none was set here.
// A PIN the token refused in a context-specific login is not sent again
// on the library's own initiative.
func (s *Session) SetContextPIN(pin []byte) {
	clear(s.contextPIN)
	s.contextPIN = nil
	if pin != nil {
		s.contextPIN = append([]byte{}, pin...)
	}
}

// keyPIN returns a fresh copy of the PIN for a context-specific login,
// which the caller clears.
func (s *Session) keyPIN() ([]byte, error) {
	if s.contextPIN != nil {
		return append([]byte{}, s.contextPIN...), nil
	}
	if s.pool != nil {
		if pin, user := s.pool.pinConfig(); pin != nil && user == ck.CKU_USER {
			ctx := s.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			p, err := pin(ctx)
			if err != nil {
				return nil, fmt.Errorf("getting the PIN: %w", err)
			}
			return p, nil
		}
	}
	return nil, errNoKeyPIN
}

// alwaysAuthenticate reports whether key wants a context-specific login
// for an operation of kind k: read once per key (C_GetAttributeValue of
// CKA_ALWAYS_AUTHENTICATE) and kept with the token's state. Only
// signatures and decryptions ask for it, and public keys never do. A key
// whose attribute cannot be read counts as not wanting it, for now.
func (s *Session) alwaysAuthenticate(k kind, key Object) bool {
	if (k != kindSign && k != kindDecrypt) || key.Class == ck.CKO_PUBLIC_KEY {
		return false
	}
	kk := keyOf(key)
	if v, ok := s.tok.alwaysAuth.Load(kk); ok {
		return v.(bool)
	}
	v, ok := s.readAlwaysAuth(key.Handle)
	if ok {
		s.tok.alwaysAuth.Store(kk, v)
	}
	return v
}

// readAlwaysAuth reads CKA_ALWAYS_AUTHENTICATE of h; ok is false when
// the token could not tell. An object without the attribute does not
// want the login.
func (s *Session) readAlwaysAuth(h ck.ObjectHandle) (v, ok bool) {
	res, err := s.m.GetAttributeValue(s.h, h, []ck.AttributeType{ck.CKA_ALWAYS_AUTHENTICATE})
	if err != nil || len(res) != 1 {
		return false, false
	}
	if res[0].Err != nil {
		return false, errors.Is(res[0].Err, ck.CKR_ATTRIBUTE_TYPE_INVALID)
	}
	b, err := res[0].Bool()
	return b, err == nil
}

// loginForKey logs in for key, whose operation of kind k was just
// initialized (C_Login with CKU_CONTEXT_SPECIFIC). It reports whether
// the login was made: a token that answers CKR_OPERATION_NOT_INITIALIZED
// has no login pending, the key wanting none after all. On failure the
// operation is ended.
func (s *Session) loginForKey(k kind, mech ck.Mechanism, key Object) (bool, error) {
	op := kindNames[k]
	pin, err := s.keyPIN()
	if err != nil {
		s.cancel(k)
		return false, s.keyPINErr(op, mech, key, err)
	}
	err = s.tok.contextLogin(s.m, s.h, pin)
	clear(pin)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ck.CKR_OPERATION_NOT_INITIALIZED):
		s.tok.alwaysAuth.Store(keyOf(key), false)
		return false, nil
	case isLost(err):
		return false, s.opErr(op, mech, key, err)
	}
	s.cancel(k)
	return false, s.keyPINErr(op, mech, key, fmt.Errorf("context-specific login: %w", err))
}

// keyPINErr is opErr for the failures of a key that wants the PIN for
// each operation: they match ErrKeyPIN, and do not mark the session
// lost.
func (s *Session) keyPINErr(op string, mech ck.Mechanism, key Object, err error) error {
	if key.Label != "" {
		return fmt.Errorf("session: %s (%v, key %q): %w: %w", op, mech.Type, key.Label, ErrKeyPIN, err)
	}
	return fmt.Errorf("session: %s (%v): %w: %w", op, mech.Type, ErrKeyPIN, err)
}

// oneShot runs a single-part signature or decryption of data (k is
// kindSign or kindDecrypt): Init, the context-specific login if the key
// wants it, then C_Sign or C_Decrypt. When C_Sign or C_Decrypt answers
// CKR_USER_NOT_LOGGED_IN right after a successful Init without a login
// for the key, the key is asked whether it wants one; if it does, the
// operation runs once more with it.
func (s *Session) oneShot(k kind, mech ck.Mechanism, key Object, data []byte) ([]byte, error) {
	op := kindNames[k]
	auth, err := s.startOp(k, mech, key)
	if err != nil {
		return nil, err
	}
	out, err := s.runOne(k, data)
	if k == kindSign && errors.Is(err, ck.CKR_BUFFER_TOO_SMALL) {
		// A signature longer than the scratch buffer. The operation
		// stays active, as PKCS#11 says: the root layer asks for the
		// size and signs. A token that ended it anyway (NSS does) has
		// it started again.
		out, err = s.m.Sign(s.h, data)
		if errors.Is(err, ck.CKR_OPERATION_NOT_INITIALIZED) {
			if auth, err = s.startOp(k, mech, key); err != nil {
				return nil, err
			}
			out, err = s.m.Sign(s.h, data)
		}
	}
	if err == nil || !errors.Is(err, ck.CKR_USER_NOT_LOGGED_IN) {
		return out, s.opErr(op, mech, key, err)
	}
	if auth {
		return nil, s.keyPINErr(op, mech, key, err)
	}
	if v, ok := s.readAlwaysAuth(key.Handle); !ok || !v {
		return nil, s.opErr(op, mech, key, err)
	}
	s.tok.alwaysAuth.Store(keyOf(key), true)
	if auth, err = s.startOp(k, mech, key); err != nil {
		return nil, err
	}
	out, err = s.runOne(k, data)
	if auth && errors.Is(err, ck.CKR_USER_NOT_LOGGED_IN) {
		return nil, s.keyPINErr(op, mech, key, err)
	}
	return out, s.opErr(op, mech, key, err)
}

// runOne is the single-part call of kind k, C_Sign or C_Decrypt. C_Sign
// writes into a pooled scratch buffer large enough for nearly every
// signature, in one call: a size query first would cost one more call,
// a round trip on a network HSM. A longer signature fails with
// CKR_BUFFER_TOO_SMALL, which oneShot handles.
func (s *Session) runOne(k kind, data []byte) ([]byte, error) {
	if k != kindSign {
		return s.m.Decrypt(s.h, data)
	}
	buf := signScratch.Get().(*[]byte)
	defer signScratch.Put(buf)
	if len(*buf) != signScratchSize {
		*buf = make([]byte, signScratchSize)
	}
	sig, err := s.m.SignInto(s.h, data, *buf)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(sig), nil
}

// signScratchSize holds any RSA signature up to 16384-bit keys, ECDSA,
// EdDSA and ML-DSA signatures; SLH-DSA's largest do not fit. Tests
// lower it to show what a longer signature does.
var signScratchSize = 8 << 10

var signScratch = sync.Pool{New: func() any { return new([]byte) }}
