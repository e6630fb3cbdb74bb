//go:build !((darwin || freebsd || linux || netbsd) && (amd64 || arm64))

package pkcs11

import "github.com/ebitengine/purego"

// ccall calls the C function fn with the first n arguments of a, through
// purego (syscall.SyscallN on Windows), and returns its result register.
func ccall(fn uintptr, a *argBlock, n int) uintptr {
	r, _, _ := purego.SyscallN(fn, a[:n]...)
	return r
}
