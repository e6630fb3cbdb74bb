// Package p11test prepares real PKCS#11 modules for the tests of this
// repository. It is imported by tests only.
//
// [NewSoftHSM] makes a SoftHSM2 configuration and token directory with
// initialized tokens, [NewNSS] makes an NSS softokn database, and
// [SoftHSMPath], [NSSPath], [P11KitTrustPath] and [LibcPath] find the
// installed libraries for the running architecture. [Require] turns a
// missing module into a skipped test on a developer's machine and into a
// failure in CI, where `.ci/setup` installs everything.
//
// The library paths follow Debian's multiarch layout ([Triplet]) and are
// known on Linux only; on Windows [LibcPath] names the system's msvcrt.dll.
// The environment variables P11TEST_SOFTHSM, P11TEST_NSS and
// P11TEST_P11KIT_TRUST override them, for runs of another architecture
// (linux/386 natively, linux/arm64 and linux/arm under qemu) whose
// libraries were unpacked elsewhere.
//
// On a platform that has none of these modules by design, such as Windows
// under Wine, the test runner sets [NoSystemModulesEnv] to the reason, and
// [Require] skips what needs them, even in CI.
package p11test

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"debug/pe"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Test PINs of every SoftHSM token this package initializes.
const (
	softHSMSOPIN = "12345678"
	softHSMPIN   = "1234"
)

// toolTimeout bounds each run of softhsm2-util or certutil.
const toolTimeout = time.Minute

// NoSystemModulesEnv names the environment variable that declares the
// running platform to have, by design, none of the modules this package
// finds: SoftHSM2, NSS softokn and p11-kit's trust module, which Debian
// packages for Linux only. Its value is the reason, such as "windows under
// Wine: Debian packages no Windows PKCS#11 module"; .ci/abi sets it for
// the Wine runs. [Require] quotes it when it skips.
//
// It excuses only a library for which this package knows no path on the
// running platform: SoftHSM2, NSS softokn and p11-kit anywhere but on
// Linux, the C library anywhere but on Linux and Windows. It never hides a
// missing or broken installation on Linux, nor the failure of a test's
// own module such as testdata/abimod.
const NoSystemModulesEnv = "P11TEST_NO_SYSTEM_MODULES"

// errNoKnownPath is wrapped by the errors of the path finders on a
// platform where this package knows no place the library could be.
var errNoKnownPath = errors.New("no known path on this platform")

// Require stops the test when err reports that what a test needs, named by
// what, is missing. On a developer's machine (the CI environment variable
// empty) the test is skipped with a message naming it; in CI it fails,
// because CI installs every module the tests use. The one exception, in CI
// too, is a platform that has no such module by design: when
// [NoSystemModulesEnv] is set and err says that no path of the library is
// known here, the test is skipped with the reason. Require does nothing
// when err is nil.
func Require(tb testing.TB, what string, err error) {
	tb.Helper()
	skip, fail := Verdict(what, err)
	switch {
	case fail != "":
		tb.Fatalf("%s", fail)
	case skip != "":
		tb.Skipf("%s", skip)
	}
}

// Verdict is what [Require] decides, for code that has no test to skip
// or fail, such as a TestMain that leaves out examples: the message to
// skip with, or the one to fail with; both empty when err is nil.
func Verdict(what string, err error) (skip, fail string) {
	if err == nil {
		return "", ""
	}
	if reason := os.Getenv(NoSystemModulesEnv); reason != "" && errors.Is(err, errNoKnownPath) {
		return fmt.Sprintf("%s is not available on %s/%s by design (%s: %s): %v",
			what, runtime.GOOS, runtime.GOARCH, NoSystemModulesEnv, reason, err), ""
	}
	if os.Getenv("CI") != "" {
		return "", fmt.Sprintf("%s is required in CI: %v", what, err)
	}
	return fmt.Sprintf("%s is missing (.ci/setup installs it): %v", what, err), ""
}

// Triplet returns the Debian multiarch triplet of runtime.GOARCH, the
// directory under /usr/lib that holds that architecture's libraries:
// x86_64-linux-gnu for amd64, i386-linux-gnu for 386, aarch64-linux-gnu for
// arm64 and arm-linux-gnueabihf for arm. It returns "" for an architecture
// it does not know.
func Triplet() string {
	return triplets[runtime.GOARCH]
}

var triplets = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"386":     "i386-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"arm":     "arm-linux-gnueabihf",
	"riscv64": "riscv64-linux-gnu",
	"ppc64le": "powerpc64le-linux-gnu",
	"s390x":   "s390x-linux-gnu",
	"loong64": "loongarch64-linux-gnu",
}

// machines maps GOARCH to the ELF machine of its libraries.
var machines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"386":     elf.EM_386,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"loong64": elf.EM_LOONGARCH,
}

// SoftHSMPath returns the path of the SoftHSM2 library for runtime.GOARCH:
// the file named by P11TEST_SOFTHSM if that is set, else the first of
// /usr/lib/<triplet>/softhsm/libsofthsm2.so and /usr/lib/softhsm/libsofthsm2.so
// built for this architecture. The error names the paths tried.
func SoftHSMPath() (string, error) {
	return findLib("SoftHSM2", "P11TEST_SOFTHSM",
		multiarch("softhsm/libsofthsm2.so"),
		debian("/usr/lib/softhsm/libsofthsm2.so"))
}

// NSSPath returns the path of NSS's software token, libsoftokn3.so, for
// runtime.GOARCH: the file named by P11TEST_NSS if that is set, else
// /usr/lib/<triplet>/libsoftokn3.so. The error names the paths tried.
func NSSPath() (string, error) {
	return findLib("NSS softokn", "P11TEST_NSS",
		multiarch("libsoftokn3.so"),
		multiarch("nss/libsoftokn3.so"))
}

// P11KitTrustPath returns the path of p11-kit's trust module for
// runtime.GOARCH: the file named by P11TEST_P11KIT_TRUST if that is set,
// else /usr/lib/<triplet>/pkcs11/p11-kit-trust.so. The error names the paths
// tried.
func P11KitTrustPath() (string, error) {
	return findLib("p11-kit trust module", "P11TEST_P11KIT_TRUST",
		multiarch("pkcs11/p11-kit-trust.so"))
}

// LibcPath returns the path of the C library of runtime.GOARCH,
// /usr/lib/<triplet>/libc.so.6 (or /lib/<triplet>/libc.so.6), on Windows
// %SystemRoot%\System32\msvcrt.dll (which WOW64 maps to the 32-bit copy
// for a 32-bit program): a real shared library that is not a PKCS#11
// module, for negative tests.
func LibcPath() (string, error) {
	var windows string
	if runtime.GOOS == "windows" {
		if root := os.Getenv("SystemRoot"); root != "" {
			windows = filepath.Join(root, "System32", "msvcrt.dll")
		}
	}
	return findLib("C library", "",
		multiarch("libc.so.6"),
		multiarchIn("/lib", "libc.so.6"),
		windows)
}

// debian returns path on Linux, where the paths of this package are those
// of Debian, and "" elsewhere.
func debian(path string) string {
	if runtime.GOOS != "linux" {
		return ""
	}
	return path
}

// multiarch returns /usr/lib/<triplet>/name, or "" for an unknown triplet
// or on a system other than Linux.
func multiarch(name string) string {
	return multiarchIn("/usr/lib", name)
}

func multiarchIn(dir, name string) string {
	t := Triplet()
	if t == "" {
		return ""
	}
	return debian(filepath.Join(dir, t, name))
}

// findLib returns the file named by the environment variable env if that is
// set, else the first candidate that is a library of runtime.GOARCH.
func findLib(what, env string, candidates ...string) (string, error) {
	if env != "" {
		if p := os.Getenv(env); p != "" {
			if err := checkLib(p); err != nil {
				return "", fmt.Errorf("p11test: %s from %s: %w", what, env, err)
			}
			return p, nil
		}
	}

	var tried []string
	var errs []error
	for _, p := range candidates {
		if p == "" {
			continue
		}
		tried = append(tried, p)
		err := checkLib(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}

	override := ""
	if env != "" {
		override = "; set " + env + " to override"
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("p11test: no %s for %s/%s (%w%s)",
			what, runtime.GOOS, runtime.GOARCH, errNoKnownPath, override)
	}
	msg := fmt.Sprintf("p11test: no %s for %s/%s (tried %s%s)", what,
		runtime.GOOS, runtime.GOARCH, strings.Join(tried, ", "), override)
	if len(errs) > 0 {
		return "", fmt.Errorf("%s: %w", msg, errors.Join(errs...))
	}
	return "", errors.New(msg)
}

// peMachines maps GOARCH to the machine of its Windows DLLs.
var peMachines = map[string]uint16{
	"amd64": pe.IMAGE_FILE_MACHINE_AMD64,
	"386":   pe.IMAGE_FILE_MACHINE_I386,
	"arm64": pe.IMAGE_FILE_MACHINE_ARM64,
}

// checkLib reports whether path is a regular file and, where libraries are
// ELF files or Windows DLLs, one built for runtime.GOARCH.
func checkLib(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if runtime.GOOS == "windows" {
		return checkDLL(path)
	}
	want, ok := machines[runtime.GOARCH]
	if !ok || runtime.GOOS == "darwin" {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s is built for %v, not %s", path, f.Machine, runtime.GOARCH)
	}
	return nil
}

// checkDLL reports whether the file at path is a Windows DLL built for
// runtime.GOARCH.
func checkDLL(path string) error {
	want, ok := peMachines[runtime.GOARCH]
	if !ok {
		return nil
	}
	f, err := pe.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s is built for machine %#x, not %s", path, f.Machine, runtime.GOARCH)
	}
	return nil
}

// SoftHSM is a SoftHSM2 configuration with its own token directory.
//
// SoftHSM reads its configuration once, in C_Initialize, from the file named
// by SOFTHSM2_CONF; since a module is initialized once per process, call
// [SoftHSM.Setenv] before the first test loads Lib, typically from TestMain.
// A SoftHSM is not safe for concurrent use.
type SoftHSM struct {
	// Lib is the SoftHSM2 library to load, from [SoftHSMPath].
	Lib string
	// Dir is the directory holding Conf and the token directory Dir/tokens.
	Dir string
	// Conf is the configuration file, Dir/softhsm2.conf.
	Conf string
	// Tokens are the tokens initialized so far, in the order of creation.
	Tokens []Token
}

// Token is an initialized token of a [SoftHSM].
type Token struct {
	// Label is the token's label (the label of CK_TOKEN_INFO), unpadded.
	Label string
	// Serial is the token's serial number, 16 hexadecimal digits.
	Serial string
	// SOPIN is the security officer's PIN.
	SOPIN []byte
	// PIN is the normal user's PIN.
	PIN []byte
}

// NewSoftHSM writes a SoftHSM2 configuration, dir/softhsm2.conf, whose
// token directory is dir/tokens, and initializes one token per label with
// softhsm2-util (SO PIN 12345678, user PIN 1234). dir is created if needed;
// a fresh directory such as testing.T.TempDir is best. NewSoftHSM does not
// change the process environment: see [SoftHSM.Setenv].
//
// It fails if softhsm2-util or the library for runtime.GOARCH is missing.
func NewSoftHSM(dir string, labels ...string) (*SoftHSM, error) {
	lib, err := SoftHSMPath()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return nil, fmt.Errorf("p11test: softhsm2-util: %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("p11test: %w", err)
	}

	s := &SoftHSM{
		Lib:  lib,
		Dir:  dir,
		Conf: filepath.Join(dir, "softhsm2.conf"),
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, fmt.Errorf("p11test: %w", err)
	}
	conf := "# Written by internal/p11test for tests.\n" +
		"directories.tokendir = " + tokens + "\n" +
		"objectstore.backend = file\n" +
		"log.level = ERROR\n" +
		"slots.removable = false\n"
	if err := os.WriteFile(s.Conf, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("p11test: %w", err)
	}

	for _, label := range labels {
		if _, err := s.AddToken(label); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Setenv sets SOFTHSM2_CONF to s.Conf for the whole process. Call it before
// the SoftHSM module is initialized.
func (s *SoftHSM) Setenv() error {
	if err := os.Setenv("SOFTHSM2_CONF", s.Conf); err != nil {
		return fmt.Errorf("p11test: %w", err)
	}
	return nil
}

// reassigned matches softhsm2-util's report of the new token's slot.
var reassigned = regexp.MustCompile(`reassigned to slot (\d+)`)

// AddToken initializes one more token labelled label in the free slot of s,
// appends it to s.Tokens and returns it.
//
// SoftHSM reads its token directory in C_Initialize: a module already
// initialized in this process does not list the new token until it is
// finalized and initialized again (closed and reopened). Slot IDs change
// when a token is added, so look tokens up by label or serial.
func (s *SoftHSM) AddToken(label string) (Token, error) {
	out, err := s.util("--init-token", "--free", "--label", label,
		"--so-pin", softHSMSOPIN, "--pin", softHSMPIN)
	if err != nil {
		return Token{}, fmt.Errorf("p11test: initializing token %q: %w", label, err)
	}
	m := reassigned.FindSubmatch(out)
	if m == nil {
		return Token{}, fmt.Errorf("p11test: initializing token %q: no slot in softhsm2-util output %q", label, out)
	}
	slot, err := strconv.ParseUint(string(m[1]), 10, 64)
	if err != nil {
		return Token{}, fmt.Errorf("p11test: initializing token %q: %w", label, err)
	}

	out, err = s.util("--show-slots")
	if err != nil {
		return Token{}, fmt.Errorf("p11test: listing slots: %w", err)
	}
	var info *slotInfo
	for _, si := range parseSlots(out) {
		if si.id == slot {
			info = &si
			break
		}
	}
	if info == nil {
		return Token{}, fmt.Errorf("p11test: token %q: slot %d not in softhsm2-util --show-slots", label, slot)
	}
	if info.label != label || len(info.serial) != 16 {
		return Token{}, fmt.Errorf("p11test: token %q: slot %d shows label %q, serial %q", label, slot, info.label, info.serial)
	}

	t := Token{
		Label:  label,
		Serial: info.serial,
		SOPIN:  []byte(softHSMSOPIN),
		PIN:    []byte(softHSMPIN),
	}
	s.Tokens = append(s.Tokens, t)
	return t, nil
}

// util runs softhsm2-util with SOFTHSM2_CONF set to s.Conf for that command
// only, and returns its standard output.
func (s *SoftHSM) util(args ...string) ([]byte, error) {
	env := []string{"SOFTHSM2_CONF=" + s.Conf}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOFTHSM2_CONF=") {
			env = append(env, kv)
		}
	}
	return run(env, "softhsm2-util", args...)
}

// slotInfo is one slot of softhsm2-util --show-slots.
type slotInfo struct {
	id     uint64
	serial string
	label  string
}

// parseSlots reads the output of softhsm2-util --show-slots: a line
// "Slot N" starts each slot, indented "Name: value" lines follow, values
// padded with blanks as in CK_TOKEN_INFO.
func parseSlots(out []byte) []slotInfo {
	var slots []slotInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Slot "); ok {
			id, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			if err == nil {
				slots = append(slots, slotInfo{id: id})
			}
			continue
		}
		if len(slots) == 0 {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch name {
		case "Serial number":
			slots[len(slots)-1].serial = value
		case "Label":
			slots[len(slots)-1].label = value
		}
	}
	return slots
}

// NSS is an NSS softokn database.
type NSS struct {
	// Lib is the softokn library to load, from [NSSPath].
	Lib string
	// Dir is the database directory.
	Dir string
	// InitString goes into CK_C_INITIALIZE_ARGS.pReserved: softokn refuses
	// C_Initialize without it.
	InitString string
	// Password is the database password, the PIN of the "NSS Certificate DB"
	// token; empty for a database without one.
	Password []byte
}

// NewNSS creates an NSS database in dir (created if needed; it must not
// hold a database yet) with certutil -N, protected by password, or without
// a password if password is empty. The password may not contain a line
// break or a NUL byte.
//
// It fails if certutil or the library for runtime.GOARCH is missing.
func NewNSS(dir string, password []byte) (*NSS, error) {
	lib, err := NSSPath()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("certutil"); err != nil {
		return nil, fmt.Errorf("p11test: certutil: %w", err)
	}
	if bytes.ContainsAny(password, "\r\n\x00") {
		return nil, errors.New("p11test: NSS password contains a line break or NUL")
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("p11test: %w", err)
	}
	if strings.ContainsAny(dir, "'\"") {
		return nil, fmt.Errorf("p11test: NSS directory %q contains a quote", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("p11test: %w", err)
	}

	db := "sql:" + dir
	if len(password) == 0 {
		_, err = run(nil, "certutil", "-N", "-d", db, "--empty-password")
	} else {
		err = withPasswordFile(dir, password, func(pwfile string) error {
			_, err := run(nil, "certutil", "-N", "-d", db, "-f", pwfile)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("p11test: creating NSS database: %w", err)
	}

	return &NSS{
		Lib:        lib,
		Dir:        dir,
		InitString: "configdir='" + db + "' certPrefix='' keyPrefix='' secmod='secmod.db' flags=",
		Password:   bytes.Clone(password),
	}, nil
}

// withPasswordFile writes password to a private file in dir, calls f with
// its name and removes the file.
func withPasswordFile(dir string, password []byte, f func(string) error) error {
	pw, err := os.CreateTemp(dir, "pwfile-*")
	if err != nil {
		return err
	}
	defer os.Remove(pw.Name())
	_, err = pw.Write(append(bytes.Clone(password), '\n'))
	if cerr := pw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return f(pw.Name())
}

// run runs a tool with env (nil for the process's environment), no standard
// input and a time limit, and returns its standard output. The error holds
// the tool's standard error.
func run(env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if msg != "" {
			return nil, fmt.Errorf("%s %s: %w: %s", name, args[0], err, msg)
		}
		return nil, fmt.Errorf("%s %s: %w", name, args[0], err)
	}
	return stdout.Bytes(), nil
}
