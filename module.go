package pkcs11

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/loader"
)

// Module is a loaded and initialized PKCS#11 module. Its methods are safe
// for concurrent use: the module is initialized with OS locking. A
// session is not: use one session from one goroutine at a time (package
// session has a pool for sharing a token).
//
// Every method calls the C function of the same name with the C_ prefix
// dropped. A function the module's interface lacks returns an error
// matching ck.CKR_FUNCTION_NOT_SUPPORTED (and errors.ErrUnsupported)
// without calling anything.
type Module struct {
	inst   *instance
	fns    *[numFuncs]uintptr
	log    *slog.Logger
	closed atomic.Bool
}

// instance is one loaded library, shared by every Module opened from the
// same file.
type instance struct {
	key      string // the resolved path
	lib      *loader.Library
	fns      [numFuncs]uintptr
	iface    ck.Interface
	initKey  string // the initialization options, to detect a conflict
	initArgs []byte // kept alive: modules may keep pReserved
	ownsInit bool   // C_Initialize returned CKR_OK for us
	refs     int
	// params holds, per session and *Init function, the memory of the last
	// mechanism parameter that points to more data. PKCS#11 lets a module
	// forget the parameter when the Init call returns, but opencryptoki
	// 3.8 copies the CK_RSA_PKCS_OAEP_PARAMS and reads the label it points
	// to only in C_Decrypt; the memory must still hold it then.
	paramsMu sync.Mutex
	params   map[paramKey][]byte
	// waiting counts blocking C_WaitForSlotEvent calls in flight: C_Finalize
	// wakes them, and the library is not unloaded under their feet.
	waiting atomic.Int32
	// calls is held for reading by every call into the module and for
	// writing by C_Initialize and C_Finalize: PKCS#11 leaves undefined a
	// C_Finalize made while other threads are in calls (SoftHSM crashes),
	// except those blocked in C_WaitForSlotEvent, which hold nothing and
	// which C_Finalize wakes.
	calls sync.RWMutex
}

type paramKey struct {
	s ck.SessionHandle
	f funcIndex
}

// keepParams keeps buf, the memory of the mechanism parameter passed to
// the Init function f on session s, until the next Init of the same kind
// on s or the session's end. With ok false (the Init failed) it only
// drops what was kept.
func (inst *instance) keepParams(s ck.SessionHandle, f funcIndex, buf []byte, ok bool) {
	inst.paramsMu.Lock()
	defer inst.paramsMu.Unlock()
	k := paramKey{s, f}
	if !ok {
		delete(inst.params, k)
		return
	}
	if inst.params == nil {
		inst.params = make(map[paramKey][]byte)
	}
	inst.params[k] = buf
}

// dropParams forgets the parameters kept for session s, or for every
// session when all is set.
func (inst *instance) dropParams(s ck.SessionHandle, all bool) {
	inst.paramsMu.Lock()
	defer inst.paramsMu.Unlock()
	for k := range inst.params {
		if all || k.s == s {
			delete(inst.params, k)
		}
	}
}

// unloadGrace is how long Close waits for blocked C_WaitForSlotEvent calls
// to return after C_Finalize before it unloads the library. Past it, the
// library stays loaded: a leak is better than running unmapped code.
const unloadGrace = 2 * time.Second

var registry struct {
	sync.Mutex
	m map[string]*instance
}

// Option configures Open.
type Option func(*options)

type options struct {
	flags      ck.InitializeFlags
	reserved   []byte
	nullArgs   bool
	logger     *slog.Logger
	flagsGiven bool
}

// WithInitializeFlags sets the flags of CK_C_INITIALIZE_ARGS instead of
// the default CKF_OS_LOCKING_OK. Passing 0 tells the module that the
// application does not use threads; only do that if it is true.
func WithInitializeFlags(f ck.InitializeFlags) Option {
	return func(o *options) { o.flags, o.flagsGiven = f, true }
}

// WithInitString passes s as the pReserved member of
// CK_C_INITIALIZE_ARGS, as a NUL-terminated string. NSS's softokn needs
// one (configdir='sql:/path' ...); most modules ignore it.
func WithInitString(s string) Option {
	return func(o *options) { o.reserved = []byte(s) }
}

// WithNullInitArgs calls C_Initialize with NULL arguments, for old modules
// that reject a CK_C_INITIALIZE_ARGS. It overrides the other
// initialization options.
func WithNullInitArgs() Option {
	return func(o *options) { o.nullArgs = true }
}

// WithLogger traces every call of this Module at debug level through l:
// the C function, handles, lengths, mechanism, return value and duration.
// PINs are never logged, nor any data or key material.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Open loads the PKCS#11 module at path, selects the newest interface it
// offers (PKCS#11 3.2, then 3.0, else the 2.x function list) and
// initializes it with CKF_OS_LOCKING_OK unless an option says otherwise.
//
// Opening a file that is already open in this process shares the loaded,
// initialized instance; each Module must be closed, and the module is
// finalized and unloaded when the last one is. If another part of the
// process initialized the module already (C_Initialize returns
// CKR_CRYPTOKI_ALREADY_INITIALIZED), the module is used as it is and
// never finalized by this library.
func Open(path string, opts ...Option) (*Module, error) {
	o := options{flags: ck.CKF_OS_LOCKING_OK}
	for _, opt := range opts {
		opt(&o)
	}
	key := path
	if abs, err := filepath.Abs(path); err == nil {
		key = abs
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			key = real
		}
	}
	initKey := fmt.Sprintf("%v/%x/%v", o.flags, o.reserved, o.nullArgs)

	registry.Lock()
	defer registry.Unlock()
	if inst, ok := registry.m[key]; ok {
		if inst.initKey != initKey {
			return nil, fmt.Errorf("pkcs11: %s is already open with other initialization options", key)
		}
		inst.refs++
		return newModule(inst, o.logger), nil
	}

	lib, err := loader.Open(key)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: %w", err)
	}
	inst := &instance{key: key, lib: lib, initKey: initKey, refs: 1}
	if err := inst.loadFunctions(); err != nil {
		lib.Close()
		return nil, err
	}
	m := newModule(inst, o.logger)
	if err := m.initialize(&o); err != nil {
		lib.Close()
		return nil, err
	}
	if registry.m == nil {
		registry.m = make(map[string]*instance)
	}
	registry.m[key] = inst
	return m, nil
}

func newModule(inst *instance, l *slog.Logger) *Module {
	return &Module{inst: inst, fns: &inst.fns, log: l}
}

// initialize calls C_Initialize.
func (m *Module) initialize(o *options) error {
	var rv ck.RV
	if o.nullArgs {
		rv = m.call1(fnInitialize, 0)
	} else {
		// CK_C_INITIALIZE_ARGS and the init string live in one buffer the
		// instance keeps for its lifetime: a module may hold on to
		// pReserved after C_Initialize returns.
		buf := make([]byte, round8(sizeInitArgs)+len(o.reserved)+1)
		if !fitsUL(uint64(o.flags)) {
			return fmt.Errorf("pkcs11: initialize flags %v do not fit in a CK_ULONG", o.flags)
		}
		putUL(buf[offInitFlags:], uint64(o.flags))
		if o.reserved != nil {
			s := round8(sizeInitArgs)
			copy(buf[s:], o.reserved)
			putPtr(buf[offInitReserved:], uintptr(unsafe.Pointer(&buf[s])))
		}
		m.inst.initArgs = buf
		rv = m.call1(fnInitialize, uintptr(unsafe.Pointer(&buf[0])))
	}
	switch rv {
	case ck.CKR_OK:
		m.inst.ownsInit = true
	case ck.CKR_CRYPTOKI_ALREADY_INITIALIZED:
		// Someone else in this process initialized it: use it, never
		// finalize it.
	case ck.CKR_CANT_LOCK:
		return fmt.Errorf("pkcs11: %s cannot use OS locking (open it with WithInitializeFlags(0) only if the program is single-threaded): %w",
			m.inst.key, check(fnInitialize, rv))
	default:
		return fmt.Errorf("pkcs11: initializing %s: %w", m.inst.key, check(fnInitialize, rv))
	}
	return nil
}

// loadFunctions fills the function table from the newest interface the
// library offers.
func (inst *instance) loadFunctions() error {
	if list, err := inst.lib.Lookup("C_GetInterfaceList"); err == nil {
		if ok, err := inst.fromInterfaceList(list); err != nil || ok {
			return err
		}
	}
	if get, err := inst.lib.Lookup("C_GetInterface"); err == nil {
		if ok, err := inst.fromGetInterface(get); err != nil || ok {
			return err
		}
	}
	get, err := inst.lib.Lookup("C_GetFunctionList")
	if err != nil {
		return fmt.Errorf("pkcs11: %s: %w", inst.key, loader.ErrNotPKCS11)
	}
	var p uintptr
	r, _, _ := rawCall(get, uintptr(unsafe.Pointer(&p)))
	if err := check(fnGetFunctionList, ck.RV(uint64(r)&ulongMask)); err != nil {
		return fmt.Errorf("pkcs11: %s: %w", inst.key, err)
	}
	if p == 0 {
		return fmt.Errorf("pkcs11: %s: C_GetFunctionList returned NULL", inst.key)
	}
	return inst.setTable(p, "PKCS 11", 0)
}

// fromInterfaceList picks the newest "PKCS 11" interface from
// C_GetInterfaceList. It reports false when the list offers none.
func (inst *instance) fromInterfaceList(fn uintptr) (bool, error) {
	var n uint64
	r, _, _ := rawCall(fn, 0, uintptr(unsafe.Pointer(&n)))
	if ck.RV(uint64(r)&ulongMask) != ck.CKR_OK {
		return false, nil
	}
	n &= ulongMask
	if n == 0 || n > 64 {
		return false, nil
	}
	buf := make([]byte, int(n)*sizeInterface)
	cnt := n
	r, _, _ = rawCall(fn, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&cnt)))
	cnt &= ulongMask
	if ck.RV(uint64(r)&ulongMask) != ck.CKR_OK || cnt > n {
		return false, nil
	}
	var best uintptr
	var bestV ck.Version
	var bestFlags uint64
	for i := range int(cnt) {
		e := buf[i*sizeInterface:]
		name := cstring(getPtr(e), 64)
		list := getPtr(e[offIfaceList:])
		if name != "PKCS 11" || list == 0 {
			continue
		}
		v := getVersion(cmem(list, 2))
		if best == 0 || bestV.Less(v) {
			best, bestV, bestFlags = list, v, getUL(e[offIfaceFlags:])
		}
	}
	if best == 0 {
		return false, nil
	}
	return true, inst.setTable(best, "PKCS 11", bestFlags)
}

// fromGetInterface asks C_GetInterface for 3.2, then 3.0, then the
// module's default.
func (inst *instance) fromGetInterface(fn uintptr) (bool, error) {
	name := []byte("PKCS 11\x00")
	for _, v := range []ck.Version{{Major: 3, Minor: 2}, {Major: 3, Minor: 0}} {
		ver := [2]byte{v.Major, v.Minor}
		var p uintptr
		r, _, _ := rawCall(fn, uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(&ver[0])),
			uintptr(unsafe.Pointer(&p)), 0)
		if ck.RV(uint64(r)&ulongMask) == ck.CKR_OK && p != 0 {
			e := cmem(p, sizeInterface)
			if list := getPtr(e[offIfaceList:]); list != 0 {
				return true, inst.setTable(list, "PKCS 11", getUL(e[offIfaceFlags:]))
			}
		}
	}
	return false, nil
}

// setTable copies the function pointers of a function list whose version
// tells its length.
func (inst *instance) setTable(list uintptr, name string, flags uint64) error {
	v := getVersion(cmem(list, 2))
	n := funcs2x
	switch {
	case v.Major > 3 || v.Major == 3 && v.Minor >= 2:
		n = funcs32
	case v.Major == 3:
		n = funcs30
	}
	table := cmem(list+uintptr(offFuncList), n*int(ptrSize))
	for i := range n {
		inst.fns[i] = getPtr(table[i*int(ptrSize):])
	}
	if inst.fns[fnInitialize] == 0 || inst.fns[fnFinalize] == 0 {
		return fmt.Errorf("pkcs11: %s: function list has no C_Initialize or C_Finalize", inst.key)
	}
	inst.iface = ck.Interface{Name: name, Version: v, Flags: ck.InterfaceFlags(flags)}
	return nil
}

// Interface returns the interface in use: its name ("PKCS 11"), the
// version of its function list (3.2, 3.0, or the 2.x version) and flags.
func (m *Module) Interface() ck.Interface { return m.inst.iface }

// Path returns the resolved path of the module's file.
func (m *Module) Path() string { return m.inst.key }

// Close releases this Module. When it is the last Module open on the
// file, the library calls C_Finalize (only if it initialized the module
// itself) and unloads it. Close must not run concurrently with other
// calls on the same Module; calls after Close fail with
// CKR_FUNCTION_NOT_SUPPORTED. Closing twice returns an error.
func (m *Module) Close() error {
	if m.closed.Swap(true) {
		return errors.New("pkcs11: module already closed")
	}
	registry.Lock()
	defer registry.Unlock()
	inst := m.inst
	inst.refs--
	if inst.refs > 0 {
		return nil
	}
	delete(registry.m, inst.key)
	var err error
	if inst.ownsInit {
		inst.calls.Lock()
		r, _, _ := rawCall(inst.fns[fnFinalize], 0)
		inst.calls.Unlock()
		err = check(fnFinalize, ck.RV(uint64(r)&ulongMask))
	}
	for deadline := time.Now().Add(unloadGrace); inst.waiting.Load() > 0; {
		if time.Now().After(deadline) {
			return errors.Join(err, fmt.Errorf("pkcs11: %s left loaded: a C_WaitForSlotEvent call did not return after C_Finalize", inst.key))
		}
		time.Sleep(time.Millisecond)
	}
	return errors.Join(err, inst.lib.Close())
}

// Initialize calls C_Initialize again with the options given to Open, for
// a module that Finalize ended (after a fork, for example). Open already
// initializes: most programs never call this.
func (m *Module) Initialize() error {
	var rv ck.RV
	if b := m.inst.initArgs; b != nil {
		rv = m.call1(fnInitialize, uintptr(unsafe.Pointer(&b[0])))
	} else {
		rv = m.call1(fnInitialize, 0)
	}
	if rv == ck.CKR_OK {
		registry.Lock()
		m.inst.ownsInit = true
		registry.Unlock()
	}
	return check(fnInitialize, rv)
}

// Finalize calls C_Finalize: the module ends every session and forgets
// its state, for every Module sharing this instance. Close does this
// already when the last Module is closed; Finalize is for programs that
// must end the module while keeping it loaded, then call Initialize.
//
// Finalize, Initialize and Close's C_Finalize wait for the calls other
// goroutines have in flight and hold new ones back until they return
// (PKCS#11 does not allow C_Finalize beside other calls, and modules
// crash on it); those then fail with CKR_CRYPTOKI_NOT_INITIALIZED. Only
// blocking WaitForSlotEvent calls are not waited for: C_Finalize wakes
// them.
func (m *Module) Finalize() error {
	rv := m.call1(fnFinalize, 0)
	if rv == ck.CKR_OK {
		registry.Lock()
		m.inst.ownsInit = false
		registry.Unlock()
	}
	return check(fnFinalize, rv)
}

// GetFunctionList calls the module's C_GetFunctionList and returns the
// version of the 2.x-compatible function list it returns. The library
// itself uses the newest interface found at Open (see Interface).
func (m *Module) GetFunctionList() (ck.Version, error) {
	fn, err := m.inst.lib.Lookup("C_GetFunctionList")
	if err != nil {
		return ck.Version{}, &Error{Func: "C_GetFunctionList", RV: ck.CKR_FUNCTION_NOT_SUPPORTED}
	}
	a := newArena(8)
	defer a.free()
	r, _, _ := rawCall(fn, uintptr(a.ptr(0)))
	if err := check(fnGetFunctionList, ck.RV(uint64(r)&ulongMask)); err != nil {
		return ck.Version{}, err
	}
	p := getPtr(a.buf)
	if p == 0 {
		return ck.Version{}, badOutput(fnGetFunctionList, "NULL function list")
	}
	return getVersion(cmem(p, 2)), nil
}
