package session_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

func TestSignECDSA(t *testing.T) {
	_, s := alpha(t)
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		name := curve.Params().Name
		t.Run(name, func(t *testing.T) {
			pub, priv, err := s.GenerateEC(name, session.SessionKey())
			require.NoError(t, err)
			k := ecPublic(t, s, pub, curve)
			h := map[string]crypto.Hash{"P-256": crypto.SHA256, "P-384": crypto.SHA384, "P-521": crypto.SHA512}[name]
			d := h.New()
			d.Write(message)
			digest := d.Sum(nil)

			sig, err := s.Sign(priv, session.ECDSA(0), digest)
			require.NoError(t, err)
			r, sv := splitECDSA(t, sig)
			assert.True(t, ecdsa.Verify(k, digest, r, sv), "Go rejects the token's signature")
			require.NoError(t, s.Verify(pub, session.ECDSA(0), digest, sig))
			assert.Error(t, s.Verify(pub, session.ECDSA(0), digest, flip(sig, 3)))

			// A Go signature verifies on the token.
			gk, err := ecdsa.GenerateKey(curve, rand.Reader)
			require.NoError(t, err)
			gr, gs, err := ecdsa.Sign(rand.Reader, gk, digest)
			require.NoError(t, err)
			point, err := gk.PublicKey.Bytes()
			require.NoError(t, err)
			c, _ := ck.CurveByName(name)
			gpub, err := s.Create([]ck.Attribute{
				attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_EC),
				attr(ck.CKA_TOKEN, false), attr(ck.CKA_VERIFY, true),
				attr(ck.CKA_EC_PARAMS, c.ECParams()), attr(ck.CKA_EC_POINT, ck.EncodeECPoint(point)),
			})
			require.NoError(t, err)
			raw := append(gr.FillBytes(make([]byte, c.FieldBytes)), gs.FillBytes(make([]byte, c.FieldBytes))...)
			require.NoError(t, s.Verify(gpub, session.ECDSA(0), digest, raw))
		})
	}

	t.Run("secp256k1", func(t *testing.T) {
		pub, priv, err := s.GenerateEC("secp256k1", session.SessionKey())
		require.NoError(t, err)
		digest := sha256.Sum256(message)
		sig, err := s.Sign(priv, session.ECDSA(0), digest[:])
		require.NoError(t, err)
		assert.Len(t, sig, 64)
		// Go has no secp256k1: the token checks its own signature.
		require.NoError(t, s.Verify(pub, session.ECDSA(0), digest[:], sig))
		assert.Error(t, s.Verify(pub, session.ECDSA(0), digest[:], flip(sig, 40)))
	})
}

func TestSignEdDSA(t *testing.T) {
	_, s := alpha(t)
	t.Run("Ed25519", func(t *testing.T) {
		pub, priv, err := s.GenerateEd25519(session.SessionKey())
		require.NoError(t, err)
		assert.Equal(t, ck.CKK_EC_EDWARDS, priv.KeyType)
		k := ed25519.PublicKey(ecPoint(t, s, pub))
		sig, err := s.Sign(priv, session.EdDSA(), message)
		require.NoError(t, err)
		assert.True(t, ed25519.Verify(k, message, sig), "Go rejects the token's signature")
		require.NoError(t, s.Verify(pub, session.EdDSA(), message, sig))
		assert.Error(t, s.Verify(pub, session.EdDSA(), message, flip(sig, 9)))
	})
	t.Run("Ed448", func(t *testing.T) {
		pub, priv, err := s.GenerateEd448(session.SessionKey())
		require.NoError(t, err)
		assert.Len(t, ecPoint(t, s, pub), 57)
		// Go has no Ed448: the token checks its own signature.
		sig, err := s.Sign(priv, session.EdDSA(), message)
		require.NoError(t, err)
		assert.Len(t, sig, 114)
		require.NoError(t, s.Verify(pub, session.EdDSA(), message, sig))
		assert.Error(t, s.Verify(pub, session.EdDSA(), message, flip(sig, 9)))
		assert.Error(t, s.Verify(pub, session.EdDSA(), flip(message, 2), sig))
	})
}

// rsaKey is one RSA-2048 session key pair for the RSA tests: generating
// it takes most of their time.
func rsaKey(t *testing.T, s *session.Session) (pub, priv session.Object, k *rsa.PublicKey) {
	t.Helper()
	pub, priv, err := s.GenerateRSA(2048, session.SessionKey())
	require.NoError(t, err)
	return pub, priv, rsaPublic(t, s, pub)
}

func TestRSA(t *testing.T) {
	_, s := alpha(t)
	pub, priv, k := rsaKey(t, s)
	require.Equal(t, 2048, k.N.BitLen())
	require.Equal(t, 65537, k.E)
	digest := sha256.Sum256(message)

	t.Run("PKCS1v15", func(t *testing.T) {
		mech := session.RSAPKCS1v15(crypto.SHA256)
		require.Equal(t, ck.CKM_SHA256_RSA_PKCS, mech.Type)
		one, err := s.Sign(priv, mech, message)
		require.NoError(t, err)
		parts, err := s.SignMultipart(priv, mech, message[:10], nil, message[10:])
		require.NoError(t, err)
		reader, err := s.SignReader(priv, mech, iotest.OneByteReader(bytes.NewReader(message)))
		require.NoError(t, err)
		for _, sig := range [][]byte{one, parts, reader} {
			require.NoError(t, rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig))
		}
		// Deterministic: the three are the same signature.
		assert.Equal(t, one, parts)
		assert.Equal(t, one, reader)
		require.NoError(t, s.Verify(pub, mech, message, one))
		require.NoError(t, s.VerifyMultipart(pub, mech, one, message[:5], message[5:]))
		require.NoError(t, s.VerifyReader(pub, mech, bytes.NewReader(message), one))
		requireRV(t, s.Verify(pub, mech, message, flip(one, 100)), ck.CKR_SIGNATURE_INVALID)
		requireRV(t, s.VerifyMultipart(pub, mech, one, message[:5]), ck.CKR_SIGNATURE_INVALID)
	})

	t.Run("PSS", func(t *testing.T) {
		mech := session.RSAPSS(crypto.SHA256, rsa.PSSSaltLengthEqualsHash)
		sig, err := s.Sign(priv, mech, message)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32}))
		require.NoError(t, s.Verify(pub, mech, message, sig))

		// The digest signed as it is, with SHA-384 and a salt of 48.
		d384 := sha512.Sum384(message)
		pre := session.RSAPSSPrehashed(crypto.SHA384, 48)
		sig, err = s.Sign(priv, pre, d384[:])
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPSS(k, crypto.SHA384, d384[:], sig, &rsa.PSSOptions{SaltLength: 48}))
		require.Error(t, rsa.VerifyPSS(k, crypto.SHA384, d384[:], sig, &rsa.PSSOptions{SaltLength: 32}))

		// Multi-part with SHA-512.
		mech = session.RSAPSS(crypto.SHA512, rsa.PSSSaltLengthEqualsHash)
		sig, err = s.SignMultipart(priv, mech, message[:7], message[7:])
		require.NoError(t, err)
		d512 := sha512.Sum512(message)
		require.NoError(t, rsa.VerifyPSS(k, crypto.SHA512, d512[:], sig, nil))
	})

	t.Run("OAEP SHA-1", func(t *testing.T) {
		// SoftHSM 2.6 has OAEP with SHA-1 only and no label; NSS covers
		// the rest (nss_test.go).
		mech := session.RSAOAEP(crypto.SHA1, nil)
		ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, k, message, nil)
		require.NoError(t, err)
		pt, err := s.Decrypt(priv, mech, ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		ct, err = s.Encrypt(pub, mech, message)
		require.NoError(t, err)
		require.Len(t, ct, 256)
		pt, err = s.Decrypt(priv, mech, ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		_, err = s.Decrypt(priv, mech, flip(ct, 77))
		assert.Error(t, err)
	})

	t.Run("PKCS1v15 encryption", func(t *testing.T) {
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, k, message)
		require.NoError(t, err)
		pt, err := s.Decrypt(priv, session.RSAPKCS1v15(0), ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
	})
}

// aesKey creates a session AES key with a known value, so that Go can
// check what the token does with it.
func aesKey(t *testing.T, s *session.Session, value []byte) (session.Object, cipher.Block) {
	t.Helper()
	key, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES),
		attr(ck.CKA_TOKEN, false), attr(ck.CKA_VALUE, value),
		attr(ck.CKA_ENCRYPT, true), attr(ck.CKA_DECRYPT, true),
		attr(ck.CKA_LABEL, uniqueLabel(t)),
	})
	require.NoError(t, err)
	block, err := aes.NewCipher(value)
	require.NoError(t, err)
	return key, block
}

func TestAES(t *testing.T) {
	_, s := alpha(t)
	key, block := aesKey(t, s, []byte("0123456789abcdef0123456789abcdef"))
	long := bytes.Repeat([]byte("0123456789"), 10_000) // 100 kB, several chunks

	t.Run("GCM", func(t *testing.T) {
		gcm, err := cipher.NewGCM(block)
		require.NoError(t, err)
		iv, aad := []byte("twelve bytes"), []byte("header")
		mech := session.AESGCM(iv, aad, 128)

		ct, err := s.Encrypt(key, mech, message)
		require.NoError(t, err)
		assert.Equal(t, gcm.Seal(nil, iv, message, aad), ct)
		pt, err := s.Decrypt(key, mech, ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		// Go encrypts, the token decrypts, in parts too.
		gct := gcm.Seal(nil, iv, long, aad)
		pt, err = s.DecryptMultipart(key, mech, gct[:1000], gct[1000:50_000], gct[50_000:])
		require.NoError(t, err)
		assert.Equal(t, long, pt)
		ct, err = s.EncryptMultipart(key, mech, long[:3], long[3:])
		require.NoError(t, err)
		assert.Equal(t, gct, ct)

		// A bad tag is refused (CKR_GENERAL_ERROR on SoftHSM, quirk 7).
		_, err = s.Decrypt(key, mech, flip(gct, len(gct)-1))
		assert.Error(t, err)
		// And the session still works.
		_, err = s.Encrypt(key, mech, message)
		require.NoError(t, err)
	})

	t.Run("CBC-PAD", func(t *testing.T) {
		iv := []byte("sixteen byte IV!")
		mech := session.AESCBCPad(iv)
		ct, err := s.Encrypt(key, mech, message)
		require.NoError(t, err)
		padded := pkcs7(message)
		want := make([]byte, len(padded))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(want, padded)
		assert.Equal(t, want, ct)

		var out bytes.Buffer
		require.NoError(t, s.EncryptStream(key, mech, &out, bytes.NewReader(long)))
		gct := make([]byte, len(pkcs7(long)))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(gct, pkcs7(long))
		assert.Equal(t, gct, out.Bytes())

		var back bytes.Buffer
		require.NoError(t, s.DecryptStream(key, mech, &back, iotest.HalfReader(bytes.NewReader(gct))))
		assert.Equal(t, long, back.Bytes())

		// Unpadded CBC needs whole blocks.
		ct, err = s.Encrypt(key, session.AESCBC(iv), padded)
		require.NoError(t, err)
		assert.Equal(t, want, ct)
	})

	t.Run("CTR", func(t *testing.T) {
		// A 64-bit counter whose increments carry from byte to byte.
		iv := []byte("nonce-8B\x00\x00\x00\x00\xff\xff\xff\xfe")
		mech := session.AESCTR(64, iv)
		ct, err := s.Encrypt(key, mech, message)
		require.NoError(t, err)
		want := make([]byte, len(message))
		cipher.NewCTR(block, iv).XORKeyStream(want, message)
		assert.Equal(t, want, ct)
		pt, err := s.DecryptMultipart(key, mech, ct[:5], ct[5:])
		require.NoError(t, err)
		assert.Equal(t, message, pt)
	})

	t.Run("stream errors end the operation", func(t *testing.T) {
		boom := errors.New("boom")
		mech := session.AESCBCPad([]byte("sixteen byte IV!"))
		err := s.EncryptStream(key, mech, io.Discard, io.MultiReader(bytes.NewReader(long), iotest.ErrReader(boom)))
		require.ErrorIs(t, err, boom)
		assert.ErrorContains(t, err, "session: encrypt: reading the data")
		// Ended: a raw C_EncryptInit finds no active operation.
		m := s.Module()
		require.NoError(t, m.EncryptInit(s.Handle(), mech, key.Handle))
		_, err = m.Encrypt(s.Handle(), message)
		require.NoError(t, err)

		err = s.DecryptStream(key, mech, failWriter{boom}, bytes.NewReader(make([]byte, 64)))
		require.ErrorIs(t, err, boom)
		assert.ErrorContains(t, err, "writing the output")
		require.NoError(t, m.DecryptInit(s.Handle(), mech, key.Handle))
		_, err = m.Decrypt(s.Handle(), make([]byte, 32))
		assert.Error(t, err) // bad padding; what matters is the Init above
	})
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// pkcs7 pads b to whole AES blocks.
func pkcs7(b []byte) []byte {
	n := 16 - len(b)%16
	return append(append([]byte(nil), b...), bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestHMAC(t *testing.T) {
	_, s := alpha(t)
	// 64 bytes: SoftHSM wants keys at least as long as the hash.
	value := []byte("an HMAC key of sixty-four bytes, as long as SHA-512's output is!")
	key, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET),
		attr(ck.CKA_TOKEN, false), attr(ck.CKA_VALUE, value),
		attr(ck.CKA_SIGN, true), attr(ck.CKA_VERIFY, true),
	})
	require.NoError(t, err)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			mac, err := s.HMAC(key, h, message)
			require.NoError(t, err)
			want := hmac.New(h.New, value)
			want.Write(message)
			assert.Equal(t, want.Sum(nil), mac)
			require.NoError(t, s.VerifyHMAC(key, h, message, mac))
			assert.Error(t, s.VerifyHMAC(key, h, message, flip(mac, 0)))
			parts, err := s.SignMultipart(key, session.HMAC(h), message[:1], message[1:])
			require.NoError(t, err)
			assert.Equal(t, mac, parts)
		})
	}

	// A generated secret: its value stays on the token.
	gen, err := s.GenerateSecret(32, session.SessionKey())
	require.NoError(t, err)
	mac, err := s.HMAC(gen, crypto.SHA256, message)
	require.NoError(t, err)
	require.NoError(t, s.VerifyHMAC(gen, crypto.SHA256, message, mac))
	assert.Error(t, s.VerifyHMAC(gen, crypto.SHA256, flip(message, 3), mac))
}

func TestDigestAndRandom(t *testing.T) {
	_, s := alpha(t)
	want := sha256.Sum256(message)
	got, err := s.Digest(session.Hash(crypto.SHA256), message)
	require.NoError(t, err)
	assert.Equal(t, want[:], got)
	got, err = s.DigestMultipart(session.Hash(crypto.SHA256), message[:3], message[3:])
	require.NoError(t, err)
	assert.Equal(t, want[:], got)
	want512 := sha512.Sum512(message)
	got, err = s.DigestReader(session.Hash(crypto.SHA512), iotest.OneByteReader(bytes.NewReader(message)))
	require.NoError(t, err)
	assert.Equal(t, want512[:], got)
	empty := sha256.Sum256(nil)
	got, err = s.Digest(session.Hash(crypto.SHA256), nil)
	require.NoError(t, err)
	assert.Equal(t, empty[:], got)

	a, err := s.GenerateRandom(32)
	require.NoError(t, err)
	b, err := s.GenerateRandom(32)
	require.NoError(t, err)
	assert.Len(t, a, 32)
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, make([]byte, 32), a)
}

func TestDeriveECDH(t *testing.T) {
	_, s := alpha(t)
	for _, c := range []struct {
		name  string
		curve ecdh.Curve
	}{{"P-256", ecdh.P256()}, {"P-384", ecdh.P384()}, {"P-521", ecdh.P521()}} {
		t.Run(c.name, func(t *testing.T) {
			pub, priv, err := s.GenerateEC(c.name, session.SessionKey(),
				session.KeyAttributes(attr(ck.CKA_DERIVE, true)))
			require.NoError(t, err)
			peer, err := c.curve.GenerateKey(rand.Reader)
			require.NoError(t, err)

			// Readable only because the test asks for it.
			secret, err := s.DeriveECDH(priv, peer.PublicKey().Bytes(), []ck.Attribute{
				attr(ck.CKA_SENSITIVE, false), attr(ck.CKA_EXTRACTABLE, true),
			})
			require.NoError(t, err)
			assert.Equal(t, ck.CKO_SECRET_KEY, secret.Class)
			assert.Equal(t, ck.CKK_GENERIC_SECRET, secret.KeyType)
			got := values(t, s, secret, ck.CKA_VALUE)[0].Value

			tokenPub, err := c.curve.NewPublicKey(ecPoint(t, s, pub))
			require.NoError(t, err)
			want, err := peer.ECDH(tokenPub)
			require.NoError(t, err)
			assert.Equal(t, want, got)

			// The defaults keep a derived secret on the token.
			def, err := s.DeriveECDH(priv, peer.PublicKey().Bytes(), nil)
			require.NoError(t, err)
			assert.True(t, boolOf(t, s, def, ck.CKA_SENSITIVE))
			assert.False(t, boolOf(t, s, def, ck.CKA_EXTRACTABLE))
			assert.False(t, boolOf(t, s, def, ck.CKA_TOKEN))
			res, err := s.Attributes(def.Handle, ck.CKA_VALUE)
			require.NoError(t, err)
			requireRV(t, res[0].Err, ck.CKR_ATTRIBUTE_SENSITIVE)
		})
	}
}

func TestWrapUnwrap(t *testing.T) {
	_, s := alpha(t)
	kek, err := s.GenerateAES(256, session.SessionKey())
	require.NoError(t, err)
	target, err := s.GenerateAES(128, session.SessionKey(), session.Extractable())
	require.NoError(t, err)

	for _, mech := range []ck.Mechanism{session.AESKeyWrap(), session.AESKeyWrapPad()} {
		t.Run(mech.Type.String(), func(t *testing.T) {
			wrapped, err := s.Wrap(kek, mech, target)
			require.NoError(t, err)
			assert.Len(t, wrapped, 24) // 16 bytes of key and the 8 of RFC 3394/5649
			back, err := s.Unwrap(kek, mech, wrapped, []ck.Attribute{
				attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES),
				attr(ck.CKA_TOKEN, false), attr(ck.CKA_ENCRYPT, true),
			})
			require.NoError(t, err)
			assert.Equal(t, ck.CKK_AES, back.KeyType)

			// The same key: the same ciphertext.
			iv := make([]byte, 16)
			a, err := s.Encrypt(target, session.AESCBC(iv), make([]byte, 32))
			require.NoError(t, err)
			b, err := s.Encrypt(back, session.AESCBC(iv), make([]byte, 32))
			require.NoError(t, err)
			assert.Equal(t, a, b)
		})
	}

	// The secure default: a key that cannot leave the token.
	_, err = s.Wrap(kek, session.AESKeyWrap(), kek)
	requireRV(t, err, ck.CKR_KEY_UNEXTRACTABLE)
}

func TestMechanismChecked(t *testing.T) {
	m, log := tracedSoftHSM(t)
	s := userSession(t, m, tokAlpha)
	_, priv, err := s.GenerateEC("P-256", session.SessionKey())
	require.NoError(t, err)
	s.Supports(ck.CKM_ECDSA) // the list is read once per token and process
	require.LessOrEqual(t, log.count("C_GetMechanismList"), 1)

	log.reset()
	_, err = s.Sign(priv, session.ECDSA(crypto.SHA256), message)
	require.Error(t, err)
	assert.Equal(t, "session: sign: token lacks CKM_ECDSA_SHA256", err.Error())
	assert.ErrorIs(t, err, ck.CKR_MECHANISM_INVALID)
	var me *session.MechanismError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, ck.CKM_ECDSA_SHA256, me.Mechanism)
	assert.Empty(t, log.calls(), "no call for a mechanism the token lacks")

	// Every operation checks.
	_, err = s.Digest(session.Hash(crypto.SHA3_256), message)
	assert.EqualError(t, err, "session: digest: token lacks CKM_SHA3_256")
	err = s.Verify(priv, session.ECDSA(crypto.SHA384), message, nil)
	assert.EqualError(t, err, "session: verify: token lacks CKM_ECDSA_SHA384")
	_, err = s.Encrypt(priv, ck.Mechanism{Type: ck.CKM_CHACHA20_POLY1305}, message)
	assert.ErrorIs(t, err, ck.CKR_MECHANISM_INVALID)

	// A helper's refusal, also before any call.
	_, err = s.Sign(priv, session.RSAPSS(crypto.MD4, 16), message)
	assert.EqualError(t, err, "session: sign: RSAPSS: MD4 has no PKCS#11 mechanism")
	assert.ErrorIs(t, err, ck.CKR_MECHANISM_INVALID)
	_, err = s.Encrypt(priv, session.AESCBCPad([]byte("short")), message)
	assert.EqualError(t, err, "session: encrypt: AESCBCPad: IV of 5 bytes, want 16")
	_, err = s.Encrypt(priv, session.AESGCM([]byte("iv"), nil, 100), message)
	assert.EqualError(t, err, "session: encrypt: AESGCM: tag of 100 bits")
	assert.Empty(t, log.calls())

	assert.True(t, s.Supports(ck.CKM_ECDSA))
	assert.False(t, s.Supports(ck.CKM_ECDSA_SHA256))
	assert.Empty(t, log.calls(), "the list is cached")
}

func TestOperationLeftActive(t *testing.T) {
	_, s := alpha(t)
	_, priv, err := s.GenerateEC("P-256", session.SessionKey())
	require.NoError(t, err)
	digest := sha256.Sum256(message)

	// A signature started on the session and never finished, as some
	// modules leave a failed one: the next Sign ends it and goes on.
	m := s.Module()
	require.NoError(t, m.SignInit(s.Handle(), ck.Mechanism{Type: ck.CKM_ECDSA}, priv.Handle))
	requireRV(t, m.SignInit(s.Handle(), ck.Mechanism{Type: ck.CKM_ECDSA}, priv.Handle), ck.CKR_OPERATION_ACTIVE)
	sig, err := s.Sign(priv, session.ECDSA(0), digest[:])
	require.NoError(t, err)
	assert.Len(t, sig, 64)

	// A reader that fails ends the operation it fed.
	boom := errors.New("boom")
	_, err = s.SignReader(priv, session.HMAC(crypto.SHA256), iotest.ErrReader(boom))
	require.Error(t, err) // the key is no HMAC key: refused at init
	_, err = s.DigestReader(session.Hash(crypto.SHA256), iotest.ErrReader(boom))
	require.ErrorIs(t, err, boom)
	require.NoError(t, m.DigestInit(s.Handle(), ck.Mechanism{Type: ck.CKM_SHA256}))
	_, err = m.Digest(s.Handle(), message)
	require.NoError(t, err)
}

func TestErrorsNameTheOperation(t *testing.T) {
	_, s := alpha(t)
	pub, priv, err := s.GenerateEC("P-256", session.SessionKey(), session.KeyLabel("named key"))
	require.NoError(t, err)
	_, err = s.Sign(pub, session.ECDSA(0), make([]byte, 32))
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), `session: sign (CKM_ECDSA, key "named key"): pkcs11: C_SignInit: `), err.Error())
	requireRV(t, err, ck.CKR_KEY_FUNCTION_NOT_PERMITTED, ck.CKR_KEY_TYPE_INCONSISTENT)

	err = s.Verify(pub, session.ECDSA(0), make([]byte, 32), make([]byte, 64))
	assert.True(t, strings.HasPrefix(err.Error(), `session: verify (CKM_ECDSA, key "named key"): pkcs11: C_Verify: `), err.Error())
	requireRV(t, err, ck.CKR_SIGNATURE_INVALID)
	_ = priv
}
