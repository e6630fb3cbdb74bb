package session_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// userSession opens a read-write session on the token labelled label of
// m, logged in as the user, closed when the test ends.
func userSession(t testing.TB, m *pkcs11.Module, label string) *session.Session {
	t.Helper()
	slot, tok := slotOf(t, m, label)
	s, err := session.Open(m, slot, true)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Login(ck.CKU_USER, tok.PIN))
	return s
}

// alpha opens SoftHSM and a logged-in read-write session on token alpha.
func alpha(t testing.TB) (*pkcs11.Module, *session.Session) {
	t.Helper()
	m := softhsm(t)
	return m, userSession(t, m, tokAlpha)
}

var labelSeq atomic.Uint64

// uniqueLabel returns a label no other object of this test run has.
func uniqueLabel(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return fmt.Sprintf("%s-%d", name, labelSeq.Add(1))
}

// attr is ck.MustAttribute, short enough for template literals.
func attr(t ck.AttributeType, v any) ck.Attribute { return ck.MustAttribute(t, v) }

// requireRV fails the test unless err matches rv.
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

// values reads attributes of o and fails the test if any cannot be read.
func values(t testing.TB, s *session.Session, o session.Object, types ...ck.AttributeType) []ck.Attribute {
	t.Helper()
	res, err := s.Attributes(o.Handle, types...)
	require.NoError(t, err)
	out := make([]ck.Attribute, len(res))
	for i, r := range res {
		require.NoError(t, r.Err, "%v", types[i])
		out[i] = r.Attribute
	}
	return out
}

// boolOf reads one CK_BBOOL attribute of o.
func boolOf(t testing.TB, s *session.Session, o session.Object, typ ck.AttributeType) bool {
	t.Helper()
	v, err := values(t, s, o, typ)[0].Bool()
	require.NoError(t, err)
	return v
}

// ecPublic reads the public key of an EC public key object on curve.
func ecPublic(t testing.TB, s *session.Session, pub session.Object, curve elliptic.Curve) *ecdsa.PublicKey {
	t.Helper()
	v := values(t, s, pub, ck.CKA_EC_POINT)[0]
	c, ok := ck.CurveByName(curve.Params().Name)
	require.True(t, ok)
	point, err := c.DecodePoint(v.Value)
	require.NoError(t, err)
	k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	require.NoError(t, err)
	return k
}

// ecPoint reads the public point of an EC or Edwards public key object.
func ecPoint(t testing.TB, s *session.Session, pub session.Object) []byte {
	t.Helper()
	vs := values(t, s, pub, ck.CKA_EC_PARAMS, ck.CKA_EC_POINT)
	c, err := ck.DecodeECParams(vs[0].Value)
	require.NoError(t, err)
	point, err := c.DecodePoint(vs[1].Value)
	require.NoError(t, err)
	return point
}

// rsaPublic reads the public key of an RSA public key object.
func rsaPublic(t testing.TB, s *session.Session, pub session.Object) *rsa.PublicKey {
	t.Helper()
	vs := values(t, s, pub, ck.CKA_MODULUS, ck.CKA_PUBLIC_EXPONENT)
	return &rsa.PublicKey{N: vs[0].BigInt(), E: int(vs[1].BigInt().Int64())}
}

// splitECDSA splits an r||s signature.
func splitECDSA(t testing.TB, sig []byte) (r, s *big.Int) {
	t.Helper()
	require.Zero(t, len(sig)%2, "odd signature length %d", len(sig))
	n := len(sig) / 2
	return new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
}

// flip returns a copy of b with one bit changed.
func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i%len(c)] ^= 0x40
	return c
}

var message = []byte("The quick brown fox jumps over the lazy dog, signed on a token.")
