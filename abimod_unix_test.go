//go:build darwin || freebsd || linux || netbsd

package pkcs11_test

import (
	"path/filepath"

	"github.com/ebitengine/purego"

	"github.com/purepkcs11/pkcs11/internal/cbuild"
)

// On Unix the tests compile abimod themselves; what they need is a C
// compiler.
const (
	abimodExt   = ".so"
	abimodNeeds = "a C compiler"
)

// errAbimodMissing is the error of abimodBinary that Require turns into a
// skip on a developer's machine.
var errAbimodMissing = cbuild.ErrNoCompiler

// abimodBinary builds testdata/abimod/abimod.c into dir and returns the
// library's path.
func abimodBinary(dir string) (string, error) {
	out := filepath.Join(dir, "abimod"+abimodExt)
	src := filepath.Join("testdata", "abimod", "abimod.c")
	if err := cbuild.Build(src, out); err != nil {
		return "", err
	}
	return out, nil
}

// openHooks returns a handle of the library at path. pkcs11.Open has
// loaded it already, so dlopen returns the same instance, with the same
// global state, and only counts one more reference.
func openHooks(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
}

func hookSym(h uintptr, name string) (uintptr, error) { return purego.Dlsym(h, name) }

func closeHooks(h uintptr) error { return purego.Dlclose(h) }

// ulongResult reads an unsigned long returned in a register: as wide as a
// pointer on the Unix systems purego supports.
func ulongResult(r uintptr) uint64 { return uint64(r) }
