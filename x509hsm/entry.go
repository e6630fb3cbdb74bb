package x509hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// Entry is a certificate on a token with the key that goes with it: a
// real X.509 certificate object, or a synthetic certificate standing in
// for a key that has none (see [IsSynthetic]). It is safe for concurrent
// use.
//
// The entry's private key is used through [Entry.Signer],
// [Entry.Decrypter], [Entry.ECDH], [Entry.Sign] and
// [Entry.TLSCertificate]; it never leaves the token. On a token that
// needs a login, private keys are invisible until it is logged in: give
// its PIN to the store ([WithPIN]) or to the entry ([Entry.SetPIN]).
type Entry struct {
	tok    *tokenState
	id     []byte
	label  string
	pubObj *session.Object // the public key object, if any

	state  atomic.Pointer[certState]
	priv   atomic.Pointer[session.Object]
	closed atomic.Bool

	// mu guards pin and alg, and serializes linking the private key.
	mu  sync.Mutex
	pin *sealedPIN
	alg string
}

// certState is an entry's certificate, replaced as a whole by
// StoreCertificate.
type certState struct {
	cert      *x509.Certificate
	synthetic bool
	obj       *session.Object // the certificate object; nil if synthetic
}

// newEntry makes the entry of a certificate (or synthetic certificate)
// and the key objects that go with it.
func newEntry(ts *tokenState, cert *x509.Certificate, synthetic bool, certObj *session.Object, pub, priv *keyObj) *Entry {
	e := &Entry{tok: ts}
	for _, o := range []*session.Object{certObj, objOf(pub), objOf(priv)} {
		if o == nil {
			continue
		}
		if len(e.id) == 0 {
			e.id = o.ID
		}
		if e.label == "" {
			e.label = o.Label
		}
	}
	if pub != nil {
		o := pub.obj
		e.pubObj = &o
	}
	if priv != nil {
		o := priv.obj
		e.priv.Store(&o)
	}
	e.state.Store(&certState{cert: cert, synthetic: synthetic, obj: certObj})
	e.alg, _ = defaultAlgorithm(cert.PublicKey)
	return e
}

func objOf(k *keyObj) *session.Object {
	if k == nil {
		return nil
	}
	return &k.obj
}

// Certificate returns the entry's certificate: the one on the token, or
// a synthetic one when [Entry.IsX509] is false.
func (e *Entry) Certificate() *x509.Certificate { return e.state.Load().cert }

// IsX509 reports whether the entry's certificate is a certificate
// object of the token, rather than a synthetic certificate this package
// made for a key without one.
func (e *Entry) IsX509() bool { return !e.state.Load().synthetic }

// Public returns the entry's public key: *rsa.PublicKey,
// *ecdsa.PublicKey, ed25519.PublicKey or *ECPublicKey.
func (e *Entry) Public() crypto.PublicKey { return e.Certificate().PublicKey }

// SlotID returns the ID of the slot of the entry's token, as of
// discovery.
func (e *Entry) SlotID() ck.SlotID { return e.tok.slot.ID }

// Token returns the entry's token, with its CK_TOKEN_INFO as of
// discovery. Do not change it.
func (e *Entry) Token() *token.Token { return e.tok.tok }

// TokenLabel returns the label of the entry's token.
func (e *Entry) TokenLabel() string { return e.tok.tok.Info.Label }

// TokenInfo returns the CK_TOKEN_INFO of the entry's token, as of
// discovery.
func (e *Entry) TokenInfo() ck.TokenInfo { return e.tok.tok.Info }

// SlotInfo returns the CK_SLOT_INFO of the entry's slot, as of
// discovery.
func (e *Entry) SlotInfo() ck.SlotInfo { return e.tok.slot.Info }

// ID returns the entry's CKA_ID in lower-case hexadecimal: that of its
// certificate object, else of its public or private key.
func (e *Entry) ID() string { return hexID(e.id) }

// Label returns the entry's CKA_LABEL: that of its certificate object,
// else of its public or private key.
func (e *Entry) Label() string { return e.label }

// StorageID returns "<slot ID>-<hex CKA_ID>", a short name of the entry
// for configuration files and logs. Slot IDs can change when tokens
// come and go; [Entry.URI] is the stable name.
func (e *Entry) StorageID() string { return fmt.Sprintf("%d-%s", e.tok.slot.ID, e.ID()) }

// URI returns a PKCS#11 URI (RFC 7512) naming the entry's token and
// its objects by label and ID, without a PIN.
func (e *Entry) URI() *token.URI {
	u := e.tok.tok.URI()
	u.Object = e.label
	if len(e.id) > 0 {
		u.ID = bytes.Clone(e.id)
	}
	return u
}

// HasPrivateKey reports whether the entry's private key has been found
// on its token. Before a login it is false; the key is looked for at
// SetPIN and at the first use.
func (e *Entry) HasPrivateKey() bool { return e.priv.Load() != nil }

// errorf returns an error of an operation of the entry. An error among
// args that already starts with this package's prefix (one of its
// sentinels, say) loses it in the message, so that the prefix is not
// said twice; errors.Is and errors.As still see it.
func (e *Entry) errorf(format string, args ...any) error {
	for i, a := range args {
		if err, ok := a.(error); ok && strings.HasPrefix(err.Error(), errPrefix) {
			args[i] = unprefixed{err}
		}
	}
	return fmt.Errorf(errPrefix+"%s: "+format, append([]any{e.name()}, args...)...)
}

const errPrefix = "x509hsm: "

// unprefixed is an error of this package printed without its prefix,
// inside another one that has it.
type unprefixed struct{ err error }

func (u unprefixed) Error() string { return strings.TrimPrefix(u.err.Error(), errPrefix) }
func (u unprefixed) Unwrap() error { return u.err }

// name names the entry for messages.
func (e *Entry) name() string {
	switch {
	case e.label != "":
		return fmt.Sprintf("%q on token %q", e.label, e.tok.label())
	case len(e.id) > 0:
		return fmt.Sprintf("CKA_ID %x on token %q", e.id, e.tok.label())
	}
	return fmt.Sprintf("%q on token %q", e.Certificate().Subject.CommonName, e.tok.label())
}

// privateKey returns the entry's private key and the pool to use it
// on, finding the key on the token if that was not done yet.
func (e *Entry) privateKey(ctx context.Context) (session.Object, *session.Pool, error) {
	if e.closed.Load() {
		return session.Object{}, nil, e.errorf("%w", ErrClosed)
	}
	pool := e.tok.privPool()
	if pool == nil {
		return session.Object{}, nil, e.errorf("%w: the token is not logged in (SetPIN)", ErrNoPIN)
	}
	if o := e.priv.Load(); o != nil {
		return *o, pool, nil
	}
	o, err := e.link(ctx, pool)
	return o, pool, err
}

// link finds the entry's private key on the token: by the entry's
// CKA_ID or public key, and else, as discovery does, by the CKA_ID of
// its public key object when that differs (a certificate linked to its
// public key object by value, whose private key the token does not show
// the public key of).
func (e *Entry) link(ctx context.Context, pool *session.Pool) (session.Object, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if o := e.priv.Load(); o != nil {
		return *o, nil
	}
	k, err := e.tok.findPrivate(ctx, pool, e.id, e.Public())
	if err == nil && k == nil && e.pubObj != nil && len(e.pubObj.ID) > 0 && !bytes.Equal(e.pubObj.ID, e.id) {
		k, err = e.tok.findPrivate(ctx, pool, e.pubObj.ID, e.Public())
	}
	if err != nil {
		return session.Object{}, e.errorf("finding the private key: %w", err)
	}
	if k == nil {
		return session.Object{}, e.errorf("%w on the token", ErrNoPrivateKey)
	}
	o := k.obj
	e.priv.Store(&o)
	return o, nil
}

// SetPIN logs the entry's token in with pin, the user PIN, and keeps it
// for logging in again later (after the token logged out, a session was
// lost or the token was reinserted), then looks for the entry's private
// key. The caller keeps pin and may clear it.
//
// The PIN is checked at once: with one C_Login when the token is not
// logged in, never repeated after a refusal (the error then matches
// ck.CKR_PIN_INCORRECT, or the token's other PIN errors, and the store
// will not try that PIN again); when the token is logged in already,
// by comparing it with the PIN the store logged in with, a mismatch
// matching ck.CKR_PIN_INCORRECT too.
//
// The entry keeps the PIN encrypted in memory (AES-GCM under a random
// key of its own, in a separate allocation), decrypts it only for the
// moment of a login and wipes it on Close. Login state belongs to the
// token: while the entry keeps its PIN, it serves the other entries of
// the token too.
//
// BUG(x509hsm): when other code in the process logged the token in,
// SetPIN cannot check the PIN (the token answers
// CKR_USER_ALREADY_LOGGED_IN to any PIN); a wrong one is then found at
// the next login.
func (e *Entry) SetPIN(pin []byte) error {
	if e.closed.Load() {
		return e.errorf("SetPIN: %w", ErrClosed)
	}
	sealed, err := sealPIN(pin)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := e.tok.login(ctx, pin, sealed); err != nil {
		sealed.wipe()
		return e.errorf("SetPIN: %w", err)
	}
	e.mu.Lock()
	old := e.pin
	e.pin = sealed
	closed := e.closed.Load()
	e.mu.Unlock()
	if old != nil {
		e.tok.removePIN(old)
		old.wipe()
	}
	if closed {
		e.tok.removePIN(sealed)
		sealed.wipe()
		return e.errorf("SetPIN: %w", ErrClosed)
	}
	if pool := e.tok.privPool(); pool != nil && e.priv.Load() == nil {
		if _, err := e.link(ctx, pool); err != nil && !errors.Is(err, ErrNoPrivateKey) {
			return err
		}
	}
	return nil
}

// Close wipes the PIN the entry keeps and makes its private-key
// operations fail with ErrClosed. It does not log the token out, and
// [Store.Find] no longer returns the entry. Closing twice is a no-op.
func (e *Entry) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.mu.Lock()
	p := e.pin
	e.pin = nil
	e.mu.Unlock()
	if p != nil {
		e.tok.removePIN(p)
		p.wipe()
	}
	return nil
}

// Format describes the entry for people, for every verb (%v, %+v, %#v,
// %s, ...): token, slot, label, CKA_ID and subject. It never prints the
// PIN or key material.
func (e *Entry) Format(f fmt.State, _ rune) {
	st := e.state.Load()
	kind := "certificate"
	if st.synthetic {
		kind = "synthetic certificate"
	}
	fmt.Fprintf(f, "x509hsm.Entry{token %q, slot %d, label %q, id %s, %s %q, key %s",
		e.tok.label(), e.tok.slot.ID, e.label, e.ID(), kind, st.cert.Subject.String(), describeKey(st.cert.PublicKey))
	if e.HasPrivateKey() {
		fmt.Fprint(f, " with private key")
	}
	if e.closed.Load() {
		fmt.Fprint(f, ", closed")
	}
	fmt.Fprint(f, "}")
}
