package pkcs11

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/purepkcs11/pkcs11/ck"
)

// Fuzz targets for the unexported code that decodes module output and
// lays out templates in C form. They live in package pkcs11 to reach it;
// TestMain of the package's external tests runs for them too.

func FuzzPadded(f *testing.F) {
	f.Add([]byte("SoftHSM project                 "))
	f.Add([]byte("NSS Certificate DB\x00\x00\x00\x00"))
	f.Add([]byte("label \x00 \x00"))
	f.Add([]byte("  leading"))
	f.Add([]byte{})
	f.Add([]byte("\xff\xfe   "))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := padded(b)
		if strings.HasSuffix(s, " ") || strings.HasSuffix(s, "\x00") {
			t.Errorf("padded(%q) = %q ends in padding", b, s)
		}
		if !bytes.HasPrefix(b, []byte(s)) {
			t.Fatalf("padded(%q) = %q is not a prefix of its input", b, s)
		}
		if rest := strings.Trim(string(b[len(s):]), " \x00"); rest != "" {
			t.Errorf("padded(%q) = %q dropped %q, which is not padding", b, s, rest)
		}
	})
}

func FuzzCanonical(f *testing.F) {
	ul := func(vs ...uint64) []byte {
		b := make([]byte, len(vs)*int(ulongSize))
		for i, v := range vs {
			putUL(b[i*int(ulongSize):], v)
		}
		return b
	}
	f.Add(uint64(ck.CKA_CLASS), ul(uint64(ck.CKO_PRIVATE_KEY)))
	f.Add(uint64(ck.CKA_VALUE_LEN), ul(ulongMask))
	f.Add(uint64(ck.CKA_MODULUS_BITS), []byte{0, 8})
	f.Add(uint64(ck.CKA_ALLOWED_MECHANISMS), ul(uint64(ck.CKM_ECDSA), uint64(ck.CKM_EDDSA)))
	f.Add(uint64(ck.CKA_ALLOWED_MECHANISMS), []byte{1, 2, 3})
	f.Add(uint64(ck.CKA_LABEL), []byte("label"))
	f.Add(uint64(ck.CKA_TOKEN), []byte{1})
	f.Add(uint64(ck.CKA_WRAP_TEMPLATE), ul(uint64(ck.CKA_TOKEN), 0, 1))
	f.Fuzz(func(t *testing.T, typ uint64, v []byte) {
		at := ck.AttributeType(typ)
		out := canonical(at, v)
		if len(out) > 0 && len(v) > 0 && &out[0] == &v[0] {
			t.Fatal("canonical returned its input, not a copy")
		}
		u := int(ulongSize)
		switch kind := at.Kind(); {
		case kind == ck.KindULong && len(v) == u:
			if len(out) != 8 || binary.LittleEndian.Uint64(out) != getUL(v) {
				t.Errorf("canonical(%v, % x) = % x, want %#x in 8 bytes", at, v, out, getUL(v))
			}
		case kind == ck.KindMechanisms && len(v)%u == 0:
			if len(out) != len(v)/u*8 {
				t.Fatalf("canonical(%v, %d bytes) = %d bytes, want %d", at, len(v), len(out), len(v)/u*8)
			}
			for i := 0; i < len(v)/u; i++ {
				if got, want := binary.LittleEndian.Uint64(out[8*i:]), getUL(v[u*i:]); got != want {
					t.Errorf("canonical(%v): entry %d is %#x, want %#x", at, i, got, want)
				}
			}
		default:
			if !bytes.Equal(out, v) {
				t.Errorf("canonical(%v, % x) = % x, want the input", at, v, out)
			}
		}
	})
}

func FuzzDecodeMechanismInfo(f *testing.F) {
	info := make([]byte, sizeMechInfo)
	putUL(info, 2048)
	putUL(info[offMechInfoMax:], 4096)
	putUL(info[offMechInfoFlags:], uint64(ck.CKF_HW|ck.CKF_SIGN|ck.CKF_VERIFY))
	f.Add(info)
	f.Add(bytes.Repeat([]byte{0xff}, sizeMechInfo))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < sizeMechInfo {
			b = append(b, make([]byte, sizeMechInfo-len(b))...)
		}
		mi := decodeMechanismInfo(b)
		if mi.MinKeySize != getUL(b) || mi.MaxKeySize != getUL(b[offMechInfoMax:]) ||
			uint64(mi.Flags) != getUL(b[offMechInfoFlags:]) {
			t.Errorf("decodeMechanismInfo(% x) = %+v", b[:sizeMechInfo], mi)
		}
		for _, v := range []uint64{mi.MinKeySize, mi.MaxKeySize, uint64(mi.Flags)} {
			if v > ulongMask {
				t.Errorf("decodeMechanismInfo: %#x does not fit in a CK_ULONG", v)
			}
		}
	})
}

// fuzzTypes are the attribute types FuzzTemplateEncode picks from: one or
// more of every kind, and vendor-defined ones.
var fuzzTypes = []ck.AttributeType{
	ck.CKA_TOKEN, ck.CKA_SIGN, ck.CKA_CLASS, ck.CKA_VALUE_LEN, ck.CKA_LABEL,
	ck.CKA_START_DATE, ck.CKA_MODULUS, ck.CKA_ALLOWED_MECHANISMS,
	ck.CKA_WRAP_TEMPLATE, ck.CKA_UNWRAP_TEMPLATE, ck.CKA_DERIVE_TEMPLATE,
	ck.CKA_VALUE, ck.CKA_ID, ck.CKA_EC_POINT, ck.CKA_VENDOR_DEFINED + 1,
}

// fuzzTemplate builds a template from fuzzer bytes. Each attribute is a
// selector byte, then for a selector with the high bit set an 8-byte
// little-endian type (else the type is fuzzTypes[selector]), then a length
// byte and that many value bytes. A template attribute whose selector has
// bit 0x40 set takes as its value the encoding of a template built the
// same way from its value bytes, so that nested templates are valid often.
func fuzzTemplate(data []byte, depth int) []ck.Attribute {
	var t []ck.Attribute
	for len(data) > 0 {
		sel := data[0]
		data = data[1:]
		typ := fuzzTypes[int(sel&0x3f)%len(fuzzTypes)]
		if sel&0x80 != 0 && len(data) >= 8 {
			typ = ck.AttributeType(binary.LittleEndian.Uint64(data))
			data = data[8:]
		}
		n := 0
		if len(data) > 0 {
			n = min(int(data[0]), len(data)-1)
			data = data[1:]
		}
		v := data[:n:n]
		data = data[n:]
		if typ.Kind() == ck.KindTemplate && sel&0x40 != 0 && depth < 4 {
			v = ck.EncodeTemplate(fuzzTemplate(v, depth+1))
		}
		t = append(t, ck.Attribute{Type: typ, Value: v})
	}
	return t
}

// fuzzTemplateBytes is the inverse of fuzzTemplate, for seeds.
func fuzzTemplateBytes(t []ck.Attribute) []byte {
	var b []byte
	for _, a := range t {
		b = append(b, 0x80)
		b = binary.LittleEndian.AppendUint64(b, uint64(a.Type))
		b = append(b, byte(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b
}

// checkTemplate checks the CK_ATTRIBUTE array at off in a against t: each
// entry's type, its length in C form, and the bytes it points to.
func checkTemplate(tb testing.TB, a *arena, off int, t []ck.Attribute, depth int) {
	tb.Helper()
	base := a.addr(0)
	u := int(ulongSize)
	for i, at := range t {
		e := a.buf[off+i*sizeAttr:]
		if got := getUL(e); got != uint64(at.Type) {
			tb.Fatalf("depth %d entry %d: type %#x, want %v", depth, i, got, at.Type)
		}
		n := int(getUL(e[offAttrLen:]))
		p := getPtr(e[offAttrValue:])
		if p < base || int(p-base)+n > a.n {
			tb.Fatalf("depth %d entry %d (%v): value at %#x+%d is outside the arena's %d bytes at %#x", depth, i, at.Type, p, n, a.n, base)
		}
		v := a.buf[p-base:][:n]

		switch kind := at.Type.Kind(); {
		case kind == ck.KindULong && len(at.Value) == 8:
			if n != u || getUL(v) != binary.LittleEndian.Uint64(at.Value) {
				tb.Errorf("depth %d entry %d (%v): % x in C form, want %#x", depth, i, at.Type, v, binary.LittleEndian.Uint64(at.Value))
			}
		case kind == ck.KindMechanisms && len(at.Value)%8 == 0:
			if n != len(at.Value)/8*u {
				tb.Fatalf("depth %d entry %d (%v): length %d, want %d", depth, i, at.Type, n, len(at.Value)/8*u)
			}
			for j := 0; j < n/u; j++ {
				if got, want := getUL(v[j*u:]), binary.LittleEndian.Uint64(at.Value[8*j:]); got != want {
					tb.Errorf("depth %d entry %d (%v) mechanism %d: %#x, want %#x", depth, i, at.Type, j, got, want)
				}
			}
		case kind == ck.KindTemplate:
			inner, err := ck.DecodeTemplate(at.Value)
			if err != nil {
				tb.Fatalf("depth %d entry %d (%v): written although it does not decode: %v", depth, i, at.Type, err)
			}
			if n != len(inner)*sizeAttr {
				tb.Fatalf("depth %d entry %d (%v): length %d, want %d entries of %d bytes", depth, i, at.Type, n, len(inner), sizeAttr)
			}
			checkTemplate(tb, a, int(p-base), inner, depth+1)
		default:
			if !bytes.Equal(v, at.Value) {
				tb.Errorf("depth %d entry %d (%v): % x, want % x", depth, i, at.Type, v, at.Value)
			}
		}
	}
}

func FuzzTemplateEncode(f *testing.F) {
	mustT := func(t ...ck.Attribute) []byte { return fuzzTemplateBytes(t) }
	f.Add(mustT())
	f.Add(mustT(
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY),
		ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_EC),
		ck.MustAttribute(ck.CKA_SIGN, true),
		ck.MustAttribute(ck.CKA_LABEL, "ec key"),
		ck.MustAttribute(ck.CKA_EC_PARAMS, []byte{0x06, 0x03, 0x2b, 0x65, 0x70}),
	))
	f.Add(mustT(
		ck.MustAttribute(ck.CKA_ALLOWED_MECHANISMS, []ck.MechanismType{ck.CKM_AES_GCM, ck.CKM_AES_CBC_PAD}),
		ck.MustAttribute(ck.CKA_WRAP_TEMPLATE, []ck.Attribute{
			ck.MustAttribute(ck.CKA_EXTRACTABLE, false),
			ck.MustAttribute(ck.CKA_VALUE_LEN, 32),
			ck.MustAttribute(ck.CKA_UNWRAP_TEMPLATE, []ck.Attribute{}),
		}),
		ck.MustAttribute(ck.CKA_START_DATE, []byte{}),
	))
	f.Add(mustT(ck.Attribute{Type: ck.CKA_DERIVE_TEMPLATE}, ck.Attribute{Type: ck.CKA_VALUE_LEN, Value: []byte{1, 2, 3}}))
	f.Add(mustT(ck.Attribute{Type: ck.CKA_WRAP_TEMPLATE, Value: []byte{1, 2, 3}}))
	// Selector form: a nested template built from the fuzzer's bytes.
	f.Add([]byte{0x48, 12, 0x00, 1, 1, 0x48, 7, 0x02, 4, 1, 0, 0, 0, 0x04, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl := fuzzTemplate(data, 0)
		n, err := templateSize(tmpl)
		if err != nil {
			return
		}
		a := newArena(n)
		defer a.free()
		off, err := a.template(tmpl)
		if err != nil {
			// Only values that do not fit a 32-bit CK_ULONG may fail here.
			if ulongSize == 8 {
				t.Fatalf("template: %v, after templateSize accepted it", err)
			}
			return
		}

		// The arena's slack is for callers' extra allocations: the
		// template itself must fit the size computed for it.
		if used := round8(a.n); used > max(n, 8) {
			t.Errorf("template used %d bytes, templateSize said %d", used, n)
		}
		checkTemplate(t, &a, off, tmpl, 0)
	})
}
