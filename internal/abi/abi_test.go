package abi

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/layouts.golden")

// render prints every layout of every platform, one field a line.
func render() string {
	var sb strings.Builder
	for _, p := range Platforms {
		fmt.Fprintf(&sb, "# %s ulong=%d ptr=%d packed=%v\n", p, p.ULong, p.Ptr, p.Packed)
		for _, s := range p.Structs() {
			fmt.Fprintf(&sb, "%s size=%d align=%d\n", s.Name, s.Size, s.Align)
			for _, f := range s.Fields {
				fmt.Fprintf(&sb, "\t%s off=%d size=%d\n", f.Name, f.Offset, f.Size)
			}
		}
	}
	return sb.String()
}

// TestGolden pins the layout tables of every platform. A change to a
// layout must show up in the golden file's diff, where a reviewer sees it.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "layouts.golden")
	got := render()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("layouts differ from %s; run go test -update and review the diff", path)
	}
}

// TestKnownFacts checks the layouts against numbers measured with real
// compilers (PORTABILITY.md), independent of the golden file.
func TestKnownFacts(t *testing.T) {
	cases := []struct {
		plat, strct, field string
		off, size          int
	}{
		{"linux/amd64", "CK_ATTRIBUTE", "pValue", 8, 24},
		{"linux/amd64", "CK_ATTRIBUTE", "ulValueLen", 16, 24},
		{"windows/amd64", "CK_ATTRIBUTE", "pValue", 4, 16},
		{"windows/amd64", "CK_ATTRIBUTE", "ulValueLen", 12, 16},
		{"linux/386", "CK_ATTRIBUTE", "ulValueLen", 8, 12},
		{"windows/386", "CK_ATTRIBUTE", "ulValueLen", 8, 12},
		{"linux/amd64", "CK_INFO", "flags", 40, 88},
		{"windows/amd64", "CK_INFO", "flags", 34, 72},
		{"linux/386", "CK_INFO", "flags", 36, 76},
		{"windows/386", "CK_INFO", "flags", 34, 72},
		{"linux/amd64", "CK_FUNCTION_LIST", "C_Initialize", 8, 16},
		{"windows/amd64", "CK_FUNCTION_LIST", "C_Initialize", 2, 10},
		{"linux/386", "CK_FUNCTION_LIST", "C_Initialize", 4, 8},
		{"linux/amd64", "CK_EDDSA_PARAMS", "ulContextDataLen", 8, 24},
		{"windows/amd64", "CK_EDDSA_PARAMS", "ulContextDataLen", 1, 13},
	}
	for _, c := range cases {
		goos, goarch, _ := strings.Cut(c.plat, "/")
		p, ok := Lookup(goos, goarch)
		if !ok {
			t.Fatalf("no platform %s", c.plat)
		}
		s := p.Struct(c.strct)
		if got := s.Off(c.field); got != c.off {
			t.Errorf("%s %s.%s offset = %d, want %d", c.plat, c.strct, c.field, got, c.off)
		}
		if s.Size != c.size {
			t.Errorf("%s sizeof(%s) = %d, want %d", c.plat, c.strct, s.Size, c.size)
		}
	}
}
