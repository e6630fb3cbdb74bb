package pkcs11_test

import "unsafe"

// unsafePointer converts for purego calls in tests.
func unsafePointer[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }
