package session_test

import (
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// checkFlags asserts that the boolean attributes of o are as want says.
func checkFlags(t *testing.T, s *session.Session, o session.Object, want map[ck.AttributeType]bool) {
	t.Helper()
	for typ, v := range want {
		assert.Equal(t, v, boolOf(t, s, o, typ), "%v of %v", typ, o.Class)
	}
}

// secure are the attributes every generated private or secret key has
// by default.
var secure = map[ck.AttributeType]bool{
	ck.CKA_TOKEN: true, ck.CKA_PRIVATE: true, ck.CKA_SENSITIVE: true, ck.CKA_EXTRACTABLE: false,
	ck.CKA_ALWAYS_SENSITIVE: true, ck.CKA_NEVER_EXTRACTABLE: true,
}

// generated is what SoftHSM says of a key it generated (NSS 3.87 says
// CKA_LOCAL false).
var generated = map[ck.AttributeType]bool{ck.CKA_LOCAL: true}

// Every usage flag of a private, public and secret key, false: each key
// type turns on its own.
var (
	noPrivateUsage = map[ck.AttributeType]bool{ck.CKA_SIGN: false, ck.CKA_SIGN_RECOVER: false,
		ck.CKA_DECRYPT: false, ck.CKA_UNWRAP: false, ck.CKA_DERIVE: false}
	noPublicUsage = map[ck.AttributeType]bool{ck.CKA_VERIFY: false, ck.CKA_VERIFY_RECOVER: false,
		ck.CKA_ENCRYPT: false, ck.CKA_WRAP: false, ck.CKA_DERIVE: false}
	noSecretUsage = map[ck.AttributeType]bool{ck.CKA_SIGN: false, ck.CKA_VERIFY: false,
		ck.CKA_ENCRYPT: false, ck.CKA_DECRYPT: false, ck.CKA_WRAP: false, ck.CKA_UNWRAP: false, ck.CKA_DERIVE: false}
)

// with returns the union of maps, later ones winning.
func with(maps ...map[ck.AttributeType]bool) map[ck.AttributeType]bool {
	out := map[ck.AttributeType]bool{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestGenerateDefaults(t *testing.T) {
	_, s := alpha(t)
	destroy := func(os ...session.Object) {
		t.Cleanup(func() {
			for _, o := range os {
				s.Destroy(o.Handle)
			}
		})
	}
	type genFunc = func(opts ...session.KeyOption) (session.Object, session.Object, error)
	ec := func(curve string) genFunc {
		return func(o ...session.KeyOption) (session.Object, session.Object, error) { return s.GenerateEC(curve, o...) }
	}
	rsa2048 := func(o ...session.KeyOption) (session.Object, session.Object, error) { return s.GenerateRSA(2048, o...) }
	signer := map[ck.AttributeType]bool{ck.CKA_SIGN: true}
	verifier := map[ck.AttributeType]bool{ck.CKA_VERIFY: true}
	pairs := []struct {
		name      string
		gen       genFunc
		kt        ck.KeyType
		priv, pub map[ck.AttributeType]bool
	}{
		{"RSA", rsa2048, ck.CKK_RSA,
			map[ck.AttributeType]bool{ck.CKA_SIGN: true, ck.CKA_DECRYPT: true, ck.CKA_UNWRAP: true},
			map[ck.AttributeType]bool{ck.CKA_VERIFY: true, ck.CKA_ENCRYPT: true, ck.CKA_WRAP: true}},
		{"P-256", ec("P-256"), ck.CKK_EC, signer, verifier},
		{"P-384", ec("p-384"), ck.CKK_EC, signer, verifier},
		{"P-521", ec("P-521"), ck.CKK_EC, signer, verifier},
		{"secp256k1", ec("secp256k1"), ck.CKK_EC, signer, verifier},
		{"Ed25519", s.GenerateEd25519, ck.CKK_EC_EDWARDS, signer, verifier},
		{"Ed448", s.GenerateEd448, ck.CKK_EC_EDWARDS, signer, verifier},
	}
	for _, c := range pairs {
		t.Run(c.name, func(t *testing.T) {
			label := uniqueLabel(t)
			pub, priv, err := c.gen(session.KeyLabel(label))
			require.NoError(t, err)
			destroy(pub, priv)
			assert.Equal(t, ck.CKO_PUBLIC_KEY, pub.Class)
			assert.Equal(t, ck.CKO_PRIVATE_KEY, priv.Class)
			assert.Equal(t, c.kt, pub.KeyType)
			assert.Equal(t, c.kt, priv.KeyType)
			assert.Equal(t, label, priv.Label)
			assert.Equal(t, label, pub.Label)
			assert.Len(t, priv.ID, 16, "a random 16-byte ID")
			assert.Equal(t, priv.ID, pub.ID, "one ID for both halves")
			checkFlags(t, s, priv, with(secure, generated, noPrivateUsage, c.priv))
			checkFlags(t, s, pub, with(map[ck.AttributeType]bool{ck.CKA_TOKEN: true, ck.CKA_PRIVATE: false}, noPublicUsage, c.pub))

			// The value of a private key is out of reach.
			res, err := s.Attributes(priv.Handle, ck.CKA_VALUE, ck.CKA_PRIVATE_EXPONENT)
			require.NoError(t, err)
			for _, r := range res {
				if r.Err != nil {
					requireRV(t, r.Err, ck.CKR_ATTRIBUTE_SENSITIVE, ck.CKR_ATTRIBUTE_TYPE_INVALID)
				} else {
					t.Errorf("%v of a generated private key is readable", r.Type)
				}
			}
		})
	}

	t.Run("AES", func(t *testing.T) {
		for _, bits := range []int{128, 192, 256} {
			k, err := s.GenerateAES(bits)
			require.NoError(t, err)
			destroy(k)
			assert.Equal(t, ck.CKO_SECRET_KEY, k.Class)
			assert.Equal(t, ck.CKK_AES, k.KeyType)
			assert.Len(t, k.ID, 16)
			checkFlags(t, s, k, with(secure, generated, noSecretUsage, map[ck.AttributeType]bool{
				ck.CKA_ENCRYPT: true, ck.CKA_DECRYPT: true, ck.CKA_WRAP: true, ck.CKA_UNWRAP: true}))
			n, err := values(t, s, k, ck.CKA_VALUE_LEN)[0].ULong()
			require.NoError(t, err)
			assert.Equal(t, uint64(bits/8), n)
		}
	})
	t.Run("secret", func(t *testing.T) {
		k, err := s.GenerateSecret(48, session.KeyID([]byte("my id")))
		require.NoError(t, err)
		destroy(k)
		assert.Equal(t, ck.CKK_GENERIC_SECRET, k.KeyType)
		assert.Equal(t, []byte("my id"), k.ID)
		checkFlags(t, s, k, with(secure, generated, noSecretUsage, map[ck.AttributeType]bool{
			ck.CKA_SIGN: true, ck.CKA_VERIFY: true}))
		mac, err := s.HMAC(k, crypto.SHA384, message)
		require.NoError(t, err)
		require.NoError(t, s.VerifyHMAC(k, crypto.SHA384, message, mac))
	})
}

func TestGenerateOptions(t *testing.T) {
	_, s := alpha(t)

	// Extractable, session key, own ID, extra and overriding attributes.
	pub, priv, err := s.GenerateEC("P-256", session.Extractable(), session.SessionKey(),
		session.KeyID([]byte{1, 2, 3}),
		session.KeyAttributes(attr(ck.CKA_DERIVE, true), attr(ck.CKA_SIGN, false)),
		session.PublicKeyAttributes(attr(ck.CKA_LABEL, "public only")))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, priv.ID)
	assert.Equal(t, []byte{1, 2, 3}, pub.ID)
	assert.Equal(t, "public only", pub.Label)
	assert.Empty(t, priv.Label)
	checkFlags(t, s, priv, map[ck.AttributeType]bool{
		ck.CKA_TOKEN: false, ck.CKA_PRIVATE: true, ck.CKA_SENSITIVE: true, ck.CKA_EXTRACTABLE: true,
		ck.CKA_DERIVE: true, ck.CKA_SIGN: false,
	})
	checkFlags(t, s, pub, map[ck.AttributeType]bool{ck.CKA_TOKEN: false})
	digest := sha256.Sum256(message)
	_, err = s.Sign(priv, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_KEY_FUNCTION_NOT_PERMITTED, ck.CKR_KEY_TYPE_INCONSISTENT)

	// Wrong sizes and curves, refused before any call.
	_, _, err = s.GenerateRSA(1024)
	assert.EqualError(t, err, "session: generating an RSA key: 1024 bits, want 2048 to 16384")
	_, _, err = s.GenerateEC("P-224")
	assert.ErrorContains(t, err, `unknown Weierstrass curve "P-224"`)
	_, _, err = s.GenerateEC("Ed25519")
	assert.ErrorContains(t, err, "GenerateEd25519")
	_, err = s.GenerateAES(512)
	assert.EqualError(t, err, "session: generating an AES key: 512 bits, want 128, 192 or 256")
	_, err = s.GenerateSecret(8)
	assert.ErrorContains(t, err, "8 bytes, want 16 to 1024")

	// A read-only session cannot store keys: the token says so.
	m := s.Module()
	slot, _ := slotOf(t, m, tokAlpha)
	ro, err := session.Open(m, slot, false)
	require.NoError(t, err)
	defer ro.Close()
	_, err = ro.GenerateAES(128)
	requireRV(t, err, ck.CKR_SESSION_READ_ONLY)
	assert.ErrorContains(t, err, "session: generating an AES key (CKM_AES_KEY_GEN): pkcs11: C_GenerateKey: ")
}
