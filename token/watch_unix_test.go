//go:build darwin || freebsd || linux || netbsd

package token_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/token"
)

// expect reads one event and checks its kind, slot and token label.
func expect(t *testing.T, ch <-chan token.Event, kind token.EventKind, slot ck.SlotID, label string) token.Event {
	t.Helper()
	ev := next(t, ch)
	require.Equal(t, kind, ev.Kind, "slot %d %v", ev.SlotID, ev.Token)
	require.Equal(t, slot, ev.SlotID)
	require.NotNil(t, ev.Token)
	require.Equal(t, label, ev.Token.Info.Label)
	require.NotNil(t, ev.Snapshot)
	return ev
}

// TestWatchSlotmod polls a module whose tokens come and go, with and
// without slot events.
func TestWatchSlotmod(t *testing.T) {
	m, mod := openSlotmod(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := token.Watch(ctx, m, token.PollInterval(tick), token.InitialEvents())
	require.NoError(t, err)

	// The tokens present; the unreadable one in slot 3 gives nothing.
	expect(t, events, token.Inserted, 2, "card-2")
	expect(t, events, token.Inserted, 4, "card-4")
	quiet(t, events)

	// A card in the empty reader, with a slot event.
	mod.Insert(1, 7, true)
	ev := expect(t, events, token.Inserted, 1, "card-7")
	_, err = ev.Snapshot.Token(token.Label("card-7"))
	assert.NoError(t, err)

	// A card pulled, with a slot event: the event holds its last info.
	mod.Remove(2, true)
	ev = expect(t, events, token.Removed, 2, "card-2")
	assert.Equal(t, "S2", ev.Token.Info.SerialNumber)
	assert.Empty(t, ev.Snapshot.Find(token.Label("card-2")))

	// Another card in slot 4 between two looks, without an event: the
	// serial differs, so one was removed and another inserted.
	mod.Insert(4, 9, false)
	expect(t, events, token.Removed, 4, "card-4")
	expect(t, events, token.Inserted, 4, "card-9")

	// The PIN state changes.
	mod.SetFlags(1, uint64(ck.CKF_TOKEN_INITIALIZED|ck.CKF_USER_PIN_COUNT_LOW), false)
	ev = expect(t, events, token.Changed, 1, "card-7")
	assert.True(t, ev.Token.UserPIN().CountLow)
	assert.False(t, ev.Previous.UserPIN().CountLow)

	// An event for a slot where nothing differs: the card went and came
	// back between two looks.
	mod.Notify(1)
	ev = expect(t, events, token.Changed, 1, "card-7")
	assert.Equal(t, ev.Previous.Info, ev.Token.Info)

	// The unreadable token is replaced by a readable one.
	mod.Insert(3, 5, true)
	expect(t, events, token.Inserted, 3, "card-5")
	quiet(t, events)

	cancel()
	closed(t, events)
	noWatchers(t)
}

// TestWatchSlotmodBlocking waits for slot events in a blocking
// C_WaitForSlotEvent.
func TestWatchSlotmodBlocking(t *testing.T) {
	m, mod := openSlotmod(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := token.Watch(ctx, m, token.BlockingWait(), token.PollInterval(time.Hour))
	require.NoError(t, err)
	waitFor(t, func() bool { return mod.Waiters() == 1 })

	// Changes without an event are not seen: nothing polls.
	mod.Insert(1, 7, false)
	quiet(t, events)
	// The event brings them all.
	mod.Remove(2, true)
	expect(t, events, token.Removed, 2, "card-2")
	expect(t, events, token.Inserted, 1, "card-7")
	waitFor(t, func() bool { return mod.Waiters() == 1 })

	// The context ends: the channel closes at once, but the goroutine
	// stays blocked in the module until the next event.
	cancel()
	closed(t, events)
	assert.Equal(t, 1, mod.Waiters())
	mod.Notify(1)
	noWatchers(t)
	assert.Equal(t, 0, mod.Waiters())
}

// TestWatchSlotmodFinalize: C_Finalize ends a blocking wait, and the
// watcher reports it and stops.
func TestWatchSlotmodFinalize(t *testing.T) {
	_, mod := openSlotmod(t)
	m, err := pkcs11.Open(mod.path)
	require.NoError(t, err)
	events, err := token.Watch(context.Background(), m, token.BlockingWait())
	require.NoError(t, err)
	waitFor(t, func() bool { return mod.Waiters() == 1 })

	require.NoError(t, m.Finalize())
	ev := next(t, events)
	assert.Equal(t, token.Failure, ev.Kind)
	assert.ErrorIs(t, ev.Err, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	closed(t, events)
	noWatchers(t)
	assert.Equal(t, 0, mod.Waiters())
	require.NoError(t, m.Initialize())
	require.NoError(t, m.Close())
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not met")
}
