package p11test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// This file finds the modules that need daemons, which `.ci/modules start`
// sets up and describes in environment variables: opencryptoki's software
// token behind pkcsslotd, tpm2-pkcs11 on a software TPM, and OpenSC with
// empty virtual card readers. Run their tests with
//
//	eval "$(.ci/modules start)"
//	go test -run 'OpenCryptoki|TPM2|OpenSC' ./session ./token
//
// .ci/test does that in its "modules" step.

// ModulesEnv names the environment variable that `.ci/modules start` sets
// to its state directory. It says that this run has the modules that need
// daemons: without it [RequireExternal] skips their tests, in CI too,
// since CI runs them in a step of their own; with it a missing piece fails
// them in CI, as [Require] does.
const ModulesEnv = "P11TEST_MODULES"

// ErrNotStarted is matched by the errors of [OpenCryptoki], [TPM2] and
// [OpenSC] when [ModulesEnv] is unset.
var ErrNotStarted = errors.New(ModulesEnv + " is unset: the modules were not started in this run (eval \"$(.ci/modules start)\" starts them)")

// External is a PKCS#11 module that `.ci/modules start` set up, with a
// token for the tests.
type External struct {
	// Name names the module in messages: "opencryptoki", "tpm2-pkcs11",
	// "OpenSC".
	Name string
	// Lib is the library to load.
	Lib string
	// Label is the test token's label; empty for OpenSC, whose readers
	// hold no token.
	Label string
	// PIN and SOPIN are the test token's user and security officer PINs.
	PIN, SOPIN []byte
	// Env holds what the module reads from the process environment in
	// C_Initialize, as NAME=value. The variables are set already: the
	// test inherited them from `.ci/modules start`. They are here for the
	// messages and for tools run beside the test.
	Env []string
	// Keys are the labels of keys the set-up made on the token for what
	// the module cannot generate through PKCS#11, by kind ("aes",
	// "hmac"); nil when there are none.
	Keys map[string]string
	// Readers are the names of the empty card readers, in the slot
	// descriptions of OpenSC; nil for the other modules.
	Readers []string
}

// RequireExternal stops the test when err, from [OpenCryptoki], [TPM2] or
// [OpenSC], says the module what is missing. When the modules were not
// started in this run (err matches [ErrNotStarted]) the test is skipped,
// in CI too: CI runs these tests in a step that starts them. Otherwise it
// is [Require]: a skip on a developer's machine, a failure in CI.
func RequireExternal(tb testing.TB, what string, err error) {
	tb.Helper()
	if errors.Is(err, ErrNotStarted) {
		tb.Skipf("%s is not set up in this run (.ci/test's modules step runs this test): %v", what, err)
		return
	}
	Require(tb, what, err)
}

// OpenCryptoki returns opencryptoki's software token, from the variables
// P11TEST_OPENCRYPTOKI (the library), P11TEST_OPENCRYPTOKI_LABEL,
// P11TEST_OPENCRYPTOKI_PIN and P11TEST_OPENCRYPTOKI_SOPIN. The error
// names the first piece missing.
func OpenCryptoki() (*External, error) {
	e := &External{Name: "opencryptoki"}
	r := envReader{name: e.Name}
	e.Lib = r.lib("P11TEST_OPENCRYPTOKI")
	e.Label = r.get("P11TEST_OPENCRYPTOKI_LABEL")
	e.PIN = []byte(r.get("P11TEST_OPENCRYPTOKI_PIN"))
	e.SOPIN = []byte(r.get("P11TEST_OPENCRYPTOKI_SOPIN"))
	return e, r.err
}

// TPM2 returns the tpm2-pkcs11 token on the software TPM, from the
// variables P11TEST_TPM2 (the library), P11TEST_TPM2_LABEL,
// P11TEST_TPM2_PIN, P11TEST_TPM2_SOPIN, P11TEST_TPM2_AES_KEY and
// P11TEST_TPM2_HMAC_KEY (labels of keys made by tpm2_ptool), and what
// tpm2-pkcs11 reads in C_Initialize: TPM2_PKCS11_TCTI, TPM2_PKCS11_STORE
// (a directory) and, for its tabrmd TCTI on a session bus,
// DBUS_SESSION_BUS_ADDRESS. The error names the first piece missing.
func TPM2() (*External, error) {
	e := &External{Name: "tpm2-pkcs11"}
	r := envReader{name: e.Name}
	e.Lib = r.lib("P11TEST_TPM2")
	e.Label = r.get("P11TEST_TPM2_LABEL")
	e.PIN = []byte(r.get("P11TEST_TPM2_PIN"))
	e.SOPIN = []byte(r.get("P11TEST_TPM2_SOPIN"))
	e.Keys = map[string]string{
		"aes":  r.get("P11TEST_TPM2_AES_KEY"),
		"hmac": r.get("P11TEST_TPM2_HMAC_KEY"),
	}
	for _, name := range []string{"TPM2_PKCS11_TCTI", "TPM2_PKCS11_STORE", "DBUS_SESSION_BUS_ADDRESS"} {
		e.Env = append(e.Env, name+"="+r.get(name))
	}
	r.dir("TPM2_PKCS11_STORE")
	return e, r.err
}

// OpenSC returns OpenSC's module with its empty virtual readers, from
// the variables P11TEST_OPENSC (the library) and P11TEST_OPENSC_READERS
// (the readers' names, separated by semicolons). The error names the
// first piece missing.
func OpenSC() (*External, error) {
	e := &External{Name: "OpenSC"}
	r := envReader{name: e.Name}
	e.Lib = r.lib("P11TEST_OPENSC")
	if readers := r.get("P11TEST_OPENSC_READERS"); readers != "" {
		e.Readers = strings.Split(readers, ";")
	}
	return e, r.err
}

// envReader reads the variables of one module and keeps the first
// error.
type envReader struct {
	name string
	err  error
}

// get returns the variable name, or records that it is unset.
func (r *envReader) get(name string) string {
	if r.err != nil {
		return ""
	}
	state := os.Getenv(ModulesEnv)
	if state == "" {
		r.err = fmt.Errorf("p11test: %s: %w", r.name, ErrNotStarted)
		return ""
	}
	if fi, err := os.Stat(state); err != nil || !fi.IsDir() {
		r.err = fmt.Errorf("p11test: %s: %s=%s is not a directory (stopped with .ci/modules clean?)", r.name, ModulesEnv, state)
		return ""
	}
	v := os.Getenv(name)
	if v == "" {
		r.err = fmt.Errorf("p11test: %s: %s is unset (eval \"$(.ci/modules start)\" sets it)", r.name, name)
	}
	return v
}

// lib returns the library named by the variable name, checked to be a
// library of this architecture.
func (r *envReader) lib(name string) string {
	p := r.get(name)
	if r.err != nil {
		return ""
	}
	if err := checkLib(p); err != nil {
		r.err = fmt.Errorf("p11test: %s from %s: %w", r.name, name, err)
		return ""
	}
	return p
}

// dir checks that the variable name names a directory.
func (r *envReader) dir(name string) {
	p := r.get(name)
	if r.err != nil {
		return
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		r.err = fmt.Errorf("p11test: %s: %s=%s is not a directory", r.name, name, p)
	}
}
