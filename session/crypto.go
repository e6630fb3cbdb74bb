package session

import (
	"crypto"
	"errors"
	"fmt"
	"io"

	"github.com/purepkcs11/pkcs11/ck"
)

// This file holds the cryptographic operations of a session. Each one
// checks its mechanism against the token's list (mechanisms.go) before
// any call, and reports failures as "session: <op> (<mechanism>, key
// <label>): " followed by the root package's error, which names the C
// function and unwraps to its ck.RV.

// kind is one kind of multi-step operation: the token keeps one active
// operation of each kind per session.
type kind uint8

const (
	kindSign kind = iota
	kindVerify
	kindEncrypt
	kindDecrypt
	kindDigest
)

var kindNames = [...]string{"sign", "verify", "encrypt", "decrypt", "digest"}

// kindFlags are the C_SessionCancel flags of each kind.
var kindFlags = [...]ck.MechanismFlags{ck.CKF_SIGN, ck.CKF_VERIFY, ck.CKF_ENCRYPT, ck.CKF_DECRYPT, ck.CKF_DIGEST}

// streamChunk is how much of a reader each update call gets.
const streamChunk = 32 << 10

// opErr wraps err for an operation with mech and key, or returns nil.
func (s *Session) opErr(op string, mech ck.Mechanism, key Object, err error) error {
	if err == nil {
		return nil
	}
	if key.Label != "" {
		return s.wrap(fmt.Sprintf("%s (%v, key %q)", op, mech.Type, key.Label), err)
	}
	return s.wrap(fmt.Sprintf("%s (%v)", op, mech.Type), err)
}

// start checks mech and starts an operation of kind k with it (the
// kind's C_*Init). An operation left active on the session is ended
// first, once the token reports one: some modules leave an operation
// active after it failed (tpm2-pkcs11; NSS after a failed
// C_DecryptUpdate of AES-GCM), and some keep one operation for several
// kinds (NSS: one for encrypt and decrypt, one for sign, verify and
// digest), so the one in the way need not be of kind k.
//
// A key that wants the PIN for each signature or decryption
// (CKA_ALWAYS_AUTHENTICATE) is logged in for right after the Init
// (auth.go).
func (s *Session) start(k kind, mech ck.Mechanism, key Object) error {
	_, err := s.startOp(k, mech, key)
	return err
}

// startOp is start; it reports whether it logged in for the key.
func (s *Session) startOp(k kind, mech ck.Mechanism, key Object) (bool, error) {
	op := kindNames[k]
	if err := s.checkMech(op, mech); err != nil {
		return false, err
	}
	auth := s.alwaysAuthenticate(k, key)
	err := s.initOp(k, mech, key.Handle)
	if errors.Is(err, ck.CKR_OPERATION_ACTIVE) {
		if s.m.SessionCancel(s.h, allKinds) == nil {
			err = s.initOp(k, mech, key.Handle)
		}
		if errors.Is(err, ck.CKR_OPERATION_ACTIVE) {
			s.endAll(k)
			err = s.initOp(k, mech, key.Handle)
		}
		if errors.Is(err, ck.CKR_OPERATION_ACTIVE) {
			// Stuck: do not lend this session again.
			s.lost = true
		}
	}
	if err != nil {
		return false, s.opErr(op, mech, key, err)
	}
	if !auth {
		return false, nil
	}
	return s.loginForKey(k, mech, key)
}

// allKinds are the C_SessionCancel flags of every kind.
const allKinds = ck.CKF_SIGN | ck.CKF_VERIFY | ck.CKF_ENCRYPT | ck.CKF_DECRYPT | ck.CKF_DIGEST

// endAll ends whatever operation is active, trying kind k first, then
// the others, with finish. Kinds with no operation active answer
// CKR_OPERATION_NOT_INITIALIZED and are left as they are.
func (s *Session) endAll(k kind) {
	s.finish(k)
	for j := range kind(len(kindNames)) {
		if j != k {
			s.finish(j)
		}
	}
}

// finish ends an operation of kind j in whatever state it is: a
// single-part call with empty input ends one that was only initialized
// (it fails or succeeds, and either ends it; NSS needs this one), and an
// empty C_*Update followed by C_*Final one in the middle of its parts.
// Results and failures are dropped.
func (s *Session) finish(j kind) {
	switch j {
	case kindSign:
		s.m.Sign(s.h, nil)
	case kindVerify:
		s.m.Verify(s.h, nil, nil)
	case kindEncrypt:
		s.m.Encrypt(s.h, nil)
	case kindDecrypt:
		s.m.Decrypt(s.h, nil)
	default:
		s.m.Digest(s.h, nil)
	}
	s.endParts(j)
}

func (s *Session) initOp(k kind, mech ck.Mechanism, key ck.ObjectHandle) error {
	switch k {
	case kindSign:
		return s.m.SignInit(s.h, mech, key)
	case kindVerify:
		return s.m.VerifyInit(s.h, mech, key)
	case kindEncrypt:
		return s.m.EncryptInit(s.h, mech, key)
	case kindDecrypt:
		return s.m.DecryptInit(s.h, mech, key)
	default:
		return s.m.DigestInit(s.h, mech)
	}
}

// cancel ends a multi-part operation of kind k that this package
// started and cannot go on with (its reader or writer failed): with
// C_SessionCancel where the module has it (PKCS#11 3.0), else with
// endParts.
func (s *Session) cancel(k kind) {
	if s.m.SessionCancel(s.h, kindFlags[k]) == nil {
		return
	}
	s.endParts(k)
}

// endParts ends a multi-part operation of kind k: an empty C_*Update
// ends one that cannot be multi-part, since a failed update ends its
// operation (PKCS#11 2.40, 5.2; SoftHSM's C_SignFinal does not end a
// CKM_ECDSA signature, its C_SignUpdate does), and one that can goes on
// to its C_*Final, whose result is dropped.
func (s *Session) endParts(k kind) {
	switch k {
	case kindSign:
		if s.m.SignUpdate(s.h, nil) == nil {
			s.m.SignFinal(s.h)
		}
	case kindVerify:
		if s.m.VerifyUpdate(s.h, nil) == nil {
			s.m.VerifyFinal(s.h, nil)
		}
	case kindEncrypt:
		if _, err := s.m.EncryptUpdate(s.h, nil); err == nil {
			s.m.EncryptFinal(s.h)
		}
	case kindDecrypt:
		if _, err := s.m.DecryptUpdate(s.h, nil); err == nil {
			s.m.DecryptFinal(s.h)
		}
	default:
		if s.m.DigestUpdate(s.h, nil) == nil {
			s.m.DigestFinal(s.h)
		}
	}
}

// feed passes parts, or the contents of r when r is not nil, to update
// one piece at a time. A failure to read r is returned as readErr, with
// the operation still active; a failure of update as err, after which
// the token has ended the operation.
func feed(parts [][]byte, r io.Reader, update func([]byte) error) (readErr, err error) {
	if r == nil {
		for _, p := range parts {
			if err := update(p); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	buf := make([]byte, streamChunk)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := update(buf[:n]); err != nil {
				return nil, err
			}
		}
		switch {
		case rerr == io.EOF:
			return nil, nil
		case rerr != nil:
			return rerr, nil
		}
	}
}

// readFailed ends an operation whose input could not be read and
// returns the error for it.
func (s *Session) readFailed(k kind, readErr error) error {
	s.cancel(k)
	return fmt.Errorf("session: %s: reading the data: %w", kindNames[k], readErr)
}

// Sign signs data in one part with key (C_SignInit, C_Sign). For
// mechanisms that hash (CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA256, ...) data
// is the message; for the others (CKM_ECDSA, CKM_RSA_PKCS_PSS) it is the
// digest. HMAC keys sign with the HMAC mechanisms (see [HMAC]).
//
// A key with CKA_ALWAYS_AUTHENTICATE is given its PIN between the two
// calls (C_Login with CKU_CONTEXT_SPECIFIC), from SetContextPIN or the
// session's pool; without one the error matches [ErrKeyPIN] and says
// what to do.
func (s *Session) Sign(key Object, mech ck.Mechanism, data []byte) ([]byte, error) {
	return s.oneShot(kindSign, mech, key, data)
}

// SignMultipart signs the concatenation of parts with key, passing each
// part to the token in turn (C_SignInit, C_SignUpdate, C_SignFinal). The
// mechanism must be one that hashes on the token.
func (s *Session) SignMultipart(key Object, mech ck.Mechanism, parts ...[]byte) ([]byte, error) {
	return s.signParts(key, mech, parts, nil)
}

// SignReader signs everything read from r until io.EOF with key, 32 KiB
// at a time (C_SignInit, C_SignUpdate, C_SignFinal). The mechanism must
// be one that hashes on the token.
func (s *Session) SignReader(key Object, mech ck.Mechanism, r io.Reader) ([]byte, error) {
	return s.signParts(key, mech, nil, orEmpty(r))
}

func (s *Session) signParts(key Object, mech ck.Mechanism, parts [][]byte, r io.Reader) ([]byte, error) {
	if err := s.start(kindSign, mech, key); err != nil {
		return nil, err
	}
	readErr, err := feed(parts, r, func(p []byte) error { return s.m.SignUpdate(s.h, p) })
	if readErr != nil {
		return nil, s.readFailed(kindSign, readErr)
	}
	if err != nil {
		return nil, s.opErr("sign", mech, key, err)
	}
	sig, err := s.m.SignFinal(s.h)
	return sig, s.opErr("sign", mech, key, err)
}

// Verify checks sig over data with key (C_VerifyInit, C_Verify). A nil
// error means the signature is valid; any error means it was not
// verified: an invalid signature is ck.CKR_SIGNATURE_INVALID or
// ck.CKR_SIGNATURE_LEN_RANGE on most tokens.
func (s *Session) Verify(key Object, mech ck.Mechanism, data, sig []byte) error {
	if err := s.start(kindVerify, mech, key); err != nil {
		return err
	}
	return s.opErr("verify", mech, key, s.m.Verify(s.h, data, sig))
}

// VerifyMultipart checks sig over the concatenation of parts with key
// (C_VerifyInit, C_VerifyUpdate, C_VerifyFinal), as Verify does.
func (s *Session) VerifyMultipart(key Object, mech ck.Mechanism, sig []byte, parts ...[]byte) error {
	return s.verifyParts(key, mech, sig, parts, nil)
}

// VerifyReader checks sig over everything read from r until io.EOF with
// key (C_VerifyInit, C_VerifyUpdate, C_VerifyFinal), as Verify does.
func (s *Session) VerifyReader(key Object, mech ck.Mechanism, r io.Reader, sig []byte) error {
	return s.verifyParts(key, mech, sig, nil, orEmpty(r))
}

func (s *Session) verifyParts(key Object, mech ck.Mechanism, sig []byte, parts [][]byte, r io.Reader) error {
	if err := s.start(kindVerify, mech, key); err != nil {
		return err
	}
	readErr, err := feed(parts, r, func(p []byte) error { return s.m.VerifyUpdate(s.h, p) })
	if readErr != nil {
		return s.readFailed(kindVerify, readErr)
	}
	if err != nil {
		return s.opErr("verify", mech, key, err)
	}
	return s.opErr("verify", mech, key, s.m.VerifyFinal(s.h, sig))
}

// HMAC returns the HMAC of data with hash h under the secret key
// (C_SignInit, C_Sign with the mechanism of [HMAC], such as
// CKM_SHA256_HMAC).
func (s *Session) HMAC(key Object, h crypto.Hash, data []byte) ([]byte, error) {
	return s.Sign(key, HMAC(h), data)
}

// VerifyHMAC checks mac, the HMAC of data with hash h under the secret
// key, on the token (C_VerifyInit, C_Verify), which compares in
// constant time. A nil error means the MAC is valid.
func (s *Session) VerifyHMAC(key Object, h crypto.Hash, data, mac []byte) error {
	return s.Verify(key, HMAC(h), data, mac)
}

// Encrypt encrypts data in one part with key (C_EncryptInit,
// C_Encrypt).
func (s *Session) Encrypt(key Object, mech ck.Mechanism, data []byte) ([]byte, error) {
	if err := s.start(kindEncrypt, mech, key); err != nil {
		return nil, err
	}
	out, err := s.m.Encrypt(s.h, data)
	return out, s.opErr("encrypt", mech, key, err)
}

// EncryptMultipart encrypts the concatenation of parts with key, passing
// each part to the token in turn, and returns the whole ciphertext
// (C_EncryptInit, C_EncryptUpdate, C_EncryptFinal).
func (s *Session) EncryptMultipart(key Object, mech ck.Mechanism, parts ...[]byte) ([]byte, error) {
	var out []byte
	err := s.cipherParts(kindEncrypt, key, mech, parts, nil, func(b []byte) error {
		out = append(out, b...)
		return nil
	})
	return out, err
}

// EncryptStream encrypts everything read from src until io.EOF with key
// and writes the ciphertext to dst as the token produces it, 32 KiB of
// input at a time (C_EncryptInit, C_EncryptUpdate, C_EncryptFinal).
func (s *Session) EncryptStream(key Object, mech ck.Mechanism, dst io.Writer, src io.Reader) error {
	return s.cipherParts(kindEncrypt, key, mech, nil, orEmpty(src), writeTo(dst))
}

// Decrypt decrypts data in one part with key (C_DecryptInit,
// C_Decrypt). A key with CKA_ALWAYS_AUTHENTICATE is given its PIN
// between the two calls, as Sign does.
func (s *Session) Decrypt(key Object, mech ck.Mechanism, data []byte) ([]byte, error) {
	return s.oneShot(kindDecrypt, mech, key, data)
}

// DecryptMultipart decrypts the concatenation of parts with key, passing
// each part to the token in turn, and returns the whole plaintext
// (C_DecryptInit, C_DecryptUpdate, C_DecryptFinal). With an
// authenticating mechanism such as AES-GCM, tokens return the plaintext
// only from the final call, once the tag is checked.
func (s *Session) DecryptMultipart(key Object, mech ck.Mechanism, parts ...[]byte) ([]byte, error) {
	var out []byte
	err := s.cipherParts(kindDecrypt, key, mech, parts, nil, func(b []byte) error {
		out = append(out, b...)
		return nil
	})
	return out, err
}

// DecryptStream decrypts everything read from src until io.EOF with key
// and writes the plaintext to dst as the token produces it (C_DecryptInit,
// C_DecryptUpdate, C_DecryptFinal). With a mechanism that does not
// authenticate (CBC, CTR) plaintext reaches dst before the end of the
// input is seen; an error still means the output is not to be trusted.
func (s *Session) DecryptStream(key Object, mech ck.Mechanism, dst io.Writer, src io.Reader) error {
	return s.cipherParts(kindDecrypt, key, mech, nil, orEmpty(src), writeTo(dst))
}

// cipherParts runs a multi-part encryption or decryption, handing each
// piece of output to out.
func (s *Session) cipherParts(k kind, key Object, mech ck.Mechanism, parts [][]byte, r io.Reader, out func([]byte) error) error {
	if err := s.start(k, mech, key); err != nil {
		return err
	}
	op := kindNames[k]
	update, final := s.m.EncryptUpdate, s.m.EncryptFinal
	if k == kindDecrypt {
		update, final = s.m.DecryptUpdate, s.m.DecryptFinal
	}
	var outErr error
	readErr, err := feed(parts, r, func(p []byte) error {
		b, err := update(s.h, p)
		if err != nil {
			return err
		}
		if outErr = out(b); outErr != nil {
			return outErr
		}
		return nil
	})
	switch {
	case readErr != nil:
		return s.readFailed(k, readErr)
	case outErr != nil:
		s.cancel(k)
		return fmt.Errorf("session: %s: writing the output: %w", op, outErr)
	case err != nil:
		return s.opErr(op, mech, key, err)
	}
	b, err := final(s.h)
	if err != nil {
		return s.opErr(op, mech, key, err)
	}
	if err := out(b); err != nil {
		return fmt.Errorf("session: %s: writing the output: %w", op, err)
	}
	return nil
}

// writeTo returns an output function writing to w.
func writeTo(w io.Writer) func([]byte) error {
	return func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		_, err := w.Write(b)
		return err
	}
}

// orEmpty makes a nil reader an empty one, so that feed reads it rather
// than taking it for "no reader".
func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return eofReader{}
	}
	return r
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Digest hashes data in one part on the token (C_DigestInit, C_Digest),
// with a mechanism such as Hash(crypto.SHA256).
func (s *Session) Digest(mech ck.Mechanism, data []byte) ([]byte, error) {
	if err := s.start(kindDigest, mech, Object{}); err != nil {
		return nil, err
	}
	out, err := s.m.Digest(s.h, data)
	return out, s.opErr("digest", mech, Object{}, err)
}

// DigestMultipart hashes the concatenation of parts on the token
// (C_DigestInit, C_DigestUpdate, C_DigestFinal).
func (s *Session) DigestMultipart(mech ck.Mechanism, parts ...[]byte) ([]byte, error) {
	return s.digestParts(mech, parts, nil)
}

// DigestReader hashes everything read from r until io.EOF on the token
// (C_DigestInit, C_DigestUpdate, C_DigestFinal).
func (s *Session) DigestReader(mech ck.Mechanism, r io.Reader) ([]byte, error) {
	return s.digestParts(mech, nil, orEmpty(r))
}

func (s *Session) digestParts(mech ck.Mechanism, parts [][]byte, r io.Reader) ([]byte, error) {
	if err := s.start(kindDigest, mech, Object{}); err != nil {
		return nil, err
	}
	readErr, err := feed(parts, r, func(p []byte) error { return s.m.DigestUpdate(s.h, p) })
	if readErr != nil {
		return nil, s.readFailed(kindDigest, readErr)
	}
	if err != nil {
		return nil, s.opErr("digest", mech, Object{}, err)
	}
	out, err := s.m.DigestFinal(s.h)
	return out, s.opErr("digest", mech, Object{}, err)
}

// GenerateRandom returns n random bytes from the token's generator
// (C_GenerateRandom).
func (s *Session) GenerateRandom(n int) ([]byte, error) {
	b, err := s.m.GenerateRandom(s.h, n)
	return b, s.wrap("generating random bytes", err)
}

// Derive derives a key from base with mech and returns it with its
// identity (C_DeriveKey, C_GetAttributeValue). The template describes
// the new key and is passed as it is.
func (s *Session) Derive(base Object, mech ck.Mechanism, template []ck.Attribute) (Object, error) {
	if err := s.checkMech("derive", mech); err != nil {
		return Object{}, err
	}
	h, err := s.m.DeriveKey(s.h, mech, base.Handle, template)
	if err != nil {
		return Object{}, s.opErr("derive", mech, base, err)
	}
	o, err := s.identify(h, expectedClass(template))
	return o, s.wrap("derive: reading object identity", err)
}

// DeriveECDH derives the shared secret of the EC private key priv and
// the peer's public point (uncompressed, 0x04||X||Y, as
// ecdh.PublicKey.Bytes returns it) with CKM_ECDH1_DERIVE and no KDF
// (C_DeriveKey, then C_GetAttributeValue for the new key's identity):
// the new key's value is the secret crypto/ecdh's ECDH returns. The
// private key needs CKA_DERIVE.
//
// The new key is a session object (CKA_TOKEN false), a generic secret,
// private, sensitive and not extractable, unless template says
// otherwise: its attributes replace these defaults and add to them
// (CKA_VALUE_LEN, a key type such as CKK_AES, usage flags...).
func (s *Session) DeriveECDH(priv Object, peerPoint []byte, template []ck.Attribute) (Object, error) {
	defaults := []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_SECRET_KEY),
		ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET),
		ck.MustAttribute(ck.CKA_TOKEN, false),
		ck.MustAttribute(ck.CKA_PRIVATE, true),
		ck.MustAttribute(ck.CKA_SENSITIVE, true),
		ck.MustAttribute(ck.CKA_EXTRACTABLE, false),
	}
	return s.Derive(priv, ECDH1(peerPoint), merge(defaults, template))
}

// Wrap encrypts (wraps) key with wrappingKey and mech, such as
// AESKeyWrapPad() or RSAOAEP(...) (C_WrapKey). The key must be
// extractable.
func (s *Session) Wrap(wrappingKey Object, mech ck.Mechanism, key Object) ([]byte, error) {
	if err := s.checkMech("wrap", mech); err != nil {
		return nil, err
	}
	b, err := s.m.WrapKey(s.h, mech, wrappingKey.Handle, key.Handle)
	return b, s.opErr("wrap", mech, wrappingKey, err)
}

// Unwrap decrypts a wrapped key with unwrappingKey and mech into a new
// key made from template, which must give at least its class and key
// type, and returns it with its identity (C_UnwrapKey,
// C_GetAttributeValue).
func (s *Session) Unwrap(unwrappingKey Object, mech ck.Mechanism, wrapped []byte, template []ck.Attribute) (Object, error) {
	if err := s.checkMech("unwrap", mech); err != nil {
		return Object{}, err
	}
	h, err := s.m.UnwrapKey(s.h, mech, unwrappingKey.Handle, wrapped, template)
	if err != nil {
		return Object{}, s.opErr("unwrap", mech, unwrappingKey, err)
	}
	o, err := s.identify(h, expectedClass(template))
	return o, s.wrap("unwrap: reading object identity", err)
}

// merge returns defaults with each attribute whose type is in over
// replaced by over's, followed by the rest of over.
func merge(defaults, over []ck.Attribute) []ck.Attribute {
	out := make([]ck.Attribute, 0, len(defaults)+len(over))
	for _, d := range defaults {
		replaced := false
		for _, o := range over {
			if o.Type == d.Type {
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, d)
		}
	}
	return append(out, over...)
}
