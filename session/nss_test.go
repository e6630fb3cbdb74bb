package session_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/session"
)

// NSS softokn is initialized once per process with its database in the
// init string, and the library shares one instance per file: so one test
// opens it and runs every NSS case as a subtest. NSS covers what SoftHSM
// 2.6 lacks: RSA-OAEP with SHA-2 and a label, and ECDSA mechanisms that
// hash on the token. Its last subtest runs the shared suite of
// modules_test.go on NSS.

func TestNSS(t *testing.T) {
	nss, err := p11test.NewNSS(t.TempDir(), []byte("test-pw"))
	p11test.Require(t, "NSS softokn", err)
	m, err := pkcs11.Open(nss.Lib, pkcs11.WithInitString(nss.InitString))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })

	var slot ck.SlotID
	slots, err := m.GetSlotList(true)
	require.NoError(t, err)
	for _, sl := range slots {
		if ti, err := m.GetTokenInfo(sl); err == nil && ti.Label == "NSS Certificate DB" {
			slot = sl
		}
	}
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(nss.Password), session.ReadWrite())
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	s, err := p.Get(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { p.Put(s) })

	t.Run("RSA", func(t *testing.T) {
		pub, priv, err := s.GenerateRSA(2048, session.KeyLabel("nss rsa"))
		require.NoError(t, err)
		k := rsaPublic(t, s, pub)
		checkFlags(t, s, priv, with(secure, noPrivateUsage,
			map[ck.AttributeType]bool{ck.CKA_SIGN: true, ck.CKA_DECRYPT: true, ck.CKA_UNWRAP: true}))

		// OAEP with any hash and a label, MGF1 over the same hash.
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			for _, label := range [][]byte{nil, []byte("a label")} {
				mech := session.RSAOAEP(h, label)
				ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, k, message, label)
				require.NoError(t, err)
				pt, err := p.Decrypt(ctx, priv, mech, ct)
				require.NoError(t, err, "%v %q", h, label)
				assert.Equal(t, message, pt)

				ct, err = p.Encrypt(ctx, pub, mech, message)
				require.NoError(t, err)
				pt, err = s.Decrypt(priv, mech, ct)
				require.NoError(t, err)
				assert.Equal(t, message, pt)
			}
		}
		// A wrong label is refused.
		ct, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, k, message, []byte("a label"))
		require.NoError(t, err)
		_, err = s.Decrypt(priv, session.RSAOAEP(crypto.SHA256, []byte("b label")), ct)
		requireRV(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)

		// PSS hashed on the token, in parts.
		mech := session.RSAPSS(crypto.SHA384, rsa.PSSSaltLengthEqualsHash)
		sig, err := s.SignMultipart(priv, mech, message[:9], message[9:])
		require.NoError(t, err)
		d := crypto.SHA384.New()
		d.Write(message)
		require.NoError(t, rsa.VerifyPSS(k, crypto.SHA384, d.Sum(nil), sig, nil))
	})

	t.Run("ECDSA hashed on the token", func(t *testing.T) {
		pub, priv, err := s.GenerateEC("P-256", session.KeyAttributes(attr(ck.CKA_DERIVE, true)))
		require.NoError(t, err)
		k := ecPublic(t, s, pub, elliptic.P256())
		checkFlags(t, s, priv, with(secure, noPrivateUsage, map[ck.AttributeType]bool{ck.CKA_SIGN: true, ck.CKA_DERIVE: true}))
		require.True(t, s.Supports(ck.CKM_ECDSA_SHA256))
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			d := h.New()
			d.Write(message)
			digest := d.Sum(nil)
			one, err := p.Sign(ctx, priv, session.ECDSA(h), message)
			require.NoError(t, err)
			parts, err := s.SignReader(priv, session.ECDSA(h), bytes.NewReader(message))
			require.NoError(t, err)
			for _, sig := range [][]byte{one, parts} {
				require.Len(t, sig, 64, "trimmed to the signature, not NSS's bound")
				verifyECDSA(t, k, digest, sig)
				require.NoError(t, p.Verify(ctx, pub, session.ECDSA(h), message, sig))
			}
		}

		// A signature longer than Sign's scratch buffer: NSS ends the
		// operation on CKR_BUFFER_TOO_SMALL, unlike PKCS#11 says, and
		// Sign starts it again.
		restore := session.SetSignScratch(16)
		sig, err := s.Sign(priv, session.ECDSA(crypto.SHA256), message)
		restore()
		require.NoError(t, err)
		d := sha256.Sum256(message)
		verifyECDSA(t, k, d[:], sig)

		// ECDH on NSS agrees with crypto/ecdh too.
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		secret, err := s.DeriveECDH(priv, peer.PublicKey().Bytes(), []ck.Attribute{
			attr(ck.CKA_SENSITIVE, false), attr(ck.CKA_EXTRACTABLE, true), attr(ck.CKA_VALUE_LEN, 32),
		})
		require.NoError(t, err)
		tokenPub, err := ecdh.P256().NewPublicKey(ecPoint(t, s, pub))
		require.NoError(t, err)
		want, err := peer.ECDH(tokenPub)
		require.NoError(t, err)
		assert.Equal(t, want, values(t, s, secret, ck.CKA_VALUE)[0].Value)
	})

	t.Run("AES and HMAC", func(t *testing.T) {
		aesKey, err := s.GenerateAES(256, session.SessionKey())
		require.NoError(t, err)
		checkFlags(t, s, aesKey, with(secure, noSecretUsage, map[ck.AttributeType]bool{
			ck.CKA_TOKEN: false, ck.CKA_ENCRYPT: true, ck.CKA_DECRYPT: true, ck.CKA_WRAP: true, ck.CKA_UNWRAP: true}))
		iv := []byte("twelve bytes")
		ct, err := s.Encrypt(aesKey, session.AESGCM(iv, []byte("aad"), 128), message)
		require.NoError(t, err)
		pt, err := s.Decrypt(aesKey, session.AESGCM(iv, []byte("aad"), 128), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		// NSS 3.87 does AES-GCM in one part only: C_DecryptUpdate says
		// CKR_OPERATION_NOT_INITIALIZED yet leaves the decryption active
		// (C_SessionCancel cannot end it), and NSS keeps one operation
		// for encryption and decryption: the next C_EncryptInit says
		// CKR_OPERATION_ACTIVE. The session ends it and goes on.
		_, err = s.DecryptMultipart(aesKey, session.AESGCM(iv, []byte("aad"), 128), ct[:10], ct[10:])
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		cbc := session.AESCBCPad([]byte("sixteen byte IV!"))
		ct, err = s.EncryptMultipart(aesKey, cbc, message[:3], message[3:])
		require.NoError(t, err)
		pt, err = s.DecryptMultipart(aesKey, cbc, ct[:16], ct[16:])
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		mac, err := s.GenerateSecret(32, session.SessionKey())
		require.NoError(t, err)
		sum, err := s.HMAC(mac, crypto.SHA256, message)
		require.NoError(t, err)
		require.NoError(t, s.VerifyHMAC(mac, crypto.SHA256, message, sum))
		assert.Error(t, s.VerifyHMAC(mac, crypto.SHA256, message, flip(sum, 7)))
	})

	t.Run("Find", func(t *testing.T) {
		keys, err := p.Find(ctx, []ck.Attribute{attr(ck.CKA_LABEL, "nss rsa")})
		require.NoError(t, err)
		require.Len(t, keys, 2)
		for _, o := range keys {
			assert.Equal(t, ck.CKK_RSA, o.KeyType)
			assert.Len(t, o.ID, 16)
		}
	})

	// The suite of the modules that need daemons (modules_test.go), on
	// the same module and pool, last: its final case closes every
	// session of the token.
	t.Run("module suite", func(t *testing.T) {
		nssSuite(t, nss, m, p)
	})
}

// nssSuite runs moduleSuite on NSS's "NSS Certificate DB" token through
// the pool p. The suite adapts to the token's mechanism list, and logs
// what ran and what it skipped and why.
func nssSuite(t *testing.T, nss *p11test.NSS, m *pkcs11.Module, p *session.Pool) {
	x := &moduleRun{
		ext:    &p11test.External{Name: "NSS softokn", Lib: nss.Lib, Label: "NSS Certificate DB", PIN: nss.Password},
		m:      m,
		p:      p,
		ecKeys: map[string]ecKeyPair{},
	}
	require.NoError(t, x.destroyTestObjects())
	t.Cleanup(func() { assert.NoError(t, x.destroyTestObjects()) })
	x.run(t)

	// NSS lists its digest mechanisms on the "NSS Generic Crypto
	// Services" slot only, not on the database's token, where the suite
	// skips the digests case: run that case on the crypto slot, through
	// a pool of its own (no login: the slot has no PIN).
	var crypto ck.SlotID
	found := false
	slots, err := m.GetSlotList(true)
	require.NoError(t, err)
	for _, sl := range slots {
		if ti, err := m.GetTokenInfo(sl); err == nil && ti.Label == "NSS Generic Crypto Services" {
			crypto, found = sl, true
		}
	}
	require.True(t, found, "no NSS Generic Crypto Services token")
	cp, err := session.NewPool(ctx, m, crypto)
	require.NoError(t, err)
	defer cp.Close()
	y := &moduleRun{ext: &p11test.External{Name: "NSS Generic Crypto Services", Lib: nss.Lib}, m: m, p: cp}
	for _, c := range moduleSuite {
		if !slices.ContainsFunc(x.skipped, func(sk string) bool { return strings.HasPrefix(sk, c.name+" (") }) {
			continue
		}
		var missing []ck.MechanismType
		require.NoError(t, cp.Do(ctx, func(s *session.Session) error {
			for _, mt := range c.needs {
				if !s.Supports(mt) {
					missing = append(missing, mt)
				}
			}
			return nil
		}))
		require.Empty(t, missing, "%s: neither NSS slot lists %v", c.name, missing)
		t.Run(c.name+" on the crypto slot", func(t *testing.T) {
			require.NoError(t, cp.Do(ctx, func(s *session.Session) error {
				c.run(t, y, s)
				return nil
			}))
		})
	}
}
