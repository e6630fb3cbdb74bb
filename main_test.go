package pkcs11_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
)

// The SoftHSM set-up shared by the tests of this package: SoftHSM reads
// its configuration once per process, at C_Initialize, so TestMain makes
// it before any test loads the module.
var (
	hsm      *p11test.SoftHSM
	hsmErr   error
	tokAlpha = "alpha"
	tokBeta  = "beta"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pkcs11-test-")
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

// softhsm opens the SoftHSM module for one test and closes it at the end.
// It skips the test if SoftHSM is missing on a developer's machine and
// fails it in CI.
func softhsm(t testing.TB, opts ...pkcs11.Option) *pkcs11.Module {
	t.Helper()
	p11test.Require(t, "SoftHSM2", hsmErr)
	m, err := pkcs11.Open(hsm.Lib, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", hsm.Lib, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// token returns the p11test.Token labelled label and its current slot.
func token(t testing.TB, m *pkcs11.Module, label string) (p11test.Token, ck.SlotID) {
	t.Helper()
	var tok p11test.Token
	for _, tk := range hsm.Tokens {
		if tk.Label == label {
			tok = tk
		}
	}
	if tok.Label == "" {
		t.Fatalf("no test token %q", label)
	}
	slots, err := m.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Label == label {
			return tok, s
		}
	}
	t.Fatalf("token %q not found in slots %v", label, slots)
	return tok, 0
}

// userSession opens a read-write session on the token labelled label,
// logs the user in, and closes the session at the end of the test.
func userSession(t testing.TB, m *pkcs11.Module, label string) ck.SessionHandle {
	t.Helper()
	tok, slot := token(t, m, label)
	s, err := m.OpenSession(slot, ck.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.CloseSession(s) })
	if err := m.Login(s, ck.CKU_USER, tok.PIN); err != nil && !isRV(err, ck.CKR_USER_ALREADY_LOGGED_IN) {
		t.Fatalf("Login: %v", err)
	}
	return s
}

func isRV(err error, rv ck.RV) bool {
	var e *pkcs11.Error
	if ok := asError(err, &e); ok {
		return e.RV == rv
	}
	return false
}
