//go:build darwin || freebsd || linux || netbsd || windows

package abi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The tests in this file load testdata/abimod, built by a C compiler for
// the running platform, and compare its layouts and its answers with
// abi.go. Only loadAbimod and sym, in cabi_unix_test.go and
// cabi_windows_test.go, know how the library is made and loaded.

// cLayout is the layout table abimod_layout reports.
type cLayout struct {
	structs map[string]*Struct
	order   []string
	facts   map[string]int
}

// readLayout calls abimod_layout, first to learn the size of the table.
func readLayout(t *testing.T, h uintptr) string {
	fn := sym(t, h, "abimod_layout")
	r, _, _ := purego.SyscallN(fn, 0, 0)
	need := -int(int32(r))
	if need <= 0 {
		t.Fatalf("abimod_layout(NULL, 0) = %d, want a negative length", int32(r))
	}
	buf := make([]byte, need)
	r, _, _ = purego.SyscallN(fn, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	n := int(int32(r))
	if n < 0 || n >= len(buf) || buf[n] != 0 {
		t.Fatalf("abimod_layout(buf, %d) = %d", len(buf), n)
	}
	return string(buf[:n])
}

// parseLayout parses the table format documented at abimod_layout.
func parseLayout(table string) (*cLayout, error) {
	l := &cLayout{structs: map[string]*Struct{}, facts: map[string]int{}}
	for i, line := range strings.Split(table, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		var nums []int
		for _, s := range f[min(2, len(f)):] {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("layout line %d: %q: %v", i+1, line, err)
			}
			nums = append(nums, n)
		}
		switch {
		case len(f) == 3 && f[0] == "=":
			if _, dup := l.facts[f[1]]; dup {
				return nil, fmt.Errorf("layout line %d: fact %s twice", i+1, f[1])
			}
			l.facts[f[1]] = nums[0]
		case len(f) == 4 && f[1] == "-":
			if _, dup := l.structs[f[0]]; dup {
				return nil, fmt.Errorf("layout line %d: struct %s twice", i+1, f[0])
			}
			l.structs[f[0]] = &Struct{Name: f[0], Size: nums[0], Align: nums[1]}
			l.order = append(l.order, f[0])
		case len(f) == 4:
			s := l.structs[f[0]]
			if s == nil {
				return nil, fmt.Errorf("layout line %d: field of %s before the struct", i+1, f[0])
			}
			s.Fields = append(s.Fields, Field{Name: f[1], Offset: nums[0], Size: nums[1]})
		default:
			return nil, fmt.Errorf("layout line %d: malformed: %q", i+1, line)
		}
	}
	return l, nil
}

// Function pointers in each function list: PKCS#11 2.40 has 68
// functions, 3.0 adds 24 and 3.2 adds 12.
var functionCounts = map[string]int{
	"CK_FUNCTION_LIST":     68,
	"CK_FUNCTION_LIST_3_0": 92,
	"CK_FUNCTION_LIST_3_2": 104,
}

// functionListSize is the sizeof of a function list with n functions.
// The model in abi.go stops at C_Initialize, so its Size covers only that
// prefix; the rest are n-1 more pointers of the same size.
func functionListSize(p Platform, n int) int {
	s := p.Struct("CK_FUNCTION_LIST")
	size := s.Off("C_Initialize") + n*p.Ptr
	return (size + s.Align - 1) &^ (s.Align - 1)
}

// TestCLayout compares every struct and field of abi.go with the layout
// a real C compiler computes from the OASIS headers for this platform.
func TestCLayout(t *testing.T) {
	p, ok := Lookup(runtime.GOOS, runtime.GOARCH)
	if !ok {
		t.Skipf("%s/%s is not a platform of abi.go", runtime.GOOS, runtime.GOARCH)
	}
	h := loadAbimod(t)
	c, err := parseLayout(readLayout(t, h))
	if err != nil {
		t.Fatal(err)
	}

	facts := []struct {
		name string
		want int
	}{
		{"sizeof(CK_ULONG)", p.ULong},
		{"sizeof(CK_VOID_PTR)", p.Ptr},
		{"packed", map[bool]int{false: 0, true: 1}[p.Packed]},
		{"functions(CK_FUNCTION_LIST)", functionCounts["CK_FUNCTION_LIST"]},
		{"functions(CK_FUNCTION_LIST_3_0)", functionCounts["CK_FUNCTION_LIST_3_0"]},
		{"functions(CK_FUNCTION_LIST_3_2)", functionCounts["CK_FUNCTION_LIST_3_2"]},
		{"sizeof(CK_FUNCTION_LIST_3_0)", functionListSize(p, functionCounts["CK_FUNCTION_LIST_3_0"])},
		{"sizeof(CK_FUNCTION_LIST_3_2)", functionListSize(p, functionCounts["CK_FUNCTION_LIST_3_2"])},
	}
	for _, f := range facts {
		got, ok := c.facts[f.name]
		if !ok {
			t.Errorf("C reports no fact %s", f.name)
		} else if got != f.want {
			t.Errorf("%s: C says %d, Go expects %d", f.name, got, f.want)
		}
	}
	if len(c.facts) != len(facts) {
		t.Errorf("C reports %d facts, the test knows %d", len(c.facts), len(facts))
	}

	goStructs := p.Structs()
	for _, g := range goStructs {
		cs, ok := c.structs[g.Name]
		if !ok {
			t.Errorf("%s: in abi.go, missing from abimod_layout", g.Name)
			continue
		}
		wantSize := g.Size
		if g.Name == "CK_FUNCTION_LIST" {
			wantSize = functionListSize(p, functionCounts[g.Name])
		}
		if cs.Size != wantSize || cs.Align != g.Align {
			t.Errorf("%s: C sizeof %d alignof %d, Go %d and %d",
				g.Name, cs.Size, cs.Align, wantSize, g.Align)
		}
		for _, gf := range g.Fields {
			i := slices.IndexFunc(cs.Fields, func(f Field) bool { return f.Name == gf.Name })
			if i < 0 {
				t.Errorf("%s.%s: in abi.go, missing from abimod_layout", g.Name, gf.Name)
				continue
			}
			cf := cs.Fields[i]
			if cf.Offset != gf.Offset || cf.Size != gf.Size {
				t.Errorf("%s.%s: C offset %d size %d, Go offset %d size %d",
					g.Name, gf.Name, cf.Offset, cf.Size, gf.Offset, gf.Size)
			}
		}
		for _, cf := range cs.Fields {
			if !slices.ContainsFunc(g.Fields, func(f Field) bool { return f.Name == cf.Name }) {
				t.Errorf("%s.%s: in abimod_layout, not in abi.go", g.Name, cf.Name)
			}
		}
	}
	for _, name := range c.order {
		if !slices.ContainsFunc(goStructs, func(s Struct) bool { return s.Name == name }) {
			t.Errorf("%s: in abimod_layout, not in abi.go", name)
		}
	}
}

// TestParseLayout checks the parser on the malformed lines it must refuse.
func TestParseLayout(t *testing.T) {
	good := "# comment\n= packed 0\nCK_VERSION - 2 1\nCK_VERSION major 0 1\n"
	l, err := parseLayout(good)
	if err != nil {
		t.Fatal(err)
	}
	if v := l.structs["CK_VERSION"]; v == nil || v.Size != 2 || len(v.Fields) != 1 || l.facts["packed"] != 0 {
		t.Errorf("parseLayout(%q) = %+v", good, l)
	}
	for _, bad := range []string{
		"CK_VERSION - 2\n",
		"CK_VERSION - two 1\n",
		"CK_VERSION major 0 1\n",
		"CK_VERSION - 2 1\nCK_VERSION - 2 1\n",
		"= packed\n",
		"= packed x\n",
		"CK_VERSION - 2 1 9\n",
	} {
		if _, err := parseLayout(bad); err == nil {
			t.Errorf("parseLayout(%q) succeeded, want an error", bad)
		}
	}
}

// PKCS#11 numbers the module test uses, from pkcs11t.h.
const (
	ckaClass, ckaToken, ckaLabel, ckaValue = 0x0, 0x1, 0x3, 0x11
	ckaStartDate, ckaValueLen              = 0x110, 0x161

	ckmRSAPKCSPSS, ckmRSAPKCSOAEP, ckmECDH1Derive, ckmEdDSA = 0x0d, 0x09, 0x1050, 0x1057
	ckmAESCTR, ckmAESCBCPad, ckmAESGCM, ckmAESCCM           = 0x1086, 0x1085, 0x1087, 0x1088
	ckmAESKeyWrap, ckmVendorDefined                         = 0x2109, 0x80000000
	ckmSHA256, ckmSHA384                                    = 0x250, 0x260

	ckrOK, ckrArgumentsBad, ckrAttributeSensitive = 0x0, 0x7, 0x11
	ckrAttributeTypeInvalid, ckrMechParamInvalid  = 0x12, 0x71
	ckrPINIncorrect, ckrTemplateInconsistent      = 0xa0, 0xd1
	ckrBufferTooSmall                             = 0x150

	ckfOSLockingOK, ckfRWSession, ckfSerialSession = 0x2, 0x2, 0x4
)

// mod drives abimod through purego, encoding and decoding every struct
// at the offsets abi.go computes for this platform.
type mod struct {
	t   *testing.T
	h   uintptr
	p   Platform
	pin runtime.Pinner
}

func newMod(t *testing.T) *mod {
	p, ok := Lookup(runtime.GOOS, runtime.GOARCH)
	if !ok {
		t.Skipf("%s/%s is not a platform of abi.go", runtime.GOOS, runtime.GOARCH)
	}
	m := &mod{t: t, h: loadAbimod(t), p: p}
	t.Cleanup(m.pin.Unpin)
	return m
}

// ulmask cuts a register down to a CK_ULONG.
func (m *mod) ulmask(r uintptr) uint64 {
	if m.p.ULong == 4 {
		return uint64(uint32(r))
	}
	return uint64(r)
}

// call calls a function of the module and returns its CK_RV.
func (m *mod) call(name string, args ...uintptr) uint64 {
	m.t.Helper()
	r, _, _ := purego.SyscallN(sym(m.t, m.h, name), args...)
	return m.ulmask(r)
}

// must calls a function of the module and fails the test unless it
// returns want.
func (m *mod) must(want uint64, name string, args ...uintptr) {
	m.t.Helper()
	if rv := m.call(name, args...); rv != want {
		m.t.Fatalf("%s = %#x, want %#x (%s)", name, rv, want, m.lastError())
	}
}

// buf returns a zeroed, pinned buffer of n bytes (at least one).
func (m *mod) buf(n int) []byte {
	b := make([]byte, max(n, 1))[:n]
	m.pin.Pin(&b[:1][0])
	return b
}

// bytes returns a pinned copy of b.
func (m *mod) bytes(b []byte) []byte {
	c := m.buf(len(b))
	copy(c, b)
	return c
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[:1][0])) }

// ulongBuf returns a pinned buffer holding one CK_ULONG.
func (m *mod) ulongBuf(v uint64) []byte {
	b := m.buf(m.p.ULong)
	m.putUint(b, v)
	return b
}

func (m *mod) putUint(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(b, v)
	default:
		m.t.Fatalf("no integer of %d bytes", len(b))
	}
}

func (m *mod) uint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	m.t.Fatalf("no integer of %d bytes", len(b))
	return 0
}

// field returns the bytes of the named field of struct s within b.
func field(s Struct, b []byte, name string) []byte {
	for _, f := range s.Fields {
		if f.Name == name {
			return b[f.Offset : f.Offset+f.Size]
		}
	}
	panic("no field " + s.Name + "." + name)
}

// cptr is a pointer field's target; nil encodes as NULL.
type cptr []byte

// encode lays out one struct: integer values go into scalar fields,
// []byte into array fields, cptr as the address of a pinned copy.
func (m *mod) encode(name string, vals map[string]any) []byte {
	s := m.p.Struct(name)
	b := m.buf(s.Size)
	for k, v := range vals {
		f := field(s, b, k)
		switch v := v.(type) {
		case int:
			m.putUint(f, uint64(v))
		case uint64:
			m.putUint(f, v)
		case []byte:
			copy(f, v)
		case cptr:
			if v != nil {
				m.putUint(f, uint64(addr(m.bytes(v))))
			}
		default:
			m.t.Fatalf("%s.%s: cannot encode %T", name, k, v)
		}
	}
	return b
}

// cmem reads n bytes of C memory at p.
func cmem(p uintptr, n int) []byte {
	ptr := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	return slices.Clone(unsafe.Slice((*byte)(ptr), n))
}

// cstring reads the NUL-terminated C string at p.
func cstring(p uintptr) string {
	ptr := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	n := 0
	for *(*byte)(unsafe.Add(ptr, n)) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(ptr), n))
}

func (m *mod) lastError() string {
	r, _, _ := purego.SyscallN(sym(m.t, m.h, "abimod_last_error"))
	return cstring(r)
}

func (m *mod) setFault(f uintptr) {
	purego.SyscallN(sym(m.t, m.h, "abimod_set_fault"), f)
}

// padded returns s blank padded to n bytes.
func padded(s string, n int) []byte {
	return []byte(s + strings.Repeat(" ", n-len(s)))
}

// expect checks the named fields of struct s in b: an int against a
// scalar field, a []byte against the field's bytes.
func (m *mod) expect(s Struct, b []byte, want map[string]any) {
	m.t.Helper()
	for name, w := range want {
		f := field(s, b, name)
		switch w := w.(type) {
		case int:
			if got := m.uint(f); got != uint64(w) {
				m.t.Errorf("%s.%s = %#x, want %#x", s.Name, name, got, w)
			}
		case uint64:
			if got := m.uint(f); got != w {
				m.t.Errorf("%s.%s = %#x, want %#x", s.Name, name, got, w)
			}
		case []byte:
			if !slices.Equal(f, w) {
				m.t.Errorf("%s.%s = %q, want %q", s.Name, name, f, w)
			}
		}
	}
}

// TestAbimodModule drives the fake module through the calls it
// implements, every struct encoded and decoded with abi.go's offsets: the
// module checks what Go sends, and the test checks what the module
// writes.
func TestAbimodModule(t *testing.T) {
	m := newMod(t)
	p := m.p
	unavailable := m.ulmask(^uintptr(0)) // CK_UNAVAILABLE_INFORMATION

	// The function lists and interfaces, before C_Initialize.
	list := m.buf(p.Ptr)
	m.must(ckrOK, "C_GetFunctionList", addr(list))
	fl := p.Struct("CK_FUNCTION_LIST")
	first := fl.Off("C_Initialize")
	l240 := cmem(uintptr(m.uint(list)), functionListSize(p, 68))
	if !slices.Equal(l240[:2], []byte{2, 40}) {
		t.Errorf("CK_FUNCTION_LIST.version = %v, want 2.40", l240[:2])
	}
	if got, want := m.uint(l240[first:first+p.Ptr]), sym(t, m.h, "C_Initialize"); got != uint64(want) {
		t.Errorf("CK_FUNCTION_LIST.C_Initialize = %#x, want %#x", got, want)
	}
	last := first + 67*p.Ptr
	if got, want := m.uint(l240[last:last+p.Ptr]), sym(t, m.h, "C_WaitForSlotEvent"); got != uint64(want) {
		t.Errorf("CK_FUNCTION_LIST.C_WaitForSlotEvent = %#x, want %#x", got, want)
	}

	count := m.ulongBuf(0)
	m.must(ckrOK, "C_GetInterfaceList", 0, addr(count))
	if n := m.uint(count); n != 2 {
		t.Fatalf("C_GetInterfaceList count = %d, want 2", n)
	}
	is := p.Struct("CK_INTERFACE")
	ifaces := m.buf(2 * is.Size)
	m.must(ckrOK, "C_GetInterfaceList", addr(ifaces), addr(count))
	for i, want := range []struct {
		version []byte
		list    string
		last    string // the last function of the list
	}{
		{[]byte{3, 2}, "CK_FUNCTION_LIST_3_2", "C_UnwrapKeyAuthenticated"},
		{[]byte{3, 0}, "CK_FUNCTION_LIST_3_0", "C_MessageVerifyFinal"},
	} {
		it := ifaces[i*is.Size : (i+1)*is.Size]
		if name := cstring(uintptr(m.uint(field(is, it, "pInterfaceName")))); name != "PKCS 11" {
			t.Errorf("interface %d: name %q", i, name)
		}
		m.expect(is, it, map[string]any{"flags": 0})
		n := functionCounts[want.list]
		body := cmem(uintptr(m.uint(field(is, it, "pFunctionList"))), functionListSize(p, n))
		if !slices.Equal(body[:2], want.version) {
			t.Errorf("interface %d: version %v, want %v", i, body[:2], want.version)
		}
		last := first + (n-1)*p.Ptr
		if got, fn := m.uint(body[last:last+p.Ptr]), sym(t, m.h, want.last); got != uint64(fn) {
			t.Errorf("%s.%s = %#x, want %#x", want.list, want.last, got, fn)
		}
	}
	iface := m.buf(p.Ptr)
	m.must(ckrOK, "C_GetInterface", addr(m.bytes([]byte("PKCS 11\x00"))),
		addr(m.bytes([]byte{3, 0})), addr(iface), 0)
	it := cmem(uintptr(m.uint(iface)), is.Size)
	if v := cmem(uintptr(m.uint(field(is, it, "pFunctionList"))), 2); !slices.Equal(v, []byte{3, 0}) {
		t.Errorf("C_GetInterface(3.0) gave version %v", v)
	}

	// C_Initialize with arguments the module reads back.
	initArgs := m.encode("CK_C_INITIALIZE_ARGS", map[string]any{
		"flags":     ckfOSLockingOK,
		"pReserved": cptr("conf=abi\x00"),
	})
	m.must(ckrOK, "C_Initialize", addr(initArgs))
	t.Cleanup(func() { m.must(ckrOK, "C_Finalize", 0) })
	if f := m.call("abimod_init_flags"); f != ckfOSLockingOK {
		t.Errorf("abimod_init_flags() = %#x, want CKF_OS_LOCKING_OK", f)
	}
	r, _, _ := purego.SyscallN(sym(t, m.h, "abimod_init_reserved"))
	if r == 0 || cstring(r) != "conf=abi" {
		t.Errorf("abimod_init_reserved() did not return conf=abi")
	}

	info := p.Struct("CK_INFO")
	b := m.buf(info.Size)
	m.must(ckrOK, "C_GetInfo", addr(b))
	m.expect(info, b, map[string]any{
		"cryptokiVersion":    []byte{3, 2},
		"manufacturerID":     padded("purepkcs11 ABI module", 32),
		"flags":              0,
		"libraryDescription": padded("layout prover", 32),
		"libraryVersion":     []byte{1, 7},
	})

	// The size-query convention of C_GetSlotList.
	m.putUint(count, 0)
	m.must(ckrOK, "C_GetSlotList", 0, 0, addr(count))
	if n := m.uint(count); n != 2 {
		t.Errorf("C_GetSlotList(NULL) count = %d, want 2", n)
	}
	slots := m.buf(2 * p.ULong)
	m.putUint(count, 1)
	m.must(ckrBufferTooSmall, "C_GetSlotList", 0, addr(slots), addr(count))
	m.must(ckrOK, "C_GetSlotList", 0, addr(slots), addr(count))
	if a, b := m.uint(slots[:p.ULong]), m.uint(slots[p.ULong:]); a != 1 || b != 7 {
		t.Errorf("C_GetSlotList = %d, %d, want 1, 7", a, b)
	}
	m.must(ckrOK, "C_GetSlotList", 1, addr(slots), addr(count))
	if n, s := m.uint(count), m.uint(slots[:p.ULong]); n != 1 || s != 7 {
		t.Errorf("C_GetSlotList(tokenPresent) = %d slots, first %d; want slot 7", n, s)
	}

	si := p.Struct("CK_SLOT_INFO")
	b = m.buf(si.Size)
	m.must(ckrOK, "C_GetSlotInfo", 7, addr(b))
	m.expect(si, b, map[string]any{
		"slotDescription": padded("ABI slot", 64),
		"manufacturerID":  padded("purepkcs11", 32),
		"flags":           0x1 | 0x4,
		"hardwareVersion": []byte{2, 3},
		"firmwareVersion": []byte{4, 5},
	})

	ti := p.Struct("CK_TOKEN_INFO")
	b = m.buf(ti.Size)
	m.must(ckrOK, "C_GetTokenInfo", 7, addr(b))
	m.expect(ti, b, map[string]any{
		"label":                padded("abi-token", 32),
		"manufacturerID":       padded("purepkcs11", 32),
		"model":                padded("abimod", 16),
		"serialNumber":         []byte("0123456789abcdef"),
		"flags":                0x1 | 0x4 | 0x8 | 0x400,
		"ulMaxSessionCount":    0,
		"ulSessionCount":       unavailable,
		"ulMaxRwSessionCount":  11,
		"ulRwSessionCount":     12,
		"ulMaxPinLen":          13,
		"ulMinPinLen":          4,
		"ulTotalPublicMemory":  0x11111111,
		"ulFreePublicMemory":   unavailable,
		"ulTotalPrivateMemory": 0x22222222,
		"ulFreePrivateMemory":  0x33333333,
		"hardwareVersion":      []byte{6, 7},
		"firmwareVersion":      []byte{8, 9},
		"utcTime":              []byte("2026120312345600"),
	})

	m.putUint(count, 0)
	m.must(ckrOK, "C_GetMechanismList", 7, 0, addr(count))
	if n := m.uint(count); n != 10 {
		t.Errorf("C_GetMechanismList count = %d, want 10", n)
	}
	mi := p.Struct("CK_MECHANISM_INFO")
	b = m.buf(mi.Size)
	m.must(ckrOK, "C_GetMechanismInfo", 7, ckmAESGCM, addr(b))
	m.expect(mi, b, map[string]any{"ulMinKeySize": 0x87, "ulMaxKeySize": 4096, "flags": 0x800 | 0x2000 | 0x100})

	session := m.ulongBuf(0)
	m.must(ckrOK, "C_OpenSession", 7, ckfSerialSession|ckfRWSession, 0, 0, addr(session))
	h := uintptr(m.uint(session))
	if h != 0x51 {
		t.Fatalf("C_OpenSession handle = %#x, want 0x51", h)
	}
	ss := p.Struct("CK_SESSION_INFO")
	b = m.buf(ss.Size)
	m.must(ckrOK, "C_GetSessionInfo", h, addr(b))
	m.expect(ss, b, map[string]any{"slotID": 7, "state": 3, "flags": 0x2 | 0x4, "ulDeviceError": 0x77})

	m.must(ckrPINIncorrect, "C_Login", h, 1, addr(m.bytes([]byte("4321"))), 4)
	m.must(ckrOK, "C_Login", h, 1, addr(m.bytes([]byte("1234"))), 4)

	t.Run("mechanisms", func(t *testing.T) { m.t = t; testMechanisms(m, h) })
	t.Run("attributes", func(t *testing.T) { m.t = t; testAttributes(m, h, unavailable) })
	t.Run("templates", func(t *testing.T) { m.t = t; testTemplates(m, h) })
	t.Run("faults", func(t *testing.T) { m.t = t; testFaults(m, h) })
	m.t = t
}

// mechanism encodes a CK_MECHANISM with a parameter of len(param) bytes.
func (m *mod) mechanism(typ uint64, param []byte) []byte {
	var pp any = cptr(nil)
	if param != nil {
		pp = cptr(param)
	}
	return m.encode("CK_MECHANISM", map[string]any{
		"mechanism": typ, "pParameter": pp, "ulParameterLen": len(param),
	})
}

func seq(first byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = first + byte(i)
	}
	return b
}

func testMechanisms(m *mod, h uintptr) {
	t := m.t
	point := seq(0, 65)
	point[0] = 0x04
	cases := []struct {
		fn    string
		mech  uint64
		param []byte
	}{
		{"C_EncryptInit", ckmRSAPKCSOAEP, m.encode("CK_RSA_PKCS_OAEP_PARAMS", map[string]any{
			"hashAlg": ckmSHA384, "mgf": 3, "source": 1,
			"pSourceData": cptr("label"), "ulSourceDataLen": 5,
		})},
		{"C_EncryptInit", ckmEdDSA, m.encode("CK_EDDSA_PARAMS", map[string]any{
			"phFlag": 1, "ulContextDataLen": 3, "pContextData": cptr("ctx"),
		})},
		{"C_EncryptInit", ckmAESCCM, m.encode("CK_CCM_PARAMS", map[string]any{
			"ulDataLen": 64, "pNonce": cptr(seq(1, 7)), "ulNonceLen": 7,
			"pAAD": cptr("hdr"), "ulAADLen": 3, "ulMACLen": 16,
		})},
		{"C_EncryptInit", ckmAESCTR, m.encode("CK_AES_CTR_PARAMS", map[string]any{
			"ulCounterBits": 32, "cb": seq(0, 16),
		})},
		{"C_EncryptInit", ckmAESCBCPad, seq(0x10, 16)},
		{"C_EncryptInit", ckmAESKeyWrap, bytes.Repeat([]byte{0xa6}, 8)},
		{"C_EncryptInit", ckmVendorDefined + 0x42, nil},
		{"C_WrapKey", ckmAESKeyWrap, bytes.Repeat([]byte{0xa6}, 8)},
	}
	for _, c := range cases {
		mech := m.mechanism(c.mech, c.param)
		args := []uintptr{h, addr(mech), 0x100}
		if c.fn == "C_WrapKey" {
			args = append(args, 0x101, 0, addr(m.ulongBuf(0)))
		}
		if rv := m.call(c.fn, args...); rv != ckrOK {
			t.Errorf("%s(%#x) = %#x: %s", c.fn, c.mech, rv, m.lastError())
		}
	}

	// CKM_AES_GCM: the module replaces the IV.
	iv := m.bytes(seq(0xa0, 12))
	gcm := m.encode("CK_GCM_PARAMS", map[string]any{
		"ulIvLen": 12, "ulIvBits": 96, "pAAD": cptr("aad"), "ulAADLen": 3, "ulTagBits": 128,
	})
	m.putUint(field(m.p.Struct("CK_GCM_PARAMS"), gcm, "pIv"), uint64(addr(iv)))
	m.must(ckrOK, "C_EncryptInit", h, addr(m.mechanism(ckmAESGCM, gcm)), 0x100)
	if !slices.Equal(iv, seq(0xb0, 12)) {
		t.Errorf("GCM IV after C_EncryptInit = % x, want b0..bb", iv)
	}

	// A wrong field is named in the module's message.
	copy(iv, seq(0xa0, 12))
	m.putUint(field(m.p.Struct("CK_GCM_PARAMS"), gcm, "ulTagBits"), 96)
	m.must(ckrMechParamInvalid, "C_EncryptInit", h, addr(m.mechanism(ckmAESGCM, gcm)), 0x100)
	if msg := m.lastError(); !strings.Contains(msg, "CK_GCM_PARAMS.ulTagBits") {
		t.Errorf("last error %q does not name CK_GCM_PARAMS.ulTagBits", msg)
	}

	// CKM_ECDH1_DERIVE through C_DeriveKey.
	ecdh := m.encode("CK_ECDH1_DERIVE_PARAMS", map[string]any{
		"kdf": 1, "ulPublicDataLen": 65, "pPublicData": cptr(point),
	})
	key := m.ulongBuf(0)
	m.must(ckrOK, "C_DeriveKey", h, addr(m.mechanism(ckmECDH1Derive, ecdh)), 0x100, 0, 0, addr(key))
	if k := m.uint(key); k != 0x99 {
		t.Errorf("C_DeriveKey key = %#x, want 0x99", k)
	}

	// CKM_RSA_PKCS_PSS through C_SignInit, then C_Sign's size query.
	pss := m.encode("CK_RSA_PKCS_PSS_PARAMS", map[string]any{"hashAlg": ckmSHA256, "mgf": 2, "sLen": 32})
	m.must(ckrOK, "C_SignInit", h, addr(m.mechanism(ckmRSAPKCSPSS, pss)), 0x100)
	data := m.bytes([]byte("data"))
	siglen := m.ulongBuf(0)
	m.must(ckrOK, "C_Sign", h, addr(data), 4, 0, addr(siglen))
	sig := m.buf(int(m.uint(siglen)))
	m.putUint(siglen, 1)
	m.must(ckrBufferTooSmall, "C_Sign", h, addr(data), 4, addr(sig), addr(siglen))
	m.must(ckrOK, "C_Sign", h, addr(data), 4, addr(sig), addr(siglen))
	if string(sig[:m.uint(siglen)]) != "sig!" {
		t.Errorf("C_Sign = %q, want sig!", sig)
	}
}

func testAttributes(m *mod, h uintptr, unavailable uint64) {
	t := m.t
	as := m.p.Struct("CK_ATTRIBUTE")
	types := []uint64{ckaLabel, ckaClass, ckaValue, 0x8000abcd, ckaValueLen, ckaStartDate}
	tmpl := m.buf(len(types) * as.Size)
	attr := func(i int) []byte { return tmpl[i*as.Size : (i+1)*as.Size] }
	for i, typ := range types {
		m.putUint(field(as, attr(i), "type"), typ)
	}
	m.must(ckrAttributeSensitive, "C_GetAttributeValue", h, 0x100, addr(tmpl), uintptr(len(types)))
	lens := []uint64{10, uint64(m.p.ULong), unavailable, unavailable, uint64(m.p.ULong), 8}
	for i := range types {
		if got := m.uint(field(as, attr(i), "ulValueLen")); got != lens[i] {
			t.Errorf("attribute %#x: length %#x, want %#x", types[i], got, lens[i])
		}
	}

	values := make([][]byte, len(types))
	for i, n := range lens {
		if n == unavailable {
			n = 16
		}
		values[i] = m.buf(int(n))
		m.putUint(field(as, attr(i), "pValue"), uint64(addr(values[i])))
		m.putUint(field(as, attr(i), "ulValueLen"), n)
	}
	m.must(ckrAttributeSensitive, "C_GetAttributeValue", h, 0x100, addr(tmpl), uintptr(len(types)))
	if s := string(values[0]); s != "abi-object" {
		t.Errorf("CKA_LABEL = %q", s)
	}
	if c := m.uint(values[1]); c != 4 {
		t.Errorf("CKA_CLASS = %#x, want CKO_SECRET_KEY", c)
	}
	if n := m.uint(values[4]); n != 32 {
		t.Errorf("CKA_VALUE_LEN = %d, want 32", n)
	}
	if d := string(values[5]); d != "20261203" {
		t.Errorf("CKA_START_DATE = %q", d)
	}
	for _, i := range []int{2, 3} {
		if got := m.uint(field(as, attr(i), "ulValueLen")); got != unavailable {
			t.Errorf("attribute %#x: length %#x, want CK_UNAVAILABLE_INFORMATION", types[i], got)
		}
	}

	// A short buffer: CKR_BUFFER_TOO_SMALL and an unavailable length.
	m.putUint(field(as, attr(0), "ulValueLen"), 3)
	m.must(ckrBufferTooSmall, "C_GetAttributeValue", h, 0x100, addr(tmpl), 1)
	if got := m.uint(field(as, attr(0), "ulValueLen")); got != unavailable {
		t.Errorf("short CKA_LABEL: length %#x, want CK_UNAVAILABLE_INFORMATION", got)
	}
	m.must(ckrAttributeTypeInvalid, "C_GetAttributeValue", h, 0x100, addr(tmpl[3*as.Size:]), 1)
}

// template encodes the canonical template of C_CreateObject.
func (m *mod) template(tokenLen int) []byte {
	as := m.p.Struct("CK_ATTRIBUTE")
	vals := []struct {
		typ   int
		value []byte
	}{
		{ckaLabel, []byte("tmpl")},
		{ckaClass, make([]byte, m.p.ULong)}, // CKO_DATA is 0
		{ckaToken, []byte{1}},
		{ckaValue, []byte{}},
	}
	tmpl := m.buf(len(vals) * as.Size)
	for i, v := range vals {
		a := tmpl[i*as.Size : (i+1)*as.Size]
		n := len(v.value)
		if v.typ == ckaToken {
			n = tokenLen
		}
		m.putUint(field(as, a, "type"), uint64(v.typ))
		m.putUint(field(as, a, "pValue"), uint64(addr(m.bytes(v.value))))
		m.putUint(field(as, a, "ulValueLen"), uint64(n))
	}
	return tmpl
}

func testTemplates(m *mod, h uintptr) {
	t := m.t
	obj := m.ulongBuf(0)
	m.must(ckrOK, "C_CreateObject", h, addr(m.template(1)), 4, addr(obj))
	if o := m.uint(obj); o != 0x200 {
		t.Errorf("C_CreateObject handle = %#x, want 0x200", o)
	}
	m.must(ckrTemplateInconsistent, "C_CreateObject", h, addr(m.template(4)), 4, addr(obj))
	if msg := m.lastError(); !strings.Contains(msg, "CKA_TOKEN") || !strings.Contains(msg, "ulValueLen") {
		t.Errorf("last error %q does not name CKA_TOKEN's ulValueLen", msg)
	}

	m.must(ckrOK, "C_FindObjectsInit", h, addr(m.template(1)), 4)
	found := m.buf(4 * m.p.ULong)
	n := m.ulongBuf(0)
	m.must(ckrOK, "C_FindObjects", h, addr(found), 4, addr(n))
	if m.uint(n) != 1 || m.uint(found[:m.p.ULong]) != 0x200 {
		t.Errorf("C_FindObjects found %d objects, first %#x", m.uint(n), m.uint(found[:m.p.ULong]))
	}
	m.must(ckrOK, "C_FindObjectsFinal", h)
}

func testFaults(m *mod, h uintptr) {
	t := m.t
	defer m.setFault(0)

	m.setFault(3)
	if rv := m.call("C_GetInfo", addr(m.buf(m.p.Struct("CK_INFO").Size))); rv != 0xce534351 {
		t.Errorf("fault 3: C_GetInfo = %#x", rv)
	}

	m.setFault(1)
	count := m.ulongBuf(0)
	m.must(ckrOK, "C_GetSlotList", 0, 0, addr(count))
	slots := m.buf(int(m.uint(count)) * m.p.ULong)
	m.must(ckrBufferTooSmall, "C_GetSlotList", 0, addr(slots), addr(count))

	m.setFault(2)
	pss := m.encode("CK_RSA_PKCS_PSS_PARAMS", map[string]any{"hashAlg": ckmSHA256, "mgf": 2, "sLen": 32})
	m.must(ckrOK, "C_SignInit", h, addr(m.mechanism(ckmRSAPKCSPSS, pss)), 0x100)
	sig, siglen := m.buf(2), m.ulongBuf(2)
	m.must(ckrOK, "C_Sign", h, addr(m.bytes([]byte("x"))), 1, addr(sig), addr(siglen))
	if n := m.uint(siglen); n <= 2 || string(sig) != "si" {
		t.Errorf("fault 2: C_Sign wrote %q and length %d", sig, n)
	}

	m.setFault(4)
	as := m.p.Struct("CK_ATTRIBUTE")
	label := m.buf(10)
	a := m.encode("CK_ATTRIBUTE", map[string]any{"type": ckaLabel, "ulValueLen": 10})
	m.putUint(field(as, a, "pValue"), uint64(addr(label)))
	m.must(ckrOK, "C_GetAttributeValue", h, 0x100, addr(a), 1)
	if n := m.uint(field(as, a, "ulValueLen")); n <= 10 || string(label) != "abi-object" {
		t.Errorf("fault 4: CKA_LABEL %q, length %d", label, n)
	}
}
