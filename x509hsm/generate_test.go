package x509hsm_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

func TestGenerate(t *testing.T) {
	m := softhsm(t)
	s := workStore(t, m)
	raw := userSession(t, m, x509hsm.TokWork)

	for _, alg := range []x509hsm.KeyAlgorithm{x509hsm.RSA2048, x509hsm.P256, x509hsm.P384, x509hsm.P521, x509hsm.Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			label := "gen-" + string(alg)
			e, err := s.Generate(ctx, x509hsm.GenerateRequest{Token: token.Label(x509hsm.TokWork), Algorithm: alg, Label: label})
			require.NoError(t, err)
			assert.False(t, e.IsX509())
			assert.True(t, e.HasPrivateKey())
			assert.Equal(t, label, e.Label())
			assert.Len(t, e.ID(), 32, "16 random bytes")
			assert.Contains(t, s.Find(x509hsm.ByLabel(label)), e)
			checkPrivateKey(t, raw, e)

			// A CSR signed by the token key.
			der, err := e.CreateCSR(&x509.CertificateRequest{Subject: pkix.Name{CommonName: label}, DNSNames: []string{"example.test"}})
			require.NoError(t, err)
			csr, err := x509.ParseCertificateRequest(der)
			require.NoError(t, err)
			require.NoError(t, csr.CheckSignature())
			assert.True(t, csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(e.Public()))
			der, err = e.CreateCSR(nil)
			require.NoError(t, err)
			csr, err = x509.ParseCertificateRequest(der)
			require.NoError(t, err)
			assert.Equal(t, label, csr.Subject.CommonName)

			// A self-signed certificate, stored next to the key.
			cert, err := e.CreateSelfSigned(&x509.Certificate{
				Subject:               pkix.Name{CommonName: label},
				NotBefore:             time.Now().Add(-time.Minute),
				NotAfter:              time.Now().Add(time.Hour),
				IsCA:                  true,
				BasicConstraintsValid: true,
				KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			})
			require.NoError(t, err)
			require.NoError(t, cert.CheckSignatureFrom(cert))
			require.NoError(t, cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature))
			require.NoError(t, e.StoreCertificate(ctx, cert))
			assert.True(t, e.IsX509())
			assert.Equal(t, cert.Raw, e.Certificate().Raw)

			// A store opened afterwards finds the certificate with its key.
			s2 := workStore(t, m)
			found, err := s2.FindOne(x509hsm.ByDER(cert.Raw))
			require.NoError(t, err)
			assert.True(t, found.IsX509())
			assert.True(t, found.HasPrivateKey())
			assert.Equal(t, e.ID(), found.ID())
			sig, err := found.Sign(message)
			require.NoError(t, err)
			require.NoError(t, e.Verify(message, sig))

			// A renewed certificate replaces the first.
			renewed, err := e.CreateSelfSigned(&x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: label + " renewed"},
				NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)})
			require.NoError(t, err)
			require.NoError(t, e.StoreCertificate(ctx, renewed))
			assert.Equal(t, label+" renewed", e.Certificate().Subject.CommonName)
			objs, err := raw.Find([]ck.Attribute{attr(ck.CKA_CLASS, ck.CKO_CERTIFICATE), {Type: ck.CKA_ID, Value: idOf(t, e)}})
			require.NoError(t, err)
			assert.Len(t, objs, 1)

			// Another key's certificate is refused.
			require.Error(t, e.StoreCertificate(ctx, newCA(t, "other").cert))

			// Delete destroys the three objects.
			require.NoError(t, s.Delete(ctx, e))
			objs, err = raw.Find([]ck.Attribute{{Type: ck.CKA_ID, Value: idOf(t, e)}})
			require.NoError(t, err)
			assert.Empty(t, objs)
			assert.Empty(t, s.Find(x509hsm.ByLabel(label)))
			_, err = e.Sign(message)
			require.ErrorIs(t, err, x509hsm.ErrClosed)
		})
	}

	t.Run("secp256k1", func(t *testing.T) {
		e, err := s.Generate(ctx, x509hsm.GenerateRequest{Token: token.Label(x509hsm.TokWork), Algorithm: x509hsm.Secp256k1,
			Label: "gen-k1", ID: []byte{0x6b, 0x31}})
		require.NoError(t, err)
		assert.Equal(t, "6b31", e.ID())
		assert.True(t, x509hsm.IsSynthetic(e.Certificate()))
		sig, err := e.Sign(message)
		require.NoError(t, err)
		require.NoError(t, e.Verify(message, sig))
		_, err = e.CreateSelfSigned(&x509.Certificate{Subject: pkix.Name{CommonName: "k1"}})
		require.Error(t, err)
		require.NoError(t, s.Delete(ctx, e))
	})

	t.Run("errors", func(t *testing.T) {
		_, err := s.Generate(ctx, x509hsm.GenerateRequest{Token: token.Label(x509hsm.TokWork), Algorithm: "DSA-1024"})
		require.Error(t, err)
		_, err = s.Generate(ctx, x509hsm.GenerateRequest{Token: token.Label(x509hsm.TokWork), Algorithm: "RSA-1024"})
		require.Error(t, err)
		_, err = s.Generate(ctx, x509hsm.GenerateRequest{Token: token.Label("nothing"), Algorithm: x509hsm.P256})
		require.ErrorIs(t, err, token.ErrNoToken)
		// A store without the token's PIN cannot generate.
		s2, err := openStore(t, m, x509hsm.WithTokens(token.Label(x509hsm.TokWork)))
		require.NoError(t, err)
		_, err = s2.Generate(ctx, x509hsm.GenerateRequest{Token: token.Label(x509hsm.TokWork), Algorithm: x509hsm.P256})
		require.ErrorIs(t, err, x509hsm.ErrNoPIN)
	})
}

// idOf returns the CKA_ID of an entry.
func idOf(t testing.TB, e *x509hsm.Entry) []byte {
	t.Helper()
	id, err := hex.DecodeString(e.ID())
	require.NoError(t, err)
	return id
}

// checkPrivateKey checks that an entry's private key is on the token
// with the secure attributes, and that its secret cannot be read.
func checkPrivateKey(t *testing.T, raw *session.Session, e *x509hsm.Entry) {
	t.Helper()
	objs, err := raw.Find([]ck.Attribute{attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY), {Type: ck.CKA_ID, Value: idOf(t, e)}})
	require.NoError(t, err)
	require.Len(t, objs, 1)
	want := map[ck.AttributeType]bool{ck.CKA_SENSITIVE: true, ck.CKA_EXTRACTABLE: false, ck.CKA_PRIVATE: true, ck.CKA_TOKEN: true}
	for typ, v := range want {
		res, err := raw.Attributes(objs[0].Handle, typ)
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		b, err := res[0].Bool()
		require.NoError(t, err)
		assert.Equal(t, v, b, "%v", typ)
	}
	secret := ck.CKA_VALUE
	if _, ok := e.Public().(*rsa.PublicKey); ok {
		secret = ck.CKA_PRIVATE_EXPONENT
	}
	res, err := raw.Attributes(objs[0].Handle, secret)
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, ck.CKR_ATTRIBUTE_SENSITIVE)
}
