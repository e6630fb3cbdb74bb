package session

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"

	"github.com/purepkcs11/pkcs11/ck"
)

// This file generates keys with secure defaults. Every private and secret
// key is made:
//
//	CKA_TOKEN        true   kept on the token (SessionKey: false)
//	CKA_PRIVATE      true   visible only after login
//	CKA_SENSITIVE    true   its value is never readable
//	CKA_EXTRACTABLE  false  it cannot be wrapped out (Extractable: true)
//	CKA_ID           16 random bytes (KeyID to choose), the same on both
//	                 halves of a pair
//
// with the usage flags of its type set and every other usage flag
// cleared (tokens differ in their defaults for flags left out); public
// keys get the matching public flags. KeyAttributes and
// PublicKeyAttributes override any of it.
//
// The ID is random, not derived from the public key, so that a key pair
// is made in one call, fully labelled, on every token, including those
// that do not let CKA_ID change after generation; x509hsm gives a
// certificate the ID of its key when it stores one.

// KeyOption changes how a key is generated.
type KeyOption func(*keyConfig)

type keyConfig struct {
	label       string
	id          []byte
	extractable bool
	session     bool
	priv, pub   []ck.Attribute
}

// KeyLabel sets CKA_LABEL of the new key (both halves of a pair).
func KeyLabel(label string) KeyOption { return func(c *keyConfig) { c.label = label } }

// KeyID sets CKA_ID of the new key (both halves of a pair) instead of a
// random one. The slice is copied.
func KeyID(id []byte) KeyOption {
	return func(c *keyConfig) { c.id = append([]byte(nil), id...) }
}

// Extractable makes the private or secret key extractable: it can then be
// wrapped by another key. It stays sensitive: its value is never readable
// in clear.
func Extractable() KeyOption { return func(c *keyConfig) { c.extractable = true } }

// SessionKey makes a session key (CKA_TOKEN false) that disappears when
// the session closes, instead of a key kept on the token.
func SessionKey() KeyOption { return func(c *keyConfig) { c.session = true } }

// KeyAttributes adds attributes to the template of the private or secret
// key, replacing any default of the same type: CKA_DERIVE true for ECDH,
// CKA_ALLOWED_MECHANISMS, CKA_SENSITIVE false for a test key, ...
func KeyAttributes(attrs ...ck.Attribute) KeyOption {
	return func(c *keyConfig) { c.priv = append(c.priv, attrs...) }
}

// PublicKeyAttributes adds attributes to the template of the public key
// of a pair, replacing any default of the same type.
func PublicKeyAttributes(attrs ...ck.Attribute) KeyOption {
	return func(c *keyConfig) { c.pub = append(c.pub, attrs...) }
}

// configure applies opts and draws a random ID if none was given.
func configure(opts []KeyOption) (keyConfig, error) {
	var c keyConfig
	for _, o := range opts {
		o(&c)
	}
	if c.id == nil {
		c.id = make([]byte, 16)
		if _, err := rand.Read(c.id); err != nil {
			return c, err
		}
	}
	return c, nil
}

// common returns the attributes both halves of a key share.
func (c *keyConfig) common() []ck.Attribute {
	a := []ck.Attribute{
		ck.MustAttribute(ck.CKA_TOKEN, !c.session),
		{Type: ck.CKA_ID, Value: c.id},
	}
	if c.label != "" {
		a = append(a, ck.MustAttribute(ck.CKA_LABEL, c.label))
	}
	return a
}

// privateUsage and publicUsage are the usage flags of private (and
// secret) and public keys. Every one is set: the flags a key type gets
// to true, the others to false, since a token's default for a flag left
// out may be true (SoftHSM's is, for all of them).
var (
	privateUsage = []ck.AttributeType{ck.CKA_SIGN, ck.CKA_SIGN_RECOVER, ck.CKA_DECRYPT, ck.CKA_UNWRAP, ck.CKA_DERIVE}
	publicUsage  = []ck.AttributeType{ck.CKA_VERIFY, ck.CKA_VERIFY_RECOVER, ck.CKA_ENCRYPT, ck.CKA_WRAP, ck.CKA_DERIVE}
	secretUsage  = []ck.AttributeType{ck.CKA_SIGN, ck.CKA_VERIFY, ck.CKA_ENCRYPT, ck.CKA_DECRYPT, ck.CKA_WRAP, ck.CKA_UNWRAP, ck.CKA_DERIVE}
)

// usage returns the flags of all with those in on true, the others false.
func usage(all []ck.AttributeType, on []ck.AttributeType) []ck.Attribute {
	out := make([]ck.Attribute, len(all))
	for i, u := range all {
		out[i] = ck.MustAttribute(u, slices.Contains(on, u))
	}
	return out
}

// private returns the template of a private or secret key whose usage
// flags are all (privateUsage or secretUsage) with those in on true.
func (c *keyConfig) private(all []ck.AttributeType, on ...ck.AttributeType) []ck.Attribute {
	t := append(c.common(),
		ck.MustAttribute(ck.CKA_PRIVATE, true),
		ck.MustAttribute(ck.CKA_SENSITIVE, true),
		ck.MustAttribute(ck.CKA_EXTRACTABLE, c.extractable),
	)
	return merge(append(t, usage(all, on)...), c.priv)
}

// public returns the template of a public key with the usage flags in on
// true and the others false.
func (c *keyConfig) public(on []ck.AttributeType, extra ...ck.Attribute) []ck.Attribute {
	t := append(c.common(), ck.MustAttribute(ck.CKA_PRIVATE, false))
	t = append(t, usage(publicUsage, on)...)
	return merge(append(t, extra...), c.pub)
}

// generatePair generates a key pair and reads back the identity of both
// halves (C_GenerateKeyPair, C_GetAttributeValue).
func (s *Session) generatePair(op string, mech ck.Mechanism, pubT, privT []ck.Attribute) (pub, priv Object, err error) {
	if err := s.checkMech(op, mech); err != nil {
		return Object{}, Object{}, err
	}
	ph, vh, err := s.m.GenerateKeyPair(s.h, mech, pubT, privT)
	if err != nil {
		return Object{}, Object{}, s.opErr(op, mech, Object{}, err)
	}
	if pub, err = s.identify(ph, ck.CKO_PUBLIC_KEY); err != nil {
		return Object{}, Object{}, s.wrap(op+": reading the public key", err)
	}
	if priv, err = s.identify(vh, ck.CKO_PRIVATE_KEY); err != nil {
		return Object{}, Object{}, s.wrap(op+": reading the private key", err)
	}
	return pub, priv, nil
}

// GenerateRSA generates an RSA key pair of bits bits, at least 2048,
// with public exponent 65537 (C_GenerateKeyPair with
// CKM_RSA_PKCS_KEY_PAIR_GEN, then C_GetAttributeValue). The private key
// signs, decrypts and unwraps; the public key verifies, encrypts and
// wraps. See the secure defaults above.
func (s *Session) GenerateRSA(bits int, opts ...KeyOption) (pub, priv Object, err error) {
	const op = "generating an RSA key"
	if bits < 2048 || bits > 16384 {
		return Object{}, Object{}, fmt.Errorf("session: %s: %d bits, want 2048 to 16384", op, bits)
	}
	c, err := configure(opts)
	if err != nil {
		return Object{}, Object{}, fmt.Errorf("session: %s: %w", op, err)
	}
	pubT := c.public([]ck.AttributeType{ck.CKA_VERIFY, ck.CKA_ENCRYPT, ck.CKA_WRAP},
		ck.MustAttribute(ck.CKA_MODULUS_BITS, bits),
		ck.MustAttribute(ck.CKA_PUBLIC_EXPONENT, big.NewInt(65537)))
	privT := c.private(privateUsage, ck.CKA_SIGN, ck.CKA_DECRYPT, ck.CKA_UNWRAP)
	return s.generatePair(op, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN}, pubT, privT)
}

// GenerateEC generates an ECDSA key pair on the named Weierstrass curve:
// "P-256", "P-384", "P-521", "secp256k1", or another that
// ck.CurveByName knows (C_GenerateKeyPair with CKM_EC_KEY_PAIR_GEN, then
// C_GetAttributeValue). The private key signs, the public key verifies;
// for ECDH add KeyAttributes(ck.MustAttribute(ck.CKA_DERIVE, true)). See
// the secure defaults above.
func (s *Session) GenerateEC(curve string, opts ...KeyOption) (pub, priv Object, err error) {
	op := "generating an EC key"
	c, ok := ck.CurveByName(curve)
	if !ok || c.Edwards {
		return Object{}, Object{}, fmt.Errorf("session: %s: unknown Weierstrass curve %q (for Edwards curves: GenerateEd25519, GenerateEd448)", op, curve)
	}
	op = "generating an EC key on " + c.Name
	return s.generateCurve(op, ck.CKM_EC_KEY_PAIR_GEN, c, opts)
}

// GenerateEd25519 generates an Ed25519 key pair (C_GenerateKeyPair with
// CKM_EC_EDWARDS_KEY_PAIR_GEN, then C_GetAttributeValue). Sign with
// EdDSA(). See the secure defaults above.
func (s *Session) GenerateEd25519(opts ...KeyOption) (pub, priv Object, err error) {
	c, _ := ck.CurveByName("Ed25519")
	return s.generateCurve("generating an Ed25519 key", ck.CKM_EC_EDWARDS_KEY_PAIR_GEN, c, opts)
}

// GenerateEd448 generates an Ed448 key pair (C_GenerateKeyPair with
// CKM_EC_EDWARDS_KEY_PAIR_GEN, then C_GetAttributeValue). See the secure
// defaults above.
func (s *Session) GenerateEd448(opts ...KeyOption) (pub, priv Object, err error) {
	c, _ := ck.CurveByName("Ed448")
	return s.generateCurve("generating an Ed448 key", ck.CKM_EC_EDWARDS_KEY_PAIR_GEN, c, opts)
}

func (s *Session) generateCurve(op string, mt ck.MechanismType, curve ck.Curve, opts []KeyOption) (pub, priv Object, err error) {
	c, err := configure(opts)
	if err != nil {
		return Object{}, Object{}, fmt.Errorf("session: %s: %w", op, err)
	}
	pubT := c.public([]ck.AttributeType{ck.CKA_VERIFY},
		ck.Attribute{Type: ck.CKA_EC_PARAMS, Value: curve.ECParams()})
	privT := c.private(privateUsage, ck.CKA_SIGN)
	return s.generatePair(op, ck.Mechanism{Type: mt}, pubT, privT)
}

// GenerateAES generates an AES key of bits bits, 128, 192 or 256
// (C_GenerateKey with CKM_AES_KEY_GEN, then C_GetAttributeValue). It
// encrypts, decrypts, wraps and unwraps. See the secure defaults above.
func (s *Session) GenerateAES(bits int, opts ...KeyOption) (Object, error) {
	const op = "generating an AES key"
	if bits != 128 && bits != 192 && bits != 256 {
		return Object{}, fmt.Errorf("session: %s: %d bits, want 128, 192 or 256", op, bits)
	}
	return s.generateSecret(op, ck.CKM_AES_KEY_GEN, ck.CKK_AES, bits/8, opts,
		ck.CKA_ENCRYPT, ck.CKA_DECRYPT, ck.CKA_WRAP, ck.CKA_UNWRAP)
}

// GenerateSecret generates a generic secret of n bytes, at least 16, for
// HMAC (C_GenerateKey with CKM_GENERIC_SECRET_KEY_GEN, then
// C_GetAttributeValue). It signs and verifies. See the secure defaults
// above.
func (s *Session) GenerateSecret(n int, opts ...KeyOption) (Object, error) {
	const op = "generating a secret"
	if n < 16 || n > 1024 {
		return Object{}, fmt.Errorf("session: %s: %d bytes, want 16 to 1024", op, n)
	}
	return s.generateSecret(op, ck.CKM_GENERIC_SECRET_KEY_GEN, ck.CKK_GENERIC_SECRET, n, opts,
		ck.CKA_SIGN, ck.CKA_VERIFY)
}

func (s *Session) generateSecret(op string, mt ck.MechanismType, kt ck.KeyType, n int, opts []KeyOption, on ...ck.AttributeType) (Object, error) {
	mech := ck.Mechanism{Type: mt}
	if err := s.checkMech(op, mech); err != nil {
		return Object{}, err
	}
	c, err := configure(opts)
	if err != nil {
		return Object{}, fmt.Errorf("session: %s: %w", op, err)
	}
	t := merge([]ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_SECRET_KEY),
		ck.MustAttribute(ck.CKA_KEY_TYPE, kt),
		ck.MustAttribute(ck.CKA_VALUE_LEN, n),
	}, c.private(secretUsage, on...))
	h, err := s.m.GenerateKey(s.h, mech, t)
	if err != nil {
		return Object{}, s.opErr(op, mech, Object{}, err)
	}
	o, err := s.identify(h, ck.CKO_SECRET_KEY)
	return o, s.wrap(op+": reading the key", err)
}
