package loader_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/loader"
)

// elfHeader returns a minimal ELF64 shared-object header for machine m:
// enough for debug/elf to parse, not enough for a dynamic loader to use.
func elfHeader(m elf.Machine) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1, 0})
	b.Write(make([]byte, 8))
	h := struct {
		Type, Machine                                        uint16
		Version                                              uint32
		Entry, Phoff, Shoff                                  uint64
		Flags                                                uint32
		Ehsize, Phentsize, Phnum, Shentsize, Shnum, Shstrndx uint16
	}{Type: uint16(elf.ET_DYN), Machine: uint16(m), Version: 1, Ehsize: 64, Phentsize: 56, Shentsize: 64}
	binary.Write(&b, binary.LittleEndian, h)
	return b.Bytes()
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	other := elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other = elf.EM_X86_64
	}
	cases := []struct {
		name, path string
		want       error
	}{
		{"missing", filepath.Join(dir, "missing.so"), loader.ErrNotExist},
		{"directory", dir, loader.ErrNotLibrary},
		{"empty", write("empty.so", nil), loader.ErrNotLibrary},
		{"text", write("text.so", []byte("hello\n")), loader.ErrNotLibrary},
		{"PE header", write("lib.dll", append([]byte("MZ"), make([]byte, 62)...)), loader.ErrNotLibrary},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases, struct {
			name, path string
			want       error
		}{"other architecture", write("other.so", elfHeader(other)), loader.ErrWrongArch})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := loader.Open(c.path)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v does not match %v", err, c.want)
			}
			var le *loader.Error
			if !errors.As(err, &le) || le.Path == "" {
				t.Fatalf("error %v is not a *loader.Error with a path", err)
			}
		})
	}
}

func TestOpenNotPKCS11(t *testing.T) {
	libc, err := p11test.LibcPath()
	p11test.Require(t, "libc", err)
	_, err = loader.Open(libc)
	if !errors.Is(err, loader.ErrNotPKCS11) {
		t.Fatalf("Open(%s) = %v, want ErrNotPKCS11", libc, err)
	}
}

func TestOpenLookupClose(t *testing.T) {
	path, err := p11test.SoftHSMPath()
	p11test.Require(t, "SoftHSM2", err)
	l, err := loader.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := l.Lookup("C_GetFunctionList"); err != nil || p == 0 {
		t.Fatalf("Lookup(C_GetFunctionList) = %#x, %v", p, err)
	}
	if _, err := l.Lookup("C_NoSuchFunction"); err == nil {
		t.Fatal("Lookup of a missing symbol succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Lookup("C_GetFunctionList"); err == nil {
		t.Fatal("Lookup after Close succeeded")
	}
}
