package x509hsm

import (
	"fmt"
	"os"
	"testing"

	"github.com/purepkcs11/pkcs11/internal/p11test"
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
)

var (
	testHSM    *p11test.SoftHSM
	testHSMErr error
)

// SoftHSMForTest returns the SoftHSM of the tests, or why there is none.
func SoftHSMForTest() (*p11test.SoftHSM, error) { return testHSM, testHSMErr }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "x509hsm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testHSM, testHSMErr = p11test.NewSoftHSM(dir, TokDiscA, TokDiscB, TokWork, TokPIN, TokBench)
	if testHSMErr == nil {
		testHSMErr = testHSM.Setenv()
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
