package x509hsm

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
)

// TestParseSPKI reads back what marshalSPKI writes, for the keys of Go's
// curves and for those of the curves crypto/x509 cannot parse, as
// CKA_PUBLIC_KEY_INFO holds them.
func TestParseSPKI(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ed, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	// A point need not be on the curve to be carried: the token checks
	// it when it uses it.
	point := func(name string) *ECPublicKey {
		c, ok := ck.CurveByName(name)
		require.True(t, ok, name)
		p := make([]byte, 1+2*c.FieldBytes)
		if c.Edwards {
			p = make([]byte, c.FieldBytes)
		} else {
			p[0] = 4
		}
		_, err := rand.Read(p[1:])
		require.NoError(t, err)
		return &ECPublicKey{Curve: c, Point: p}
	}
	for _, pub := range []any{&p256.PublicKey, ed, point("secp256k1"), point("brainpoolP256r1"), point("Ed448")} {
		der, err := marshalSPKI(pub)
		require.NoError(t, err)
		got, err := parseSPKI(der)
		require.NoError(t, err, describeKey(pub))
		assert.Equal(t, keyFingerprint(pub), keyFingerprint(got), describeKey(pub))
	}

	// crypto/x509 lacks secp256k1: the fallback is what reads it.
	k1 := point("secp256k1")
	der, err := marshalSPKI(k1)
	require.NoError(t, err)
	_, err = x509.ParsePKIXPublicKey(der)
	require.Error(t, err)

	// An unknown curve, an Edwards curve as the parameter of
	// id-ecPublicKey, garbage.
	der, err = marshalSPKI(&ECPublicKey{Curve: ck.Curve{OID: []int{1, 2, 3, 4}, FieldBytes: 32}, Point: k1.Point})
	require.NoError(t, err)
	_, err = parseSPKI(der)
	require.Error(t, err)
	ed448 := point("Ed448").Curve
	ed448.Edwards = false
	der, err = marshalSPKI(&ECPublicKey{Curve: ed448, Point: k1.Point})
	require.NoError(t, err)
	_, err = parseSPKI(der)
	require.Error(t, err)
	_, err = parseSPKI([]byte("not DER"))
	require.Error(t, err)
}
