package pkcs11

import (
	"github.com/purepkcs11/pkcs11/ck"
)

// The message-based functions of PKCS#11 3.0 (section 5.13 onwards): an
// operation is initialized once per key, then each message carries its
// own parameter, such as a ck.GCMMessageParams with a fresh IV.

// msgArena lays out a per-message parameter (nil for none) with extra
// spare bytes, and returns its address and length.
func msgArena(f funcIndex, p ck.Parameter, extra int) (arena, uintptr, int, []writeBack, error) {
	size, err := paramSize(p)
	if err != nil {
		return arena{}, 0, 0, nil, errorf(f, "%v", err)
	}
	a := newArena(size + round8(extra) + 8)
	if p == nil {
		return a, 0, 0, nil, nil
	}
	addr, n, wb, err := a.param(p)
	if err != nil {
		a.free()
		return arena{}, 0, 0, nil, err
	}
	return a, addr, n, wb, nil
}

// MessageEncryptInit prepares a session for encrypting messages
// (C_MessageEncryptInit).
func (m *Module) MessageEncryptInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnMessageEncryptInit, s, &mech, key)
}

// EncryptMessage encrypts one message (C_EncryptMessage). For AES-GCM the
// module writes the tag, and a generated IV, into param's slices; they
// are copied there only when the call succeeds.
func (m *Module) EncryptMessage(s ck.SessionHandle, param ck.Parameter, aad, plaintext []byte) ([]byte, error) {
	return m.message(fnEncryptMessage, s, param, aad, plaintext)
}

// message runs C_EncryptMessage or C_DecryptMessage.
func (m *Module) message(f funcIndex, s ck.SessionHandle, param ck.Parameter, aad, in []byte) ([]byte, error) {
	if err := argsFit(f, uint64(s), uint64(len(aad)), uint64(len(in))); err != nil {
		return nil, err
	}
	a, p, n, wb, err := msgArena(f, param, 8)
	if err != nil {
		return nil, err
	}
	defer a.free()
	l := a.alloc(8)
	out, err := fetch(f, a.buf[l:l+8], func(out []byte) ck.RV {
		return m.call9(f, uintptr(s), p, uintptr(n), uintptr(bytesPtr(aad)), uintptr(len(aad)),
			uintptr(bytesPtr(in)), uintptr(len(in)), uintptr(outPtr(out)), uintptr(a.ptr(l)))
	})
	if err != nil {
		return nil, err
	}
	a.copyBack(wb)
	return out, nil
}

// EncryptMessageBegin starts a multi-part message (C_EncryptMessageBegin).
// For AES-GCM a module that generates the IV writes it into param's IV,
// which the later parts of the message then carry.
func (m *Module) EncryptMessageBegin(s ck.SessionHandle, param ck.Parameter, aad []byte) error {
	return m.messageBegin(fnEncryptMessageBegin, s, param, aad)
}

func (m *Module) messageBegin(f funcIndex, s ck.SessionHandle, param ck.Parameter, aad []byte) error {
	if err := argsFit(f, uint64(s), uint64(len(aad))); err != nil {
		return err
	}
	a, p, n, wb, err := msgArena(f, param, 0)
	if err != nil {
		return err
	}
	defer a.free()
	rv := m.call5(f, uintptr(s), p, uintptr(n), uintptr(bytesPtr(aad)), uintptr(len(aad)))
	if rv == ck.CKR_OK {
		a.copyBack(wb)
	}
	return check(f, rv)
}

// EncryptMessageNext encrypts the next part of a message
// (C_EncryptMessageNext); flags is ck.CKF_END_OF_MESSAGE for the last.
func (m *Module) EncryptMessageNext(s ck.SessionHandle, param ck.Parameter, part []byte, flags ck.MessageFlags) ([]byte, error) {
	return m.messageNext(fnEncryptMessageNext, s, param, part, flags)
}

func (m *Module) messageNext(f funcIndex, s ck.SessionHandle, param ck.Parameter, in []byte, flags ck.MessageFlags) ([]byte, error) {
	if err := argsFit(f, uint64(s), uint64(len(in)), uint64(flags)); err != nil {
		return nil, err
	}
	a, p, n, wb, err := msgArena(f, param, 8)
	if err != nil {
		return nil, err
	}
	defer a.free()
	l := a.alloc(8)
	out, err := fetch(f, a.buf[l:l+8], func(out []byte) ck.RV {
		return m.call8(f, uintptr(s), p, uintptr(n), uintptr(bytesPtr(in)), uintptr(len(in)),
			uintptr(outPtr(out)), uintptr(a.ptr(l)), uintptr(flags))
	})
	if err != nil {
		return nil, err
	}
	a.copyBack(wb)
	return out, nil
}

// MessageEncryptFinal ends the message-encryption operation
// (C_MessageEncryptFinal).
func (m *Module) MessageEncryptFinal(s ck.SessionHandle) error {
	return m.sessionOnly(fnMessageEncryptFinal, s)
}

func (m *Module) sessionOnly(f funcIndex, s ck.SessionHandle) error {
	if err := argsFit(f, uint64(s)); err != nil {
		return err
	}
	return check(f, m.call1(f, uintptr(s)))
}

// MessageDecryptInit prepares a session for decrypting messages
// (C_MessageDecryptInit).
func (m *Module) MessageDecryptInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnMessageDecryptInit, s, &mech, key)
}

// DecryptMessage decrypts one message (C_DecryptMessage).
func (m *Module) DecryptMessage(s ck.SessionHandle, param ck.Parameter, aad, ciphertext []byte) ([]byte, error) {
	return m.message(fnDecryptMessage, s, param, aad, ciphertext)
}

// DecryptMessageBegin starts a multi-part message (C_DecryptMessageBegin).
func (m *Module) DecryptMessageBegin(s ck.SessionHandle, param ck.Parameter, aad []byte) error {
	return m.messageBegin(fnDecryptMessageBegin, s, param, aad)
}

// DecryptMessageNext decrypts the next part of a message
// (C_DecryptMessageNext).
func (m *Module) DecryptMessageNext(s ck.SessionHandle, param ck.Parameter, part []byte, flags ck.MessageFlags) ([]byte, error) {
	return m.messageNext(fnDecryptMessageNext, s, param, part, flags)
}

// MessageDecryptFinal ends the message-decryption operation
// (C_MessageDecryptFinal).
func (m *Module) MessageDecryptFinal(s ck.SessionHandle) error {
	return m.sessionOnly(fnMessageDecryptFinal, s)
}

// MessageSignInit prepares a session for signing messages
// (C_MessageSignInit).
func (m *Module) MessageSignInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnMessageSignInit, s, &mech, key)
}

// SignMessage signs one message (C_SignMessage).
func (m *Module) SignMessage(s ck.SessionHandle, param ck.Parameter, data []byte) ([]byte, error) {
	return m.signMessage(fnSignMessage, s, param, data)
}

func (m *Module) signMessage(f funcIndex, s ck.SessionHandle, param ck.Parameter, data []byte) ([]byte, error) {
	if err := argsFit(f, uint64(s), uint64(len(data))); err != nil {
		return nil, err
	}
	a, p, n, wb, err := msgArena(f, param, 8)
	if err != nil {
		return nil, err
	}
	defer a.free()
	l := a.alloc(8)
	sig, err := fetch(f, a.buf[l:l+8], func(out []byte) ck.RV {
		return m.call7(f, uintptr(s), p, uintptr(n), uintptr(bytesPtr(data)), uintptr(len(data)),
			uintptr(outPtr(out)), uintptr(a.ptr(l)))
	})
	a.copyBack(wb)
	return sig, err
}

// SignMessageBegin starts a multi-part message signature
// (C_SignMessageBegin).
func (m *Module) SignMessageBegin(s ck.SessionHandle, param ck.Parameter) error {
	return m.paramOnly(fnSignMessageBegin, s, param)
}

func (m *Module) paramOnly(f funcIndex, s ck.SessionHandle, param ck.Parameter) error {
	if err := argsFit(f, uint64(s)); err != nil {
		return err
	}
	a, p, n, wb, err := msgArena(f, param, 0)
	if err != nil {
		return err
	}
	defer a.free()
	rv := m.call3(f, uintptr(s), p, uintptr(n))
	a.copyBack(wb)
	return check(f, rv)
}

// SignMessageNext continues a multi-part message signature
// (C_SignMessageNext). With last it ends the message and returns the
// signature; otherwise it returns nil.
func (m *Module) SignMessageNext(s ck.SessionHandle, param ck.Parameter, part []byte, last bool) ([]byte, error) {
	if last {
		return m.signMessage(fnSignMessageNext, s, param, part)
	}
	if err := argsFit(fnSignMessageNext, uint64(s), uint64(len(part))); err != nil {
		return nil, err
	}
	a, p, n, wb, err := msgArena(fnSignMessageNext, param, 0)
	if err != nil {
		return nil, err
	}
	defer a.free()
	rv := m.call7(fnSignMessageNext, uintptr(s), p, uintptr(n), uintptr(bytesPtr(part)), uintptr(len(part)), 0, 0)
	a.copyBack(wb)
	return nil, check(fnSignMessageNext, rv)
}

// MessageSignFinal ends the message-signing operation
// (C_MessageSignFinal).
func (m *Module) MessageSignFinal(s ck.SessionHandle) error {
	return m.sessionOnly(fnMessageSignFinal, s)
}

// MessageVerifyInit prepares a session for verifying messages
// (C_MessageVerifyInit).
func (m *Module) MessageVerifyInit(s ck.SessionHandle, mech ck.Mechanism, key ck.ObjectHandle) error {
	return m.opInit(fnMessageVerifyInit, s, &mech, key)
}

// VerifyMessage verifies one message's signature (C_VerifyMessage).
func (m *Module) VerifyMessage(s ck.SessionHandle, param ck.Parameter, data, sig []byte) error {
	return m.verifyMessage(fnVerifyMessage, s, param, data, sig)
}

func (m *Module) verifyMessage(f funcIndex, s ck.SessionHandle, param ck.Parameter, data, sig []byte) error {
	if err := argsFit(f, uint64(s), uint64(len(data)), uint64(len(sig))); err != nil {
		return err
	}
	a, p, n, wb, err := msgArena(f, param, 0)
	if err != nil {
		return err
	}
	defer a.free()
	sp := bytesPtr(sig)
	if sig == nil {
		sp = nil
	}
	rv := m.call7(f, uintptr(s), p, uintptr(n), uintptr(bytesPtr(data)), uintptr(len(data)), uintptr(sp), uintptr(len(sig)))
	a.copyBack(wb)
	return check(f, rv)
}

// VerifyMessageBegin starts a multi-part message verification
// (C_VerifyMessageBegin).
func (m *Module) VerifyMessageBegin(s ck.SessionHandle, param ck.Parameter) error {
	return m.paramOnly(fnVerifyMessageBegin, s, param)
}

// VerifyMessageNext continues a multi-part message verification
// (C_VerifyMessageNext): sig is nil for all but the last part.
func (m *Module) VerifyMessageNext(s ck.SessionHandle, param ck.Parameter, part, sig []byte) error {
	return m.verifyMessage(fnVerifyMessageNext, s, param, part, sig)
}

// MessageVerifyFinal ends the message-verification operation
// (C_MessageVerifyFinal).
func (m *Module) MessageVerifyFinal(s ck.SessionHandle) error {
	return m.sessionOnly(fnMessageVerifyFinal, s)
}
