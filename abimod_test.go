package pkcs11_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
)

// The tests in this file drive testdata/abimod, a module written in C
// that checks every struct and mechanism parameter it receives against
// the "Canonical values" at the top of abimod.c and fills every struct it
// returns with known values. What passes here was laid out by this
// library and read by a C compiler's idea of the same struct, and back.
//
// Only the helpers in abimod_unix_test.go and abimod_windows_test.go know
// how the library is built and loaded; the tests themselves hold for
// every ABI.

// Canonical values of abimod.c.
const (
	abiSlotEmpty   ck.SlotID        = 1
	abiSlotToken   ck.SlotID        = 7
	abiSession     ck.SessionHandle = 0x51
	abiObject      ck.ObjectHandle  = 0x100 // has attributes
	abiCreated     ck.ObjectHandle  = 0x200 // from C_CreateObject
	abiDerived     ck.ObjectHandle  = 0x99  // from C_DeriveKey
	abiKey         ck.ObjectHandle  = 0x300 // the key the 3.x functions check; the others take any
	abiUnknownRV   ck.RV            = 0xCE534351
	abiVendorMech                   = ck.CKM_VENDOR_DEFINED + 0x42
	abiUserPIN                      = "1234"
	abiWrappedLen                   = 24
	abiSlotListLie                  = 1000000
	abiInitString                   = "abimod init: configdir='sql:/nowhere'"
)

// The faults abimod_set_fault switches on (the FAULT_ enum of abimod.c).
const (
	faultSlotListGrows = 1  // C_GetSlotList: 1000000 slots, then too small
	faultSignLong      = 2  // C_Sign: a length beyond the caller's buffer
	faultInfoRV        = 3  // C_GetInfo: returns abiUnknownRV
	faultLabelLong     = 4  // C_GetAttributeValue: CKA_LABEL too long
	faultQueryShort    = 5  // 3.x outputs: a size query gives half the length
	faultOutLong       = 6  // 3.x outputs: a length beyond the caller's buffer
	faultLabelUnavail  = 7  // CKA_LABEL: CK_UNAVAILABLE_INFORMATION with CKR_OK
	faultLabelOnce     = 8  // the same once, then CKA_LABEL as usual
	faultArrayLong     = 9  // CKA_WRAP_TEMPLATE: an element beyond its buffer
	faultArrayHuge     = 10 // CKA_WRAP_TEMPLATE: an element of 1 GiB
)

// What abimod_count counts (the COUNT_ enum of abimod.c).
const (
	countInitialize = 0 // calls of C_Initialize
	countFinalize   = 1 // calls of C_Finalize
)

// abiMechanisms is the token's mechanism list, in abimod's order.
var abiMechanisms = []ck.MechanismType{
	ck.CKM_RSA_PKCS_PSS, ck.CKM_RSA_PKCS_OAEP, ck.CKM_ECDH1_DERIVE,
	ck.CKM_EDDSA, ck.CKM_AES_GCM, ck.CKM_AES_CCM, ck.CKM_AES_CTR,
	ck.CKM_AES_CBC_PAD, ck.CKM_AES_KEY_WRAP, abiVendorMech,
}

// abiSeq returns n bytes counting up from first.
func abiSeq(first byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = first + byte(i)
	}
	return b
}

// abimodLib is one loaded copy of abimod: the Module that opened it and
// the addresses of its test hooks.
type abimodLib struct {
	m                                                   *pkcs11.Module
	lastErrFn, setFaultFn, flagsFn, reservedFn, countFn uintptr
}

// abimods holds the copies of abimod, built and opened once per test
// binary: Open shares one initialized instance per file, so each set of
// initialization options needs a file of its own.
var abimods struct {
	once     sync.Once
	err      error
	image    []byte     // the library file, for tests that need a copy
	main     *abimodLib // default options
	initStr  *abimodLib // WithInitString(abiInitString)
	nullArgs *abimodLib // WithNullInitArgs
}

// abimod returns the copy of abimod opened with the default options, with
// every fault off. It skips the test on a developer's machine that cannot
// build or find the module, and fails it in CI.
func abimod(t *testing.T) *abimodLib {
	t.Helper()
	abimods.once.Do(func() { abimods.err = loadAbimods() })
	if errors.Is(abimods.err, errAbimodMissing) {
		p11test.Require(t, abimodNeeds, abimods.err)
	}
	if abimods.err != nil {
		t.Fatal(abimods.err)
	}
	abimods.main.setFault(0)
	return abimods.main
}

// loadAbimods makes the library and opens each copy. The Modules stay
// open for the life of the test binary.
func loadAbimods() error {
	dir, err := os.MkdirTemp("", "pkcs11-abimod-")
	if err != nil {
		return err
	}
	// A loaded library needs its file no more on Unix, so nothing is left
	// behind. Windows keeps loaded DLLs locked: there the copies stay.
	defer os.RemoveAll(dir)

	lib, err := abimodBinary(dir)
	if err != nil {
		return err
	}
	if abimods.image, err = os.ReadFile(lib); err != nil {
		return err
	}
	copies := []struct {
		dst  **abimodLib
		name string
		opts []pkcs11.Option
	}{
		{&abimods.main, "", nil},
		{&abimods.initStr, "initstring", []pkcs11.Option{pkcs11.WithInitString(abiInitString)}},
		{&abimods.nullArgs, "nullargs", []pkcs11.Option{pkcs11.WithNullInitArgs()}},
	}
	for _, c := range copies {
		path := lib
		if c.name != "" {
			path = filepath.Join(dir, "abimod-"+c.name+abimodExt)
			if err := abiCopyFile(lib, path); err != nil {
				return err
			}
		}
		if *c.dst, err = openAbimod(path, c.opts...); err != nil {
			return err
		}
	}
	return nil
}

func abiCopyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// openAbimod opens the library at path with pkcs11.Open and finds the
// hooks of the same loaded instance.
func openAbimod(path string, opts ...pkcs11.Option) (*abimodLib, error) {
	m, err := pkcs11.Open(path, opts...)
	if err != nil {
		return nil, err
	}
	l, err := findHooks(m)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("abimod %s: %w", path, err)
	}
	return l, nil
}

// findHooks loads the test hooks from the library m has loaded.
func findHooks(m *pkcs11.Module) (*abimodLib, error) {
	h, err := openHooks(m.Path())
	if err != nil {
		return nil, err
	}
	l := &abimodLib{m: m}
	for _, s := range []struct {
		name string
		dst  *uintptr
	}{
		{"abimod_last_error", &l.lastErrFn},
		{"abimod_set_fault", &l.setFaultFn},
		{"abimod_init_flags", &l.flagsFn},
		{"abimod_init_reserved", &l.reservedFn},
		{"abimod_count", &l.countFn},
	} {
		if *s.dst, err = hookSym(h, s.name); err != nil {
			return nil, err
		}
		if *s.dst == 0 {
			return nil, fmt.Errorf("symbol %s is NULL", s.name)
		}
	}

	// The hooks must reach the instance the Module calls, not a copy of
	// its own: a fault switched on through them shows in the Module.
	l.setFault(faultInfoRV)
	_, err = m.GetInfo()
	l.setFault(0)
	if !errors.Is(err, abiUnknownRV) {
		return nil, fmt.Errorf("the hooks do not reach the loaded module: C_GetInfo with fault %d gave %v", faultInfoRV, err)
	}
	return l, nil
}

// lastError returns abimod_last_error(): which struct field the last
// check found wrong, or "".
func (l *abimodLib) lastError() string {
	r, _, _ := purego.SyscallN(l.lastErrFn)
	return abiCString(r)
}

// initFlags returns abimod_init_flags(): the flags C_Initialize got.
func (l *abimodLib) initFlags() uint64 {
	r, _, _ := purego.SyscallN(l.flagsFn)
	return ulongResult(r)
}

// initReserved returns abimod_init_reserved(): the string C_Initialize
// found in pReserved, and false if it got none.
func (l *abimodLib) initReserved() (string, bool) {
	r, _, _ := purego.SyscallN(l.reservedFn)
	return abiCString(r), r != 0
}

func (l *abimodLib) setFault(f uintptr) { purego.SyscallN(l.setFaultFn, f) }

// count returns abimod_count(what), a count of calls since the library
// was loaded.
func (l *abimodLib) count(what uintptr) uint64 {
	r, _, _ := purego.SyscallN(l.countFn, what)
	return ulongResult(r)
}

// fault switches on a hostile behaviour for the rest of the test.
func (l *abimodLib) fault(t *testing.T, f uintptr) {
	t.Cleanup(func() { l.setFault(0) })
	l.setFault(f)
}

// session opens a read-write session with the token; at the end of the
// test every session is closed, which also logs out and ends any
// operation left active.
func (l *abimodLib) session(t *testing.T) ck.SessionHandle {
	t.Helper()
	s, err := l.m.OpenSession(abiSlotToken, ck.CKF_RW_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := l.m.CloseAllSessions(abiSlotToken); err != nil {
			t.Errorf("CloseAllSessions: %v", err)
		}
	})
	return s
}

// abiCString reads a NUL-terminated string the module owns.
func abiCString(p uintptr) string {
	if p == 0 {
		return ""
	}
	base := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	n := 0
	for n < 4096 && *(*byte)(unsafe.Add(base, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(base), n))
}

func TestAbimodInterface(t *testing.T) {
	m := abimod(t).m

	// Open took the newest interface from C_GetInterfaceList.
	assert.Equal(t, ck.Interface{Name: "PKCS 11", Version: ck.Version{Major: 3, Minor: 2}}, m.Interface())

	list, err := m.GetInterfaceList()
	require.NoError(t, err)
	assert.Equal(t, []ck.Interface{
		{Name: "PKCS 11", Version: ck.Version{Major: 3, Minor: 2}},
		{Name: "PKCS 11", Version: ck.Version{Major: 3, Minor: 0}},
	}, list)

	for _, c := range []struct {
		name    string
		version *ck.Version
		want    ck.Version
	}{
		{"PKCS 11", &ck.Version{Major: 3, Minor: 0}, ck.Version{Major: 3, Minor: 0}},
		{"PKCS 11", &ck.Version{Major: 3, Minor: 2}, ck.Version{Major: 3, Minor: 2}},
		{"PKCS 11", nil, ck.Version{Major: 3, Minor: 2}},
		{"", nil, ck.Version{Major: 3, Minor: 2}}, // the module's default
	} {
		iface, err := m.GetInterface(c.name, c.version, 0)
		require.NoError(t, err, "GetInterface(%q, %v)", c.name, c.version)
		assert.Equal(t, ck.Interface{Name: "PKCS 11", Version: c.want}, iface, "GetInterface(%q, %v)", c.name, c.version)
	}
	_, err = m.GetInterface("PKCS 11", &ck.Version{Major: 2, Minor: 40}, 0)
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
	_, err = m.GetInterface("PKCS 11", nil, ck.CKF_INTERFACE_FORK_SAFE)
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
	_, err = m.GetInterface("Vendor", nil, 0)
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)

	v, err := m.GetFunctionList()
	require.NoError(t, err)
	assert.Equal(t, ck.Version{Major: 2, Minor: 40}, v)
}

func TestAbimodInitArgs(t *testing.T) {
	abimod(t)
	for _, c := range []struct {
		name         string
		lib          *abimodLib
		flags        uint64
		reserved     string
		haveReserved bool
	}{
		{"default", abimods.main, uint64(ck.CKF_OS_LOCKING_OK), "", false},
		{"WithInitString", abimods.initStr, uint64(ck.CKF_OS_LOCKING_OK), abiInitString, true},
		{"WithNullInitArgs", abimods.nullArgs, 0, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.flags, c.lib.initFlags(), "flags of C_Initialize")
			reserved, ok := c.lib.initReserved()
			assert.Equal(t, c.haveReserved, ok, "pReserved is not NULL")
			assert.Equal(t, c.reserved, reserved, "pReserved")
			// Open initialized each copy once, and nothing finalized it.
			assert.Equal(t, uint64(1), c.lib.count(countInitialize), "calls of C_Initialize")
			assert.Zero(t, c.lib.count(countFinalize), "calls of C_Finalize")
			// Each copy is a working module on its own.
			info, err := c.lib.m.GetInfo()
			require.NoError(t, err)
			assert.Equal(t, "layout prover", info.LibraryDescription)
		})
	}
}

func TestAbimodStructs(t *testing.T) {
	a := abimod(t)
	m := a.m

	t.Run("GetInfo", func(t *testing.T) {
		info, err := m.GetInfo()
		require.NoError(t, err)
		assert.Equal(t, ck.Info{
			CryptokiVersion:    ck.Version{Major: 3, Minor: 2},
			ManufacturerID:     "purepkcs11 ABI module",
			LibraryDescription: "layout prover",
			LibraryVersion:     ck.Version{Major: 1, Minor: 7},
		}, info)
	})

	t.Run("GetSlotList", func(t *testing.T) {
		all, err := m.GetSlotList(false)
		require.NoError(t, err)
		assert.Equal(t, []ck.SlotID{abiSlotEmpty, abiSlotToken}, all)
		present, err := m.GetSlotList(true)
		require.NoError(t, err)
		assert.Equal(t, []ck.SlotID{abiSlotToken}, present)
	})

	t.Run("GetSlotInfo", func(t *testing.T) {
		si, err := m.GetSlotInfo(abiSlotToken)
		require.NoError(t, err)
		assert.Equal(t, ck.SlotInfo{
			SlotDescription: "ABI slot",
			ManufacturerID:  "purepkcs11",
			Flags:           ck.CKF_TOKEN_PRESENT | ck.CKF_HW_SLOT,
			HardwareVersion: ck.Version{Major: 2, Minor: 3},
			FirmwareVersion: ck.Version{Major: 4, Minor: 5},
		}, si)
		si, err = m.GetSlotInfo(abiSlotEmpty)
		require.NoError(t, err)
		assert.Equal(t, ck.SlotInfo{
			SlotDescription: "ABI empty slot",
			ManufacturerID:  "purepkcs11",
			Flags:           ck.CKF_HW_SLOT | ck.CKF_REMOVABLE_DEVICE,
			HardwareVersion: ck.Version{Major: 0, Minor: 1},
			FirmwareVersion: ck.Version{Major: 0, Minor: 1},
		}, si)
		_, err = m.GetSlotInfo(99)
		assert.ErrorIs(t, err, ck.CKR_SLOT_ID_INVALID)
	})

	t.Run("GetTokenInfo", func(t *testing.T) {
		ti, err := m.GetTokenInfo(abiSlotToken)
		require.NoError(t, err)
		// abimod fills utcTime but has no CKF_CLOCK_ON_TOKEN: UTCTime
		// stays empty, as the library reads the clock only when the
		// token says it has one.
		assert.Equal(t, ck.TokenInfo{
			Label:              "abi-token",
			ManufacturerID:     "purepkcs11",
			Model:              "abimod",
			SerialNumber:       "0123456789abcdef",
			Flags:              ck.CKF_RNG | ck.CKF_LOGIN_REQUIRED | ck.CKF_USER_PIN_INITIALIZED | ck.CKF_TOKEN_INITIALIZED,
			MaxSessionCount:    ck.CK_EFFECTIVELY_INFINITE,
			SessionCount:       ck.CK_UNAVAILABLE_INFORMATION,
			MaxRwSessionCount:  11,
			RwSessionCount:     12,
			MaxPinLen:          13,
			MinPinLen:          4,
			TotalPublicMemory:  0x11111111,
			FreePublicMemory:   ck.CK_UNAVAILABLE_INFORMATION,
			TotalPrivateMemory: 0x22222222,
			FreePrivateMemory:  0x33333333,
			HardwareVersion:    ck.Version{Major: 6, Minor: 7},
			FirmwareVersion:    ck.Version{Major: 8, Minor: 9},
		}, ti)
		_, err = m.GetTokenInfo(abiSlotEmpty)
		assert.ErrorIs(t, err, ck.CKR_TOKEN_NOT_PRESENT)
	})

	t.Run("GetMechanismList", func(t *testing.T) {
		list, err := m.GetMechanismList(abiSlotToken)
		require.NoError(t, err)
		assert.Equal(t, abiMechanisms, list)
		assert.Equal(t, "CKM_VENDOR_DEFINED+0x42", list[len(list)-1].String())
		_, err = m.GetMechanismList(abiSlotEmpty)
		assert.ErrorIs(t, err, ck.CKR_TOKEN_NOT_PRESENT)
	})

	t.Run("GetMechanismInfo", func(t *testing.T) {
		for _, mt := range abiMechanisms {
			info, err := m.GetMechanismInfo(abiSlotToken, mt)
			require.NoError(t, err, "%v", mt)
			assert.Equal(t, ck.MechanismInfo{
				MinKeySize: uint64(mt) & 0xff,
				MaxKeySize: 4096,
				Flags:      ck.CKF_SIGN | ck.CKF_VERIFY | ck.CKF_ENCRYPT,
			}, info, "%v", mt)
		}
		_, err := m.GetMechanismInfo(abiSlotToken, ck.CKM_SHA256)
		assert.ErrorIs(t, err, ck.CKR_MECHANISM_INVALID)
	})

	t.Run("GetSessionInfo", func(t *testing.T) {
		s := a.session(t)
		assert.Equal(t, abiSession, s)
		si, err := m.GetSessionInfo(s)
		require.NoError(t, err)
		assert.Equal(t, ck.SessionInfo{
			SlotID:      abiSlotToken,
			State:       ck.CKS_RW_USER_FUNCTIONS,
			Flags:       ck.CKF_RW_SESSION | ck.CKF_SERIAL_SESSION,
			DeviceError: 0x77,
		}, si)
		_, err = m.GetSessionInfo(s + 1)
		assert.ErrorIs(t, err, ck.CKR_SESSION_HANDLE_INVALID)
		_, err = m.OpenSession(abiSlotEmpty, 0)
		assert.ErrorIs(t, err, ck.CKR_TOKEN_NOT_PRESENT)
	})

	t.Run("Login", func(t *testing.T) {
		s := a.session(t)
		err := m.Login(s, ck.CKU_USER, []byte("0000"))
		require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
		assert.Contains(t, err.Error(), "C_Login")
		assert.NotContains(t, err.Error(), "0000")
		assert.ErrorIs(t, m.Login(s, ck.CKU_SO, []byte(abiUserPIN)), ck.CKR_PIN_INCORRECT)

		require.NoError(t, m.Login(s, ck.CKU_USER, []byte(abiUserPIN)))
		assert.ErrorIs(t, m.Login(s, ck.CKU_USER, []byte(abiUserPIN)), ck.CKR_USER_ALREADY_LOGGED_IN)
		require.NoError(t, m.Logout(s))
		assert.ErrorIs(t, m.Logout(s), ck.CKR_USER_NOT_LOGGED_IN)
	})
}

// An abiOp starts an operation with a mechanism and returns what the
// module produced.
type abiOp func(m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism) (any, error)

// abiSign signs empty data: abimod refuses a NULL pData, so this also
// shows that empty input goes out as a valid pointer.
func abiSign(m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism) (any, error) {
	if err := m.SignInit(s, mech, abiKey); err != nil {
		return nil, err
	}
	return m.Sign(s, nil)
}

func abiEncryptInit(m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism) (any, error) {
	return nil, m.EncryptInit(s, mech, abiKey)
}

func abiDerive(m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism) (any, error) {
	return m.DeriveKey(s, mech, abiKey, []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_SECRET_KEY),
		ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_AES),
		ck.MustAttribute(ck.CKA_VALUE_LEN, 32),
	})
}

func abiWrap(m *pkcs11.Module, s ck.SessionHandle, mech ck.Mechanism) (any, error) {
	return m.WrapKey(s, mech, abiKey, abiKey+1)
}

// abiECPoint is the peer's public data abimod expects for ECDH.
func abiECPoint() []byte { return append([]byte{0x04}, abiSeq(1, 64)...) }

func TestAbimodMechanismParams(t *testing.T) {
	a := abimod(t)
	gcm := &ck.GCMParams{IV: abiSeq(0xA0, 12), IVBits: 96, AAD: []byte("aad"), TagBits: 128}
	for _, c := range []struct {
		name string
		mech ck.Mechanism
		op   abiOp
		want any
	}{
		{"RSA-PSS", ck.NewMechanism(ck.CKM_RSA_PKCS_PSS, &ck.RSAPKCSPSSParams{
			HashAlg: ck.CKM_SHA256, MGF: ck.CKG_MGF1_SHA256, SaltLength: 32,
		}), abiSign, []byte("sig!")},
		{"RSA-OAEP", ck.NewMechanism(ck.CKM_RSA_PKCS_OAEP, &ck.RSAPKCSOAEPParams{
			HashAlg: ck.CKM_SHA384, MGF: ck.CKG_MGF1_SHA384, Label: []byte("label"),
		}), abiEncryptInit, nil},
		{"ECDH1-derive", ck.NewMechanism(ck.CKM_ECDH1_DERIVE, &ck.ECDH1DeriveParams{
			KDF: ck.CKD_NULL, PublicData: abiECPoint(),
		}), abiDerive, abiDerived},
		{"EdDSA", ck.NewMechanism(ck.CKM_EDDSA, &ck.EdDSAParams{
			PreHash: true, Context: []byte("ctx"),
		}), abiSign, []byte("sig!")},
		{"AES-GCM", ck.NewMechanism(ck.CKM_AES_GCM, gcm), abiEncryptInit, nil},
		{"AES-CCM", ck.NewMechanism(ck.CKM_AES_CCM, &ck.CCMParams{
			DataLen: 64, Nonce: abiSeq(1, 7), AAD: []byte("hdr"), MACLen: 16,
		}), abiEncryptInit, nil},
		{"AES-CTR", ck.NewMechanism(ck.CKM_AES_CTR, &ck.AESCTRParams{
			CounterBits: 32, CounterBlock: [16]byte(abiSeq(0, 16)),
		}), abiEncryptInit, nil},
		{"AES-CBC-PAD", ck.NewMechanism(ck.CKM_AES_CBC_PAD, ck.IV(abiSeq(0x10, 16))),
			abiEncryptInit, nil},
		{"AES-key-wrap", ck.NewMechanism(ck.CKM_AES_KEY_WRAP, ck.IV(slices.Repeat([]byte{0xA6}, 8))),
			abiWrap, abiSeq(0xC0, abiWrappedLen)},
		{"vendor-no-parameter", ck.NewMechanism(abiVendorMech, nil), abiSign, []byte("sig!")},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := a.session(t)
			got, err := c.op(a.m, s, c.mech)
			require.NoError(t, err, "abimod: %s", a.lastError())
			assert.Empty(t, a.lastError())
			if c.want != nil {
				assert.Equal(t, c.want, got)
			}
		})
	}

	// The IV abimod generated during C_EncryptInit came back into the
	// caller's slice.
	assert.Equal(t, abiSeq(0xB0, 12), gcm.IV, "GCMParams.IV after EncryptInit")
}

// TestAbimodMechanismParamsChecked shows that the checks of abimod are
// live: one wrong field is refused and named.
func TestAbimodMechanismParamsChecked(t *testing.T) {
	a := abimod(t)
	point := abiECPoint()
	point[5] ^= 0xff
	for _, c := range []struct {
		name  string
		mech  ck.Mechanism
		op    abiOp
		field string
	}{
		{"RSA-PSS", ck.NewMechanism(ck.CKM_RSA_PKCS_PSS, &ck.RSAPKCSPSSParams{
			HashAlg: ck.CKM_SHA256, MGF: ck.CKG_MGF1_SHA256, SaltLength: 20,
		}), abiSign, "CK_RSA_PKCS_PSS_PARAMS.sLen"},
		{"RSA-OAEP", ck.NewMechanism(ck.CKM_RSA_PKCS_OAEP, &ck.RSAPKCSOAEPParams{
			HashAlg: ck.CKM_SHA384, MGF: ck.CKG_MGF1_SHA384, Label: []byte("lable"),
		}), abiEncryptInit, "CK_RSA_PKCS_OAEP_PARAMS.pSourceData[3]"},
		{"ECDH1-derive", ck.NewMechanism(ck.CKM_ECDH1_DERIVE, &ck.ECDH1DeriveParams{
			KDF: ck.CKD_NULL, PublicData: point,
		}), abiDerive, "CK_ECDH1_DERIVE_PARAMS.pPublicData[5]"},
		{"AES-GCM", ck.NewMechanism(ck.CKM_AES_GCM, &ck.GCMParams{
			IV: abiSeq(0xA0, 12), AAD: []byte("aad"), TagBits: 96,
		}), abiEncryptInit, "CK_GCM_PARAMS.ulTagBits"},
		{"AES-CBC-PAD", ck.NewMechanism(ck.CKM_AES_CBC_PAD, ck.IV(abiSeq(0x10, 8))),
			abiEncryptInit, "CK_MECHANISM.ulParameterLen of CKM_AES_CBC_PAD"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := a.session(t)
			_, err := c.op(a.m, s, c.mech)
			assert.ErrorIs(t, err, ck.CKR_MECHANISM_PARAM_INVALID)
			assert.Contains(t, a.lastError(), c.field)
		})
	}
}

// abiTemplate is the template abimod's C_CreateObject and
// C_FindObjectsInit expect.
func abiTemplate() []ck.Attribute {
	return []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_DATA),
		ck.MustAttribute(ck.CKA_TOKEN, true),
		ck.MustAttribute(ck.CKA_LABEL, "tmpl"),
		ck.MustAttribute(ck.CKA_VALUE, []byte{}), // length 0, pointer not NULL
	}
}

func TestAbimodTemplates(t *testing.T) {
	a := abimod(t)
	m := a.m
	reversed := abiTemplate()
	slices.Reverse(reversed)
	for name, tmpl := range map[string][]ck.Attribute{"canonical": abiTemplate(), "reversed": reversed} {
		t.Run(name, func(t *testing.T) {
			s := a.session(t)
			h, err := m.CreateObject(s, tmpl)
			require.NoError(t, err, "abimod: %s", a.lastError())
			assert.Equal(t, abiCreated, h)

			require.NoError(t, m.FindObjectsInit(s, tmpl), "abimod: %s", a.lastError())
			found, err := m.FindObjects(s, 10)
			require.NoError(t, err)
			assert.Equal(t, []ck.ObjectHandle{abiCreated}, found)
			found, err = m.FindObjects(s, 10)
			require.NoError(t, err)
			assert.Empty(t, found)
			require.NoError(t, m.FindObjectsFinal(s))
		})
	}

	t.Run("empty", func(t *testing.T) {
		s := a.session(t)
		require.NoError(t, m.FindObjectsInit(s, nil))
		found, err := m.FindObjects(s, 1)
		require.NoError(t, err)
		assert.Equal(t, []ck.ObjectHandle{abiObject}, found)
		require.NoError(t, m.FindObjectsFinal(s))
	})

	// A wrong value is refused, and abimod names it: the checks are live.
	for _, c := range []struct {
		name  string
		attr  ck.Attribute
		field string
	}{
		{"label", ck.MustAttribute(ck.CKA_LABEL, "tmpX"), "(CKA_LABEL).pValue[3]"},
		{"token", ck.MustAttribute(ck.CKA_TOKEN, false), "(CKA_TOKEN).pValue[0]"},
		{"class", ck.MustAttribute(ck.CKA_CLASS, ck.CKO_SECRET_KEY), "(CKA_CLASS).pValue[0]"},
		{"value", ck.MustAttribute(ck.CKA_VALUE, []byte{0}), "(CKA_VALUE).ulValueLen"},
	} {
		t.Run("wrong-"+c.name, func(t *testing.T) {
			s := a.session(t)
			tmpl := abiTemplate()
			for i := range tmpl {
				if tmpl[i].Type == c.attr.Type {
					tmpl[i] = c.attr
				}
			}
			_, err := m.CreateObject(s, tmpl)
			assert.ErrorIs(t, err, ck.CKR_TEMPLATE_INCONSISTENT)
			assert.Contains(t, a.lastError(), c.field)
			assert.ErrorIs(t, m.FindObjectsInit(s, tmpl), ck.CKR_TEMPLATE_INCONSISTENT)
		})
	}
}

func TestAbimodGetAttributeValue(t *testing.T) {
	a := abimod(t)
	m := a.m
	unknown := ck.CKA_VENDOR_DEFINED + 0x99
	types := []ck.AttributeType{ck.CKA_LABEL, ck.CKA_CLASS, ck.CKA_VALUE, unknown, ck.CKA_VALUE_LEN, ck.CKA_START_DATE}

	check := func(t *testing.T, res []pkcs11.AttributeResult) {
		t.Helper()
		require.Len(t, res, len(types))
		for i, r := range res {
			assert.Equal(t, types[i], r.Type, "result %d", i)
		}

		label, class, value, unk, valueLen, start := res[0], res[1], res[2], res[3], res[4], res[5]
		require.NoError(t, label.Err)
		assert.Equal(t, "abi-object", label.Text())

		require.NoError(t, class.Err)
		c, err := class.ULong()
		require.NoError(t, err)
		assert.Equal(t, ck.CKO_SECRET_KEY, ck.ObjectClass(c))

		assert.ErrorIs(t, value.Err, ck.CKR_ATTRIBUTE_SENSITIVE)
		assert.Nil(t, value.Value)
		assert.ErrorIs(t, unk.Err, ck.CKR_ATTRIBUTE_TYPE_INVALID)
		assert.Nil(t, unk.Value)

		require.NoError(t, valueLen.Err)
		n, err := valueLen.ULong()
		require.NoError(t, err)
		assert.Equal(t, uint64(32), n)

		require.NoError(t, start.Err)
		d, err := start.Date()
		require.NoError(t, err)
		assert.Equal(t, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), d)
	}

	t.Run("sizes-first", func(t *testing.T) {
		s := a.session(t)
		res, err := m.GetAttributeValue(s, abiObject, types)
		require.NoError(t, err)
		check(t, res)
	})
	// Hints below the longest value (CKA_LABEL, 10 bytes) leave some
	// values to a second round; from 10 on, every value fits at once.
	for _, hint := range []int{1, 4, 8, 9, 10, 64} {
		t.Run(fmt.Sprintf("hint-%d", hint), func(t *testing.T) {
			s := a.session(t)
			res, err := m.GetAttributeValueHint(s, abiObject, types, hint)
			require.NoError(t, err)
			check(t, res)
		})
	}

	t.Run("bad-object", func(t *testing.T) {
		s := a.session(t)
		_, err := m.GetAttributeValue(s, abiObject+1, types)
		assert.ErrorIs(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	})
}

// TestAbimodHostile switches on abimod's faults one at a time: the library
// must answer with a clear error, never trust a length beyond its buffer,
// and never panic.
func TestAbimodHostile(t *testing.T) {
	a := abimod(t)
	m := a.m

	t.Run("slot-list-grows", func(t *testing.T) {
		a.fault(t, faultSlotListGrows)
		for _, present := range []bool{false, true} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := m.GetSlotList(present)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, pkcs11.ErrBadOutput)
			assert.Contains(t, err.Error(), "C_GetSlotList")
			assert.Contains(t, err.Error(), fmt.Sprint(abiSlotListLie))
			// Trusting the count would take 1000000 CK_ULONGs, 4 or 8 MB.
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
		}
	})

	t.Run("sign-long", func(t *testing.T) {
		a.fault(t, faultSignLong)
		s := a.session(t)
		mech := ck.NewMechanism(abiVendorMech, nil)

		require.NoError(t, m.SignInit(s, mech, abiKey), "abimod: %s", a.lastError())
		sig, err := m.Sign(s, []byte("data"))
		require.ErrorIs(t, err, pkcs11.ErrBadOutput)
		assert.Contains(t, err.Error(), "C_Sign")
		assert.Nil(t, sig)

		require.NoError(t, m.SignInit(s, mech, abiKey), "abimod: %s", a.lastError())
		sig, err = m.SignInto(s, []byte("data"), make([]byte, 8))
		assert.ErrorIs(t, err, pkcs11.ErrBadOutput)
		assert.Nil(t, sig)
	})

	t.Run("unknown-rv", func(t *testing.T) {
		a.fault(t, faultInfoRV)
		_, err := m.GetInfo()
		require.ErrorIs(t, err, abiUnknownRV)
		assert.NotErrorIs(t, err, pkcs11.ErrBadOutput)
		var pe *pkcs11.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "C_GetInfo", pe.Func)
		assert.Equal(t, abiUnknownRV, pe.RV)
		// CKR_VENDOR_DEFINED is 0x80000000: the rest is the offset.
		assert.Equal(t, "CKR_VENDOR_DEFINED+0x4e534351", abiUnknownRV.String())
		assert.Contains(t, err.Error(), "CKR_VENDOR_DEFINED+0x4e534351")
		assert.Contains(t, err.Error(), "C_GetInfo")
	})

	t.Run("label-long", func(t *testing.T) {
		a.fault(t, faultLabelLong)
		s := a.session(t)
		types := []ck.AttributeType{ck.CKA_CLASS, ck.CKA_LABEL}
		res, err := m.GetAttributeValue(s, abiObject, types)
		require.ErrorIs(t, err, pkcs11.ErrBadOutput)
		assert.Contains(t, err.Error(), "CKA_LABEL")
		assert.Nil(t, res)
		for _, hint := range []int{4, 64} {
			res, err = m.GetAttributeValueHint(s, abiObject, types, hint)
			assert.ErrorIs(t, err, pkcs11.ErrBadOutput, "hint %d", hint)
			assert.Nil(t, res, "hint %d", hint)
		}
	})

	// Every fault is off again: the module answers normally.
	t.Run("recovered", func(t *testing.T) {
		_, err := m.GetInfo()
		require.NoError(t, err)
		slots, err := m.GetSlotList(false)
		require.NoError(t, err)
		assert.Equal(t, []ck.SlotID{abiSlotEmpty, abiSlotToken}, slots)
	})
}
