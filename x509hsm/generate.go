package x509hsm

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// KeyAlgorithm names a kind of key pair for [Store.Generate].
type KeyAlgorithm string

// The key pairs Generate makes. Any "RSA-<bits>" of 2048 to 16384 bits
// works too.
const (
	RSA2048   KeyAlgorithm = "RSA-2048"
	RSA3072   KeyAlgorithm = "RSA-3072"
	RSA4096   KeyAlgorithm = "RSA-4096"
	P256      KeyAlgorithm = "P-256"
	P384      KeyAlgorithm = "P-384"
	P521      KeyAlgorithm = "P-521"
	Secp256k1 KeyAlgorithm = "secp256k1"
	Ed25519   KeyAlgorithm = "Ed25519"
)

// GenerateRequest is a key pair to generate on a token with
// [Store.Generate].
type GenerateRequest struct {
	// Token selects the token, as in ImportRequest.
	Token token.Selector
	// PIN is the token's user PIN, as in ImportRequest.
	PIN []byte
	// Algorithm is the kind of key pair.
	Algorithm KeyAlgorithm
	// Label is the CKA_LABEL of both keys.
	Label string
	// ID is the CKA_ID of both keys; nil for 16 random bytes.
	ID []byte
	// ECDH lets an EC private key derive shared secrets (CKA_DERIVE).
	ECDH bool
}

// Generate generates a key pair on a token, with the session package's
// secure defaults (the private key private, sensitive, never
// extractable, kept on the token), and returns its entry, with a
// synthetic certificate, which it adds to the store. Make a certificate
// for it with [Entry.CreateCSR] or [Entry.CreateSelfSigned], and store
// one with [Entry.StoreCertificate].
//
// BUG(x509hsm): crypto/x509 knows no secp256k1 (nor the other curves of
// ECPublicKey): such keys sign through Signer and JWS (ES256K), but no
// CSR or certificate can be made for them here, and certificates for
// them on a token are reported by discovery as unparseable.
func (s *Store) Generate(ctx context.Context, req GenerateRequest) (*Entry, error) {
	gen, err := generator(req)
	if err != nil {
		return nil, err
	}
	ts, err := s.tokenFor(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	pool, sealed, err := s.loginFor(ctx, ts, req.PIN)
	if err != nil {
		return nil, ts.errorf("generate: %w", err)
	}
	var pub *keyObj
	var priv session.Object
	err = pool.Do(ctx, func(sess *session.Session) error {
		pubO, privO, err := gen(sess)
		if err != nil {
			return err
		}
		pub, err = readKey(sess, pubO)
		if err != nil {
			sess.Destroy(privO.Handle)
			sess.Destroy(pubO.Handle)
			return fmt.Errorf("reading the new public key: %w", err)
		}
		priv = privO
		return nil
	})
	if err != nil {
		ts.dropPIN(sealed)
		return nil, ts.errorf("generate %s: %w", req.Algorithm, err)
	}
	cert, err := synthesize(pub.pub, req.Label, pub.obj.ID)
	if err != nil {
		ts.dropPIN(sealed)
		return nil, ts.errorf("generate %s: %w", req.Algorithm, err)
	}
	e := newEntry(ts, cert, true, nil, pub, &keyObj{obj: priv})
	e.pin = sealed
	s.add(e)
	return e, nil
}

// generator returns the function that generates req's key pair.
func generator(req GenerateRequest) (func(*session.Session) (pub, priv session.Object, err error), error) {
	opts := []session.KeyOption{session.KeyLabel(req.Label)}
	if req.ID != nil {
		opts = append(opts, session.KeyID(req.ID))
	}
	if req.ECDH {
		opts = append(opts, session.KeyAttributes(ck.MustAttribute(ck.CKA_DERIVE, true)))
	}
	alg := string(req.Algorithm)
	if bits, ok := strings.CutPrefix(alg, "RSA-"); ok {
		n, err := strconv.Atoi(bits)
		if err != nil {
			return nil, fmt.Errorf("x509hsm: generate: unknown key algorithm %q", alg)
		}
		return func(s *session.Session) (session.Object, session.Object, error) { return s.GenerateRSA(n, opts...) }, nil
	}
	if strings.EqualFold(alg, string(Ed25519)) {
		return func(s *session.Session) (session.Object, session.Object, error) { return s.GenerateEd25519(opts...) }, nil
	}
	if c, ok := ck.CurveByName(alg); ok && !c.Edwards {
		return func(s *session.Session) (session.Object, session.Object, error) { return s.GenerateEC(c.Name, opts...) }, nil
	}
	return nil, fmt.Errorf("x509hsm: generate: unknown key algorithm %q", alg)
}

// CreateCSR returns a PKCS #10 certificate request in DER for the
// entry's key, signed on the token with the entry's Signer
// (x509.CreateCertificateRequest). With a nil template the subject is
// CN=<label>.
func (e *Entry) CreateCSR(template *x509.CertificateRequest) ([]byte, error) {
	if template == nil {
		template = &x509.CertificateRequest{Subject: pkix.Name{CommonName: e.label}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, template, e.Signer())
	if err != nil {
		return nil, e.errorf("CSR: %w", err)
	}
	return der, nil
}

// CreateSelfSigned returns a certificate for the entry's key issued by
// itself, signed on the token with the entry's Signer
// (x509.CreateCertificate with template as certificate and parent). A
// template without serial number gets a random one of 128 bits. The
// certificate is not stored: see StoreCertificate.
func (e *Entry) CreateSelfSigned(template *x509.Certificate) (*x509.Certificate, error) {
	if template == nil {
		return nil, e.errorf("self-signed certificate: no template")
	}
	t := *template
	if t.SerialNumber == nil {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
		if err != nil {
			return nil, err
		}
		t.SerialNumber = n.Add(n, big.NewInt(1))
	}
	der, err := x509.CreateCertificate(rand.Reader, &t, &t, e.Public(), e.Signer())
	if err != nil {
		return nil, e.errorf("self-signed certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// StoreCertificate stores cert, a certificate for the entry's key, on
// the entry's token as a certificate object with the entry's CKA_ID and
// label, and makes it the entry's certificate. A certificate object the
// entry had before is destroyed once the new one exists.
func (e *Entry) StoreCertificate(ctx context.Context, cert *x509.Certificate) error {
	if e.closed.Load() {
		return e.errorf("store certificate: %w", ErrClosed)
	}
	if cert == nil || !publicKeysEqual(cert.PublicKey, e.Public()) {
		return e.errorf("store certificate: the certificate is not for the entry's key")
	}
	pool := e.tok.privPool()
	if pool == nil {
		pool = e.tok.pub
	}
	created, err := e.tok.create(ctx, pool, []step{{name: "creating the certificate object", kind: ck.CKO_CERTIFICATE,
		template: certTemplateOf(cert, e.id, e.label, nil), cert: cert}})
	if err != nil {
		return e.errorf("store certificate: %w", err)
	}
	obj := created[0]
	old := e.state.Swap(&certState{cert: cert, obj: &obj})
	if old.obj != nil {
		err := pool.Do(ctx, func(s *session.Session) error {
			o, err := s.Resolve(*old.obj)
			if err != nil {
				return err
			}
			return s.Destroy(o.Handle)
		})
		if err != nil {
			return e.errorf("store certificate: the new certificate is stored, but destroying the old one failed: %w", err)
		}
	}
	return nil
}

// Delete destroys the entry's objects on its token: its certificate
// object, private key and public key object, and takes it out of the
// store. It needs the token logged in (a PIN known), so that the
// private key is not left behind unseen. Each object is found again by
// its identity first, so that a stale handle never destroys another
// object.
func (s *Store) Delete(ctx context.Context, e *Entry) error {
	if e.tok.store != s {
		return e.errorf("delete: the entry belongs to another store")
	}
	_, pool, err := e.privateKey(ctx)
	if err != nil && !errors.Is(err, ErrNoPrivateKey) {
		return e.errorf("delete: %w", err)
	}
	if pool == nil {
		pool = e.tok.privPool()
	}
	type target struct {
		what string
		obj  *session.Object
	}
	targets := []target{{"certificate object", e.state.Load().obj}, {"private key", e.priv.Load()}, {"public key object", e.pubObj}}
	var errs []error
	err = pool.Do(ctx, func(sess *session.Session) error {
		for _, t := range targets {
			if t.obj == nil {
				continue
			}
			o, err := sess.Resolve(*t.obj)
			if err == nil {
				err = sess.Destroy(o.Handle)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("destroying the %s: %w", t.what, err))
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	s.remove(e)
	e.Close()
	if len(errs) > 0 {
		return e.errorf("delete: %w", errors.Join(errs...))
	}
	return nil
}
