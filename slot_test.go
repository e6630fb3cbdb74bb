package pkcs11_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

func TestSlotsAndTokens(t *testing.T) {
	m := softhsm(t)
	all, err := m.GetSlotList(false)
	require.NoError(t, err)
	present, err := m.GetSlotList(true)
	require.NoError(t, err)
	// Two initialized tokens and SoftHSM's spare, uninitialized slot.
	require.Len(t, all, 3)
	require.Len(t, present, 3)

	labels := map[string]bool{}
	for _, s := range all {
		si, err := m.GetSlotInfo(s)
		require.NoError(t, err)
		assert.Equal(t, "SoftHSM project", si.ManufacturerID)
		assert.NotZero(t, si.Flags&ck.CKF_TOKEN_PRESENT, "slot %d: %v", s, si.Flags)
		ti, err := m.GetTokenInfo(s)
		require.NoError(t, err)
		assert.Equal(t, "SoftHSM project", ti.ManufacturerID)
		assert.Equal(t, "SoftHSM v2", ti.Model)
		labels[ti.Label] = ti.Flags&ck.CKF_TOKEN_INITIALIZED != 0
		if ti.Flags&ck.CKF_TOKEN_INITIALIZED != 0 {
			assert.Len(t, ti.SerialNumber, 16)
			assert.NotZero(t, ti.Flags&ck.CKF_LOGIN_REQUIRED)
			assert.NotZero(t, ti.Flags&ck.CKF_RNG)
			assert.Equal(t, uint64(ck.CK_EFFECTIVELY_INFINITE), ti.MaxSessionCount)
			assert.Equal(t, uint64(4), ti.MinPinLen)
			assert.Equal(t, uint64(255), ti.MaxPinLen)
		}
	}
	assert.True(t, labels[tokAlpha])
	assert.True(t, labels[tokBeta])

	// Serials match what softhsm2-util reported.
	for _, label := range []string{tokAlpha, tokBeta} {
		tok, slot := token(t, m, label)
		ti, err := m.GetTokenInfo(slot)
		require.NoError(t, err)
		assert.Equal(t, tok.Serial, ti.SerialNumber)
	}
}

func TestMechanisms(t *testing.T) {
	m := softhsm(t)
	_, slot := token(t, m, tokAlpha)
	list, err := m.GetMechanismList(slot)
	require.NoError(t, err)
	assert.Greater(t, len(list), 40)
	for _, want := range []ck.MechanismType{ck.CKM_RSA_PKCS, ck.CKM_ECDSA, ck.CKM_EDDSA, ck.CKM_AES_GCM, ck.CKM_SHA256_HMAC} {
		assert.Contains(t, list, want)
	}
	info, err := m.GetMechanismInfo(slot, ck.CKM_RSA_PKCS_KEY_PAIR_GEN)
	require.NoError(t, err)
	assert.LessOrEqual(t, info.MinKeySize, uint64(1024))
	assert.GreaterOrEqual(t, info.MaxKeySize, uint64(4096))
	assert.NotZero(t, info.Flags&ck.CKF_GENERATE_KEY_PAIR)
	info, err = m.GetMechanismInfo(slot, ck.CKM_ECDSA)
	require.NoError(t, err)
	assert.NotZero(t, info.Flags&ck.CKF_SIGN)
	assert.NotZero(t, info.Flags&ck.CKF_VERIFY)

	_, err = m.GetMechanismInfo(slot, ck.CKM_VENDOR_DEFINED+0x1234)
	assert.ErrorIs(t, err, ck.CKR_MECHANISM_INVALID)
	_, err = m.GetMechanismList(0xdead)
	assert.ErrorIs(t, err, ck.CKR_SLOT_ID_INVALID)
	_, err = m.GetTokenInfo(0xdead)
	assert.ErrorIs(t, err, ck.CKR_SLOT_ID_INVALID)
	_, err = m.GetSlotInfo(0xdead)
	assert.ErrorIs(t, err, ck.CKR_SLOT_ID_INVALID)
}

// TestInitToken initializes SoftHSM's spare slot through the library,
// sets the user PIN as SO, and changes it as the user.
func TestInitToken(t *testing.T) {
	m := softhsm(t)
	slots, err := m.GetSlotList(true)
	require.NoError(t, err)
	var free ck.SlotID
	found := false
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		require.NoError(t, err)
		if ti.Flags&ck.CKF_TOKEN_INITIALIZED == 0 {
			free, found = s, true
		}
	}
	require.True(t, found, "no free slot")

	so := []byte("so-secret")
	err = m.InitToken(free, so, "a label that is far too long for the field")
	assert.ErrorContains(t, err, "at most 32")
	require.NoError(t, m.InitToken(free, so, "gamma"))
	// SoftHSM gives the token a new slot ID once it is initialized.
	var slot ck.SlotID
	slots, err = m.GetSlotList(true)
	require.NoError(t, err)
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		require.NoError(t, err)
		if ti.Label == "gamma" {
			slot = s
			assert.Zero(t, ti.Flags&ck.CKF_USER_PIN_INITIALIZED)
		}
	}
	require.NotZero(t, slot)

	s, err := m.OpenSession(slot, ck.CKF_RW_SESSION)
	require.NoError(t, err)
	defer m.CloseSession(s)
	require.NoError(t, m.Login(s, ck.CKU_SO, so))
	require.NoError(t, m.InitPIN(s, []byte("first")))
	require.NoError(t, m.Logout(s))
	require.NoError(t, m.Login(s, ck.CKU_USER, []byte("first")))
	require.NoError(t, m.SetPIN(s, []byte("first"), []byte("second")))
	require.NoError(t, m.Logout(s))
	assert.ErrorIs(t, m.Login(s, ck.CKU_USER, []byte("first")), ck.CKR_PIN_INCORRECT)
	require.NoError(t, m.Login(s, ck.CKU_USER, []byte("second")))
	ti, err := m.GetTokenInfo(slot)
	require.NoError(t, err)
	assert.NotZero(t, ti.Flags&ck.CKF_USER_PIN_INITIALIZED)
}

func TestSessions(t *testing.T) {
	m := softhsm(t)
	tok, slot := token(t, m, tokBeta)
	ro, err := m.OpenSession(slot, 0)
	require.NoError(t, err)
	rw, err := m.OpenSession(slot, ck.CKF_RW_SESSION)
	require.NoError(t, err)

	info, err := m.GetSessionInfo(ro)
	require.NoError(t, err)
	assert.Equal(t, slot, info.SlotID)
	assert.Equal(t, ck.CKS_RO_PUBLIC_SESSION, info.State)
	assert.Equal(t, ck.CKF_SERIAL_SESSION, info.Flags)
	info, err = m.GetSessionInfo(rw)
	require.NoError(t, err)
	assert.Equal(t, ck.CKS_RW_PUBLIC_SESSION, info.State)
	assert.Equal(t, ck.CKF_SERIAL_SESSION|ck.CKF_RW_SESSION, info.Flags)

	// A wrong PIN is reported as such, with no PIN in the message.
	wrong := []byte("0000")
	err = m.Login(ro, ck.CKU_USER, wrong)
	require.ErrorIs(t, err, ck.CKR_PIN_INCORRECT)
	var pe *pkcs11.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "C_Login", pe.Func)
	assert.Equal(t, "pkcs11: C_Login: CKR_PIN_INCORRECT", err.Error())

	// Login state belongs to the token: logging in on one session logs in
	// every session of the application.
	require.NoError(t, m.Login(ro, ck.CKU_USER, tok.PIN))
	info, err = m.GetSessionInfo(rw)
	require.NoError(t, err)
	assert.Equal(t, ck.CKS_RW_USER_FUNCTIONS, info.State)
	assert.ErrorIs(t, m.Login(rw, ck.CKU_USER, tok.PIN), ck.CKR_USER_ALREADY_LOGGED_IN)
	require.NoError(t, m.Logout(rw))
	info, err = m.GetSessionInfo(ro)
	require.NoError(t, err)
	assert.Equal(t, ck.CKS_RO_PUBLIC_SESSION, info.State)

	require.NoError(t, m.CloseSession(ro))
	_, err = m.GetSessionInfo(ro)
	assert.ErrorIs(t, err, ck.CKR_SESSION_HANDLE_INVALID)
	require.NoError(t, m.CloseAllSessions(slot))
	_, err = m.GetSessionInfo(rw)
	assert.ErrorIs(t, err, ck.CKR_SESSION_HANDLE_INVALID)
	assert.ErrorIs(t, m.CloseSession(0xdead), ck.CKR_SESSION_HANDLE_INVALID)

	// Legacy functions answer as the specification says.
	s, err := m.OpenSession(slot, 0)
	require.NoError(t, err)
	defer m.CloseSession(s)
	assert.ErrorIs(t, m.GetFunctionStatus(s), ck.CKR_FUNCTION_NOT_PARALLEL)
	assert.ErrorIs(t, m.CancelFunction(s), ck.CKR_FUNCTION_NOT_PARALLEL)

	// SoftHSM has no slot events: CKR_NO_EVENT without blocking, or not
	// supported.
	_, err = m.WaitForSlotEvent(ck.CKF_DONT_BLOCK)
	assert.Error(t, err)
	assert.True(t, isRV(err, ck.CKR_NO_EVENT) || isRV(err, ck.CKR_FUNCTION_NOT_SUPPORTED), "%v", err)

	v, err := m.GetFunctionList()
	require.NoError(t, err)
	assert.Equal(t, m.Interface().Version, v)
	_ = bytes.Equal
}
