package x509hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// The signing keys are generated on token work once per process, as
// key pairs without certificates (so their entries have synthetic
// ones); EC keys may derive, for ECDH.
var workKeys = []struct{ label, curve string }{
	{"sig-rsa", "RSA"},
	{"sig-p256", "P-256"},
	{"sig-p384", "P-384"},
	{"sig-p521", "P-521"},
	{"sig-k1", "secp256k1"},
	{"sig-ed25519", "Ed25519"},
}

var (
	workOnce sync.Once
	workErr  error
)

// signers opens a store of token work holding the signing keys.
func signers(t *testing.T, m *pkcs11.Module) *x509hsm.Store {
	t.Helper()
	workOnce.Do(func() {
		workErr = errors.New("signing keys not made")
		ok := t.Run("keys", func(t *testing.T) {
			s := userSession(t, m, x509hsm.TokWork)
			for _, k := range workKeys {
				opts := []session.KeyOption{session.KeyLabel(k.label)}
				var err error
				switch k.curve {
				case "RSA":
					_, _, err = s.GenerateRSA(2048, opts...)
				case "Ed25519":
					_, _, err = s.GenerateEd25519(opts...)
				default:
					_, _, err = s.GenerateEC(k.curve, append(opts, session.KeyAttributes(attr(ck.CKA_DERIVE, true)))...)
				}
				require.NoError(t, err, k.label)
			}
		})
		if ok {
			workErr = nil
		}
	})
	require.NoError(t, workErr)
	return workStore(t, m)
}

func entry(t testing.TB, s *x509hsm.Store, label string) *x509hsm.Entry {
	t.Helper()
	e, err := s.FindOne(x509hsm.ByLabel(label))
	require.NoError(t, err)
	return e
}

func digest(h crypto.Hash, msg []byte) []byte {
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

func TestSignRSA(t *testing.T) {
	m := softhsm(t)
	s := signers(t, m)
	e := entry(t, s, "sig-rsa")
	pub := e.Public().(*rsa.PublicKey)
	sg := e.Signer()

	t.Run("PKCS1v15", func(t *testing.T) {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			sig, err := sg.Sign(rand.Reader, digest(h, message), h)
			require.NoError(t, err, h)
			require.NoError(t, rsa.VerifyPKCS1v15(pub, h, digest(h, message), sig), h)

			sig, err = crypto.SignMessage(sg, rand.Reader, message, h)
			require.NoError(t, err, h)
			require.NoError(t, rsa.VerifyPKCS1v15(pub, h, digest(h, message), sig), h)
		}
		// Hash 0 signs the data as given, as rsa.SignPKCS1v15 does.
		sig, err := sg.Sign(nil, []byte("raw data"), crypto.Hash(0))
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(pub, 0, []byte("raw data"), sig))
	})

	t.Run("PSS", func(t *testing.T) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			for _, c := range []struct {
				name         string
				sign, verify int
			}{
				{"equal to hash", rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthEqualsHash},
				{"auto", rsa.PSSSaltLengthAuto, 256 - h.Size() - 2},
				{"auto verified auto", rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthAuto},
				{"explicit", 20, 20},
			} {
				opts := &rsa.PSSOptions{SaltLength: c.sign, Hash: h}
				sig, err := sg.Sign(nil, digest(h, message), opts)
				require.NoError(t, err, "%v %s", h, c.name)
				require.NoError(t, rsa.VerifyPSS(pub, h, digest(h, message), sig, &rsa.PSSOptions{SaltLength: c.verify}), "%v %s", h, c.name)
			}
		}
		_, err := sg.Sign(nil, digest(crypto.SHA256, message), &rsa.PSSOptions{SaltLength: 1000, Hash: crypto.SHA256})
		require.Error(t, err)
		_, err = sg.Sign(nil, digest(crypto.SHA256, message), &rsa.PSSOptions{SaltLength: -7, Hash: crypto.SHA256})
		require.Error(t, err)
	})

	t.Run("hash on token", func(t *testing.T) {
		sgt := e.Signer(x509hsm.HashOnToken())
		sig, err := sgt.SignMessage(nil, message, crypto.SHA384)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA384, digest(crypto.SHA384, message), sig))
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err = sgt.SignMessage(nil, message, opts)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, digest(crypto.SHA256, message), sig, opts))
	})

	t.Run("bad digest", func(t *testing.T) {
		tm, log := tracedSoftHSM(t)
		ts := workStore(t, tm)
		te := entry(t, ts, "sig-rsa")
		_, err := te.Signer().Sign(nil, digest(crypto.SHA256, message), crypto.SHA256) // links the key
		require.NoError(t, err)
		log.reset()
		for _, opts := range []crypto.SignerOpts{crypto.SHA256, &rsa.PSSOptions{Hash: crypto.SHA384}} {
			_, err := te.Signer().Sign(nil, make([]byte, 20), opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "digest of 20 bytes")
		}
		assert.Zero(t, log.count("C_SignInit")+log.count("C_Sign"), "%v", log.calls())
	})

	t.Run("decrypt", func(t *testing.T) {
		d := e.Decrypter()
		assert.Equal(t, e.Public(), d.Public())
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, message)
		require.NoError(t, err)
		pt, err := d.Decrypt(nil, ct, nil)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		pt, err = d.Decrypt(nil, ct, &rsa.PKCS1v15DecryptOptions{})
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		// A session key of the right length comes back; a wrong
		// ciphertext gives random bytes and no error.
		key := []byte("0123456789abcdef")
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, pub, key)
		require.NoError(t, err)
		got, err := d.Decrypt(nil, ct, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16})
		require.NoError(t, err)
		assert.Equal(t, key, got)
		bad := bytes.Clone(ct)
		bad[0] ^= 0xff
		got, err = d.Decrypt(nil, bad, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16})
		require.NoError(t, err)
		assert.Len(t, got, 16)
		assert.NotEqual(t, key, got)
		got, err = d.Decrypt(nil, ct, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 24})
		require.NoError(t, err)
		assert.Len(t, got, 24)

		// OAEP: SoftHSM 2.6 takes SHA-1 without a label only (SHA-256
		// and labels are tested on NSS).
		ct, err = rsa.EncryptOAEP(sha1New(), rand.Reader, pub, message, nil)
		require.NoError(t, err)
		pt, err = d.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA1})
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		_, err = d.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
		require.Error(t, err)
		_, err = d.Decrypt(nil, ct, struct{}{})
		require.Error(t, err)
	})
}

func sha1New() interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
	Size() int
	BlockSize() int
} {
	return crypto.SHA1.New()
}

func TestSignECDSA(t *testing.T) {
	m := softhsm(t)
	s := signers(t, m)
	for _, c := range []struct {
		label string
		alg   string
		hash  crypto.Hash
	}{
		{"sig-p256", "ES256", crypto.SHA256},
		{"sig-p384", "ES384", crypto.SHA384},
		{"sig-p521", "ES512", crypto.SHA512},
	} {
		t.Run(c.label, func(t *testing.T) {
			e := entry(t, s, c.label)
			pub := e.Public().(*ecdsa.PublicKey)
			sg := e.Signer()
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				sig, err := sg.Sign(rand.Reader, digest(h, message), h)
				require.NoError(t, err, h)
				assert.True(t, ecdsa.VerifyASN1(pub, digest(h, message), sig), h)
				sig, err = crypto.SignMessage(sg, rand.Reader, message, h)
				require.NoError(t, err, h)
				assert.True(t, ecdsa.VerifyASN1(pub, digest(h, message), sig), h)
			}
			// SoftHSM has no CKM_ECDSA_SHA*: refused before any call.
			_, err := e.Signer(x509hsm.HashOnToken()).SignMessage(nil, message, c.hash)
			require.ErrorIs(t, err, ck.CKR_MECHANISM_INVALID)
			var me *session.MechanismError
			require.ErrorAs(t, err, &me)

			// JWS: fixed-width r||s.
			assert.Equal(t, c.alg, e.JWSAlgorithm())
			sig, err := e.Sign(message)
			require.NoError(t, err)
			n := (pub.Curve.Params().BitSize + 7) / 8
			require.Len(t, sig, 2*n)
			r, ss := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
			assert.True(t, ecdsa.Verify(pub, digest(c.hash, message), r, ss))
			require.NoError(t, e.Verify(message, sig))
			require.ErrorIs(t, e.Verify(append([]byte("x"), message...), sig), x509hsm.ErrVerification)
			require.ErrorIs(t, e.Verify(message, sig[1:]), x509hsm.ErrVerification)
			require.Error(t, e.SetJWSAlgorithm("RS256"))
			require.Error(t, e.SetJWSAlgorithm("ES256K"))
			require.Error(t, e.SetJWSAlgorithm("HS256"))

			// The signature of a key that can derive is no different;
			// ECDH on the token equals crypto/ecdh.
			curve := map[string]ecdh.Curve{"P-256": ecdh.P256(), "P-384": ecdh.P384(), "P-521": ecdh.P521()}[pub.Curve.Params().Name]
			peer, err := curve.GenerateKey(rand.Reader)
			require.NoError(t, err)
			got, err := e.ECDH(peer.PublicKey())
			require.NoError(t, err)
			tokenPub, err := pub.ECDH()
			require.NoError(t, err)
			want, err := peer.ECDH(tokenPub)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			other, err := ecdh.X25519().GenerateKey(rand.Reader)
			require.NoError(t, err)
			_, err = e.ECDH(other.PublicKey())
			require.Error(t, err)

			_, err = e.Decrypter().Decrypt(nil, []byte("x"), nil)
			require.Error(t, err)
		})
	}
}

func TestSignEd25519(t *testing.T) {
	m := softhsm(t)
	s := signers(t, m)
	e := entry(t, s, "sig-ed25519")
	pub := e.Public().(ed25519.PublicKey)
	sg := e.Signer()

	sig, err := sg.Sign(nil, message, crypto.Hash(0))
	require.NoError(t, err)
	assert.True(t, ed25519.Verify(pub, message, sig))
	sig, err = crypto.SignMessage(sg, nil, message, crypto.Hash(0))
	require.NoError(t, err)
	assert.True(t, ed25519.Verify(pub, message, sig))
	sig, err = sg.Sign(nil, message, &ed25519.Options{})
	require.NoError(t, err)
	assert.True(t, ed25519.Verify(pub, message, sig))

	_, err = sg.Sign(nil, digest(crypto.SHA512, message), &ed25519.Options{Hash: crypto.SHA512})
	require.Error(t, err)
	_, err = sg.Sign(nil, message, &ed25519.Options{Context: "ctx"})
	require.Error(t, err)

	assert.Equal(t, "EdDSA", e.JWSAlgorithm())
	jws, err := e.Sign(message)
	require.NoError(t, err)
	assert.True(t, ed25519.Verify(pub, message, jws))
	require.NoError(t, e.Verify(message, jws))
	require.ErrorIs(t, e.Verify(message[1:], jws), x509hsm.ErrVerification)
	_, err = e.ECDH(nil)
	require.Error(t, err)
}

func TestSignSecp256k1(t *testing.T) {
	m := softhsm(t)
	s := signers(t, m)
	e := entry(t, s, "sig-k1")
	require.IsType(t, &x509hsm.ECPublicKey{}, e.Public())

	// Go cannot verify secp256k1: the token verifies the JWS, and
	// openssl the ASN.1 signature of Signer.
	assert.Equal(t, "ES256K", e.JWSAlgorithm())
	sig, err := e.Sign(message)
	require.NoError(t, err)
	require.Len(t, sig, 64)
	require.NoError(t, e.Verify(message, sig))
	bad := bytes.Clone(sig)
	bad[10] ^= 1
	require.ErrorIs(t, e.Verify(message, bad), x509hsm.ErrVerification)

	der, err := e.Signer().Sign(nil, digest(crypto.SHA256, message), crypto.SHA256)
	require.NoError(t, err)
	opensslVerify(t, e.Certificate().RawSubjectPublicKeyInfo, message, der, "dgst", "-sha256")

	// crypto/x509 cannot make a CSR for it.
	_, err = e.CreateCSR(nil)
	require.Error(t, err)
}

// TestJWS signs with every JOSE algorithm and checks the compact form
// independently of this package.
func TestJWS(t *testing.T) {
	m := softhsm(t)
	s := signers(t, m)
	rsaE := entry(t, s, "sig-rsa")
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		require.NoError(t, rsaE.SetJWSAlgorithm(alg))
		assert.Equal(t, alg, rsaE.JWSAlgorithm())
		sig, err := rsaE.Sign(message)
		require.NoError(t, err, alg)
		require.NoError(t, rsaE.Verify(message, sig), alg)
		require.ErrorIs(t, rsaE.Verify(message[1:], sig), x509hsm.ErrVerification, alg)
	}
	require.Error(t, rsaE.SetJWSAlgorithm("ES256"))
	require.Error(t, rsaE.SetJWSAlgorithm("EdDSA"))
	assert.Contains(t, x509hsm.JWSAlgorithms(), "ES256K")

	// An ES256 JWT in compact form, verified with crypto/ecdsa alone.
	e := entry(t, s, "sig-p256")
	b64 := base64.RawURLEncoding
	signingInput := b64.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." +
		b64.EncodeToString([]byte(`{"sub":"1234567890","name":"token"}`))
	sig, err := e.Sign([]byte(signingInput))
	require.NoError(t, err)
	jwt := signingInput + "." + b64.EncodeToString(sig)

	parts := bytes.Split([]byte(jwt), []byte("."))
	require.Len(t, parts, 3)
	raw, err := b64.DecodeString(string(parts[2]))
	require.NoError(t, err)
	require.Len(t, raw, 64)
	h := sha256.Sum256(bytes.Join(parts[:2], []byte(".")))
	r, ss := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
	assert.True(t, ecdsa.Verify(e.Public().(*ecdsa.PublicKey), h[:], r, ss))
}

// TestOpenSSL verifies signatures of token keys with the openssl
// command.
func TestOpenSSL(t *testing.T) {
	m := softhsm(t)
	s := signers(t, m)
	spki := func(e *x509hsm.Entry) []byte {
		b, err := x509.MarshalPKIXPublicKey(e.Public())
		require.NoError(t, err)
		return b
	}

	rsaE := entry(t, s, "sig-rsa")
	sig, err := rsaE.Signer().Sign(nil, digest(crypto.SHA256, message), crypto.SHA256)
	require.NoError(t, err)
	opensslVerify(t, spki(rsaE), message, sig, "dgst", "-sha256")

	sig, err = rsaE.Signer().Sign(nil, digest(crypto.SHA384, message), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384})
	require.NoError(t, err)
	opensslVerify(t, spki(rsaE), message, sig, "dgst", "-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1")

	p384 := entry(t, s, "sig-p384")
	sig, err = p384.Signer().Sign(nil, digest(crypto.SHA384, message), crypto.SHA384)
	require.NoError(t, err)
	opensslVerify(t, spki(p384), message, sig, "dgst", "-sha384")

	ed := entry(t, s, "sig-ed25519")
	sig, err = ed.Signer().Sign(nil, message, crypto.Hash(0))
	require.NoError(t, err)
	opensslVerify(t, spki(ed), message, sig, "pkeyutl", "-rawin")
}

// opensslVerify runs openssl to verify sig over msg with the public key
// of SubjectPublicKeyInfo spki: "dgst -<hash>" or "pkeyutl -rawin".
func opensslVerify(t *testing.T, spki, msg, sig []byte, cmd string, args ...string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openssl is required in CI: %v", err)
		}
		t.Skipf("openssl is missing (.ci/setup installs it): %v", err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	pub := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	msgF, sigF := write("msg", msg), write("sig", sig)
	var argv []string
	if cmd == "dgst" {
		argv = append(append([]string{"dgst"}, args...), "-verify", pub, "-signature", sigF, msgF)
	} else {
		argv = append(append([]string{"pkeyutl", "-verify", "-pubin", "-inkey", pub}, args...), "-in", msgF, "-sigfile", sigF)
	}
	c, cancel := context.WithTimeout(ctx, 30*1e9)
	defer cancel()
	out, err := exec.CommandContext(c, openssl, argv...).CombinedOutput()
	require.NoError(t, err, "openssl %v: %s", argv, out)
	assert.Contains(t, string(out), "Verified", "openssl %v", argv)
}

// callLog records the C functions a Module calls, through the root
// package's tracing logger.
type callLog struct {
	mu    sync.Mutex
	funcs []string
}

func (l *callLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *callLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *callLog) WithGroup(string) slog.Handler            { return l }

func (l *callLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "func" {
			l.mu.Lock()
			l.funcs = append(l.funcs, a.Value.String())
			l.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

func (l *callLog) reset() {
	l.mu.Lock()
	l.funcs = nil
	l.mu.Unlock()
}

func (l *callLog) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.funcs...)
}

func (l *callLog) count(fn string) int {
	n := 0
	for _, f := range l.calls() {
		if f == fn {
			n++
		}
	}
	return n
}

// tracedSoftHSM opens SoftHSM with a logger that records every call.
// It shares the instance the other tests load.
func tracedSoftHSM(t testing.TB) (*pkcs11.Module, *callLog) {
	t.Helper()
	softhsm(t)
	hsm, _ := x509hsm.SoftHSMForTest()
	l := &callLog{}
	m, err := pkcs11.Open(hsm.Lib, pkcs11.WithLogger(slog.New(l)))
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m, l
}

// TestSignerConcurrent signs from many goroutines through one Signer,
// then closes every session of the token behind the store's back (which
// also logs the token out) and signs again from many goroutines: the
// pool replaces the lost sessions and logs in again with the PIN the
// store keeps, and no signature fails. The sessions are closed while
// idle: closing a session another thread is using is outside PKCS#11
// (SoftHSM crashes).
func TestSignerConcurrent(t *testing.T) {
	m, log := tracedSoftHSM(t)
	s := signers(t, m)
	e := entry(t, s, "sig-p256")
	pub := e.Public().(*ecdsa.PublicKey)
	sg := e.Signer()
	d := digest(crypto.SHA256, message)

	run := func() {
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					sig, err := sg.Sign(nil, d, crypto.SHA256)
					if err == nil && !ecdsa.VerifyASN1(pub, d, sig) {
						err = errors.New("signature does not verify")
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	run()
	require.NoError(t, m.CloseAllSessions(e.SlotID()))
	log.reset()
	run()
	// Each goroutine that found its session lost marks the login lost
	// (session's Pool does), possibly after another already logged in
	// again: the extra C_Logins are answered CKR_USER_ALREADY_LOGGED_IN.
	n := log.count("C_Login")
	assert.GreaterOrEqual(t, n, 1)
	assert.LessOrEqual(t, n, 8, "at most one login per goroutine")
}

// TestAlwaysAuthenticate signs and decrypts with keys that want the PIN
// again for every operation (CKA_ALWAYS_AUTHENTICATE): the session pool
// under the Signer and Decrypter logs in for each one with the PIN the
// store keeps, so they work like any other key, from several goroutines.
func TestAlwaysAuthenticate(t *testing.T) {
	m := softhsm(t)
	raw := userSession(t, m, x509hsm.TokWork)
	always := session.KeyAttributes(attr(ck.CKA_ALWAYS_AUTHENTICATE, true))
	_, _, err := raw.GenerateEC("P-256", session.KeyLabel("always-p256"), always)
	require.NoError(t, err)
	_, _, err = raw.GenerateRSA(2048, session.KeyLabel("always-rsa"), always,
		session.KeyAttributes(attr(ck.CKA_DECRYPT, true)), session.PublicKeyAttributes(attr(ck.CKA_ENCRYPT, true)))
	require.NoError(t, err)

	s := workStore(t, m)
	msg := []byte("signed with the PIN given again")
	d := digest(crypto.SHA256, msg)

	ec := entry(t, s, "always-p256")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				sig, err := ec.Signer().Sign(rand.Reader, d, crypto.SHA256)
				if assert.NoError(t, err) {
					assert.True(t, ecdsa.VerifyASN1(ec.Public().(*ecdsa.PublicKey), d, sig))
				}
			}
		})
	}
	wg.Wait()

	r := entry(t, s, "always-rsa")
	pub := r.Public().(*rsa.PublicKey)
	sig, err := r.Signer().Sign(rand.Reader, d, crypto.SHA256)
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig))
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
	require.NoError(t, err)
	pt, err := r.Decrypter().Decrypt(rand.Reader, ct, nil)
	require.NoError(t, err)
	assert.Equal(t, msg, pt)

	// Without a PIN the store cannot give one again: the error says so.
	bare, err := openStore(t, m, x509hsm.WithTokens(token.Label(x509hsm.TokWork)))
	require.NoError(t, err)
	_, err = entry(t, bare, "always-p256").Signer().Sign(rand.Reader, d, crypto.SHA256)
	require.Error(t, err)
	assert.ErrorIs(t, err, x509hsm.ErrNoPIN)
}
