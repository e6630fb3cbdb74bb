package x509hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

var ctx = context.Background()

// softhsm opens the SoftHSM module for one test. Every test shares the
// one loaded instance.
func softhsm(t testing.TB) *pkcs11.Module {
	t.Helper()
	hsm, err := x509hsm.SoftHSMForTest()
	p11test.Require(t, "SoftHSM2", err)
	m, err := pkcs11.Open(hsm.Lib)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// userPIN is the user PIN of the SoftHSM tokens but TokPIN.
var userPIN = []byte("1234")

// slotOf returns the slot of the token labelled label.
func slotOf(t testing.TB, m *pkcs11.Module, label string) ck.SlotID {
	t.Helper()
	snap, err := token.Discover(m)
	require.NoError(t, err)
	tok, err := snap.Token(token.Label(label))
	require.NoError(t, err)
	return tok.SlotID
}

// userSession opens a read-write session on the token labelled label,
// logged in, closed when the test ends.
func userSession(t testing.TB, m *pkcs11.Module, label string) *session.Session {
	t.Helper()
	s, err := session.Open(m, slotOf(t, m, label), true)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Login(ck.CKU_USER, userPIN))
	return s
}

// openStore opens a store on m, waits for its discovery and closes it
// when the test ends. It returns the discovery's errors with it.
func openStore(t testing.TB, m *pkcs11.Module, opts ...x509hsm.Option) (*x509hsm.Store, error) {
	t.Helper()
	s, err := x509hsm.Open(ctx, m, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = s.Wait(wctx)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	return s, err
}

// workStore opens a store of token TokWork with its PIN.
func workStore(t testing.TB, m *pkcs11.Module) *x509hsm.Store {
	t.Helper()
	s, err := openStore(t, m, x509hsm.WithTokens(token.Label(x509hsm.TokWork)),
		x509hsm.WithPIN(token.Label(x509hsm.TokWork), userPIN))
	require.NoError(t, err)
	return s
}

// rsaKey reads testdata/x509hsm/rsa2048-<name>.pem.
func rsaKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "x509hsm", "rsa2048-"+name+".pem"))
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	require.NoError(t, err)
	return k.(*rsa.PrivateKey)
}

// ecKey makes an ECDSA key on curve.
func ecKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return k
}

// testCA is a certificate authority in memory.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serials atomic.Int64

// newCA makes a self-signed P-256 CA named cn.
func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key := ecKey(t, elliptic.P256())
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serials.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"x509hsm tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: c, key: key}
}

// issue makes a certificate for pub named cn, changed by mods.
func (ca *testCA) issue(t testing.TB, pub crypto.PublicKey, cn string, mods ...func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serials.Add(1)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"x509hsm tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	for _, m := range mods {
		m(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

// attr is ck.MustAttribute, short enough for template literals.
func attr(t ck.AttributeType, v any) ck.Attribute { return ck.MustAttribute(t, v) }

// countObjects returns how many objects a logged-in session sees.
func countObjects(t testing.TB, s *session.Session) int {
	t.Helper()
	objs, err := s.Find(nil)
	require.NoError(t, err)
	return len(objs)
}

var uniq atomic.Int64

// unique returns s with a suffix no other call in this process gives,
// for labels and IDs of objects a test makes on every run (-count).
func unique(s string) string { return fmt.Sprintf("%s-%d", s, uniq.Add(1)) }

var message = []byte("The quick brown fox jumps over the lazy dog, signed on a token.")

// ecdsaParse parses an uncompressed point on curve.
func ecdsaParse(curve elliptic.Curve, point []byte) (*ecdsa.PublicKey, error) {
	return ecdsa.ParseUncompressedPublicKey(curve, point)
}
