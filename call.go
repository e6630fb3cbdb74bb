package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ebitengine/purego"

	"github.com/purepkcs11/pkcs11/ck"
)

// funcIndex is a function's position in CK_FUNCTION_LIST_3_2.
type funcIndex int

// String returns the C name of the function.
func (f funcIndex) String() string { return funcNames[f] }

// argKind tells the tracer how to print an argument.
type argKind uint8

const (
	argSkip      argKind = iota // a pointer to data: not printed
	argSession                  // CK_SESSION_HANDLE
	argSlot                     // CK_SLOT_ID
	argObject                   // CK_OBJECT_HANDLE
	argULong                    // a number: length, count, flags, user type
	argMechanism                // CK_MECHANISM_PTR: the mechanism type is printed
	argMechType                 // CK_MECHANISM_TYPE
	argOutULong                 // CK_ULONG_PTR and handle pointers: printed after the call
	argSecret                   // a PIN or its length: always redacted
)

type argSpec struct {
	name string
	kind argKind
}

// Error is the error returned when a module's function fails: the C
// function and the CK_RV it returned. errors.Is(err, ck.CKR_PIN_INCORRECT)
// and errors.As(err, &rv) both see the RV.
type Error struct {
	Func string // the C function, such as "C_SignInit"
	RV   ck.RV
}

func (e *Error) Error() string { return "pkcs11: " + e.Func + ": " + e.RV.String() }

// Unwrap returns the RV.
func (e *Error) Unwrap() error { return e.RV }

// ErrBadOutput is matched by the errors returned when a module answers
// with a value that cannot be right, such as an output length larger than
// the buffer it was given. Nothing of such output is used.
var ErrBadOutput = errors.New("module returned an invalid result")

func badOutput(f funcIndex, format string, args ...any) error {
	return fmt.Errorf("pkcs11: %v: %w: %s", f, ErrBadOutput, fmt.Sprintf(format, args...))
}

// check turns an RV into nil or an *Error naming the function.
func check(f funcIndex, rv ck.RV) error {
	if rv == ck.CKR_OK {
		return nil
	}
	return &Error{Func: funcNames[f], RV: rv}
}

// maxArgs is the most arguments a Cryptoki function takes
// (C_UnwrapKeyAuthenticated).
const maxArgs = 10

// argBlock holds a call's arguments. Blocks are pooled: where calls go
// through purego.SyscallN (ccall_other.go), it lets its argument slice
// escape, which would cost an allocation per call if the slice were
// built on the caller's stack; the trampoline (ccall_trampoline.go)
// copies the block into a frame of its own.
type argBlock [maxArgs]uintptr

var argPool = sync.Pool{New: func() any { return new(argBlock) }}

// callv invokes function f with the first n arguments of a. A function
// the module's interface lacks returns CKR_FUNCTION_NOT_SUPPORTED without
// any call; so does every function after Close.
func (m *Module) callv(f funcIndex, a *argBlock, n int) ck.RV {
	p := m.fns[f]
	if p == 0 {
		argPool.Put(a)
		return ck.CKR_FUNCTION_NOT_SUPPORTED
	}
	// C_Initialize and C_Finalize run alone; a blocking
	// C_WaitForSlotEvent runs beside them (C_Finalize wakes it); every
	// other call runs beside any but them. The closed check is made
	// under the lock, so that Close, which takes it to finalize, never
	// finalizes under a call of a Module it closed.
	calls := &m.inst.calls
	switch {
	case f == fnInitialize || f == fnFinalize:
		calls.Lock()
		defer calls.Unlock()
	case f == fnWaitForSlotEvent && ck.WaitFlags(a[0])&ck.CKF_DONT_BLOCK == 0:
	default:
		calls.RLock()
		defer calls.RUnlock()
	}
	if m.closed.Load() {
		argPool.Put(a)
		return ck.CKR_FUNCTION_NOT_SUPPORTED
	}
	var start time.Time
	if m.log != nil {
		start = time.Now()
	}
	r := ccall(p, a, n)
	rv := ck.RV(uint64(r) & ulongMask)
	if m.log != nil {
		m.trace(f, a[:n], rv, time.Since(start))
	}
	*a = argBlock{}
	argPool.Put(a)
	return rv
}

// The callN functions call a function of the module's table with N
// arguments. Pointer arguments must be converted to uintptr inside the
// call expression (rule 4 of unsafe.Pointer): the directive then keeps
// what they point to alive and in place until the call returns.

//go:uintptrescapes
func (m *Module) call1(f funcIndex, a1 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0] = a1
	return m.callv(f, a, 1)
}

//go:uintptrescapes
func (m *Module) call2(f funcIndex, a1, a2 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1] = a1, a2
	return m.callv(f, a, 2)
}

//go:uintptrescapes
func (m *Module) call3(f funcIndex, a1, a2, a3 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2] = a1, a2, a3
	return m.callv(f, a, 3)
}

//go:uintptrescapes
func (m *Module) call4(f funcIndex, a1, a2, a3, a4 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2], a[3] = a1, a2, a3, a4
	return m.callv(f, a, 4)
}

//go:uintptrescapes
func (m *Module) call5(f funcIndex, a1, a2, a3, a4, a5 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2], a[3], a[4] = a1, a2, a3, a4, a5
	return m.callv(f, a, 5)
}

//go:uintptrescapes
func (m *Module) call6(f funcIndex, a1, a2, a3, a4, a5, a6 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2], a[3], a[4], a[5] = a1, a2, a3, a4, a5, a6
	return m.callv(f, a, 6)
}

//go:uintptrescapes
func (m *Module) call7(f funcIndex, a1, a2, a3, a4, a5, a6, a7 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2], a[3], a[4], a[5], a[6] = a1, a2, a3, a4, a5, a6, a7
	return m.callv(f, a, 7)
}

//go:uintptrescapes
func (m *Module) call8(f funcIndex, a1, a2, a3, a4, a5, a6, a7, a8 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7] = a1, a2, a3, a4, a5, a6, a7, a8
	return m.callv(f, a, 8)
}

//go:uintptrescapes
func (m *Module) call9(f funcIndex, a1, a2, a3, a4, a5, a6, a7, a8, a9 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8] = a1, a2, a3, a4, a5, a6, a7, a8, a9
	return m.callv(f, a, 9)
}

//go:uintptrescapes
func (m *Module) call10(f funcIndex, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uintptr) ck.RV {
	a := argPool.Get().(*argBlock)
	a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9] = a1, a2, a3, a4, a5, a6, a7, a8, a9, a10
	return m.callv(f, a, 10)
}

// trace logs one call at debug level: the function, its handles, numbers
// and mechanism, its result and how long it took. Secrets are never read:
// a PIN and its length print as "redacted".
func (m *Module) trace(f funcIndex, args []uintptr, rv ck.RV, d time.Duration) {
	ctx := context.Background()
	if !m.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := make([]slog.Attr, 0, len(args)+3)
	attrs = append(attrs, slog.String("func", funcNames[f]))
	for i, a := range args {
		if i >= len(funcArgs[f]) {
			break
		}
		spec := funcArgs[f][i]
		switch spec.kind {
		case argSession, argSlot, argObject, argULong:
			attrs = append(attrs, slog.Uint64(spec.name, uint64(a)&ulongMask))
		case argMechType:
			attrs = append(attrs, slog.String(spec.name, ck.MechanismType(uint64(a)&ulongMask).String()))
		case argMechanism:
			if a != 0 {
				attrs = append(attrs, slog.String(spec.name, ck.MechanismType(getUL(cmem(a, int(ulongSize)))).String()))
			}
		case argOutULong:
			if a != 0 && rv == ck.CKR_OK {
				attrs = append(attrs, slog.Uint64(spec.name, getUL(cmem(a, int(ulongSize)))))
			}
		case argSecret:
			attrs = append(attrs, slog.String(spec.name, "redacted"))
		}
	}
	attrs = append(attrs, slog.String("rv", rv.String()), slog.Duration("duration", d))
	m.log.LogAttrs(ctx, slog.LevelDebug, "pkcs11 call", attrs...)
}

// rawCall calls a C function pointer that is not in the table (the
// C_GetFunctionList family), with the same pointer rules as call.
//
//go:uintptrescapes
func rawCall(fn uintptr, args ...uintptr) (r1, r2, err uintptr) {
	return purego.SyscallN(fn, args...)
}
