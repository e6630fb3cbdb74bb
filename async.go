package pkcs11

import (
	"github.com/purepkcs11/pkcs11/ck"
)

// The asynchronous functions of PKCS#11 3.2 (section 5.22): a module that
// returns CKR_PENDING from a function lets the application collect the
// result later.

// AsyncData is CK_ASYNC_DATA: the result of an asynchronous operation.
type AsyncData struct {
	Version          uint64
	Value            []byte
	Object           ck.ObjectHandle
	AdditionalObject ck.ObjectHandle
}

var lAsync = platform.Struct("CK_ASYNC_DATA")

// cname copies a function name as a NUL-terminated string into a.
func cname(a *arena, name string) uintptr {
	off := a.alloc(len(name) + 1)
	copy(a.buf[off:], name)
	a.buf[off+len(name)] = 0
	return a.addr(off)
}

// AsyncComplete asks whether the asynchronous call of function (a C name
// such as "C_Sign") has completed, and returns its result
// (C_AsyncComplete). valueSize bounds the result's value.
func (m *Module) AsyncComplete(s ck.SessionHandle, function string, valueSize int) (AsyncData, error) {
	if valueSize < 0 || valueSize > maxOutput {
		return AsyncData{}, errorf(fnAsyncComplete, "value size %d out of range", valueSize)
	}
	if err := argsFit(fnAsyncComplete, uint64(s)); err != nil {
		return AsyncData{}, err
	}
	a := newArena(round8(len(function)+1) + round8(lAsync.Size) + round8(max(valueSize, 1)))
	defer a.free()
	name := cname(&a, function)
	d := a.alloc(lAsync.Size)
	v := a.alloc(max(valueSize, 1))
	b := a.buf[d:]
	putUL(b[lAsync.Off("ulVersion"):], 1)
	putPtr(b[lAsync.Off("pValue"):], a.addr(v))
	putUL(b[lAsync.Off("ulValue"):], uint64(valueSize))
	rv := m.call3(fnAsyncComplete, uintptr(s), name, uintptr(a.ptr(d)))
	if err := check(fnAsyncComplete, rv); err != nil {
		return AsyncData{}, err
	}
	n := getUL(b[lAsync.Off("ulValue"):])
	if n > uint64(valueSize) {
		return AsyncData{}, badOutput(fnAsyncComplete, "value of %d bytes in a buffer of %d", n, valueSize)
	}
	return AsyncData{
		Version:          getUL(b[lAsync.Off("ulVersion"):]),
		Value:            append([]byte(nil), a.buf[v:v+int(n)]...),
		Object:           ck.ObjectHandle(getUL(b[lAsync.Off("hObject"):])),
		AdditionalObject: ck.ObjectHandle(getUL(b[lAsync.Off("hAdditionalObject"):])),
	}, nil
}

// AsyncGetID returns the persistent ID of a pending asynchronous call
// (C_AsyncGetID).
func (m *Module) AsyncGetID(s ck.SessionHandle, function string) (uint64, error) {
	if err := argsFit(fnAsyncGetID, uint64(s)); err != nil {
		return 0, err
	}
	a := newArena(round8(len(function)+1) + 8)
	defer a.free()
	name := cname(&a, function)
	id := a.alloc(8)
	rv := m.call3(fnAsyncGetID, uintptr(s), name, uintptr(a.ptr(id)))
	if err := check(fnAsyncGetID, rv); err != nil {
		return 0, err
	}
	return getUL(a.buf[id:]), nil
}

// AsyncJoin attaches to a pending asynchronous call by its persistent ID
// and gives the buffer its result is to be written into (C_AsyncJoin).
// The module writes into data later, so data must stay untouched until
// AsyncComplete reports the call done.
//
// BUG(p11): AsyncJoin hands the module a Go buffer that it writes after
// the call returns; the library keeps no reference to it, so the caller
// must keep data alive until the operation completes.
func (m *Module) AsyncJoin(s ck.SessionHandle, function string, id uint64, data []byte) error {
	if err := argsFit(fnAsyncJoin, uint64(s), id, uint64(len(data))); err != nil {
		return err
	}
	a := newArena(round8(len(function) + 1))
	defer a.free()
	name := cname(&a, function)
	rv := m.call5(fnAsyncJoin, uintptr(s), name, uintptr(id), uintptr(bytesPtr(data)), uintptr(len(data)))
	return check(fnAsyncJoin, rv)
}
