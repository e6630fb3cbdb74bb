//go:build (darwin || freebsd || linux || netbsd) && (amd64 || arm64)

package pkcs11

import (
	"testing"
	"unsafe"
)

// TestCframeLayout pins the offsets the trampolines of ccall_*.s use.
func TestCframeLayout(t *testing.T) {
	var f cframe
	if o := unsafe.Offsetof(f.args); o != 8 {
		t.Errorf("cframe.args at %d, the trampolines read it at 8", o)
	}
	if o := unsafe.Offsetof(f.ret); o != 8+8*maxArgs || maxArgs != 10 {
		t.Errorf("cframe.ret at %d with %d arguments, the trampolines write it at 88 and pass 10", o, maxArgs)
	}
}
