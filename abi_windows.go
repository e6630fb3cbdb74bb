//go:build windows

package pkcs11

// On Windows, every Cryptoki header is compiled under
// #pragma pack(push, cryptoki, 1) and unsigned long is 32 bits on every
// architecture (LLP64): CK_ULONG is 4 bytes and no field is padded. A
// CK_RV comes back in the low 32 bits of the return register.
const (
	ulongSize = 4
	packed    = true
)
