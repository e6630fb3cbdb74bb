// Package loader opens a PKCS#11 module's shared library and finds its
// entry points, without cgo.
//
// On Unix systems it calls dlopen with RTLD_NOW|RTLD_LOCAL through purego;
// on Windows it calls LoadLibraryEx with a restricted search path. [Open]
// tells apart the reasons a library cannot be used, each matching one of
// the sentinel errors below with errors.Is:
//
//   - [ErrNotExist]: no file at the path;
//   - [ErrNotLibrary]: the file is not a shared library;
//   - [ErrWrongArch]: a shared library built for another architecture;
//   - [ErrNotPKCS11]: a library that exports neither C_GetInterface nor
//     C_GetFunctionList.
//
// Pass an absolute path. A relative path is resolved against the current
// directory before loading, never through the system's library search,
// which on Windows would invite a planted DLL to be loaded instead.
package loader

import (
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Sentinel errors for the reasons a module cannot be loaded.
var (
	ErrNotExist   = fs.ErrNotExist
	ErrNotLibrary = errors.New("not a shared library")
	ErrWrongArch  = errors.New("shared library for another architecture")
	ErrNotPKCS11  = errors.New("not a PKCS#11 module: exports neither C_GetInterface nor C_GetFunctionList")
)

// Error is the error type of Open: it names the path, the reason (one of
// the sentinels, returned by Unwrap) and the system's own message.
type Error struct {
	Path   string
	Err    error
	Detail string // the dynamic loader's message, if any
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("loader: %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("loader: %s: %v (%s)", e.Path, e.Err, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Library is an open shared library. Its methods are safe for concurrent
// use; Close must not race with Lookup.
type Library struct {
	path   string
	handle uintptr
}

// Path returns the absolute path the library was opened from.
func (l *Library) Path() string { return l.path }

// Open loads the shared library at path and checks that it is a PKCS#11
// module: that it exports C_GetInterface or C_GetFunctionList.
func Open(path string) (*Library, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{Path: path, Err: ErrNotExist, Detail: err.Error()}
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, &Error{Path: abs, Err: ErrNotExist, Detail: err.Error()}
	}
	if st.IsDir() {
		return nil, &Error{Path: abs, Err: ErrNotLibrary, Detail: "is a directory"}
	}
	h, err := open(abs)
	if err != nil {
		return nil, &Error{Path: abs, Err: classify(abs), Detail: err.Error()}
	}
	l := &Library{path: abs, handle: h}
	if _, err := l.Lookup("C_GetInterface"); err != nil {
		if _, err := l.Lookup("C_GetFunctionList"); err != nil {
			l.Close()
			return nil, &Error{Path: abs, Err: ErrNotPKCS11}
		}
	}
	return l, nil
}

// Lookup returns the address of an exported symbol.
func (l *Library) Lookup(name string) (uintptr, error) {
	if l.handle == 0 {
		return 0, fmt.Errorf("loader: %s: library is closed", l.path)
	}
	p, err := lookup(l.handle, name)
	if err != nil {
		return 0, fmt.Errorf("loader: %s: symbol %s: %w", l.path, name, err)
	}
	if p == 0 {
		return 0, fmt.Errorf("loader: %s: symbol %s is NULL", l.path, name)
	}
	return p, nil
}

// Close unloads the library. Every address obtained from it becomes
// invalid. Closing twice is harmless.
func (l *Library) Close() error {
	if l.handle == 0 {
		return nil
	}
	h := l.handle
	l.handle = 0
	if err := closeLib(h); err != nil {
		return fmt.Errorf("loader: closing %s: %w", l.path, err)
	}
	return nil
}

// classify finds out why the system loader refused a file: not an
// executable format at all, or one for another machine.
func classify(path string) error {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
			return ErrWrongArch
		}
		if m, ok := elfMachines[runtime.GOARCH]; ok && (f.Machine != m || f.Class != elfClass()) {
			return ErrWrongArch
		}
		return ErrNotLibrary
	}
	if f, err := pe.Open(path); err == nil {
		defer f.Close()
		if runtime.GOOS != "windows" {
			return ErrWrongArch
		}
		if m, ok := peMachines[runtime.GOARCH]; ok && f.Machine != m {
			return ErrWrongArch
		}
		return ErrNotLibrary
	}
	if f, err := macho.Open(path); err == nil {
		f.Close()
		return ErrWrongArch
	}
	if f, err := macho.OpenFat(path); err == nil {
		f.Close()
		return ErrWrongArch
	}
	return ErrNotLibrary
}

var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64,
	"386":   elf.EM_386,
	"arm64": elf.EM_AARCH64,
	"arm":   elf.EM_ARM,
}

var peMachines = map[string]uint16{
	"amd64": pe.IMAGE_FILE_MACHINE_AMD64,
	"386":   pe.IMAGE_FILE_MACHINE_I386,
	"arm64": pe.IMAGE_FILE_MACHINE_ARM64,
}

func elfClass() elf.Class {
	if ^uint(0)>>32 == 0 {
		return elf.ELFCLASS32
	}
	return elf.ELFCLASS64
}
