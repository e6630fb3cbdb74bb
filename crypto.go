package pkcs11

import (
	"github.com/purepkcs11/pkcs11/ck"
)

// opInit calls one of the *Init functions that take a session, a
// mechanism and a key.
func (m *Module) opInit(f funcIndex, s ck.SessionHandle, mech *ck.Mechanism, key ck.ObjectHandle) error {
	if err := argsFit(f, uint64(s), uint64(key)); err != nil {
		return err
	}
	n, err := mechanismSize(mech)
	if err != nil {
		return errorf(f, "%v", err)
	}
	nested := hasNestedData(mech.Parameter)
	var a arena
	if nested {
		// Kept after the call (see keepParams): not from the pool.
		a = arena{buf: make([]byte, n+arenaSlack), size: n}
	} else {
		a = newArena(n)
		defer a.free()
	}
	off, wb, err := a.mechanism(mech)
	if err != nil {
		return err
	}
	rv := m.call3(f, uintptr(s), uintptr(a.ptr(off)), uintptr(key))
	a.copyBack(wb)
	if nested {
		m.inst.keepParams(s, f, a.buf, rv == ck.CKR_OK)
	}
	return check(f, rv)
}

// hasNestedData reports whether a parameter points to more data (an OAEP
// label, a GCM IV and AAD, ...), which some modules read after the Init
// call returned.
func hasNestedData(p ck.Parameter) bool {
	switch p.(type) {
	case nil, ck.RawParameter, ck.IV, *ck.RSAPKCSPSSParams, *ck.AESCTRParams:
		return false
	}
	return true
}

// transform calls a function of the form (session, in, inLen, out,
// *outLen), such as C_Encrypt or C_SignUpdate's output-producing cousins,
// with the size-query convention.
func (m *Module) transform(f funcIndex, s ck.SessionHandle, in []byte) ([]byte, error) {
	if err := argsFit(f, uint64(s), uint64(len(in))); err != nil {
		return nil, err
	}
	a := newArena(8)
	defer a.free()
	return fetch(f, a.buf[:8], func(out []byte) ck.RV {
		return m.call5(f, uintptr(s), uintptr(bytesPtr(in)), uintptr(len(in)), uintptr(outPtr(out)), uintptr(a.ptr(0)))
	})
}

// transformNoQuery is transform without the size query, for the dual
// functions such as C_DigestEncryptUpdate: their output is at most the
// input and a block held back from an earlier part, and a size query is
// not safe with them. NSS 3.87 runs both halves of a dual function on a
// size query: C_DigestEncryptUpdate and C_SignEncryptUpdate digest or sign
// the part twice, and C_DecryptDigestUpdate and C_DecryptVerifyUpdate
// digest the NULL output buffer and crash.
func (m *Module) transformNoQuery(f funcIndex, s ck.SessionHandle, in []byte) ([]byte, error) {
	if err := argsFit(f, uint64(s), uint64(len(in))); err != nil {
		return nil, err
	}
	a := newArena(8)
	defer a.free()
	return fetchSized(f, a.buf[:8], uint64(len(in)), false, func(out []byte) ck.RV {
		return m.call5(f, uintptr(s), uintptr(bytesPtr(in)), uintptr(len(in)), uintptr(outPtr(out)), uintptr(a.ptr(0)))
	})
}

// transformInto is transform with a caller's buffer and a single call.
func (m *Module) transformInto(f funcIndex, s ck.SessionHandle, in, buf []byte) ([]byte, error) {
	if err := argsFit(f, uint64(s), uint64(len(in)), uint64(len(buf))); err != nil {
		return nil, err
	}
	a := newArena(8)
	defer a.free()
	return fetchInto(f, a.buf[:8], buf, func(out []byte) ck.RV {
		return m.call5(f, uintptr(s), uintptr(bytesPtr(in)), uintptr(len(in)), uintptr(bytesPtr(out)), uintptr(a.ptr(0)))
	})
}

// final calls a function of the form (session, out, *outLen).
func (m *Module) final(f funcIndex, s ck.SessionHandle) ([]byte, error) {
	if err := argsFit(f, uint64(s)); err != nil {
		return nil, err
	}
	a := newArena(8)
	defer a.free()
	return fetch(f, a.buf[:8], func(out []byte) ck.RV {
		return m.call3(f, uintptr(s), uintptr(outPtr(out)), uintptr(a.ptr(0)))
	})
}

// feed calls a function of the form (session, in, inLen).
func (m *Module) feed(f funcIndex, s ck.SessionHandle, in []byte) error {
	if err := argsFit(f, uint64(s), uint64(len(in))); err != nil {
		return err
	}
	return check(f, m.call3(f, uintptr(s), uintptr(bytesPtr(in)), uintptr(len(in))))
}

// EncryptInit starts an encryption (C_EncryptInit).
func (m *Module) EncryptInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnEncryptInit, s, &mech, key)
}

// Encrypt encrypts data in one part (C_Encrypt) and ends the operation.
func (m *Module) Encrypt(s ck.SessionHandle, data []byte) ([]byte, error) {
	return m.transform(fnEncrypt, s, data)
}

// EncryptUpdate continues a multi-part encryption (C_EncryptUpdate) and
// returns the output it produced, which may be empty.
func (m *Module) EncryptUpdate(s ck.SessionHandle, part []byte) ([]byte, error) {
	return m.transform(fnEncryptUpdate, s, part)
}

// EncryptFinal ends a multi-part encryption (C_EncryptFinal).
func (m *Module) EncryptFinal(s ck.SessionHandle) ([]byte, error) {
	return m.final(fnEncryptFinal, s)
}

// DecryptInit starts a decryption (C_DecryptInit).
func (m *Module) DecryptInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnDecryptInit, s, &mech, key)
}

// Decrypt decrypts data in one part (C_Decrypt). The plain text is never
// longer than the cipher text, so the call offers a buffer of that size
// and makes no size query: tpm2-pkcs11 decrypts on a size query and moves
// a CBC chain on, so the real call then returns a wrong first block.
func (m *Module) Decrypt(s ck.SessionHandle, data []byte) ([]byte, error) {
	return m.transformNoQuery(fnDecrypt, s, data)
}

// DecryptUpdate continues a multi-part decryption (C_DecryptUpdate). Its
// output is at most the part and a block held back from an earlier one,
// so, as with Decrypt, no size query is made.
func (m *Module) DecryptUpdate(s ck.SessionHandle, part []byte) ([]byte, error) {
	return m.transformNoQuery(fnDecryptUpdate, s, part)
}

// DecryptFinal ends a multi-part decryption (C_DecryptFinal).
func (m *Module) DecryptFinal(s ck.SessionHandle) ([]byte, error) {
	return m.final(fnDecryptFinal, s)
}

// DigestInit starts a digest (C_DigestInit).
func (m *Module) DigestInit(s ck.SessionHandle, mech ck.Mechanism) error {
	if err := argsFit(fnDigestInit, uint64(s)); err != nil {
		return err
	}
	n, err := mechanismSize(&mech)
	if err != nil {
		return errorf(fnDigestInit, "%v", err)
	}
	a := newArena(n)
	defer a.free()
	off, _, err := a.mechanism(&mech)
	if err != nil {
		return err
	}
	return check(fnDigestInit, m.call2(fnDigestInit, uintptr(s), uintptr(a.ptr(off))))
}

// Digest digests data in one part (C_Digest).
func (m *Module) Digest(s ck.SessionHandle, data []byte) ([]byte, error) {
	return m.transform(fnDigest, s, data)
}

// DigestUpdate continues a multi-part digest (C_DigestUpdate).
func (m *Module) DigestUpdate(s ck.SessionHandle, part []byte) error {
	return m.feed(fnDigestUpdate, s, part)
}

// DigestKey digests the value of a secret key (C_DigestKey).
func (m *Module) DigestKey(s ck.SessionHandle, key ck.ObjectHandle) error {
	if err := argsFit(fnDigestKey, uint64(s), uint64(key)); err != nil {
		return err
	}
	return check(fnDigestKey, m.call2(fnDigestKey, uintptr(s), uintptr(key)))
}

// DigestFinal ends a multi-part digest (C_DigestFinal).
func (m *Module) DigestFinal(s ck.SessionHandle) ([]byte, error) {
	return m.final(fnDigestFinal, s)
}

// SignInit starts a signature or MAC (C_SignInit).
func (m *Module) SignInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnSignInit, s, &mech, key)
}

// Sign signs data in one part (C_Sign).
func (m *Module) Sign(s ck.SessionHandle, data []byte) ([]byte, error) {
	return m.transform(fnSign, s, data)
}

// SignInto signs data in one part (C_Sign) into buf, which must be large
// enough for the signature, and returns the filled prefix of buf. It
// makes one call instead of two; if buf is too small the error matches
// ck.CKR_BUFFER_TOO_SMALL and, on most modules, the operation stays
// active for another try.
func (m *Module) SignInto(s ck.SessionHandle, data, buf []byte) ([]byte, error) {
	return m.transformInto(fnSign, s, data, buf)
}

// SignUpdate continues a multi-part signature (C_SignUpdate).
func (m *Module) SignUpdate(s ck.SessionHandle, part []byte) error {
	return m.feed(fnSignUpdate, s, part)
}

// signFinalGuess is the buffer SignFinal offers first: room for any RSA
// signature up to 32768 bits and any ML-DSA signature. A larger one is
// asked for again with the length the module reports.
const signFinalGuess = 8192 - fetchSlack

// SignFinal ends a multi-part signature and returns it (C_SignFinal). It
// makes no size query: tpm2-pkcs11 drops the data hashed so far when asked
// for the length, and the real call then signs the empty message.
func (m *Module) SignFinal(s ck.SessionHandle) ([]byte, error) {
	if err := argsFit(fnSignFinal, uint64(s)); err != nil {
		return nil, err
	}
	a := newArena(8)
	defer a.free()
	sig, err := fetchSized(fnSignFinal, a.buf[:8], signFinalGuess, false, func(out []byte) ck.RV {
		return m.call3(fnSignFinal, uintptr(s), uintptr(outPtr(out)), uintptr(a.ptr(0)))
	})
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), sig...), nil
}

// SignRecoverInit starts a signature with data recovery
// (C_SignRecoverInit).
func (m *Module) SignRecoverInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnSignRecoverInit, s, &mech, key)
}

// SignRecover signs data so that it can be recovered from the signature
// (C_SignRecover).
func (m *Module) SignRecover(s ck.SessionHandle, data []byte) ([]byte, error) {
	return m.transform(fnSignRecover, s, data)
}

// VerifyInit starts a verification (C_VerifyInit).
func (m *Module) VerifyInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnVerifyInit, s, &mech, key)
}

// Verify checks a signature over data in one part (C_Verify). A nil error
// means the signature is valid; any error means it was not verified,
// whatever the RV (an invalid signature is ck.CKR_SIGNATURE_INVALID or
// ck.CKR_SIGNATURE_LEN_RANGE on most modules).
func (m *Module) Verify(s ck.SessionHandle, data, sig []byte) error {
	if err := argsFit(fnVerify, uint64(s), uint64(len(data)), uint64(len(sig))); err != nil {
		return err
	}
	rv := m.call5(fnVerify, uintptr(s), uintptr(bytesPtr(data)), uintptr(len(data)),
		uintptr(bytesPtr(sig)), uintptr(len(sig)))
	return check(fnVerify, rv)
}

// VerifyUpdate continues a multi-part verification (C_VerifyUpdate).
func (m *Module) VerifyUpdate(s ck.SessionHandle, part []byte) error {
	return m.feed(fnVerifyUpdate, s, part)
}

// VerifyFinal ends a multi-part verification with the signature
// (C_VerifyFinal).
func (m *Module) VerifyFinal(s ck.SessionHandle, sig []byte) error {
	return m.feed(fnVerifyFinal, s, sig)
}

// VerifyRecoverInit starts a verification with data recovery
// (C_VerifyRecoverInit).
func (m *Module) VerifyRecoverInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnVerifyRecoverInit, s, &mech, key)
}

// VerifyRecover verifies a signature and returns the data recovered from
// it (C_VerifyRecover).
func (m *Module) VerifyRecover(s ck.SessionHandle, sig []byte) ([]byte, error) {
	return m.transform(fnVerifyRecover, s, sig)
}

// DigestEncryptUpdate continues a digest and an encryption on the same
// data (C_DigestEncryptUpdate). It makes one call, with room for the part
// and a block more, and no size query.
func (m *Module) DigestEncryptUpdate(s ck.SessionHandle, part []byte) ([]byte, error) {
	return m.transformNoQuery(fnDigestEncryptUpdate, s, part)
}

// DecryptDigestUpdate continues a decryption and a digest of the plain
// text (C_DecryptDigestUpdate). It makes one call, with room for the part
// and a block more, and no size query.
func (m *Module) DecryptDigestUpdate(s ck.SessionHandle, part []byte) ([]byte, error) {
	return m.transformNoQuery(fnDecryptDigestUpdate, s, part)
}

// SignEncryptUpdate continues a signature and an encryption on the same
// data (C_SignEncryptUpdate). It makes one call, with room for the part
// and a block more, and no size query.
func (m *Module) SignEncryptUpdate(s ck.SessionHandle, part []byte) ([]byte, error) {
	return m.transformNoQuery(fnSignEncryptUpdate, s, part)
}

// DecryptVerifyUpdate continues a decryption and a verification of the
// plain text (C_DecryptVerifyUpdate). It makes one call, with room for the
// part and a block more, and no size query.
func (m *Module) DecryptVerifyUpdate(s ck.SessionHandle, part []byte) ([]byte, error) {
	return m.transformNoQuery(fnDecryptVerifyUpdate, s, part)
}

// VerifySignatureInit starts a verification whose signature is known
// before the data (C_VerifySignatureInit, PKCS#11 3.2).
func (m *Module) VerifySignatureInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle, sig []byte) error {
	if err := argsFit(fnVerifySignatureInit, uint64(s), uint64(key), uint64(len(sig))); err != nil {
		return err
	}
	n, err := mechanismSize(&mech)
	if err != nil {
		return errorf(fnVerifySignatureInit, "%v", err)
	}
	a := newArena(n)
	defer a.free()
	off, _, err := a.mechanism(&mech)
	if err != nil {
		return err
	}
	rv := m.call5(fnVerifySignatureInit, uintptr(s), uintptr(a.ptr(off)), uintptr(key),
		uintptr(bytesPtr(sig)), uintptr(len(sig)))
	return check(fnVerifySignatureInit, rv)
}

// VerifySignature verifies the data in one part against the signature
// given to VerifySignatureInit (C_VerifySignature, PKCS#11 3.2).
func (m *Module) VerifySignature(s ck.SessionHandle, data []byte) error {
	return m.feed(fnVerifySignature, s, data)
}

// VerifySignatureUpdate continues such a verification
// (C_VerifySignatureUpdate, PKCS#11 3.2).
func (m *Module) VerifySignatureUpdate(s ck.SessionHandle, part []byte) error {
	return m.feed(fnVerifySignatureUpdate, s, part)
}

// VerifySignatureFinal ends such a verification (C_VerifySignatureFinal,
// PKCS#11 3.2).
func (m *Module) VerifySignatureFinal(s ck.SessionHandle) error {
	if err := argsFit(fnVerifySignatureFinal, uint64(s)); err != nil {
		return err
	}
	return check(fnVerifySignatureFinal, m.call1(fnVerifySignatureFinal, uintptr(s)))
}
