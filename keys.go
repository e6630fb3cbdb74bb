package pkcs11

import (
	"github.com/purepkcs11/pkcs11/ck"
)

// mechTemplateArena lays out a mechanism and up to two templates in one
// arena, with extra bytes to spare, and returns their offsets.
func mechTemplateArena(f funcIndex, mech *ck.Mechanism, extra int, templates ...[]ck.Attribute) (arena, int, []int, []writeBack, error) {
	size, err := mechanismSize(mech)
	if err != nil {
		return arena{}, 0, nil, nil, errorf(f, "%v", err)
	}
	for _, t := range templates {
		if err := argsFit(f, uint64(len(t))); err != nil {
			return arena{}, 0, nil, nil, err
		}
		n, err := templateSize(t)
		if err != nil {
			return arena{}, 0, nil, nil, errorf(f, "%v", err)
		}
		size += n
	}
	a := newArena(size + round8(extra) + 8)
	moff, wb, err := a.mechanism(mech)
	if err != nil {
		a.free()
		return arena{}, 0, nil, nil, err
	}
	toffs := make([]int, len(templates))
	for i, t := range templates {
		if toffs[i], err = a.template(t); err != nil {
			a.free()
			return arena{}, 0, nil, nil, err
		}
	}
	return a, moff, toffs, wb, nil
}

// GenerateKey generates a secret key (C_GenerateKey).
func (m *Module) GenerateKey(s ck.SessionHandle, mech ck.Mechanism, template []ck.Attribute) (ck.ObjectHandle, error) {
	if err := argsFit(fnGenerateKey, uint64(s)); err != nil {
		return 0, err
	}
	a, mo, to, wb, err := mechTemplateArena(fnGenerateKey, &mech, 8, template)
	if err != nil {
		return 0, err
	}
	defer a.free()
	h := a.alloc(8)
	rv := m.call5(fnGenerateKey, uintptr(s), uintptr(a.ptr(mo)), uintptr(a.ptr(to[0])), uintptr(len(template)), uintptr(a.ptr(h)))
	a.copyBack(wb)
	if err := check(fnGenerateKey, rv); err != nil {
		return 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), nil
}

// GenerateKeyPair generates a public and private key pair
// (C_GenerateKeyPair).
func (m *Module) GenerateKeyPair(s ck.SessionHandle, mech ck.Mechanism, public, private []ck.Attribute) (pub, priv ck.ObjectHandle, err error) {
	if err := argsFit(fnGenerateKeyPair, uint64(s)); err != nil {
		return 0, 0, err
	}
	a, mo, to, wb, err := mechTemplateArena(fnGenerateKeyPair, &mech, 16, public, private)
	if err != nil {
		return 0, 0, err
	}
	defer a.free()
	h := a.alloc(16)
	rv := m.call8(fnGenerateKeyPair, uintptr(s), uintptr(a.ptr(mo)),
		uintptr(a.ptr(to[0])), uintptr(len(public)), uintptr(a.ptr(to[1])), uintptr(len(private)),
		uintptr(a.ptr(h)), uintptr(a.ptr(h+8)))
	a.copyBack(wb)
	if err := check(fnGenerateKeyPair, rv); err != nil {
		return 0, 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), ck.ObjectHandle(getUL(a.buf[h+8:])), nil
}

// WrapKey encrypts (wraps) a key with another (C_WrapKey). A module that
// generates the IV of an AES-GCM wrap writes it into the IV of mech's
// ck.GCMParams.
func (m *Module) WrapKey(s ck.SessionHandle, mech ck.Mechanism, wrappingKey, key ck.ObjectHandle) ([]byte, error) {
	if err := argsFit(fnWrapKey, uint64(s), uint64(wrappingKey), uint64(key)); err != nil {
		return nil, err
	}
	a, mo, _, wb, err := mechTemplateArena(fnWrapKey, &mech, 8)
	if err != nil {
		return nil, err
	}
	defer a.free()
	l := a.alloc(8)
	out, err := fetch(fnWrapKey, a.buf[l:l+8], func(out []byte) ck.RV {
		return m.call6(fnWrapKey, uintptr(s), uintptr(a.ptr(mo)), uintptr(wrappingKey), uintptr(key),
			uintptr(outPtr(out)), uintptr(a.ptr(l)))
	})
	if err != nil {
		return nil, err
	}
	a.copyBack(wb)
	return out, nil
}

// UnwrapKey decrypts a wrapped key into a new key object (C_UnwrapKey).
func (m *Module) UnwrapKey(s ck.SessionHandle, mech ck.Mechanism, unwrappingKey ck.ObjectHandle, wrapped []byte, template []ck.Attribute) (ck.ObjectHandle, error) {
	if err := argsFit(fnUnwrapKey, uint64(s), uint64(unwrappingKey), uint64(len(wrapped))); err != nil {
		return 0, err
	}
	a, mo, to, wb, err := mechTemplateArena(fnUnwrapKey, &mech, 8, template)
	if err != nil {
		return 0, err
	}
	defer a.free()
	h := a.alloc(8)
	rv := m.call8(fnUnwrapKey, uintptr(s), uintptr(a.ptr(mo)), uintptr(unwrappingKey),
		uintptr(bytesPtr(wrapped)), uintptr(len(wrapped)), uintptr(a.ptr(to[0])), uintptr(len(template)),
		uintptr(a.ptr(h)))
	a.copyBack(wb)
	if err := check(fnUnwrapKey, rv); err != nil {
		return 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), nil
}

// DeriveKey derives a key from a base key (C_DeriveKey), as in ECDH with
// ck.ECDH1DeriveParams.
func (m *Module) DeriveKey(s ck.SessionHandle, mech ck.Mechanism, baseKey ck.ObjectHandle, template []ck.Attribute) (ck.ObjectHandle, error) {
	if err := argsFit(fnDeriveKey, uint64(s), uint64(baseKey)); err != nil {
		return 0, err
	}
	a, mo, to, wb, err := mechTemplateArena(fnDeriveKey, &mech, 8, template)
	if err != nil {
		return 0, err
	}
	defer a.free()
	h := a.alloc(8)
	rv := m.call6(fnDeriveKey, uintptr(s), uintptr(a.ptr(mo)), uintptr(baseKey),
		uintptr(a.ptr(to[0])), uintptr(len(template)), uintptr(a.ptr(h)))
	a.copyBack(wb)
	if err := check(fnDeriveKey, rv); err != nil {
		return 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), nil
}

// SeedRandom mixes seed into the token's random number generator
// (C_SeedRandom).
func (m *Module) SeedRandom(s ck.SessionHandle, seed []byte) error {
	return m.feed(fnSeedRandom, s, seed)
}

// GenerateRandom returns n random bytes from the token
// (C_GenerateRandom).
func (m *Module) GenerateRandom(s ck.SessionHandle, n int) ([]byte, error) {
	if n < 0 || n > maxOutput {
		return nil, errorf(fnGenerateRandom, "length %d out of range", n)
	}
	buf := make([]byte, n)
	return buf, m.GenerateRandomInto(s, buf)
}

// GenerateRandomInto fills buf with random bytes from the token
// (C_GenerateRandom), without allocating.
func (m *Module) GenerateRandomInto(s ck.SessionHandle, buf []byte) error {
	if err := argsFit(fnGenerateRandom, uint64(s), uint64(len(buf))); err != nil {
		return err
	}
	return check(fnGenerateRandom, m.call3(fnGenerateRandom, uintptr(s), uintptr(bytesPtr(buf)), uintptr(len(buf))))
}

// EncapsulateKey creates a shared secret key for the holder of a public
// key (C_EncapsulateKey, PKCS#11 3.2): it returns the ciphertext to send
// and the handle of the new key, made from template.
func (m *Module) EncapsulateKey(s ck.SessionHandle, mech ck.Mechanism, publicKey ck.ObjectHandle, template []ck.Attribute) ([]byte, ck.ObjectHandle, error) {
	if err := argsFit(fnEncapsulateKey, uint64(s), uint64(publicKey)); err != nil {
		return nil, 0, err
	}
	a, mo, to, wb, err := mechTemplateArena(fnEncapsulateKey, &mech, 16, template)
	if err != nil {
		return nil, 0, err
	}
	defer a.free()
	l := a.alloc(8)
	h := a.alloc(8)
	ct, err := fetch(fnEncapsulateKey, a.buf[l:l+8], func(out []byte) ck.RV {
		return m.call8(fnEncapsulateKey, uintptr(s), uintptr(a.ptr(mo)), uintptr(publicKey),
			uintptr(a.ptr(to[0])), uintptr(len(template)), uintptr(outPtr(out)), uintptr(a.ptr(l)), uintptr(a.ptr(h)))
	})
	a.copyBack(wb)
	if err != nil {
		return nil, 0, err
	}
	return ct, ck.ObjectHandle(getUL(a.buf[h:])), nil
}

// DecapsulateKey recovers the shared secret key from a ciphertext with a
// private key (C_DecapsulateKey, PKCS#11 3.2).
func (m *Module) DecapsulateKey(s ck.SessionHandle, mech ck.Mechanism, privateKey ck.ObjectHandle, template []ck.Attribute, ciphertext []byte) (ck.ObjectHandle, error) {
	if err := argsFit(fnDecapsulateKey, uint64(s), uint64(privateKey), uint64(len(ciphertext))); err != nil {
		return 0, err
	}
	a, mo, to, wb, err := mechTemplateArena(fnDecapsulateKey, &mech, 8, template)
	if err != nil {
		return 0, err
	}
	defer a.free()
	h := a.alloc(8)
	rv := m.call8(fnDecapsulateKey, uintptr(s), uintptr(a.ptr(mo)), uintptr(privateKey),
		uintptr(a.ptr(to[0])), uintptr(len(template)), uintptr(bytesPtr(ciphertext)), uintptr(len(ciphertext)),
		uintptr(a.ptr(h)))
	a.copyBack(wb)
	if err := check(fnDecapsulateKey, rv); err != nil {
		return 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), nil
}

// WrapKeyAuthenticated wraps a key with an authenticated mechanism and
// associated data (C_WrapKeyAuthenticated, PKCS#11 3.2). A module that
// generates the IV of an AES-GCM wrap writes it into the IV of mech's
// ck.GCMParams.
func (m *Module) WrapKeyAuthenticated(s ck.SessionHandle, mech ck.Mechanism, wrappingKey, key ck.ObjectHandle, aad []byte) ([]byte, error) {
	if err := argsFit(fnWrapKeyAuthenticated, uint64(s), uint64(wrappingKey), uint64(key), uint64(len(aad))); err != nil {
		return nil, err
	}
	a, mo, _, wb, err := mechTemplateArena(fnWrapKeyAuthenticated, &mech, 8)
	if err != nil {
		return nil, err
	}
	defer a.free()
	l := a.alloc(8)
	out, err := fetch(fnWrapKeyAuthenticated, a.buf[l:l+8], func(out []byte) ck.RV {
		return m.call8(fnWrapKeyAuthenticated, uintptr(s), uintptr(a.ptr(mo)), uintptr(wrappingKey), uintptr(key),
			uintptr(bytesPtr(aad)), uintptr(len(aad)), uintptr(outPtr(out)), uintptr(a.ptr(l)))
	})
	if err != nil {
		return nil, err
	}
	a.copyBack(wb)
	return out, nil
}

// UnwrapKeyAuthenticated unwraps a key wrapped by WrapKeyAuthenticated
// (C_UnwrapKeyAuthenticated, PKCS#11 3.2).
func (m *Module) UnwrapKeyAuthenticated(s ck.SessionHandle, mech ck.Mechanism, unwrappingKey ck.ObjectHandle, wrapped []byte, template []ck.Attribute, aad []byte) (ck.ObjectHandle, error) {
	if err := argsFit(fnUnwrapKeyAuthenticated, uint64(s), uint64(unwrappingKey), uint64(len(wrapped)), uint64(len(aad))); err != nil {
		return 0, err
	}
	a, mo, to, wb, err := mechTemplateArena(fnUnwrapKeyAuthenticated, &mech, 8, template)
	if err != nil {
		return 0, err
	}
	defer a.free()
	h := a.alloc(8)
	rv := m.call10(fnUnwrapKeyAuthenticated, uintptr(s), uintptr(a.ptr(mo)), uintptr(unwrappingKey),
		uintptr(bytesPtr(wrapped)), uintptr(len(wrapped)), uintptr(a.ptr(to[0])), uintptr(len(template)),
		uintptr(bytesPtr(aad)), uintptr(len(aad)), uintptr(a.ptr(h)))
	a.copyBack(wb)
	if err := check(fnUnwrapKeyAuthenticated, rv); err != nil {
		return 0, err
	}
	return ck.ObjectHandle(getUL(a.buf[h:])), nil
}
