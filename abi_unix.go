//go:build darwin || freebsd || linux || netbsd

package pkcs11

import "unsafe"

// On the Unix systems purego supports, Cryptoki structs have their natural
// C alignment and CK_ULONG is C's unsigned long: as wide as a pointer
// (LP64 on 64-bit systems, ILP32 on 386 and arm).
const (
	ulongSize = unsafe.Sizeof(uintptr(0))
	packed    = false
)
