package pkcs11

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
)

// fakeOutput is a module's function with a variable-length output, as
// fetch calls it: announce is what its size query answers, result what
// it writes, and report the length it then reports, given the size of
// the buffer.
type fakeOutput struct {
	announce uint64
	result   []byte
	report   func(size uint64) uint64
	calls    int
}

func (f *fakeOutput) do(lenp []byte) func(out []byte) ck.RV {
	return func(out []byte) ck.RV {
		f.calls++
		if out == nil {
			putUL(lenp, f.announce)
			return ck.CKR_OK
		}
		size := getUL(lenp)
		if uint64(len(f.result)) > size {
			return ck.CKR_BUFFER_TOO_SMALL
		}
		copy(out, f.result)
		putUL(lenp, f.report(size))
		return ck.CKR_OK
	}
}

func TestFetchTrimsToWhatTheModuleWrote(t *testing.T) {
	ciphertext := bytes.Repeat([]byte{0xc7}, 256)
	wrote := func(n int) func(uint64) uint64 { return func(uint64) uint64 { return uint64(n) } }
	for _, c := range []struct {
		name string
		fake fakeOutput
		want []byte
	}{
		{"exact", fakeOutput{announce: 256, result: ciphertext, report: wrote(256)}, ciphertext},
		// NSS: the size query is an upper bound.
		{"announced more", fakeOutput{announce: 300, result: ciphertext, report: wrote(256)}, ciphertext},
		// NSS 3.87, AES-GCM: the size query leaves out the tag.
		{"announced less", fakeOutput{announce: 240, result: ciphertext, report: wrote(256)}, ciphertext},
		// tpm2-pkcs11 1.9, C_Encrypt with an RSA public key: the length
		// of the whole buffer comes back.
		{"whole buffer reported", fakeOutput{announce: 256, result: ciphertext,
			report: func(size uint64) uint64 { return size }}, ciphertext},
		{"empty", fakeOutput{announce: 0, report: wrote(0)}, []byte{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lenp := make([]byte, 8)
			got, err := fetch(fnEncrypt, lenp, c.fake.do(lenp))
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			assert.Equal(t, 2, c.fake.calls, "the size query and one call")
		})
	}

	// A length beyond the buffer is still refused.
	lenp := make([]byte, 8)
	f := fakeOutput{announce: 256, result: ciphertext, report: func(size uint64) uint64 { return size + 1 }}
	_, err := fetch(fnEncrypt, lenp, f.do(lenp))
	assert.ErrorIs(t, err, ErrBadOutput)
}
