package x509hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/token"
)

// setUpExamples prepares what the examples of example_test.go expect:
// the variables they read, and on token TokWeb the certificate of
// www.example.com with its RSA key, its issuer "Example Intermediate
// CA" and that one's issuer "Example Root CA" (certificates without
// keys), and a P-256 key pair "jwt-signer" without a certificate.
func setUpExamples(lib string) error {
	os.Setenv(moduleEnv, lib)
	os.Setenv(pinEnv, "1234")

	m, err := pkcs11.Open(lib)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	web := token.Label(TokWeb)
	s, err := Open(ctx, m, WithTokens(web), WithPIN(web, []byte("1234")))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Wait(ctx); err != nil {
		return err
	}

	root, rootKey, err := exampleCert(nil, nil, "Example Root CA", nil)
	if err != nil {
		return err
	}
	inter, interKey, err := exampleCert(root, rootKey, "Example Intermediate CA", nil)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join("..", "testdata", "x509hsm", "rsa2048-a.pem"))
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return errors.New("rsa2048-a.pem holds no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return err
	}
	leaf, _, err := exampleCert(inter, interKey, "www.example.com", key.(crypto.Signer))
	if err != nil {
		return err
	}
	_, err = s.Import(ctx, ImportRequest{Token: web, Certificate: leaf, Key: key,
		Chain: []*x509.Certificate{inter, root}, Label: "www.example.com"})
	if err != nil {
		return err
	}
	_, err = s.Generate(ctx, GenerateRequest{Token: web, Algorithm: P256, Label: "jwt-signer"})
	return err
}

// exampleCert makes the certificate of a CA named cn with a new P-256
// key, issued by issuer (self-signed when issuer is nil), or with key
// the certificate of the server cn.
func exampleCert(issuer *x509.Certificate, issuerKey crypto.Signer, cn string, key crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Example"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		key = k
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.DNSNames = []string{cn}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if issuer == nil {
		issuer, issuerKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}
