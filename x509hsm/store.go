package x509hsm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// Errors that operations return, wrapped with what failed.
var (
	// ErrNoPIN is matched by the errors of operations that need the
	// token logged in when no PIN is known for it: give one with
	// Entry.SetPIN or WithPIN. A store uses private keys only with a
	// PIN it knows, also when other code has logged the token in, so
	// that it can log in again when the token logs out.
	ErrNoPIN = errors.New("x509hsm: no PIN known for the token")
	// ErrNoPrivateKey is matched when the entry has no private key on
	// its token.
	ErrNoPrivateKey = errors.New("x509hsm: no private key")
	// ErrClosed is matched by the errors of a closed entry or store.
	ErrClosed = errors.New("x509hsm: closed")
)

// Store is the certificates and keys of the tokens of one module, found
// by a discovery that [Open] starts in the background. It is safe for
// concurrent use.
type Store struct {
	m      *pkcs11.Module
	cfg    config
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.RWMutex
	snap    *token.Snapshot
	tokens  []*tokenState
	entries []*Entry
	errs    []error
	closed  bool
}

// Option configures [Open].
type Option func(*config)

type config struct {
	tokens   [][]token.Selector
	pins     []pinRule
	pinFunc  func(*token.Token) ([]byte, error)
	poolSize int
}

type pinRule struct {
	sel token.Selector
	pin *sealedPIN
	err error
}

// WithTokens limits discovery to the tokens that every selector selects
// (token.Label, token.Serial, token.MatchURI, ...). Given several times,
// a token is discovered when it is selected by any of the calls.
// Without it every initialized token with a token present is.
func WithTokens(sel ...token.Selector) Option {
	sel = slices.Clone(sel)
	return func(c *config) { c.tokens = append(c.tokens, sel) }
}

// WithPIN gives the user PIN of the tokens sel selects, such as
// token.Label("x"), token.Serial("y") or token.MatchURI(u). Discovery
// logs them in, so that their private keys are linked at once. The PIN
// is sealed (encrypted in memory) at once; the caller may clear pin.
// The first WithPIN that selects a token wins, then WithPINFunc.
func WithPIN(sel token.Selector, pin []byte) Option {
	sealed, err := sealPIN(pin)
	return func(c *config) {
		r := pinRule{sel: sel, err: err}
		if err == nil {
			// Each store gets its own copy, which its Close wipes.
			r.pin, r.err = sealed.clone()
		}
		c.pins = append(c.pins, r)
	}
}

// WithPINFunc makes discovery ask f for the PIN of each token that needs
// a login and that no WithPIN selects. f returns nil and no error for a
// token whose PIN it does not know: that token is discovered without
// logging in. The store clears the slice f returns. f runs on the
// discovery's goroutines, one per token, and may prompt a person;
// Store.Close waits for a call of f that is under way to return.
func WithPINFunc(f func(t *token.Token) ([]byte, error)) Option {
	return func(c *config) { c.pinFunc = f }
}

// WithPoolSize bounds the sessions each token's private-key pool opens
// (session.WithSize); the default is the session package's, 16. The
// pool of public objects opens at most 4.
func WithPoolSize(n int) Option { return func(c *config) { c.poolSize = n } }

// Open starts discovering the tokens of m in the background and
// returns at once. Each token's entries appear in the store as soon as
// that token is done; [Store.Wait] and [Store.Done] tell when all are.
// ctx bounds the discovery only. Close the store when done with it; m
// stays open and is the caller's to close, after the store.
func Open(ctx context.Context, m *pkcs11.Module, opts ...Option) (*Store, error) {
	if m == nil {
		return nil, errors.New("x509hsm: nil module")
	}
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	for _, r := range c.pins {
		if r.err != nil {
			c.wipe()
			return nil, r.err
		}
	}
	if c.poolSize < 0 {
		c.wipe()
		return nil, fmt.Errorf("x509hsm: pool size %d", c.poolSize)
	}
	dctx, cancel := context.WithCancel(ctx)
	s := &Store{m: m, cfg: c, cancel: cancel, done: make(chan struct{})}
	go s.discover(dctx)
	return s, nil
}

func (c *config) wipe() {
	for _, r := range c.pins {
		r.pin.wipe()
	}
	c.pins = nil
}

// poolOptions returns the options of a pool on ts.
func (s *Store) poolOptions(ts *tokenState, extra ...session.Option) []session.Option {
	var opts []session.Option
	if s.cfg.poolSize > 0 {
		opts = append(opts, session.WithSize(s.cfg.poolSize))
	}
	if !ts.tok.WriteProtected() {
		opts = append(opts, session.ReadWrite())
	}
	return append(opts, extra...)
}

// Done returns a channel that is closed when discovery has ended.
func (s *Store) Done() <-chan struct{} { return s.done }

// Wait waits until discovery has ended, or ctx has. It returns ctx's
// error if ctx ended first, else [Store.Err]: the store then holds
// everything discovery could read, also when Wait reports failures.
func (s *Store) Wait(ctx context.Context) error {
	select {
	case <-s.done:
		return s.Err()
	default:
	}
	select {
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
		return fmt.Errorf("x509hsm: waiting for discovery: %w", ctx.Err())
	}
}

// Err returns what discovery failed to read so far, each failure a
// [*DiscoveryError] (or the error of listing the module's tokens),
// joined with errors.Join; nil when nothing failed. A token or object
// that failed is skipped; the rest are in the store.
func (s *Store) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return errors.Join(s.errs...)
}

// DiscoveryError is one failure of discovery: a token that could not be
// read or logged in, or an object that was skipped.
type DiscoveryError struct {
	Slot  ck.SlotID
	Token string // the token's label
	// Object names the object that was skipped, such as
	// `certificate "web" (CKA_ID 01ab)`; empty when the failure concerns
	// the token.
	Object string
	Err    error
}

func (e *DiscoveryError) Error() string {
	s := fmt.Sprintf("x509hsm: token %q (slot %d)", e.Token, e.Slot)
	if e.Object != "" {
		s += ": " + e.Object
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *DiscoveryError) Unwrap() error { return e.Err }

func (s *Store) addErr(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// discover is the background discovery.
func (s *Store) discover(ctx context.Context) {
	defer close(s.done)
	snap, err := token.Discover(s.m)
	if err != nil {
		s.addErr(fmt.Errorf("x509hsm: %w", err))
		return
	}
	s.mu.Lock()
	s.snap = snap
	for i := range snap.Slots {
		if e := snap.Slots[i].Err; e != nil {
			s.errs = append(s.errs, &DiscoveryError{Slot: snap.Slots[i].ID, Err: e})
		}
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for i := range snap.Slots {
		sl := &snap.Slots[i]
		if sl.Token == nil || !sl.Token.Initialized() || !s.selected(snap, sl.Token) {
			continue
		}
		wg.Go(func() { s.discoverToken(ctx, i, sl) })
	}
	wg.Wait()
}

// selected reports whether WithTokens lets t be discovered.
func (s *Store) selected(snap *token.Snapshot, t *token.Token) bool {
	if len(s.cfg.tokens) == 0 {
		return true
	}
	for _, sel := range s.cfg.tokens {
		if slices.Contains(snap.Find(sel...), t) {
			return true
		}
	}
	return false
}

// discoverToken reads one token: opens its pools, logs in where a PIN
// is known, reads its objects and adds its entries.
func (s *Store) discoverToken(ctx context.Context, index int, sl *token.Slot) {
	ts := &tokenState{store: s, index: index, slot: *sl, tok: sl.Token}
	fail := func(object string, err error) {
		s.addErr(&DiscoveryError{Slot: sl.ID, Token: ts.label(), Object: object, Err: err})
	}
	opts := []session.Option{session.WithSize(4)}
	if !ts.tok.WriteProtected() {
		opts = append(opts, session.ReadWrite())
	}
	pub, err := session.NewPool(ctx, s.m, sl.ID, opts...)
	if err != nil {
		fail("", err)
		return
	}
	ts.pub = pub
	if !s.register(ts) {
		ts.close()
		return
	}

	if err := s.tokenLogin(ctx, ts); err != nil {
		fail("", fmt.Errorf("login: %w", err))
	}
	entries, errs := ts.scan(ctx)
	for _, e := range errs {
		fail(e.object, e.err)
	}
	s.add(entries...)
}

// register adds ts to the store, unless the store is closed.
func (s *Store) register(ts *tokenState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.tokens = append(s.tokens, ts)
	return true
}

// tokenLogin logs ts in with the PIN the options give for it, if any.
func (s *Store) tokenLogin(ctx context.Context, ts *tokenState) error {
	if !ts.tok.LoginRequired() {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.ensurePrivLocked(ctx)
	}
	var sealed *sealedPIN
	for _, r := range s.cfg.pins {
		if slices.Contains(s.snap.Find(r.sel), ts.tok) {
			var err error
			if sealed, err = r.pin.clone(); err != nil {
				return err
			}
			break
		}
	}
	if sealed == nil && s.cfg.pinFunc != nil {
		pin, err := s.cfg.pinFunc(ts.tok)
		if err != nil {
			return fmt.Errorf("PIN function: %w", err)
		}
		if pin == nil {
			return nil
		}
		sealed, err = sealPIN(pin)
		clear(pin)
		if err != nil {
			return err
		}
	}
	if sealed == nil {
		return nil
	}
	pin, err := sealed.open()
	if err != nil {
		return err
	}
	defer clear(pin)
	ts.pinMu.Lock()
	ts.ownPIN = sealed
	ts.pinMu.Unlock()
	if err := ts.login(ctx, pin, sealed); err != nil {
		ts.pinMu.Lock()
		ts.ownPIN = nil
		ts.pinMu.Unlock()
		sealed.wipe()
		return err
	}
	return nil
}

// add adds entries to the store, in the order of their tokens.
func (s *Store) add(entries ...*Entry) {
	if len(entries) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		for _, e := range entries {
			e.Close()
		}
		return
	}
	s.entries = append(s.entries, entries...)
	slices.SortStableFunc(s.entries, func(a, b *Entry) int { return a.tok.index - b.tok.index })
}

// remove takes e out of the store.
func (s *Store) remove(e *Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = slices.DeleteFunc(s.entries, func(x *Entry) bool { return x == e })
}

// Entries returns every entry found so far. They come in slot order;
// within a token, discovery's entries with an X.509 certificate come
// first, then those with a synthetic one, each group sorted by label
// and CKA_ID, and then the entries added by Import and Generate. Call
// [Store.Wait] first for all of them.
func (s *Store) Entries() []*Entry { return s.Find() }

// Tokens returns the tokens discovered so far, in slot order: the
// tokens whose objects the store holds.
func (s *Store) Tokens() []*token.Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts := slices.Clone(s.tokens)
	slices.SortFunc(ts, func(a, b *tokenState) int { return a.index - b.index })
	out := make([]*token.Token, len(ts))
	for i, t := range ts {
		out[i] = t.tok
	}
	return out
}

// snapshot returns the discovery's snapshot, or nil before it is made.
func (s *Store) snapshot() *token.Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snap
}

// moduleInfo returns the module's CK_INFO as discovery read it.
func (s *Store) moduleInfo() ck.Info {
	if snap := s.snapshot(); snap != nil {
		return snap.Info
	}
	return ck.Info{}
}

// Module returns the module the store reads.
func (s *Store) Module() *pkcs11.Module { return s.m }

// tokenFor returns the one token sel selects among those discovered,
// waiting for discovery to end first.
func (s *Store) tokenFor(ctx context.Context, sel token.Selector) (*tokenState, error) {
	select {
	case <-s.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("x509hsm: waiting for discovery: %w", ctx.Err())
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.snap == nil {
		return nil, fmt.Errorf("x509hsm: no token: %w", errors.Join(s.errs...))
	}
	t, err := s.snap.Token(sel)
	if err != nil {
		return nil, fmt.Errorf("x509hsm: %w", err)
	}
	for _, ts := range s.tokens {
		if ts.tok == t {
			return ts, nil
		}
	}
	return nil, fmt.Errorf("x509hsm: token %q was not discovered (see Store.Err)", t.Info.Label)
}

// Close ends discovery, closes every entry (wiping the PINs they hold),
// wipes the PINs of the options and closes the store's sessions. It
// does not log the tokens out (other code may share the login) nor
// close the module.
func (s *Store) Close() error {
	s.cancel()
	<-s.done
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	entries, tokens := s.entries, s.tokens
	s.entries, s.tokens = nil, nil
	s.mu.Unlock()

	for _, e := range entries {
		e.Close()
	}
	for _, ts := range tokens {
		ts.close()
	}
	s.cfg.wipe()
	return nil
}

// Format prints the store's module and entry count, for every verb.
func (s *Store) Format(f fmt.State, _ rune) {
	s.mu.RLock()
	n := len(s.entries)
	s.mu.RUnlock()
	fmt.Fprintf(f, "x509hsm.Store{%s, %d entries}", s.m.Path(), n)
}

var _ fmt.Formatter = (*Store)(nil)
