package x509hsm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
)

// maxChain bounds the issuers TLSCertificate adds.
const maxChain = 8

// TLSCertificate returns the entry as a tls.Certificate for a server or
// client: its certificate, followed by the issuers the store holds up
// to (and without) a self-signed root, with the entry's [Signer] as
// PrivateKey and the certificate as Leaf. It needs an X.509 certificate
// (not a synthetic one) with an RSA, ECDSA (P-256, P-384, P-521) or
// Ed25519 key, and the private key: it fails with ErrNoPIN or
// ErrNoPrivateKey otherwise.
//
// An issuer is a certificate of the store whose subject is the
// certificate's issuer and whose key verifies its signature. Call
// [Store.Wait] first, so that the store holds every issuer.
func (e *Entry) TLSCertificate() (tls.Certificate, error) {
	st := e.state.Load()
	if st.synthetic {
		return tls.Certificate{}, e.errorf("TLS: the token holds no X.509 certificate for the key (StoreCertificate)")
	}
	switch kindOf(st.cert.PublicKey) {
	case kindRSA, kindECDSA, kindEd25519:
	default:
		return tls.Certificate{}, e.errorf("TLS: %s keys cannot be used by crypto/tls", describeKey(st.cert.PublicKey))
	}
	if _, _, err := e.privateKey(context.Background()); err != nil {
		return tls.Certificate{}, err
	}
	chain := [][]byte{st.cert.Raw}
	for _, c := range e.tok.store.issuers(st.cert) {
		chain = append(chain, c.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: e.Signer(), Leaf: st.cert}, nil
}

// issuers returns the chain of issuers of c that the store holds, up to
// and without a self-signed root.
func (s *Store) issuers(c *x509.Certificate) []*x509.Certificate {
	var certs []*x509.Certificate
	for _, e := range s.Find() {
		if e.IsX509() {
			certs = append(certs, e.Certificate())
		}
	}
	var out []*x509.Certificate
	for cur := c; len(out) < maxChain && !selfSigned(cur); {
		var issuer *x509.Certificate
		for _, cand := range certs {
			if bytes.Equal(cand.RawSubject, cur.RawIssuer) && !bytes.Equal(cand.Raw, cur.Raw) &&
				cur.CheckSignatureFrom(cand) == nil {
				issuer = cand
				break
			}
		}
		if issuer == nil || selfSigned(issuer) {
			break
		}
		out = append(out, issuer)
		cur = issuer
	}
	return out
}

// selfSigned reports whether c is issued by its own subject with its
// own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
