package ck

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/asn1"
	"strings"
	"testing"
)

// Points as modules return them, made from fresh keys so that X and Y
// hold arbitrary bytes.
func ecdhPoint(t testing.TB, c ecdh.Curve) []byte {
	t.Helper()
	k, err := c.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().Bytes()
}

func ed25519Key(t testing.TB) []byte {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// tpm2Wrap wraps p the way tpm2-pkcs11 does: an OCTET STRING tag and the
// length in one byte, even above 127.
func tpm2Wrap(p []byte) []byte { return append([]byte{0x04, byte(len(p))}, p...) }

// bytesOf returns n bytes starting with the given ones and counting up
// after them.
func bytesOf(n int, start ...byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	copy(b, start)
	return b
}

func TestEncodeECPoint(t *testing.T) {
	for _, tc := range []struct {
		n    int
		head []byte
	}{
		{0, []byte{0x04, 0x00}},
		{65, []byte{0x04, 0x41}},
		{127, []byte{0x04, 0x7f}},
		{128, []byte{0x04, 0x81, 0x80}},
		{133, []byte{0x04, 0x81, 0x85}},
		{255, []byte{0x04, 0x81, 0xff}},
		{256, []byte{0x04, 0x82, 0x01, 0x00}},
		{70000, []byte{0x04, 0x83, 0x01, 0x11, 0x70}},
		{1 << 24, []byte{0x04, 0x84, 0x01, 0x00, 0x00, 0x00}},
	} {
		p := bytesOf(tc.n)
		got := EncodeECPoint(p)
		if !bytes.HasPrefix(got, tc.head) || !bytes.Equal(got[len(tc.head):], p) || len(got) != len(tc.head)+tc.n {
			t.Errorf("EncodeECPoint(%d bytes) starts % x, want % x", tc.n, got[:min(len(got), 6)], tc.head)
		}

		// encoding/asn1 agrees on every length it parses (it takes lengths
		// in minimal form only, up to 4 bytes).
		var back []byte
		if rest, err := asn1.Unmarshal(got, &back); err != nil || len(rest) != 0 || !bytes.Equal(back, p) {
			t.Errorf("asn1.Unmarshal(EncodeECPoint(%d bytes)): %v, %d bytes left", tc.n, err, len(rest))
		}
	}
}

func TestDecodeECPoint(t *testing.T) {
	p256 := ecdhPoint(t, ecdh.P256())
	p384 := ecdhPoint(t, ecdh.P384())
	p521 := ecdhPoint(t, ecdh.P521())
	bp512 := bytesOf(129, 0x04)
	compressed := bytesOf(33, 0x03)
	p224 := bytesOf(57, 0x04) // a curve not in the table

	// A bare P-256 point whose X starts with 0x3f reads as an OCTET
	// STRING of 63 bytes; and one with X starting 0x81 0x3e as a long-form
	// one of 62.
	shortLen := bytesOf(65, 0x04, 0x3f, 0x04)
	longLen := bytesOf(65, 0x04, 0x81, 0x3e, 0x04)

	for _, tc := range []struct {
		name  string
		v     []byte
		field int
		want  []byte
	}{
		{"SoftHSM P-256", EncodeECPoint(p256), 32, p256},
		{"SoftHSM P-384", EncodeECPoint(p384), 48, p384},
		{"SoftHSM P-521", EncodeECPoint(p521), 66, p521},
		{"P-256 curve unknown", EncodeECPoint(p256), 0, p256},
		{"P-521 curve unknown", EncodeECPoint(p521), 0, p521},
		{"brainpoolP512r1", EncodeECPoint(bp512), 64, bp512},
		{"compressed", EncodeECPoint(compressed), 32, compressed},
		{"compressed curve unknown", EncodeECPoint(compressed), 0, compressed},
		{"long form for a short length", append([]byte{0x04, 0x81, 0x41}, p256...), 32, p256},
		{"long form with a leading zero", append([]byte{0x04, 0x82, 0x00, 0x41}, p256...), 32, p256},
		{"tpm2-pkcs11 P-521", tpm2Wrap(p521), 66, p521},
		{"tpm2-pkcs11 P-521 curve unknown", tpm2Wrap(p521), 0, p521},
		{"tpm2-pkcs11 P-256 (valid DER)", tpm2Wrap(p256), 32, p256},
		{"bare P-256", p256, 32, p256},
		{"bare P-256 curve unknown", p256, 0, p256},
		{"bare P-384", p384, 48, p384},
		{"bare P-521", p521, 66, p521},
		{"bare P-521 curve unknown", p521, 0, p521},
		{"bare compressed", compressed, 32, compressed},
		{"bare point that reads as DER", shortLen, 32, shortLen},
		{"bare point that reads as DER curve unknown", shortLen, 0, shortLen},
		{"bare point that reads as long-form DER", longLen, 0, longLen},
		{"unknown curve in DER", EncodeECPoint(p224), 0, p224},
	} {
		got, err := DecodeECPoint(tc.v, tc.field)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: DecodeECPoint(% x..., %d) = % x..., %v; want % x...",
				tc.name, tc.v[:4], tc.field, got[:min(len(got), 4)], err, tc.want[:4])
		}
	}
}

func TestDecodeECPointErrors(t *testing.T) {
	p256 := bytesOf(65, 0x04)
	for _, tc := range []struct {
		name  string
		v     []byte
		field int
		want  string // in the error
	}{
		{"nil", nil, 32, "empty"},
		{"empty", []byte{}, 0, "empty"},
		{"one byte", []byte{0x04}, 32, "too short"},
		{"wrong size", EncodeECPoint(p256), 48, "holds a 65-byte point of form 0x04, want 97 bytes (uncompressed) or 49 (compressed)"},
		{"bare point of the wrong size", p256, 48, "65 bytes is neither a 97-byte point nor an OCTET STRING holding one (read as DER, 62 bytes follow"},
		{"bare point curve unknown", bytesOf(63, 0x04, 0x00), 0, "neither a point nor"},
		{"empty OCTET STRING", []byte{0x04, 0x00}, 32, "holds an empty point"},
		{"empty OCTET STRING curve unknown", []byte{0x04, 0x00}, 0, "holds an empty point, which is not a SEC 1 point"},
		{"hybrid form", EncodeECPoint(bytesOf(65, 0x06)), 32, "form 0x06"},
		{"even uncompressed", EncodeECPoint(bytesOf(64, 0x04)), 0, "not a SEC 1 point"},
		{"BIT STRING", append([]byte{0x03, 0x42, 0x00}, p256...), 32, "DER tag 0x03, want an OCTET STRING"},
		{"trailing bytes", append(EncodeECPoint(p256), 0), 32, "1 bytes follow the value"},
		{"truncated", EncodeECPoint(p256)[:60], 32, ": DER length 65 exceeds the 58 bytes"},
		{"truncated long form", []byte{0x04, 0x82, 0x01}, 32, "truncated DER length"},
		{"indefinite length", append([]byte{0x04, 0x80}, p256...), 32, "indefinite"},
		{"huge length", []byte{0x04, 0x88, 1, 2, 3, 4, 5, 6, 7, 8}, 32, "DER length of 8 bytes"},
		{"length over 4 GB", []byte{0x04, 0x84, 0xff, 0xff, 0xff, 0xff}, 0, "exceeds"},
		{"multi-byte tag", []byte{0x1f, 0x81, 0x00}, 32, "multi-byte DER tag"},
		{"tpm2 length off by one", append([]byte{0x04, 0x86}, bytesOf(133, 0x04)...), 66, "neither"},
		{"negative field size", EncodeECPoint(p256), -1, "negative"},
	} {
		got, err := DecodeECPoint(tc.v, tc.field)
		if err == nil {
			t.Errorf("%s: DecodeECPoint = % x, want an error", tc.name, got)
			continue
		}
		if !strings.HasPrefix(err.Error(), "ck: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestDecodeEdwardsPoint(t *testing.T) {
	ed := ed25519Key(t)
	x448 := bytesOf(56, 0xaa)
	ed448 := bytesOf(57, 0x04, 0x37) // reads as an OCTET STRING of 55
	// The key of openssl-projects/pkcs11-provider issue 766, which reads as
	// an OCTET STRING of 30 bytes.
	ambiguous := bytesOf(32, 0x04, 0x1e, 0xf8, 0x1d)

	for _, tc := range []struct {
		name string
		v    []byte
		size int
		want []byte
	}{
		{"SoftHSM Ed25519 (3.0, DER)", EncodeECPoint(ed), 32, ed},
		{"Ed25519 (3.1, bare)", ed, 32, ed},
		{"DER curve unknown", EncodeECPoint(ed), 0, ed},
		{"bare curve unknown", ed, 0, ed},
		{"bare that reads as DER", ambiguous, 32, ambiguous},
		{"bare that reads as DER curve unknown", ambiguous, 0, ambiguous},
		{"Ed448 bare", ed448, 57, ed448},
		{"Ed448 bare curve unknown", ed448, 0, ed448},
		{"Ed448 DER", EncodeECPoint(ed448), 57, ed448},
		{"X448 DER", EncodeECPoint(x448), 56, x448},
		{"unknown size in DER", EncodeECPoint(bytesOf(40)), 0, bytesOf(40)},
	} {
		got, err := DecodeEdwardsPoint(tc.v, tc.size)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: DecodeEdwardsPoint(% x..., %d) = % x..., %v", tc.name, tc.v[:3], tc.size, got[:min(len(got), 3)], err)
		}
	}

	for _, tc := range []struct {
		name string
		v    []byte
		size int
		want string
	}{
		{"empty", nil, 32, "empty"},
		{"wrong size in DER", EncodeECPoint(ed), 57, "holds a 32-byte key, want 57 bytes"},
		{"bare wrong size", bytesOf(31, 0xff), 32, "31 bytes is neither a 32-byte key"},
		{"bare unknown size", bytesOf(31, 0xff), 0, "neither a key of a known size"},
		{"empty DER", []byte{0x04, 0x00}, 0, "holds an empty key"},
		{"negative size", ed, -1, "negative"},
	} {
		got, err := DecodeEdwardsPoint(tc.v, tc.size)
		if err == nil {
			t.Errorf("%s: DecodeEdwardsPoint = % x, want an error", tc.name, got)
			continue
		}
		if !strings.HasPrefix(err.Error(), "ck: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestCurveDecodePoint(t *testing.T) {
	for _, c := range Curves() {
		var p []byte
		if c.Edwards {
			p = bytesOf(c.FieldBytes, 0x04, byte(c.FieldBytes-2))
		} else {
			p = bytesOf(1+2*c.FieldBytes, 0x04)
		}
		for _, v := range [][]byte{EncodeECPoint(p), p} {
			got, err := c.DecodePoint(v)
			if err != nil || !bytes.Equal(got, p) {
				t.Errorf("%v.DecodePoint(%d bytes) = %d bytes, %v; want %d bytes", c, len(v), len(got), err, len(p))
			}
		}
	}
}

func TestCurves(t *testing.T) {
	want := map[string]struct {
		oid     string
		field   int
		edwards bool
	}{
		"P-256":           {"1.2.840.10045.3.1.7", 32, false},
		"P-384":           {"1.3.132.0.34", 48, false},
		"P-521":           {"1.3.132.0.35", 66, false},
		"secp256k1":       {"1.3.132.0.10", 32, false},
		"brainpoolP256r1": {"1.3.36.3.3.2.8.1.1.7", 32, false},
		"brainpoolP384r1": {"1.3.36.3.3.2.8.1.1.11", 48, false},
		"brainpoolP512r1": {"1.3.36.3.3.2.8.1.1.13", 64, false},
		"Ed25519":         {"1.3.101.112", 32, true},
		"Ed448":           {"1.3.101.113", 57, true},
		"X25519":          {"1.3.101.110", 32, true},
		"X448":            {"1.3.101.111", 56, true},
	}
	cs := Curves()
	if len(cs) != len(want) {
		t.Errorf("Curves() has %d curves, want %d", len(cs), len(want))
	}
	for _, c := range cs {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected curve %v", c)
			continue
		}
		if c.OID.String() != w.oid || c.FieldBytes != w.field || c.Edwards != w.edwards {
			t.Errorf("%s = {%v %d %v}, want {%s %d %v}", c.Name, c.OID, c.FieldBytes, c.Edwards, w.oid, w.field, w.edwards)
		}
		if c.String() != c.Name {
			t.Errorf("String() = %q, want %q", c.String(), c.Name)
		}

		// ECParams is the DER of the OID, and decodes back to the curve.
		want, err := asn1.Marshal(c.OID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.ECParams(), want) {
			t.Errorf("%s.ECParams() = % x, want % x", c.Name, c.ECParams(), want)
		}
		back, err := DecodeECParams(c.ECParams())
		if err != nil || back.Name != c.Name {
			t.Errorf("DecodeECParams(%s.ECParams()) = %v, %v", c.Name, back, err)
		}

		byName, ok := CurveByName(strings.ToUpper(c.Name))
		if !ok || byName.Name != c.Name {
			t.Errorf("CurveByName(%q) = %v, %v", strings.ToUpper(c.Name), byName, ok)
		}
		byOID, ok := CurveByOID(c.OID)
		if !ok || byOID.Name != c.Name {
			t.Errorf("CurveByOID(%v) = %v, %v", c.OID, byOID, ok)
		}
	}

	// The table is not shared with callers.
	cs[0].OID[0] = 9
	if c, _ := CurveByName(cs[0].Name); c.OID[0] == 9 {
		t.Error("changing an OID from Curves changed the table")
	}
	c, _ := CurveByName("P-256")
	c.OID[0] = 9
	if c, _ := CurveByOID(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}); c.Name != "P-256" {
		t.Error("changing an OID from CurveByName changed the table")
	}

	if _, ok := CurveByName("P-224"); ok {
		t.Error("CurveByName(P-224) found a curve")
	}
	if _, ok := CurveByOID(asn1.ObjectIdentifier{1, 3, 132, 0, 33}); ok {
		t.Error("CurveByOID(P-224) found a curve")
	}
	if p := (Curve{}).ECParams(); p != nil {
		t.Errorf("Curve{}.ECParams() = % x, want nil", p)
	}
	if s := (Curve{OID: asn1.ObjectIdentifier{1, 2, 3}}).String(); s != "1.2.3" {
		t.Errorf("String of a Curve without a name = %q", s)
	}
}

func TestDecodeECParams(t *testing.T) {
	printable := func(s string) []byte { return append([]byte{0x13, byte(len(s))}, s...) }
	for _, tc := range []struct {
		name string
		v    []byte
		want string
	}{
		{"P-256 OID", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, "P-256"},
		{"P-384 OID", []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, "P-384"},
		{"P-521 OID", []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, "P-521"},
		{"Ed25519 OID", []byte{0x06, 0x03, 0x2b, 0x65, 0x70}, "Ed25519"},
		{"Ed25519 long-form length", []byte{0x06, 0x81, 0x03, 0x2b, 0x65, 0x70}, "Ed25519"},
		{"edwards25519", printable("edwards25519"), "Ed25519"},
		{"edwards448", printable("edwards448"), "Ed448"},
		{"curve25519", printable("curve25519"), "X25519"},
		{"curve448", printable("curve448"), "X448"},
		{"UTF8String", append([]byte{0x0c, 12}, "edwards25519"...), "Ed25519"},
	} {
		c, err := DecodeECParams(tc.v)
		if err != nil || c.Name != tc.want {
			t.Errorf("%s: DecodeECParams(% x) = %v, %v; want %s", tc.name, tc.v, c, err, tc.want)
		}
	}

	for _, tc := range []struct {
		name string
		v    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"P-224", []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21}, "unknown curve 1.3.132.0.33"},
		{"unknown name", printable("edwards25520"), `unknown curve "edwards25520"`},
		{"Weierstrass name", printable("prime256v1"), `unknown curve "prime256v1"`},
		{"explicit parameters", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, "explicit curve parameters"},
		{"implicitlyCA", []byte{0x05, 0x00}, "implicitlyCA"},
		{"INTEGER", []byte{0x02, 0x01, 0x01}, "DER tag 0x02"},
		{"trailing bytes", []byte{0x06, 0x03, 0x2b, 0x65, 0x70, 0x00}, "1 bytes after the value"},
		{"truncated", []byte{0x06, 0x08, 0x2a, 0x86, 0x48}, "exceeds"},
		{"empty OID", []byte{0x06, 0x00}, "empty OBJECT IDENTIFIER"},
		{"truncated arc", []byte{0x06, 0x02, 0x2b, 0x86}, "truncated OBJECT IDENTIFIER"},
		{"padded arc", []byte{0x06, 0x03, 0x2b, 0x80, 0x01}, "leading zero"},
		{"huge arc", []byte{0x06, 0x07, 0x2b, 0x8f, 0xff, 0xff, 0xff, 0xff, 0x7f}, "31 bits"},
	} {
		c, err := DecodeECParams(tc.v)
		if err == nil {
			t.Errorf("%s: DecodeECParams(% x) = %v, want an error", tc.name, tc.v, c)
			continue
		}
		if !strings.HasPrefix(err.Error(), "ck: CKA_EC_PARAMS") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want one containing %q", tc.name, err, tc.want)
		}
	}

	// An unknown OID comes back with the error.
	c, err := DecodeECParams([]byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21})
	if err == nil || c.Name != "" || c.OID.String() != "1.3.132.0.33" {
		t.Errorf("DecodeECParams(P-224) = %#v, %v", c, err)
	}
}

// TestParseOIDMatchesASN1 checks the hand-written OID parser against
// encoding/asn1 on OIDs of every shape.
func TestParseOIDMatchesASN1(t *testing.T) {
	for _, oid := range []asn1.ObjectIdentifier{
		{0, 0}, {0, 39}, {1, 0}, {1, 39}, {2, 0}, {2, 47}, {2, 999, 3},
		{1, 2, 840, 113549, 1, 1, 11}, {1, 3, 6, 1, 4, 1, 311, 21, 20},
		{2, 5, 4, 3}, {1, 2, 1<<31 - 1}, {2, 1<<31 - 81},
	} {
		der, err := asn1.Marshal(oid)
		if err != nil {
			t.Fatalf("asn1.Marshal(%v): %v", oid, err)
		}
		got, err := parseOID(der[2:])
		if err != nil || !got.Equal(oid) {
			t.Errorf("parseOID(% x) = %v, %v; want %v", der[2:], got, err, oid)
		}
	}
}

// Seeds for the EC fuzz targets: values of CKA_EC_POINT and CKA_EC_PARAMS
// in the shapes real modules return.
func ecPointSeeds(t testing.TB) [][]byte {
	p521 := ecdhPoint(t, ecdh.P521())
	ed := ed25519Key(t)
	return [][]byte{
		EncodeECPoint(ecdhPoint(t, ecdh.P256())), // SoftHSM, NSS, tpm2
		EncodeECPoint(ecdhPoint(t, ecdh.P384())),
		EncodeECPoint(p521),
		tpm2Wrap(p521),            // tpm2-pkcs11 P-521
		ecdhPoint(t, ecdh.P256()), // bare, as old opencryptoki tokens
		EncodeECPoint(ed),         // SoftHSM Ed25519
		ed,                        // PKCS#11 3.1 Ed25519
		EncodeECPoint(ecdhPoint(t, ecdh.X25519())),
		bytesOf(32, 0x04, 0x1e),
		bytesOf(65, 0x04, 0x3f, 0x04),
		{0x04, 0x81},
		{0x04, 0x84, 0xff, 0xff, 0xff, 0xff},
		{},
	}
}

func isEdwardsSize(n int) bool { return n == 32 || n == 56 || n == 57 }

func FuzzDecodeECPoint(f *testing.F) {
	for _, s := range ecPointSeeds(f) {
		for _, field := range []int{0, 32, 48, 66} {
			f.Add(s, field, false)
		}
		f.Add(s, 32, true)
		f.Add(s, 57, true)
	}
	f.Fuzz(func(t *testing.T, v []byte, field int, edwards bool) {
		field %= 200
		if field < 0 {
			field = -field
		}
		var p []byte
		var err error
		if edwards {
			p, err = DecodeEdwardsPoint(v, field)
		} else {
			p, err = DecodeECPoint(v, field)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ck: ") {
				t.Errorf("error without the package prefix: %v", err)
			}
			return
		}

		// The point is v or the contents of v's OCTET STRING, in place.
		if len(p) == 0 || len(p) > len(v) || &p[len(p)-1] != &v[len(v)-1] {
			t.Fatalf("decoded %d bytes that are not the tail of the %d input bytes", len(p), len(v))
		}
		switch {
		case edwards && field > 0 && len(p) != field:
			t.Errorf("DecodeEdwardsPoint(%d) gave %d bytes", field, len(p))
		case !edwards && field > 0 && !isPoint(p, field):
			t.Errorf("DecodeECPoint(%d) gave %d bytes of form %#02x", field, len(p), p[0])
		case !edwards && field == 0 && !isPointShape(p):
			t.Errorf("DecodeECPoint(0) gave %d bytes of form %#02x", len(p), p[0])
		}

		// Wrapping the point again and decoding it round-trips, when its
		// size is a known one: with the curve unknown, a bare point of
		// a known size wins over an OCTET STRING of the same length
		// around something of another size.
		if field == 0 && (edwards && !isEdwardsSize(len(p)) || !edwards && !isPoint(p, 0)) {
			return
		}
		var again []byte
		if edwards {
			again, err = DecodeEdwardsPoint(EncodeECPoint(p), field)
		} else {
			again, err = DecodeECPoint(EncodeECPoint(p), field)
		}
		if err != nil || !bytes.Equal(again, p) {
			t.Errorf("decoding EncodeECPoint(% x) = % x, %v", p, again, err)
		}
	})
}

func FuzzDecodeECParams(f *testing.F) {
	for _, c := range Curves() {
		f.Add(c.ECParams())
	}
	for _, s := range []string{"edwards25519", "edwards448", "curve25519", "curve448"} {
		f.Add(append([]byte{0x13, byte(len(s))}, s...))
	}
	f.Add([]byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21})
	f.Add([]byte{0x06, 0x81, 0x03, 0x2b, 0x65, 0x70})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte{0x05, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		c, err := DecodeECParams(v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ck: CKA_EC_PARAMS") {
				t.Errorf("error without its prefix: %v", err)
			}
			if c.Name != "" {
				t.Errorf("error %v with curve %v", err, c)
			}
			if c.OID != nil {
				// An unknown OID: encoding/asn1 reads the same one.
				var oid asn1.ObjectIdentifier
				if _, err := asn1.Unmarshal(c.ECParams(), &oid); err != nil || !oid.Equal(c.OID) {
					t.Errorf("OID %v re-encodes as % x: %v", c.OID, c.ECParams(), err)
				}
			}
			return
		}
		if _, ok := CurveByName(c.Name); !ok {
			t.Fatalf("decoded curve %v is not in the table", c)
		}

		// The curve's own encoding decodes to it, and equals v when v is an
		// OID in DER.
		back, err := DecodeECParams(c.ECParams())
		if err != nil || back.Name != c.Name {
			t.Errorf("DecodeECParams(%v.ECParams()) = %v, %v", c, back, err)
		}
		if v[0] == 0x06 && v[1] < 0x80 && !bytes.Equal(v, c.ECParams()) {
			t.Errorf("DecodeECParams(% x) = %v, whose encoding is % x", v, c, c.ECParams())
		}
	})
}
