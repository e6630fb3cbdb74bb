// Package cbuild compiles the C sources of the test modules under
// testdata/ into shared libraries, for tests that load them with purego.
//
// [Build] uses the C compiler Go itself would use for cgo ([CC]) and
// builds with warnings as errors, so a module that compiles here compiles
// cleanly everywhere the tests run. A test that finds no compiler gets
// [ErrNoCompiler] and decides itself whether that is a skip or a failure.
package cbuild

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
)

// ErrNoCompiler is returned by [CC] and [Build] when no C compiler is
// installed.
var ErrNoCompiler = errors.New("cbuild: no C compiler found")

// CC returns the command that runs the C compiler: the output of
// "go env CC" (which honours the CC environment variable), else gcc, else
// cc, whichever is found first on PATH. The command may carry flags, as in
// "gcc -m32"; split it with [strings.Fields].
func CC() (string, error) {
	var candidates []string
	if out, err := exec.Command("go", "env", "CC").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	candidates = append(candidates, "gcc", "cc")
	for _, c := range candidates {
		f := strings.Fields(c)
		if len(f) == 0 {
			continue
		}
		if _, err := exec.LookPath(f[0]); err == nil {
			return c, nil
		}
	}
	return "", ErrNoCompiler
}

// archFlags returns the flags cgo passes for the architecture this
// program runs on, so that a 32-bit test binary gets a 32-bit library from
// a compiler that defaults to 64 bits.
func archFlags() []string {
	switch runtime.GOARCH {
	case "386":
		return []string{"-m32"}
	case "amd64":
		return []string{"-m64"}
	case "arm":
		return []string{"-marm"}
	}
	return nil
}

// Build compiles the C file src into the shared library out, for the
// architecture of the running program, with
//
//	-shared -fPIC -O1 -Wall -Werror
//
// followed by extraFlags. The error of a failed build holds the command
// line and the compiler's output. Build returns [ErrNoCompiler] if [CC]
// finds no compiler.
func Build(src, out string, extraFlags ...string) error {
	cc, err := CC()
	if err != nil {
		return err
	}
	argv := strings.Fields(cc)
	argv = append(argv, archFlags()...)
	argv = append(argv, "-shared", "-fPIC", "-O1", "-Wall", "-Werror")
	argv = append(argv, extraFlags...)
	argv = append(argv, "-o", out, src)

	cmd := exec.Command(argv[0], argv[1:]...)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cbuild: %s: %v\n%s", strings.Join(argv, " "), err, output)
	}
	return nil
}
