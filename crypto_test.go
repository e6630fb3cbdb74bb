package pkcs11_test

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
	"hash"
	"math/big"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// The cryptographic functions of the root package against SoftHSM2: every
// result is checked against Go's standard library, in both directions
// where the token allows it. Keys are session objects, gone with the
// session at the end of each test.

// message is the data signed and encrypted in these tests: longer than a
// block, not a multiple of one.
var message = []byte("purepkcs11 signs, encrypts and digests this message on a real token")

// goRSAKey is one Go RSA key shared by the tests that sign or decrypt in
// Go: generating it takes a fraction of a second.
var goRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// signOnce signs data in one call.
func signOnce(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle, data []byte) []byte {
	t.Helper()
	require.NoError(t, m.SignInit(s, mech, key))
	sig, err := m.Sign(s, data)
	require.NoError(t, err)
	return sig
}

// signParts signs data given in parts of at most n bytes.
func signParts(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle, data []byte, n int) []byte {
	t.Helper()
	require.NoError(t, m.SignInit(s, mech, key))
	for part := range slices.Chunk(data, n) {
		require.NoError(t, m.SignUpdate(s, part))
	}
	sig, err := m.SignFinal(s)
	require.NoError(t, err)
	return sig
}

// verifyOnce verifies a signature in one call.
func verifyOnce(m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle, data, sig []byte) error {
	if err := m.VerifyInit(s, mech, key); err != nil {
		return err
	}
	return m.Verify(s, data, sig)
}

// verifyParts verifies a signature over data given in parts of n bytes.
func verifyParts(m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle, data, sig []byte, n int) error {
	if err := m.VerifyInit(s, mech, key); err != nil {
		return err
	}
	for part := range slices.Chunk(data, n) {
		if err := m.VerifyUpdate(s, part); err != nil {
			return err
		}
	}
	return m.VerifyFinal(s, sig)
}

func TestGenerateKeys(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)

	t.Run("RSA 2048", func(t *testing.T) {
		pub, priv := generateRSA(t, m, s, 2048)
		assert.Equal(t, uint64(ck.CKK_RSA), attrULong(t, m, s, pub, ck.CKA_KEY_TYPE))
		assert.Equal(t, uint64(ck.CKO_PRIVATE_KEY), attrULong(t, m, s, priv, ck.CKA_CLASS))
		assert.Equal(t, uint64(2048), attrULong(t, m, s, pub, ck.CKA_MODULUS_BITS))
		assert.True(t, attrBool(t, m, s, priv, ck.CKA_LOCAL))
		k := rsaPublicKey(t, m, s, pub)
		assert.Equal(t, 2048, k.N.BitLen())
		assert.Equal(t, 65537, k.E)
		// The modulus is odd and not a small prime's multiple: a real key.
		assert.Equal(t, uint(1), k.N.Bit(0))
		assert.Zero(t, new(big.Int).GCD(nil, nil, k.N, big.NewInt(3*5*7*11*13)).Cmp(big.NewInt(1)))

		// The private half is sensitive: its exponent cannot be read.
		res, err := m.GetAttributeValue(s, priv, []ck.AttributeType{ck.CKA_PRIVATE_EXPONENT, ck.CKA_MODULUS})
		require.NoError(t, err)
		assert.ErrorIs(t, res[0].Err, ck.CKR_ATTRIBUTE_SENSITIVE)
		require.NoError(t, res[1].Err)
		assert.Equal(t, k.N.Bytes(), res[1].Value)
	})

	ecCases := []struct {
		name  string
		oid   []byte
		curve elliptic.Curve // nil: not in Go's standard library
		size  int            // bytes of a coordinate
	}{
		{"P-256", derOf(oidP256), elliptic.P256(), 32},
		{"P-384", derOf(oidP384), elliptic.P384(), 48},
		{"P-521", derOf(oidP521), elliptic.P521(), 66},
		{"secp256k1", derOf(oidSecp256k1), nil, 32},
	}
	for _, c := range ecCases {
		t.Run(c.name, func(t *testing.T) {
			pub, priv, err := generateEC(m, s, ck.CKM_EC_KEY_PAIR_GEN, c.oid)
			require.NoError(t, err)
			assert.Equal(t, uint64(ck.CKK_EC), attrULong(t, m, s, priv, ck.CKA_KEY_TYPE))
			v := attrValues(t, m, s, pub, ck.CKA_EC_PARAMS, ck.CKA_EC_POINT)
			assert.Equal(t, c.oid, v[0])
			curve, err := ck.DecodeECParams(v[0])
			require.NoError(t, err)
			assert.Equal(t, c.name, curve.Name)
			point := ecPointOf(t, m, s, pub)
			require.Len(t, point, 1+2*c.size)
			// SoftHSM wraps the point in a DER OCTET STRING.
			assert.Equal(t, derOf(point), v[1])
			assert.Equal(t, byte(4), point[0], "uncompressed point")
			if c.curve == nil {
				assert.True(t, onSecp256k1(point), "point %x is not on secp256k1", point)
				return
			}
			// Parsing checks that the point is on the curve.
			ecdsaPublicKey(t, m, s, pub, c.curve)
		})
	}

	t.Run("Ed25519", func(t *testing.T) {
		pub, priv, params := generateEd25519(t, m, s)
		assert.Equal(t, uint64(ck.CKK_EC_EDWARDS), attrULong(t, m, s, priv, ck.CKA_KEY_TYPE))
		v := attrValues(t, m, s, pub, ck.CKA_EC_PARAMS, ck.CKA_EC_POINT)
		assert.Equal(t, params, v[0])
		curve, err := ck.DecodeECParams(v[0])
		require.NoError(t, err)
		assert.Equal(t, "Ed25519", curve.Name)
		k := ed25519PublicKey(t, m, s, pub)
		assert.Equal(t, derOf([]byte(k)), v[1], "a DER OCTET STRING around the key")
		assert.NotEqual(t, make([]byte, 32), []byte(k))
	})

	t.Run("AES-256", func(t *testing.T) {
		key, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, []ck.Attribute{
			attr(ck.CKA_TOKEN, false),
			attr(ck.CKA_VALUE_LEN, 32),
			attr(ck.CKA_ENCRYPT, true),
			attr(ck.CKA_SENSITIVE, false),
			attr(ck.CKA_EXTRACTABLE, true),
		})
		require.NoError(t, err)
		assert.Equal(t, uint64(ck.CKK_AES), attrULong(t, m, s, key, ck.CKA_KEY_TYPE))
		assert.Equal(t, uint64(32), attrULong(t, m, s, key, ck.CKA_VALUE_LEN))
		value := attrValues(t, m, s, key, ck.CKA_VALUE)[0]
		require.Len(t, value, 32)

		// The token encrypts with the value it reports.
		block, err := aes.NewCipher(value)
		require.NoError(t, err)
		want := make([]byte, 16)
		block.Encrypt(want, message[:16])
		require.NoError(t, m.EncryptInit(s, ck.Mechanism{Type: ck.CKM_AES_ECB}, key))
		got, err := m.Encrypt(s, message[:16])
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})

	t.Run("generic secret", func(t *testing.T) {
		key, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_GENERIC_SECRET_KEY_GEN}, []ck.Attribute{
			attr(ck.CKA_TOKEN, false),
			attr(ck.CKA_VALUE_LEN, 32),
			attr(ck.CKA_SIGN, true),
			attr(ck.CKA_SENSITIVE, false),
			attr(ck.CKA_EXTRACTABLE, true),
		})
		require.NoError(t, err)
		assert.Equal(t, uint64(ck.CKK_GENERIC_SECRET), attrULong(t, m, s, key, ck.CKA_KEY_TYPE))
		value := attrValues(t, m, s, key, ck.CKA_VALUE)[0]
		require.Len(t, value, 32)

		// It is an HMAC key: the token's MAC is Go's.
		mac := hmac.New(sha256.New, value)
		mac.Write(message)
		assert.Equal(t, mac.Sum(nil), signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, key, message))
	})
}

func TestSignRSA(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	pub, priv := generateRSA(t, m, s, 2048)
	k := rsaPublicKey(t, m, s, pub)
	digest := sha256.Sum256(message)

	pss := &ck.RSAPKCSPSSParams{HashAlg: ck.CKM_SHA256, MGF: ck.CKG_MGF1_SHA256, SaltLength: 32}
	verifyPKCS1 := func(sig []byte) error { return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) }
	verifyPSS := func(sig []byte) error {
		return rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32})
	}
	cases := []struct {
		name    string
		mech    ck.Mechanism
		input   []byte // what the token signs
		hashing bool   // the mechanism hashes: sign in parts too
		verify  func(sig []byte) error
	}{
		{"RSA_PKCS over DigestInfo", ck.Mechanism{Type: ck.CKM_RSA_PKCS}, digestInfoSHA256(digest[:]), false, verifyPKCS1},
		{"SHA256_RSA_PKCS", ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, message, true, verifyPKCS1},
		{"RSA_PKCS_PSS over digest", ck.Mechanism{Type: ck.CKM_RSA_PKCS_PSS, Parameter: pss}, digest[:], false, verifyPSS},
		{"SHA256_RSA_PKCS_PSS", ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS, Parameter: pss}, message, true, verifyPSS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sig := signOnce(t, m, s, c.mech, priv, c.input)
			require.Len(t, sig, 256)
			require.NoError(t, c.verify(sig))
			require.NoError(t, verifyOnce(m, s, c.mech, pub, c.input, sig))
			requireRV(t, verifyOnce(m, s, c.mech, pub, c.input, flipBit(sig, 100)), ck.CKR_SIGNATURE_INVALID)
			requireRV(t, verifyOnce(m, s, c.mech, pub, c.input, sig[:255]), ck.CKR_SIGNATURE_LEN_RANGE)
			if !c.hashing {
				return
			}
			for _, n := range []int{1, 7, len(message)} {
				sig := signParts(t, m, s, c.mech, priv, c.input, n)
				require.NoError(t, c.verify(sig), "parts of %d", n)
				require.NoError(t, verifyParts(m, s, c.mech, pub, c.input, sig, n))
			}
		})
	}

	t.Run("PKCS1 v1.5 is deterministic", func(t *testing.T) {
		// Signing the DigestInfo by hand and letting the token hash give
		// the same bytes, in one part or many.
		raw := signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_RSA_PKCS}, priv, digestInfoSHA256(digest[:]))
		hashed := signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv, message)
		parts := signParts(t, m, s, ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv, message, 5)
		assert.Equal(t, raw, hashed)
		assert.Equal(t, raw, parts)
	})

	t.Run("SignInto", func(t *testing.T) {
		mech := ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}
		want := signOnce(t, m, s, mech, priv, message)

		buf := make([]byte, 4096)
		require.NoError(t, m.SignInit(s, mech, priv))
		sig, err := m.SignInto(s, message, buf)
		require.NoError(t, err)
		assert.Equal(t, want, sig)
		assert.Same(t, &buf[0], &sig[0], "the signature is a prefix of buf")

		// Too small: SoftHSM keeps the operation for another try.
		require.NoError(t, m.SignInit(s, mech, priv))
		_, err = m.SignInto(s, message, buf[:255])
		requireRV(t, err, ck.CKR_BUFFER_TOO_SMALL)
		sig, err = m.SignInto(s, message, buf[:256])
		require.NoError(t, err)
		assert.Equal(t, want, sig)
	})
}

func TestSignEC(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)

	cases := []struct {
		name  string
		oid   []byte
		curve elliptic.Curve // nil: verify on the token only
		hash  crypto.Hash
		size  int // bytes of r and of s
	}{
		{"P-256", derOf(oidP256), elliptic.P256(), crypto.SHA256, 32},
		{"P-384", derOf(oidP384), elliptic.P384(), crypto.SHA384, 48},
		{"P-521", derOf(oidP521), elliptic.P521(), crypto.SHA512, 66},
		{"secp256k1", derOf(oidSecp256k1), nil, crypto.SHA256, 32},
	}
	mech := ck.Mechanism{Type: ck.CKM_ECDSA}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pub, priv, err := generateEC(m, s, ck.CKM_EC_KEY_PAIR_GEN, c.oid)
			require.NoError(t, err)
			h := c.hash.New()
			h.Write(message)
			digest := h.Sum(nil)

			sig := signOnce(t, m, s, mech, priv, digest)
			require.Len(t, sig, 2*c.size)
			if c.curve != nil {
				k := ecdsaPublicKey(t, m, s, pub, c.curve)
				r, sv := splitECDSA(t, sig)
				assert.True(t, ecdsa.Verify(k, digest, r, sv), "Go rejects the token's signature")
				assert.False(t, ecdsa.Verify(k, flipBit(digest, 0), r, sv))
			}
			require.NoError(t, verifyOnce(m, s, mech, pub, digest, sig))
			requireRV(t, verifyOnce(m, s, mech, pub, digest, flipBit(sig, 3)), ck.CKR_SIGNATURE_INVALID)
			requireRV(t, verifyOnce(m, s, mech, pub, flipBit(digest, 3), sig), ck.CKR_SIGNATURE_INVALID)
			requireRV(t, verifyOnce(m, s, mech, pub, digest, sig[1:]), ck.CKR_SIGNATURE_LEN_RANGE)

			// ECDSA is randomized: a second signature differs and verifies.
			sig2 := signOnce(t, m, s, mech, priv, digest)
			assert.NotEqual(t, sig, sig2)
			require.NoError(t, verifyOnce(m, s, mech, pub, digest, sig2))
		})
	}

	t.Run("Ed25519", func(t *testing.T) {
		pub, priv, _ := generateEd25519(t, m, s)
		k := ed25519PublicKey(t, m, s, pub)
		mech := ck.Mechanism{Type: ck.CKM_EDDSA}

		sig := signOnce(t, m, s, mech, priv, message)
		require.Len(t, sig, ed25519.SignatureSize)
		assert.True(t, ed25519.Verify(k, message, sig), "Go rejects the token's signature")
		// Ed25519 is deterministic.
		assert.Equal(t, sig, signOnce(t, m, s, mech, priv, message))
		require.NoError(t, verifyOnce(m, s, mech, pub, message, sig))
		requireRV(t, verifyOnce(m, s, mech, pub, message, flipBit(sig, 40)), ck.CKR_SIGNATURE_INVALID)
	})
}

func TestHMAC(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	value := []byte("0123456789abcdef0123456789ABCDEF")
	key := createSecretKey(t, m, s, ck.CKK_GENERIC_SECRET, value)
	mech := ck.Mechanism{Type: ck.CKM_SHA256_HMAC}

	for _, data := range [][]byte{message, {0}, make([]byte, 1000)} {
		mac := hmac.New(sha256.New, value)
		mac.Write(data)
		want := mac.Sum(nil)

		assert.Equal(t, want, signOnce(t, m, s, mech, key, data))
		for _, n := range []int{1, 64, 100} {
			assert.Equal(t, want, signParts(t, m, s, mech, key, data, n), "parts of %d", n)
		}
		require.NoError(t, verifyOnce(m, s, mech, key, data, want))
		require.NoError(t, verifyParts(m, s, mech, key, data, want, 3))
		requireRV(t, verifyOnce(m, s, mech, key, data, flipBit(want, 31)), ck.CKR_SIGNATURE_INVALID)
		requireRV(t, verifyOnce(m, s, mech, key, data, want[:16]), ck.CKR_SIGNATURE_LEN_RANGE)
	}
}

func TestVerifyGoSignatures(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	digest := sha256.Sum256(message)

	rk := goRSAKey()
	rsaPub := importRSAPublic(t, m, s, &rk.PublicKey)
	pkcs1, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:])
	require.NoError(t, err)
	pss, err := rsa.SignPSS(rand.Reader, rk, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: 32})
	require.NoError(t, err)
	pssParams := &ck.RSAPKCSPSSParams{HashAlg: ck.CKM_SHA256, MGF: ck.CKG_MGF1_SHA256, SaltLength: 32}

	type tcase struct {
		name      string
		key       ck.ObjectHandle
		mech      ck.Mechanism
		data, sig []byte
	}
	cases := []tcase{
		{"RSA_PKCS", rsaPub, ck.Mechanism{Type: ck.CKM_RSA_PKCS}, digestInfoSHA256(digest[:]), pkcs1},
		{"SHA256_RSA_PKCS", rsaPub, ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, message, pkcs1},
		{"RSA_PKCS_PSS", rsaPub, ck.Mechanism{Type: ck.CKM_RSA_PKCS_PSS, Parameter: pssParams}, digest[:], pss},
		{"SHA256_RSA_PKCS_PSS", rsaPub, ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS, Parameter: pssParams}, message, pss},
	}

	for _, c := range []struct {
		name  string
		oid   []byte
		curve elliptic.Curve
		hash  func() hash.Hash
	}{
		{"ECDSA P-256", derOf(oidP256), elliptic.P256(), sha256.New},
		{"ECDSA P-384", derOf(oidP384), elliptic.P384(), sha512.New384},
		{"ECDSA P-521", derOf(oidP521), elliptic.P521(), sha512.New},
	} {
		k, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		require.NoError(t, err)
		h := c.hash()
		h.Write(message)
		d := h.Sum(nil)
		r, sv, err := ecdsa.Sign(rand.Reader, k, d)
		require.NoError(t, err)
		point, err := k.PublicKey.Bytes()
		require.NoError(t, err)
		pub := importECPublic(t, m, s, ck.CKK_EC, c.oid, point)
		size := (c.curve.Params().BitSize + 7) / 8
		cases = append(cases, tcase{c.name, pub, ck.Mechanism{Type: ck.CKM_ECDSA}, d, joinECDSA(r, sv, size)})
	}

	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	edKey := importECPublic(t, m, s, ck.CKK_EC_EDWARDS, derOf(oidEd25519), edPub)
	cases = append(cases, tcase{"Ed25519", edKey, ck.Mechanism{Type: ck.CKM_EDDSA}, message, ed25519.Sign(edPriv, message)})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, verifyOnce(m, s, c.mech, c.key, c.data, c.sig))
			for _, i := range []int{0, len(c.sig) / 2, len(c.sig) - 1} {
				requireRV(t, verifyOnce(m, s, c.mech, c.key, c.data, flipBit(c.sig, i)),
					ck.CKR_SIGNATURE_INVALID, ck.CKR_SIGNATURE_LEN_RANGE)
			}
			requireRV(t, verifyOnce(m, s, c.mech, c.key, flipBit(c.data, 0), c.sig), ck.CKR_SIGNATURE_INVALID)
			requireRV(t, verifyOnce(m, s, c.mech, c.key, c.data, c.sig[:len(c.sig)-1]),
				ck.CKR_SIGNATURE_LEN_RANGE, ck.CKR_SIGNATURE_INVALID)
		})
	}
}

func TestEncryptRSA(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	pub, priv := generateRSA(t, m, s, 2048)
	k := rsaPublicKey(t, m, s, pub)
	oaep := ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP,
		Parameter: &ck.RSAPKCSOAEPParams{HashAlg: ck.CKM_SHA_1, MGF: ck.CKG_MGF1_SHA1}}
	pkcs1 := ck.Mechanism{Type: ck.CKM_RSA_PKCS}

	encrypt := func(t *testing.T, mech ck.Mechanism, key ck.ObjectHandle, pt []byte) []byte {
		t.Helper()
		require.NoError(t, m.EncryptInit(s, mech, key))
		ct, err := m.Encrypt(s, pt)
		require.NoError(t, err)
		require.Len(t, ct, 256)
		return ct
	}
	decrypt := func(t *testing.T, mech ck.Mechanism, ct []byte) []byte {
		t.Helper()
		require.NoError(t, m.DecryptInit(s, mech, priv))
		pt, err := m.Decrypt(s, ct)
		require.NoError(t, err)
		return pt
	}

	t.Run("OAEP token to token", func(t *testing.T) {
		ct := encrypt(t, oaep, pub, message)
		// OAEP is randomized.
		assert.NotEqual(t, ct, encrypt(t, oaep, pub, message))
		assert.Equal(t, message, decrypt(t, oaep, ct))
	})

	t.Run("OAEP Go to token", func(t *testing.T) {
		for _, pt := range [][]byte{message, {0x42}, bytes.Repeat([]byte{0xff}, 214)} {
			ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, k, pt, nil)
			require.NoError(t, err)
			assert.Equal(t, pt, decrypt(t, oaep, ct))
		}
	})

	t.Run("PKCS1 v1.5 Go to token", func(t *testing.T) {
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, k, message)
		require.NoError(t, err)
		assert.Equal(t, message, decrypt(t, pkcs1, ct))
	})

	t.Run("token to Go", func(t *testing.T) {
		rk := goRSAKey()
		goPub := importRSAPublic(t, m, s, &rk.PublicKey)
		pt, err := rsa.DecryptOAEP(sha1.New(), nil, rk, encrypt(t, oaep, goPub, message), nil)
		require.NoError(t, err)
		assert.Equal(t, message, pt)
		pt, err = rsa.DecryptPKCS1v15(nil, rk, encrypt(t, pkcs1, goPub, message))
		require.NoError(t, err)
		assert.Equal(t, message, pt)
	})

	t.Run("wrong ciphertext", func(t *testing.T) {
		// SoftHSM 2.6 reports a bad OAEP padding and a ciphertext of the
		// wrong length as CKR_GENERAL_ERROR, where the specification has
		// CKR_ENCRYPTED_DATA_INVALID and CKR_ENCRYPTED_DATA_LEN_RANGE.
		ct := encrypt(t, oaep, pub, message)
		for _, bad := range [][]byte{flipBit(ct, 10), ct[1:], append(slices.Clone(ct), 0)} {
			require.NoError(t, m.DecryptInit(s, oaep, priv))
			_, err := m.Decrypt(s, bad)
			requireRV(t, err, ck.CKR_GENERAL_ERROR, ck.CKR_ENCRYPTED_DATA_INVALID, ck.CKR_ENCRYPTED_DATA_LEN_RANGE)
		}
		// The failed operation has ended: the next one starts cleanly.
		assert.Equal(t, message, decrypt(t, oaep, ct))
	})
}

// pkcs7 pads data to a multiple of the AES block size, as CKM_AES_CBC_PAD
// does.
func pkcs7(data []byte) []byte {
	n := aes.BlockSize - len(data)%aes.BlockSize
	return append(slices.Clone(data), bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestEncryptAES(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	value := []byte("AES-256 key of 32 bytes, known!!")
	key := createSecretKey(t, m, s, ck.CKK_AES, value)
	block, err := aes.NewCipher(value)
	require.NoError(t, err)
	iv := []byte("sixteen byte IV.")

	encrypt := func(t *testing.T, mech ck.Mechanism, pt []byte) []byte {
		t.Helper()
		require.NoError(t, m.EncryptInit(s, mech, key))
		ct, err := m.Encrypt(s, pt)
		require.NoError(t, err)
		return ct
	}
	decrypt := func(t *testing.T, mech ck.Mechanism, ct []byte) ([]byte, error) {
		t.Helper()
		require.NoError(t, m.DecryptInit(s, mech, key))
		return m.Decrypt(s, ct)
	}

	t.Run("CBC-PAD", func(t *testing.T) {
		mech := ck.Mechanism{Type: ck.CKM_AES_CBC_PAD, Parameter: ck.IV(iv)}
		for _, n := range []int{0, 1, 15, 16, 17, len(message)} {
			pt := message[:n]
			want := pkcs7(pt)
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(want, want)

			ct := encrypt(t, mech, pt)
			assert.Equal(t, want, ct, "%d bytes", n)
			got, err := decrypt(t, mech, ct)
			require.NoError(t, err)
			assert.Equal(t, pt, got, "%d bytes", n)
		}
	})

	t.Run("CBC-PAD in parts", func(t *testing.T) {
		mech := ck.Mechanism{Type: ck.CKM_AES_CBC_PAD, Parameter: ck.IV(iv)}
		want := encrypt(t, mech, message)
		for _, n := range []int{1, 7, 16, 33} {
			require.NoError(t, m.EncryptInit(s, mech, key))
			var ct []byte
			for part := range slices.Chunk(message, n) {
				out, err := m.EncryptUpdate(s, part)
				require.NoError(t, err)
				// Output comes in whole blocks only.
				require.Zero(t, len(out)%aes.BlockSize)
				ct = append(ct, out...)
			}
			out, err := m.EncryptFinal(s)
			require.NoError(t, err)
			ct = append(ct, out...)
			assert.Equal(t, want, ct, "parts of %d", n)

			require.NoError(t, m.DecryptInit(s, mech, key))
			var pt []byte
			for part := range slices.Chunk(ct, n) {
				out, err := m.DecryptUpdate(s, part)
				require.NoError(t, err)
				pt = append(pt, out...)
			}
			out, err = m.DecryptFinal(s)
			require.NoError(t, err)
			pt = append(pt, out...)
			assert.Equal(t, message, pt, "parts of %d", n)
		}
	})

	t.Run("GCM", func(t *testing.T) {
		gcm, err := cipher.NewGCM(block)
		require.NoError(t, err)
		nonce := []byte("twelve bytes")
		aad := []byte("header")
		for _, pt := range [][]byte{message, {}, message[:16]} {
			mech := ck.Mechanism{Type: ck.CKM_AES_GCM,
				Parameter: &ck.GCMParams{IV: slices.Clone(nonce), AAD: aad, TagBits: 128}}
			want := gcm.Seal(nil, nonce, pt, aad)
			ct := encrypt(t, mech, pt)
			assert.Equal(t, want, ct, "ciphertext||tag of %d bytes", len(pt))
			got, err := decrypt(t, mech, ct)
			require.NoError(t, err)
			assert.Equal(t, pt, got)

			// A changed tag, ciphertext or AAD fails (SoftHSM answers
			// CKR_GENERAL_ERROR, NSS CKR_ENCRYPTED_DATA_INVALID).
			_, err = decrypt(t, mech, flipBit(ct, len(ct)-1))
			requireRV(t, err, ck.CKR_GENERAL_ERROR, ck.CKR_ENCRYPTED_DATA_INVALID)
			if len(pt) > 0 {
				_, err = decrypt(t, mech, flipBit(ct, 0))
				requireRV(t, err, ck.CKR_GENERAL_ERROR, ck.CKR_ENCRYPTED_DATA_INVALID)
			}
			other := ck.Mechanism{Type: ck.CKM_AES_GCM,
				Parameter: &ck.GCMParams{IV: slices.Clone(nonce), AAD: []byte("Header"), TagBits: 128}}
			_, err = decrypt(t, other, ct)
			requireRV(t, err, ck.CKR_GENERAL_ERROR, ck.CKR_ENCRYPTED_DATA_INVALID)
		}

		// A 96-bit tag is Go's GCM with a 12-byte tag.
		gcm12, err := cipher.NewGCMWithTagSize(block, 12)
		require.NoError(t, err)
		mech := ck.Mechanism{Type: ck.CKM_AES_GCM, Parameter: &ck.GCMParams{IV: nonce, AAD: aad, TagBits: 96}}
		assert.Equal(t, gcm12.Seal(nil, nonce, message, aad), encrypt(t, mech, message))
	})

	t.Run("CTR", func(t *testing.T) {
		var cb [16]byte
		copy(cb[:], iv)
		cb[15] = 0xfe // the counter wraps within the message
		mech := ck.Mechanism{Type: ck.CKM_AES_CTR, Parameter: &ck.AESCTRParams{CounterBits: 128, CounterBlock: cb}}
		want := make([]byte, len(message))
		cipher.NewCTR(block, cb[:]).XORKeyStream(want, message)
		ct := encrypt(t, mech, message)
		assert.Equal(t, want, ct)
		got, err := decrypt(t, mech, ct)
		require.NoError(t, err)
		assert.Equal(t, message, got)
	})
}

func TestDigest(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)

	cases := []struct {
		mech ck.MechanismType
		hash func() hash.Hash
	}{
		{ck.CKM_SHA_1, sha1.New},
		{ck.CKM_SHA224, sha256.New224},
		{ck.CKM_SHA256, sha256.New},
		{ck.CKM_SHA384, sha512.New384},
		{ck.CKM_SHA512, sha512.New},
	}
	for _, c := range cases {
		t.Run(c.mech.String(), func(t *testing.T) {
			mech := ck.Mechanism{Type: c.mech}
			for _, data := range [][]byte{message, {}, make([]byte, 5000)} {
				h := c.hash()
				h.Write(data)
				want := h.Sum(nil)

				require.NoError(t, m.DigestInit(s, mech))
				got, err := m.Digest(s, data)
				require.NoError(t, err)
				assert.Equal(t, want, got, "%d bytes in one part", len(data))

				require.NoError(t, m.DigestInit(s, mech))
				for part := range slices.Chunk(data, 13) {
					require.NoError(t, m.DigestUpdate(s, part))
				}
				got, err = m.DigestFinal(s)
				require.NoError(t, err)
				assert.Equal(t, want, got, "%d bytes in parts", len(data))
			}
		})
	}

	t.Run("DigestKey", func(t *testing.T) {
		value := []byte("a secret key digested in place!!")
		key := createSecretKey(t, m, s, ck.CKK_AES, value)
		require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
		require.NoError(t, m.DigestUpdate(s, []byte("before ")))
		require.NoError(t, m.DigestKey(s, key))
		require.NoError(t, m.DigestUpdate(s, []byte(" after")))
		got, err := m.DigestFinal(s)
		require.NoError(t, err)
		want := sha256.Sum256([]byte("before " + string(value) + " after"))
		assert.Equal(t, want[:], got)
	})
}

func TestWrapUnwrap(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	kekValue := []byte("key-encryption key of 32 bytes..")
	kek := createSecretKey(t, m, s, ck.CKK_AES, kekValue, attr(ck.CKA_WRAP, true), attr(ck.CKA_UNWRAP, true))
	value := []byte("the wrapped key, also 32 bytes..")
	key := createSecretKey(t, m, s, ck.CKK_AES, value,
		attr(ck.CKA_EXTRACTABLE, true), attr(ck.CKA_SENSITIVE, true))
	unwrapTemplate := []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY),
		attr(ck.CKA_KEY_TYPE, ck.CKK_AES),
		attr(ck.CKA_TOKEN, false),
		attr(ck.CKA_ENCRYPT, true),
		attr(ck.CKA_SENSITIVE, false),
		attr(ck.CKA_EXTRACTABLE, true),
	}

	// sameKey checks that an unwrapped key holds value and encrypts as the
	// original does.
	sameKey := func(t *testing.T, h ck.ObjectHandle) {
		t.Helper()
		assert.Equal(t, value, attrValues(t, m, s, h, ck.CKA_VALUE)[0])
		ecb := ck.Mechanism{Type: ck.CKM_AES_ECB}
		var cts [][]byte
		for _, k := range []ck.ObjectHandle{key, h} {
			require.NoError(t, m.EncryptInit(s, ecb, k))
			ct, err := m.Encrypt(s, message[:32])
			require.NoError(t, err)
			cts = append(cts, ct)
		}
		assert.Equal(t, cts[0], cts[1])
	}

	mechs, err := m.GetMechanismList(sessionSlot(t, m, s))
	require.NoError(t, err)
	for _, c := range []struct {
		mech ck.MechanismType
		iv   [8]byte
	}{
		{ck.CKM_AES_KEY_WRAP, [8]byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}},
		{ck.CKM_AES_KEY_WRAP_PAD, [8]byte{0xa6, 0x59, 0x59, 0xa6, 0, 0, 0, byte(len(value))}},
	} {
		t.Run(c.mech.String(), func(t *testing.T) {
			require.Contains(t, mechs, c.mech, "SoftHSM lists both AES key wraps")
			mech := ck.Mechanism{Type: c.mech}
			wrapped, err := m.WrapKey(s, mech, kek, key)
			require.NoError(t, err)
			// RFC 3394 and 5649 add one 8-byte block to a 32-byte key.
			require.Len(t, wrapped, 40)
			assert.Equal(t, aesKeyWrap(kekValue, c.iv, value), wrapped)

			h, err := m.UnwrapKey(s, mech, kek, wrapped, unwrapTemplate)
			require.NoError(t, err)
			sameKey(t, h)

			// The integrity check fails: SoftHSM 2.6 says CKR_GENERAL_ERROR
			// where the specification has CKR_WRAPPED_KEY_INVALID.
			_, err = m.UnwrapKey(s, mech, kek, flipBit(wrapped, 20), unwrapTemplate)
			requireRV(t, err, ck.CKR_GENERAL_ERROR, ck.CKR_WRAPPED_KEY_INVALID)
		})
	}

	t.Run("RSA OAEP", func(t *testing.T) {
		pub, priv := generateRSA(t, m, s, 2048)
		mech := ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP,
			Parameter: &ck.RSAPKCSOAEPParams{HashAlg: ck.CKM_SHA_1, MGF: ck.CKG_MGF1_SHA1}}
		wrapped, err := m.WrapKey(s, mech, pub, key)
		require.NoError(t, err)
		require.Len(t, wrapped, 256)

		// The wrapped key is the key's value under RSA-OAEP: the token
		// decrypts it as data too.
		require.NoError(t, m.DecryptInit(s, mech, priv))
		pt, err := m.Decrypt(s, wrapped)
		require.NoError(t, err)
		assert.Equal(t, value, pt)

		h, err := m.UnwrapKey(s, mech, priv, wrapped, unwrapTemplate)
		require.NoError(t, err)
		sameKey(t, h)
	})

	t.Run("not extractable", func(t *testing.T) {
		locked := createSecretKey(t, m, s, ck.CKK_AES, value, attr(ck.CKA_EXTRACTABLE, false))
		_, err := m.WrapKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP}, kek, locked)
		requireRV(t, err, ck.CKR_KEY_UNEXTRACTABLE)
	})
}

func TestDeriveECDH(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	pub, priv, err := generateEC(m, s, ck.CKM_EC_KEY_PAIR_GEN, derOf(oidP256))
	require.NoError(t, err)
	tokenPub := ecdhPublicKey(t, m, s, pub, ecdh.P256())

	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	want, err := peer.ECDH(tokenPub)
	require.NoError(t, err)

	template := []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY),
		attr(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET),
		attr(ck.CKA_TOKEN, false),
		attr(ck.CKA_SENSITIVE, false),
		attr(ck.CKA_EXTRACTABLE, true),
		attr(ck.CKA_VALUE_LEN, 32),
	}
	derive := func(p *ck.ECDH1DeriveParams) (ck.ObjectHandle, error) {
		return m.DeriveKey(s, ck.Mechanism{Type: ck.CKM_ECDH1_DERIVE, Parameter: p}, priv, template)
	}

	// The peer's point bare, as the specification has it, and in a DER
	// OCTET STRING, which SoftHSM accepts too.
	for _, data := range [][]byte{peer.PublicKey().Bytes(), derOf(peer.PublicKey().Bytes())} {
		secret, err := derive(&ck.ECDH1DeriveParams{KDF: ck.CKD_NULL, PublicData: data})
		require.NoError(t, err)
		assert.Equal(t, want, attrValues(t, m, s, secret, ck.CKA_VALUE)[0])
	}

	// A point not on the curve is refused, as a general error by SoftHSM
	// 2.6.
	bad := peer.PublicKey().Bytes()
	bad[64] ^= 1
	_, err = derive(&ck.ECDH1DeriveParams{KDF: ck.CKD_NULL, PublicData: bad})
	requireRV(t, err, ck.CKR_GENERAL_ERROR)

	// SoftHSM 2.6 applies no KDF: only CKD_NULL.
	_, err = derive(&ck.ECDH1DeriveParams{KDF: ck.CKD_SHA256_KDF, SharedData: []byte("info"),
		PublicData: peer.PublicKey().Bytes()})
	requireRV(t, err, ck.CKR_MECHANISM_PARAM_INVALID)
}

func TestRandom(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)

	a, err := m.GenerateRandom(s, 32)
	require.NoError(t, err)
	b, err := m.GenerateRandom(s, 32)
	require.NoError(t, err)
	require.Len(t, a, 32)
	assert.NotEqual(t, make([]byte, 32), a)
	assert.NotEqual(t, a, b)

	buf := make([]byte, 100)
	require.NoError(t, m.GenerateRandomInto(s, buf[10:90]))
	assert.Equal(t, make([]byte, 10), buf[:10], "nothing written before the slice")
	assert.Equal(t, make([]byte, 10), buf[90:], "nothing written after the slice")
	assert.NotEqual(t, make([]byte, 80), buf[10:90])

	empty, err := m.GenerateRandom(s, 0)
	require.NoError(t, err)
	assert.Empty(t, empty)
	_, err = m.GenerateRandom(s, -1)
	assert.ErrorContains(t, err, "C_GenerateRandom: length -1 out of range")

	require.NoError(t, m.SeedRandom(s, []byte("more entropy, or so it says")))
	c, err := m.GenerateRandom(s, 32)
	require.NoError(t, err)
	assert.NotEqual(t, a, c)
}

func TestOperationState(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
	require.NoError(t, m.DigestUpdate(s, message))

	// SoftHSM 2.6 saves no operation state.
	_, err := m.GetOperationState(s)
	requireRV(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	err = m.SetOperationState(s, []byte("state"), 0, 0)
	requireRV(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)

	// The digest goes on.
	got, err := m.DigestFinal(s)
	require.NoError(t, err)
	want := sha256.Sum256(message)
	assert.Equal(t, want[:], got)
}

func TestSignRecover(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	pub, priv := generateRSA(t, m, s, 1024)

	// SoftHSM 2.6 lists no mechanism with CKF_SIGN_RECOVER and does not
	// implement C_SignRecover or C_VerifyRecover.
	for _, mt := range []ck.MechanismType{ck.CKM_RSA_PKCS, ck.CKM_RSA_X_509} {
		info, err := m.GetMechanismInfo(sessionSlot(t, m, s), mt)
		require.NoError(t, err)
		assert.Zero(t, info.Flags&ck.CKF_SIGN_RECOVER, "%v", mt)
		err = m.SignRecoverInit(s, ck.Mechanism{Type: mt}, priv)
		requireRV(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
		_, err = m.SignRecover(s, message[:16])
		requireRV(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
		err = m.VerifyRecoverInit(s, ck.Mechanism{Type: mt}, pub)
		requireRV(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	}
}

func TestDualFunctions(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	key := createSecretKey(t, m, s, ck.CKK_AES, []byte("AES-256 key of 32 bytes, known!!"))

	// SoftHSM 2.6 runs one operation at a time in a session, and has
	// none of the four dual functions (NSS has them: see TestNSS).
	require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
	requireRV(t, m.EncryptInit(s, ck.Mechanism{Type: ck.CKM_AES_ECB}, key), ck.CKR_OPERATION_ACTIVE)
	for name, f := range map[string]func(ck.SessionHandle, []byte) ([]byte, error){
		"DigestEncryptUpdate": m.DigestEncryptUpdate,
		"DecryptDigestUpdate": m.DecryptDigestUpdate,
		"SignEncryptUpdate":   m.SignEncryptUpdate,
		"DecryptVerifyUpdate": m.DecryptVerifyUpdate,
	} {
		_, err := f(s, message[:16])
		requireRV(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
		assert.ErrorContains(t, err, "C_"+name)
	}
}

func TestCryptoBadInput(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	hmacKey := createSecretKey(t, m, s, ck.CKK_GENERIC_SECRET, []byte("0123456789abcdef0123456789ABCDEF"))
	aesKey := createSecretKey(t, m, s, ck.CKK_AES, []byte("AES-256 key of 32 bytes, known!!"))
	ecPub, ecPriv, err := generateEC(m, s, ck.CKM_EC_KEY_PAIR_GEN, derOf(oidP256))
	require.NoError(t, err)
	rsaPub, rsaPriv := generateRSA(t, m, s, 1024)
	_, edPriv, _ := generateEd25519(t, m, s)
	hmacMech := ck.Mechanism{Type: ck.CKM_SHA256_HMAC}

	t.Run("not initialized", func(t *testing.T) {
		_, err := m.Sign(s, message)
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		_, err = m.SignFinal(s)
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		requireRV(t, m.SignUpdate(s, message), ck.CKR_OPERATION_NOT_INITIALIZED)
		requireRV(t, m.Verify(s, message, message), ck.CKR_OPERATION_NOT_INITIALIZED)
		_, err = m.Encrypt(s, message)
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		_, err = m.Decrypt(s, message)
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		_, err = m.Digest(s, message)
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		_, err = m.SignInto(s, message, make([]byte, 64))
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
	})

	t.Run("operation ends", func(t *testing.T) {
		// A one-part Sign ends the operation; a second Init while one is
		// active is refused.
		require.NoError(t, m.SignInit(s, hmacMech, hmacKey))
		requireRV(t, m.SignInit(s, hmacMech, hmacKey), ck.CKR_OPERATION_ACTIVE)
		_, err := m.Sign(s, message)
		require.NoError(t, err)
		_, err = m.Sign(s, message)
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
	})

	t.Run("invalid key handle", func(t *testing.T) {
		// SoftHSM 2.6 says CKR_OBJECT_HANDLE_INVALID in the *Init
		// functions (the specification has CKR_KEY_HANDLE_INVALID) and
		// CKR_KEY_HANDLE_INVALID for the key to wrap.
		for _, h := range []ck.ObjectHandle{0, 0x7fff_fff0} {
			requireRV(t, m.SignInit(s, hmacMech, h), ck.CKR_OBJECT_HANDLE_INVALID)
			requireRV(t, m.EncryptInit(s, ck.Mechanism{Type: ck.CKM_AES_ECB}, h), ck.CKR_OBJECT_HANDLE_INVALID)
			requireRV(t, m.DigestKey(s, h), ck.CKR_OPERATION_NOT_INITIALIZED)
			_, err := m.WrapKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP}, aesKey, h)
			requireRV(t, err, ck.CKR_KEY_HANDLE_INVALID)
		}
		// A bad key in a digest fails that step only: the digest goes on.
		require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
		require.NoError(t, m.DigestUpdate(s, message))
		requireRV(t, m.DigestKey(s, 0x7fff_fff0), ck.CKR_KEY_HANDLE_INVALID)
		d, err := m.DigestFinal(s)
		require.NoError(t, err)
		want := sha256.Sum256(message)
		assert.Equal(t, want[:], d)
	})

	t.Run("invalid session handle", func(t *testing.T) {
		const bad = ck.SessionHandle(0x7fff_fff0)
		requireRV(t, m.SignInit(bad, hmacMech, hmacKey), ck.CKR_SESSION_HANDLE_INVALID)
		_, err := m.Sign(bad, message)
		requireRV(t, err, ck.CKR_SESSION_HANDLE_INVALID)
		requireRV(t, m.DigestInit(bad, ck.Mechanism{Type: ck.CKM_SHA256}), ck.CKR_SESSION_HANDLE_INVALID)
		_, err = m.GenerateRandom(bad, 16)
		requireRV(t, err, ck.CKR_SESSION_HANDLE_INVALID)
		_, err = m.GenerateKey(bad, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, []ck.Attribute{attr(ck.CKA_VALUE_LEN, 32)})
		requireRV(t, err, ck.CKR_SESSION_HANDLE_INVALID)
	})

	t.Run("empty data", func(t *testing.T) {
		// HMAC and digest of nothing are well defined.
		mac := hmac.New(sha256.New, []byte("0123456789abcdef0123456789ABCDEF"))
		assert.Equal(t, mac.Sum(nil), signOnce(t, m, s, hmacMech, hmacKey, nil))
		assert.Equal(t, mac.Sum(nil), signOnce(t, m, s, hmacMech, hmacKey, []byte{}))
		require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
		d, err := m.Digest(s, nil)
		require.NoError(t, err)
		want := sha256.Sum256(nil)
		assert.Equal(t, want[:], d)

		// CBC without padding encrypts nothing into nothing; with
		// padding into one block.
		iv := ck.IV(make([]byte, 16))
		require.NoError(t, m.EncryptInit(s, ck.Mechanism{Type: ck.CKM_AES_CBC, Parameter: iv}, aesKey))
		ct, err := m.Encrypt(s, nil)
		require.NoError(t, err)
		assert.Empty(t, ct)
		require.NoError(t, m.EncryptInit(s, ck.Mechanism{Type: ck.CKM_AES_CBC_PAD, Parameter: iv}, aesKey))
		ct, err = m.Encrypt(s, nil)
		require.NoError(t, err)
		assert.Len(t, ct, 16)

		// Ed25519 signs the empty message.
		sig := signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_EDDSA}, edPriv, nil)
		assert.Len(t, sig, 64)

		// SoftHSM signs an empty "digest" with ECDSA: it is the number 0,
		// and Go agrees.
		sig = signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_ECDSA}, ecPriv, nil)
		r, sv := splitECDSA(t, sig)
		assert.True(t, ecdsa.Verify(ecdsaPublicKey(t, m, s, ecPub, elliptic.P256()), nil, r, sv))
	})

	t.Run("mechanism the token lacks", func(t *testing.T) {
		// SoftHSM has no CKM_ECDSA_SHA256.
		requireRV(t, m.SignInit(s, ck.Mechanism{Type: ck.CKM_ECDSA_SHA256}, ecPriv), ck.CKR_MECHANISM_INVALID)
		requireRV(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_VENDOR_DEFINED + 0x1234}), ck.CKR_MECHANISM_INVALID)
		_, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_VENDOR_DEFINED + 1}, nil)
		requireRV(t, err, ck.CKR_MECHANISM_INVALID)
	})

	t.Run("key of the wrong type", func(t *testing.T) {
		// SoftHSM 2.6 does not check the key type in C_SignInit (the
		// specification's answer is CKR_KEY_TYPE_INCONSISTENT): C_Sign
		// fails instead, and ends the operation.
		for _, c := range []struct {
			mech ck.MechanismType
			key  ck.ObjectHandle
		}{
			{ck.CKM_ECDSA, rsaPriv},
			{ck.CKM_SHA256_RSA_PKCS, ecPriv},
			{ck.CKM_EDDSA, ecPriv},
		} {
			require.NoError(t, m.SignInit(s, ck.Mechanism{Type: c.mech}, c.key), "%v", c.mech)
			_, err := m.Sign(s, make([]byte, 32))
			requireRV(t, err, ck.CKR_GENERAL_ERROR)
		}
		// For secret-key mechanisms it does check.
		requireRV(t, m.SignInit(s, hmacMech, aesKey), ck.CKR_KEY_TYPE_INCONSISTENT)
		requireRV(t, m.EncryptInit(s, ck.Mechanism{Type: ck.CKM_AES_ECB}, hmacKey), ck.CKR_KEY_TYPE_INCONSISTENT)
	})

	t.Run("key not for this use", func(t *testing.T) {
		key := createSecretKey(t, m, s, ck.CKK_GENERIC_SECRET, []byte("0123456789abcdef0123456789ABCDEF"),
			attr(ck.CKA_SIGN, false), attr(ck.CKA_VERIFY, false))
		requireRV(t, m.SignInit(s, hmacMech, key), ck.CKR_KEY_FUNCTION_NOT_PERMITTED)
		requireRV(t, m.VerifyInit(s, hmacMech, key), ck.CKR_KEY_FUNCTION_NOT_PERMITTED)
	})

	t.Run("wrong parameters", func(t *testing.T) {
		// SoftHSM 2.6 answers CKR_ARGUMENTS_BAD to every malformed PSS
		// parameter, where the specification has
		// CKR_MECHANISM_PARAM_INVALID, and CKR_MECHANISM_INVALID to a
		// short CBC IV.
		cases := []struct {
			name string
			mech ck.Mechanism
			want ck.RV
		}{
			{"PSS without parameters", ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS}, ck.CKR_ARGUMENTS_BAD},
			{"PSS hash not the mechanism's", ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS,
				Parameter: &ck.RSAPKCSPSSParams{HashAlg: ck.CKM_SHA_1, MGF: ck.CKG_MGF1_SHA1, SaltLength: 20}},
				ck.CKR_ARGUMENTS_BAD},
			{"PSS unknown MGF", ck.Mechanism{Type: ck.CKM_RSA_PKCS_PSS,
				Parameter: &ck.RSAPKCSPSSParams{HashAlg: ck.CKM_SHA256, MGF: 0x99, SaltLength: 32}},
				ck.CKR_ARGUMENTS_BAD},
			{"PSS parameter of another size", ck.Mechanism{Type: ck.CKM_RSA_PKCS_PSS,
				Parameter: ck.RawParameter{1, 2, 3}}, ck.CKR_ARGUMENTS_BAD},
			{"CBC IV too short", ck.Mechanism{Type: ck.CKM_AES_CBC_PAD,
				Parameter: ck.IV(make([]byte, 8))}, ck.CKR_MECHANISM_INVALID},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var err error
				if c.mech.Type == ck.CKM_AES_CBC_PAD {
					err = m.EncryptInit(s, c.mech, aesKey)
				} else {
					err = m.SignInit(s, c.mech, rsaPriv)
				}
				requireRV(t, err, c.want)
			})
		}

		// SoftHSM 2.6 does RSA-OAEP with SHA-1 only, and without a label.
		oaep256 := ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP,
			Parameter: &ck.RSAPKCSOAEPParams{HashAlg: ck.CKM_SHA256, MGF: ck.CKG_MGF1_SHA256}}
		requireRV(t, m.DecryptInit(s, oaep256, rsaPriv), ck.CKR_ARGUMENTS_BAD)
		labelled := ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP,
			Parameter: &ck.RSAPKCSOAEPParams{HashAlg: ck.CKM_SHA_1, MGF: ck.CKG_MGF1_SHA1, Label: []byte("label")}}
		requireRV(t, m.EncryptInit(s, labelled, rsaPub), ck.CKR_ARGUMENTS_BAD)
	})

	t.Run("wrong lengths", func(t *testing.T) {
		// CBC without padding wants whole blocks.
		iv := ck.RawParameter(make([]byte, 16))
		require.NoError(t, m.EncryptInit(s, ck.Mechanism{Type: ck.CKM_AES_CBC, Parameter: iv}, aesKey))
		_, err := m.Encrypt(s, message[:15])
		requireRV(t, err, ck.CKR_DATA_LEN_RANGE)
		// RSA PKCS#1 v1.5 signs at most k-11 bytes; SoftHSM 2.6 answers
		// more with CKR_GENERAL_ERROR, not CKR_DATA_LEN_RANGE.
		sig := signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_RSA_PKCS}, rsaPriv, make([]byte, 128-11))
		assert.Len(t, sig, 128)
		require.NoError(t, m.SignInit(s, ck.Mechanism{Type: ck.CKM_RSA_PKCS}, rsaPriv))
		_, err = m.Sign(s, make([]byte, 128-10))
		requireRV(t, err, ck.CKR_GENERAL_ERROR)
	})
}
