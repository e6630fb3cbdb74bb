package x509hsm

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// Signer is an entry's private key as a crypto.Signer and
// crypto.MessageSigner: every signature is made on the token. It is safe
// for concurrent use: signatures go through the token's session pool,
// which replaces lost sessions and logs in again with the PIN the store
// or entry keeps.
//
// Sign maps crypto.SignerOpts as the standard library's keys do:
//
//   - RSA, opts a crypto.Hash: PKCS #1 v1.5. The DigestInfo of the
//     digest is built here and signed with CKM_RSA_PKCS; with
//     crypto.Hash(0) the digest is signed as given (rsa.SignPKCS1v15
//     with hash 0).
//   - RSA, opts an *rsa.PSSOptions: RSA-PSS with CKM_RSA_PKCS_PSS, MGF1
//     over the same hash. rsa.PSSSaltLengthEqualsHash makes the salt as
//     long as the hash (what TLS 1.3 and JOSE use);
//     rsa.PSSSaltLengthAuto makes it as long as the key allows, as
//     rsa.SignPSS does (Go's verifiers accept either with Auto); a
//     positive length is used as given.
//   - ECDSA: CKM_ECDSA over the digest; the token's r||s is returned as
//     the ASN.1 SEQUENCE crypto/ecdsa produces.
//   - Ed25519: CKM_EDDSA over the whole message, with opts
//     crypto.Hash(0) (or an *ed25519.Options without hash or context),
//     as ed25519.PrivateKey.Sign takes it. Ed25519ph and Ed25519ctx
//     are refused.
//
// A digest whose length is not that of opts.HashFunc() is refused
// before any call to the token. SignMessage hashes the message here
// with opts.HashFunc() and signs as Sign does, unless [HashOnToken]
// was given.
//
// Keys with CKA_ALWAYS_AUTHENTICATE get the PIN again for each signature
// and decryption, right after the operation starts (C_Login with
// CKU_CONTEXT_SPECIFIC), from the PIN the store or entry holds: one more
// call per operation. A PIN the token refuses there is reported
// (errors.Is(err, session.ErrKeyPIN)) and never sent again.
type Signer struct {
	e           *Entry
	hashOnToken bool
}

// SignerOption configures [Entry.Signer].
type SignerOption func(*Signer)

// HashOnToken makes [Signer.SignMessage] pass the message to the token
// and sign with a mechanism that hashes it there (CKM_SHA256_RSA_PKCS,
// CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256, ...), for tokens that
// require it or policies that want the hash computed in the token. Many
// tokens lack the ECDSA ones (SoftHSM 2.6 does). Sign is not affected:
// it is given a digest.
func HashOnToken() SignerOption { return func(s *Signer) { s.hashOnToken = true } }

// Signer returns the entry's private key as a crypto.Signer. The key is
// looked for on the token at the first signature if it was not found
// yet; signing fails with ErrNoPIN until the token is logged in and
// with ErrNoPrivateKey if the token has no private key for the entry.
func (e *Entry) Signer(opts ...SignerOption) *Signer {
	s := &Signer{e: e}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Public returns the entry's public key.
func (s *Signer) Public() crypto.PublicKey { return s.e.Public() }

// Sign signs digest, the hash of a message with opts.HashFunc() (or the
// message itself for Ed25519), with the entry's private key on the
// token. rand is not used: the token has its own generator.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	op, err := s.prepare(digest, opts, false)
	if err != nil {
		return nil, err
	}
	return s.do(op)
}

// SignMessage signs message with the entry's private key on the token,
// hashing it first with opts.HashFunc() (here, or on the token with
// HashOnToken); Ed25519 signs the message itself. It implements
// crypto.MessageSigner, which crypto.SignMessage prefers. rand is not
// used.
func (s *Signer) SignMessage(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	op, err := s.prepare(message, opts, true)
	if err != nil {
		return nil, err
	}
	return s.do(op)
}

var (
	_ crypto.Signer        = (*Signer)(nil)
	_ crypto.MessageSigner = (*Signer)(nil)
)

// signOp is one signature to make on the token.
type signOp struct {
	mech ck.Mechanism
	data []byte
	der  bool // convert the token's r||s to ASN.1
}

// prepare checks a signing request and chooses its mechanism. in is a
// digest, or with message a message.
func (s *Signer) prepare(in []byte, opts crypto.SignerOpts, message bool) (signOp, error) {
	if opts == nil {
		opts = crypto.Hash(0)
	}
	pub := s.e.Public()
	h := opts.HashFunc()
	switch kindOf(pub) {
	case kindRSA:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return s.preparePSS(pub.(*rsa.PublicKey), in, pss, message)
		}
		if h == 0 {
			return signOp{mech: session.RSAPKCS1v15(0), data: in}, nil
		}
		if message && s.hashOnToken {
			return signOp{mech: session.RSAPKCS1v15(h), data: in}, nil
		}
		digest, err := s.digest(in, h, message)
		if err != nil {
			return signOp{}, err
		}
		prefix, ok := digestInfoPrefixes[h]
		if !ok {
			return signOp{}, s.e.errorf("sign: RSA PKCS #1 v1.5 with %v is not supported", h)
		}
		return signOp{mech: session.RSAPKCS1v15(0), data: append(prefix[:len(prefix):len(prefix)], digest...)}, nil

	case kindECDSA, kindECOther:
		if message && h == 0 {
			return signOp{}, s.e.errorf("sign: ECDSA needs a hash function to sign a message")
		}
		if message && s.hashOnToken {
			return signOp{mech: session.ECDSA(h), data: in, der: true}, nil
		}
		digest, err := s.digest(in, h, message)
		if err != nil {
			return signOp{}, err
		}
		return signOp{mech: session.ECDSA(0), data: digest, der: true}, nil

	case kindEd25519, kindEdOther:
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return signOp{}, s.e.errorf("sign: Ed25519ctx (a context) is not supported")
		}
		if h != 0 {
			return signOp{}, s.e.errorf("sign: Ed25519 signs the message itself, with crypto.Hash(0), not a %v digest (Ed25519ph is not supported)", h)
		}
		return signOp{mech: session.EdDSA(), data: in}, nil
	}
	return signOp{}, s.e.errorf("sign: unsupported key %s", describeKey(pub))
}

// preparePSS chooses the RSA-PSS mechanism of a request.
func (s *Signer) preparePSS(pub *rsa.PublicKey, in []byte, o *rsa.PSSOptions, message bool) (signOp, error) {
	h := o.HashFunc()
	if h == 0 {
		return signOp{}, s.e.errorf("sign: RSA-PSS needs a hash function")
	}
	emLen := (pub.N.BitLen() - 1 + 7) / 8
	maxSalt := emLen - h.Size() - 2
	var salt int
	switch {
	case o.SaltLength == rsa.PSSSaltLengthEqualsHash:
		salt = h.Size()
	case o.SaltLength == rsa.PSSSaltLengthAuto:
		salt = maxSalt
	case o.SaltLength > 0:
		salt = o.SaltLength
	default:
		return signOp{}, s.e.errorf("sign: invalid RSA-PSS salt length %d", o.SaltLength)
	}
	if salt > maxSalt || salt < 0 {
		return signOp{}, s.e.errorf("sign: RSA-PSS salt of %d bytes does not fit a %d-bit key with %v", salt, pub.N.BitLen(), h)
	}
	if message && s.hashOnToken {
		return signOp{mech: session.RSAPSS(h, salt), data: in}, nil
	}
	digest, err := s.digest(in, h, message)
	if err != nil {
		return signOp{}, err
	}
	return signOp{mech: session.RSAPSSPrehashed(h, salt), data: digest}, nil
}

// digest returns the digest to sign: in hashed with h when in is a
// message, else in itself, refused when its length is not h's.
func (s *Signer) digest(in []byte, h crypto.Hash, message bool) ([]byte, error) {
	if message {
		if !h.Available() {
			return nil, s.e.errorf("sign: hash function %v is not available", h)
		}
		hh := h.New()
		hh.Write(in)
		return hh.Sum(nil), nil
	}
	if h != 0 && len(in) != h.Size() {
		return nil, s.e.errorf("sign: digest of %d bytes, but %v digests have %d", len(in), h, h.Size())
	}
	return in, nil
}

// do makes the signature on the token.
func (s *Signer) do(op signOp) ([]byte, error) {
	sig, err := s.e.sign(op.mech, op.data)
	if err != nil {
		return nil, err
	}
	if op.der {
		return ecdsaDER(sig)
	}
	return sig, nil
}

// sign signs data with mech and the entry's private key.
func (e *Entry) sign(mech ck.Mechanism, data []byte) ([]byte, error) {
	ctx := context.Background()
	key, pool, err := e.privateKey(ctx)
	if err != nil {
		return nil, err
	}
	sig, err := pool.Sign(ctx, key, mech, data)
	if err != nil {
		return nil, e.errorf("sign: %w", err)
	}
	return sig, nil
}

// ecdsaDER converts an ECDSA signature from the r||s of PKCS#11 to the
// DER SEQUENCE of two INTEGERs of RFC 3279.
func ecdsaDER(rs []byte) ([]byte, error) {
	if len(rs) == 0 || len(rs)%2 != 0 {
		return nil, fmt.Errorf("x509hsm: ECDSA signature of %d bytes from the token is not r||s", len(rs))
	}
	n := len(rs) / 2
	body := appendDERInteger(nil, rs[:n])
	body = appendDERInteger(body, rs[n:])
	return derWrap(0x30, body), nil
}

// appendDERInteger appends the DER INTEGER of the unsigned big-endian
// number b.
func appendDERInteger(out, b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 {
		b = []byte{0}
	}
	if b[0]&0x80 != 0 {
		return append(out, derWrap(0x02, append([]byte{0}, b...))...)
	}
	return append(out, derWrap(0x02, b)...)
}

// digestInfoPrefixes are the DER DigestInfo of each hash (RFC 8017,
// 9.2) without the digest, which follows them; the TLS 1.0 MD5+SHA-1
// hash has none.
var digestInfoPrefixes = func() map[crypto.Hash][]byte {
	sha2 := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, n} }
	oids := map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:       {1, 3, 14, 3, 2, 26},
		crypto.SHA224:     sha2(4),
		crypto.SHA256:     sha2(1),
		crypto.SHA384:     sha2(2),
		crypto.SHA512:     sha2(3),
		crypto.SHA512_224: sha2(5),
		crypto.SHA512_256: sha2(6),
		crypto.SHA3_224:   sha2(7),
		crypto.SHA3_256:   sha2(8),
		crypto.SHA3_384:   sha2(9),
		crypto.SHA3_512:   sha2(10),
	}
	m := map[crypto.Hash][]byte{crypto.MD5SHA1: {}}
	for h, oid := range oids {
		di, err := asn1.Marshal(struct {
			Algorithm pkix.AlgorithmIdentifier
			Digest    []byte
		}{pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}, make([]byte, h.Size())})
		if err != nil {
			panic(err)
		}
		m[h] = di[:len(di)-h.Size()]
	}
	return m
}()

// Decrypter is an entry's RSA private key as a crypto.Decrypter: every
// decryption is made on the token. It is safe for concurrent use.
//
// Decrypt takes nil or *rsa.PKCS1v15DecryptOptions for PKCS #1 v1.5
// (CKM_RSA_PKCS), and *rsa.OAEPOptions for OAEP (CKM_RSA_PKCS_OAEP)
// with its hash, MGF1 hash (the same hash when zero) and label. Tokens
// differ in the OAEP parameters they accept: SoftHSM 2.6 only SHA-1
// without a label, NSS any SHA-1 or SHA-2 hash with a label.
//
// With rsa.PKCS1v15DecryptOptions.SessionKeyLen set, Decrypt behaves as
// rsa.DecryptPKCS1v15SessionKey: a ciphertext the token refuses, or
// whose plaintext has another length, gives random bytes of that length
// and no error, whatever the token answered. The token's answer still
// takes a time of its own: whether that leaks anything depends on the
// token.
type Decrypter struct{ e *Entry }

// Decrypter returns the entry's private key as a crypto.Decrypter. It
// works for RSA keys only.
func (e *Entry) Decrypter() *Decrypter { return &Decrypter{e: e} }

// Public returns the entry's public key.
func (d *Decrypter) Public() crypto.PublicKey { return d.e.Public() }

var _ crypto.Decrypter = (*Decrypter)(nil)

// Decrypt decrypts ciphertext with the entry's RSA private key on the
// token. rnd is used only for SessionKeyLen (crypto/rand when nil).
func (d *Decrypter) Decrypt(rnd io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if kindOf(d.e.Public()) != kindRSA {
		return nil, d.e.errorf("decrypt: %s keys do not decrypt", describeKey(d.e.Public()))
	}
	switch o := opts.(type) {
	case nil:
		return d.decrypt(session.RSAPKCS1v15(0), ciphertext)
	case *rsa.PKCS1v15DecryptOptions:
		if o.SessionKeyLen > 0 {
			return d.sessionKey(rnd, ciphertext, o.SessionKeyLen)
		}
		return d.decrypt(session.RSAPKCS1v15(0), ciphertext)
	case *rsa.OAEPOptions:
		mech := session.RSAOAEP(o.Hash, o.Label)
		if o.MGFHash != 0 && o.MGFHash != o.Hash {
			p, ok1 := mech.Parameter.(*ck.RSAPKCSOAEPParams)
			m, ok2 := session.RSAOAEP(o.MGFHash, nil).Parameter.(*ck.RSAPKCSOAEPParams)
			if !ok1 || !ok2 {
				return nil, d.e.errorf("decrypt: OAEP with %v and MGF1 %v is not supported", o.Hash, o.MGFHash)
			}
			p.MGF = m.MGF
		}
		return d.decrypt(mech, ciphertext)
	}
	return nil, d.e.errorf("decrypt: unsupported options %T", opts)
}

func (d *Decrypter) decrypt(mech ck.Mechanism, ciphertext []byte) ([]byte, error) {
	ctx := context.Background()
	key, pool, err := d.e.privateKey(ctx)
	if err != nil {
		return nil, err
	}
	pt, err := pool.Decrypt(ctx, key, mech, ciphertext)
	if err != nil {
		return nil, d.e.errorf("decrypt: %w", err)
	}
	return pt, nil
}

// sessionKey is DecryptPKCS1v15SessionKey on the token. Failures
// before the token is asked (no PIN, no key, closed entry) are
// returned; any failure of the decryption itself gives the random key,
// since tokens report bad padding variously (SoftHSM with
// CKR_GENERAL_ERROR).
func (d *Decrypter) sessionKey(rnd io.Reader, ciphertext []byte, n int) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	key := make([]byte, n)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, err
	}
	ctx := context.Background()
	k, pool, err := d.e.privateKey(ctx)
	if err != nil {
		return nil, err
	}
	pt, err := pool.Decrypt(ctx, k, session.RSAPKCS1v15(0), ciphertext)
	ok := subtle.ConstantTimeEq(int32(len(pt)), int32(n)) & boolToInt(err == nil)
	if len(pt) == n {
		subtle.ConstantTimeCopy(ok, key, pt)
	}
	clear(pt)
	return key, nil
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ECDH returns the shared secret of the entry's EC private key and the
// peer's public key, computed on the token (CKM_ECDH1_DERIVE with no
// KDF): the same bytes as crypto/ecdh's PrivateKey.ECDH. The key must
// allow derivation (CKA_DERIVE; see ImportRequest.ECDH and
// GenerateRequest.ECDH). The secret is derived into a session object
// made readable for this purpose only, read, and destroyed.
func (e *Entry) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	pub, ok := e.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, e.errorf("ECDH: needs a key on P-256, P-384 or P-521, not %s", describeKey(e.Public()))
	}
	want := map[elliptic.Curve]ecdh.Curve{
		elliptic.P256(): ecdh.P256(), elliptic.P384(): ecdh.P384(), elliptic.P521(): ecdh.P521(),
	}[pub.Curve]
	if peer == nil || peer.Curve() != want {
		return nil, e.errorf("ECDH: the peer's key is not on %s", pub.Curve.Params().Name)
	}
	ctx := context.Background()
	key, pool, err := e.privateKey(ctx)
	if err != nil {
		return nil, err
	}
	var secret []byte
	err = pool.Retry(ctx, func(s *session.Session) error {
		derived, err := s.DeriveECDH(key, peer.Bytes(), []ck.Attribute{
			ck.MustAttribute(ck.CKA_TOKEN, false),
			ck.MustAttribute(ck.CKA_SENSITIVE, false),
			ck.MustAttribute(ck.CKA_EXTRACTABLE, true),
		})
		if err != nil {
			return err
		}
		defer s.Destroy(derived.Handle)
		res, err := s.Attributes(derived.Handle, ck.CKA_VALUE)
		if err != nil {
			return err
		}
		if res[0].Err != nil {
			return res[0].Err
		}
		secret = res[0].Value
		return nil
	})
	if err != nil {
		return nil, e.errorf("ECDH: %w", err)
	}
	return secret, nil
}
