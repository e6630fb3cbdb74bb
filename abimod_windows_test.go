//go:build windows

package pkcs11_test

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// On Windows the tests run under Wine against a DLL that mingw built
// beforehand (see testdata/abimod/README.md); P11TEST_ABIMOD names it.
const (
	abimodExt   = ".dll"
	abimodNeeds = "the abimod DLL named by P11TEST_ABIMOD"
)

// errAbimodMissing is the error of abimodBinary that Require turns into a
// skip on a developer's machine.
var errAbimodMissing = errors.New("P11TEST_ABIMOD is not set")

// abimodBinary returns the DLL named by P11TEST_ABIMOD; dir is not used.
func abimodBinary(dir string) (string, error) {
	p := os.Getenv("P11TEST_ABIMOD")
	if p == "" {
		return "", errAbimodMissing
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("P11TEST_ABIMOD: %w", err)
	}
	return p, nil
}

// openHooks returns a handle of the DLL at path. pkcs11.Open has loaded
// it already, so LoadLibrary returns the same module, with the same global
// state, and only counts one more reference.
func openHooks(path string) (uintptr, error) {
	h, err := windows.LoadLibrary(path)
	return uintptr(h), err
}

func hookSym(h uintptr, name string) (uintptr, error) {
	return windows.GetProcAddress(windows.Handle(h), name)
}

func closeHooks(h uintptr) error { return windows.FreeLibrary(windows.Handle(h)) }

// ulongResult reads an unsigned long returned in a register: 32 bits on
// Windows, whose upper half of RAX on win64 is not defined.
func ulongResult(r uintptr) uint64 { return uint64(uint32(r)) }
