package session_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// alphaPool opens a pool on token alpha of m, logged in, closed when the
// test ends.
func alphaPool(t testing.TB, m *pkcs11.Module, opts ...session.Option) *session.Pool {
	t.Helper()
	slot, tok := slotOf(t, m, tokAlpha)
	p, err := session.NewPool(ctx, m, slot, append([]session.Option{session.WithPIN(tok.PIN)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// destroyLater destroys token objects when the test ends, on a session
// of its own: the test's sessions may be gone by then.
func destroyLater(t testing.TB, m *pkcs11.Module, objs ...session.Object) {
	t.Cleanup(func() {
		slot, tok := slotOf(t, m, tokAlpha)
		s, err := session.Open(m, slot, true)
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		if err := s.Login(ck.CKU_USER, tok.PIN); err != nil {
			t.Error(err)
		}
		for _, o := range objs {
			s.Destroy(o.Handle)
		}
	})
}

// tokenKeyEC generates a P-256 token key pair, destroyed when the test
// ends, and returns it with its Go public key.
func tokenKeyEC(t testing.TB, s *session.Session) (pub, priv session.Object, k *ecdsa.PublicKey) {
	t.Helper()
	pub, priv, err := s.GenerateEC("P-256", session.KeyLabel(uniqueLabel(t)))
	require.NoError(t, err)
	destroyLater(t, s.Module(), pub, priv)
	return pub, priv, ecPublic(t, s, pub, elliptic.P256())
}

// verifyECDSA checks an r||s signature over digest with Go.
func verifyECDSA(t testing.TB, k *ecdsa.PublicKey, digest, sig []byte) {
	t.Helper()
	r, s := splitECDSA(t, sig)
	require.True(t, ecdsa.Verify(k, digest, r, s), "Go rejects the token's signature")
}

func TestPoolOneShot(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	pub, priv, k := tokenKeyEC(t, s)
	value := []byte("0123456789abcdef0123456789abcdef")
	aesObj, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES),
		attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_VALUE, value),
		attr(ck.CKA_ENCRYPT, true), attr(ck.CKA_DECRYPT, true), attr(ck.CKA_LABEL, uniqueLabel(t)),
	})
	require.NoError(t, err)
	destroyLater(t, m, aesObj)
	block, err := aes.NewCipher(value)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	iv := []byte("twelve bytes")

	p := alphaPool(t, m)
	slot := s.Slot()
	digest := sha256.Sum256(message)
	var sig []byte
	var found1 session.Object
	run := func() {
		t.Helper()
		sig, err = p.Sign(ctx, priv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		verifyECDSA(t, k, digest[:], sig)
		require.NoError(t, p.Verify(ctx, pub, session.ECDSA(0), digest[:], sig))
		requireRV(t, p.Verify(ctx, pub, session.ECDSA(0), digest[:], flip(sig, 1)), ck.CKR_SIGNATURE_INVALID)

		ct, err := p.Encrypt(ctx, aesObj, session.AESGCM(iv, nil, 128), message)
		require.NoError(t, err)
		assert.Equal(t, gcm.Seal(nil, iv, message, nil), ct)
		pt, err := p.Decrypt(ctx, aesObj, session.AESGCM(iv, nil, 128), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		found, err := p.Find(ctx, []ck.Attribute{attr(ck.CKA_LABEL, priv.Label)})
		require.NoError(t, err)
		assert.Len(t, found, 2)
		one, err := p.FindOne(ctx, []ck.Attribute{attr(ck.CKA_LABEL, priv.Label), attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY)})
		require.NoError(t, err)
		found1 = one
		one.Handle = priv.Handle
		assert.Equal(t, priv, one)
	}
	run()

	// Behind the pool's back, every session closed, which logs the
	// token out: each one-shot operation recovers on a fresh, logged-in
	// session.
	ops := map[string]func() error{
		"sign": func() error {
			sig, err := p.Sign(ctx, priv, session.ECDSA(0), digest[:])
			if err == nil {
				verifyECDSA(t, k, digest[:], sig)
			}
			return err
		},
		"verify": func() error { return p.Verify(ctx, pub, session.ECDSA(0), digest[:], sig) },
		"encrypt": func() error {
			_, err := p.Encrypt(ctx, aesObj, session.AESGCM(iv, nil, 128), message)
			return err
		},
		"decrypt": func() error {
			pt, err := p.Decrypt(ctx, aesObj, session.AESGCM(iv, nil, 128), gcm.Seal(nil, iv, message, nil))
			assert.Equal(t, message, pt)
			return err
		},
		"find": func() error {
			found, err := p.Find(ctx, []ck.Attribute{attr(ck.CKA_LABEL, priv.Label)})
			assert.Len(t, found, 2, "private objects are seen: logged in again")
			return err
		},
	}
	for name, op := range ops {
		require.NoError(t, m.CloseAllSessions(slot))
		before := p.Stats().Replaced
		require.NoError(t, op(), name)
		assert.Greater(t, p.Stats().Replaced, before, name)
	}
	run()
	// SoftHSM forgets the handles of token objects when the
	// application's last session closes: the keys got new handles, and
	// the pool found them again by their identity.
	assert.NotEqual(t, priv.Handle, found1.Handle)
}

func TestPoolFindsMovedKey(t *testing.T) {
	m, log := tracedSoftHSM(t)
	s := userSession(t, m, tokAlpha)
	gk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id, label := []byte(uniqueLabel(t)), uniqueLabel(t)
	// The key as a token object, so that it outlives the session that
	// stored it; storing it again gives it a new handle.
	store := func() session.Object {
		o, err := s.Create([]ck.Attribute{
			attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_EC),
			attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_SENSITIVE, true),
			attr(ck.CKA_SIGN, true), attr(ck.CKA_EC_PARAMS, ecParamsP256()), attr(ck.CKA_VALUE, ecPrivBytes(t, gk)),
			attr(ck.CKA_LABEL, label), attr(ck.CKA_ID, id),
		})
		require.NoError(t, err)
		destroyLater(t, m, o)
		return o
	}
	key := store()
	p := alphaPool(t, m)
	digest := sha256.Sum256(message)
	sign := func(k session.Object) {
		t.Helper()
		sig, err := p.Sign(ctx, k, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		verifyECDSA(t, &gk.PublicKey, digest[:], sig)
	}
	sign(key)

	// Replaced by the same key under a new handle: found again by CKA_ID.
	require.NoError(t, s.Destroy(key.Handle))
	moved := store()
	require.NotEqual(t, key.Handle, moved.Handle)
	log.reset()
	sign(key)
	assert.Equal(t, 2, log.count("C_SignInit"), "the stale handle, then the new one")
	assert.Positive(t, log.count("C_FindObjectsInit"))

	// The pool remembers: the next call goes straight to the new handle.
	log.reset()
	sign(key)
	assert.Equal(t, 1, log.count("C_SignInit"))
	assert.Zero(t, log.count("C_FindObjectsInit"))

	// Moved again, with the sessions closed behind the pool's back too:
	// after a lost session the pool checks the handle before using it,
	// so the only C_SignInit calls are the one on the lost session and
	// the one that works.
	require.NoError(t, s.Destroy(moved.Handle))
	store()
	require.NoError(t, m.CloseAllSessions(s.Slot()))
	log.reset()
	sign(key)
	assert.Equal(t, 2, log.count("C_SignInit"), "%v", log.calls())

	// Gone for good: the handle error and why finding it failed.
	s = userSession(t, m, tokAlpha)
	found, err := s.Find([]ck.Attribute{attr(ck.CKA_ID, id)})
	require.NoError(t, err)
	for _, o := range found {
		require.NoError(t, s.Destroy(o.Handle))
	}
	_, err = p.Sign(ctx, key, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_KEY_HANDLE_INVALID, ck.CKR_OBJECT_HANDLE_INVALID)
	assert.ErrorIs(t, err, session.ErrNotFound)

	// An Object without identity is not looked for.
	_, err = p.Sign(ctx, session.Object{Handle: key.Handle}, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_KEY_HANDLE_INVALID, ck.CKR_OBJECT_HANDLE_INVALID)
	assert.NotErrorIs(t, err, session.ErrNotFound)
}

// ecParamsP256 is CKA_EC_PARAMS of P-256.
func ecParamsP256() []byte {
	c, _ := ck.CurveByName("P-256")
	return c.ECParams()
}

// ecPrivBytes is the private scalar of k, as CKA_VALUE holds it.
func ecPrivBytes(t testing.TB, k *ecdsa.PrivateKey) []byte {
	b, err := k.Bytes()
	require.NoError(t, err)
	return b
}

// TestPoolConcurrentSign is the load test of the pool: 64 goroutines
// share one pool for 10 000 ECDSA P-256 signatures with a token key,
// each verified with crypto/ecdsa.
func TestPoolConcurrentSign(t *testing.T) {
	const goroutines = 64
	total := 10_000
	if testing.Short() {
		total = 1_000
	}
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	_, priv, k := tokenKeyEC(t, s)
	p := alphaPool(t, m)

	start := time.Now()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			var msg [8]byte
			for {
				i := next.Add(1)
				if i > int64(total) {
					return
				}
				binary.BigEndian.PutUint64(msg[:], uint64(i))
				digest := sha256.Sum256(msg[:])
				sig, err := p.Sign(ctx, priv, session.ECDSA(0), digest[:])
				if err != nil {
					failed.Add(1)
					select {
					case errs <- err:
					default:
					}
					continue
				}
				r, sv := splitECDSA(t, sig)
				if !ecdsa.Verify(k, digest[:], r, sv) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Zero(t, failed.Load(), "failed or unverified signatures")
	st := p.Stats()
	assert.Zero(t, st.InUse)
	assert.LessOrEqual(t, st.Open, st.Size)
	t.Logf("%d signatures by %d goroutines in %v (%v each); pool %+v",
		total, goroutines, time.Since(start).Round(time.Millisecond),
		(time.Since(start) / time.Duration(total)).Round(time.Microsecond), st)
}
