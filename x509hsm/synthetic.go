package x509hsm

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// A key on a token without a certificate gets a synthetic certificate,
// so that it can be listed, found and used like the others. It is a
// real, parseable X.509 certificate that says what it is:
//
//   - its subject is CN "synthetic: <label>" (or the CKA_ID in hex when
//     the key has no label), OU SyntheticOU;
//   - its issuer is CN "x509hsm synthetic issuer", OU SyntheticOU;
//   - it is signed with Ed25519 by a key whose seed is published (the
//     SHA-256 of SyntheticIssuerSeedText), so the signature vouches for
//     nothing: anyone can make one;
//   - its serial number is taken from the SHA-256 of the public key and
//     it is valid from 2000-01-01 to 9999-12-31 (RFC 5280's "no
//     expiration"), so the same key always gets the same certificate,
//     with the same fingerprints.
//
// [IsSynthetic] tells one from any other certificate, and
// [Entry.IsX509] reports false for entries that have one.

// SyntheticOU is the organizational unit of the subject and issuer of
// synthetic certificates.
const SyntheticOU = "x509hsm synthetic certificate: no X.509 certificate on the token"

// SyntheticIssuerSeedText is the text whose SHA-256 is the seed of the
// Ed25519 key that signs synthetic certificates. It is published so
// that nobody mistakes such a signature for an endorsement.
const SyntheticIssuerSeedText = "x509hsm synthetic issuer: this key is public and vouches for nothing"

var (
	syntheticSigner = func() ed25519.PrivateKey {
		seed := sha256.Sum256([]byte(SyntheticIssuerSeedText))
		return ed25519.NewKeyFromSeed(seed[:])
	}()
	syntheticIssuer = pkix.Name{
		CommonName:         "x509hsm synthetic issuer",
		OrganizationalUnit: []string{SyntheticOU},
	}
	syntheticIssuerDER = func() []byte {
		b, err := asn1.Marshal(syntheticIssuer.ToRDNSequence())
		if err != nil {
			panic(err)
		}
		return b
	}()
	syntheticNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	syntheticNotAfter  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// IsSynthetic reports whether c is a synthetic certificate made by this
// package for a key without one: issued by the synthetic issuer and
// signed with its published key.
func IsSynthetic(c *x509.Certificate) bool {
	return c != nil && bytes.Equal(c.RawIssuer, syntheticIssuerDER) &&
		ed25519.Verify(syntheticSigner.Public().(ed25519.PublicKey), c.RawTBSCertificate, c.Signature)
}

// synthesize returns the synthetic certificate of pub, for a key with
// CKA_LABEL label and CKA_ID id.
func synthesize(pub crypto.PublicKey, label string, id []byte) (*x509.Certificate, error) {
	spki, err := marshalSPKI(pub)
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	name := strings.ToValidUTF8(label, "\uFFFD")
	if name == "" && len(id) > 0 {
		name = hex.EncodeToString(id)
	}
	if name == "" {
		name = "key " + hex.EncodeToString(skid[:8])
	}
	h := sha256.Sum256(spki)
	h[0] &= 0x7f // a positive serial of at most 20 octets
	serial := new(big.Int).SetBytes(h[:16])
	if serial.Sign() == 0 {
		serial.SetInt64(1)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         "synthetic: " + name,
			OrganizationalUnit: []string{SyntheticOU},
		},
		NotBefore:    syntheticNotBefore,
		NotAfter:     syntheticNotAfter,
		SubjectKeyId: skid,
	}
	parent := &x509.Certificate{Subject: syntheticIssuer}

	other, isOther := pub.(*ECPublicKey)
	certKey := pub
	if isOther {
		// crypto/x509 cannot encode this key: make the certificate with
		// a stand-in key, then put the real one in and sign again.
		certKey = syntheticSigner.Public()
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, certKey, syntheticSigner)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if !isOther {
		return c, nil
	}
	return replaceKey(c, other, spki)
}

// replaceKey returns c with the SubjectPublicKeyInfo spki of pub in
// place of its own, signed again by the synthetic issuer. The result is
// filled in from c, since crypto/x509 cannot parse it.
func replaceKey(c *x509.Certificate, pub *ECPublicKey, spki []byte) (*x509.Certificate, error) {
	// TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature,
	// issuer, validity, subject, subjectPublicKeyInfo, ... } (RFC 5280,
	// 4.1).
	_, tbs, _, err := derElement(c.RawTBSCertificate)
	if err != nil {
		return nil, err
	}
	var out []byte
	for i, rest := 0, tbs; len(rest) > 0; i++ {
		_, _, next, err := derElement(rest)
		if err != nil {
			return nil, err
		}
		elem := rest[:len(rest)-len(next)]
		if i == 6 {
			if !bytes.Equal(elem, c.RawSubjectPublicKeyInfo) {
				return nil, errors.New("x509hsm: unexpected TBSCertificate layout")
			}
			elem = spki
		}
		out = append(out, elem...)
		rest = next
	}
	newTBS := derWrap(0x30, out)
	sig := ed25519.Sign(syntheticSigner, newTBS)

	// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
	// signatureValue BIT STRING }.
	_, certBody, _, err := derElement(c.Raw)
	if err != nil {
		return nil, err
	}
	_, _, afterTBS, err := derElement(certBody)
	if err != nil {
		return nil, err
	}
	_, _, afterAlg, err := derElement(afterTBS)
	if err != nil {
		return nil, err
	}
	sigAlg := afterTBS[:len(afterTBS)-len(afterAlg)]
	raw := derWrap(0x30, append(append(append([]byte(nil), newTBS...), sigAlg...),
		derWrap(0x03, append([]byte{0}, sig...))...))

	n := *c
	n.Raw = raw
	n.RawTBSCertificate = newTBS
	n.RawSubjectPublicKeyInfo = spki
	n.Signature = sig
	n.PublicKey = pub
	n.PublicKeyAlgorithm = x509.ECDSA
	if pub.Curve.Edwards {
		n.PublicKeyAlgorithm = x509.UnknownPublicKeyAlgorithm
	}
	if !IsSynthetic(&n) {
		return nil, fmt.Errorf("x509hsm: synthetic certificate for %s does not verify", pub.Curve)
	}
	return &n, nil
}
