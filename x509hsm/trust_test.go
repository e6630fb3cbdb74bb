package x509hsm_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// TestP11KitTrust lists the certificates of p11-kit's trust module, a
// token of certificates without keys that needs no login, initialized
// once per process on a directory of PEM files.
func TestP11KitTrust(t *testing.T) {
	lib, err := p11test.P11KitTrustPath()
	p11test.Require(t, "p11-kit trust module", err)
	dir := t.TempDir()
	root := newCA(t, "trust root")
	interKey := ecKey(t, elliptic.P256())
	inter := root.issue(t, interKey.Public(), "trust intermediate", func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign
	})
	for name, c := range map[string]*x509.Certificate{"root.pem": root.cert, "inter.pem": inter} {
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	m, err := pkcs11.Open(lib, pkcs11.WithInitString("paths="+dir))
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })

	s, err := openStore(t, m)
	require.NoError(t, err)
	require.Len(t, s.Entries(), 2)
	for _, c := range []*x509.Certificate{root.cert, inter} {
		e, err := s.FindOne(x509hsm.ByDER(c.Raw))
		require.NoError(t, err)
		assert.True(t, e.IsX509())
		assert.False(t, e.HasPrivateKey())
	}
	e, err := s.FindOne(x509hsm.ByIssuer(root.cert.Subject.String()), x509hsm.ByKeyUsage(x509.KeyUsageCertSign),
		x509hsm.BySubjectCN("trust intermediate"))
	require.NoError(t, err)
	assert.Equal(t, inter.Raw, e.Certificate().Raw)

	assert.Equal(t, "CN=trust root,O=x509hsm tests", e.Certificate().Issuer.String())
	assert.False(t, e.Token().LoginRequired())
}
