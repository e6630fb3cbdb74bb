//go:build windows

package abi

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// loadAbimod loads a copy of the abimod DLL named by P11TEST_ABIMOD,
// built beforehand with mingw for this architecture (.ci/abi does, see
// testdata/abimod/README.md). Each test loads its own copy from
// t.TempDir, so it gets its own state: Windows shares one instance per
// file. A missing P11TEST_ABIMOD skips the test, unless the CI
// environment variable is set.
func loadAbimod(t *testing.T) uintptr {
	t.Helper()
	src := os.Getenv("P11TEST_ABIMOD")
	if src == "" {
		if os.Getenv("CI") == "" {
			t.Skip("P11TEST_ABIMOD does not name the abimod DLL (set CI to make this an error)")
		}
		t.Fatal("P11TEST_ABIMOD does not name the abimod DLL, which CI builds")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("P11TEST_ABIMOD: %v", err)
	}
	dir, err := filepath.Abs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "abimod.dll")
	if err := os.WriteFile(out, b, 0o755); err != nil {
		t.Fatal(err)
	}

	// The same flags as the library's loader: an absolute path, and the
	// DLL's dependencies from its own and the system's directories only.
	h, err := windows.LoadLibraryEx(out, 0,
		windows.LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR|windows.LOAD_LIBRARY_SEARCH_DEFAULT_DIRS)
	if err != nil {
		t.Fatalf("LoadLibraryEx %s: %v", out, err)
	}
	// Registered after t.TempDir's removal, so it runs before it: a
	// loaded DLL cannot be deleted.
	t.Cleanup(func() {
		if err := windows.FreeLibrary(h); err != nil {
			t.Error(err)
		}
	})
	return uintptr(h)
}

// sym returns the address of a symbol of abimod.
func sym(t *testing.T, h uintptr, name string) uintptr {
	t.Helper()
	fn, err := windows.GetProcAddress(windows.Handle(h), name)
	if err != nil {
		t.Fatalf("GetProcAddress %s: %v", name, err)
	}
	return fn
}
