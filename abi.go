package pkcs11

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/abi"
)

// ptrSize is the width of a C pointer, which is Go's uintptr everywhere.
const ptrSize = unsafe.Sizeof(uintptr(0))

// ulongMask has every bit of the platform's CK_ULONG set: it is the C value
// of CK_UNAVAILABLE_INFORMATION, and masks a CK_RV out of a return register.
const ulongMask = ^uint64(0) >> (64 - 8*ulongSize)

// platform is this build's ABI; abi_unix.go and abi_windows.go set the
// facts it is made of.
var platform = abi.Platform{
	GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
	ULong: int(ulongSize), Ptr: int(ptrSize), Packed: packed,
}

// Offsets and sizes of the structs the library reads and writes, computed
// once from the platform. Names follow the C fields.
var (
	sizeInfo, offInfoManuf, offInfoFlags, offInfoDesc, offInfoLibVersion                    int
	sizeSlotInfo, offSlotManuf, offSlotFlags, offSlotHW, offSlotFW                          int
	sizeTokenInfo, offTokManuf, offTokModel, offTokSerial, offTokFlags, offTokHW, offTokUTC int
	sizeSessionInfo, offSessState, offSessFlags, offSessErr                                 int
	sizeMechInfo, offMechInfoMax, offMechInfoFlags                                          int
	sizeAttr, offAttrValue, offAttrLen                                                      int
	sizeMech, offMechParam, offMechParamLen                                                 int
	sizeInterface, offIfaceList, offIfaceFlags                                              int
	sizeInitArgs, offInitFlags, offInitReserved                                             int
	offFuncList                                                                             int
)

func init() {
	s := platform.Struct("CK_INFO")
	sizeInfo, offInfoManuf, offInfoFlags = s.Size, s.Off("manufacturerID"), s.Off("flags")
	offInfoDesc, offInfoLibVersion = s.Off("libraryDescription"), s.Off("libraryVersion")
	s = platform.Struct("CK_SLOT_INFO")
	sizeSlotInfo, offSlotManuf, offSlotFlags = s.Size, s.Off("manufacturerID"), s.Off("flags")
	offSlotHW, offSlotFW = s.Off("hardwareVersion"), s.Off("firmwareVersion")
	s = platform.Struct("CK_TOKEN_INFO")
	sizeTokenInfo, offTokManuf, offTokModel = s.Size, s.Off("manufacturerID"), s.Off("model")
	offTokSerial, offTokFlags, offTokHW = s.Off("serialNumber"), s.Off("flags"), s.Off("hardwareVersion")
	offTokUTC = s.Off("utcTime")
	s = platform.Struct("CK_SESSION_INFO")
	sizeSessionInfo, offSessState, offSessFlags, offSessErr = s.Size, s.Off("state"), s.Off("flags"), s.Off("ulDeviceError")
	s = platform.Struct("CK_MECHANISM_INFO")
	sizeMechInfo, offMechInfoMax, offMechInfoFlags = s.Size, s.Off("ulMaxKeySize"), s.Off("flags")
	s = platform.Struct("CK_ATTRIBUTE")
	sizeAttr, offAttrValue, offAttrLen = s.Size, s.Off("pValue"), s.Off("ulValueLen")
	s = platform.Struct("CK_MECHANISM")
	sizeMech, offMechParam, offMechParamLen = s.Size, s.Off("pParameter"), s.Off("ulParameterLen")
	s = platform.Struct("CK_INTERFACE")
	sizeInterface, offIfaceList, offIfaceFlags = s.Size, s.Off("pFunctionList"), s.Off("flags")
	s = platform.Struct("CK_C_INITIALIZE_ARGS")
	sizeInitArgs, offInitFlags, offInitReserved = s.Size, s.Off("flags"), s.Off("pReserved")
	offFuncList = platform.Struct("CK_FUNCTION_LIST").Off("C_Initialize")
}

// getUL reads a CK_ULONG at the start of b.
func getUL(b []byte) uint64 {
	if ulongSize == 4 {
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

// putUL writes a CK_ULONG at the start of b. The caller has checked that v
// fits (see fitsUL).
func putUL(b []byte, v uint64) {
	if ulongSize == 4 {
		binary.NativeEndian.PutUint32(b, uint32(v))
		return
	}
	binary.NativeEndian.PutUint64(b, v)
}

// getCount reads a CK_ULONG that may be CK_UNAVAILABLE_INFORMATION and
// widens that value to ck.CK_UNAVAILABLE_INFORMATION.
func getCount(b []byte) uint64 {
	v := getUL(b)
	if v == ulongMask {
		return ck.CK_UNAVAILABLE_INFORMATION
	}
	return v
}

// fitsUL reports whether v can be passed as a CK_ULONG.
func fitsUL(v uint64) bool { return v <= ulongMask }

func getPtr(b []byte) uintptr {
	if ptrSize == 4 {
		return uintptr(binary.NativeEndian.Uint32(b))
	}
	return uintptr(binary.NativeEndian.Uint64(b))
}

func putPtr(b []byte, p uintptr) {
	if ptrSize == 4 {
		binary.NativeEndian.PutUint32(b, uint32(p))
		return
	}
	binary.NativeEndian.PutUint64(b, uint64(p))
}

func getVersion(b []byte) ck.Version { return ck.Version{Major: b[0], Minor: b[1]} }

// padded decodes a blank-padded fixed-size text field. Some modules pad
// with NUL bytes instead of blanks; both are trimmed.
func padded(b []byte) string {
	n := len(b)
	for n > 0 && (b[n-1] == ' ' || b[n-1] == 0) {
		n--
	}
	return string(b[:n])
}

// cmem returns n bytes of C memory at p as a slice, for reading structs a
// module owns (function lists, interface names). The memory must stay
// valid while the slice is used.
func cmem(p uintptr, n int) []byte {
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}

// cstring reads a NUL-terminated C string of at most max bytes.
func cstring(p uintptr, max int) string {
	if p == 0 {
		return ""
	}
	for n := 0; n < max; n++ {
		if cmem(p+uintptr(n), 1)[0] == 0 {
			return string(cmem(p, n))
		}
	}
	return string(cmem(p, max))
}

// zero is the valid, non-NULL pointer passed for empty input: PKCS#11
// modules may reject NULL even with a zero length.
var zero [8]byte

// bytesPtr returns a pointer to b's first byte, or to a static zero byte
// when b is empty. Use it inside the call expression.
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return unsafe.Pointer(&zero[0])
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// outPtr is bytesPtr for output buffers: NULL when b is nil, which asks
// the module for the length only.
func outPtr(b []byte) unsafe.Pointer {
	if b == nil {
		return nil
	}
	return bytesPtr(b)
}

// arena is one pointer-free Go allocation that holds argument structs and
// the bytes they point to. Every pointer the module follows points into
// the same allocation, which the call keeps alive and in place, so no Go
// pointer is hidden from the collector in memory it does not track.
//
// Small arenas come from a pool, so that most calls allocate nothing.
type arena struct {
	buf   []byte
	n     int // bytes reserved by alloc
	size  int // bytes asked for by newArena, which a module may write
	small *[arenaSmall]byte
}

const arenaSmall = 1024

var arenaPool = sync.Pool{New: func() any { return new([arenaSmall]byte) }}

// arenaSlack is room added to every arena on top of the size asked for,
// for the alignment padding of the allocations in it.
const arenaSlack = 64

// newArena returns an arena with room for size bytes.
func newArena(size int) arena {
	a := arena{size: size}
	if size <= arenaSmall-arenaSlack {
		a.small = arenaPool.Get().(*[arenaSmall]byte)
		a.buf = a.small[:]
	} else {
		a.buf = make([]byte, size+arenaSlack)
	}
	return a
}

// free returns a pooled arena's memory. Its contents are cleared first:
// the next user expects zeroed memory, and arguments may have held PINs or
// key material.
func (a *arena) free() {
	if a.small != nil {
		clear(a.small[:max(a.n, a.size)])
		arenaPool.Put(a.small)
		a.small = nil
	}
	a.buf = nil
}

// alloc reserves n bytes aligned to 8 and returns their offset.
func (a *arena) alloc(n int) int {
	off := (a.n + 7) &^ 7
	if off+n > len(a.buf) {
		panic(fmt.Sprintf("pkcs11: internal error: arena of %d bytes overflows at %d+%d", len(a.buf), off, n))
	}
	a.n = off + n
	return off
}

// addr returns the C address of offset off.
func (a *arena) addr(off int) uintptr { return uintptr(unsafe.Pointer(&a.buf[off])) }

// ptr returns offset off as a pointer, for use in a call expression.
func (a *arena) ptr(off int) unsafe.Pointer { return unsafe.Pointer(&a.buf[off]) }

// bytes copies b into the arena and returns its C address; an empty b
// gets a valid address too.
func (a *arena) bytes(b []byte) uintptr {
	off := a.alloc(max(len(b), 1))
	copy(a.buf[off:], b)
	return a.addr(off)
}

// round8 rounds n up to a multiple of 8, the arena's alignment.
func round8(n int) int { return (n + 7) &^ 7 }
