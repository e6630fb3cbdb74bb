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

// fetchSlack is how many bytes fetch offers beyond the length a size
// query announced. Some modules announce too little: NSS 3.87 answers
// C_Encrypt's size query for CKM_AES_GCM with the plaintext's length,
// leaving out the 16-byte tag, then fails the real call with
// CKR_BUFFER_TOO_SMALL, no length, and the operation ended, so that no
// retry is possible. A little more room than announced costs nothing
// with correct modules, which report the length they wrote.
//
// Other modules report the whole buffer as written: tpm2-pkcs11 1.9's
// C_Encrypt with an RSA public key writes the ciphertext it announced
// and leaves the length of the unused rest of the buffer in place, so
// that 256 bytes of ciphertext come back as 256+fetchSlack. A module
// that announced a length and then claims to have filled exactly the
// larger buffer it was given is taken at its announcement.
const fetchSlack = 64

// fetch runs a function with a variable-length output under the
// convention of PKCS#11 section 5.2: a call with a NULL buffer returns the
// length, a second call fills a buffer of that length (plus fetchSlack).
// A module that then answers CKR_BUFFER_TOO_SMALL with a larger length
// gets a few more tries. Lengths are checked against the buffer that was
// passed and bounded by maxOutput; the result is trimmed to the length
// the module returns (NSS answers the size query with an upper bound).
//
// do makes the call with out as the output buffer (nil for the size
// query); lenp is the CK_ULONG the call's length pointer points to.
func fetch(f funcIndex, lenp []byte, do func(out []byte) ck.RV) ([]byte, error) {
	putUL(lenp, 0)
	if err := check(f, do(nil)); err != nil {
		return nil, err
	}
	return fetchSized(f, lenp, getUL(lenp), true, do)
}

// fetchSized is fetch after the size query, or without one: it offers n
// bytes (plus fetchSlack) and follows CKR_BUFFER_TOO_SMALL answers that
// carry a larger length. queried tells that a size query announced n.
func fetchSized(f funcIndex, lenp []byte, n uint64, queried bool, do func(out []byte) ck.RV) ([]byte, error) {
	for tries := 0; ; tries++ {
		if n > maxOutput {
			return nil, badOutput(f, "output length %d", n)
		}
		size := n + fetchSlack
		out := make([]byte, size)
		putUL(lenp, size)
		rv := do(out)
		got := getUL(lenp)
		switch {
		case rv == ck.CKR_OK && queried && n > 0 && got == size:
			return out[:n], nil
		case rv == ck.CKR_OK && got <= size:
			return out[:got], nil
		case rv == ck.CKR_OK:
			return nil, badOutput(f, "wrote %d bytes into a buffer of %d", got, size)
		case rv == ck.CKR_BUFFER_TOO_SMALL && got > size && got != ulongMask && tries < 3:
			n = got
		case rv == ck.CKR_OPERATION_NOT_INITIALIZED && queried && n == 0 && tries == 0:
			// The size query found the operation and no output pending,
			// and ended it: NSS 3.87 does that in C_EncryptFinal and
			// C_DecryptFinal of unpadded modes. The output is empty.
			return out[:0], nil
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
