package token

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// EventKind says what happened to a slot.
type EventKind int

// The kinds of [Event].
const (
	// Inserted: a token appeared, in a new slot or in one that had none,
	// or a different token (another serial number) took a slot's place.
	Inserted EventKind = iota + 1
	// Removed: a token went away, or its slot did.
	Removed
	// Changed: the token in a slot is the same but its information
	// changed (label, flags such as the PIN state), it was initialized,
	// or the module reported an event for the slot that discovery cannot
	// tell apart, such as a card pulled and put back between two looks.
	Changed
	// Failure: discovery failed; Err says why. The watcher goes on unless
	// the module was finalized.
	Failure
)

var kindNames = [...]string{"", "inserted", "removed", "changed", "failure"}

// String returns "inserted", "removed", "changed" or "failure".
func (k EventKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is a change that [Watch] saw in a module's slots.
type Event struct {
	Kind   EventKind
	SlotID ck.SlotID
	// Token is the token as it is now (Inserted, Changed) or as it was
	// last seen (Removed); nil for Failure.
	Token *Token
	// Previous is the token as it was before a Changed event.
	Previous *Token
	// Snapshot is the discovery made after the event; events seen in the
	// same look share it. Nil for a Failure of discovery.
	Snapshot *Snapshot
	// Err is what failed, for Failure.
	Err error
}

// WatchOption configures [Watch]. Every discovery [Option] is one too.
type WatchOption interface {
	applyWatch(*watchConfig)
}

type watchConfig struct {
	discover discoverConfig
	interval time.Duration
	blocking bool
	initial  bool
}

type watchFunc func(*watchConfig)

func (f watchFunc) applyWatch(c *watchConfig) { f(c) }

func (o Option) applyWatch(c *watchConfig) {
	if o.apply != nil {
		o.apply(&c.discover)
	}
}

// DefaultPollInterval is how often Watch looks at the slots when not told
// otherwise.
const DefaultPollInterval = time.Second

// PollInterval sets how often Watch looks at the module's slots: it asks
// C_WaitForSlotEvent without blocking and discovers the slots again. The
// default is DefaultPollInterval; d must be positive.
func PollInterval(d time.Duration) WatchOption {
	return watchFunc(func(c *watchConfig) {
		if d > 0 {
			c.interval = d
		}
	})
}

// BlockingWait makes Watch wait for slot events in a blocking
// C_WaitForSlotEvent on a goroutine of its own, and discover the slots
// again at each event, instead of polling.
//
// A blocking C_WaitForSlotEvent cannot be interrupted, except by
// C_Finalize (closing the last Module of the file): when ctx ends, Watch
// closes its channel at once, but the waiting goroutine, and the OS thread
// it holds, stay until the module reports one more event or is finalized.
// Closing the last Module of the file finalizes the module and then
// unloads it, possibly while that thread is still returning from the
// module's code. Where either matters, poll (the default). A module that does not support
// blocking waits (CKR_FUNCTION_NOT_SUPPORTED, or any error but
// CKR_CRYPTOKI_NOT_INITIALIZED) is polled instead.
func BlockingWait() WatchOption {
	return watchFunc(func(c *watchConfig) { c.blocking = true })
}

// InitialEvents makes Watch start with an Inserted event for every token
// present when it starts, so that a consumer sees every token through the
// channel alone.
func InitialEvents() WatchOption {
	return watchFunc(func(c *watchConfig) { c.initial = true })
}

// Watch reports tokens inserted, removed and changed in module m's slots
// until ctx ends; then it closes the channel and its goroutines end (but
// see BlockingWait).
//
// By default it polls at PollInterval: each time it drains the events the
// module reports through C_WaitForSlotEvent with CKF_DONT_BLOCK, then
// discovers the slots again ([Discover], with the discovery options given)
// and compares with the previous look. Comparing is what finds changes in
// modules that have no slot events (C_WaitForSlotEvent answers
// CKR_FUNCTION_NOT_SUPPORTED, as NSS, opencryptoki, tpm2-pkcs11 and
// p11-kit's trust module do) or never report one (SoftHSM answers
// CKR_NO_EVENT); an event the module reported for a slot where nothing
// differs is reported as Changed.
//
// Slots are compared by slot ID. A token with another serial number,
// manufacturer or model than the one seen before in its slot is reported
// as Removed, then Inserted. A token that was not initialized before and
// is now is the same token, reported as Changed: C_InitToken gives a
// token its serial number. On SoftHSM, initializing the token of the free
// slot (C_InitToken) thus gives Changed for that slot, and Inserted for
// the new free slot SoftHSM adds; the token keeps its slot ID until the
// module is initialized again, when SoftHSM derives the slot ID from the
// serial number. A slot whose token cannot be read (Slot.Err) for another
// reason than its absence keeps its last known token and gives no event.
// Events are about tokens: a card that was never readable (a card the
// module does not recognize, say) gives none, and its error is only in
// the Slot.Err of later snapshots.
//
// Watch makes the first discovery before it returns, and returns its
// error. Events are sent in the order found; a slow reader delays the
// next look, and no event is lost.
func Watch(ctx context.Context, m *pkcs11.Module, opts ...WatchOption) (<-chan Event, error) {
	c := watchConfig{interval: DefaultPollInterval}
	for _, o := range opts {
		if o != nil {
			o.applyWatch(&c)
		}
	}
	snap, err := discover(m, &c.discover)
	if err != nil {
		return nil, err
	}
	w := &watcher{m: m, c: c, prev: snap, out: make(chan Event, 16)}
	go w.run(ctx)
	return w.out, nil
}

type watcher struct {
	m        *pkcs11.Module
	c        watchConfig
	prev     *Snapshot // the last look, private to the watcher
	out      chan Event
	noEvents bool   // C_WaitForSlotEvent is not supported
	lastErr  string // the last Failure sent, not to repeat it
}

// slotEvent is one answer of a blocking C_WaitForSlotEvent.
type slotEvent struct {
	id  ck.SlotID
	err error
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.out)
	if w.c.initial {
		snap := w.prev.Clone()
		for i := range snap.Slots {
			sl := &snap.Slots[i]
			if sl.Token != nil && !w.send(ctx, Event{Kind: Inserted, SlotID: sl.ID, Token: sl.Token, Snapshot: snap}) {
				return
			}
		}
	}

	var events chan slotEvent
	var tick <-chan time.Time
	var ticker *time.Ticker
	startPolling := func() {
		ticker = time.NewTicker(w.c.interval)
		tick = ticker.C
	}
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	if w.c.blocking {
		events = make(chan slotEvent)
		go w.wait(ctx.Done(), events)
	} else {
		startPolling()
	}

	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if !w.look(ctx, w.drain()) {
				return
			}
		case ev := <-events:
			switch {
			case ev.err == nil:
				if !w.look(ctx, append([]ck.SlotID{ev.id}, w.drain()...)) {
					return
				}
			case errors.Is(ev.err, ck.CKR_CRYPTOKI_NOT_INITIALIZED):
				w.send(ctx, Event{Kind: Failure, Err: ev.err})
				return
			default:
				// No blocking waits here: poll instead.
				events = nil
				startPolling()
			}
		}
	}
}

// wait calls the blocking C_WaitForSlotEvent until it fails or done is
// closed, and hands each answer to events.
func (w *watcher) wait(done <-chan struct{}, events chan<- slotEvent) {
	for {
		id, err := w.m.WaitForSlotEvent(0)
		select {
		case events <- slotEvent{id, err}:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// drain returns the slots of the events the module has pending, asking
// C_WaitForSlotEvent with CKF_DONT_BLOCK until it has none.
func (w *watcher) drain() []ck.SlotID {
	if w.noEvents {
		return nil
	}
	var ids []ck.SlotID
	for range 64 {
		id, err := w.m.WaitForSlotEvent(ck.CKF_DONT_BLOCK)
		if err != nil {
			if errors.Is(err, ck.CKR_FUNCTION_NOT_SUPPORTED) {
				w.noEvents = true
			}
			break
		}
		ids = append(ids, id)
	}
	return ids
}

// send delivers ev unless ctx ends first; it reports whether it did.
func (w *watcher) send(ctx context.Context, ev Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// look discovers the slots again and sends the differences with the
// previous look, and a Changed event for each slot in reported that shows
// none. It reports false when the watcher must stop.
func (w *watcher) look(ctx context.Context, reported []ck.SlotID) bool {
	cur, err := discover(w.m, &w.c.discover)
	if err != nil {
		if msg := err.Error(); msg != w.lastErr {
			w.lastErr = msg
			if !w.send(ctx, Event{Kind: Failure, Err: err}) {
				return false
			}
		}
		return !errors.Is(err, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	}
	w.lastErr = ""

	events := diff(w.prev, cur, reported)
	w.prev = cur
	if len(events) == 0 {
		return true
	}
	snap := cur.Clone()
	for _, ev := range events {
		if ev.Kind != Removed {
			ev.Token = tokenIn(snap, ev.SlotID)
		}
		ev.Snapshot = snap
		if !w.send(ctx, ev) {
			return false
		}
	}
	return true
}

func tokenIn(s *Snapshot, id ck.SlotID) *Token {
	for i := range s.Slots {
		if s.Slots[i].ID == id {
			return s.Slots[i].Token
		}
	}
	return nil
}

// gone reports whether err says the token or its slot is not there.
func gone(err error) bool {
	return errors.Is(err, ck.CKR_TOKEN_NOT_PRESENT) || errors.Is(err, ck.CKR_DEVICE_REMOVED) ||
		errors.Is(err, ck.CKR_SLOT_ID_INVALID) || errors.Is(err, ck.CKR_TOKEN_NOT_RECOGNIZED)
}

// diff compares two looks at a module, slot by slot: Removed events in
// the order of old, then Inserted and Changed in the order of cur. It
// gives a slot of cur whose token could not be read for another reason
// than its absence the token old had there. The Token of a Removed event
// is a copy of old's.
func diff(old, cur *Snapshot, reported []ck.SlotID) []Event {
	before := make(map[ck.SlotID]*Token, len(old.Slots))
	for i := range old.Slots {
		if t := old.Slots[i].Token; t != nil {
			before[old.Slots[i].ID] = t
		}
	}
	for i := range cur.Slots {
		sl := &cur.Slots[i]
		if t := before[sl.ID]; sl.Token == nil && sl.Err != nil && t != nil && !gone(sl.Err) {
			sl.Token = t
		}
	}
	now := make(map[ck.SlotID]*Token, len(cur.Slots))
	for i := range cur.Slots {
		if t := cur.Slots[i].Token; t != nil {
			now[cur.Slots[i].ID] = t
		}
	}

	var events []Event
	removed := func(id ck.SlotID, t *Token) {
		tc := *t
		events = append(events, Event{Kind: Removed, SlotID: id, Token: &tc})
	}
	for i := range old.Slots {
		id := old.Slots[i].ID
		if t, ok := before[id]; ok {
			if n, ok := now[id]; !ok || !sameToken(t, n) {
				removed(id, t)
			}
		}
	}
	for i := range cur.Slots {
		id := cur.Slots[i].ID
		n, ok := now[id]
		if !ok {
			continue
		}
		t, had := before[id]
		switch {
		case !had || !sameToken(t, n):
			events = append(events, Event{Kind: Inserted, SlotID: id})
		case !sameInfo(t, n) || contains(reported, id):
			tc := *t
			events = append(events, Event{Kind: Changed, SlotID: id, Previous: &tc})
		}
	}
	return events
}

func contains(ids []ck.SlotID, id ck.SlotID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// sameToken reports whether a and b, seen in the same slot, are the same
// token: same manufacturer, model and serial number, or a was not
// initialized yet.
func sameToken(a, b *Token) bool {
	return a.Info.ManufacturerID == b.Info.ManufacturerID && a.Info.Model == b.Info.Model &&
		(a.Info.SerialNumber == b.Info.SerialNumber || !a.Initialized())
}

// sameInfo reports whether the token information that matters to users
// is unchanged: identity, label and flags (session counts and free memory
// change all the time).
func sameInfo(a, b *Token) bool {
	return a.Info.SerialNumber == b.Info.SerialNumber && a.Info.Label == b.Info.Label &&
		a.Info.Flags == b.Info.Flags
}
