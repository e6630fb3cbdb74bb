package pkcs11

import (
	"github.com/purepkcs11/pkcs11/ck"
)

// OpenSession opens a session with the token in a slot (C_OpenSession).
// CKF_SERIAL_SESSION is always set, as the specification requires; add
// ck.CKF_RW_SESSION for a read-write session. No notification callback is
// registered.
func (m *Module) OpenSession(slot ck.SlotID, flags ck.SessionFlags) (ck.SessionHandle, error) {
	flags |= ck.CKF_SERIAL_SESSION
	if err := argsFit(fnOpenSession, uint64(slot), uint64(flags)); err != nil {
		return 0, err
	}
	a := newArena(8)
	defer a.free()
	rv := m.call5(fnOpenSession, uintptr(slot), uintptr(flags), 0, 0, uintptr(a.ptr(0)))
	if err := check(fnOpenSession, rv); err != nil {
		return 0, err
	}
	return ck.SessionHandle(getUL(a.buf)), nil
}

// CloseSession closes a session (C_CloseSession).
func (m *Module) CloseSession(s ck.SessionHandle) error {
	if err := argsFit(fnCloseSession, uint64(s)); err != nil {
		return err
	}
	rv := m.call1(fnCloseSession, uintptr(s))
	if rv == ck.CKR_OK || rv == ck.CKR_SESSION_HANDLE_INVALID {
		m.inst.dropParams(s, false)
	}
	return check(fnCloseSession, rv)
}

// CloseAllSessions closes every session the application has with a slot's
// token (C_CloseAllSessions), which also logs the token out.
func (m *Module) CloseAllSessions(slot ck.SlotID) error {
	if err := argsFit(fnCloseAllSessions, uint64(slot)); err != nil {
		return err
	}
	rv := m.call1(fnCloseAllSessions, uintptr(slot))
	if rv == ck.CKR_OK {
		// The sessions' slots are not recorded: forget every kept
		// parameter, which at worst drops one of another slot's session.
		m.inst.dropParams(0, true)
	}
	return check(fnCloseAllSessions, rv)
}

// GetSessionInfo returns a session's slot, state and flags
// (C_GetSessionInfo).
func (m *Module) GetSessionInfo(s ck.SessionHandle) (ck.SessionInfo, error) {
	if err := argsFit(fnGetSessionInfo, uint64(s)); err != nil {
		return ck.SessionInfo{}, err
	}
	a := newArena(sizeSessionInfo)
	defer a.free()
	rv := m.call2(fnGetSessionInfo, uintptr(s), uintptr(a.ptr(0)))
	if err := check(fnGetSessionInfo, rv); err != nil {
		return ck.SessionInfo{}, err
	}
	b := a.buf
	return ck.SessionInfo{
		SlotID:      ck.SlotID(getUL(b)),
		State:       ck.SessionState(getUL(b[offSessState:])),
		Flags:       ck.SessionFlags(getUL(b[offSessFlags:])),
		DeviceError: getUL(b[offSessErr:]),
	}, nil
}

// GetOperationState returns the state of the session's active
// operations, as an opaque blob (C_GetOperationState).
func (m *Module) GetOperationState(s ck.SessionHandle) ([]byte, error) {
	if err := argsFit(fnGetOperationState, uint64(s)); err != nil {
		return nil, err
	}
	a := newArena(8)
	defer a.free()
	return fetch(fnGetOperationState, a.buf[:8], func(out []byte) ck.RV {
		return m.call3(fnGetOperationState, uintptr(s), uintptr(outPtr(out)), uintptr(a.ptr(0)))
	})
}

// SetOperationState restores operations saved by GetOperationState
// (C_SetOperationState). The keys may be 0 when the state needs none.
func (m *Module) SetOperationState(s ck.SessionHandle, state []byte, encKey, authKey ck.ObjectHandle) error {
	if err := argsFit(fnSetOperationState, uint64(s), uint64(len(state)), uint64(encKey), uint64(authKey)); err != nil {
		return err
	}
	rv := m.call5(fnSetOperationState, uintptr(s), uintptr(bytesPtr(state)), uintptr(len(state)),
		uintptr(encKey), uintptr(authKey))
	return check(fnSetOperationState, rv)
}

// Login logs a user into the token (C_Login). Login state belongs to the
// token: every session of the application is then logged in. A nil PIN
// asks the token for its protected authentication path (PIN pad), if it
// has one. The PIN is copied into memory this library clears after the
// call; the caller owns pin and should clear it when done.
func (m *Module) Login(s ck.SessionHandle, user ck.UserType, pin []byte) error {
	if err := argsFit(fnLogin, uint64(s), uint64(user), uint64(len(pin))); err != nil {
		return err
	}
	if pin == nil {
		return check(fnLogin, m.call4(fnLogin, uintptr(s), uintptr(user), 0, 0))
	}
	a := newArena(len(pin) + 8)
	defer a.free()
	p := a.alloc(max(len(pin), 1))
	copy(a.buf[p:], pin)
	rv := m.call4(fnLogin, uintptr(s), uintptr(user), uintptr(a.ptr(p)), uintptr(len(pin)))
	clear(a.buf[p : p+len(pin)])
	return check(fnLogin, rv)
}

// LoginUser logs in a named user (C_LoginUser, PKCS#11 3.0).
func (m *Module) LoginUser(s ck.SessionHandle, user ck.UserType, pin []byte, username string) error {
	if err := argsFit(fnLoginUser, uint64(s), uint64(user), uint64(len(pin)), uint64(len(username))); err != nil {
		return err
	}
	a := newArena(round8(len(pin)+1) + len(username) + 8)
	defer a.free()
	p := a.alloc(max(len(pin), 1))
	copy(a.buf[p:], pin)
	u := a.alloc(max(len(username), 1))
	copy(a.buf[u:], username)
	rv := m.call6(fnLoginUser, uintptr(s), uintptr(user), uintptr(a.ptr(p)), uintptr(len(pin)),
		uintptr(a.ptr(u)), uintptr(len(username)))
	clear(a.buf[p : p+len(pin)])
	return check(fnLoginUser, rv)
}

// Logout logs the token out (C_Logout).
func (m *Module) Logout(s ck.SessionHandle) error {
	if err := argsFit(fnLogout, uint64(s)); err != nil {
		return err
	}
	return check(fnLogout, m.call1(fnLogout, uintptr(s)))
}

// SessionCancel cancels the session's active operations of the kinds in
// flags, such as ck.CKF_SIGN|ck.CKF_DECRYPT (C_SessionCancel, PKCS#11
// 3.0).
func (m *Module) SessionCancel(s ck.SessionHandle, flags ck.MechanismFlags) error {
	if err := argsFit(fnSessionCancel, uint64(s), uint64(flags)); err != nil {
		return err
	}
	return check(fnSessionCancel, m.call2(fnSessionCancel, uintptr(s), uintptr(flags)))
}

// GetFunctionStatus is a legacy function (C_GetFunctionStatus); modules
// answer CKR_FUNCTION_NOT_PARALLEL.
func (m *Module) GetFunctionStatus(s ck.SessionHandle) error {
	if err := argsFit(fnGetFunctionStatus, uint64(s)); err != nil {
		return err
	}
	return check(fnGetFunctionStatus, m.call1(fnGetFunctionStatus, uintptr(s)))
}

// CancelFunction is a legacy function (C_CancelFunction); modules answer
// CKR_FUNCTION_NOT_PARALLEL.
func (m *Module) CancelFunction(s ck.SessionHandle) error {
	if err := argsFit(fnCancelFunction, uint64(s)); err != nil {
		return err
	}
	return check(fnCancelFunction, m.call1(fnCancelFunction, uintptr(s)))
}

// GetSessionValidationFlags returns a session's validation flags of the
// given type (C_GetSessionValidationFlags, PKCS#11 3.2).
func (m *Module) GetSessionValidationFlags(s ck.SessionHandle, typ uint64) (uint64, error) {
	if err := argsFit(fnGetSessionValidationFlags, uint64(s), typ); err != nil {
		return 0, err
	}
	a := newArena(8)
	defer a.free()
	rv := m.call3(fnGetSessionValidationFlags, uintptr(s), uintptr(typ), uintptr(a.ptr(0)))
	if err := check(fnGetSessionValidationFlags, rv); err != nil {
		return 0, err
	}
	return getUL(a.buf), nil
}
