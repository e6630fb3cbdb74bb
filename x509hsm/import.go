package x509hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// ImportRequest is a certificate, with or without its private key, to
// store on a token with [Store.Import].
type ImportRequest struct {
	// Token selects the token: token.Label, token.Serial, token.InSlot,
	// token.MatchURI, ... It must select exactly one token of the
	// store; the zero Selector selects the store's only token.
	Token token.Selector
	// PIN is the token's user PIN: Import logs in with it first, as
	// Entry.SetPIN does, and the new entry keeps it. Nil when the store
	// knows the token's PIN already.
	PIN []byte
	// Certificate is the certificate to store. It is required.
	Certificate *x509.Certificate
	// Key is the certificate's private key: *rsa.PrivateKey,
	// *ecdsa.PrivateKey or ed25519.PrivateKey; nil to store the
	// certificate alone. It is stored with its public key.
	Key crypto.PrivateKey
	// Chain are issuer certificates to store too, each as a certificate
	// object of its own without a key, labelled with its subject's
	// common name, unless the token has it already.
	Chain []*x509.Certificate
	// ID is the CKA_ID of every object stored for Certificate; nil for
	// the certificate's subject key ID, or the SHA-1 of its public key
	// when it has none. Chain certificates get their own.
	ID []byte
	// Label is the CKA_LABEL of every object stored for Certificate.
	Label string
	// ECDH lets an EC private key derive shared secrets (CKA_DERIVE),
	// for Entry.ECDH. Without it the key only signs.
	ECDH bool
	// CertificateAttributes, PrivateKeyAttributes and
	// PublicKeyAttributes are added to the templates of the objects,
	// replacing any default of the same type (CKA_START_DATE,
	// CKA_ALLOWED_MECHANISMS, a vendor attribute, ...). They cannot make
	// the private key readable: CKA_SENSITIVE, CKA_EXTRACTABLE,
	// CKA_PRIVATE and CKA_TOKEN of the private key are refused.
	CertificateAttributes, PrivateKeyAttributes, PublicKeyAttributes []ck.Attribute
}

// fixedPrivate are the attributes of a private key that Import always
// sets, and refuses in PrivateKeyAttributes.
var fixedPrivate = []ck.AttributeType{ck.CKA_SENSITIVE, ck.CKA_EXTRACTABLE, ck.CKA_PRIVATE, ck.CKA_TOKEN}

// Import stores a certificate, and its private and public key when
// req.Key is given, on a token, and returns its entry, which it adds
// to the store (with one more for each Chain certificate stored).
//
// The private key is created on the token with CKA_SENSITIVE true,
// CKA_EXTRACTABLE false, CKA_PRIVATE true and CKA_TOKEN true: it can
// never be read back. It signs, and decrypts if it is an RSA key. The
// objects are created in this order: private key, public key,
// certificate, chain certificates. If any step fails, every object
// created so far is destroyed again, and the error names the step.
func (s *Store) Import(ctx context.Context, req ImportRequest) (*Entry, error) {
	if req.Certificate == nil {
		return nil, errors.New("x509hsm: import: no certificate")
	}
	cert := req.Certificate
	for _, a := range req.PrivateKeyAttributes {
		if slices.Contains(fixedPrivate, a.Type) {
			return nil, fmt.Errorf("x509hsm: import: %v of the private key cannot be changed", a.Type)
		}
	}
	if req.Key != nil {
		signer, ok := req.Key.(crypto.Signer)
		if !ok || !publicKeysEqual(signer.Public(), cert.PublicKey) {
			return nil, errors.New("x509hsm: import: the key is not the certificate's")
		}
	}
	id := req.ID
	if id == nil {
		id = defaultID(cert)
	}

	ts, err := s.tokenFor(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	pool, sealed, err := s.loginFor(ctx, ts, req.PIN)
	if err != nil {
		return nil, ts.errorf("import: %w", err)
	}

	steps, secrets, err := importSteps(req, id)
	defer func() {
		// The private key's components, in slices made for the
		// template; nothing else of the templates is ours to clear.
		for _, b := range secrets {
			clear(b)
		}
	}()
	if err != nil {
		ts.dropPIN(sealed)
		return nil, ts.errorf("import: %w", err)
	}
	for _, c := range req.Chain {
		if c == nil || bytes.Equal(c.Raw, cert.Raw) || s.hasCert(ts, c) {
			continue
		}
		// Each its own label: NSS takes labels for nicknames, one per
		// subject.
		label := c.Subject.CommonName
		if label == "" {
			label = c.Subject.String()
		}
		steps = append(steps, step{name: fmt.Sprintf("creating the certificate object of %q", c.Subject.String()),
			kind: ck.CKO_CERTIFICATE, template: certTemplateOf(c, defaultID(c), label, nil), cert: c})
	}

	created, err := ts.create(ctx, pool, steps)
	if err != nil {
		ts.dropPIN(sealed)
		return nil, ts.errorf("import: %w", err)
	}

	// The objects exist: make their entries.
	var leaf *Entry
	var entries []*Entry
	var pubK, privK *keyObj
	for i, st := range steps {
		o := created[i]
		switch st.kind {
		case ck.CKO_PRIVATE_KEY:
			privK = &keyObj{obj: o}
		case ck.CKO_PUBLIC_KEY:
			pubK = &keyObj{obj: o, pub: cert.PublicKey}
		default:
			obj := o
			if st.cert == cert {
				leaf = newEntry(ts, cert, false, &obj, pubK, privK)
				entries = append(entries, leaf)
			} else {
				entries = append(entries, newEntry(ts, st.cert, false, &obj, nil, nil))
			}
		}
	}
	leaf.pin = sealed
	s.add(entries...)
	return leaf, nil
}

// ImportPEM is Import with the certificate and key read from PEM data:
// CERTIFICATE blocks, and at most one private key in a PRIVATE KEY
// (PKCS #8), RSA PRIVATE KEY (PKCS #1) or EC PRIVATE KEY (SEC 1) block,
// unencrypted. The certificate of the key (else the first one) is
// req.Certificate and the others are added to req.Chain; blocks of
// other types are ignored.
func (s *Store) ImportPEM(ctx context.Context, req ImportRequest, pemData []byte) (*Entry, error) {
	certs, key, err := ParsePEM(pemData)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("x509hsm: import: no CERTIFICATE block in the PEM data")
	}
	leaf := 0
	if key != nil {
		leaf = -1
		for i, c := range certs {
			if signer, ok := key.(crypto.Signer); ok && publicKeysEqual(signer.Public(), c.PublicKey) {
				leaf = i
				break
			}
		}
		if leaf < 0 {
			return nil, errors.New("x509hsm: import: no certificate in the PEM data is the key's")
		}
	}
	req.Certificate, req.Key = certs[leaf], key
	req.Chain = append(slices.Delete(slices.Clone(certs), leaf, leaf+1), req.Chain...)
	return s.Import(ctx, req)
}

// ParsePEM reads the certificates and the private key (if any) of PEM
// data, as ImportPEM takes them.
func ParsePEM(data []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	var (
		certs []*x509.Certificate
		key   crypto.PrivateKey
	)
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var k crypto.PrivateKey
		var err error
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("x509hsm: PEM certificate %d: %w", len(certs)+1, err)
			}
			certs = append(certs, c)
			continue
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			err = errors.New("encrypted keys are not supported")
		default:
			continue
		}
		clear(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("x509hsm: PEM %s: %w", b.Type, err)
		}
		if key != nil {
			return nil, nil, errors.New("x509hsm: more than one private key in the PEM data")
		}
		key = k
	}
	return certs, key, nil
}

// step is one object to create.
type step struct {
	name     string
	kind     ck.ObjectClass
	template []ck.Attribute
	cert     *x509.Certificate // for certificate objects
}

// importSteps returns the objects Import creates for req's certificate
// and key, and the slices of the templates that hold the private key's
// secrets, for the caller to clear.
func importSteps(req ImportRequest, id []byte) ([]step, [][]byte, error) {
	cert := req.Certificate
	var steps []step
	var secrets [][]byte
	if req.Key != nil {
		priv, pub, sec, err := keyTemplates(req.Key, req.ECDH)
		secrets = sec
		if err != nil {
			return nil, secrets, err
		}
		common := []ck.Attribute{
			{Type: ck.CKA_ID, Value: id},
			ck.MustAttribute(ck.CKA_LABEL, req.Label),
			{Type: ck.CKA_SUBJECT, Value: cert.RawSubject},
		}
		priv = mergeAttrs(append(priv, common...), req.PrivateKeyAttributes)
		pub = mergeAttrs(append(pub, common...), req.PublicKeyAttributes)
		steps = append(steps,
			step{name: "creating the private key object", kind: ck.CKO_PRIVATE_KEY, template: priv},
			step{name: "creating the public key object", kind: ck.CKO_PUBLIC_KEY, template: pub})
	}
	steps = append(steps, step{name: "creating the certificate object", kind: ck.CKO_CERTIFICATE,
		template: certTemplateOf(cert, id, req.Label, req.CertificateAttributes), cert: cert})
	return steps, secrets, nil
}

// certTemplateOf returns the template of a certificate object.
func certTemplateOf(c *x509.Certificate, id []byte, label string, extra []ck.Attribute) []ck.Attribute {
	serial, _ := asn1.Marshal(c.SerialNumber)
	return mergeAttrs([]ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_CERTIFICATE),
		ck.MustAttribute(ck.CKA_CERTIFICATE_TYPE, ck.CKC_X_509),
		ck.MustAttribute(ck.CKA_TOKEN, true),
		ck.MustAttribute(ck.CKA_PRIVATE, false),
		{Type: ck.CKA_ID, Value: id},
		ck.MustAttribute(ck.CKA_LABEL, label),
		{Type: ck.CKA_SUBJECT, Value: c.RawSubject},
		{Type: ck.CKA_ISSUER, Value: c.RawIssuer},
		{Type: ck.CKA_SERIAL_NUMBER, Value: serial},
		{Type: ck.CKA_VALUE, Value: c.Raw},
	}, extra)
}

// keyTemplates returns the templates of the private and public key
// objects of key, without ID, label and subject, and the slices of priv
// that hold secrets (made for it, for the caller to clear).
func keyTemplates(key crypto.PrivateKey, derive bool) (priv, pub []ck.Attribute, secrets [][]byte, err error) {
	b := func(t ck.AttributeType, v bool) ck.Attribute { return ck.MustAttribute(t, v) }
	priv = []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY),
		b(ck.CKA_TOKEN, true), b(ck.CKA_PRIVATE, true),
		b(ck.CKA_SENSITIVE, true), b(ck.CKA_EXTRACTABLE, false),
		b(ck.CKA_SIGN, true), b(ck.CKA_SIGN_RECOVER, false), b(ck.CKA_UNWRAP, false),
	}
	pub = []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY),
		b(ck.CKA_TOKEN, true), b(ck.CKA_PRIVATE, false),
		b(ck.CKA_VERIFY, true), b(ck.CKA_VERIFY_RECOVER, false), b(ck.CKA_WRAP, false), b(ck.CKA_DERIVE, false),
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) != 2 {
			return nil, nil, nil, fmt.Errorf("RSA keys with %d primes are not supported", len(k.Primes))
		}
		k.Precompute()
		num := func(t ck.AttributeType, n interface{ Bytes() []byte }) ck.Attribute {
			b := n.Bytes()
			if t != ck.CKA_MODULUS {
				secrets = append(secrets, b)
			}
			return ck.Attribute{Type: t, Value: b}
		}
		e := ck.MustAttribute(ck.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)))
		priv = append(priv,
			ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_RSA),
			b(ck.CKA_DECRYPT, true), b(ck.CKA_DERIVE, false),
			num(ck.CKA_MODULUS, k.N), e,
			num(ck.CKA_PRIVATE_EXPONENT, k.D),
			num(ck.CKA_PRIME_1, k.Primes[0]), num(ck.CKA_PRIME_2, k.Primes[1]),
			num(ck.CKA_EXPONENT_1, k.Precomputed.Dp), num(ck.CKA_EXPONENT_2, k.Precomputed.Dq),
			num(ck.CKA_COEFFICIENT, k.Precomputed.Qinv))
		pub = append(pub,
			ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_RSA), b(ck.CKA_ENCRYPT, true),
			ck.Attribute{Type: ck.CKA_MODULUS, Value: k.N.Bytes()},
			ck.MustAttribute(ck.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E))))
	case *ecdsa.PrivateKey:
		c, ok := ck.CurveByName(k.Curve.Params().Name)
		if !ok {
			return nil, nil, nil, fmt.Errorf("unsupported curve %s", k.Curve.Params().Name)
		}
		d, err := k.Bytes()
		if err != nil {
			return nil, nil, nil, err
		}
		secrets = append(secrets, d)
		point, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, nil, secrets, err
		}
		priv = append(priv,
			ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_EC), b(ck.CKA_DECRYPT, false), b(ck.CKA_DERIVE, derive),
			ck.Attribute{Type: ck.CKA_EC_PARAMS, Value: c.ECParams()},
			ck.Attribute{Type: ck.CKA_VALUE, Value: d})
		pub = append(pub,
			ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_EC), b(ck.CKA_ENCRYPT, false),
			ck.Attribute{Type: ck.CKA_EC_PARAMS, Value: c.ECParams()},
			ck.Attribute{Type: ck.CKA_EC_POINT, Value: ck.EncodeECPoint(point)})
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, nil, nil, fmt.Errorf("Ed25519 private key of %d bytes", len(k))
		}
		c, _ := ck.CurveByName("Ed25519")
		seed := k.Seed()
		secrets = append(secrets, seed)
		priv = append(priv,
			ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_EC_EDWARDS), b(ck.CKA_DECRYPT, false), b(ck.CKA_DERIVE, false),
			ck.Attribute{Type: ck.CKA_EC_PARAMS, Value: c.ECParams()},
			ck.Attribute{Type: ck.CKA_VALUE, Value: seed})
		pub = append(pub,
			ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_EC_EDWARDS), b(ck.CKA_ENCRYPT, false),
			ck.Attribute{Type: ck.CKA_EC_PARAMS, Value: c.ECParams()},
			ck.Attribute{Type: ck.CKA_EC_POINT, Value: ck.EncodeECPoint(k.Public().(ed25519.PublicKey))})
	default:
		return nil, nil, nil, fmt.Errorf("unsupported private key type %T", key)
	}
	return priv, pub, secrets, nil
}

// mergeAttrs returns defaults with each attribute whose type is in over
// replaced by over's, followed by the rest of over.
func mergeAttrs(defaults, over []ck.Attribute) []ck.Attribute {
	out := make([]ck.Attribute, 0, len(defaults)+len(over))
	for _, d := range defaults {
		if !slices.ContainsFunc(over, func(o ck.Attribute) bool { return o.Type == d.Type }) {
			out = append(out, d)
		}
	}
	return append(out, over...)
}

// defaultID returns the CKA_ID Import gives a certificate: its subject
// key ID, else the SHA-1 of its public key.
func defaultID(c *x509.Certificate) []byte {
	if len(c.SubjectKeyId) > 0 {
		return bytes.Clone(c.SubjectKeyId)
	}
	id, err := subjectKeyID(c.PublicKey)
	if err != nil {
		h := sha1.Sum(c.RawSubjectPublicKeyInfo)
		return h[:]
	}
	return id
}

// hasCert reports whether the store holds certificate c on ts.
func (s *Store) hasCert(ts *tokenState, c *x509.Certificate) bool {
	for _, e := range s.Find() {
		if e.tok == ts && e.IsX509() && bytes.Equal(e.Certificate().Raw, c.Raw) {
			return true
		}
	}
	return false
}

// loginFor returns the pool of ts's private keys, logging in with pin
// first when it is given; the sealed copy of pin is for the caller's
// new entry (nil without pin).
func (s *Store) loginFor(ctx context.Context, ts *tokenState, pin []byte) (*session.Pool, *sealedPIN, error) {
	if pin == nil {
		p := ts.privPool()
		if p == nil {
			return nil, nil, ErrNoPIN
		}
		return p, nil, nil
	}
	sealed, err := sealPIN(pin)
	if err != nil {
		return nil, nil, err
	}
	if err := ts.login(ctx, pin, sealed); err != nil {
		sealed.wipe()
		return nil, nil, err
	}
	return ts.privPool(), sealed, nil
}

// dropPIN forgets and wipes a PIN that no entry came to own.
func (ts *tokenState) dropPIN(p *sealedPIN) {
	if p != nil {
		ts.removePIN(p)
		p.wipe()
	}
}

// create creates the objects of steps in order on one session of pool.
// If a step fails, it destroys what it created and returns an error
// naming the step (and what could not be destroyed, if anything).
//
// A failed C_CreateObject may itself leave an object behind: SoftHSM
// 2.6 does when an attribute of the template is refused after it made
// the object (CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_READ_ONLY, a bad
// CKA_START_DATE, ...), and returns no handle for it. So before each
// step the handles of the objects of its class are listed, and after a
// failure the objects of that class that appeared in the meantime and
// carry no label or CKA_ID other than the step's are destroyed too.
func (ts *tokenState) create(ctx context.Context, pool *session.Pool, steps []step) ([]session.Object, error) {
	var created []session.Object
	var leftover []string
	err := pool.Do(ctx, func(s *session.Session) error {
		for _, st := range steps {
			before, berr := classHandles(s, st.kind)
			o, err := s.Create(st.template)
			if err != nil {
				if berr == nil {
					leftover = append(leftover, sweep(s, st, before)...)
				}
				for i := len(created) - 1; i >= 0; i-- {
					if derr := s.Destroy(created[i].Handle); derr != nil {
						leftover = append(leftover, fmt.Sprintf("%s (%v)", strings.TrimPrefix(steps[i].name, "creating the "), derr))
					}
				}
				return fmt.Errorf("%s: %w", st.name, err)
			}
			created = append(created, o)
		}
		return nil
	})
	if err != nil && len(leftover) > 0 {
		return nil, fmt.Errorf("%w; and destroying what was created failed, left on the token: %v", err, leftover)
	}
	if err != nil {
		return nil, err
	}
	return created, nil
}

// classHandles returns the handles of the objects of class the session
// sees.
func classHandles(s *session.Session, class ck.ObjectClass) (map[ck.ObjectHandle]bool, error) {
	hs := make(map[ck.ObjectHandle]bool)
	for h, err := range s.FindIter([]ck.Attribute{ck.MustAttribute(ck.CKA_CLASS, class)}, 256) {
		if err != nil {
			return nil, err
		}
		hs[h] = true
	}
	return hs, nil
}

// sweep destroys what a failed creation of st left behind: objects of
// its class not in before whose label and CKA_ID are empty or st's. It
// returns what it failed to destroy.
func sweep(s *session.Session, st step, before map[ck.ObjectHandle]bool) []string {
	var id, label []byte
	for _, a := range st.template {
		switch a.Type {
		case ck.CKA_ID:
			id = a.Value
		case ck.CKA_LABEL:
			label = a.Value
		}
	}
	after, err := classHandles(s, st.kind)
	if err != nil {
		return nil
	}
	var left []string
	for h := range after {
		if before[h] {
			continue
		}
		o, err := s.Object(h)
		if err != nil || len(o.ID) > 0 && !bytes.Equal(o.ID, id) || o.Label != "" && o.Label != string(label) {
			continue // not ours to destroy
		}
		if err := s.Destroy(h); err != nil {
			left = append(left, fmt.Sprintf("an object the failed step made (%v)", err))
		}
	}
	return left
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
