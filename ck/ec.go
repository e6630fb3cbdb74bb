package ck

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// This file decodes what modules return for elliptic-curve keys:
// CKA_EC_PARAMS, which names the curve, and CKA_EC_POINT, which holds the
// public point. Modules disagree on both (see MODULES.md in the project's
// shared notes), so the decoders accept every form seen in practice and
// say precisely what is wrong with anything else. They check encodings
// and lengths only: whether a point lies on its curve is for the
// cryptographic package that uses it (crypto/ecdh, crypto/ecdsa,
// crypto/ed25519).

// Curve is an elliptic curve a PKCS#11 key can be on.
type Curve struct {
	// Name is the curve's usual name: "P-256" as in crypto/elliptic,
	// "Ed25519", "brainpoolP256r1", ...
	Name string

	// OID is the object identifier that CKA_EC_PARAMS names the curve by.
	OID asn1.ObjectIdentifier

	// FieldBytes is the size in bytes of one coordinate of a point on a
	// Weierstrass curve (66 for P-521). For Edwards and Montgomery curves
	// it is the size of an encoded public key: 32 for Ed25519 and X25519,
	// 57 for Ed448, 56 for X448.
	FieldBytes int

	// Edwards is true for the curves of RFC 8032 and RFC 7748 (Ed25519,
	// Ed448, X25519 and X448, Montgomery curves included), whose public
	// keys are byte strings of FieldBytes bytes. It is false for the
	// Weierstrass curves, whose points are SEC 1 encoded.
	Edwards bool
}

// curves is the table behind Curves, CurveByName, CurveByOID and
// DecodeECParams. Its entries are never handed out without copying OID.
var curves = [...]Curve{
	{"P-256", asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, 32, false},
	{"P-384", asn1.ObjectIdentifier{1, 3, 132, 0, 34}, 48, false},
	{"P-521", asn1.ObjectIdentifier{1, 3, 132, 0, 35}, 66, false},
	{"secp256k1", asn1.ObjectIdentifier{1, 3, 132, 0, 10}, 32, false},
	{"brainpoolP256r1", asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}, 32, false},
	{"brainpoolP384r1", asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}, 48, false},
	{"brainpoolP512r1", asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 13}, 64, false},
	{"Ed25519", asn1.ObjectIdentifier{1, 3, 101, 112}, 32, true},
	{"Ed448", asn1.ObjectIdentifier{1, 3, 101, 113}, 57, true},
	{"X25519", asn1.ObjectIdentifier{1, 3, 101, 110}, 32, true},
	{"X448", asn1.ObjectIdentifier{1, 3, 101, 111}, 56, true},
}

// curveNames are the PrintableString forms of CKA_EC_PARAMS that PKCS#11
// 3.0 allows for the Edwards and Montgomery curves, and the curve each
// names.
var curveNames = map[string]string{
	"edwards25519": "Ed25519",
	"edwards448":   "Ed448",
	"curve25519":   "X25519",
	"curve448":     "X448",
}

func (c Curve) clone() Curve {
	c.OID = slices.Clone(c.OID)
	return c
}

// Curves returns the curves this package knows, a fresh copy on each
// call.
func Curves() []Curve {
	out := make([]Curve, len(curves))
	for i, c := range curves {
		out[i] = c.clone()
	}
	return out
}

// CurveByName returns the known curve named name, compared without regard
// to case ("P-256", "ed25519", ...).
func CurveByName(name string) (Curve, bool) {
	for _, c := range curves {
		if strings.EqualFold(c.Name, name) {
			return c.clone(), true
		}
	}
	return Curve{}, false
}

// CurveByOID returns the known curve with object identifier oid.
func CurveByOID(oid asn1.ObjectIdentifier) (Curve, bool) {
	for _, c := range curves {
		if c.OID.Equal(oid) {
			return c.clone(), true
		}
	}
	return Curve{}, false
}

// String returns the curve's name, or its OID when it has no name.
func (c Curve) String() string {
	if c.Name != "" {
		return c.Name
	}
	return c.OID.String()
}

// ECParams returns the value of CKA_EC_PARAMS for the curve: its OID in
// DER. It returns nil for a Curve whose OID is not a valid one (fewer
// than two arcs, as in the zero Curve).
func (c Curve) ECParams() []byte {
	b, err := asn1.Marshal(c.OID)
	if err != nil {
		return nil
	}
	return b
}

// DecodePoint decodes the value of CKA_EC_POINT for a key on c, with
// [DecodeEdwardsPoint] for Edwards and Montgomery curves and
// [DecodeECPoint] for the others.
func (c Curve) DecodePoint(v []byte) ([]byte, error) {
	if c.Edwards {
		return DecodeEdwardsPoint(v, c.FieldBytes)
	}
	return DecodeECPoint(v, c.FieldBytes)
}

// DER tags and the values of the first byte of a SEC 1 point.
const (
	tagOID             = 0x06
	tagOctetString     = 0x04
	tagUTF8String      = 0x0c
	tagPrintableString = 0x13
	tagSequence        = 0x30
	tagNull            = 0x05

	pointCompressedEven = 0x02
	pointCompressedOdd  = 0x03
	pointUncompressed   = 0x04
)

// DecodeECParams decodes CKA_EC_PARAMS: a DER OBJECT IDENTIFIER naming a
// curve, or, for the Edwards and Montgomery curves (PKCS#11 3.0), a DER
// PrintableString naming one: "edwards25519", "edwards448", "curve25519"
// or "curve448". A UTF8String is accepted in place of the
// PrintableString.
//
// For an OID this package does not know, DecodeECParams returns a Curve
// holding only that OID, together with an error that prints it. Explicit
// curve parameters (an ECParameters SEQUENCE) and implicitlyCA (NULL) are
// errors too.
func DecodeECParams(v []byte) (Curve, error) {
	tag, content, rest, err := parseTLV(v)
	if err != nil {
		return Curve{}, fmt.Errorf("ck: CKA_EC_PARAMS: %v", err)
	}
	if len(rest) > 0 {
		return Curve{}, fmt.Errorf("ck: CKA_EC_PARAMS: %d bytes after the value", len(rest))
	}
	switch tag {
	case tagOID:
		oid, err := parseOID(content)
		if err != nil {
			return Curve{}, fmt.Errorf("ck: CKA_EC_PARAMS: %v", err)
		}
		if c, ok := CurveByOID(oid); ok {
			return c, nil
		}
		return Curve{OID: oid}, fmt.Errorf("ck: CKA_EC_PARAMS names unknown curve %v", oid)
	case tagPrintableString, tagUTF8String:
		if name, ok := curveNames[string(content)]; ok {
			c, _ := CurveByName(name)
			return c, nil
		}
		return Curve{}, fmt.Errorf("ck: CKA_EC_PARAMS names unknown curve %q", content)
	case tagSequence:
		return Curve{}, errors.New("ck: CKA_EC_PARAMS holds explicit curve parameters, which are not supported")
	case tagNull:
		return Curve{}, errors.New("ck: CKA_EC_PARAMS is NULL (implicitlyCA), which names no curve")
	}
	return Curve{}, fmt.Errorf("ck: CKA_EC_PARAMS has DER tag %#02x, want an OBJECT IDENTIFIER (0x06) or a PrintableString (0x13)", tag)
}

// parseOID decodes the contents octets of a DER OBJECT IDENTIFIER (X.690
// 8.19). Arcs must fit in 31 bits, as encoding/asn1 requires on every
// platform, and be minimally encoded.
func parseOID(b []byte) (asn1.ObjectIdentifier, error) {
	if len(b) == 0 {
		return nil, errors.New("empty OBJECT IDENTIFIER")
	}
	var arcs []int
	for len(b) > 0 {
		if b[0] == 0x80 {
			return nil, errors.New("OBJECT IDENTIFIER arc with a leading zero byte")
		}
		v := 0
		i := 0
		for {
			if i == len(b) {
				return nil, errors.New("truncated OBJECT IDENTIFIER")
			}
			if v > math.MaxInt32>>7 {
				return nil, errors.New("OBJECT IDENTIFIER arc does not fit in 31 bits")
			}
			v = v<<7 | int(b[i]&0x7f)
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
		b = b[i:]
		if arcs == nil {
			// The first subidentifier packs the first two arcs (8.19.4).
			switch {
			case v < 40:
				arcs = append(arcs, 0, v)
			case v < 80:
				arcs = append(arcs, 1, v-40)
			default:
				arcs = append(arcs, 2, v-80)
			}
			continue
		}
		arcs = append(arcs, v)
	}
	return arcs, nil
}

// parseTLV splits one BER element with a definite length off the start of
// b: its tag, its contents and what follows it. Unlike encoding/asn1 it
// accepts a length in long form where the short form would do, and
// leading zero bytes in a long-form length, as some modules write them.
// Only single-byte tags are supported.
func parseTLV(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("%d bytes are too short for a DER value", len(b))
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, fmt.Errorf("unsupported multi-byte DER tag %#02x", tag)
	}
	n, hdr := uint64(b[1]), 2
	switch {
	case n == 0x80:
		return 0, nil, nil, errors.New("indefinite DER length")
	case n > 0x80:
		k := int(n & 0x7f)
		if k > 4 {
			return 0, nil, nil, fmt.Errorf("DER length of %d bytes", k)
		}
		if len(b) < 2+k {
			return 0, nil, nil, errors.New("truncated DER length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | uint64(c)
		}
		hdr += k
	}
	if n > uint64(len(b)-hdr) {
		return 0, nil, nil, fmt.Errorf("DER length %d exceeds the %d bytes that follow", n, len(b)-hdr)
	}
	return tag, b[hdr : hdr+int(n)], b[hdr+int(n):], nil
}

// EncodeECPoint returns point as a DER OCTET STRING, the form of
// CKA_EC_POINT that PKCS#11 2.40 and 3.0 prescribe for every curve and
// that every module accepts in a template.
func EncodeECPoint(point []byte) []byte {
	n := len(point)
	if n < 0x80 {
		return append(append(make([]byte, 0, 2+n), tagOctetString, byte(n)), point...)
	}
	k := 0
	for m := n; m > 0; m >>= 8 {
		k++
	}
	b := make([]byte, 0, 2+k+n)
	b = append(b, tagOctetString, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return append(b, point...)
}

// isPoint reports whether p is a SEC 1 point (X9.62) on a curve with
// coordinates of f bytes: 0x04||X||Y uncompressed, or 0x02 or 0x03 and X
// compressed. With f 0, any Weierstrass curve of Curves will do.
func isPoint(p []byte, f int) bool {
	if len(p) == 0 {
		return false
	}
	if f == 0 {
		for _, c := range curves {
			if !c.Edwards && isPoint(p, c.FieldBytes) {
				return true
			}
		}
		return false
	}
	switch p[0] {
	case pointUncompressed:
		return len(p) == 1+2*f
	case pointCompressedEven, pointCompressedOdd:
		return len(p) == 1+f
	}
	return false
}

// isPointShape reports whether p looks like a SEC 1 point of any size.
func isPointShape(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	switch p[0] {
	case pointUncompressed:
		return len(p) >= 3 && len(p)%2 == 1
	case pointCompressedEven, pointCompressedOdd:
		return len(p) >= 2
	}
	return false
}

// DecodeECPoint decodes CKA_EC_POINT of a key on a Weierstrass curve
// (P-256, secp256k1, brainpool, ...) and returns the point as SEC 1
// encodes it: 0x04||X||Y uncompressed, which is what modules return, or
// 0x02 or 0x03 followed by X for a compressed point, returned as it is.
// The result aliases v. For Edwards and Montgomery curves, use
// [DecodeEdwardsPoint] or [Curve.DecodePoint].
//
// fieldBytes is the size of a coordinate of the key's curve
// ([Curve.FieldBytes]), which the point's length must match; 0 when the
// curve is not known, and then the point must fit one of the curves of
// [Curves], or else be the contents of a well-formed OCTET STRING.
//
// The value PKCS#11 prescribes is a DER OCTET STRING around the point,
// and that is tried first. Two other forms seen in modules are accepted
// when the value is not an OCTET STRING holding a point of the right
// size:
//   - an OCTET STRING whose length over 127 is written in one byte, as
//     tpm2-pkcs11 writes P-521 points (04 85 04 X Y, where DER has
//     04 81 85 04 X Y);
//   - the bare point, without the OCTET STRING around it.
//
// A long-form length where the short form would do is accepted too.
func DecodeECPoint(v []byte, fieldBytes int) ([]byte, error) {
	if fieldBytes < 0 {
		return nil, fmt.Errorf("ck: CKA_EC_POINT: negative field size %d", fieldBytes)
	}

	// The form PKCS#11 prescribes.
	tag, content, rest, derErr := parseTLV(v)
	der := derErr == nil && tag == tagOctetString && len(rest) == 0
	if der && isPoint(content, fieldBytes) {
		return content, nil
	}

	// tpm2-pkcs11's one-byte long length.
	if len(v) >= 2 && v[0] == tagOctetString && v[1] >= 0x80 && int(v[1]) == len(v)-2 &&
		isPoint(v[2:], fieldBytes) {
		return v[2:], nil
	}

	// A bare point. The order of these tests does not matter for the
	// known curves: a bare point that also parses as an OCTET STRING
	// starts with 0x04, so it is uncompressed, and the OCTET STRING then
	// holds 2 or 3 bytes fewer (63 of 65, 95 of 97, ...), which is no
	// point size of any of them.
	if isPoint(v, fieldBytes) {
		return v, nil
	}

	// A well-formed OCTET STRING on a curve we cannot check.
	if der && fieldBytes == 0 && isPointShape(content) {
		return content, nil
	}

	switch {
	case len(v) == 0:
		return nil, errors.New("ck: CKA_EC_POINT is empty")
	case der && fieldBytes > 0:
		return nil, fmt.Errorf("ck: CKA_EC_POINT holds %s, want %d bytes (uncompressed) or %d (compressed)",
			describePoint(content), 1+2*fieldBytes, 1+fieldBytes)
	case der:
		return nil, fmt.Errorf("ck: CKA_EC_POINT holds %s, which is not a SEC 1 point", describePoint(content))
	case derErr == nil && len(rest) == 0 && tag != tagOctetString:
		return nil, fmt.Errorf("ck: CKA_EC_POINT has DER tag %#02x, want an OCTET STRING (0x04)", tag)
	}
	want := "a point"
	if fieldBytes > 0 {
		want = fmt.Sprintf("a %d-byte point", 1+2*fieldBytes)
	}
	why := ""
	switch {
	case derErr != nil:
		why = ": " + derErr.Error()
	case len(rest) > 0:
		why = fmt.Sprintf(" (read as DER, %d bytes follow the value)", len(rest))
	}
	return nil, fmt.Errorf("ck: CKA_EC_POINT of %d bytes is neither %s nor an OCTET STRING holding one%s", len(v), want, why)
}

// describePoint says what the first byte and length of p are, for errors.
func describePoint(p []byte) string {
	if len(p) == 0 {
		return "an empty point"
	}
	return fmt.Sprintf("a %d-byte point of form %#02x", len(p), p[0])
}

// DecodeEdwardsPoint decodes CKA_EC_POINT of a key on an Edwards or
// Montgomery curve (Ed25519, Ed448, X25519, X448) and returns the public
// key: the byte string of RFC 8032 or RFC 7748. The result aliases v.
//
// size is the length of the key ([Curve.FieldBytes]: 32, 57 or 56); 0
// when the curve is not known, and then the key must have the size of one
// of the curves of [Curves], or else be the contents of a well-formed
// OCTET STRING.
//
// PKCS#11 3.0 wraps the key in a DER OCTET STRING, as for other curves;
// PKCS#11 3.1 and later store it bare. Both are accepted. A bare key of
// the expected size is taken as it is, even when its bytes happen to
// parse as an OCTET STRING: a DER-wrapped key is 2 bytes longer.
func DecodeEdwardsPoint(v []byte, size int) ([]byte, error) {
	if size < 0 {
		return nil, fmt.Errorf("ck: CKA_EC_POINT: negative key size %d", size)
	}
	known := func(n int) bool {
		if size > 0 {
			return n == size
		}
		for _, c := range curves {
			if c.Edwards && n == c.FieldBytes {
				return true
			}
		}
		return false
	}

	// PKCS#11 3.1 and later.
	if known(len(v)) {
		return v, nil
	}

	// PKCS#11 3.0.
	tag, content, rest, derErr := parseTLV(v)
	der := derErr == nil && tag == tagOctetString && len(rest) == 0
	if der && (known(len(content)) || size == 0 && len(content) > 0) {
		return content, nil
	}

	switch {
	case len(v) == 0:
		return nil, errors.New("ck: CKA_EC_POINT is empty")
	case der && size > 0:
		return nil, fmt.Errorf("ck: CKA_EC_POINT holds a %d-byte key, want %d bytes", len(content), size)
	case der:
		return nil, errors.New("ck: CKA_EC_POINT holds an empty key")
	case size > 0:
		return nil, fmt.Errorf("ck: CKA_EC_POINT of %d bytes is neither a %d-byte key nor an OCTET STRING holding one", len(v), size)
	}
	return nil, fmt.Errorf("ck: CKA_EC_POINT of %d bytes is neither a key of a known size nor an OCTET STRING holding one", len(v))
}
