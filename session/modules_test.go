package session_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/session"
)

// This file runs the key generation, signing and encryption suite of
// this package against the modules that need daemons, which
// `.ci/modules start` sets up (internal/p11test.OpenCryptoki, TPM2):
// opencryptoki's software token and tpm2-pkcs11 on a software TPM.
// TestNSS (nss_test.go) runs it against NSS softokn too, on every run,
// since NSS needs no daemon. The suite is one table; each case names the mechanisms it needs and is
// skipped, saying which, when the token's own mechanism list lacks one.
// Everything else runs, each result checked with Go's crypto, and what a
// module does differently from the others is written down in its
// moduleQuirks and checked as it is, so that a change shows.
//
// Both modules keep one instance per process, initialized by the first
// Open; tpm2-pkcs11 reads TPM2_PKCS11_TCTI and TPM2_PKCS11_STORE from the
// environment then. The variables come from .ci/modules, before the test
// process starts.

// moduleQuirks is what one module does differently, as measured.
type moduleQuirks struct {
	// ecKeyOptions are added to every EC key generation.
	ecKeyOptions []session.KeyOption
	// ecPrivateDecrypt is CKA_DECRYPT of a generated EC private key.
	ecPrivateDecrypt bool
	// brokenCurves maps a curve whose keys can be generated but not used
	// to the return value of C_SignInit with them.
	brokenCurves map[string]ck.RV
	// rsaOnlyPublicImport: C_CreateObject takes RSA public keys and data
	// objects only, so keys of known value cannot be imported.
	rsaOnlyPublicImport bool
	// oaepLabel checks RSA-OAEP with a label; nil when labels work as
	// everywhere else.
	oaepLabel func(t *testing.T, s *session.Session, priv session.Object, k *rsa.PublicKey)
	// noKeyGen maps a mechanism the token lists but whose C_GenerateKey
	// fails to the return value; the key .ci/modules made (Keys[kind])
	// is used instead.
	noKeyGen map[ck.MechanismType]ck.RV
	// cbcPadDecrypt checks CKM_AES_CBC_PAD decryption of ct, the
	// encryption of pt in blocks of 16 bytes, when it does not work as
	// everywhere else.
	cbcPadDecrypt func(t *testing.T, s *session.Session, key session.Object, mech ck.Mechanism, pt, ct []byte)
	// ctrWholeBlocks: CKM_AES_CTR takes whole blocks only, and says
	// this return value to others.
	ctrWholeBlocks ck.RV
	// busyAfterFailure: a key with which an operation failed stays in
	// use, and C_DestroyObject refuses it with this return value, until
	// the process ends; the next run destroys it.
	busyAfterFailure ck.RV
}

// testLabel is the label of every object the suite makes, so that
// objects left by a run that was killed are found and destroyed.
const testLabel = "purepkcs11 session test"

// moduleRun is the state of the suite on one module.
type moduleRun struct {
	ext *p11test.External
	m   *pkcs11.Module
	p   *session.Pool
	q   moduleQuirks

	// The keys cases share, made by the cases that generate them.
	rsaPub, rsaPriv session.Object
	rsaKey          *rsa.PublicKey
	ecKeys          map[string]ecKeyPair
	aesKey          session.Object
	aesValue        []byte // nil when unknown
	hmacKey         session.Object
	hmacValue       []byte // nil when unknown

	ran, skipped []string
}

type ecKeyPair struct {
	pub, priv session.Object
	k         *ecdsa.PublicKey
}

// moduleCase is one row of the suite.
type moduleCase struct {
	name  string
	needs []ck.MechanismType
	run   func(t *testing.T, x *moduleRun, s *session.Session)
}

func TestOpenCryptoki(t *testing.T) {
	ext, err := p11test.OpenCryptoki()
	p11test.RequireExternal(t, "opencryptoki", err)
	x := openExternal(t, ext)
	info, err := x.m.GetInfo()
	require.NoError(t, err)
	// opencryptoki 3.8 speaks Cryptoki 2.20 and says 2.1 in its
	// function list; its PINs are 4 to 8 characters.
	assert.Equal(t, ck.Version{Major: 2, Minor: 20}, info.CryptokiVersion)
	assert.Equal(t, ck.Version{Major: 2, Minor: 1}, x.m.Interface().Version)
	ti := x.tokenInfo(t)
	assert.Equal(t, uint64(4), ti.MinPinLen)
	assert.Equal(t, uint64(8), ti.MaxPinLen)

	// opencryptoki 3.8.1 copies the CK_RSA_PKCS_OAEP_PARAMS at
	// C_DecryptInit but not the label it points to, and reads the label
	// in C_Decrypt: the library keeps the parameter's memory until the
	// operation's end for such modules, and the common label case runs.
	x.run(t)
}

func TestTPM2(t *testing.T) {
	ext, err := p11test.TPM2()
	p11test.RequireExternal(t, "tpm2-pkcs11", err)
	x := openExternal(t, ext)
	info, err := x.m.GetInfo()
	require.NoError(t, err)
	assert.Equal(t, "tpm2-software.github.io", info.ManufacturerID)

	x.q = moduleQuirks{
		// tpm2-pkcs11 maps CKA_SIGN and CKA_ENCRYPT onto the TPM's
		// sign/encrypt attribute and CKA_VERIFY and CKA_DECRYPT onto its
		// decrypt attribute, and refuses a template where two flags of a
		// pair differ (CKR_GENERAL_ERROR, "attr mismatch"): an EC key
		// that signs and verifies must also decrypt and encrypt.
		ecKeyOptions: []session.KeyOption{
			session.KeyAttributes(attr(ck.CKA_DECRYPT, true)),
			session.PublicKeyAttributes(attr(ck.CKA_ENCRYPT, true)),
		},
		ecPrivateDecrypt: true,
		// P-521 keys are made, but their CKA_EC_POINT has a malformed
		// length, which tpm2-pkcs11's own C_SignInit fails to parse.
		brokenCurves:        map[string]ck.RV{"P-521": ck.CKR_HOST_MEMORY},
		rsaOnlyPublicImport: true,
		// The TPM takes an OAEP label only with a terminating zero byte
		// (TPM_RC_VALUE otherwise): "a label\x00" is what Go must use.
		oaepLabel: func(t *testing.T, s *session.Session, priv session.Object, k *rsa.PublicKey) {
			for _, c := range []struct {
				label []byte
				ok    bool
			}{{[]byte("a label\x00"), true}, {[]byte("a label"), false}} {
				ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k, message, c.label)
				require.NoError(t, err)
				pt, err := s.Decrypt(priv, session.RSAOAEP(crypto.SHA256, c.label), ct)
				if c.ok {
					require.NoError(t, err)
					assert.Equal(t, message, pt)
				} else {
					requireRV(t, err, ck.CKR_GENERAL_ERROR)
				}
			}
		},
		// CKM_AES_KEY_GEN is listed, and C_GenerateKey is not
		// implemented: .ci/modules makes the AES key with tpm2_ptool.
		noKeyGen: map[ck.MechanismType]ck.RV{ck.CKM_AES_KEY_GEN: ck.CKR_FUNCTION_NOT_SUPPORTED},
		// CKM_AES_CBC_PAD decryption is broken. C_Decrypt's size query
		// decrypts, and leaves the last ciphertext block as the IV of the
		// real call: of two blocks, the first comes back XORed with the
		// IV and that block. Three blocks fail ("Internal buffer too
		// small"). In parts, C_DecryptUpdate passes the padding block on
		// and C_DecryptFinal finds no padding.
		cbcPadDecrypt: func(t *testing.T, s *session.Session, key session.Object, mech ck.Mechanism, pt, ct []byte) {
			// Two blocks decrypt right (C_Decrypt makes no size query, which
			// on tpm2-pkcs11 decrypts and moves the CBC chain on).
			short, err := s.Encrypt(key, mech, pt[:20])
			require.NoError(t, err)
			back, err := s.Decrypt(key, mech, short)
			require.NoError(t, err)
			assert.Equal(t, pt[:20], back)
			// Three blocks and more fail in the module ("Internal buffer
			// too small" on its standard error).
			require.Greater(t, len(ct), 32)
			_, err = s.Decrypt(key, mech, ct)
			requireRV(t, err, ck.CKR_GENERAL_ERROR)
			// Multi-part fails at C_DecryptFinal, whose size query the
			// library keeps: modules that hold a whole AES-GCM message back
			// until the final call need it.
			_, err = s.DecryptMultipart(key, mech, short[:16], short[16:])
			requireRV(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)
		},

		ctrWholeBlocks: ck.CKR_DATA_LEN_RANGE,
		// A failed C_SignInit (P-521) or C_Decrypt leaves the key's use
		// count raised, ending the operation or closing the session
		// does not lower it, and C_DestroyObject refuses a key in use.
		busyAfterFailure: ck.CKR_FUNCTION_FAILED,
	}
	x.run(t)
}

// openExternal opens the module of ext and a logged-in read-write pool
// on its token, and destroys what an earlier run left on it.
func openExternal(t *testing.T, ext *p11test.External) *moduleRun {
	t.Helper()
	m, err := pkcs11.Open(ext.Lib)
	require.NoError(t, err, "environment: %v", ext.Env)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })

	var slot ck.SlotID
	found := false
	slots, err := m.GetSlotList(true)
	require.NoError(t, err)
	for _, sl := range slots {
		if ti, err := m.GetTokenInfo(sl); err == nil && ti.Label == ext.Label {
			slot, found = sl, true
		}
	}
	require.True(t, found, "no token %q in %s", ext.Label, ext.Lib)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(ext.PIN), session.ReadWrite())
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })

	x := &moduleRun{ext: ext, m: m, p: p, ecKeys: map[string]ecKeyPair{}}
	require.NoError(t, x.destroyTestObjects(), "objects of an earlier run")
	t.Cleanup(func() {
		err := x.destroyTestObjects()
		if x.q.busyAfterFailure != 0 {
			var rvErr *pkcs11.Error
			for _, e := range unjoin(err) {
				if errors.As(e, &rvErr) && rvErr.RV == x.q.busyAfterFailure {
					t.Logf("left for the next run: %v", e)
					continue
				}
				t.Error(e)
			}
			return
		}
		assert.NoError(t, err)
	})
	return x
}

// destroyTestObjects destroys every object labelled testLabel. The error
// joins one error per object that could not be destroyed.
func (x *moduleRun) destroyTestObjects() error {
	return x.p.Retry(ctx, func(s *session.Session) error {
		objs, err := s.Find([]ck.Attribute{attr(ck.CKA_LABEL, testLabel)})
		if err != nil {
			return err
		}
		var errs []error
		for _, o := range objs {
			if err := s.Destroy(o.Handle); err != nil {
				errs = append(errs, fmt.Errorf("%v %v %x: %w", o.Class, o.KeyType, o.ID, err))
			}
		}
		return errors.Join(errs...)
	})
}

// unjoin returns the errors joined in err.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func (x *moduleRun) tokenInfo(t *testing.T) ck.TokenInfo {
	var ti ck.TokenInfo
	require.NoError(t, x.p.Do(ctx, func(s *session.Session) error {
		var err error
		ti, err = x.m.GetTokenInfo(s.Slot())
		return err
	}))
	return ti
}

// run runs every case of the suite in order, and logs what ran and what
// was skipped.
func (x *moduleRun) run(t *testing.T) {
	var lacks map[ck.MechanismType]bool
	require.NoError(t, x.p.Do(ctx, func(s *session.Session) error {
		lacks = map[ck.MechanismType]bool{}
		for _, c := range moduleSuite {
			for _, mt := range c.needs {
				lacks[mt] = !s.Supports(mt)
			}
		}
		return nil
	}))
	for _, c := range moduleSuite {
		var missing []string
		for _, mt := range c.needs {
			if lacks[mt] {
				missing = append(missing, mt.String())
			}
		}
		t.Run(c.name, func(t *testing.T) {
			if len(missing) > 0 {
				x.skipped = append(x.skipped, fmt.Sprintf("%s (lacks %s)", c.name, strings.Join(missing, ", ")))
				t.Skipf("%s's mechanism list lacks %s", x.ext.Name, strings.Join(missing, ", "))
			}
			s, err := x.p.Get(ctx)
			require.NoError(t, err)
			defer x.p.Put(s)
			c.run(t, x, s)
			x.ran = append(x.ran, c.name)
		})
	}
	t.Logf("%s: %d ran: %s", x.ext.Name, len(x.ran), strings.Join(x.ran, "; "))
	t.Logf("%s: %d skipped: %s", x.ext.Name, len(x.skipped), strings.Join(x.skipped, "; "))
}

// keyOpts are the options of every key the suite generates: a token key
// (tpm2-pkcs11 makes no other), labelled for cleaning up.
func keyOpts(extra ...session.KeyOption) []session.KeyOption {
	return append([]session.KeyOption{session.KeyLabel(testLabel)}, extra...)
}

// signedDigest is what CKM_RSA_PKCS signs for a SHA-256 digest: the
// DigestInfo (RFC 8017, 9.2) around it.
func signedDigest(digest [32]byte) []byte { return append(digestInfoSHA256(), digest[:]...) }

var moduleSuite = []moduleCase{
	{"RSA key generation", []ck.MechanismType{ck.CKM_RSA_PKCS_KEY_PAIR_GEN}, func(t *testing.T, x *moduleRun, s *session.Session) {
		pub, priv, err := s.GenerateRSA(2048, keyOpts()...)
		require.NoError(t, err)
		x.rsaPub, x.rsaPriv, x.rsaKey = pub, priv, rsaPublic(t, s, pub)
		assert.Equal(t, 2048, x.rsaKey.N.BitLen())
		assert.Equal(t, 65537, x.rsaKey.E)
		assert.Equal(t, priv.ID, pub.ID)
		checkFlags(t, s, priv, with(secure, noPrivateUsage,
			map[ck.AttributeType]bool{ck.CKA_SIGN: true, ck.CKA_DECRYPT: true, ck.CKA_UNWRAP: true}))
		checkFlags(t, s, pub, map[ck.AttributeType]bool{ck.CKA_TOKEN: true, ck.CKA_PRIVATE: false,
			ck.CKA_VERIFY: true, ck.CKA_ENCRYPT: true})
	}},

	{"RSA PKCS#1 v1.5 signature of a DigestInfo", rsaNeeds(ck.CKM_RSA_PKCS), func(t *testing.T, x *moduleRun, s *session.Session) {
		digest := sha256.Sum256(message)
		sig, err := s.Sign(x.rsaPriv, session.RSAPKCS1v15(0), signedDigest(digest))
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(x.rsaKey, crypto.SHA256, digest[:], sig))
		require.NoError(t, s.Verify(x.rsaPub, session.RSAPKCS1v15(0), signedDigest(digest), sig))
		// A bad signature is refused, and the session goes on (a
		// failed operation stays active on tpm2-pkcs11).
		assert.Error(t, s.Verify(x.rsaPub, session.RSAPKCS1v15(0), signedDigest(digest), flip(sig, 9)))
		again, err := x.p.Sign(ctx, x.rsaPriv, session.RSAPKCS1v15(0), signedDigest(digest))
		require.NoError(t, err)
		assert.Equal(t, sig, again, "PKCS#1 v1.5 signatures are deterministic")
	}},

	{"RSA PKCS#1 v1.5 signature, SHA-256 on the token", rsaNeeds(ck.CKM_SHA256_RSA_PKCS), func(t *testing.T, x *moduleRun, s *session.Session) {
		digest := sha256.Sum256(message)
		mech := session.RSAPKCS1v15(crypto.SHA256)
		sig, err := s.Sign(x.rsaPriv, mech, message)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(x.rsaKey, crypto.SHA256, digest[:], sig))
		parts, err := s.SignMultipart(x.rsaPriv, mech, message[:10], message[10:])
		require.NoError(t, err)
		// Multi-part signing makes no size query before C_SignFinal:
		// tpm2-pkcs11 would drop the data hashed so far.
		assert.Equal(t, sig, parts)
		require.NoError(t, x.p.Verify(ctx, x.rsaPub, mech, message, sig))
		requireRV(t, s.Verify(x.rsaPub, mech, flip(message, 4), sig), ck.CKR_SIGNATURE_INVALID)
	}},

	{"RSA verification of Go's signatures", []ck.MechanismType{ck.CKM_RSA_PKCS}, func(t *testing.T, x *moduleRun, s *session.Session) {
		gk, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		pub, err := s.Create([]ck.Attribute{
			attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_RSA),
			attr(ck.CKA_TOKEN, true), attr(ck.CKA_VERIFY, true), attr(ck.CKA_LABEL, testLabel),
			attr(ck.CKA_MODULUS, gk.N), attr(ck.CKA_PUBLIC_EXPONENT, big.NewInt(int64(gk.E))),
		})
		require.NoError(t, err)
		digest := sha256.Sum256(message)
		sig, err := rsa.SignPKCS1v15(rand.Reader, gk, crypto.SHA256, digest[:])
		require.NoError(t, err)
		require.NoError(t, s.Verify(pub, session.RSAPKCS1v15(0), signedDigest(digest), sig))
		assert.Error(t, s.Verify(pub, session.RSAPKCS1v15(0), signedDigest(digest), flip(sig, 3)))
		if s.Supports(ck.CKM_SHA256_RSA_PKCS_PSS) {
			pss, err := rsa.SignPSS(rand.Reader, gk, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			require.NoError(t, err)
			require.NoError(t, s.Verify(pub, session.RSAPSS(crypto.SHA256, rsa.PSSSaltLengthEqualsHash), message, pss))
		}
	}},

	{"RSA-PSS signature of a digest", rsaNeeds(ck.CKM_RSA_PKCS_PSS), func(t *testing.T, x *moduleRun, s *session.Session) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			d := h.New()
			d.Write(message)
			digest := d.Sum(nil)
			mech := session.RSAPSSPrehashed(h, rsa.PSSSaltLengthEqualsHash)
			sig, err := s.Sign(x.rsaPriv, mech, digest)
			require.NoError(t, err, "%v", h)
			require.NoError(t, rsa.VerifyPSS(x.rsaKey, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size()}))
			require.NoError(t, s.Verify(x.rsaPub, mech, digest, sig))
		}
	}},

	{"RSA-PSS signature, SHA-256 on the token", rsaNeeds(ck.CKM_SHA256_RSA_PKCS_PSS), func(t *testing.T, x *moduleRun, s *session.Session) {
		digest := sha256.Sum256(message)
		mech := session.RSAPSS(crypto.SHA256, rsa.PSSSaltLengthEqualsHash)
		sig, err := x.p.Sign(ctx, x.rsaPriv, mech, message)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPSS(x.rsaKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32}))
		parts, err := s.SignMultipart(x.rsaPriv, mech, message[:3], message[3:])
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPSS(x.rsaKey, crypto.SHA256, digest[:], parts, nil))
		requireRV(t, s.Verify(x.rsaPub, mech, message, flip(sig, 50)), ck.CKR_SIGNATURE_INVALID)
	}},

	{"RSA-OAEP with SHA-1 and SHA-256", rsaNeeds(ck.CKM_RSA_PKCS_OAEP), func(t *testing.T, x *moduleRun, s *session.Session) {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			mech := session.RSAOAEP(h, nil)
			ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, x.rsaKey, message, nil)
			require.NoError(t, err)
			pt, err := x.p.Decrypt(ctx, x.rsaPriv, mech, ct)
			require.NoError(t, err, "%v", h)
			assert.Equal(t, message, pt)

			// The token's ciphertext is one modulus long (tpm2-pkcs11
			// reports more: see fetchSlack) and decrypts.
			ct, err = s.Encrypt(x.rsaPub, mech, message)
			require.NoError(t, err)
			require.Len(t, ct, 256)
			pt, err = s.Decrypt(x.rsaPriv, mech, ct)
			require.NoError(t, err)
			assert.Equal(t, message, pt)

			_, err = s.Decrypt(x.rsaPriv, mech, flip(ct, 77))
			assert.Error(t, err)
			// The failed decryption may stay active (tpm2-pkcs11, whose
			// one operation per session includes searches): a search on
			// the session ends it and goes on.
			found, err := s.Find([]ck.Attribute{attr(ck.CKA_ID, x.rsaPriv.ID)})
			require.NoError(t, err)
			assert.Len(t, found, 2)
		}
	}},

	{"RSA-OAEP with a label", rsaNeeds(ck.CKM_RSA_PKCS_OAEP), func(t *testing.T, x *moduleRun, s *session.Session) {
		if x.q.oaepLabel != nil {
			x.q.oaepLabel(t, s, x.rsaPriv, x.rsaKey)
			return
		}
		label := []byte("a label")
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, x.rsaKey, message, label)
		require.NoError(t, err)
		pt, err := s.Decrypt(x.rsaPriv, session.RSAOAEP(crypto.SHA256, label), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		_, err = s.Decrypt(x.rsaPriv, session.RSAOAEP(crypto.SHA256, []byte("b label")), ct)
		assert.Error(t, err)
	}},

	{"RSA PKCS#1 v1.5 encryption", rsaNeeds(ck.CKM_RSA_PKCS), func(t *testing.T, x *moduleRun, s *session.Session) {
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, x.rsaKey, message)
		require.NoError(t, err)
		pt, err := s.Decrypt(x.rsaPriv, session.RSAPKCS1v15(0), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		ct, err = s.Encrypt(x.rsaPub, session.RSAPKCS1v15(0), message)
		require.NoError(t, err)
		require.Len(t, ct, 256)
		pt, err = s.Decrypt(x.rsaPriv, session.RSAPKCS1v15(0), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
	}},

	ecdsaCase("P-256", elliptic.P256(), crypto.SHA256),
	ecdsaCase("P-384", elliptic.P384(), crypto.SHA384),
	ecdsaCase("P-521", elliptic.P521(), crypto.SHA512),

	{"ECDSA with SHA-256 and SHA-384 on the token", []ck.MechanismType{ck.CKM_EC_KEY_PAIR_GEN, ck.CKM_ECDSA_SHA256, ck.CKM_ECDSA_SHA384}, func(t *testing.T, x *moduleRun, s *session.Session) {
		kp, ok := x.ecKeys["P-256"]
		require.True(t, ok, "no P-256 key: its case failed")
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			d := h.New()
			d.Write(message)
			sig, err := s.Sign(kp.priv, session.ECDSA(h), message)
			require.NoError(t, err, "%v", h)
			verifyECDSA(t, kp.k, d.Sum(nil), sig)
			require.NoError(t, x.p.Verify(ctx, kp.pub, session.ECDSA(h), message, sig))
			requireRV(t, s.Verify(kp.pub, session.ECDSA(h), flip(message, 1), sig), ck.CKR_SIGNATURE_INVALID)
		}
	}},

	{"AES key", []ck.MechanismType{ck.CKM_AES_KEY_GEN}, func(t *testing.T, x *moduleRun, s *session.Session) {
		gen, err := s.GenerateAES(256, keyOpts()...)
		if rv, ok := x.q.noKeyGen[ck.CKM_AES_KEY_GEN]; ok {
			requireRV(t, err, rv)
			x.aesKey = x.setUpKey(t, s, "aes", ck.CKK_AES)
			return
		}
		require.NoError(t, err)
		checkFlags(t, s, gen, with(secure, noSecretUsage, map[ck.AttributeType]bool{
			ck.CKA_ENCRYPT: true, ck.CKA_DECRYPT: true, ck.CKA_WRAP: true, ck.CKA_UNWRAP: true}))
		x.aesKey = gen

		// A key of known value, for Go to check against.
		value := []byte("0123456789abcdef0123456789abcdef")
		known, err := s.Create([]ck.Attribute{
			attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES),
			attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_VALUE, value),
			attr(ck.CKA_ENCRYPT, true), attr(ck.CKA_DECRYPT, true), attr(ck.CKA_LABEL, testLabel),
		})
		require.NoError(t, err)
		x.aesKey, x.aesValue = known, value
	}},

	{"AES-ECB", []ck.MechanismType{ck.CKM_AES_KEY_GEN, ck.CKM_AES_ECB}, func(t *testing.T, x *moduleRun, s *session.Session) {
		x.needAES(t)
		pt := bytes.Repeat([]byte("sixteen bytes!!!"), 4)
		ct, err := s.Encrypt(x.aesKey, ck.Mechanism{Type: ck.CKM_AES_ECB}, pt)
		require.NoError(t, err)
		require.Len(t, ct, len(pt))
		assert.Equal(t, ct[:16], ct[16:32], "ECB: equal blocks, equal ciphertext")
		assert.NotEqual(t, pt[:16], ct[:16])
		if x.aesValue != nil {
			block, err := aes.NewCipher(x.aesValue)
			require.NoError(t, err)
			want := make([]byte, 16)
			block.Encrypt(want, pt[:16])
			assert.Equal(t, want, ct[:16])
		}
		back, err := s.DecryptMultipart(x.aesKey, ck.Mechanism{Type: ck.CKM_AES_ECB}, ct[:16], ct[16:])
		require.NoError(t, err)
		assert.Equal(t, pt, back)
	}},

	{"AES-CBC", []ck.MechanismType{ck.CKM_AES_KEY_GEN, ck.CKM_AES_CBC, ck.CKM_AES_ECB}, func(t *testing.T, x *moduleRun, s *session.Session) {
		x.needAES(t)
		iv := []byte("sixteen byte IV!")
		pt := pkcs7(message)
		ct, err := s.Encrypt(x.aesKey, session.AESCBC(iv), pt)
		require.NoError(t, err)
		assert.Equal(t, x.cbc(t, s, iv, pt), ct)
		parts, err := s.EncryptMultipart(x.aesKey, session.AESCBC(iv), pt[:16], pt[16:])
		require.NoError(t, err)
		assert.Equal(t, ct, parts)
		back, err := s.Decrypt(x.aesKey, session.AESCBC(iv), ct)
		require.NoError(t, err)
		assert.Equal(t, pt, back)
	}},

	{"AES-CBC-PAD", []ck.MechanismType{ck.CKM_AES_KEY_GEN, ck.CKM_AES_CBC_PAD, ck.CKM_AES_ECB}, func(t *testing.T, x *moduleRun, s *session.Session) {
		x.needAES(t)
		iv := []byte("sixteen byte IV!")
		mech := session.AESCBCPad(iv)
		ct, err := s.Encrypt(x.aesKey, mech, message)
		require.NoError(t, err)
		assert.Equal(t, x.cbc(t, s, iv, pkcs7(message)), ct)
		if x.q.cbcPadDecrypt != nil {
			x.q.cbcPadDecrypt(t, s, x.aesKey, mech, message, ct)
			return
		}
		pt, err := s.Decrypt(x.aesKey, mech, ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		pt, err = s.DecryptMultipart(x.aesKey, mech, ct[:16], ct[16:])
		require.NoError(t, err)
		assert.Equal(t, message, pt)
	}},

	{"AES-CTR", []ck.MechanismType{ck.CKM_AES_KEY_GEN, ck.CKM_AES_CTR, ck.CKM_AES_ECB}, func(t *testing.T, x *moduleRun, s *session.Session) {
		x.needAES(t)
		// A counter that carries from the last byte into the others.
		iv := []byte("nonce-8B\x00\x00\x00\x00\x00\x00\x00\xff")
		if x.q.ctrWholeBlocks != 0 {
			_, err := s.Encrypt(x.aesKey, session.AESCTR(128, iv), message)
			requireRV(t, err, x.q.ctrWholeBlocks)
		}
		message := pkcs7(message)
		ct, err := s.Encrypt(x.aesKey, session.AESCTR(128, iv), message)
		require.NoError(t, err)
		// The key stream is the encryption of the counter blocks.
		var counters []byte
		ctr := new(big.Int).SetBytes(iv)
		for len(counters) < len(message) {
			counters = append(counters, ctr.FillBytes(make([]byte, 16))...)
			ctr.Add(ctr, big.NewInt(1))
		}
		stream, err := s.Encrypt(x.aesKey, ck.Mechanism{Type: ck.CKM_AES_ECB}, counters)
		require.NoError(t, err)
		want := make([]byte, len(message))
		for i := range want {
			want[i] = message[i] ^ stream[i]
		}
		assert.Equal(t, want, ct)
		pt, err := s.Decrypt(x.aesKey, session.AESCTR(128, iv), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
	}},

	{"AES-GCM", []ck.MechanismType{ck.CKM_AES_KEY_GEN, ck.CKM_AES_GCM}, func(t *testing.T, x *moduleRun, s *session.Session) {
		x.needAES(t)
		iv, aad := []byte("twelve bytes"), []byte("header")
		mech := session.AESGCM(iv, aad, 128)
		ct, err := s.Encrypt(x.aesKey, mech, message)
		require.NoError(t, err)
		if x.aesValue != nil {
			block, err := aes.NewCipher(x.aesValue)
			require.NoError(t, err)
			gcm, err := cipher.NewGCM(block)
			require.NoError(t, err)
			assert.Equal(t, gcm.Seal(nil, iv, message, aad), ct)
		}
		pt, err := s.Decrypt(x.aesKey, mech, ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		_, err = s.Decrypt(x.aesKey, mech, flip(ct, len(ct)-1))
		assert.Error(t, err)
	}},

	{"generic secret generation", []ck.MechanismType{ck.CKM_GENERIC_SECRET_KEY_GEN, ck.CKM_SHA256_HMAC}, func(t *testing.T, x *moduleRun, s *session.Session) {
		k, err := s.GenerateSecret(32, keyOpts()...)
		require.NoError(t, err)
		checkFlags(t, s, k, with(secure, noSecretUsage, map[ck.AttributeType]bool{ck.CKA_SIGN: true, ck.CKA_VERIFY: true}))
		mac, err := s.HMAC(k, crypto.SHA256, message)
		require.NoError(t, err)
		require.Len(t, mac, 32)
		require.NoError(t, s.VerifyHMAC(k, crypto.SHA256, message, mac))
		assert.Error(t, s.VerifyHMAC(k, crypto.SHA256, flip(message, 5), mac))
	}},

	{"HMAC-SHA256", []ck.MechanismType{ck.CKM_SHA256_HMAC}, func(t *testing.T, x *moduleRun, s *session.Session) {
		if x.q.rsaOnlyPublicImport {
			x.hmacKey = x.setUpKey(t, s, "hmac", ck.CKK_SHA256_HMAC)
		} else {
			value := []byte("an HMAC key of thirty-two bytes!")
			k, err := s.Create([]ck.Attribute{
				attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET),
				attr(ck.CKA_TOKEN, true), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_VALUE, value),
				attr(ck.CKA_SIGN, true), attr(ck.CKA_VERIFY, true), attr(ck.CKA_LABEL, testLabel),
			})
			require.NoError(t, err)
			x.hmacKey, x.hmacValue = k, value
		}
		mac, err := s.HMAC(x.hmacKey, crypto.SHA256, message)
		require.NoError(t, err)
		require.Len(t, mac, 32)
		if x.hmacValue != nil {
			want := hmac.New(sha256.New, x.hmacValue)
			want.Write(message)
			assert.Equal(t, want.Sum(nil), mac)
		}
		// Multi-part: C_SignFinal gets a buffer without a size query.
		// opencryptoki 3.8.1 answers that size query of an HMAC by
		// copying the MAC to the NULL buffer it was given.
		parts, err := s.SignMultipart(x.hmacKey, session.HMAC(crypto.SHA256), message[:7], message[7:])
		require.NoError(t, err)
		assert.Equal(t, mac, parts)
		require.NoError(t, x.p.Verify(ctx, x.hmacKey, session.HMAC(crypto.SHA256), message, mac))
		assert.Error(t, s.VerifyHMAC(x.hmacKey, crypto.SHA256, message, flip(mac, 0)))
	}},

	{"digests", []ck.MechanismType{ck.CKM_SHA_1, ck.CKM_SHA256, ck.CKM_SHA512}, func(t *testing.T, x *moduleRun, s *session.Session) {
		s1, s256, s512 := sha1.Sum(message), sha256.Sum256(message), sha512.Sum512(message)
		for _, c := range []struct {
			h    crypto.Hash
			want []byte
		}{{crypto.SHA1, s1[:]}, {crypto.SHA256, s256[:]}, {crypto.SHA512, s512[:]}} {
			got, err := s.Digest(session.Hash(c.h), message)
			require.NoError(t, err)
			assert.Equal(t, c.want, got, "%v", c.h)
			got, err = s.DigestMultipart(session.Hash(c.h), message[:11], message[11:])
			require.NoError(t, err)
			assert.Equal(t, c.want, got, "%v in parts", c.h)
		}
	}},

	{"random", nil, func(t *testing.T, x *moduleRun, s *session.Session) {
		a, err := s.GenerateRandom(32)
		require.NoError(t, err)
		b, err := s.GenerateRandom(32)
		require.NoError(t, err)
		assert.Len(t, a, 32)
		assert.NotEqual(t, a, b)
	}},

	{"pool recovery after C_CloseAllSessions", rsaNeeds(ck.CKM_RSA_PKCS), func(t *testing.T, x *moduleRun, s *session.Session) {
		// Every session of the application closed behind the pool's
		// back, this one too: the token logs out. The pool's one-shot
		// operations open a fresh session, log in again and find the
		// key again if its handle changed.
		require.NoError(t, x.m.CloseAllSessions(s.Slot()))
		// The session the case was lent says so, and the pool will not
		// lend it again. (Checked first: opencryptoki and tpm2-pkcs11
		// give the next session the handle of a closed one.)
		_, err := s.Info()
		requireRV(t, err, ck.CKR_SESSION_HANDLE_INVALID)
		before := x.p.Stats().Replaced
		digest := sha256.Sum256(message)
		sig, err := x.p.Sign(ctx, x.rsaPriv, session.RSAPKCS1v15(0), signedDigest(digest))
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(x.rsaKey, crypto.SHA256, digest[:], sig))
		assert.Greater(t, x.p.Stats().Replaced, before)
		found, err := x.p.Find(ctx, []ck.Attribute{attr(ck.CKA_ID, x.rsaPriv.ID)})
		require.NoError(t, err)
		assert.Len(t, found, 2, "the private key is seen again: logged in")
	}},
}

// rsaNeeds is the mechanisms of a case that uses the suite's RSA key.
func rsaNeeds(mt ...ck.MechanismType) []ck.MechanismType {
	return append([]ck.MechanismType{ck.CKM_RSA_PKCS_KEY_PAIR_GEN}, mt...)
}

// ecdsaCase is the case of EC key generation and raw ECDSA on curve,
// whose digests are made with h.
func ecdsaCase(name string, curve elliptic.Curve, h crypto.Hash) moduleCase {
	return moduleCase{"ECDSA " + name, []ck.MechanismType{ck.CKM_EC_KEY_PAIR_GEN, ck.CKM_ECDSA}, func(t *testing.T, x *moduleRun, s *session.Session) {
		pub, priv, err := s.GenerateEC(name, keyOpts(x.q.ecKeyOptions...)...)
		require.NoError(t, err)
		checkFlags(t, s, priv, with(secure, map[ck.AttributeType]bool{ck.CKA_SIGN: true, ck.CKA_DECRYPT: x.q.ecPrivateDecrypt}))
		d := h.New()
		d.Write(message)
		digest := d.Sum(nil)
		if rv, broken := x.q.brokenCurves[name]; broken {
			_, err := s.Sign(priv, session.ECDSA(0), digest)
			requireRV(t, err, rv)
			return
		}
		k := ecPublic(t, s, pub, curve)
		sig, err := s.Sign(priv, session.ECDSA(0), digest)
		require.NoError(t, err)
		verifyECDSA(t, k, digest, sig)
		require.NoError(t, s.Verify(pub, session.ECDSA(0), digest, sig))
		requireRV(t, s.Verify(pub, session.ECDSA(0), digest, flip(sig, 3)), ck.CKR_SIGNATURE_INVALID)
		sig, err = x.p.Sign(ctx, priv, session.ECDSA(0), digest)
		require.NoError(t, err)
		verifyECDSA(t, k, digest, sig)
		x.ecKeys[name] = ecKeyPair{pub, priv, k}
	}}
}

// setUpKey finds the key of kind ("aes", "hmac") that .ci/modules made.
func (x *moduleRun) setUpKey(t *testing.T, s *session.Session, kind string, kt ck.KeyType) session.Object {
	t.Helper()
	label := x.ext.Keys[kind]
	require.NotEmpty(t, label, "%s has no %s key from .ci/modules", x.ext.Name, kind)
	k, err := s.FindOne([]ck.Attribute{attr(ck.CKA_LABEL, label), attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY)})
	require.NoError(t, err)
	assert.Equal(t, kt, k.KeyType)
	return k
}

// needAES fails the test when the AES key case did not leave a key.
func (x *moduleRun) needAES(t *testing.T) {
	t.Helper()
	require.NotEqual(t, ck.CK_INVALID_HANDLE, x.aesKey.Handle, "no AES key: the AES key case failed")
}

// cbc returns the CBC encryption of pt, whole blocks, with iv, computed
// here from the token's AES-ECB (or Go's AES when the key is known).
func (x *moduleRun) cbc(t *testing.T, s *session.Session, iv, pt []byte) []byte {
	t.Helper()
	encrypt := func(b []byte) []byte {
		out, err := s.Encrypt(x.aesKey, ck.Mechanism{Type: ck.CKM_AES_ECB}, b)
		require.NoError(t, err)
		return out
	}
	if x.aesValue != nil {
		block, err := aes.NewCipher(x.aesValue)
		require.NoError(t, err)
		encrypt = func(b []byte) []byte {
			out := make([]byte, 16)
			block.Encrypt(out, b)
			return out
		}
	}
	var out []byte
	prev := iv
	for i := 0; i < len(pt); i += 16 {
		b := make([]byte, 16)
		for j := range b {
			b[j] = pt[i+j] ^ prev[j]
		}
		prev = encrypt(b)
		out = append(out, prev...)
	}
	return out
}
