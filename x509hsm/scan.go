package x509hsm

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// This file reads a token's certificates and keys and links them into
// entries. A certificate and a key belong together when they have the
// same CKA_ID (and, where both public keys are known, the same public
// key), or, failing that, when their public keys are equal: the
// public key of a private key is read from it where the token allows
// (RSA modulus and exponent, CKA_EC_POINT or CKA_PUBLIC_KEY_INFO where
// the token has them).

// objErr is an object that discovery skipped, and why.
type objErr struct {
	object string
	err    error
}

// keyObj is a key object and the public key it describes, nil when that
// cannot be read from it (an EC private key on most tokens).
type keyObj struct {
	obj  session.Object
	pub  crypto.PublicKey
	fp   string // keyFingerprint(pub)
	used bool
}

// certObj is a certificate object and its certificate.
type certObj struct {
	obj  session.Object
	cert *x509.Certificate
}

var (
	certTemplate = []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_CERTIFICATE),
		ck.MustAttribute(ck.CKA_CERTIFICATE_TYPE, ck.CKC_X_509),
	}
	pubTemplate  = []ck.Attribute{ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY)}
	privTemplate = []ck.Attribute{ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY)}
)

// describe names an object for messages: `certificate "web" (CKA_ID
// 01ab)`, or by its handle when it has neither label nor ID.
func describe(kind string, o session.Object) string {
	switch {
	case o.Label != "" && len(o.ID) > 0:
		return fmt.Sprintf("%s %q (CKA_ID %x)", kind, o.Label, o.ID)
	case o.Label != "":
		return fmt.Sprintf("%s %q", kind, o.Label)
	case len(o.ID) > 0:
		return fmt.Sprintf("%s with CKA_ID %x", kind, o.ID)
	}
	return fmt.Sprintf("%s with handle %d", kind, o.Handle)
}

// scan reads the token's objects and returns its entries, and the
// objects it skipped.
func (ts *tokenState) scan(ctx context.Context) ([]*Entry, []objErr) {
	var (
		certs []certObj
		pubs  []*keyObj
		errs  []objErr
	)
	err := ts.pub.Retry(ctx, func(s *session.Session) error {
		certs, pubs, errs = nil, nil, nil
		objs, err := s.Find(certTemplate)
		if err != nil {
			return err
		}
		for _, o := range objs {
			c, err := readCert(s, o)
			if err != nil {
				if session.IsSessionLost(err) {
					return err
				}
				errs = append(errs, objErr{describe("certificate", o), err})
				continue
			}
			certs = append(certs, certObj{o, c})
		}
		objs, err = s.Find(pubTemplate)
		if err != nil {
			return err
		}
		for _, o := range objs {
			k, err := readKey(s, o)
			if err != nil {
				if session.IsSessionLost(err) {
					return err
				}
				errs = append(errs, objErr{describe("public key", o), err})
				continue
			}
			if k.pub != nil {
				pubs = append(pubs, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, []objErr{{"", err}}
	}

	var privs []*keyObj
	if pool := ts.privPool(); pool != nil {
		var perrs []objErr
		err := pool.Retry(ctx, func(s *session.Session) error {
			privs, perrs = nil, nil
			objs, err := s.Find(privTemplate)
			if err != nil {
				return err
			}
			for _, o := range objs {
				k, err := readKey(s, o)
				if err != nil {
					if session.IsSessionLost(err) {
						return err
					}
					perrs = append(perrs, objErr{describe("private key", o), err})
					continue
				}
				privs = append(privs, k)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, objErr{"private keys", err})
		}
		errs = append(errs, perrs...)
	}
	entries, lerrs := ts.link(certs, pubs, privs)
	// Tokens list objects in no particular order (SoftHSM's changes from
	// one C_Initialize to the next): sort, for an order that holds.
	slices.SortStableFunc(entries, func(a, b *Entry) int {
		if a.IsX509() != b.IsX509() {
			if a.IsX509() {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.label, b.label), bytes.Compare(a.id, b.id))
	})
	return entries, append(errs, lerrs...)
}

// readCert reads and parses the certificate of object o.
func readCert(s *session.Session, o session.Object) (*x509.Certificate, error) {
	res, err := s.Attributes(o.Handle, ck.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, fmt.Errorf("reading CKA_VALUE: %w", res[0].Err)
	}
	return parseCertificate(res[0].Value)
}

// parseCertificate parses a DER certificate, tolerating zero bytes
// after it: some tokens store certificates in fixed-size records and
// return the padding with them.
func parseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	if trimmed, ok := trimZeroPadding(der); ok {
		if c, err2 := x509.ParseCertificate(trimmed); err2 == nil {
			return c, nil
		}
	}
	return nil, err
}

// trimZeroPadding returns the first DER element of b when only zero
// bytes follow it.
func trimZeroPadding(b []byte) ([]byte, bool) {
	_, _, rest, err := derElement(b)
	if err != nil || len(rest) == 0 {
		return nil, false
	}
	for _, c := range rest {
		if c != 0 {
			return nil, false
		}
	}
	return b[:len(b)-len(rest)], true
}

// readKey reads the public key of key object o. A key type this package
// does not handle gives a keyObj without a public key and no error; so
// does a private key whose public part the token does not show. A
// public key object whose key cannot be read or decoded is an error.
func readKey(s *session.Session, o session.Object) (*keyObj, error) {
	k := &keyObj{obj: o}
	var types []ck.AttributeType
	switch o.KeyType {
	case ck.CKK_RSA:
		types = []ck.AttributeType{ck.CKA_MODULUS, ck.CKA_PUBLIC_EXPONENT}
	case ck.CKK_EC, ck.CKK_EC_EDWARDS:
		types = []ck.AttributeType{ck.CKA_EC_PARAMS, ck.CKA_EC_POINT}
		if o.Class == ck.CKO_PRIVATE_KEY {
			types = append(types, ck.CKA_PUBLIC_KEY_INFO)
		}
	default:
		return k, nil
	}
	res, err := s.Attributes(o.Handle, types...)
	if err != nil {
		return nil, err
	}
	vals := make(map[ck.AttributeType][]byte, len(res))
	var missing []error
	for _, r := range res {
		if r.Err == nil && len(r.Value) > 0 {
			vals[r.Type] = r.Value
		} else if r.Err != nil {
			missing = append(missing, fmt.Errorf("%v: %w", r.Type, r.Err))
		}
	}

	switch o.KeyType {
	case ck.CKK_RSA:
		if vals[ck.CKA_MODULUS] != nil && vals[ck.CKA_PUBLIC_EXPONENT] != nil {
			pub, err := decodeRSA(vals[ck.CKA_MODULUS], vals[ck.CKA_PUBLIC_EXPONENT])
			if err != nil {
				return nil, err
			}
			k.pub = pub
		}
	default:
		if vals[ck.CKA_EC_PARAMS] != nil && vals[ck.CKA_EC_POINT] != nil {
			pub, err := decodeEC(vals[ck.CKA_EC_PARAMS], vals[ck.CKA_EC_POINT])
			if err != nil {
				return nil, err
			}
			k.pub = pub
		} else if info := vals[ck.CKA_PUBLIC_KEY_INFO]; info != nil {
			if pub, err := parseSPKI(info); err == nil {
				k.pub = pub
			}
		}
	}
	if k.pub == nil && o.Class == ck.CKO_PUBLIC_KEY {
		if len(missing) > 0 {
			return nil, fmt.Errorf("reading the public key: %w", errors.Join(missing...))
		}
		return nil, errors.New("the public key attributes are empty")
	}
	k.fp = keyFingerprint(k.pub)
	return k, nil
}

// matchKey returns the key of keys that belongs with a certificate or
// key with CKA_ID id, public key fingerprint fp ("" when unknown) and
// key type kt (kt 0 and ktOK false when unknown). A key with the same
// public key wins, one with the same ID too first; else the key of the
// same ID and type whose public key the token does not show, if it is
// the only one. Several such keys are ambiguous: nil is returned with
// them, for the caller to report, since guessing could sign with the
// wrong key.
func matchKey(keys []*keyObj, id []byte, fp string, kt ck.KeyType, ktOK bool) (*keyObj, []*keyObj) {
	var byValue *keyObj
	var unknown []*keyObj
	for _, k := range keys {
		if ktOK && k.obj.KeyType != kt {
			continue
		}
		sameID := len(id) > 0 && bytes.Equal(k.obj.ID, id)
		switch {
		case fp != "" && k.fp == fp && sameID:
			return k, nil
		case fp != "" && k.fp == fp:
			if byValue == nil {
				byValue = k
			}
		case sameID && (fp == "" || k.fp == ""):
			unknown = append(unknown, k)
		}
	}
	switch {
	case byValue != nil:
		return byValue, nil
	case len(unknown) == 1:
		return unknown[0], nil
	}
	return nil, unknown
}

// errAmbiguousKey is the error of an entry whose private key cannot be
// told among several with its CKA_ID.
func errAmbiguousKey(n int, id []byte) error {
	return fmt.Errorf("%d private keys have CKA_ID %x and the token does not show which one goes with it: none is used", n, id)
}

// link makes the entries of a token from its objects: one per
// certificate, with its keys; one per public key without a certificate,
// with a synthetic certificate; one per private key with neither whose
// public key can be read from it.
func (ts *tokenState) link(certs []certObj, pubs, privs []*keyObj) ([]*Entry, []objErr) {
	var (
		entries []*Entry
		errs    []objErr
	)
	use := func(ks ...*keyObj) {
		for _, k := range ks {
			if k != nil {
				k.used = true
			}
		}
	}
	for _, c := range certs {
		fp := keyFingerprint(c.cert.PublicKey)
		kt, ktOK := ckKeyType(c.cert.PublicKey)
		pub, _ := matchKey(pubs, c.obj.ID, fp, kt, ktOK)
		priv, amb := matchKey(privs, c.obj.ID, fp, kt, ktOK)
		if priv == nil && amb == nil && pub != nil && !bytes.Equal(pub.obj.ID, c.obj.ID) {
			priv, amb = matchKey(privs, pub.obj.ID, fp, kt, ktOK)
		}
		use(pub, priv)
		if amb != nil {
			use(amb...)
			errs = append(errs, objErr{describe("certificate", c.obj), errAmbiguousKey(len(amb), amb[0].obj.ID)})
		}
		obj := c.obj
		entries = append(entries, newEntry(ts, c.cert, false, &obj, pub, priv))
	}
	for _, p := range pubs {
		if p.used {
			continue
		}
		priv, amb := matchKey(privs, p.obj.ID, p.fp, p.obj.KeyType, true)
		use(priv)
		if amb != nil {
			use(amb...)
			errs = append(errs, objErr{describe("public key", p.obj), errAmbiguousKey(len(amb), p.obj.ID)})
		}
		cert, err := synthesize(p.pub, p.obj.Label, p.obj.ID)
		if err != nil {
			errs = append(errs, objErr{describe("public key", p.obj), err})
			continue
		}
		entries = append(entries, newEntry(ts, cert, true, nil, p, priv))
	}
	for _, k := range privs {
		if k.used {
			continue
		}
		if k.pub == nil {
			switch k.obj.KeyType {
			case ck.CKK_RSA, ck.CKK_EC, ck.CKK_EC_EDWARDS:
			default:
				continue // a key type this package does not handle
			}
			errs = append(errs, objErr{describe("private key", k.obj),
				errors.New("no certificate or public key object goes with it, and the token does not show its public key: skipped")})
			continue
		}
		cert, err := synthesize(k.pub, k.obj.Label, k.obj.ID)
		if err != nil {
			errs = append(errs, objErr{describe("private key", k.obj), err})
			continue
		}
		entries = append(entries, newEntry(ts, cert, true, nil, nil, k))
	}
	return entries, errs
}

// findPrivate finds the private key of a key with CKA_ID id and public
// key pub on a logged-in session of pool, as matchKey chooses: by ID
// and public key, or by public key alone. It returns nil when there is
// none, and an error when several keys with the ID could be it.
func (ts *tokenState) findPrivate(ctx context.Context, pool *session.Pool, id []byte, pub crypto.PublicKey) (*keyObj, error) {
	fp := keyFingerprint(pub)
	kt, ktOK := ckKeyType(pub)
	tmpl := privTemplate
	if ktOK {
		tmpl = append(tmpl[:len(tmpl):len(tmpl)], ck.MustAttribute(ck.CKA_KEY_TYPE, kt))
	}
	read := func(s *session.Session, t []ck.Attribute) ([]*keyObj, error) {
		objs, err := s.Find(t)
		if err != nil {
			return nil, err
		}
		var keys []*keyObj
		for _, o := range objs {
			k, err := readKey(s, o)
			if err != nil {
				if session.IsSessionLost(err) {
					return nil, err
				}
				continue
			}
			keys = append(keys, k)
		}
		return keys, nil
	}
	var found *keyObj
	var amb []*keyObj
	err := pool.Retry(ctx, func(s *session.Session) error {
		found, amb = nil, nil
		if len(id) > 0 {
			keys, err := read(s, append(tmpl[:len(tmpl):len(tmpl)], ck.Attribute{Type: ck.CKA_ID, Value: id}))
			if err != nil {
				return err
			}
			if found, amb = matchKey(keys, id, fp, kt, ktOK); found != nil || amb != nil {
				return nil
			}
		}
		if fp == "" {
			return nil
		}
		keys, err := read(s, tmpl)
		if err != nil {
			return err
		}
		found, _ = matchKey(keys, nil, fp, kt, ktOK)
		return nil
	})
	if err == nil && amb != nil {
		err = errAmbiguousKey(len(amb), id)
	}
	return found, err
}

// hexID prints a CKA_ID.
func hexID(id []byte) string { return hex.EncodeToString(id) }
