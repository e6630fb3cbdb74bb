package pkcs11

import (
	"fmt"

	"github.com/purepkcs11/pkcs11/ck"
)

// maxOutput bounds any length a module asks the library to allocate, so
// that a broken module cannot make it allocate without limit.
const maxOutput = 1 << 28

// argsFit checks that numbers the caller passes as CK_ULONG (handles,
// lengths) fit the platform's CK_ULONG; on LP64 systems every value does.
func argsFit(f funcIndex, vs ...uint64) error {
	for _, v := range vs {
		if !fitsUL(v) {
			return fmt.Errorf("pkcs11: %v: argument %#x does not fit in a %d-byte CK_ULONG", f, v, ulongSize)
		}
	}
	return nil
}

// fetch runs a function with a variable-length output under the
// convention of PKCS#11 section 5.2: a call with a NULL buffer returns the
// length, a second call fills a buffer of that length. A module that then
// answers CKR_BUFFER_TOO_SMALL with a larger length gets a few more tries.
// Lengths are checked against the buffer that was passed and bounded by
// maxOutput; the result is trimmed to the length the module returns (NSS
// answers the size query with an upper bound).
//
// do makes the call with out as the output buffer (nil for the size
// query); lenp is the CK_ULONG the call's length pointer points to.
func fetch(f funcIndex, lenp []byte, do func(out []byte) ck.RV) ([]byte, error) {
	putUL(lenp, 0)
	if err := check(f, do(nil)); err != nil {
		return nil, err
	}
	n := getUL(lenp)
	for tries := 0; ; tries++ {
		if n > maxOutput {
			return nil, badOutput(f, "output length %d", n)
		}
		out := make([]byte, n)
		putUL(lenp, n)
		rv := do(out)
		got := getUL(lenp)
		switch {
		case rv == ck.CKR_OK && got <= n:
			return out[:got], nil
		case rv == ck.CKR_OK:
			return nil, badOutput(f, "wrote %d bytes into a buffer of %d", got, n)
		case rv == ck.CKR_BUFFER_TOO_SMALL && got > n && got != ulongMask && tries < 3:
			n = got
		default:
			return nil, check(f, rv)
		}
	}
}

// fetchInto is fetch for callers that bring their own buffer: one call
// with buf, which must be large enough. It returns the filled prefix.
func fetchInto(f funcIndex, lenp []byte, buf []byte, do func(out []byte) ck.RV) ([]byte, error) {
	putUL(lenp, uint64(len(buf)))
	rv := do(buf)
	got := getUL(lenp)
	if rv != ck.CKR_OK {
		return nil, check(f, rv)
	}
	if got > uint64(len(buf)) {
		return nil, badOutput(f, "wrote %d bytes into a buffer of %d", got, len(buf))
	}
	return buf[:got], nil
}

// errorf returns an error about a call's arguments, naming the function.
func errorf(f funcIndex, format string, args ...any) error {
	return fmt.Errorf("pkcs11: %v: %s", f, fmt.Sprintf(format, args...))
}
