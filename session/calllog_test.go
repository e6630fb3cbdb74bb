package session_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
)

// callLog records the C functions a Module calls, through the root
// package's tracing logger, so that a test can tell which calls an
// operation made, or that it made none.
type callLog struct {
	mu    sync.Mutex
	funcs []string
}

func (l *callLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *callLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *callLog) WithGroup(string) slog.Handler            { return l }

func (l *callLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "func" {
			l.mu.Lock()
			l.funcs = append(l.funcs, a.Value.String())
			l.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

// reset forgets the calls recorded so far.
func (l *callLog) reset() {
	l.mu.Lock()
	l.funcs = nil
	l.mu.Unlock()
}

// calls returns the calls recorded since the last reset.
func (l *callLog) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.funcs...)
}

// count returns how often fn was called since the last reset.
func (l *callLog) count(fn string) int {
	n := 0
	for _, f := range l.calls() {
		if f == fn {
			n++
		}
	}
	return n
}

// tracedSoftHSM opens SoftHSM with a logger that records every call. It
// shares the instance the other tests load.
func tracedSoftHSM(t testing.TB) (*pkcs11.Module, *callLog) {
	t.Helper()
	softhsm(t) // skips or fails as every SoftHSM test does
	l := &callLog{}
	m, err := pkcs11.Open(hsm.Lib, pkcs11.WithLogger(slog.New(l)))
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m, l
}
