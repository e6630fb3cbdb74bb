package pkcs11_test

import (
	"crypto/aes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// This file holds the helpers of the cryptographic tests: key generation
// and import on a token, reading public keys back as Go keys, and the
// encodings PKCS#11 uses for them.

// Curve OIDs, as CKA_EC_PARAMS names them (DER of the OID).
var (
	oidP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384      = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521      = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// derOf returns the DER encoding of v, which must be encodable.
func derOf(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// attr is ck.MustAttribute, short enough for template literals.
func attr(t ck.AttributeType, v any) ck.Attribute { return ck.MustAttribute(t, v) }

// requireRV fails the test unless err matches one of rvs.
func requireRV(t testing.TB, err error, rvs ...ck.RV) {
	t.Helper()
	require.Error(t, err, "want one of %v", rvs)
	for _, rv := range rvs {
		if errors.Is(err, rv) {
			return
		}
	}
	require.Failf(t, "wrong return value", "got %v, want one of %v", err, rvs)
}

// attrValues reads attributes of an object and fails the test if any of
// them cannot be read.
func attrValues(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, o ck.ObjectHandle, types ...ck.AttributeType) [][]byte {
	t.Helper()
	res, err := m.GetAttributeValue(s, o, types)
	require.NoError(t, err)
	require.Len(t, res, len(types))
	out := make([][]byte, len(res))
	for i, r := range res {
		require.NoError(t, r.Err, "%v", types[i])
		require.Equal(t, types[i], r.Type)
		out[i] = r.Value
	}
	return out
}

// attrULong reads one CK_ULONG attribute.
func attrULong(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, o ck.ObjectHandle, typ ck.AttributeType) uint64 {
	t.Helper()
	v, err := ck.Attribute{Type: typ, Value: attrValues(t, m, s, o, typ)[0]}.ULong()
	require.NoError(t, err)
	return v
}

// attrBool reads one CK_BBOOL attribute.
func attrBool(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, o ck.ObjectHandle, typ ck.AttributeType) bool {
	t.Helper()
	v, err := ck.Attribute{Type: typ, Value: attrValues(t, m, s, o, typ)[0]}.Bool()
	require.NoError(t, err)
	return v
}

// generateRSA makes an RSA key pair of the given size with exponent 65537
// as session objects, able to sign, verify, encrypt, decrypt, wrap and
// unwrap.
func generateRSA(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, bits int) (pub, priv ck.ObjectHandle) {
	t.Helper()
	pub, priv, err := m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN},
		[]ck.Attribute{
			attr(ck.CKA_TOKEN, false),
			attr(ck.CKA_MODULUS_BITS, bits),
			attr(ck.CKA_PUBLIC_EXPONENT, big.NewInt(65537)),
			attr(ck.CKA_VERIFY, true),
			attr(ck.CKA_ENCRYPT, true),
			attr(ck.CKA_WRAP, true),
		},
		[]ck.Attribute{
			attr(ck.CKA_TOKEN, false),
			attr(ck.CKA_PRIVATE, true),
			attr(ck.CKA_SENSITIVE, true),
			attr(ck.CKA_SIGN, true),
			attr(ck.CKA_DECRYPT, true),
			attr(ck.CKA_UNWRAP, true),
		})
	require.NoError(t, err)
	return pub, priv
}

// generateEC makes an elliptic-curve key pair on the curve whose
// CKA_EC_PARAMS are params, as session objects. The mechanism is
// CKM_EC_KEY_PAIR_GEN for Weierstrass curves and
// CKM_EC_EDWARDS_KEY_PAIR_GEN for Edwards curves.
func generateEC(m *pkcs11.Module, s ck.SessionHandle, mech ck.MechanismType, params []byte) (pub, priv ck.ObjectHandle, err error) {
	return m.GenerateKeyPair(s, ck.Mechanism{Type: mech},
		[]ck.Attribute{
			attr(ck.CKA_TOKEN, false),
			attr(ck.CKA_EC_PARAMS, params),
			attr(ck.CKA_VERIFY, true),
		},
		[]ck.Attribute{
			attr(ck.CKA_TOKEN, false),
			attr(ck.CKA_PRIVATE, true),
			attr(ck.CKA_SENSITIVE, true),
			attr(ck.CKA_SIGN, true),
			attr(ck.CKA_DERIVE, true),
		})
}

// generateEd25519 makes an Ed25519 key pair. It names the curve by its
// OID, and by the PrintableString "edwards25519" if the module refuses the
// OID; it returns the CKA_EC_PARAMS that worked.
func generateEd25519(t testing.TB, m *pkcs11.Module, s ck.SessionHandle) (pub, priv ck.ObjectHandle, params []byte) {
	t.Helper()
	params = derOf(oidEd25519)
	pub, priv, err := generateEC(m, s, ck.CKM_EC_EDWARDS_KEY_PAIR_GEN, params)
	if errors.Is(err, ck.CKR_CURVE_NOT_SUPPORTED) || errors.Is(err, ck.CKR_ATTRIBUTE_VALUE_INVALID) ||
		errors.Is(err, ck.CKR_DOMAIN_PARAMS_INVALID) {
		t.Logf("Ed25519 by OID: %v; trying the curve name", err)
		params = derOf(asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("edwards25519")})
		pub, priv, err = generateEC(m, s, ck.CKM_EC_EDWARDS_KEY_PAIR_GEN, params)
	}
	require.NoError(t, err)
	return pub, priv, params
}

// createSecretKey creates a session secret key of type kt with a known
// value, so that Go can compute what the token computes. attrs adds to
// or overrides the default template (encrypt, decrypt, sign, verify).
func createSecretKey(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, kt ck.KeyType, value []byte, attrs ...ck.Attribute) ck.ObjectHandle {
	t.Helper()
	tmpl := []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY),
		attr(ck.CKA_KEY_TYPE, kt),
		attr(ck.CKA_TOKEN, false),
		attr(ck.CKA_VALUE, value),
	}
	defaults := []ck.Attribute{
		attr(ck.CKA_ENCRYPT, true),
		attr(ck.CKA_DECRYPT, true),
		attr(ck.CKA_SIGN, true),
		attr(ck.CKA_VERIFY, true),
	}
	for _, d := range defaults {
		if !slices.ContainsFunc(attrs, func(a ck.Attribute) bool { return a.Type == d.Type }) {
			tmpl = append(tmpl, d)
		}
	}
	h, err := m.CreateObject(s, append(tmpl, attrs...))
	require.NoError(t, err)
	return h
}

// rsaPublicKey reads an RSA public key object back as a Go key.
func rsaPublicKey(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, pub ck.ObjectHandle) *rsa.PublicKey {
	t.Helper()
	v := attrValues(t, m, s, pub, ck.CKA_MODULUS, ck.CKA_PUBLIC_EXPONENT)
	e := new(big.Int).SetBytes(v[1])
	require.True(t, e.IsInt64() && e.Int64() > 1 && e.Int64() < 1<<31, "public exponent %v", e)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(v[0]), E: int(e.Int64())}
}

// ecPointOf reads an EC public key's CKA_EC_PARAMS and CKA_EC_POINT and
// returns the bare point, decoded by package ck's lenient decoders.
func ecPointOf(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, pub ck.ObjectHandle) []byte {
	t.Helper()
	v := attrValues(t, m, s, pub, ck.CKA_EC_PARAMS, ck.CKA_EC_POINT)
	curve, err := ck.DecodeECParams(v[0])
	require.NoError(t, err)
	p, err := curve.DecodePoint(v[1])
	require.NoError(t, err)
	return p
}

// ecdsaPublicKey reads an EC public key object back as a Go key on curve.
func ecdsaPublicKey(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, pub ck.ObjectHandle, curve elliptic.Curve) *ecdsa.PublicKey {
	t.Helper()
	k, err := ecdsa.ParseUncompressedPublicKey(curve, ecPointOf(t, m, s, pub))
	require.NoError(t, err)
	return k
}

// ecdhPublicKey reads an EC public key object back as a Go ECDH key.
func ecdhPublicKey(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, pub ck.ObjectHandle, curve ecdh.Curve) *ecdh.PublicKey {
	t.Helper()
	k, err := curve.NewPublicKey(ecPointOf(t, m, s, pub))
	require.NoError(t, err)
	return k
}

// ed25519PublicKey reads an Ed25519 public key object back as a Go key.
func ed25519PublicKey(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, pub ck.ObjectHandle) ed25519.PublicKey {
	t.Helper()
	p := ecPointOf(t, m, s, pub)
	require.Len(t, p, ed25519.PublicKeySize)
	return ed25519.PublicKey(p)
}

// importRSAPublic creates a session CKO_PUBLIC_KEY object from a Go key.
func importRSAPublic(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, k *rsa.PublicKey) ck.ObjectHandle {
	t.Helper()
	h, err := m.CreateObject(s, []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY),
		attr(ck.CKA_KEY_TYPE, ck.CKK_RSA),
		attr(ck.CKA_TOKEN, false),
		attr(ck.CKA_MODULUS, k.N),
		attr(ck.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E))),
		attr(ck.CKA_VERIFY, true),
		attr(ck.CKA_ENCRYPT, true),
	})
	require.NoError(t, err)
	return h
}

// importECPublic creates a session CKO_PUBLIC_KEY object of type kt
// (CKK_EC or CKK_EC_EDWARDS) from curve parameters and a bare point.
func importECPublic(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, kt ck.KeyType, params, point []byte) ck.ObjectHandle {
	t.Helper()
	h, err := m.CreateObject(s, []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY),
		attr(ck.CKA_KEY_TYPE, kt),
		attr(ck.CKA_TOKEN, false),
		attr(ck.CKA_EC_PARAMS, params),
		attr(ck.CKA_EC_POINT, derOf(point)),
		attr(ck.CKA_VERIFY, true),
	})
	require.NoError(t, err)
	return h
}

// digestInfoSHA256 wraps a SHA-256 digest in the DER DigestInfo that
// PKCS#1 v1.5 signs (RFC 8017, section 9.2, note 1).
func digestInfoSHA256(digest []byte) []byte {
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	return append(prefix, digest...)
}

// splitECDSA splits a PKCS#11 ECDSA signature, r||s of equal lengths.
func splitECDSA(t testing.TB, sig []byte) (r, s *big.Int) {
	t.Helper()
	require.Zero(t, len(sig)%2, "odd signature length %d", len(sig))
	n := len(sig) / 2
	return new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
}

// joinECDSA is the inverse of splitECDSA: r and s, each size bytes.
func joinECDSA(r, s *big.Int, size int) []byte {
	sig := make([]byte, 2*size)
	r.FillBytes(sig[:size])
	s.FillBytes(sig[size:])
	return sig
}

// onSecp256k1 reports whether an uncompressed point lies on secp256k1,
// y² = x³ + 7 mod p, which Go's standard library does not implement.
func onSecp256k1(point []byte) bool {
	if len(point) != 65 || point[0] != 4 {
		return false
	}
	p, _ := new(big.Int).SetString("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", 16)
	x := new(big.Int).SetBytes(point[1:33])
	y := new(big.Int).SetBytes(point[33:])
	if x.Cmp(p) >= 0 || y.Cmp(p) >= 0 {
		return false
	}
	lhs := new(big.Int).Exp(y, big.NewInt(2), p)
	rhs := new(big.Int).Exp(x, big.NewInt(3), p)
	rhs.Add(rhs, big.NewInt(7)).Mod(rhs, p)
	return lhs.Cmp(rhs) == 0
}

// flipBit returns a copy of b with one bit of byte i inverted.
func flipBit(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x10
	return c
}

// sessionSlot returns the slot of a session.
func sessionSlot(t testing.TB, m *pkcs11.Module, s ck.SessionHandle) ck.SlotID {
	t.Helper()
	info, err := m.GetSessionInfo(s)
	require.NoError(t, err)
	return info.SlotID
}

// aesKeyWrap wraps key under kek as RFC 3394 section 2.2.1 does, with the
// initial value iv: A6A6A6A6A6A6A6A6 for CKM_AES_KEY_WRAP, and for
// CKM_AES_KEY_WRAP_PAD A65959A6 and the key's length (RFC 5649 section
// 3), which wraps a key of 16 bytes or more, a multiple of 8, the same
// way.
func aesKeyWrap(kek []byte, iv [8]byte, key []byte) []byte {
	block, err := aes.NewCipher(kek)
	if err != nil {
		panic(err)
	}
	n := len(key) / 8
	a := iv
	r := slices.Clone(key)
	var b [16]byte
	for j := range 6 {
		for i := range n {
			copy(b[:8], a[:])
			copy(b[8:], r[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^uint64(n*j+i+1))
			copy(r[8*i:], b[8:])
		}
	}
	return append(a[:], r...)
}
