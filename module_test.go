package pkcs11_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/loader"
)

func asError(err error, target **pkcs11.Error) bool { return errors.As(err, target) }

func TestOpenInfo(t *testing.T) {
	m := softhsm(t)
	info, err := m.GetInfo()
	require.NoError(t, err)
	assert.Equal(t, "SoftHSM", info.ManufacturerID)
	assert.Equal(t, "Implementation of PKCS11", info.LibraryDescription)
	assert.Equal(t, byte(2), info.CryptokiVersion.Major)
	assert.Equal(t, byte(2), info.LibraryVersion.Major)

	// SoftHSM 2.6 offers only the 2.x function list.
	iface := m.Interface()
	assert.Equal(t, "PKCS 11", iface.Name)
	assert.Equal(t, info.CryptokiVersion, iface.Version)
	_, err = m.GetInterfaceList()
	assert.ErrorIs(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	assert.ErrorIs(t, err, errors.ErrUnsupported)

	// A 3.0 function is not in a 2.x table: no call is made.
	err = m.SessionCancel(1, ck.CKF_SIGN)
	assert.ErrorIs(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	assert.Contains(t, err.Error(), "C_SessionCancel")
}

func TestOpenSharesInstance(t *testing.T) {
	m1 := softhsm(t)
	m2, err := pkcs11.Open(hsm.Lib)
	require.NoError(t, err)
	_, err = m2.GetInfo()
	require.NoError(t, err)
	// Closing the second handle leaves the first working: the module is
	// finalized only when the last handle closes.
	require.NoError(t, m2.Close())
	_, err = m1.GetInfo()
	require.NoError(t, err)
	// A closed handle fails cleanly, and closing twice is an error.
	_, err = m2.GetInfo()
	assert.ErrorIs(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	assert.Error(t, m2.Close())

	// Other initialization options on an open file are refused.
	_, err = pkcs11.Open(hsm.Lib, pkcs11.WithInitString("x"))
	assert.ErrorContains(t, err, "other initialization options")
}

func TestOpenReopenAfterClose(t *testing.T) {
	p11test.Require(t, "SoftHSM2", hsmErr)
	for range 3 {
		m, err := pkcs11.Open(hsm.Lib)
		require.NoError(t, err)
		_, err = m.GetSlotList(true)
		require.NoError(t, err)
		require.NoError(t, m.Close())
	}
}

func TestOpenBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("not a library\n"), 0o644))
	libc, err := p11test.LibcPath()
	p11test.Require(t, "libc", err)

	cases := []struct {
		name, path string
		want       error
	}{
		{"missing", filepath.Join(dir, "nope.so"), loader.ErrNotExist},
		{"directory", dir, loader.ErrNotLibrary},
		{"text file", text, loader.ErrNotLibrary},
		{"not PKCS#11", libc, loader.ErrNotPKCS11},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := pkcs11.Open(c.path)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), filepath.Base(c.path))
		})
	}
}

func TestOpenWrongArch(t *testing.T) {
	// An executable of this machine's kind that is not a library, and a
	// library of another architecture when one is installed.
	if runtime.GOOS != "linux" {
		t.Skipf("the foreign library is found by Debian's multiarch layout, on Linux only: skipped on %s by design", runtime.GOOS)
	}
	other := "/usr/lib/i386-linux-gnu/libc.so.6"
	if p11test.Triplet() == "i386-linux-gnu" {
		other = "/usr/lib/x86_64-linux-gnu/libc.so.6"
	}
	if _, err := os.Stat(other); err != nil {
		// .ci/setup installs the i386 C library for this test.
		p11test.Require(t, "a C library of another architecture", err)
	}
	_, err := pkcs11.Open(other)
	assert.ErrorIs(t, err, loader.ErrWrongArch)
}

func TestLoggerRedactsPIN(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := softhsm(t)
	lm, err := pkcs11.Open(hsm.Lib, pkcs11.WithLogger(log))
	require.NoError(t, err)
	defer lm.Close()
	_ = m

	tok, slot := token(t, lm, tokAlpha)
	s, err := lm.OpenSession(slot, 0)
	require.NoError(t, err)
	defer lm.CloseSession(s)
	secret := []byte("98765432")
	err = lm.Login(s, ck.CKU_USER, secret)
	require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
	assert.NotContains(t, err.Error(), string(secret))
	require.NoError(t, lm.Login(s, ck.CKU_USER, tok.PIN))
	require.NoError(t, lm.Logout(s))

	out := buf.String()
	assert.Contains(t, out, "func=C_Login")
	assert.Contains(t, out, "rv=CKR_PIN_INCORRECT")
	assert.Contains(t, out, "pPin=redacted")
	assert.Contains(t, out, "func=C_OpenSession")
	assert.NotContains(t, out, string(secret))
	assert.NotContains(t, out, string(tok.PIN)+" ")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "C_Login") {
			assert.Contains(t, line, "ulPinLen=redacted")
		}
	}
}
