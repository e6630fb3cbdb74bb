package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// call invokes a function of the module's table. Pointer arguments must be
// converted to uintptr inside the call expression (unsafe.Pointer rule 4):
// the directive below then keeps what they point to alive and in place
// until the call returns.
//
// A function the module's interface lacks returns
// CKR_FUNCTION_NOT_SUPPORTED without any call; so does every function
// after Close.
//
//go:uintptrescapes
func (m *Module) call(f funcIndex, args ...uintptr) ck.RV {
	p := m.fns[f]
	if p == 0 || m.closed.Load() {
		return ck.CKR_FUNCTION_NOT_SUPPORTED
	}
	if m.log == nil {
		r, _, _ := purego.SyscallN(p, args...)
		return ck.RV(uint64(r) & ulongMask)
	}
	start := time.Now()
	r, _, _ := purego.SyscallN(p, args...)
	rv := ck.RV(uint64(r) & ulongMask)
	m.trace(f, args, rv, time.Since(start))
	return rv
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
