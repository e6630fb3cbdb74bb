//go:build darwin || freebsd || linux || netbsd

package abi

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ebitengine/purego"

	"github.com/purepkcs11/pkcs11/internal/cbuild"
)

// abimodSource is the C module that reports the compiler's layouts.
var abimodSource = filepath.Join("..", "..", "testdata", "abimod", "abimod.c")

// loadAbimod builds testdata/abimod into t.TempDir and opens it; each
// test gets its own copy, with its own state. A missing C compiler skips
// the test, unless the CI environment variable is set.
func loadAbimod(t *testing.T) uintptr {
	t.Helper()
	out := filepath.Join(t.TempDir(), "abimod.so")
	if err := cbuild.Build(abimodSource, out); err != nil {
		if errors.Is(err, cbuild.ErrNoCompiler) && os.Getenv("CI") == "" {
			t.Skipf("%v (set CI to make this an error)", err)
		}
		t.Fatal(err)
	}
	h, err := purego.Dlopen(out, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := purego.Dlclose(h); err != nil {
			t.Error(err)
		}
	})
	return h
}

// sym returns the address of a symbol of abimod.
func sym(t *testing.T, h uintptr, name string) uintptr {
	t.Helper()
	fn, err := purego.Dlsym(h, name)
	if err != nil {
		t.Fatalf("dlsym %s: %v", name, err)
	}
	return fn
}
