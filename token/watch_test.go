package token_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/token"
)

// tick is the poll interval of the watch tests.
const tick = 5 * time.Millisecond

// next returns the next event, failing the test after a few seconds.
func next(t *testing.T, ch <-chan token.Event) token.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "channel closed")
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return token.Event{}
	}
}

// quiet checks that no event comes for a while.
func quiet(t *testing.T, ch <-chan token.Event) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected %v event for slot %d: %v", ev.Kind, ev.SlotID, ev.Token)
	case <-time.After(20 * tick):
	}
}

// closed waits for ch to be closed, draining it.
func closed(t *testing.T, ch <-chan token.Event) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed")
		}
	}
}

// noWatchers waits until no goroutine of the package's watcher is left.
func noWatchers(t *testing.T) {
	t.Helper()
	var stacks string
	for range 200 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "pkcs11/token.(*watcher)") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("watcher goroutines left:\n%s", stacks)
}

var labels atomic.Int32

// freeSlot returns SoftHSM's token that is not initialized yet.
func freeSlot(t *testing.T, m *pkcs11.Module) *token.Token {
	t.Helper()
	s, err := token.Discover(m)
	require.NoError(t, err)
	free, err := s.Token(token.Initialized(false))
	require.NoError(t, err)
	return free
}

// TestWatchInitToken initializes SoftHSM's free token while watching:
// the token in that slot changes (it keeps its slot ID while the module
// stays initialized), and SoftHSM adds a new free slot.
func TestWatchInitToken(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("blocking=%v", blocking), func(t *testing.T) {
			m := softhsm(t)
			opts := []token.WatchOption{token.PollInterval(tick), token.WithMechanisms()}
			if blocking {
				// SoftHSM answers CKR_FUNCTION_NOT_SUPPORTED: polled.
				opts = append(opts, token.BlockingWait())
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events, err := token.Watch(ctx, m, opts...)
			require.NoError(t, err)
			quiet(t, events)

			free := freeSlot(t, m)
			label := fmt.Sprintf("watch-%d", labels.Add(1))
			require.NoError(t, m.InitToken(free.SlotID, []byte("12345678"), label))

			ev := next(t, events)
			assert.Equal(t, token.Changed, ev.Kind)
			assert.Equal(t, free.SlotID, ev.SlotID)
			assert.Equal(t, label, ev.Token.Info.Label)
			assert.True(t, ev.Token.Initialized())
			assert.NotEmpty(t, ev.Token.Info.SerialNumber)
			assert.NotEmpty(t, ev.Token.Mechanisms)
			assert.False(t, ev.Previous.Initialized())
			assert.Empty(t, ev.Previous.Info.SerialNumber)
			got, err := ev.Snapshot.Token(token.Label(label))
			require.NoError(t, err)
			assert.Same(t, ev.Token, got)

			ev2 := next(t, events)
			assert.Equal(t, token.Inserted, ev2.Kind)
			assert.NotEqual(t, free.SlotID, ev2.SlotID)
			assert.False(t, ev2.Token.Initialized())
			// Usually one look sees both, but a look that raced with
			// C_InitToken sees the new slot only the next time.
			_, err = ev2.Snapshot.Token(token.Label(label))
			assert.NoError(t, err)
			quiet(t, events)

			cancel()
			closed(t, events)
			noWatchers(t)
		})
	}
}

func TestWatchStops(t *testing.T) {
	m := softhsm(t)

	// A context that ends before anything happens.
	ctx, cancel := context.WithCancel(context.Background())
	events, err := token.Watch(ctx, m, token.PollInterval(time.Hour))
	require.NoError(t, err)
	cancel()
	closed(t, events)

	// A reader that stops reading: the watcher stops anyway.
	ctx, cancel = context.WithCancel(context.Background())
	events, err = token.Watch(ctx, m, token.InitialEvents(), token.PollInterval(tick))
	require.NoError(t, err)
	ev := next(t, events)
	assert.Equal(t, token.Inserted, ev.Kind)
	cancel()
	closed(t, events)
	noWatchers(t)

	// A deadline.
	ctx, cancel = context.WithTimeout(context.Background(), 10*tick)
	defer cancel()
	events, err = token.Watch(ctx, m, token.PollInterval(tick))
	require.NoError(t, err)
	closed(t, events)
	noWatchers(t)
}

// TestWatchInitialEvents lists the tokens present at the start.
func TestWatchInitialEvents(t *testing.T) {
	m := softhsm(t)
	s, err := token.Discover(m)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := token.Watch(ctx, m, token.InitialEvents(), token.PollInterval(tick))
	require.NoError(t, err)
	var labels []string
	for range s.Slots {
		ev := next(t, events)
		assert.Equal(t, token.Inserted, ev.Kind)
		assert.Nil(t, ev.Previous)
		labels = append(labels, ev.Token.Info.Label)
	}
	assert.Contains(t, labels, tokAlpha)
	assert.Contains(t, labels, tokBeta)
	quiet(t, events)
	cancel()
	closed(t, events)
	noWatchers(t)
}

// TestWatchFinalized: a module finalized under the watcher gives one
// Failure event, and the watcher stops.
func TestWatchFinalized(t *testing.T) {
	m := softhsm(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := token.Watch(ctx, m, token.PollInterval(tick))
	require.NoError(t, err)
	require.NoError(t, m.Finalize())
	defer func() { require.NoError(t, m.Initialize()) }()
	ev := next(t, events)
	assert.Equal(t, token.Failure, ev.Kind)
	assert.ErrorIs(t, ev.Err, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	assert.Nil(t, ev.Snapshot)
	closed(t, events)
	noWatchers(t)

	_, err = token.Watch(ctx, m)
	assert.ErrorIs(t, err, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	assert.EqualError(t, err, "token: pkcs11: C_GetInfo: CKR_CRYPTOKI_NOT_INITIALIZED")
}

// TestWatchTrust watches p11-kit's trust module, which has no slot
// events (CKR_FUNCTION_NOT_SUPPORTED): polling sees nothing change.
func TestWatchTrust(t *testing.T) {
	m := trust(t)
	_, err := m.WaitForSlotEvent(ck.CKF_DONT_BLOCK)
	require.ErrorIs(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	ctx, cancel := context.WithCancel(context.Background())
	events, err := token.Watch(ctx, m, token.PollInterval(tick), token.BlockingWait())
	require.NoError(t, err)
	quiet(t, events)
	cancel()
	closed(t, events)
	noWatchers(t)
}

func TestEventKindString(t *testing.T) {
	assert.Equal(t, "inserted", token.Inserted.String())
	assert.Equal(t, "removed", token.Removed.String())
	assert.Equal(t, "changed", token.Changed.String())
	assert.Equal(t, "failure", token.Failure.String())
	assert.Equal(t, "EventKind(9)", token.EventKind(9).String())
	assert.Equal(t, "EventKind(0)", token.EventKind(0).String())
}
