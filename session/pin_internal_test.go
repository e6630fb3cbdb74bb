package session

import (
	"context"
	"errors"
	"testing"
)

// TestPINCopyWiped checks that a pool's copy of its PIN, once SetPIN or
// Close wiped it, gives an error to a login that asks for it late, never
// the zeroed bytes (which the token would count as a wrong PIN), and that
// copies handed out before are the caller's own.
func TestPINCopyWiped(t *testing.T) {
	var c config
	WithPIN([]byte("1234"))(&c)
	got, err := c.pin(context.Background())
	if err != nil || string(got) != "1234" {
		t.Fatalf("pin() = %q, %v", got, err)
	}
	c.pinCopy.wipe()
	if string(got) != "1234" {
		t.Errorf("wiping the pool's copy changed a copy handed out: %q", got)
	}
	if late, err := c.pin(context.Background()); !errors.Is(err, errPINWiped) || late != nil {
		t.Errorf("pin() after the wipe = %q, %v; want no PIN and errPINWiped", late, err)
	}
	c.pinCopy.wipe() // twice is fine
	var none *pinCopy
	none.wipe() // and so is a pool without WithPIN
}
