package session_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
)

// SoftHSM reads its configuration once per process, at C_Initialize, so
// TestMain makes it, with two tokens, before any test loads the module.
var (
	hsm    *p11test.SoftHSM
	hsmErr error
)

const (
	tokAlpha = "alpha"
	tokBeta  = "beta"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "session-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hsm, hsmErr = p11test.NewSoftHSM(dir, tokAlpha, tokBeta)
	if hsmErr == nil {
		hsmErr = hsm.Setenv()
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// softhsm opens the SoftHSM module for one test.
func softhsm(t testing.TB) *pkcs11.Module {
	t.Helper()
	p11test.Require(t, "SoftHSM2", hsmErr)
	m, err := pkcs11.Open(hsm.Lib)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// slotOf returns the slot of the token labelled label and its PINs.
func slotOf(t testing.TB, m *pkcs11.Module, label string) (ck.SlotID, p11test.Token) {
	t.Helper()
	var tok p11test.Token
	for _, tk := range hsm.Tokens {
		if tk.Label == label {
			tok = tk
		}
	}
	slots, err := m.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if ti, err := m.GetTokenInfo(s); err == nil && ti.Label == label {
			return s, tok
		}
	}
	t.Fatalf("no token %q", label)
	return 0, tok
}

var ctx = context.Background()
