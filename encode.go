package pkcs11

import (
	"encoding/binary"
	"fmt"

	"github.com/purepkcs11/pkcs11/ck"
)

// This file converts the platform-neutral values of package ck into the
// platform's C structs, inside an arena.

// nativeLen returns the length of a's value in C form.
func nativeLen(a ck.Attribute) (int, error) {
	switch a.Type.Kind() {
	case ck.KindULong:
		if len(a.Value) == 8 {
			return int(ulongSize), nil
		}
	case ck.KindMechanisms:
		if len(a.Value)%8 == 0 {
			return len(a.Value) / 8 * int(ulongSize), nil
		}
	case ck.KindTemplate:
		t, err := ck.DecodeTemplate(a.Value)
		if err != nil {
			return 0, err
		}
		n, err := templateSize(t)
		return n, err
	}
	return len(a.Value), nil
}

// templateSize returns the arena bytes a template needs: the CK_ATTRIBUTE
// array and every value, each rounded up to the arena's alignment.
func templateSize(t []ck.Attribute) (int, error) {
	n := round8(len(t) * sizeAttr)
	for _, a := range t {
		l, err := nativeLen(a)
		if err != nil {
			return 0, err
		}
		n += round8(max(l, 1))
	}
	return n, nil
}

// template writes t into the arena as a CK_ATTRIBUTE array and returns the
// array's offset. The arena must have room for templateSize(t).
func (a *arena) template(t []ck.Attribute) (int, error) {
	arr := a.alloc(max(len(t)*sizeAttr, 1))
	for i, at := range t {
		if !fitsUL(uint64(at.Type)) {
			return 0, fmt.Errorf("pkcs11: attribute type %v does not fit in a CK_ULONG", at.Type)
		}
		e := a.buf[arr+i*sizeAttr:]
		putUL(e, uint64(at.Type))
		val, n, err := a.value(at)
		if err != nil {
			return 0, err
		}
		putPtr(e[offAttrValue:], val)
		putUL(e[offAttrLen:], uint64(n))
	}
	return arr, nil
}

// value writes one attribute value in C form and returns its address and
// length.
func (a *arena) value(at ck.Attribute) (uintptr, int, error) {
	switch at.Type.Kind() {
	case ck.KindULong:
		if len(at.Value) == 8 {
			v := binary.LittleEndian.Uint64(at.Value)
			if !fitsUL(v) {
				return 0, 0, fmt.Errorf("pkcs11: %v value %d does not fit in a CK_ULONG", at.Type, v)
			}
			off := a.alloc(int(ulongSize))
			putUL(a.buf[off:], v)
			return a.addr(off), int(ulongSize), nil
		}
	case ck.KindMechanisms:
		if len(at.Value)%8 == 0 {
			n := len(at.Value) / 8
			off := a.alloc(max(n*int(ulongSize), 1))
			for i := range n {
				v := binary.LittleEndian.Uint64(at.Value[8*i:])
				if !fitsUL(v) {
					return 0, 0, fmt.Errorf("pkcs11: %v entry %#x does not fit in a CK_ULONG", at.Type, v)
				}
				putUL(a.buf[off+i*int(ulongSize):], v)
			}
			return a.addr(off), n * int(ulongSize), nil
		}
	case ck.KindTemplate:
		t, err := ck.DecodeTemplate(at.Value)
		if err != nil {
			return 0, 0, err
		}
		off, err := a.template(t)
		if err != nil {
			return 0, 0, err
		}
		return a.addr(off), len(t) * sizeAttr, nil
	}
	return a.bytes(at.Value), len(at.Value), nil
}

// paramSize returns the arena bytes a mechanism parameter needs.
func paramSize(p ck.Parameter) (int, error) {
	s := func(size int, data ...[]byte) int {
		n := round8(size)
		for _, d := range data {
			n += round8(max(len(d), 1))
		}
		return n
	}
	switch p := p.(type) {
	case nil:
		return 0, nil
	case ck.RawParameter:
		return round8(max(len(p), 1)), nil
	case ck.IV:
		return round8(max(len(p), 1)), nil
	case *ck.RSAPKCSPSSParams:
		return round8(lPSS.Size), nil
	case *ck.RSAPKCSOAEPParams:
		return s(lOAEP.Size, p.Label), nil
	case *ck.ECDH1DeriveParams:
		return s(lECDH.Size, p.SharedData, p.PublicData), nil
	case *ck.EdDSAParams:
		return s(lEdDSA.Size, p.Context), nil
	case *ck.GCMParams:
		return s(lGCM.Size, p.IV, p.AAD), nil
	case *ck.CCMParams:
		return s(lCCM.Size, p.Nonce, p.AAD), nil
	case *ck.AESCTRParams:
		return s(lCTR.Size), nil
	case *ck.GCMMessageParams:
		return s(lGCMM.Size, p.IV, p.Tag), nil
	case *ck.SignAdditionalContext:
		return s(lSAC.Size, p.Context), nil
	}
	return 0, fmt.Errorf("pkcs11: unsupported mechanism parameter type %T", p)
}

// Parameter struct layouts, computed once.
var (
	lOAEP  = platform.Struct("CK_RSA_PKCS_OAEP_PARAMS")
	lECDH  = platform.Struct("CK_ECDH1_DERIVE_PARAMS")
	lEdDSA = platform.Struct("CK_EDDSA_PARAMS")
	lGCM   = platform.Struct("CK_GCM_PARAMS")
	lCCM   = platform.Struct("CK_CCM_PARAMS")
	lCTR   = platform.Struct("CK_AES_CTR_PARAMS")
	lGCMM  = platform.Struct("CK_GCM_MESSAGE_PARAMS")
	lSAC   = platform.Struct("CK_SIGN_ADDITIONAL_CONTEXT")
	lPSS   = platform.Struct("CK_RSA_PKCS_PSS_PARAMS")
)

// mechanismSize returns the arena bytes a CK_MECHANISM and its parameter
// need.
func mechanismSize(m *ck.Mechanism) (int, error) {
	n, err := paramSize(m.Parameter)
	return round8(sizeMech) + n, err
}

// writeBack records where a module may write into a parameter, so that
// the bytes can be copied back into the caller's slice after the call.
type writeBack struct {
	dst []byte
	off int
}

// mechanism writes m into the arena and returns the CK_MECHANISM's offset
// and the regions to copy back after the call.
func (a *arena) mechanism(m *ck.Mechanism) (int, []writeBack, error) {
	if !fitsUL(uint64(m.Type)) {
		return 0, nil, fmt.Errorf("pkcs11: mechanism %v does not fit in a CK_ULONG", m.Type)
	}
	off := a.alloc(sizeMech)
	putUL(a.buf[off:], uint64(m.Type))
	if m.Parameter == nil {
		return off, nil, nil
	}
	p, n, wb, err := a.param(m.Parameter)
	if err != nil {
		return 0, nil, err
	}
	putPtr(a.buf[off+offMechParam:], p)
	putUL(a.buf[off+offMechParamLen:], uint64(n))
	return off, wb, nil
}

// param writes a mechanism parameter and returns its address and length.
func (a *arena) param(p ck.Parameter) (uintptr, int, []writeBack, error) {
	var wb []writeBack
	ul := func(v uint64, what string) error {
		if !fitsUL(v) {
			return fmt.Errorf("pkcs11: %T.%s = %d does not fit in a CK_ULONG", p, what, v)
		}
		return nil
	}
	// bytesAt copies d into the arena and records it for write-back when
	// back is set.
	bytesAt := func(d []byte, back bool) uintptr {
		off := a.alloc(max(len(d), 1))
		copy(a.buf[off:], d)
		if back && len(d) > 0 {
			wb = append(wb, writeBack{d, off})
		}
		return a.addr(off)
	}
	switch p := p.(type) {
	case ck.RawParameter:
		return bytesAt(p, false), len(p), nil, nil
	case ck.IV:
		return bytesAt(p, false), len(p), nil, nil
	case *ck.RSAPKCSPSSParams:
		if err := ul(p.SaltLength, "SaltLength"); err != nil {
			return 0, 0, nil, err
		}
		s := a.alloc(lPSS.Size)
		b := a.buf[s:]
		putUL(b[lPSS.Off("hashAlg"):], uint64(p.HashAlg))
		putUL(b[lPSS.Off("mgf"):], uint64(p.MGF))
		putUL(b[lPSS.Off("sLen"):], p.SaltLength)
		return a.addr(s), lPSS.Size, nil, nil
	case *ck.RSAPKCSOAEPParams:
		s := a.alloc(lOAEP.Size)
		b := a.buf[s:]
		putUL(b[lOAEP.Off("hashAlg"):], uint64(p.HashAlg))
		putUL(b[lOAEP.Off("mgf"):], uint64(p.MGF))
		putUL(b[lOAEP.Off("source"):], uint64(ck.CKZ_DATA_SPECIFIED))
		if len(p.Label) > 0 {
			putPtr(b[lOAEP.Off("pSourceData"):], bytesAt(p.Label, false))
			putUL(b[lOAEP.Off("ulSourceDataLen"):], uint64(len(p.Label)))
		}
		return a.addr(s), lOAEP.Size, nil, nil
	case *ck.ECDH1DeriveParams:
		s := a.alloc(lECDH.Size)
		b := a.buf[s:]
		putUL(b[lECDH.Off("kdf"):], uint64(p.KDF))
		if len(p.SharedData) > 0 {
			putUL(b[lECDH.Off("ulSharedDataLen"):], uint64(len(p.SharedData)))
			putPtr(b[lECDH.Off("pSharedData"):], bytesAt(p.SharedData, false))
		}
		putUL(b[lECDH.Off("ulPublicDataLen"):], uint64(len(p.PublicData)))
		putPtr(b[lECDH.Off("pPublicData"):], bytesAt(p.PublicData, false))
		return a.addr(s), lECDH.Size, nil, nil
	case *ck.EdDSAParams:
		s := a.alloc(lEdDSA.Size)
		b := a.buf[s:]
		if p.PreHash {
			b[lEdDSA.Off("phFlag")] = 1
		}
		if len(p.Context) > 0 {
			putUL(b[lEdDSA.Off("ulContextDataLen"):], uint64(len(p.Context)))
			putPtr(b[lEdDSA.Off("pContextData"):], bytesAt(p.Context, false))
		}
		return a.addr(s), lEdDSA.Size, nil, nil
	case *ck.GCMParams:
		bits := p.IVBits
		if bits == 0 {
			bits = 8 * uint64(len(p.IV))
		}
		if err := ul(bits, "IVBits"); err != nil {
			return 0, 0, nil, err
		}
		if err := ul(p.TagBits, "TagBits"); err != nil {
			return 0, 0, nil, err
		}
		s := a.alloc(lGCM.Size)
		b := a.buf[s:]
		putPtr(b[lGCM.Off("pIv"):], bytesAt(p.IV, true))
		putUL(b[lGCM.Off("ulIvLen"):], uint64(len(p.IV)))
		putUL(b[lGCM.Off("ulIvBits"):], bits)
		putPtr(b[lGCM.Off("pAAD"):], bytesAt(p.AAD, false))
		putUL(b[lGCM.Off("ulAADLen"):], uint64(len(p.AAD)))
		putUL(b[lGCM.Off("ulTagBits"):], p.TagBits)
		return a.addr(s), lGCM.Size, wb, nil
	case *ck.CCMParams:
		if err := ul(p.DataLen, "DataLen"); err != nil {
			return 0, 0, nil, err
		}
		if err := ul(p.MACLen, "MACLen"); err != nil {
			return 0, 0, nil, err
		}
		s := a.alloc(lCCM.Size)
		b := a.buf[s:]
		putUL(b[lCCM.Off("ulDataLen"):], p.DataLen)
		putPtr(b[lCCM.Off("pNonce"):], bytesAt(p.Nonce, false))
		putUL(b[lCCM.Off("ulNonceLen"):], uint64(len(p.Nonce)))
		putPtr(b[lCCM.Off("pAAD"):], bytesAt(p.AAD, false))
		putUL(b[lCCM.Off("ulAADLen"):], uint64(len(p.AAD)))
		putUL(b[lCCM.Off("ulMACLen"):], p.MACLen)
		return a.addr(s), lCCM.Size, nil, nil
	case *ck.AESCTRParams:
		if err := ul(p.CounterBits, "CounterBits"); err != nil {
			return 0, 0, nil, err
		}
		s := a.alloc(lCTR.Size)
		b := a.buf[s:]
		putUL(b[lCTR.Off("ulCounterBits"):], p.CounterBits)
		copy(b[lCTR.Off("cb"):], p.CounterBlock[:])
		return a.addr(s), lCTR.Size, nil, nil
	case *ck.GCMMessageParams:
		if err := ul(p.IVFixedBits, "IVFixedBits"); err != nil {
			return 0, 0, nil, err
		}
		if err := ul(p.TagBits, "TagBits"); err != nil {
			return 0, 0, nil, err
		}
		s := a.alloc(lGCMM.Size)
		b := a.buf[s:]
		putPtr(b[lGCMM.Off("pIv"):], bytesAt(p.IV, true))
		putUL(b[lGCMM.Off("ulIvLen"):], uint64(len(p.IV)))
		putUL(b[lGCMM.Off("ulIvFixedBits"):], p.IVFixedBits)
		putUL(b[lGCMM.Off("ivGenerator"):], uint64(p.IVGenerator))
		putPtr(b[lGCMM.Off("pTag"):], bytesAt(p.Tag, true))
		putUL(b[lGCMM.Off("ulTagBits"):], p.TagBits)
		return a.addr(s), lGCMM.Size, wb, nil
	case *ck.SignAdditionalContext:
		s := a.alloc(lSAC.Size)
		b := a.buf[s:]
		putUL(b[lSAC.Off("hedgeVariant"):], uint64(p.Hedge))
		if len(p.Context) > 0 {
			putPtr(b[lSAC.Off("pContext"):], bytesAt(p.Context, false))
			putUL(b[lSAC.Off("ulContextLen"):], uint64(len(p.Context)))
		}
		return a.addr(s), lSAC.Size, nil, nil
	}
	return 0, 0, nil, fmt.Errorf("pkcs11: unsupported mechanism parameter type %T", p)
}

// copyBack copies what the module wrote into parameter buffers back into
// the caller's slices.
func (a *arena) copyBack(wb []writeBack) {
	for _, w := range wb {
		copy(w.dst, a.buf[w.off:])
	}
}
