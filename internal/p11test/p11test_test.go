package p11test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestSoftHSM(t *testing.T) {
	dir := t.TempDir()
	s, err := NewSoftHSM(dir, "first", "second token")
	Require(t, "SoftHSM2", err)

	if s.Conf != filepath.Join(dir, "softhsm2.conf") {
		t.Errorf("Conf = %q, want it in %q", s.Conf, dir)
	}
	conf, err := os.ReadFile(s.Conf)
	if err != nil {
		t.Fatal(err)
	}
	want := "directories.tokendir = " + filepath.Join(dir, "tokens") + "\n"
	if !strings.Contains(string(conf), want) {
		t.Errorf("config lacks %q:\n%s", want, conf)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tokens")); err != nil || !fi.IsDir() {
		t.Errorf("token directory: %v", err)
	}

	if len(s.Tokens) != 2 {
		t.Fatalf("got %d tokens, want 2", len(s.Tokens))
	}
	for i, label := range []string{"first", "second token"} {
		tok := s.Tokens[i]
		if tok.Label != label {
			t.Errorf("token %d: label %q, want %q", i, tok.Label, label)
		}
		if len(tok.Serial) != 16 {
			t.Errorf("token %d: serial %q is not 16 characters", i, tok.Serial)
		}
		if string(tok.SOPIN) != "12345678" || string(tok.PIN) != "1234" {
			t.Errorf("token %d: unexpected PINs", i)
		}
	}
	if s.Tokens[0].Serial == s.Tokens[1].Serial {
		t.Errorf("both tokens have serial %q", s.Tokens[0].Serial)
	}

	// The process environment is left alone until Setenv.
	if got, ok := os.LookupEnv("SOFTHSM2_CONF"); ok && got == s.Conf {
		t.Errorf("NewSoftHSM set SOFTHSM2_CONF")
	}

	third, err := s.AddToken("third")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tokens) != 3 || s.Tokens[2].Serial != third.Serial {
		t.Errorf("AddToken did not append the token: %+v", s.Tokens)
	}
	for _, tok := range s.Tokens[:2] {
		if tok.Serial == third.Serial {
			t.Errorf("third token reuses serial %q", third.Serial)
		}
	}

	// SoftHSM's own tool, reading the same configuration, sees all three.
	out, err := s.util("--show-slots")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, si := range parseSlots(out) {
		if si.serial != "" {
			seen[si.serial] = si.label
		}
	}
	for _, tok := range s.Tokens {
		if seen[tok.Serial] != tok.Label {
			t.Errorf("token %q (serial %s) not listed: %v", tok.Label, tok.Serial, seen)
		}
	}
}

func TestSoftHSMSetenv(t *testing.T) {
	s, err := NewSoftHSM(t.TempDir())
	Require(t, "SoftHSM2", err)
	if len(s.Tokens) != 0 {
		t.Errorf("got %d tokens, want none", len(s.Tokens))
	}

	t.Setenv("SOFTHSM2_CONF", "") // restores the old value afterwards
	if err := s.Setenv(); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("SOFTHSM2_CONF"); got != s.Conf {
		t.Errorf("SOFTHSM2_CONF = %q, want %q", got, s.Conf)
	}
}

func TestNSS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		password []byte
	}{
		{"password", []byte("secret pass")},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			n, err := NewNSS(dir, tc.password)
			Require(t, "NSS softokn", err)

			for _, f := range []string{"cert9.db", "key4.db"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("database file: %v", err)
				}
			}
			left, err := filepath.Glob(filepath.Join(dir, "pwfile*"))
			if err != nil || len(left) != 0 {
				t.Errorf("password file left behind: %v %v", left, err)
			}
			want := "configdir='sql:" + dir + "' certPrefix='' keyPrefix='' secmod='secmod.db' flags="
			if n.InitString != want {
				t.Errorf("InitString = %q, want %q", n.InitString, want)
			}
			if string(n.Password) != string(tc.password) {
				t.Errorf("Password = %q, want %q", n.Password, tc.password)
			}
			if n.Lib == "" || n.Dir != dir {
				t.Errorf("Lib = %q, Dir = %q", n.Lib, n.Dir)
			}
		})
	}
}

func TestNSSBadPassword(t *testing.T) {
	if _, err := NewNSS(t.TempDir(), []byte("two\nlines")); err == nil {
		t.Error("NewNSS accepted a password with a line break")
	}
}

func TestPaths(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("library paths are known for Debian only")
	}
	for _, tc := range []struct {
		what string
		f    func() (string, error)
		base string
	}{
		{"SoftHSM2", SoftHSMPath, "libsofthsm2.so"},
		{"NSS softokn", NSSPath, "libsoftokn3.so"},
		{"p11-kit trust module", P11KitTrustPath, "p11-kit-trust.so"},
		{"C library", LibcPath, "libc.so.6"},
	} {
		t.Run(tc.base, func(t *testing.T) {
			p, err := tc.f()
			Require(t, tc.what, err)
			if filepath.Base(p) != tc.base {
				t.Errorf("path %q, want a %s", p, tc.base)
			}
			if err := checkLib(p); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPathOverride(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skip("a C library is known on Debian and Windows only")
	}
	libc, err := LibcPath()
	Require(t, "C library", err)

	// Any library of the right architecture is taken as it is.
	t.Setenv("P11TEST_SOFTHSM", libc)
	if p, err := SoftHSMPath(); err != nil || p != libc {
		t.Errorf("SoftHSMPath() = %q, %v; want %q", p, err, libc)
	}

	// A missing file is an error naming the variable, with no fallback.
	t.Setenv("P11TEST_NSS", filepath.Join(t.TempDir(), "missing.so"))
	if _, err := NSSPath(); err == nil || !strings.Contains(err.Error(), "P11TEST_NSS") {
		t.Errorf("NSSPath() with a missing override: %v", err)
	}

	// A file that is not a library is refused.
	notELF := filepath.Join(t.TempDir(), "text.so")
	if err := os.WriteFile(notELF, []byte("not a library"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("P11TEST_P11KIT_TRUST", notELF)
	if _, err := P11KitTrustPath(); err == nil {
		t.Error("P11KitTrustPath() accepted a text file")
	}
}

func TestMissingLibraryError(t *testing.T) {
	_, err := findLib("thing", "P11TEST_THING", "/nonexistent/a.so", "", "/nonexistent/b.so")
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"thing", "/nonexistent/a.so", "/nonexistent/b.so", "P11TEST_THING", runtime.GOARCH} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}

// TestNoKnownPath checks which errors of the path finders say that the
// platform has no place for the library, the only errors Require excuses
// when NoSystemModulesEnv is set.
func TestNoKnownPath(t *testing.T) {
	t.Setenv("P11TEST_THING", "")
	if _, err := findLib("thing", "P11TEST_THING", "", ""); !errors.Is(err, errNoKnownPath) {
		t.Errorf("findLib without candidates: %v, want errNoKnownPath", err)
	} else if !strings.Contains(err.Error(), "P11TEST_THING") {
		t.Errorf("findLib without candidates: %q does not name the variable", err)
	}
	if _, err := findLib("thing", "P11TEST_THING", "/nonexistent/a.so"); err == nil || errors.Is(err, errNoKnownPath) {
		t.Errorf("findLib with a missing candidate: %v, want an error that is not errNoKnownPath", err)
	}
	t.Setenv("P11TEST_THING", filepath.Join(t.TempDir(), "missing.so"))
	if _, err := findLib("thing", "P11TEST_THING"); err == nil || errors.Is(err, errNoKnownPath) {
		t.Errorf("findLib with a missing override: %v, want an error that is not errNoKnownPath", err)
	}

	// Linux knows a path for every library, Windows for the C library
	// only, the others none.
	for _, tc := range []struct {
		name, env string
		f         func() (string, error)
		known     bool
	}{
		{"SoftHSMPath", "P11TEST_SOFTHSM", SoftHSMPath, runtime.GOOS == "linux"},
		{"NSSPath", "P11TEST_NSS", NSSPath, runtime.GOOS == "linux"},
		{"P11KitTrustPath", "P11TEST_P11KIT_TRUST", P11KitTrustPath, runtime.GOOS == "linux"},
		{"LibcPath", "", LibcPath, runtime.GOOS == "linux" || runtime.GOOS == "windows"},
	} {
		if tc.env != "" {
			t.Setenv(tc.env, "")
		}
		_, err := tc.f()
		if got := errors.Is(err, errNoKnownPath); got == tc.known {
			t.Errorf("%s() on %s/%s: %v; want a known path: %v", tc.name, runtime.GOOS, runtime.GOARCH, err, tc.known)
		}
	}
	if runtime.GOOS == "windows" {
		p, err := LibcPath()
		if err != nil || !strings.EqualFold(filepath.Base(p), "msvcrt.dll") {
			t.Errorf("LibcPath() = %q, %v; want msvcrt.dll", p, err)
		}
	}
}

// tbRecorder records what Require does, instead of stopping the test.
type tbRecorder struct {
	testing.TB
	skip, fatal string
}

func (r *tbRecorder) Helper()                        {}
func (r *tbRecorder) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }
func (r *tbRecorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }

func TestRequire(t *testing.T) {
	const reason = "windows under Wine: no Windows PKCS#11 module"
	_, noPath := findLib("SoftHSM2", "P11TEST_THING")
	_, missing := findLib("SoftHSM2", "P11TEST_THING", "/nonexistent/libsofthsm2.so")
	other := errors.New("P11TEST_ABIMOD is not set")
	for _, tc := range []struct {
		name          string
		ci, noModules string
		err           error
		skip, fatal   bool
		messageHas    []string
	}{
		{"nil error", "true", reason, nil, false, false, nil},
		{"developer", "", "", missing, true, false, []string{"SoftHSM2 is missing", ".ci/setup"}},
		{"CI", "true", "", missing, false, true, []string{"SoftHSM2 is required in CI", "/nonexistent/libsofthsm2.so"}},
		{"CI, no known path", "true", "", noPath, false, true, []string{"required in CI"}},
		{"by design", "true", reason, noPath, true, false, []string{"SoftHSM2 is not available", "by design", NoSystemModulesEnv, reason}},
		{"by design, developer", "", reason, noPath, true, false, []string{"by design", reason}},
		// The variable excuses no library that has a known path here, and
		// no error of another kind.
		{"by design, known path", "true", reason, missing, false, true, []string{"required in CI"}},
		{"by design, other error", "true", reason, other, false, true, []string{"required in CI", "P11TEST_ABIMOD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv(NoSystemModulesEnv, tc.noModules)
			r := &tbRecorder{TB: t}
			Require(r, "SoftHSM2", tc.err)
			if (r.skip != "") != tc.skip || (r.fatal != "") != tc.fatal {
				t.Fatalf("Require: skip %q, fatal %q; want skip %v, fatal %v", r.skip, r.fatal, tc.skip, tc.fatal)
			}
			for _, s := range tc.messageHas {
				if !strings.Contains(r.skip+r.fatal, s) {
					t.Errorf("message %q lacks %q", r.skip+r.fatal, s)
				}
			}
		})
	}
}

func TestTriplet(t *testing.T) {
	want := map[string]string{
		"amd64": "x86_64-linux-gnu",
		"386":   "i386-linux-gnu",
		"arm64": "aarch64-linux-gnu",
		"arm":   "arm-linux-gnueabihf",
	}[runtime.GOARCH]
	if want == "" {
		t.Skipf("no expectation for %s", runtime.GOARCH)
	}
	if got := Triplet(); got != want {
		t.Errorf("Triplet() = %q, want %q", got, want)
	}
}

func TestParseSlots(t *testing.T) {
	out := `Available slots:
Slot 504598676
    Slot info:
        Description:      SoftHSM slot ID 0x1e139094          
        Token present:    yes
    Token info:
        Serial number:    6b5cec209e139094
        Initialized:      yes
        Label:            B c                             
Slot 2
    Slot info:
        Description:      SoftHSM slot ID 0x2                 
    Token info:
        Serial number:                    
        Initialized:      no
        Label:                                            
`
	got := parseSlots([]byte(out))
	want := []slotInfo{
		{id: 504598676, serial: "6b5cec209e139094", label: "B c"},
		{id: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("slot %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
