package x509hsm_test

import (
	"bufio"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// TestTLS runs real TLS handshakes over loopback with the server's key
// on the token. A root CA in memory signs an intermediate, which the
// token holds as a certificate without key; the intermediate signs the
// server certificate from a CSR signed by the token key. The client
// trusts the root only, so the handshake needs the chain the store
// assembles.
func TestTLS(t *testing.T) {
	m := softhsm(t)
	s := workStore(t, m)
	root := newCA(t, "TLS root")
	interKey := ecKey(t, elliptic.P256())
	inter := &testCA{key: interKey, cert: root.issue(t, interKey.Public(), "TLS intermediate", func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage = x509.KeyUsageCertSign
		c.ExtKeyUsage, c.DNSNames, c.IPAddresses = nil, nil, nil
	})}
	_, err := s.Import(ctx, x509hsm.ImportRequest{Token: token.Label(x509hsm.TokWork), Certificate: inter.cert, Label: "tls-intermediate"})
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)

	for _, alg := range []x509hsm.KeyAlgorithm{x509hsm.P256, x509hsm.RSA2048} {
		e, err := s.Generate(ctx, x509hsm.GenerateRequest{Token: token.Label(x509hsm.TokWork), Algorithm: alg, Label: "tls-" + string(alg)})
		require.NoError(t, err)
		_, err = e.TLSCertificate()
		require.Error(t, err, "a synthetic certificate does not serve TLS")

		der, err := e.CreateCSR(&x509.CertificateRequest{Subject: pkix.Name{CommonName: "localhost"}})
		require.NoError(t, err)
		csr, err := x509.ParseCertificateRequest(der)
		require.NoError(t, err)
		require.NoError(t, csr.CheckSignature())
		cert := inter.issue(t, csr.PublicKey, csr.Subject.CommonName)
		require.NoError(t, cert.CheckSignatureFrom(inter.cert))
		require.NoError(t, e.StoreCertificate(ctx, cert))

		tc, err := e.TLSCertificate()
		require.NoError(t, err)
		require.Len(t, tc.Certificate, 2, "leaf and intermediate, not the root")
		assert.Equal(t, inter.cert.Raw, tc.Certificate[1])
		assert.Equal(t, cert, tc.Leaf)

		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(string(alg)+"/"+tls.VersionName(v), func(t *testing.T) {
				handshake(t, tc, roots, v)
			})
		}
	}
}

// handshake serves one TLS connection on loopback with cert and checks
// that a client trusting roots connects with version v and exchanges a
// line both ways.
func handshake(t *testing.T, cert tls.Certificate, roots *x509.CertPool, v uint16) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)

	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v, MaxVersion: v})
		if err := tc.Handshake(); err != nil {
			srvErr <- err
			return
		}
		line, err := bufio.NewReader(tc).ReadString('\n')
		if err == nil {
			_, err = tc.Write([]byte("pong: " + line))
		}
		srvErr <- err
	}()

	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(deadline)
	tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: v, MaxVersion: v})
	require.NoError(t, tc.Handshake())
	st := tc.ConnectionState()
	assert.Equal(t, v, st.Version)
	require.Len(t, st.VerifiedChains, 1)
	assert.Len(t, st.VerifiedChains[0], 3)
	_, err = tc.Write([]byte("ping\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(tc).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "pong: ping\n", line)
	require.NoError(t, <-srvErr)
}
