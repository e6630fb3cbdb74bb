//go:build (darwin || freebsd || linux || netbsd) && (amd64 || arm64)

package pkcs11

import "unsafe"

// On 64-bit Unix, calls into the module go through a trampoline of this
// package instead of purego.SyscallN: the trampoline reads the function
// and its arguments from a frame on the calling goroutine's stack, where
// purego copies 32 argument words and 8 float registers into a pooled
// block and defers its return. A call then costs what a cgo call costs
// (measured here: 22 ns against purego's 59 for a C function that does
// nothing). runtime.cgocall does the rest as it does for cgo: the switch
// to the system stack and the scheduler's bookkeeping. It works without
// cgo because purego, which this package imports to load libraries,
// provides the runtime's cgo hooks.

//go:linkname runtime_cgocall runtime.cgocall
//go:noescape
func runtime_cgocall(fn uintptr, arg unsafe.Pointer) int32

// ccallTrampolineABI0 is the address of the trampoline (ccall_*.s): a C
// function of one argument, a *cframe.
var ccallTrampolineABI0 uintptr

// cframe is what the trampoline reads and writes. Its layout is fixed:
// the assembly uses offsets 0 (fn), 8+8*i (args[i]) and 88 (ret).
type cframe struct {
	fn   uintptr
	args argBlock
	ret  uintptr
}

// ccall calls the C function fn with the first n arguments of a (the
// trampoline passes all maxArgs; the C calling conventions here let a
// function ignore the ones it does not take) and returns its result
// register. The frame holds no Go pointer and stays on this goroutine's
// stack, which does not move while the goroutine is in a C call.
func ccall(fn uintptr, a *argBlock, n int) uintptr {
	f := cframe{fn: fn, args: *a}
	runtime_cgocall(ccallTrampolineABI0, unsafe.Pointer(&f))
	return f.ret
}
