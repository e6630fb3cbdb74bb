package x509hsm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/purepkcs11/pkcs11/ck"
)

// ECPublicKey is the public key of a token key on a curve that Go's
// crypto packages do not implement, such as secp256k1, the Brainpool
// curves or Ed448. Keys on P-256, P-384 and P-521 are *ecdsa.PublicKey
// and Ed25519 keys ed25519.PublicKey instead.
//
// Such keys sign on the token like the others, but crypto/x509 can
// neither parse nor create certificates for them: their entries have
// synthetic certificates (built by this package, which crypto/x509
// could not parse), no CSR or certificate can be made for them, and a
// certificate for such a key on a token is reported by discovery as
// unparseable.
type ECPublicKey struct {
	// Curve is the key's curve.
	Curve ck.Curve
	// Point is the public key as the token gives it: a SEC 1 point for
	// Weierstrass curves (0x04||X||Y), the RFC 8032 key for Ed448.
	Point []byte
}

// Equal reports whether x is an *ECPublicKey with the same curve and
// point.
func (k *ECPublicKey) Equal(x crypto.PublicKey) bool {
	o, ok := x.(*ECPublicKey)
	return ok && k.Curve.OID.Equal(o.Curve.OID) && bytes.Equal(k.Point, o.Point)
}

// goCurve returns crypto/elliptic's curve of a ck.Curve name, or nil.
func goCurve(name string) elliptic.Curve {
	switch name {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	case "P-521":
		return elliptic.P521()
	}
	return nil
}

// decodeRSA returns the RSA public key of CKA_MODULUS and
// CKA_PUBLIC_EXPONENT.
func decodeRSA(modulus, exponent []byte) (*rsa.PublicKey, error) {
	n := new(big.Int).SetBytes(modulus)
	e := new(big.Int).SetBytes(exponent)
	if n.Sign() == 0 {
		return nil, errors.New("empty RSA modulus")
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, fmt.Errorf("RSA public exponent %v out of range", e)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// decodeEC returns the public key of CKA_EC_PARAMS and CKA_EC_POINT:
// *ecdsa.PublicKey, ed25519.PublicKey or *ECPublicKey.
func decodeEC(params, point []byte) (crypto.PublicKey, error) {
	c, err := ck.DecodeECParams(params)
	if err != nil {
		return nil, err
	}
	p, err := c.DecodePoint(point)
	if err != nil {
		return nil, err
	}
	p = bytes.Clone(p)
	if gc := goCurve(c.Name); gc != nil {
		if len(p) > 0 && p[0] != 4 {
			x, y := elliptic.UnmarshalCompressed(gc, p)
			if x == nil {
				return nil, fmt.Errorf("invalid compressed %s point", c.Name)
			}
			p = uncompressed(c.FieldBytes, x, y)
		}
		return ecdsa.ParseUncompressedPublicKey(gc, p)
	}
	if c.Name == "Ed25519" {
		return ed25519.PublicKey(p), nil
	}
	return &ECPublicKey{Curve: c, Point: p}, nil
}

// uncompressed encodes a point as 0x04||X||Y with coordinates of n
// bytes.
func uncompressed(n int, x, y *big.Int) []byte {
	b := make([]byte, 1+2*n)
	b[0] = 4
	x.FillBytes(b[1 : 1+n])
	y.FillBytes(b[1+n:])
	return b
}

// keyFingerprint returns a string that is equal for equal public keys
// and differs otherwise, or "" for a key of a type it does not know. It
// links certificates and key objects by value.
func keyFingerprint(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "rsa:" + string(k.N.Bytes()) + ":" + strconv.Itoa(k.E)
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			return ""
		}
		return "ec:" + k.Curve.Params().Name + ":" + string(b)
	case ed25519.PublicKey:
		return "ed25519:" + string(k)
	case *ECPublicKey:
		return "ec:" + k.Curve.Name + ":" + string(k.Point)
	}
	return ""
}

// publicKeyBits returns the contents of the subjectPublicKey BIT STRING
// that a certificate holds for pub: the PKCS #1 RSAPublicKey, the EC
// point, the Ed25519 key.
func publicKeyBits(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return x509.MarshalPKCS1PublicKey(k), nil
	case *ecdsa.PublicKey:
		return k.Bytes()
	case ed25519.PublicKey:
		return k, nil
	case *ECPublicKey:
		return k.Point, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

// subjectKeyID returns the key identifier of RFC 5280, 4.2.1.2, method
// 1: the SHA-1 of the subjectPublicKey bits.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	b, err := publicKeyBits(pub)
	if err != nil {
		return nil, err
	}
	h := sha1.Sum(b)
	return h[:], nil
}

var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

// marshalSPKI returns the SubjectPublicKeyInfo of pub in DER, also for
// the curves of ECPublicKey, which crypto/x509 cannot encode.
func marshalSPKI(pub crypto.PublicKey) ([]byte, error) {
	k, ok := pub.(*ECPublicKey)
	if !ok {
		return x509.MarshalPKIXPublicKey(pub)
	}
	var alg pkix.AlgorithmIdentifier
	if k.Curve.Edwards {
		// RFC 8410: the curve's OID is the algorithm, without parameters.
		alg.Algorithm = k.Curve.OID
	} else {
		params, err := asn1.Marshal(k.Curve.OID)
		if err != nil {
			return nil, err
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}
	}
	return asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{alg, asn1.BitString{Bytes: k.Point, BitLength: 8 * len(k.Point)}})
}

// parseSPKI parses a DER SubjectPublicKeyInfo, such as
// CKA_PUBLIC_KEY_INFO, into the public keys of decodeEC: crypto/x509
// parses the keys it knows, and this package the EC and Edwards keys on
// the curves of ck.Curves that crypto/x509 lacks (secp256k1, the
// Brainpool curves, Ed448), as marshalSPKI writes them.
func parseSPKI(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err == nil {
		return pub, nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, uerr := asn1.Unmarshal(der, &spki); uerr != nil || len(rest) > 0 {
		return nil, err
	}
	// RFC 5480 names a Weierstrass curve in the parameters of
	// id-ecPublicKey; RFC 8410 an Edwards curve by the algorithm.
	oid := spki.Algorithm.Algorithm
	weierstrass := oid.Equal(oidECPublicKey)
	if weierstrass {
		if _, perr := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &oid); perr != nil {
			return nil, err
		}
	}
	c, ok := ck.CurveByOID(oid)
	if !ok || c.Edwards == weierstrass {
		return nil, err
	}
	return decodeEC(c.ECParams(), ck.EncodeECPoint(spki.PublicKey.RightAlign()))
}

// keyKind is what a public key can do here.
type keyKind uint8

const (
	kindUnknown keyKind = iota
	kindRSA
	kindECDSA   // P-256, P-384, P-521: crypto/ecdsa
	kindECOther // other Weierstrass curves (secp256k1): ECDSA on the token only
	kindEd25519
	kindEdOther // Ed448: CKM_EDDSA on the token only
)

func kindOf(pub crypto.PublicKey) keyKind {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return kindRSA
	case *ecdsa.PublicKey:
		return kindECDSA
	case ed25519.PublicKey:
		return kindEd25519
	case *ECPublicKey:
		if k.Curve.Edwards {
			return kindEdOther
		}
		return kindECOther
	}
	return kindUnknown
}

// ckKeyType returns the CKA_KEY_TYPE of keys like pub.
func ckKeyType(pub crypto.PublicKey) (ck.KeyType, bool) {
	switch kindOf(pub) {
	case kindRSA:
		return ck.CKK_RSA, true
	case kindECDSA, kindECOther:
		return ck.CKK_EC, true
	case kindEd25519, kindEdOther:
		return ck.CKK_EC_EDWARDS, true
	}
	return 0, false
}

// fieldBytes returns the size of one coordinate of an EC key's curve,
// the width of r and s in its signatures, or 0.
func fieldBytes(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return (k.Curve.Params().BitSize + 7) / 8
	case *ECPublicKey:
		return k.Curve.FieldBytes
	}
	return 0
}

// curveName returns the name of an EC or Edwards key's curve, or "".
func curveName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return k.Curve.Params().Name
	case *ECPublicKey:
		return k.Curve.Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return ""
}

// describeKey names a public key for people: "RSA-2048", "P-256",
// "secp256k1", "Ed25519".
func describeKey(pub crypto.PublicKey) string {
	if k, ok := pub.(*rsa.PublicKey); ok {
		return "RSA-" + strconv.Itoa(k.N.BitLen())
	}
	if n := curveName(pub); n != "" {
		return n
	}
	return fmt.Sprintf("%T", pub)
}

// derElement splits the first DER element off b: its tag (one byte;
// no high-tag-number form), contents and the bytes that follow it.
func derElement(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("truncated DER")
	}
	tag, l := b[0], int(b[1])
	b = b[2:]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, errors.New("DER tag in high-tag-number form")
	}
	if l >= 0x80 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < n {
			return 0, nil, nil, errors.New("bad DER length")
		}
		l = 0
		for _, c := range b[:n] {
			l = l<<8 | int(c)
		}
		b = b[n:]
	}
	if l < 0 || l > len(b) {
		return 0, nil, nil, errors.New("DER length beyond the data")
	}
	return tag, b[:l], b[l:], nil
}

// derWrap encodes a DER element of tag with contents c.
func derWrap(tag byte, c []byte) []byte {
	n := len(c)
	var hdr []byte
	switch {
	case n < 0x80:
		hdr = []byte{tag, byte(n)}
	case n < 0x100:
		hdr = []byte{tag, 0x81, byte(n)}
	case n < 0x10000:
		hdr = []byte{tag, 0x82, byte(n >> 8), byte(n)}
	default:
		hdr = []byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(hdr, c...)
}
