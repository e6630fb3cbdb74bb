package x509hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// JOSE: an entry signs and verifies JWS signatures (RFC 7515) with the
// algorithm of RFC 7518 (and RFC 8037 for EdDSA, RFC 8812 for ES256K)
// that its key allows. The default follows the key: RS256 for RSA,
// ES256, ES384 or ES512 for P-256, P-384 or P-521, ES256K for
// secp256k1, EdDSA for Ed25519. An RSA entry can switch to any of RS256,
// RS384, RS512, PS256, PS384 and PS512; an EC or Ed25519 entry has only
// its own algorithm.

// ErrVerification is matched by the error of [Entry.Verify] when the
// signature is not valid.
var ErrVerification = errors.New("x509hsm: invalid signature")

type jwsAlg struct {
	hash  crypto.Hash
	kind  keyKind
	curve string // for ES*: the curve it needs
	pss   bool
}

var jwsAlgs = map[string]jwsAlg{
	"RS256":  {crypto.SHA256, kindRSA, "", false},
	"RS384":  {crypto.SHA384, kindRSA, "", false},
	"RS512":  {crypto.SHA512, kindRSA, "", false},
	"PS256":  {crypto.SHA256, kindRSA, "", true},
	"PS384":  {crypto.SHA384, kindRSA, "", true},
	"PS512":  {crypto.SHA512, kindRSA, "", true},
	"ES256":  {crypto.SHA256, kindECDSA, "P-256", false},
	"ES384":  {crypto.SHA384, kindECDSA, "P-384", false},
	"ES512":  {crypto.SHA512, kindECDSA, "P-521", false},
	"ES256K": {crypto.SHA256, kindECOther, "secp256k1", false},
	"EdDSA":  {0, kindEd25519, "", false},
}

// JWSAlgorithms returns the JWS algorithms an entry can have, sorted.
func JWSAlgorithms() []string {
	out := make([]string, 0, len(jwsAlgs))
	for a := range jwsAlgs {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// allows reports whether alg fits key pub.
func (a jwsAlg) allows(pub crypto.PublicKey) bool {
	return kindOf(pub) == a.kind && (a.curve == "" || curveName(pub) == a.curve)
}

// defaultAlgorithm returns the JWS algorithm of a key, or "" when it
// has none.
func defaultAlgorithm(pub crypto.PublicKey) (string, bool) {
	switch kindOf(pub) {
	case kindRSA:
		return "RS256", true
	case kindEd25519:
		return "EdDSA", true
	}
	for _, name := range []string{"ES256", "ES384", "ES512", "ES256K"} {
		if jwsAlgs[name].allows(pub) {
			return name, true
		}
	}
	return "", false
}

// JWSAlgorithm returns the entry's JWS algorithm ("RS256", "ES256",
// ...), or "" when its key has none.
func (e *Entry) JWSAlgorithm() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.alg
}

// SetJWSAlgorithm changes the entry's JWS algorithm. It fails when the
// entry's key cannot sign with alg: an RSA key takes RS256, RS384,
// RS512, PS256, PS384 and PS512; other keys only their default.
func (e *Entry) SetJWSAlgorithm(alg string) error {
	a, ok := jwsAlgs[alg]
	if !ok {
		return e.errorf("unknown JWS algorithm %q", alg)
	}
	if !a.allows(e.Public()) {
		return e.errorf("JWS algorithm %s does not fit its %s key", alg, describeKey(e.Public()))
	}
	e.mu.Lock()
	e.alg = alg
	e.mu.Unlock()
	return nil
}

// algorithm returns the entry's JWS algorithm and its parameters.
func (e *Entry) algorithm() (string, jwsAlg, error) {
	name := e.JWSAlgorithm()
	a, ok := jwsAlgs[name]
	if !ok {
		return "", jwsAlg{}, e.errorf("its %s key has no JWS algorithm", describeKey(e.Public()))
	}
	return name, a, nil
}

// Sign returns the JWS signature of message (the ASCII of
// "<header>.<payload>", RFC 7515, 5.1) with the entry's JWS algorithm:
// the message is hashed here and the digest signed on the token. The
// result is the signature's bytes as JWS has them, before base64url:
// PKCS #1 v1.5 or PSS (salt as long as the hash) for RS* and PS*, r||s
// of fixed width for ES* (RFC 7518, 3.4), the Ed25519 signature for
// EdDSA.
func (e *Entry) Sign(message []byte) ([]byte, error) {
	_, a, err := e.algorithm()
	if err != nil {
		return nil, err
	}
	s := e.Signer()
	switch {
	case a.kind == kindEd25519:
		return s.SignMessage(nil, message, crypto.Hash(0))
	case a.kind == kindRSA && a.pss:
		return s.SignMessage(nil, message, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash})
	case a.kind == kindRSA:
		return s.SignMessage(nil, message, a.hash)
	}
	h := a.hash.New()
	h.Write(message)
	rs, err := e.sign(session.ECDSA(0), h.Sum(nil))
	if err != nil {
		return nil, err
	}
	return fixedRS(rs, fieldBytes(e.Public()))
}

// fixedRS returns an r||s signature with r and s of n bytes each.
func fixedRS(rs []byte, n int) ([]byte, error) {
	if len(rs) == 2*n {
		return rs, nil
	}
	if len(rs) == 0 || len(rs)%2 != 0 || len(rs)/2 > n {
		return nil, ErrVerification
	}
	half := len(rs) / 2
	out := make([]byte, 2*n)
	copy(out[n-half:n], rs[:half])
	copy(out[2*n-half:], rs[half:])
	return out, nil
}

// Verify checks sig, a JWS signature made with the entry's JWS
// algorithm, over message, with the public key of the entry's
// certificate. It needs no PIN. Go verifies every algorithm but ES256K:
// Go has no secp256k1, so the token verifies those, with the entry's
// public key object when it has one, else with a session object made
// from the certificate's key for the one verification (public, so no
// login is needed). An invalid signature gives an error matching
// ErrVerification.
func (e *Entry) Verify(message, sig []byte) error {
	name, a, err := e.algorithm()
	if err != nil {
		return err
	}
	invalid := func() error { return e.errorf("%s: %w", name, ErrVerification) }
	var digest []byte
	if a.hash != 0 {
		h := a.hash.New()
		h.Write(message)
		digest = h.Sum(nil)
	}
	switch pub := e.Public().(type) {
	case *rsa.PublicKey:
		if a.pss {
			err = rsa.VerifyPSS(pub, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(pub, a.hash, digest, sig)
		}
		if err != nil {
			return invalid()
		}
		return nil
	case *ecdsa.PublicKey:
		n := fieldBytes(pub)
		if len(sig) != 2*n {
			return invalid()
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return invalid()
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, message, sig) {
			return invalid()
		}
		return nil
	case *ECPublicKey:
		if len(sig) != 2*pub.Curve.FieldBytes {
			return invalid()
		}
		err := e.verifyOnToken(pub, digest, sig)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ck.CKR_SIGNATURE_INVALID), errors.Is(err, ck.CKR_SIGNATURE_LEN_RANGE):
			return invalid()
		}
		return e.errorf("%s: verifying on the token: %w", name, err)
	}
	return e.errorf("%s: unsupported key %s", name, describeKey(e.Public()))
}

// verifyOnToken checks the r||s signature sig over digest with CKM_ECDSA
// on the entry's token, for a key on a curve Go lacks. It uses the
// entry's public key object if it has one and that works; otherwise (no
// object, or one gone since discovery) it makes a session object of
// pub, verifies with it and destroys it. Both run on the pool that
// never logs in: public session objects need no login, and read-only
// sessions may make them.
func (e *Entry) verifyOnToken(pub *ECPublicKey, digest, sig []byte) error {
	ctx := context.Background()
	var objErr error
	if e.pubObj != nil {
		objErr = e.tok.pub.Verify(ctx, *e.pubObj, session.ECDSA(0), digest, sig)
		if objErr == nil || errors.Is(objErr, ck.CKR_SIGNATURE_INVALID) || errors.Is(objErr, ck.CKR_SIGNATURE_LEN_RANGE) {
			return objErr
		}
	}
	tmpl := []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PUBLIC_KEY),
		ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_EC),
		ck.MustAttribute(ck.CKA_TOKEN, false),
		ck.MustAttribute(ck.CKA_PRIVATE, false),
		ck.MustAttribute(ck.CKA_VERIFY, true),
		{Type: ck.CKA_EC_PARAMS, Value: pub.Curve.ECParams()},
		{Type: ck.CKA_EC_POINT, Value: ck.EncodeECPoint(pub.Point)},
	}
	// Safe to run again on a fresh session: a session object goes with
	// the session that made it.
	err := e.tok.pub.Retry(ctx, func(s *session.Session) error {
		o, err := s.Create(tmpl)
		if err != nil {
			return fmt.Errorf("creating a session object of the public key: %w", err)
		}
		// Should the token refuse to destroy it, it goes when the
		// session is closed.
		defer s.Destroy(o.Handle)
		return s.Verify(o, session.ECDSA(0), digest, sig)
	})
	if err != nil && objErr != nil {
		return fmt.Errorf("with the public key object: %w; with the certificate's key: %w", objErr, err)
	}
	return err
}
