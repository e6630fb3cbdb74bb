package session

import (
	"context"
	"errors"

	"github.com/purepkcs11/pkcs11/ck"
)

// This file holds the pool's one-shot operations: each borrows a session,
// runs one operation that is safe to repeat, and recovers from what can
// go wrong between calls without the caller's help. A lost session or
// login is replaced and the operation run again (Pool.Retry). A key
// whose handle no longer names it (CKR_OBJECT_HANDLE_INVALID or
// CKR_KEY_HANDLE_INVALID, after the token was initialized again, the key
// replaced, the token logged out, or on modules whose handles are per
// session) is found again by its identity (Session.Resolve), logged in
// again first if the session shows the login gone, and the operation run
// once more with it; the pool remembers the new handle for the next calls
// with the same Object.

// objectKey is an Object as a map key.
type objectKey struct {
	handle              ck.ObjectHandle
	class               ck.ObjectClass
	keyType             ck.KeyType
	id, label, uniqueID string
}

func keyOf(o Object) objectKey {
	return objectKey{o.Handle, o.Class, o.KeyType, string(o.ID), o.Label, o.UniqueID}
}

// current returns the Object key was last found again as, or key.
func (p *Pool) current(key Object) Object {
	if v, ok := p.moved.Load(keyOf(key)); ok {
		return v.(Object)
	}
	return key
}

// withKey runs fn with a pooled session and key, through Retry, and
// finds key again when its handle went stale.
//
// When the first session was lost, the handles may have changed with
// it (SoftHSM renumbers them when the last session closes; a module
// that starts again may give an old handle to another object), so the
// second attempt first checks that the handle still names key
// (Session.Resolve: one C_GetAttributeValue). Otherwise handles are
// trusted, and a stale one shows in the operation's error.
func (p *Pool) withKey(ctx context.Context, key Object, fn func(*Session, Object) error) error {
	attempt := 0
	return p.Retry(ctx, func(s *Session) error {
		attempt++
		k := p.current(key)
		if attempt > 1 && resolvable(key) {
			r, err := s.Resolve(k)
			if err != nil {
				return err
			}
			if r.Handle != k.Handle {
				p.moved.Store(keyOf(key), r)
			}
			k = r
		}
		err := fn(s, k)
		if err == nil || !isHandleInvalid(err) || !resolvable(key) {
			return err
		}
		// A private key's handle also stops working when the token
		// logged out behind the pool's back: SoftHSM says
		// CKR_OBJECT_HANDLE_INVALID then, not CKR_USER_NOT_LOGGED_IN,
		// and the key is found again only once logged in.
		if lerr := p.relogin(ctx, s); lerr != nil {
			return errors.Join(err, lerr)
		}
		r, rerr := s.refind(key)
		if rerr != nil {
			return errors.Join(err, rerr)
		}
		p.moved.Store(keyOf(key), r)
		return fn(s, r)
	})
}

// Sign signs data with key on a pooled session (Session.Sign: C_SignInit,
// C_Sign), recovering as described above. A key with
// CKA_ALWAYS_AUTHENTICATE is given the pool's PIN after C_SignInit
// (C_Login with CKU_CONTEXT_SPECIFIC); a refusal is reported, matching
// ErrKeyPIN, and not retried.
func (p *Pool) Sign(ctx context.Context, key Object, mech ck.Mechanism, data []byte) ([]byte, error) {
	var sig []byte
	err := p.withKey(ctx, key, func(s *Session, k Object) error {
		var err error
		sig, err = s.Sign(k, mech, data)
		return err
	})
	return sig, err
}

// Verify checks sig over data with key on a pooled session
// (Session.Verify: C_VerifyInit, C_Verify), recovering as described
// above. A nil error means the signature is valid.
func (p *Pool) Verify(ctx context.Context, key Object, mech ck.Mechanism, data, sig []byte) error {
	return p.withKey(ctx, key, func(s *Session, k Object) error {
		return s.Verify(k, mech, data, sig)
	})
}

// Encrypt encrypts data with key on a pooled session (Session.Encrypt:
// C_EncryptInit, C_Encrypt), recovering as described above. Running it
// twice with the same mechanism gives the same result with a given IV,
// or a fresh one with a generated IV: either is safe to repeat.
func (p *Pool) Encrypt(ctx context.Context, key Object, mech ck.Mechanism, data []byte) ([]byte, error) {
	var out []byte
	err := p.withKey(ctx, key, func(s *Session, k Object) error {
		var err error
		out, err = s.Encrypt(k, mech, data)
		return err
	})
	return out, err
}

// Decrypt decrypts data with key on a pooled session (Session.Decrypt:
// C_DecryptInit, C_Decrypt), recovering as described above. A key with
// CKA_ALWAYS_AUTHENTICATE gets the pool's PIN as in Sign.
func (p *Pool) Decrypt(ctx context.Context, key Object, mech ck.Mechanism, data []byte) ([]byte, error) {
	var out []byte
	err := p.withKey(ctx, key, func(s *Session, k Object) error {
		var err error
		out, err = s.Decrypt(k, mech, data)
		return err
	})
	return out, err
}

// Find returns every object matching template on a pooled session
// (Session.Find: C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,
// C_GetAttributeValue), on a fresh session if the first was lost.
func (p *Pool) Find(ctx context.Context, template []ck.Attribute) ([]Object, error) {
	var out []Object
	err := p.Retry(ctx, func(s *Session) error {
		var err error
		out, err = s.Find(template)
		return err
	})
	return out, err
}

// FindOne returns the one object matching template on a pooled session
// (Session.FindOne: the functions of Find), on a fresh session if the
// first was lost.
func (p *Pool) FindOne(ctx context.Context, template []ck.Attribute) (Object, error) {
	var out Object
	err := p.Retry(ctx, func(s *Session) error {
		var err error
		out, err = s.FindOne(template)
		return err
	})
	return out, err
}
