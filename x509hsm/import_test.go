package x509hsm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

func TestImport(t *testing.T) {
	m := softhsm(t)
	s := workStore(t, m)
	raw := userSession(t, m, x509hsm.TokWork)
	ca := newCA(t, "import CA")
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	for _, c := range []struct {
		name string
		key  crypto.Signer
	}{
		{"RSA", rsaKey(t, "d")},
		{"P-256", ecKey(t, elliptic.P256())},
		{"P-384", ecKey(t, elliptic.P384())},
		{"Ed25519", edKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			cert := ca.issue(t, c.key.Public(), "import "+c.name)
			label := unique("imp-" + c.name)
			id := []byte(unique("id-" + c.name))
			e, err := s.Import(ctx, x509hsm.ImportRequest{
				Token: token.Label(x509hsm.TokWork), Certificate: cert, Key: c.key, ID: id, Label: label,
			})
			require.NoError(t, err)
			assert.True(t, e.IsX509())
			assert.True(t, e.HasPrivateKey())
			assert.Equal(t, label, e.Label())
			assert.Equal(t, id, idOf(t, e))
			checkPrivateKey(t, raw, e)
			for _, class := range []ck.ObjectClass{ck.CKO_CERTIFICATE, ck.CKO_PUBLIC_KEY, ck.CKO_PRIVATE_KEY} {
				objs, err := raw.Find([]ck.Attribute{attr(ck.CKA_CLASS, class), {Type: ck.CKA_ID, Value: id}, attr(ck.CKA_LABEL, label)})
				require.NoError(t, err)
				assert.Len(t, objs, 1, "%v", class)
			}

			// A new store finds the entry, linked, and signs with it.
			s2 := workStore(t, m)
			found, err := s2.FindOne(x509hsm.ByID(e.ID()), x509hsm.ByLabel(label))
			require.NoError(t, err)
			assert.Equal(t, cert.Raw, found.Certificate().Raw)
			assert.True(t, found.HasPrivateKey())
			sig, err := found.Sign(message)
			require.NoError(t, err)
			require.NoError(t, e.Verify(message, sig))
			opts := crypto.SignerOpts(crypto.SHA256)
			in := digest(crypto.SHA256, message)
			if c.name == "Ed25519" {
				opts, in = crypto.Hash(0), message
			}
			sig, err = found.Signer().Sign(nil, in, opts)
			require.NoError(t, err)
			switch k := c.key.Public().(type) {
			case *rsa.PublicKey:
				require.NoError(t, rsa.VerifyPKCS1v15(k, crypto.SHA256, in, sig))
			case *ecdsa.PublicKey:
				assert.True(t, ecdsa.VerifyASN1(k, in, sig))
			case ed25519.PublicKey:
				assert.True(t, ed25519.Verify(k, in, sig))
			}
		})
	}

	t.Run("failure halfway", func(t *testing.T) {
		key := ecKey(t, elliptic.P256())
		cert := ca.issue(t, key.Public(), "import failing")
		failing := unique("imp-failing")
		before := countObjects(t, raw)
		for _, c := range []struct {
			step string
			req  x509hsm.ImportRequest
		}{
			// The first step, before anything exists: an attribute EC
			// private keys do not have, and one that contradicts the
			// key's (SoftHSM makes the object before it refuses either,
			// and leaves it behind for Import to find).
			{"creating the private key object", x509hsm.ImportRequest{
				PrivateKeyAttributes: []ck.Attribute{attr(ck.CKA_MODULUS_BITS, 2048)}}},
			{"creating the private key object", x509hsm.ImportRequest{
				PrivateKeyAttributes: []ck.Attribute{attr(ck.CKA_KEY_TYPE, ck.CKK_RSA)}}},
			// An attribute certificates do not have.
			{"creating the certificate object", x509hsm.ImportRequest{
				CertificateAttributes: []ck.Attribute{attr(ck.CKA_MODULUS_BITS, 2048)}}},
			// An attribute EC keys do not have.
			{"creating the public key object", x509hsm.ImportRequest{
				PublicKeyAttributes: []ck.Attribute{attr(ck.CKA_MODULUS_BITS, 2048)}}},
			// An attribute the user cannot set.
			{"creating the certificate object", x509hsm.ImportRequest{
				CertificateAttributes: []ck.Attribute{attr(ck.CKA_TRUSTED, true)}}},
		} {
			req := c.req
			req.Token, req.Certificate, req.Key, req.Label = token.Label(x509hsm.TokWork), cert, key, failing
			_, err := s.Import(ctx, req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.step)
			assert.Contains(t, err.Error(), `x509hsm: token "work": import: `)
			assert.Equal(t, before, countObjects(t, raw), "objects left behind after %s failed", c.step)
		}
		assert.Empty(t, s.Find(x509hsm.ByLabel(failing)))

		// Refused before anything is created.
		for _, req := range []x509hsm.ImportRequest{
			{PrivateKeyAttributes: []ck.Attribute{attr(ck.CKA_EXTRACTABLE, true)}},
			{PrivateKeyAttributes: []ck.Attribute{attr(ck.CKA_SENSITIVE, false)}},
			{Key: ecKey(t, elliptic.P256())}, // not the certificate's key
		} {
			req.Token, req.Certificate = token.Label(x509hsm.TokWork), cert
			if req.Key == nil {
				req.Key = key
			}
			_, err := s.Import(ctx, req)
			require.Error(t, err)
		}
		_, err := s.Import(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokWork)})
		require.Error(t, err)
		assert.Equal(t, before, countObjects(t, raw))
	})

	t.Run("PEM", func(t *testing.T) {
		interKey := ecKey(t, elliptic.P384())
		inter := &testCA{key: interKey, cert: ca.issue(t, interKey.Public(), "import intermediate", func(c *x509.Certificate) {
			c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign
		})}
		key := ecKey(t, elliptic.P256())
		cert := inter.issue(t, key.Public(), "import PEM")
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.cert.Raw})
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)

		e, err := s.ImportPEM(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokWork), Label: "imp-pem"}, data)
		require.NoError(t, err)
		assert.Equal(t, cert.Raw, e.Certificate().Raw)
		assert.True(t, e.HasPrivateKey())
		point, err := key.PublicKey.Bytes()
		require.NoError(t, err)
		skid := sha1.Sum(point)
		assert.Equal(t, skid[:], idOf(t, e), "the default CKA_ID is the SHA-1 of the public key")
		assert.Equal(t, "import intermediate", s.Find(x509hsm.ByDER(inter.cert.Raw))[0].Label())
		chain, err := s.FindOne(x509hsm.ByDER(inter.cert.Raw))
		require.NoError(t, err)
		assert.False(t, chain.HasPrivateKey())
		tc, err := e.TLSCertificate()
		require.NoError(t, err)
		assert.Len(t, tc.Certificate, 2)

		// Again: the intermediate is not stored twice.
		key2 := ecKey(t, elliptic.P256())
		cert2 := inter.issue(t, key2.Public(), "import PEM 2")
		_, err = s.Import(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokWork), Certificate: cert2, Key: key2,
			Chain: []*x509.Certificate{inter.cert}, Label: "imp-pem-2"})
		require.NoError(t, err)
		assert.Len(t, s.Find(x509hsm.ByDER(inter.cert.Raw)), 1)

		// PEM errors.
		for _, bad := range [][]byte{
			nil,
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}),
			append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.cert.Raw}),
				pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...), // no certificate of the key
			pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: pkcs8}),
		} {
			_, err := s.ImportPEM(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokWork)}, bad)
			require.Error(t, err)
		}
		certs, k, err := x509hsm.ParsePEM(data)
		require.NoError(t, err)
		assert.Len(t, certs, 2)
		assert.True(t, key.Equal(k))
	})

	t.Run("certificate alone", func(t *testing.T) {
		other := newCA(t, "import lone CA")
		e, err := s.Import(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokWork), Certificate: other.cert, Label: "imp-lone"})
		require.NoError(t, err)
		assert.True(t, e.IsX509())
		_, err = e.Sign(message)
		require.ErrorIs(t, err, x509hsm.ErrNoPrivateKey)
	})
}

// TestNSS imports certificates with their keys into NSS's certificate
// database, lists them, and covers what SoftHSM lacks: RSA-OAEP with
// SHA-256 and a label, and ECDSA hashed on the token. NSS is
// initialized once per process with its database in the init string,
// so one test opens it.
func TestNSS(t *testing.T) {
	nss, err := p11test.NewNSS(t.TempDir(), []byte("nss-password"))
	p11test.Require(t, "NSS softokn", err)
	m, err := pkcs11.Open(nss.Lib, pkcs11.WithInitString(nss.InitString))
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	db := token.Label("NSS Certificate DB")

	s, err := openStore(t, m, x509hsm.WithPIN(db, nss.Password))
	require.NoError(t, err)
	ca := newCA(t, "NSS CA")
	rsaK := rsaKey(t, "d")
	ecK := ecKey(t, elliptic.P256())
	rsaCert := ca.issue(t, &rsaK.PublicKey, "nss rsa")
	ecCert := ca.issue(t, ecK.Public(), "nss ec")
	for _, c := range []struct {
		cert *x509.Certificate
		key  crypto.PrivateKey
	}{{rsaCert, rsaK}, {ecCert, ecK}} {
		_, err := s.Import(ctx, x509hsm.ImportRequest{Token: db, Certificate: c.cert, Key: c.key,
			Label: c.cert.Subject.CommonName, Chain: []*x509.Certificate{ca.cert}})
		require.NoError(t, err, c.cert.Subject.CommonName)
	}

	// A second store lists them, with their keys.
	s2, err := openStore(t, m, x509hsm.WithPIN(db, nss.Password))
	require.NoError(t, err)
	for _, cert := range []*x509.Certificate{rsaCert, ecCert} {
		e, err := s2.FindOne(x509hsm.ByDER(cert.Raw))
		require.NoError(t, err)
		assert.True(t, e.HasPrivateKey(), cert.Subject.CommonName)
		assert.Equal(t, "NSS Certificate DB", e.TokenLabel())
		sig, err := e.Sign(message)
		require.NoError(t, err)
		require.NoError(t, e.Verify(message, sig))
	}
	_, err = s2.FindOne(x509hsm.ByDER(ca.cert.Raw))
	require.NoError(t, err)

	rsaE, err := s2.FindOne(x509hsm.ByDER(rsaCert.Raw))
	require.NoError(t, err)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA512} {
		for _, label := range [][]byte{nil, []byte("a label")} {
			ct, err := rsa.EncryptOAEP(h.New(), rand.Reader, &rsaK.PublicKey, message, label)
			require.NoError(t, err)
			pt, err := rsaE.Decrypter().Decrypt(nil, ct, &rsa.OAEPOptions{Hash: h, Label: label})
			require.NoError(t, err, "%v %q", h, label)
			assert.Equal(t, message, pt)
		}
	}
	// OAEP with another MGF1 hash.
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, &rsaK.PublicKey, message, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	require.NoError(t, err)
	pt, err := rsaE.Decrypter().Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	require.NoError(t, err)
	assert.Equal(t, message, pt)

	ecE, err := s2.FindOne(x509hsm.ByDER(ecCert.Raw))
	require.NoError(t, err)
	sig, err := ecE.Signer(x509hsm.HashOnToken()).SignMessage(nil, message, crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(&ecK.PublicKey, digest(crypto.SHA256, message), sig))

	// Delete works on NSS too.
	require.NoError(t, s2.Delete(ctx, ecE))
	s3, err := openStore(t, m, x509hsm.WithPIN(db, nss.Password))
	require.NoError(t, err)
	assert.Empty(t, s3.Find(x509hsm.ByDER(ecCert.Raw)))
	_ = session.ErrNotFound
}
