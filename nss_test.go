package pkcs11_test

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
	"crypto/sha256"
	"math/big"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
)

// NSS softokn is initialized once per process with its database in the
// init string, and the library shares one instance per file: so one test
// opens it, runs every NSS case as a subtest, and closes it at the end.

const (
	nssGenericLabel = "NSS Generic Crypto Services"
	nssDBLabel      = "NSS Certificate DB"
)

func TestNSS(t *testing.T) {
	nss, err := p11test.NewNSS(t.TempDir(), []byte("test-pw"))
	p11test.Require(t, "NSS softokn", err)

	// Without its init string softokn refuses to initialize, and the
	// failed Open leaves nothing behind: the next Open initializes it.
	_, err = pkcs11.Open(nss.Lib)
	requireRV(t, err, ck.CKR_ARGUMENTS_BAD)
	assert.ErrorContains(t, err, "C_Initialize")

	m, err := pkcs11.Open(nss.Lib, pkcs11.WithInitString(nss.InitString))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })

	slots, err := m.GetSlotList(true)
	require.NoError(t, err)
	require.Len(t, slots, 2)
	labels := map[string]ck.SlotID{}
	for _, slot := range slots {
		ti, err := m.GetTokenInfo(slot)
		require.NoError(t, err)
		labels[ti.Label] = slot
	}
	require.Contains(t, labels, nssGenericLabel)
	require.Contains(t, labels, nssDBLabel)

	s, err := m.OpenSession(labels[nssDBLabel], ck.CKF_RW_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() { m.CloseSession(s) })
	requireRV(t, m.Login(s, ck.CKU_USER, []byte("wrong-pw")), ck.CKR_PIN_INCORRECT)
	require.NoError(t, m.Login(s, ck.CKU_USER, nss.Password))

	t.Run("ECDSA_SHA256", func(t *testing.T) {
		pub, priv, err := generateEC(m, s, ck.CKM_EC_KEY_PAIR_GEN, derOf(oidP256))
		require.NoError(t, err)
		k := ecdsaPublicKey(t, m, s, pub, elliptic.P256())
		digest := sha256.Sum256(message)
		mech := ck.Mechanism{Type: ck.CKM_ECDSA_SHA256}

		// NSS answers the size query with an upper bound: the signature
		// must come back at its own length.
		for _, sig := range [][]byte{
			signOnce(t, m, s, mech, priv, message),
			signParts(t, m, s, mech, priv, message, 10),
			signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_ECDSA}, priv, digest[:]),
		} {
			require.Len(t, sig, 64)
			r, sv := splitECDSA(t, sig)
			assert.True(t, ecdsa.Verify(k, digest[:], r, sv), "Go rejects NSS's signature")
			require.NoError(t, verifyOnce(m, s, mech, pub, message, sig))
			// Quirk 6 of MODULES.md: any error means "not verified".
			assert.Error(t, verifyOnce(m, s, mech, pub, message, flipBit(sig, 5)))
		}

		// A Go signature verifies on NSS.
		gk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		r, sv, err := ecdsa.Sign(rand.Reader, gk, digest[:])
		require.NoError(t, err)
		point, err := gk.PublicKey.Bytes()
		require.NoError(t, err)
		gpub := importECPublic(t, m, s, ck.CKK_EC, derOf(oidP256), point)
		require.NoError(t, verifyOnce(m, s, mech, gpub, message, joinECDSA(r, sv, 32)))
	})

	t.Run("RSA OAEP SHA-256", func(t *testing.T) {
		pub, priv := generateRSA(t, m, s, 2048)
		k := rsaPublicKey(t, m, s, pub)
		assert.Equal(t, 2048, k.N.BitLen())

		for _, label := range [][]byte{nil, []byte("a label")} {
			mech := ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP, Parameter: &ck.RSAPKCSOAEPParams{
				HashAlg: ck.CKM_SHA256, MGF: ck.CKG_MGF1_SHA256, Label: label}}
			for _, pt := range [][]byte{message, {7}} {
				ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k, pt, label)
				require.NoError(t, err)
				require.NoError(t, m.DecryptInit(s, mech, priv))
				got, err := m.Decrypt(s, ct)
				require.NoError(t, err)
				// Trimmed to the plaintext, not the modulus NSS announces.
				assert.Equal(t, pt, got, "label %q", label)
			}

			// Encrypted on NSS with the same label, decrypted by NSS.
			require.NoError(t, m.EncryptInit(s, mech, pub))
			ct, err := m.Encrypt(s, message)
			require.NoError(t, err)
			require.Len(t, ct, 256)
			require.NoError(t, m.DecryptInit(s, mech, priv))
			got, err := m.Decrypt(s, ct)
			require.NoError(t, err)
			assert.Equal(t, message, got)
		}

		// A wrong label is a decryption error.
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k, message, []byte("a label"))
		require.NoError(t, err)
		other := ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP, Parameter: &ck.RSAPKCSOAEPParams{
			HashAlg: ck.CKM_SHA256, MGF: ck.CKG_MGF1_SHA256, Label: []byte("b label")}}
		require.NoError(t, m.DecryptInit(s, other, priv))
		_, err = m.Decrypt(s, ct)
		requireRV(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)

		// PKCS#1 v1.5 signatures, hashed by NSS, verify in Go.
		digest := sha256.Sum256(message)
		sig := signOnce(t, m, s, ck.Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv, message)
		assert.NoError(t, rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig))
	})

	t.Run("AES-GCM", func(t *testing.T) {
		value := []byte("AES-256 key of 32 bytes, known!!")
		key := createSecretKey(t, m, s, ck.CKK_AES, value)
		block, err := aes.NewCipher(value)
		require.NoError(t, err)
		gcm, err := cipher.NewGCM(block)
		require.NoError(t, err)
		nonce, aad := []byte("twelve bytes"), []byte("header")
		mech := ck.Mechanism{Type: ck.CKM_AES_GCM,
			Parameter: &ck.GCMParams{IV: slices.Clone(nonce), AAD: aad, TagBits: 128}}

		require.NoError(t, m.EncryptInit(s, mech, key))
		ct, err := m.Encrypt(s, message)
		require.NoError(t, err)
		assert.Equal(t, gcm.Seal(nil, nonce, message, aad), ct)

		require.NoError(t, m.DecryptInit(s, mech, key))
		pt, err := m.Decrypt(s, ct)
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		// Quirk 7 of MODULES.md: NSS names a bad tag precisely.
		require.NoError(t, m.DecryptInit(s, mech, key))
		_, err = m.Decrypt(s, flipBit(ct, len(ct)-1))
		requireRV(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)
	})

	t.Run("AES in parts", func(t *testing.T) {
		// NSS ends an unpadded operation when C_EncryptFinal or
		// C_DecryptFinal is asked for the length of nothing: the library
		// must not then fail the real call.
		value := []byte("AES-256 key of 32 bytes, known!!")
		key := createSecretKey(t, m, s, ck.CKK_AES, value)
		block, err := aes.NewCipher(value)
		require.NoError(t, err)
		iv := []byte("sixteen byte IV.")
		var cb [16]byte
		copy(cb[:], iv)

		cbc := make([]byte, 64)
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(cbc, message[:64])
		padded := pkcs7(message)
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(padded, padded)
		ctr := make([]byte, len(message))
		cipher.NewCTR(block, iv).XORKeyStream(ctr, message)

		cases := []struct {
			name   string
			mech   ck.Mechanism
			pt, ct []byte
		}{
			{"CBC", ck.Mechanism{Type: ck.CKM_AES_CBC, Parameter: ck.RawParameter(iv)}, message[:64], cbc},
			{"CBC-PAD", ck.Mechanism{Type: ck.CKM_AES_CBC_PAD, Parameter: ck.RawParameter(iv)}, message, padded},
			{"CTR", ck.Mechanism{Type: ck.CKM_AES_CTR,
				Parameter: &ck.AESCTRParams{CounterBits: 128, CounterBlock: cb}}, message, ctr},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				require.NoError(t, m.EncryptInit(s, c.mech, key))
				var ct []byte
				for part := range slices.Chunk(c.pt, 16) {
					out, err := m.EncryptUpdate(s, part)
					require.NoError(t, err)
					ct = append(ct, out...)
				}
				out, err := m.EncryptFinal(s)
				require.NoError(t, err)
				assert.Equal(t, c.ct, append(ct, out...))

				require.NoError(t, m.DecryptInit(s, c.mech, key))
				var pt []byte
				for part := range slices.Chunk(c.ct, 16) {
					out, err := m.DecryptUpdate(s, part)
					require.NoError(t, err)
					pt = append(pt, out...)
				}
				out, err = m.DecryptFinal(s)
				require.NoError(t, err)
				assert.Equal(t, c.pt, append(pt, out...))

				// Both operations are over.
				_, err = m.EncryptUpdate(s, c.pt[:16])
				requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
			})
		}
	})

	t.Run("operation state", func(t *testing.T) {
		// NSS saves a digest in progress and restores it.
		require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
		require.NoError(t, m.DigestUpdate(s, []byte("saved ")))
		state, err := m.GetOperationState(s)
		require.NoError(t, err)
		require.NotEmpty(t, state)
		require.NoError(t, m.DigestUpdate(s, []byte("forgotten ")))
		require.NoError(t, m.SetOperationState(s, state, 0, 0))
		require.NoError(t, m.DigestUpdate(s, []byte("and restored")))
		d, err := m.DigestFinal(s)
		require.NoError(t, err)
		want := sha256.Sum256([]byte("saved and restored"))
		assert.Equal(t, want[:], d)

		requireRV(t, m.SetOperationState(s, []byte("not a saved state"), 0, 0), ck.CKR_SAVED_STATE_INVALID)
	})

	t.Run("sign recover", func(t *testing.T) {
		pub, priv := generateRSA(t, m, s, 1024)
		k := rsaPublicKey(t, m, s, pub)
		data := []byte("recover me")
		cases := []struct {
			mech      ck.MechanismType
			em        []byte // the encoded message, RFC 8017 section 9.2
			recovered []byte
		}{
			{ck.CKM_RSA_PKCS, slices.Concat([]byte{0, 1}, bytes.Repeat([]byte{0xff}, 128-3-len(data)), []byte{0}, data), data},
			{ck.CKM_RSA_X_509, slices.Concat(make([]byte, 128-len(data)), data), slices.Concat(make([]byte, 128-len(data)), data)},
		}
		for _, c := range cases {
			info, err := m.GetMechanismInfo(labels[nssDBLabel], c.mech)
			require.NoError(t, err)
			assert.NotZero(t, info.Flags&ck.CKF_SIGN_RECOVER, "%v", c.mech)

			require.NoError(t, m.SignRecoverInit(s, ck.Mechanism{Type: c.mech}, priv))
			sig, err := m.SignRecover(s, data)
			require.NoError(t, err)
			require.Len(t, sig, 128)
			// s^e mod n is the encoded message.
			em := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(k.E)), k.N)
			assert.Equal(t, c.em, em.FillBytes(make([]byte, 128)), "%v", c.mech)

			require.NoError(t, m.VerifyRecoverInit(s, ck.Mechanism{Type: c.mech}, pub))
			got, err := m.VerifyRecover(s, sig)
			require.NoError(t, err)
			assert.Equal(t, c.recovered, got, "%v", c.mech)
		}
	})

	t.Run("dual functions", func(t *testing.T) {
		aesValue := []byte("AES-256 key of 32 bytes, known!!")
		aesKey := createSecretKey(t, m, s, ck.CKK_AES, aesValue)
		macValue := []byte("0123456789abcdef0123456789ABCDEF")
		macKey := createSecretKey(t, m, s, ck.CKK_GENERIC_SECRET, macValue)
		iv := []byte("sixteen byte IV.")
		cbc := ck.Mechanism{Type: ck.CKM_AES_CBC, Parameter: ck.RawParameter(iv)}
		hmacMech := ck.Mechanism{Type: ck.CKM_SHA256_HMAC}

		// Unpadded CBC on whole blocks: no output is held back, so the
		// digest and MAC of each side cover the same bytes.
		pt := message[:64]
		block, err := aes.NewCipher(aesValue)
		require.NoError(t, err)
		ct := make([]byte, len(pt))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
		digest := sha256.Sum256(pt)
		mac := hmac.New(sha256.New, macValue)
		mac.Write(pt)
		tag := mac.Sum(nil)

		finish := func(t *testing.T, final func(ck.SessionHandle) ([]byte, error)) []byte {
			t.Helper()
			out, err := final(s)
			require.NoError(t, err)
			return out
		}

		t.Run("DigestEncryptUpdate", func(t *testing.T) {
			require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
			require.NoError(t, m.EncryptInit(s, cbc, aesKey))
			var out []byte
			for part := range slices.Chunk(pt, 16) {
				o, err := m.DigestEncryptUpdate(s, part)
				require.NoError(t, err)
				out = append(out, o...)
			}
			out = append(out, finish(t, m.EncryptFinal)...)
			assert.Equal(t, ct, out)
			assert.Equal(t, digest[:], finish(t, m.DigestFinal))
		})

		t.Run("DecryptDigestUpdate", func(t *testing.T) {
			require.NoError(t, m.DecryptInit(s, cbc, aesKey))
			require.NoError(t, m.DigestInit(s, ck.Mechanism{Type: ck.CKM_SHA256}))
			out, err := m.DecryptDigestUpdate(s, ct)
			require.NoError(t, err)
			out = append(out, finish(t, m.DecryptFinal)...)
			assert.Equal(t, pt, out)
			assert.Equal(t, digest[:], finish(t, m.DigestFinal))
		})

		t.Run("SignEncryptUpdate", func(t *testing.T) {
			require.NoError(t, m.SignInit(s, hmacMech, macKey))
			require.NoError(t, m.EncryptInit(s, cbc, aesKey))
			out, err := m.SignEncryptUpdate(s, pt)
			require.NoError(t, err)
			out = append(out, finish(t, m.EncryptFinal)...)
			assert.Equal(t, ct, out)
			assert.Equal(t, tag, finish(t, m.SignFinal))
		})

		t.Run("DecryptVerifyUpdate", func(t *testing.T) {
			require.NoError(t, m.DecryptInit(s, cbc, aesKey))
			require.NoError(t, m.VerifyInit(s, hmacMech, macKey))
			out, err := m.DecryptVerifyUpdate(s, ct)
			require.NoError(t, err)
			out = append(out, finish(t, m.DecryptFinal)...)
			assert.Equal(t, pt, out)
			require.NoError(t, m.VerifyFinal(s, tag))
		})
	})

	// NSS 3.87 offers the PKCS#11 3.0 interface. Of its functions it
	// implements message-based AES-GCM in one part (C_MessageEncryptInit,
	// C_EncryptMessage, C_MessageDecryptInit, C_DecryptMessage and the
	// Final functions) and C_SessionCancel. Multi-part messages are
	// CKR_FUNCTION_NOT_SUPPORTED, as is message signing; C_LoginUser
	// exists but logs no one in (it returns CKR_OPERATION_NOT_INITIALIZED).
	t.Run("PKCS#11 3.0", func(t *testing.T) {
		assert.Equal(t, ck.Version{Major: 3, Minor: 0}, m.Interface().Version)
		info, err := m.GetMechanismInfo(labels[nssDBLabel], ck.CKM_AES_GCM)
		require.NoError(t, err)
		assert.Equal(t, ck.CKF_MESSAGE_ENCRYPT|ck.CKF_MESSAGE_DECRYPT, info.Flags&(ck.CKF_MESSAGE_ENCRYPT|ck.CKF_MESSAGE_DECRYPT))

		value := []byte("AES-256 key of 32 bytes, known!!")
		key := createSecretKey(t, m, s, ck.CKK_AES, value)
		block, err := aes.NewCipher(value)
		require.NoError(t, err)
		gcm, err := cipher.NewGCM(block)
		require.NoError(t, err)
		aad := []byte("header")
		msgGCM := ck.Mechanism{Type: ck.CKM_AES_GCM}

		// With the caller's IV, NSS seals as Go does; the tag comes back
		// in the parameter.
		nonce := []byte("twelve bytes")
		given := &ck.GCMMessageParams{IV: slices.Clone(nonce), IVGenerator: ck.CKG_NO_GENERATE,
			Tag: make([]byte, 16), TagBits: 128}
		require.NoError(t, m.MessageEncryptInit(s, msgGCM, key))
		ct, err := m.EncryptMessage(s, given, aad, message)
		require.NoError(t, err)
		sealed := gcm.Seal(nil, nonce, message, aad)
		assert.Equal(t, sealed[:len(message)], ct)
		assert.Equal(t, sealed[len(message):], given.Tag)

		// With an IV NSS generates, the IV comes back too, and Go opens
		// the message with it. NSS takes one way of making IVs per
		// operation (another is CKR_ARGUMENTS_BAD): this takes a new one.
		_, err = m.EncryptMessage(s, &ck.GCMMessageParams{IV: make([]byte, 12), IVGenerator: ck.CKG_GENERATE_RANDOM,
			Tag: make([]byte, 16), TagBits: 128}, aad, message)
		requireRV(t, err, ck.CKR_ARGUMENTS_BAD)
		require.NoError(t, m.MessageEncryptFinal(s))
		require.NoError(t, m.MessageEncryptInit(s, msgGCM, key))
		generated := &ck.GCMMessageParams{IV: make([]byte, 12), IVGenerator: ck.CKG_GENERATE_RANDOM,
			Tag: make([]byte, 16), TagBits: 128}
		ct2, err := m.EncryptMessage(s, generated, aad, message)
		require.NoError(t, err)
		assert.NotEqual(t, make([]byte, 12), generated.IV, "generated IV")
		pt, err := gcm.Open(nil, generated.IV, slices.Concat(ct2, generated.Tag), aad)
		require.NoError(t, err)
		assert.Equal(t, message, pt)

		err = m.EncryptMessageBegin(s, given, aad)
		requireRV(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
		require.NoError(t, m.MessageEncryptFinal(s))

		// NSS opens what it sealed and what Go sealed.
		goNonce := []byte("other nonce!")
		goSealed := gcm.Seal(nil, goNonce, message, aad)
		fromGo := &ck.GCMMessageParams{IV: goNonce, Tag: goSealed[len(message):], TagBits: 128}
		require.NoError(t, m.MessageDecryptInit(s, msgGCM, key))
		for _, c := range []struct {
			p  *ck.GCMMessageParams
			ct []byte
		}{{given, ct}, {generated, ct2}, {fromGo, goSealed[:len(message)]}} {
			pt, err := m.DecryptMessage(s, c.p, aad, c.ct)
			require.NoError(t, err)
			assert.Equal(t, message, pt)
		}

		// C_SessionCancel ends the message decryption.
		require.NoError(t, m.SessionCancel(s, ck.CKF_MESSAGE_DECRYPT))
		_, err = m.DecryptMessage(s, given, aad, ct)
		requireRV(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		requireRV(t, m.SessionCancel(s, ck.CKF_MESSAGE_DECRYPT), ck.CKR_OPERATION_CANCEL_FAILED)

		// A bad tag fails the message.
		require.NoError(t, m.MessageDecryptInit(s, msgGCM, key))
		bad := &ck.GCMMessageParams{IV: nonce, Tag: flipBit(given.Tag, 3), TagBits: 128}
		_, err = m.DecryptMessage(s, bad, aad, ct)
		assert.Error(t, err)
		require.NoError(t, m.MessageDecryptFinal(s))

		requireRV(t, m.MessageSignInit(s, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, key), ck.CKR_FUNCTION_NOT_SUPPORTED)
		requireRV(t, m.LoginUser(s, ck.CKU_USER, nss.Password, "user"), ck.CKR_OPERATION_NOT_INITIALIZED)
	})

	t.Run("generic crypto slot", func(t *testing.T) {
		// The other slot needs no login and digests like Go.
		gs, err := m.OpenSession(labels[nssGenericLabel], 0)
		require.NoError(t, err)
		defer m.CloseSession(gs)
		require.NoError(t, m.DigestInit(gs, ck.Mechanism{Type: ck.CKM_SHA256}))
		d, err := m.Digest(gs, message)
		require.NoError(t, err)
		want := sha256.Sum256(message)
		assert.Equal(t, want[:], d)
		r, err := m.GenerateRandom(gs, 32)
		require.NoError(t, err)
		assert.NotEqual(t, make([]byte, 32), r)
	})
}
