package pkcs11_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// The tests in this file drive the functions of PKCS#11 3.0 and 3.2 in
// testdata/abimod: abimod checks every handle, mechanism, parameter,
// template, pointer and length they pass against the canonical values
// of abimod.c, and answers with known output.

// Canonical values of the 3.x functions of abimod.c.
const (
	abiUsername                        = "abi-user"
	abiMLDSASigLen                     = 2420
	abiMLKEMCTLen                      = 1088
	abiAuthWrappedLen                  = 40
	abiEncapsulated    ck.ObjectHandle = 0x400
	abiDecapsulated    ck.ObjectHandle = 0x401
	abiUnwrapped       ck.ObjectHandle = 0x402
	abiValidationFlags                 = 0x80000001
	abiAsyncFunction                   = "C_GenerateKeyPair"
	abiAsyncID                         = 0x5EED
	abiAsyncObject     ck.ObjectHandle = 0x500
)

// abiMsg returns n bytes of message data from offset off, XOR x: the
// digits '0' to '9' over and over.
func abiMsg(off, n int, x byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = ('0' + byte((off+i)%10)) ^ x
	}
	return b
}

// abiCiphertext is abiMsg encrypted by abimod's AES-GCM, which XORs 0x5A.
func abiCiphertext(off, n int) []byte { return abiMsg(off, n, 0x5A) }

// abiGCMMessage returns the CK_GCM_MESSAGE_PARAMS abimod expects for
// encrypting a message: the IV 0xA0..0xAB, 16 fixed bits, a counter
// generator and room for a 128-bit tag.
func abiGCMMessage() *ck.GCMMessageParams {
	return &ck.GCMMessageParams{
		IV: abiSeq(0xA0, 12), IVFixedBits: 16, IVGenerator: ck.CKG_GENERATE_COUNTER,
		Tag: make([]byte, 16), TagBits: 128,
	}
}

// abiSAC returns the CK_SIGN_ADDITIONAL_CONTEXT abimod expects.
func abiSAC() *ck.SignAdditionalContext {
	return &ck.SignAdditionalContext{Hedge: ck.CKH_DETERMINISTIC_REQUIRED, Context: []byte("mldsa")}
}

// abiGCMParams returns the CK_GCM_PARAMS abimod expects.
func abiGCMParams() *ck.GCMParams {
	return &ck.GCMParams{IV: abiSeq(0xA0, 12), IVBits: 96, AAD: []byte("aad"), TagBits: 128}
}

var (
	abiMsgGCM = ck.NewMechanism(ck.CKM_AES_GCM, nil) // message-based: no parameter
	abiMLDSA  = ck.NewMechanism(ck.CKM_ML_DSA, nil)
	abiMLKEM  = ck.NewMechanism(ck.CKM_ML_KEM, nil)
	abiAAD    = []byte("aad")
)

// abiSignature is abimod's ML-DSA signature: byte i is i & 0xff.
func abiSignature() []byte { return abiSeq(0, abiMLDSASigLen) }

func TestAbimodLoginUser(t *testing.T) {
	a := abimod(t)
	m := a.m
	s := a.session(t)

	for _, c := range []struct {
		name  string
		user  ck.UserType
		pin   string
		uname string
		rv    ck.RV
		field string
	}{
		{"user type", ck.CKU_SO, abiUserPIN, abiUsername, ck.CKR_USER_TYPE_INVALID, "userType: expected 0x1, got 0x0"},
		{"username", ck.CKU_USER, abiUserPIN, "abi-usex", ck.CKR_PIN_INCORRECT, "pUsername[7]"},
		{"username length", ck.CKU_USER, abiUserPIN, "abi", ck.CKR_PIN_INCORRECT, "ulUsernameLen: expected 0x8, got 0x3"},
		{"PIN", ck.CKU_USER, "4321", abiUsername, ck.CKR_PIN_INCORRECT, "wrong PIN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := m.LoginUser(s, c.user, []byte(c.pin), c.uname)
			require.ErrorIs(t, err, c.rv)
			assert.Contains(t, err.Error(), "C_LoginUser")
			assert.NotContains(t, err.Error(), c.pin)
			assert.Contains(t, a.lastError(), c.field)
		})
	}

	require.NoError(t, m.LoginUser(s, ck.CKU_USER, []byte(abiUserPIN), abiUsername), "abimod: %s", a.lastError())
	assert.Empty(t, a.lastError())
	assert.ErrorIs(t, m.LoginUser(s, ck.CKU_USER, []byte(abiUserPIN), abiUsername), ck.CKR_USER_ALREADY_LOGGED_IN)
	// Login state is the token's: C_Logout ends the C_LoginUser login.
	require.NoError(t, m.Logout(s))
	assert.ErrorIs(t, m.Logout(s), ck.CKR_USER_NOT_LOGGED_IN)
}

func TestAbimodSessionCancel(t *testing.T) {
	a := abimod(t)
	m := a.m
	s := a.session(t)
	vendor := ck.NewMechanism(abiVendorMech, nil)

	require.NoError(t, m.SignInit(s, vendor, abiKey))
	require.ErrorIs(t, m.SignInit(s, vendor, abiKey), ck.CKR_OPERATION_ACTIVE)
	require.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey), "abimod: %s", a.lastError())
	require.NoError(t, m.MessageSignInit(s, abiMLDSA, abiKey), "abimod: %s", a.lastError())

	// The flags arrive whole: CKF_SIGN ends C_SignInit's operation and
	// no other.
	require.NoError(t, m.SessionCancel(s, ck.CKF_SIGN), "abimod: %s", a.lastError())
	require.NoError(t, m.SignInit(s, vendor, abiKey))
	assert.ErrorIs(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey), ck.CKR_OPERATION_ACTIVE)
	assert.ErrorIs(t, m.MessageSignInit(s, abiMLDSA, abiKey), ck.CKR_OPERATION_ACTIVE)

	require.NoError(t, m.SessionCancel(s, ck.CKF_MESSAGE_ENCRYPT|ck.CKF_MESSAGE_SIGN))
	assert.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey))
	assert.NoError(t, m.MessageSignInit(s, abiMLDSA, abiKey))
	assert.ErrorIs(t, m.SignInit(s, vendor, abiKey), ck.CKR_OPERATION_ACTIVE)

	// abimod refuses flags that name no operation it has, and says which.
	assert.ErrorIs(t, m.SessionCancel(s, ck.CKF_GENERATE), ck.CKR_ARGUMENTS_BAD)
	assert.Contains(t, a.lastError(), "got 0x8000")
	assert.ErrorIs(t, m.SessionCancel(s, 0), ck.CKR_ARGUMENTS_BAD)
}

func TestAbimodMessageEncrypt(t *testing.T) {
	a := abimod(t)
	m := a.m

	t.Run("one-part", func(t *testing.T) {
		s := a.session(t)
		require.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey), "abimod: %s", a.lastError())
		p := abiGCMMessage()
		ct, err := m.EncryptMessage(s, p, abiAAD, abiMsg(0, 300, 0))
		require.NoError(t, err, "abimod: %s", a.lastError())
		assert.Empty(t, a.lastError())
		assert.Equal(t, abiCiphertext(0, 300), ct)
		// The IV abimod generated and the tag came back into p.
		assert.Equal(t, abiSeq(0xB0, 12), p.IV, "IV")
		assert.Equal(t, abiSeq(0xD0, 16), p.Tag, "tag")

		// An empty message goes out as a valid pointer: abimod refuses
		// NULL even with length 0.
		empty, err := m.EncryptMessage(s, abiGCMMessage(), abiAAD, nil)
		require.NoError(t, err, "abimod: %s", a.lastError())
		assert.Empty(t, empty)

		require.NoError(t, m.MessageEncryptFinal(s))
		assert.ErrorIs(t, m.MessageEncryptFinal(s), ck.CKR_OPERATION_NOT_INITIALIZED)

		// Decrypting takes the IV and tag encrypting gave back.
		require.NoError(t, m.MessageDecryptInit(s, abiMsgGCM, abiKey), "abimod: %s", a.lastError())
		pt, err := m.DecryptMessage(s, p, abiAAD, ct)
		require.NoError(t, err, "abimod: %s", a.lastError())
		assert.Equal(t, abiMsg(0, 300, 0), pt)

		p.Tag[0] ^= 1
		_, err = m.DecryptMessage(s, p, abiAAD, ct)
		assert.ErrorIs(t, err, ck.CKR_MECHANISM_PARAM_INVALID)
		assert.Contains(t, a.lastError(), "CK_GCM_MESSAGE_PARAMS.pTag[0]")
		require.NoError(t, m.MessageDecryptFinal(s))
	})

	t.Run("multi-part", func(t *testing.T) {
		s := a.session(t)
		require.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey))
		p := abiGCMMessage()
		require.NoError(t, m.EncryptMessageBegin(s, p, abiAAD), "abimod: %s", a.lastError())
		assert.Equal(t, abiSeq(0xB0, 12), p.IV, "IV after C_EncryptMessageBegin")

		// The parts carry the generated IV: abimod checks it is 0xB0...
		var ct []byte
		for _, part := range []struct {
			off, n int
			flags  ck.MessageFlags
		}{{0, 7, 0}, {7, 200, 0}, {207, 0, 0}, {207, 5, ck.CKF_END_OF_MESSAGE}} {
			out, err := m.EncryptMessageNext(s, p, abiMsg(part.off, part.n, 0), part.flags)
			require.NoError(t, err, "abimod: %s", a.lastError())
			ct = append(ct, out...)
		}
		assert.Equal(t, abiCiphertext(0, 212), ct)
		assert.Equal(t, abiSeq(0xD0, 16), p.Tag, "tag after the last part")
		// The message is over: a part without C_EncryptMessageBegin is
		// refused.
		_, err := m.EncryptMessageNext(s, p, abiMsg(0, 1, 0), 0)
		assert.ErrorIs(t, err, ck.CKR_OPERATION_NOT_INITIALIZED)
		require.NoError(t, m.MessageEncryptFinal(s))

		require.NoError(t, m.MessageDecryptInit(s, abiMsgGCM, abiKey))
		require.NoError(t, m.DecryptMessageBegin(s, p, abiAAD), "abimod: %s", a.lastError())
		var pt []byte
		for _, part := range []struct {
			off, n int
			flags  ck.MessageFlags
		}{{0, 100, 0}, {100, 112, ck.CKF_END_OF_MESSAGE}} {
			out, err := m.DecryptMessageNext(s, p, abiCiphertext(part.off, part.n), part.flags)
			require.NoError(t, err, "abimod: %s", a.lastError())
			pt = append(pt, out...)
		}
		assert.Equal(t, abiMsg(0, 212, 0), pt)
		require.NoError(t, m.MessageDecryptFinal(s))
	})

	// One wrong field is refused and named: the checks are live, and each
	// field of CK_GCM_MESSAGE_PARAMS is where abimod's compiler puts it.
	t.Run("checked", func(t *testing.T) {
		s := a.session(t)
		require.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey))
		for _, c := range []struct {
			name   string
			change func(p *ck.GCMMessageParams)
			aad    []byte
			pt     []byte
			rv     ck.RV
			field  string
		}{
			{"IV", func(p *ck.GCMMessageParams) { p.IV[3] ^= 1 }, nil, nil, ck.CKR_MECHANISM_PARAM_INVALID, "CK_GCM_MESSAGE_PARAMS.pIv[3]"},
			{"IV length", func(p *ck.GCMMessageParams) { p.IV = p.IV[:8] }, nil, nil, ck.CKR_MECHANISM_PARAM_INVALID, "CK_GCM_MESSAGE_PARAMS.ulIvLen"},
			{"fixed bits", func(p *ck.GCMMessageParams) { p.IVFixedBits = 8 }, nil, nil, ck.CKR_MECHANISM_PARAM_INVALID, "CK_GCM_MESSAGE_PARAMS.ulIvFixedBits"},
			{"generator", func(p *ck.GCMMessageParams) { p.IVGenerator = ck.CKG_GENERATE_RANDOM }, nil, nil, ck.CKR_MECHANISM_PARAM_INVALID, "CK_GCM_MESSAGE_PARAMS.ivGenerator"},
			{"tag bits", func(p *ck.GCMMessageParams) { p.TagBits = 96 }, nil, nil, ck.CKR_MECHANISM_PARAM_INVALID, "CK_GCM_MESSAGE_PARAMS.ulTagBits"},
			{"AAD", nil, []byte("aaX"), nil, ck.CKR_ARGUMENTS_BAD, "pAssociatedData[2]"},
			{"AAD length", nil, []byte("aa"), nil, ck.CKR_ARGUMENTS_BAD, "ulAssociatedDataLen"},
			{"plaintext", nil, nil, []byte("01x"), ck.CKR_DATA_INVALID, "pPlaintext[2]"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := abiGCMMessage()
				if c.change != nil {
					c.change(p)
				}
				aad, pt := abiAAD, abiMsg(0, 10, 0)
				if c.aad != nil {
					aad = c.aad
				}
				if c.pt != nil {
					pt = c.pt
				}
				_, err := m.EncryptMessage(s, p, aad, pt)
				assert.ErrorIs(t, err, c.rv)
				assert.Contains(t, a.lastError(), c.field)
			})
		}

		p := abiGCMMessage()
		require.NoError(t, m.EncryptMessageBegin(s, p, abiAAD))
		_, err := m.EncryptMessageNext(s, p, abiMsg(0, 1, 0), 2)
		assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
		assert.Contains(t, a.lastError(), "flags: expected 0 or CKF_END_OF_MESSAGE, got 0x2")
		// The operation takes no parameter, and KEY only.
		require.NoError(t, m.SessionCancel(s, ck.CKF_MESSAGE_ENCRYPT))
		assert.ErrorIs(t, m.MessageEncryptInit(s, ck.NewMechanism(ck.CKM_AES_GCM, abiGCMParams()), abiKey), ck.CKR_MECHANISM_PARAM_INVALID)
		assert.Contains(t, a.lastError(), "ulParameterLen")
		assert.ErrorIs(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey+1), ck.CKR_KEY_HANDLE_INVALID)
		assert.Contains(t, a.lastError(), "hKey: expected 0x300, got 0x301")
	})
}

func TestAbimodMessageSign(t *testing.T) {
	a := abimod(t)
	m := a.m
	s := a.session(t)
	data := abiMsg(0, 50, 0)

	require.NoError(t, m.MessageSignInit(s, abiMLDSA, abiKey), "abimod: %s", a.lastError())
	sig, err := m.SignMessage(s, abiSAC(), data)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, abiSignature(), sig)

	require.NoError(t, m.SignMessageBegin(s, abiSAC()), "abimod: %s", a.lastError())
	part, err := m.SignMessageNext(s, abiSAC(), data[:20], false)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Nil(t, part)
	sig2, err := m.SignMessageNext(s, abiSAC(), data[20:], true)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, abiSignature(), sig2)
	require.NoError(t, m.MessageSignFinal(s))

	// The verifying operation takes the context in its mechanism too.
	require.NoError(t, m.MessageVerifyInit(s, ck.NewMechanism(ck.CKM_ML_DSA, abiSAC()), abiKey), "abimod: %s", a.lastError())
	require.NoError(t, m.VerifyMessage(s, abiSAC(), data, sig), "abimod: %s", a.lastError())
	assert.ErrorIs(t, m.VerifyMessage(s, abiSAC(), data, flipBit(sig, 100)), ck.CKR_SIGNATURE_INVALID)
	assert.ErrorIs(t, m.VerifyMessage(s, abiSAC(), data, sig[:10]), ck.CKR_SIGNATURE_INVALID)
	require.NoError(t, m.VerifyMessageBegin(s, abiSAC()))
	require.NoError(t, m.VerifyMessageNext(s, abiSAC(), data[:30], nil), "abimod: %s", a.lastError())
	require.NoError(t, m.VerifyMessageNext(s, abiSAC(), data[30:], sig), "abimod: %s", a.lastError())
	require.NoError(t, m.MessageVerifyFinal(s))
	assert.ErrorIs(t, m.MessageVerifyFinal(s), ck.CKR_OPERATION_NOT_INITIALIZED)

	// Each field of CK_SIGN_ADDITIONAL_CONTEXT is checked, per message
	// and in the mechanism.
	require.NoError(t, m.MessageSignInit(s, abiMLDSA, abiKey))
	for _, c := range []struct {
		name  string
		p     *ck.SignAdditionalContext
		field string
	}{
		{"hedge", &ck.SignAdditionalContext{Hedge: ck.CKH_HEDGE_PREFERRED, Context: []byte("mldsa")}, "CK_SIGN_ADDITIONAL_CONTEXT.hedgeVariant"},
		{"context", &ck.SignAdditionalContext{Hedge: ck.CKH_DETERMINISTIC_REQUIRED, Context: []byte("mldsX")}, "CK_SIGN_ADDITIONAL_CONTEXT.pContext[4]"},
		{"no context", &ck.SignAdditionalContext{Hedge: ck.CKH_DETERMINISTIC_REQUIRED}, "CK_SIGN_ADDITIONAL_CONTEXT.ulContextLen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.SignMessage(s, c.p, data)
			assert.ErrorIs(t, err, ck.CKR_MECHANISM_PARAM_INVALID)
			assert.Contains(t, a.lastError(), c.field)
			err = m.VerifySignatureInit(s, ck.NewMechanism(ck.CKM_ML_DSA, c.p), abiKey, sig)
			assert.ErrorIs(t, err, ck.CKR_MECHANISM_PARAM_INVALID)
			assert.Contains(t, a.lastError(), c.field)
		})
	}
	_, err = m.SignMessage(s, nil, data)
	assert.ErrorIs(t, err, ck.CKR_MECHANISM_PARAM_INVALID)
	assert.Contains(t, a.lastError(), "pParameter (CK_SIGN_ADDITIONAL_CONTEXT): expected")
	_, err = m.SignMessage(s, abiSAC(), abiMsg(1, 5, 0))
	assert.ErrorIs(t, err, ck.CKR_DATA_INVALID)
	assert.Contains(t, a.lastError(), "pData[0]")
}

func TestAbimodVerifySignature(t *testing.T) {
	a := abimod(t)
	m := a.m
	s := a.session(t)
	mech := ck.NewMechanism(ck.CKM_ML_DSA, abiSAC())
	sig := abiSignature()

	require.NoError(t, m.VerifySignatureInit(s, mech, abiKey, sig), "abimod: %s", a.lastError())
	require.NoError(t, m.VerifySignature(s, abiMsg(0, 64, 0)), "abimod: %s", a.lastError())

	require.NoError(t, m.VerifySignatureInit(s, abiMLDSA, abiKey, sig), "abimod: %s", a.lastError())
	for _, part := range [][2]int{{0, 10}, {10, 0}, {10, 33}} {
		require.NoError(t, m.VerifySignatureUpdate(s, abiMsg(part[0], part[1], 0)), "abimod: %s", a.lastError())
	}
	require.NoError(t, m.VerifySignatureFinal(s))
	assert.ErrorIs(t, m.VerifySignatureFinal(s), ck.CKR_OPERATION_NOT_INITIALIZED)

	// Empty data is a valid pointer, not NULL.
	require.NoError(t, m.VerifySignatureInit(s, mech, abiKey, sig))
	require.NoError(t, m.VerifySignature(s, nil), "abimod: %s", a.lastError())

	// The signature went to C_VerifySignatureInit: a wrong one fails at
	// the end.
	require.NoError(t, m.VerifySignatureInit(s, mech, abiKey, flipBit(sig, 2000)))
	assert.ErrorIs(t, m.VerifySignature(s, abiMsg(0, 64, 0)), ck.CKR_SIGNATURE_INVALID)
	require.NoError(t, m.VerifySignatureInit(s, mech, abiKey, sig[:2419]))
	require.NoError(t, m.VerifySignatureUpdate(s, abiMsg(0, 64, 0)))
	assert.ErrorIs(t, m.VerifySignatureFinal(s), ck.CKR_SIGNATURE_INVALID)

	require.NoError(t, m.VerifySignatureInit(s, mech, abiKey, sig))
	assert.ErrorIs(t, m.VerifySignatureInit(s, mech, abiKey, sig), ck.CKR_OPERATION_ACTIVE)
	require.NoError(t, m.VerifySignatureUpdate(s, abiMsg(0, 3, 0)))
	assert.ErrorIs(t, m.VerifySignatureUpdate(s, abiMsg(0, 3, 0)), ck.CKR_DATA_INVALID)
	assert.Contains(t, a.lastError(), "C_VerifySignatureUpdate pPart[0]")

	assert.ErrorIs(t, m.VerifySignatureInit(s, mech, abiKey+2, sig), ck.CKR_KEY_HANDLE_INVALID)
	assert.ErrorIs(t, m.VerifySignatureInit(s, abiMLKEM, abiKey, sig), ck.CKR_MECHANISM_INVALID)
}

func TestAbimodEncapsulate(t *testing.T) {
	a := abimod(t)
	m := a.m
	s := a.session(t)

	ct, h, err := m.EncapsulateKey(s, abiMLKEM, abiKey, abiTemplate())
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, abiSeq(0x60, abiMLKEMCTLen), ct)
	assert.Equal(t, abiEncapsulated, h)

	h, err = m.DecapsulateKey(s, abiMLKEM, abiKey, abiTemplate(), ct)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, abiDecapsulated, h)

	_, err = m.DecapsulateKey(s, abiMLKEM, abiKey, abiTemplate(), flipBit(ct, 1000))
	assert.ErrorIs(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)
	assert.Contains(t, a.lastError(), "pCiphertext[1000]")
	_, err = m.DecapsulateKey(s, abiMLKEM, abiKey, abiTemplate(), ct[:1087])
	assert.ErrorIs(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)
	assert.Contains(t, a.lastError(), "expected 1088 bytes, got 1087")

	_, _, err = m.EncapsulateKey(s, abiMLKEM, abiKey+1, abiTemplate())
	assert.ErrorIs(t, err, ck.CKR_KEY_HANDLE_INVALID)
	tmpl := abiTemplate()
	tmpl[2] = ck.MustAttribute(ck.CKA_LABEL, "tmpX")
	_, _, err = m.EncapsulateKey(s, abiMLKEM, abiKey, tmpl)
	assert.ErrorIs(t, err, ck.CKR_TEMPLATE_INCONSISTENT)
	assert.Contains(t, a.lastError(), "(CKA_LABEL).pValue[3]")
	_, err = m.DecapsulateKey(s, ck.NewMechanism(ck.CKM_ML_KEM, ck.RawParameter("x")), abiKey, abiTemplate(), ct)
	assert.ErrorIs(t, err, ck.CKR_MECHANISM_PARAM_INVALID)
}

func TestAbimodWrapKeyAuthenticated(t *testing.T) {
	a := abimod(t)
	m := a.m
	s := a.session(t)

	// abimod generates the IV when it writes the wrapped key, not on the
	// size query: the IV comes back once the key is wrapped.
	gcm := abiGCMParams()
	wrapped, err := m.WrapKeyAuthenticated(s, ck.NewMechanism(ck.CKM_AES_GCM, gcm), abiKey, abiKey+1, abiAAD)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, abiSeq(0xC0, abiAuthWrappedLen), wrapped)
	assert.Equal(t, abiSeq(0xB0, 12), gcm.IV, "IV after C_WrapKeyAuthenticated")

	gcm = abiGCMParams()
	w, err := m.WrapKey(s, ck.NewMechanism(ck.CKM_AES_GCM, gcm), abiKey, abiKey+1)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, abiSeq(0xC0, abiWrappedLen), w)
	assert.Equal(t, abiSeq(0xB0, 12), gcm.IV, "IV after C_WrapKey")

	h, err := m.UnwrapKeyAuthenticated(s, ck.NewMechanism(ck.CKM_AES_GCM, abiGCMParams()), abiKey, wrapped, abiTemplate(), abiAAD)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, abiUnwrapped, h)

	_, err = m.WrapKeyAuthenticated(s, ck.NewMechanism(ck.CKM_AES_GCM, abiGCMParams()), abiKey, abiKey+1, []byte("aaX"))
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
	assert.Contains(t, a.lastError(), "pAssociatedData[2]")
	_, err = m.WrapKeyAuthenticated(s, ck.NewMechanism(ck.CKM_AES_GCM, abiGCMParams()), abiKey, abiKey, abiAAD)
	assert.ErrorIs(t, err, ck.CKR_KEY_HANDLE_INVALID)
	assert.Contains(t, a.lastError(), "hKey: expected 0x301, got 0x300")
	_, err = m.UnwrapKeyAuthenticated(s, ck.NewMechanism(ck.CKM_AES_GCM, abiGCMParams()), abiKey, flipBit(wrapped, 39), abiTemplate(), abiAAD)
	assert.ErrorIs(t, err, ck.CKR_WRAPPED_KEY_INVALID)
	assert.Contains(t, a.lastError(), "pWrappedKey[39]")
	_, err = m.UnwrapKeyAuthenticated(s, ck.NewMechanism(ck.CKM_AES_GCM, abiGCMParams()), abiKey, wrapped, abiTemplate(), nil)
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
	assert.Contains(t, a.lastError(), "ulAssociatedDataLen")
}

func TestAbimodSessionValidationFlags(t *testing.T) {
	a := abimod(t)
	s := a.session(t)
	flags, err := a.m.GetSessionValidationFlags(s, uint64(ck.CKS_LAST_VALIDATION_OK))
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, uint64(abiValidationFlags), flags)
	_, err = a.m.GetSessionValidationFlags(s, 2)
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
	assert.Contains(t, a.lastError(), "type: expected 0x1, got 0x2")
	_, err = a.m.GetSessionValidationFlags(s+1, uint64(ck.CKS_LAST_VALIDATION_OK))
	assert.ErrorIs(t, err, ck.CKR_SESSION_HANDLE_INVALID)
}

func TestAbimodAsync(t *testing.T) {
	a := abimod(t)
	m := a.m
	s := a.session(t)

	id, err := m.AsyncGetID(s, abiAsyncFunction)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, uint64(abiAsyncID), id)

	data := make([]byte, 32)
	require.NoError(t, m.AsyncJoin(s, abiAsyncFunction, id, data), "abimod: %s", a.lastError())
	assert.Equal(t, abiSeq(0x70, 32), data)
	assert.ErrorIs(t, m.AsyncJoin(s, abiAsyncFunction, id, make([]byte, 16)), ck.CKR_ARGUMENTS_BAD)
	assert.Contains(t, a.lastError(), "ulData: expected 0x20, got 0x10")
	assert.ErrorIs(t, m.AsyncJoin(s, abiAsyncFunction, id+1, data), ck.CKR_ARGUMENTS_BAD)
	assert.Contains(t, a.lastError(), "ulID")

	res, err := m.AsyncComplete(s, abiAsyncFunction, 64)
	require.NoError(t, err, "abimod: %s", a.lastError())
	assert.Equal(t, pkcs11.AsyncData{
		Version: 1, Value: []byte("async!"), Object: abiAsyncObject, AdditionalObject: abiAsyncObject + 1,
	}, res)
	res, err = m.AsyncComplete(s, abiAsyncFunction, 6)
	require.NoError(t, err)
	assert.Equal(t, []byte("async!"), res.Value)
	for _, size := range []int{0, 5} {
		_, err = m.AsyncComplete(s, abiAsyncFunction, size)
		assert.ErrorIs(t, err, ck.CKR_BUFFER_TOO_SMALL, "value size %d", size)
	}

	// The name goes out NUL-terminated, whole.
	_, err = m.AsyncGetID(s, "C_Sign")
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
	assert.Contains(t, a.lastError(), `got "C_Sign"`)
	_, err = m.AsyncComplete(s, abiAsyncFunction+"X", 64)
	assert.ErrorIs(t, err, ck.CKR_ARGUMENTS_BAD)
}

// TestAbimodOutputLengths runs every 3.x function with an output of its
// own under two faults: a size query that announces half the length, so
// that the call after it gets CKR_BUFFER_TOO_SMALL and the real length,
// and a module that claims to have written past the buffer.
func TestAbimodOutputLengths(t *testing.T) {
	a := abimod(t)
	m := a.m

	// Each case starts its operation on a fresh session and returns the
	// output, with what it should be.
	cases := []struct {
		name string
		run  func(s ck.SessionHandle) ([]byte, error)
		want []byte
	}{
		{"C_EncryptMessage", func(s ck.SessionHandle) ([]byte, error) {
			require.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey))
			return m.EncryptMessage(s, abiGCMMessage(), abiAAD, abiMsg(0, 300, 0))
		}, abiCiphertext(0, 300)},
		{"C_EncryptMessageNext", func(s ck.SessionHandle) ([]byte, error) {
			require.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey))
			p := abiGCMMessage()
			require.NoError(t, m.EncryptMessageBegin(s, p, abiAAD))
			return m.EncryptMessageNext(s, p, abiMsg(0, 300, 0), ck.CKF_END_OF_MESSAGE)
		}, abiCiphertext(0, 300)},
		{"C_DecryptMessage", func(s ck.SessionHandle) ([]byte, error) {
			require.NoError(t, m.MessageDecryptInit(s, abiMsgGCM, abiKey))
			p := abiGCMMessage()
			p.IV, p.Tag = abiSeq(0xB0, 12), abiSeq(0xD0, 16)
			return m.DecryptMessage(s, p, abiAAD, abiCiphertext(0, 300))
		}, abiMsg(0, 300, 0)},
		{"C_DecryptMessageNext", func(s ck.SessionHandle) ([]byte, error) {
			require.NoError(t, m.MessageDecryptInit(s, abiMsgGCM, abiKey))
			p := abiGCMMessage()
			p.IV, p.Tag = abiSeq(0xB0, 12), abiSeq(0xD0, 16)
			require.NoError(t, m.DecryptMessageBegin(s, p, abiAAD))
			return m.DecryptMessageNext(s, p, abiCiphertext(0, 300), ck.CKF_END_OF_MESSAGE)
		}, abiMsg(0, 300, 0)},
		{"C_SignMessage", func(s ck.SessionHandle) ([]byte, error) {
			require.NoError(t, m.MessageSignInit(s, abiMLDSA, abiKey))
			return m.SignMessage(s, abiSAC(), abiMsg(0, 10, 0))
		}, abiSignature()},
		{"C_SignMessageNext", func(s ck.SessionHandle) ([]byte, error) {
			require.NoError(t, m.MessageSignInit(s, abiMLDSA, abiKey))
			require.NoError(t, m.SignMessageBegin(s, abiSAC()))
			return m.SignMessageNext(s, abiSAC(), abiMsg(0, 10, 0), true)
		}, abiSignature()},
		{"C_EncapsulateKey", func(s ck.SessionHandle) ([]byte, error) {
			ct, _, err := m.EncapsulateKey(s, abiMLKEM, abiKey, abiTemplate())
			return ct, err
		}, abiSeq(0x60, abiMLKEMCTLen)},
		{"C_WrapKeyAuthenticated", func(s ck.SessionHandle) ([]byte, error) {
			return m.WrapKeyAuthenticated(s, ck.NewMechanism(ck.CKM_AES_GCM, abiGCMParams()), abiKey, abiKey+1, abiAAD)
		}, abiSeq(0xC0, abiAuthWrappedLen)},
	}

	for _, c := range cases {
		t.Run("query-short/"+c.name, func(t *testing.T) {
			a.fault(t, faultQueryShort)
			out, err := c.run(a.session(t))
			require.NoError(t, err, "abimod: %s", a.lastError())
			assert.Equal(t, c.want, out)
		})
		t.Run("out-long/"+c.name, func(t *testing.T) {
			a.fault(t, faultOutLong)
			out, err := c.run(a.session(t))
			require.ErrorIs(t, err, pkcs11.ErrBadOutput)
			assert.Contains(t, err.Error(), c.name)
			assert.Nil(t, out)
		})
	}

	// Nothing of a refused output reaches the caller: not the IV and tag
	// written into the parameter either.
	t.Run("out-long/parameter", func(t *testing.T) {
		a.fault(t, faultOutLong)
		s := a.session(t)
		require.NoError(t, m.MessageEncryptInit(s, abiMsgGCM, abiKey))
		p := abiGCMMessage()
		_, err := m.EncryptMessage(s, p, abiAAD, abiMsg(0, 10, 0))
		require.ErrorIs(t, err, pkcs11.ErrBadOutput)
		assert.Equal(t, abiGCMMessage(), p)
	})
}

func TestAbimodAttributeUnavailable(t *testing.T) {
	a := abimod(t)
	m := a.m
	types := []ck.AttributeType{ck.CKA_CLASS, ck.CKA_LABEL, ck.CKA_VALUE}

	for _, hint := range []int{0, 4, 64} {
		t.Run(fmt.Sprintf("withheld/hint-%d", hint), func(t *testing.T) {
			a.fault(t, faultLabelUnavail)
			s := a.session(t)
			res, err := m.GetAttributeValueHint(s, abiObject, types, hint)
			require.NoError(t, err)
			require.Len(t, res, 3)
			require.NoError(t, res[0].Err)
			label := res[1]
			assert.Nil(t, label.Value)
			require.ErrorIs(t, label.Err, pkcs11.ErrAttributeUnavailable, "hint %d", hint)
			for _, rv := range []ck.RV{ck.CKR_ATTRIBUTE_VALUE_INVALID, ck.CKR_ATTRIBUTE_SENSITIVE, ck.CKR_ATTRIBUTE_TYPE_INVALID} {
				assert.NotErrorIs(t, label.Err, rv)
			}
			assert.NotErrorIs(t, label.Err, pkcs11.ErrBadOutput)
			assert.Contains(t, label.Err.Error(), "CKA_LABEL")
			assert.ErrorIs(t, res[2].Err, ck.CKR_ATTRIBUTE_SENSITIVE)
		})
	}

	// Withheld once, the value is there when asked for alone: it is read.
	for _, hint := range []int{0, 64} {
		t.Run(fmt.Sprintf("withheld-once/hint-%d", hint), func(t *testing.T) {
			a.fault(t, faultLabelOnce)
			s := a.session(t)
			res, err := m.GetAttributeValueHint(s, abiObject, types, hint)
			require.NoError(t, err)
			require.NoError(t, res[1].Err, "hint %d", hint)
			assert.Equal(t, "abi-object", res[1].Text())
			assert.ErrorIs(t, res[2].Err, ck.CKR_ATTRIBUTE_SENSITIVE)
		})
	}
}

// abiWrapTemplate is CKA_WRAP_TEMPLATE of abimod's object.
func abiWrapTemplate() []ck.Attribute {
	return []ck.Attribute{
		ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_AES),
		ck.MustAttribute(ck.CKA_EXTRACTABLE, false),
		ck.MustAttribute(ck.CKA_LABEL, "wrapped"),
	}
}

func TestAbimodAttributeArrays(t *testing.T) {
	a := abimod(t)
	m := a.m
	types := []ck.AttributeType{ck.CKA_LABEL, ck.CKA_WRAP_TEMPLATE, ck.CKA_CLASS, ck.CKA_UNWRAP_TEMPLATE, ck.CKA_DERIVE_TEMPLATE}

	// The array arrives in three calls, laid out as abimod's compiler lays
	// out CK_ATTRIBUTE; abimod refuses values asked for under other types
	// than it gave.
	for _, hint := range []int{0, 1, 64} {
		t.Run(fmt.Sprintf("read/hint-%d", hint), func(t *testing.T) {
			s := a.session(t)
			res, err := m.GetAttributeValueHint(s, abiObject, types, hint)
			require.NoError(t, err, "abimod: %s", a.lastError())
			require.Len(t, res, len(types))
			assert.Equal(t, "abi-object", res[0].Text())

			require.NoError(t, res[1].Err, "hint %d", hint)
			wrap, err := res[1].Template()
			require.NoError(t, err)
			assert.Equal(t, abiWrapTemplate(), wrap)
			assert.Equal(t, ck.EncodeTemplate(abiWrapTemplate()), res[1].Value)

			require.NoError(t, res[3].Err)
			assert.NotNil(t, res[3].Value, "an empty array is a value")
			unwrap, err := res[3].Template()
			require.NoError(t, err)
			assert.Empty(t, unwrap)

			assert.ErrorIs(t, res[4].Err, ck.CKR_ATTRIBUTE_TYPE_INVALID)
			assert.Nil(t, res[4].Value)
		})
	}

	t.Run("element-long", func(t *testing.T) {
		a.fault(t, faultArrayLong)
		s := a.session(t)
		res, err := m.GetAttributeValue(s, abiObject, types[:3])
		require.NoError(t, err)
		require.ErrorIs(t, res[1].Err, pkcs11.ErrBadOutput)
		assert.Contains(t, res[1].Err.Error(), "CKA_WRAP_TEMPLATE")
		assert.Nil(t, res[1].Value)
		// The others are read all the same.
		assert.Equal(t, "abi-object", res[0].Text())
		require.NoError(t, res[2].Err)
	})

	t.Run("element-huge", func(t *testing.T) {
		a.fault(t, faultArrayHuge)
		s := a.session(t)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := m.GetAttributeValue(s, abiObject, []ck.AttributeType{ck.CKA_WRAP_TEMPLATE})
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		require.ErrorIs(t, res[0].Err, pkcs11.ErrBadOutput)
		assert.Contains(t, res[0].Err.Error(), "1073741824")
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
	})
}

// TestAbimodAlreadyInitialized shows that Open takes a module that
// another part of the process initialized (C_Initialize returns
// CKR_CRYPTOKI_ALREADY_INITIALIZED), and that Close then leaves C_Finalize
// to that other part.
func TestAbimodAlreadyInitialized(t *testing.T) {
	abimod(t)
	dir, err := os.MkdirTemp("", "pkcs11-abimod-")
	require.NoError(t, err)
	// Windows keeps a loaded DLL locked: there the copy may stay behind.
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "abimod-preinit"+abimodExt)
	require.NoError(t, os.WriteFile(path, abimods.image, 0o755))

	// The other part of the process loads the library itself and
	// initializes it without arguments.
	h, err := openHooks(path)
	require.NoError(t, err)
	defer closeHooks(h)
	sym := func(name string) uintptr {
		p, err := hookSym(h, name)
		require.NoError(t, err)
		require.NotZero(t, p, name)
		return p
	}
	initialize, finalize, count := sym("C_Initialize"), sym("C_Finalize"), sym("abimod_count")
	calls := func(what uintptr) uint64 {
		r, _, _ := purego.SyscallN(count, what)
		return ulongResult(r)
	}
	call := func(fn uintptr) ck.RV {
		r, _, _ := purego.SyscallN(fn, 0)
		return ck.RV(ulongResult(r))
	}
	require.Equal(t, ck.CKR_OK, call(initialize))

	m, err := pkcs11.Open(path)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), calls(countInitialize), "calls of C_Initialize")
	info, err := m.GetInfo()
	require.NoError(t, err)
	assert.Equal(t, "layout prover", info.LibraryDescription)
	require.NoError(t, m.Close())
	assert.Zero(t, calls(countFinalize), "calls of C_Finalize after Close")

	// The module is still initialized, for its initializer to finalize.
	assert.Equal(t, ck.CKR_OK, call(finalize))
	assert.Equal(t, uint64(1), calls(countFinalize))

	// Opened by the library alone, it is initialized and finalized by
	// the library.
	m, err = pkcs11.Open(path)
	require.NoError(t, err)
	require.NoError(t, m.Close())
	assert.Equal(t, uint64(3), calls(countInitialize), "calls of C_Initialize")
	assert.Equal(t, uint64(2), calls(countFinalize), "calls of C_Finalize")
	assert.Equal(t, ck.CKR_CRYPTOKI_NOT_INITIALIZED, call(finalize))
}

// abiMsg and friends are deterministic: check the helpers against the
// C definitions once, so that a mistake here is not read as one of the
// library.
func TestAbimodHelpers(t *testing.T) {
	assert.Equal(t, []byte("0123456789012"), abiMsg(0, 13, 0))
	assert.Equal(t, []byte("789"), abiMsg(7, 3, 0))
	assert.Equal(t, byte('0'^0x5A), abiCiphertext(0, 1)[0])
	sig := abiSignature()
	assert.Equal(t, []byte{0xFE, 0xFF, 0x00, 0x01}, sig[254:258])
	assert.True(t, slices.Equal(abiSeq(0xC0, 3), []byte{0xC0, 0xC1, 0xC2}))
}
