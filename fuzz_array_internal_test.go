//go:build linux && (amd64 || arm64)

package pkcs11

import (
	"encoding/binary"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/purepkcs11/pkcs11/ck"
)

// FuzzReadArray reads an attribute array (CKA_WRAP_TEMPLATE) from a fake
// C_GetAttributeValue whose every answer comes from the fuzzer: return
// values, the array's size, each element's type and length, and the
// lengths it claims to have written, true or not. It writes only inside
// the buffers it is given, as a module that lies about lengths but does
// not corrupt memory would. The library must never panic, never take more
// than a few calls, and return either an error for the attribute or a
// template that decodes, whose values fit the buffers it gave the fake.
//
// The fake is a purego callback, which purego supports on Linux for
// amd64 and arm64 without cgo.
func FuzzReadArray(f *testing.F) {
	f.Add(wellBehaved)
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 1, 0, 0x10, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1})
	f.Add([]byte{0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3})
	f.Fuzz(func(t *testing.T, script []byte) {
		fake := fakeArrayModule(t, script)
		res, err := fake.m.GetAttributeValue(1, 2, []ck.AttributeType{ck.CKA_WRAP_TEMPLATE})
		if fake.calls > 12 {
			t.Fatalf("%d calls for one attribute", fake.calls)
		}
		if err != nil {
			return
		}
		if len(res) != 1 {
			t.Fatalf("%d results for one attribute", len(res))
		}
		if res[0].Err != nil {
			return
		}
		attrs, derr := ck.DecodeTemplate(res[0].Value)
		if derr != nil {
			t.Fatalf("the value read does not decode: %v", derr)
		}
		for _, a := range attrs {
			if uint64(len(a.Value)) > max(fake.maxBuf, 8) {
				t.Fatalf("%v: %d bytes, more than any buffer the fake was given (%d)", a.Type, len(a.Value), fake.maxBuf)
			}
		}
	})
}

// wellBehaved is a script for a token that answers as PKCS#11 says: an
// array of two elements (48 bytes on LP64), their types and lengths
// (CKA_VALUE of 3 bytes, CKA_LABEL of 2), then their values.
var wellBehaved = []byte{
	0, 2, // size query: OK, 2 elements
	0, 2, 0, 0, 3, 3, 2, // types and lengths: OK, 2 elements, none more; VALUE 3, LABEL 2
	0, 2, 0, 3, 'a', 'b', 'c', 1, 2, 'x', 'y', 1, // values: OK, 2 elements; 3 bytes, 2 bytes, true lengths
}

// TestFakeArray checks that the fake of FuzzReadArray, answering as a
// token should, gives the array it describes: the fuzzer starts from a
// fake that works.
func TestFakeArray(t *testing.T) {
	fake := fakeArrayModule(t, wellBehaved)
	res, err := fake.m.GetAttributeValue(1, 2, []ck.AttributeType{ck.CKA_WRAP_TEMPLATE})
	if err != nil || res[0].Err != nil {
		t.Fatalf("GetAttributeValue: %v, %v", err, res[0].Err)
	}
	attrs, err := ck.DecodeTemplate(res[0].Value)
	if err != nil || len(attrs) != 2 || attrs[0].Type != ck.CKA_VALUE || string(attrs[0].Value) != "abc" ||
		attrs[1].Type != ck.CKA_LABEL || string(attrs[1].Value) != "xy" || fake.calls != 3 {
		t.Errorf("read %v (%v) in %d calls; want CKA_VALUE abc, CKA_LABEL xy in 3", attrs, err, fake.calls)
	}
}

// maxFakeValue bounds the bytes the fake writes into one value.
const maxFakeValue = 64

// fakeTypes are the element types the fake gives: a value of each kind,
// and an attribute array, which the library refuses inside an array.
var fakeTypes = []ck.AttributeType{ck.CKA_VALUE, ck.CKA_CLASS, ck.CKA_TOKEN, ck.CKA_LABEL, ck.CKA_UNWRAP_TEMPLATE}

// fakeArray is the state of the fake C_GetAttributeValue for one run.
type fakeArray struct {
	m      *Module
	script []byte
	calls  int
	maxBuf uint64 // the largest value buffer the library gave
}

// next returns the next byte of the script, or 0 once it is used up.
func (f *fakeArray) next() byte {
	if len(f.script) == 0 {
		return 0
	}
	b := f.script[0]
	f.script = f.script[1:]
	return b
}

// length returns a length from the script: small ones usually, the
// platform's all-ones or a huge one sometimes.
func (f *fakeArray) length(unit uint64) uint64 {
	switch b := f.next(); {
	case b == 0xff:
		return ck.CK_UNAVAILABLE_INFORMATION
	case b == 0xfe:
		return 1 << 30
	default:
		return uint64(b) * unit
	}
}

var (
	fakeMu       sync.Mutex
	fakeCurrent  *fakeArray
	fakeCallback = sync.OnceValue(func() uintptr {
		return purego.NewCallback(func(s, o, tmpl, count uintptr) uintptr {
			return uintptr(fakeCurrent.getAttributeValue(tmpl, count))
		})
	})
)

func fakeArrayModule(t *testing.T, script []byte) *fakeArray {
	fakeMu.Lock()
	t.Cleanup(fakeMu.Unlock)
	inst := &instance{key: "fake"}
	inst.fns[fnGetAttributeValue] = fakeCallback()
	f := &fakeArray{m: &Module{inst: inst, fns: &inst.fns}, script: script}
	fakeCurrent = f
	return f
}

// getAttributeValue answers one call. The template is the library's
// CK_ATTRIBUTE array in Go memory, reached here as the module would.
func (f *fakeArray) getAttributeValue(tmpl, count uintptr) ck.RV {
	f.calls++
	if count != 1 {
		return ck.CKR_ARGUMENTS_BAD
	}
	top := cmem(tmpl, sizeAttr)
	switch f.next() % 8 {
	case 1:
		return ck.CKR_ATTRIBUTE_SENSITIVE
	case 2:
		return ck.CKR_BUFFER_TOO_SMALL
	case 3:
		return ck.CKR_ATTRIBUTE_TYPE_INVALID
	}
	arr := readPtr(top[offAttrValue:])
	if arr == 0 { // the size query
		putUL(top[offAttrLen:], f.length(uint64(sizeAttr)))
		return ck.CKR_OK
	}
	room := getUL(top[offAttrLen:]) / uint64(sizeAttr)
	n := min(f.length(1), room+uint64(f.next()%2)) // sometimes one too many
	putUL(top[offAttrLen:], n*uint64(sizeAttr))
	for k := range min(n, room) {
		e := cmem(arr+uintptr(k)*uintptr(sizeAttr), sizeAttr)
		v := readPtr(e[offAttrValue:])
		if v == 0 { // the second call: types and lengths
			putUL(e, uint64(fakeTypes[f.next()%byte(len(fakeTypes))]))
			putUL(e[offAttrLen:], f.length(1))
			continue
		}
		buf := getUL(e[offAttrLen:])
		f.maxBuf = max(f.maxBuf, buf)
		write := min(uint64(f.next()%(maxFakeValue+1)), buf)
		dst := cmem(v, int(write))
		for i := range dst {
			dst[i] = f.next()
		}
		claim := write
		if f.next()%4 == 0 {
			claim = f.length(1) // a lie, perhaps
		}
		putUL(e[offAttrLen:], claim)
	}
	return ck.CKR_OK
}

// readPtr reads a C pointer from b.
func readPtr(b []byte) uintptr {
	if unsafe.Sizeof(uintptr(0)) == 8 {
		return uintptr(binary.NativeEndian.Uint64(b))
	}
	return uintptr(binary.NativeEndian.Uint32(b))
}
