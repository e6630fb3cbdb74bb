package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/internal/p11test"
)

// The modules shared by the tests of this package. SoftHSM reads its
// configuration and token directory once per process, in C_Initialize, so
// TestMain prepares everything before any test opens a module.
var (
	hsm    *p11test.SoftHSM
	hsmErr error

	// trustDir holds numCerts self-signed certificates for p11-kit's trust
	// module.
	trustDir string
	trustErr error
)

// The tokens TestMain initializes in SoftHSM, besides tokGamma and
// tokDelta, which are there for the benchmarks to have several; one more
// slot is SoftHSM's free one.
const (
	tokAlpha = "alpha"
	tokBeta  = "Beta Token"
	tokGamma = "gamma"
	tokDelta = "delta"
	numCerts = 200
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "token-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hsm, hsmErr = p11test.NewSoftHSM(filepath.Join(dir, "softhsm"), tokAlpha, tokBeta, tokGamma, tokDelta)
	if hsmErr == nil {
		hsmErr = hsm.Setenv()
	}
	trustDir = filepath.Join(dir, "anchors")
	trustErr = writeCerts(trustDir, numCerts)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeCerts writes n self-signed certificates, cert-000.pem and on, with
// the common names "Token Test CA 000" and on, into dir. One key signs
// them all: only the number of objects matters.
func writeCerts(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range n {
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(int64(i + 1)),
			Subject:               pkix.Name{CommonName: fmt.Sprintf("Token Test CA %03d", i)},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return err
		}
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("cert-%03d.pem", i)), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// softhsm opens the SoftHSM module for one test and closes it at the end.
// It skips the test if SoftHSM is missing on a developer's machine and
// fails it in CI.
func softhsm(t testing.TB) *pkcs11.Module {
	t.Helper()
	p11test.Require(t, "SoftHSM2", hsmErr)
	return open(t, hsm.Lib)
}

// trust opens p11-kit's trust module on the certificates of TestMain.
func trust(t testing.TB) *pkcs11.Module {
	t.Helper()
	lib, err := p11test.P11KitTrustPath()
	p11test.Require(t, "p11-kit trust module", err)
	if trustErr != nil {
		t.Fatalf("writing certificates: %v", trustErr)
	}
	return open(t, lib, pkcs11.WithInitString("paths="+trustDir))
}

func open(t testing.TB, lib string, opts ...pkcs11.Option) *pkcs11.Module {
	t.Helper()
	m, err := pkcs11.Open(lib, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", lib, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}
