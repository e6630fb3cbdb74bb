//go:build darwin || freebsd || linux || netbsd

package cbuild

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ebitengine/purego"
)

// BuildAndLoad builds the C file src, as [Build] with extraFlags, into a
// new temporary directory, loads the library with dlopen and sets each
// *syms[name] to the address of the symbol name. It returns the
// library's path, for pkcs11.Open. The handle is never closed: the
// symbols stay valid after the tests close every Module on the library,
// and a thread still returning from one of its functions finds its code.
func BuildAndLoad(src string, syms map[string]*uintptr, extraFlags ...string) (string, error) {
	dir, err := os.MkdirTemp("", "cbuild-")
	if err != nil {
		return "", err
	}
	base := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	out := filepath.Join(dir, base+".so")
	if err := Build(src, out, extraFlags...); err != nil {
		return "", err
	}
	h, err := purego.Dlopen(out, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return "", err
	}
	for name, p := range syms {
		if *p, err = purego.Dlsym(h, name); err != nil {
			return "", fmt.Errorf("cbuild: %s: %w", out, err)
		}
	}
	return out, nil
}
