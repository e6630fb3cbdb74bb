package x509hsm

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// SoftHSM reads its configuration once per process, at C_Initialize, so
// TestMain makes it, with the tokens the tests use, before any test
// loads the module. Each token serves one group of tests, so that
// object counts and login states do not depend on the order tests run
// in.
const (
	TokDiscA = "disc-a" // discovery: a mix of objects
	TokDiscB = "disc-b" // discovery: a second token
	TokWork  = "work"   // signing, decryption, import, TLS
	TokPIN   = "pin"    // PIN handling: logged out until its test
	TokBench = "bench"  // benchmarks
	TokTwins = "twins"  // private keys that share a CKA_ID
	TokLink  = "link"   // private keys linked by public key value

	// The examples' tokens: TokWeb holds what they look for (see
	// setUpExamples), TokStaging what they import and generate.
	TokWeb     = "web"
	TokStaging = "staging"
)

// The environment variables the examples read, as a program using
// this package might: the module's path and the tokens' user PIN.
const (
	moduleEnv = "P11_MODULE"
	pinEnv    = "P11_PIN"
)

var (
	testHSM    *p11test.SoftHSM
	testHSMErr error
)

// SoftHSMForTest returns the SoftHSM of the tests, or why there is none.
func SoftHSMForTest() (*p11test.SoftHSM, error) { return testHSM, testHSMErr }

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "x509hsm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testHSM, testHSMErr = p11test.NewSoftHSM(dir, TokDiscA, TokDiscB, TokWork, TokPIN, TokBench, TokTwins,
		TokLink, TokWeb, TokStaging)
	if testHSMErr == nil {
		testHSMErr = testHSM.Setenv()
	}

	// The examples need SoftHSM, and cannot skip themselves as tests
	// do: without it they are left out of the run, and the run fails
	// where p11test.Require would fail a test (in CI), also when only
	// examples were asked for.
	failed := false
	if testHSMErr != nil {
		skip, fail := p11test.Verdict("SoftHSM2", testHSMErr)
		if fail != "" {
			fmt.Fprintln(os.Stderr, "x509hsm: examples not run:", fail)
			failed = true
		} else {
			fmt.Fprintln(os.Stderr, "x509hsm: examples not run:", skip)
		}
		skipExamples()
	} else if err := setUpExamples(testHSM.Lib); err != nil {
		fmt.Fprintln(os.Stderr, "x509hsm: setting up the examples' tokens:", err)
		failed = true
		skipExamples()
	}

	code := m.Run()
	os.RemoveAll(dir)
	if failed && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// skipExamples adds the examples to -test.skip.
func skipExamples() {
	skip := "^Example"
	if old := flag.Lookup("test.skip").Value.String(); old != "" {
		skip = old + "|" + skip
	}
	flag.Set("test.skip", skip)
}

// PINTokenPIN is the user PIN of token TokPIN, changed from the default
// to a value that cannot occur by chance, so that tests can look for it
// in memory.
var PINTokenPIN = []byte("x509hsm-PIN-4f7c1e9a2b")

var (
	pinOnce sync.Once
	pinErr  error
)

// SetUpPINToken gives token TokPIN the user PIN PINTokenPIN and a P-256
// key pair labelled "pin-key", once per process, and leaves the token
// logged out.
func SetUpPINToken(m *pkcs11.Module) error {
	pinOnce.Do(func() { pinErr = setUpPINToken(m) })
	return pinErr
}

func setUpPINToken(m *pkcs11.Module) error {
	snap, err := token.Discover(m)
	if err != nil {
		return err
	}
	tok, err := snap.Token(token.Label(TokPIN))
	if err != nil {
		return err
	}
	s, err := session.Open(m, tok.SlotID, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Login(ck.CKU_USER, []byte("1234")); err != nil {
		return err
	}
	if err := m.SetPIN(s.Handle(), []byte("1234"), PINTokenPIN); err != nil {
		return err
	}
	if _, _, err := s.GenerateEC("P-256", session.KeyLabel("pin-key")); err != nil {
		return err
	}
	return s.Logout()
}
