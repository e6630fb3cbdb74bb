package x509hsm

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/purepkcs11/pkcs11/token"
)

// Selector picks entries for [Store.Find] and [Store.FindOne]. Build
// selectors with the By functions, [OnToken], [HasPrivateKey], [Where]
// and [Limit]; an entry is found when every selector given selects it.
//
//	e, err := store.FindOne(x509hsm.BySubjectCN("www.example.com"), x509hsm.HasPrivateKey())
type Selector struct {
	desc    string
	match   func(*Entry) bool
	limit   int // for Limit
	isLimit bool
}

// BySerial selects the entries whose certificate has serial number n.
func BySerial(n *big.Int) Selector {
	return Selector{desc: fmt.Sprintf("serial %v", n), match: func(e *Entry) bool {
		return n != nil && e.Certificate().SerialNumber.Cmp(n) == 0
	}}
}

// BySubject selects the entries whose certificate's subject is dn, in
// the form of pkix.Name.String, such as "CN=www.example.com,O=Example".
func BySubject(dn string) Selector {
	return Selector{desc: fmt.Sprintf("subject %q", dn), match: func(e *Entry) bool {
		return e.Certificate().Subject.String() == dn
	}}
}

// BySubjectCN selects the entries whose certificate's subject has common
// name cn.
func BySubjectCN(cn string) Selector {
	return Selector{desc: fmt.Sprintf("subject CN %q", cn), match: func(e *Entry) bool {
		return e.Certificate().Subject.CommonName == cn
	}}
}

// BySubjectOrg selects the entries whose certificate's subject has
// organization o among its O attributes.
func BySubjectOrg(o string) Selector {
	return Selector{desc: fmt.Sprintf("subject O %q", o), match: func(e *Entry) bool {
		return slices.Contains(e.Certificate().Subject.Organization, o)
	}}
}

// ByIssuer selects the entries whose certificate's issuer is dn, in the
// form of pkix.Name.String.
func ByIssuer(dn string) Selector {
	return Selector{desc: fmt.Sprintf("issuer %q", dn), match: func(e *Entry) bool {
		return e.Certificate().Issuer.String() == dn
	}}
}

// BySubjectKeyID selects the entries whose certificate has subject key
// identifier id. Synthetic certificates have one (the SHA-1 of the
// public key, RFC 5280 method 1).
func BySubjectKeyID(id []byte) Selector {
	id = bytes.Clone(id)
	return Selector{desc: fmt.Sprintf("subject key ID %x", id), match: func(e *Entry) bool {
		return len(id) > 0 && bytes.Equal(e.Certificate().SubjectKeyId, id)
	}}
}

// ByAuthorityKeyID selects the entries whose certificate has authority
// key identifier id: the certificates issued by the key with that
// subject key identifier.
func ByAuthorityKeyID(id []byte) Selector {
	id = bytes.Clone(id)
	return Selector{desc: fmt.Sprintf("authority key ID %x", id), match: func(e *Entry) bool {
		return len(id) > 0 && bytes.Equal(e.Certificate().AuthorityKeyId, id)
	}}
}

// BySHA1Fingerprint selects the entries whose certificate's DER has
// SHA-1 hash fp.
func BySHA1Fingerprint(fp []byte) Selector {
	fp = bytes.Clone(fp)
	return Selector{desc: fmt.Sprintf("SHA-1 fingerprint %x", fp), match: func(e *Entry) bool {
		h := sha1.Sum(e.Certificate().Raw)
		return bytes.Equal(h[:], fp)
	}}
}

// BySHA256Fingerprint selects the entries whose certificate's DER has
// SHA-256 hash fp.
func BySHA256Fingerprint(fp []byte) Selector {
	fp = bytes.Clone(fp)
	return Selector{desc: fmt.Sprintf("SHA-256 fingerprint %x", fp), match: func(e *Entry) bool {
		h := sha256.Sum256(e.Certificate().Raw)
		return bytes.Equal(h[:], fp)
	}}
}

// ByKeyUsage selects the entries whose certificate's key usage has every
// bit of u, such as x509.KeyUsageDigitalSignature. Synthetic
// certificates have no key usage.
func ByKeyUsage(u x509.KeyUsage) Selector {
	return Selector{desc: fmt.Sprintf("key usage %#x", u), match: func(e *Entry) bool {
		return e.Certificate().KeyUsage&u == u
	}}
}

// ByDER selects the entries whose certificate is der.
func ByDER(der []byte) Selector {
	der = bytes.Clone(der)
	return Selector{desc: "a given DER certificate", match: func(e *Entry) bool {
		return bytes.Equal(e.Certificate().Raw, der)
	}}
}

// ByLabel selects the entries with CKA_LABEL label.
func ByLabel(label string) Selector {
	return Selector{desc: fmt.Sprintf("label %q", label), match: func(e *Entry) bool {
		return e.label == label
	}}
}

// ByID selects the entries with the CKA_ID given in hexadecimal, in
// either case. An invalid hex string selects nothing.
func ByID(hexID string) Selector {
	id, err := hex.DecodeString(hexID)
	if err != nil {
		return Selector{desc: fmt.Sprintf("invalid hex CKA_ID %q", hexID), match: func(*Entry) bool { return false }}
	}
	return Selector{desc: fmt.Sprintf("CKA_ID %x", id), match: func(e *Entry) bool {
		return len(e.id) > 0 && bytes.Equal(e.id, id)
	}}
}

// ByURI selects the entries a PKCS#11 URI (token.ParseURI) names: of a
// module whose file its module-name and module-path query attributes
// match, on a token its module, slot and token attributes match, with the label
// of its object attribute and the CKA_ID of its id attribute. Its type
// attribute selects entries with a certificate object (cert), a
// private key (private) or a public key object (public). A URI
// without object attributes selects every entry of its tokens.
func ByURI(u *token.URI) Selector {
	return Selector{desc: fmt.Sprintf("URI %s", u), match: func(e *Entry) bool {
		ts := e.tok
		if !u.MatchesModulePath(ts.store.m.Path()) || !u.MatchesModule(ts.store.moduleInfo()) ||
			!u.MatchesSlot(ts.slot.ID, ts.slot.Info) || !u.MatchesToken(ts.tok.Info) {
			return false
		}
		if u.Has("object") && u.Object != e.label {
			return false
		}
		if u.ID != nil && !bytes.Equal(u.ID, e.id) {
			return false
		}
		switch u.Type {
		case token.TypeCert:
			return e.IsX509()
		case token.TypePrivate:
			return e.HasPrivateKey()
		case token.TypePublic:
			return e.pubObj != nil
		case "":
			return true
		}
		return false
	}}
}

// OnToken selects the entries on the tokens sel selects, such as
// token.Label("x") or token.Serial("y").
func OnToken(sel token.Selector) Selector {
	return Selector{desc: "on a selected token", match: func(e *Entry) bool {
		snap := e.tok.store.snapshot()
		return snap != nil && slices.Contains(snap.Find(sel), e.tok.tok)
	}}
}

// HasPrivateKey selects the entries whose private key has been found
// (see [Entry.HasPrivateKey]).
func HasPrivateKey() Selector {
	return Selector{desc: "a private key", match: (*Entry).HasPrivateKey}
}

// Where selects the entries for which f returns true; desc describes
// them in errors, as in "x509hsm: no entry with <desc>".
func Where(desc string, f func(*Entry) bool) Selector {
	return Selector{desc: desc, match: f}
}

// Limit makes Find return at most n entries, the first ones in store
// order. It selects every entry.
func Limit(n int) Selector {
	return Selector{desc: fmt.Sprintf("at most %d", n), limit: max(n, 0), isLimit: true}
}

// Find returns the entries found so far that every selector selects, in
// store order; with no selector, all of them. Call [Store.Wait] first
// to search everything discovery finds.
func (s *Store) Find(sel ...Selector) []*Entry {
	s.mu.RLock()
	entries := slices.Clone(s.entries)
	s.mu.RUnlock()
	limit := -1
	for _, x := range sel {
		if x.isLimit && (limit < 0 || x.limit < limit) {
			limit = x.limit
		}
	}
	var out []*Entry
	for _, e := range entries {
		if limit >= 0 && len(out) >= limit {
			break
		}
		if !e.closed.Load() && matches(e, sel) {
			out = append(out, e)
		}
	}
	return out
}

func matches(e *Entry, sel []Selector) bool {
	for _, x := range sel {
		if x.match != nil && !x.match(e) {
			return false
		}
	}
	return true
}

// ErrNotFound is matched by the error of [Store.FindOne] when no entry
// matches.
var ErrNotFound = errors.New("x509hsm: no matching entry")

// ErrAmbiguous is matched by the error of [Store.FindOne] when several
// entries match.
var ErrAmbiguous = errors.New("x509hsm: more than one entry matches")

// LookupError is the error of [Store.FindOne] when not exactly one
// entry matches. It matches ErrNotFound or ErrAmbiguous.
type LookupError struct {
	What  string // the selectors, as `subject CN "x" and a private key`
	Count int    // how many entries matched: 0, or more than 1
}

func (e *LookupError) Error() string {
	what := e.What
	if what == "" {
		what = "any selector"
	}
	if e.Count == 0 {
		return "x509hsm: no entry with " + what
	}
	return fmt.Sprintf("x509hsm: %d entries match %s", e.Count, what)
}

// Is reports whether target is ErrNotFound (no match) or ErrAmbiguous
// (several).
func (e *LookupError) Is(target error) bool {
	return target == ErrNotFound && e.Count == 0 || target == ErrAmbiguous && e.Count > 1
}

// FindOne returns the one entry every selector selects. When none or
// several do, the error is a [*LookupError] matching ErrNotFound or
// ErrAmbiguous. A Limit among the selectors is ignored.
func (s *Store) FindOne(sel ...Selector) (*Entry, error) {
	var descs []string
	var rest []Selector
	for _, x := range sel {
		if x.isLimit {
			continue
		}
		rest = append(rest, x)
		descs = append(descs, x.desc)
	}
	found := s.Find(append(rest, Limit(2))...)
	if len(found) == 1 {
		return found[0], nil
	}
	n := len(found)
	if n > 1 {
		n = len(s.Find(rest...))
	}
	return nil, &LookupError{What: strings.Join(descs, " and "), Count: n}
}
