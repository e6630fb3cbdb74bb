package pkcs11

import (
	"unsafe"

	"github.com/purepkcs11/pkcs11/ck"
)

// GetInfo returns general information about the module (C_GetInfo).
func (m *Module) GetInfo() (ck.Info, error) {
	a := newArena(sizeInfo)
	defer a.free()
	rv := m.call1(fnGetInfo, uintptr(a.ptr(0)))
	if err := check(fnGetInfo, rv); err != nil {
		return ck.Info{}, err
	}
	b := a.buf
	return ck.Info{
		CryptokiVersion:    getVersion(b),
		ManufacturerID:     padded(b[offInfoManuf : offInfoManuf+32]),
		Flags:              getUL(b[offInfoFlags:]),
		LibraryDescription: padded(b[offInfoDesc : offInfoDesc+32]),
		LibraryVersion:     getVersion(b[offInfoLibVersion:]),
	}, nil
}

// GetSlotList returns the slots of the module (C_GetSlotList); with
// tokenPresent, only those that hold a token.
func (m *Module) GetSlotList(tokenPresent bool) ([]ck.SlotID, error) {
	var present uintptr
	if tokenPresent {
		present = 1
	}
	a := newArena(8)
	defer a.free()
	cnt := a.buf[:8]
	// The list can grow between the size query and the fetch (a reader
	// plugged in): retry a few times on CKR_BUFFER_TOO_SMALL.
	putUL(cnt, 0)
	rv := m.call3(fnGetSlotList, present, 0, uintptr(a.ptr(0)))
	if err := check(fnGetSlotList, rv); err != nil {
		return nil, err
	}
	n := getUL(cnt)
	for tries := 0; ; tries++ {
		if n > 1<<16 {
			return nil, badOutput(fnGetSlotList, "%d slots", n)
		}
		// One spare entry: some modules write the count's worth of
		// entries even when it grew.
		buf := make([]byte, (int(n)+1)*int(ulongSize))
		putUL(cnt, n)
		rv = m.call3(fnGetSlotList, present, uintptr(unsafe.Pointer(&buf[0])), uintptr(a.ptr(0)))
		got := getUL(cnt)
		if rv == ck.CKR_BUFFER_TOO_SMALL && tries < 3 {
			n = max(got, n+1)
			continue
		}
		if err := check(fnGetSlotList, rv); err != nil {
			return nil, err
		}
		if got > n {
			return nil, badOutput(fnGetSlotList, "%d slots in a list of %d", got, n)
		}
		ids := make([]ck.SlotID, got)
		for i := range ids {
			ids[i] = ck.SlotID(getUL(buf[i*int(ulongSize):]))
		}
		return ids, nil
	}
}

// GetSlotInfo returns information about a slot (C_GetSlotInfo).
func (m *Module) GetSlotInfo(slot ck.SlotID) (ck.SlotInfo, error) {
	if err := argsFit(fnGetSlotInfo, uint64(slot)); err != nil {
		return ck.SlotInfo{}, err
	}
	a := newArena(sizeSlotInfo)
	defer a.free()
	rv := m.call2(fnGetSlotInfo, uintptr(slot), uintptr(a.ptr(0)))
	if err := check(fnGetSlotInfo, rv); err != nil {
		return ck.SlotInfo{}, err
	}
	b := a.buf
	return ck.SlotInfo{
		SlotDescription: padded(b[:64]),
		ManufacturerID:  padded(b[offSlotManuf : offSlotManuf+32]),
		Flags:           ck.SlotFlags(getUL(b[offSlotFlags:])),
		HardwareVersion: getVersion(b[offSlotHW:]),
		FirmwareVersion: getVersion(b[offSlotFW:]),
	}, nil
}

// GetTokenInfo returns information about the token in a slot
// (C_GetTokenInfo).
func (m *Module) GetTokenInfo(slot ck.SlotID) (ck.TokenInfo, error) {
	if err := argsFit(fnGetTokenInfo, uint64(slot)); err != nil {
		return ck.TokenInfo{}, err
	}
	a := newArena(sizeTokenInfo)
	defer a.free()
	rv := m.call2(fnGetTokenInfo, uintptr(slot), uintptr(a.ptr(0)))
	if err := check(fnGetTokenInfo, rv); err != nil {
		return ck.TokenInfo{}, err
	}
	b := a.buf
	u := func(i int) uint64 { return getCount(b[offTokFlags+(i+1)*int(ulongSize):]) }
	ti := ck.TokenInfo{
		Label:              padded(b[:32]),
		ManufacturerID:     padded(b[offTokManuf : offTokManuf+32]),
		Model:              padded(b[offTokModel : offTokModel+16]),
		SerialNumber:       padded(b[offTokSerial : offTokSerial+16]),
		Flags:              ck.TokenFlags(getUL(b[offTokFlags:])),
		MaxSessionCount:    u(0),
		SessionCount:       u(1),
		MaxRwSessionCount:  u(2),
		RwSessionCount:     u(3),
		MaxPinLen:          u(4),
		MinPinLen:          u(5),
		TotalPublicMemory:  u(6),
		FreePublicMemory:   u(7),
		TotalPrivateMemory: u(8),
		FreePrivateMemory:  u(9),
		HardwareVersion:    getVersion(b[offTokHW:]),
		FirmwareVersion:    getVersion(b[offTokHW+2:]),
	}
	if ti.Flags&ck.CKF_CLOCK_ON_TOKEN != 0 {
		ti.UTCTime = padded(b[offTokUTC : offTokUTC+16])
	}
	return ti, nil
}

// GetMechanismList returns the mechanisms a slot's token supports
// (C_GetMechanismList).
func (m *Module) GetMechanismList(slot ck.SlotID) ([]ck.MechanismType, error) {
	if err := argsFit(fnGetMechanismList, uint64(slot)); err != nil {
		return nil, err
	}
	a := newArena(8)
	defer a.free()
	cnt := a.buf[:8]
	putUL(cnt, 0)
	rv := m.call3(fnGetMechanismList, uintptr(slot), 0, uintptr(a.ptr(0)))
	if err := check(fnGetMechanismList, rv); err != nil {
		return nil, err
	}
	n := getUL(cnt)
	if n > 1<<16 {
		return nil, badOutput(fnGetMechanismList, "%d mechanisms", n)
	}
	buf := make([]byte, (int(n)+1)*int(ulongSize))
	putUL(cnt, n)
	rv = m.call3(fnGetMechanismList, uintptr(slot), uintptr(unsafe.Pointer(&buf[0])), uintptr(a.ptr(0)))
	if err := check(fnGetMechanismList, rv); err != nil {
		return nil, err
	}
	got := getUL(cnt)
	if got > n {
		return nil, badOutput(fnGetMechanismList, "%d mechanisms in a list of %d", got, n)
	}
	list := make([]ck.MechanismType, got)
	for i := range list {
		list[i] = ck.MechanismType(getUL(buf[i*int(ulongSize):]))
	}
	return list, nil
}

// GetMechanismInfo returns what a slot's token can do with a mechanism
// (C_GetMechanismInfo).
func (m *Module) GetMechanismInfo(slot ck.SlotID, mech ck.MechanismType) (ck.MechanismInfo, error) {
	if err := argsFit(fnGetMechanismInfo, uint64(slot), uint64(mech)); err != nil {
		return ck.MechanismInfo{}, err
	}
	a := newArena(sizeMechInfo)
	defer a.free()
	rv := m.call3(fnGetMechanismInfo, uintptr(slot), uintptr(mech), uintptr(a.ptr(0)))
	if err := check(fnGetMechanismInfo, rv); err != nil {
		return ck.MechanismInfo{}, err
	}
	return decodeMechanismInfo(a.buf), nil
}

func decodeMechanismInfo(b []byte) ck.MechanismInfo {
	return ck.MechanismInfo{
		MinKeySize: getUL(b),
		MaxKeySize: getUL(b[offMechInfoMax:]),
		Flags:      ck.MechanismFlags(getUL(b[offMechInfoFlags:])),
	}
}

// InitToken initializes the token in a slot (C_InitToken), destroying
// every object on it. label is blank-padded to the 32 bytes of the C
// field and must not be longer.
func (m *Module) InitToken(slot ck.SlotID, soPIN []byte, label string) error {
	if len(label) > 32 {
		return errorf(fnInitToken, "label is %d bytes, at most 32 fit", len(label))
	}
	if err := argsFit(fnInitToken, uint64(slot), uint64(len(soPIN))); err != nil {
		return err
	}
	a := newArena(round8(len(soPIN)+1) + 32)
	defer a.free()
	pin := a.alloc(max(len(soPIN), 1))
	copy(a.buf[pin:], soPIN)
	lab := a.alloc(32)
	copy(a.buf[lab:lab+32], "                                ")
	copy(a.buf[lab:], label)
	rv := m.call4(fnInitToken, uintptr(slot), uintptr(a.ptr(pin)), uintptr(len(soPIN)), uintptr(a.ptr(lab)))
	return check(fnInitToken, rv)
}

// InitPIN sets the normal user's PIN (C_InitPIN). The session must be
// logged in as the security officer.
func (m *Module) InitPIN(s ck.SessionHandle, pin []byte) error {
	if err := argsFit(fnInitPIN, uint64(s), uint64(len(pin))); err != nil {
		return err
	}
	a := newArena(len(pin) + 8)
	defer a.free()
	p := a.alloc(max(len(pin), 1))
	copy(a.buf[p:], pin)
	return check(fnInitPIN, m.call3(fnInitPIN, uintptr(s), uintptr(a.ptr(p)), uintptr(len(pin))))
}

// SetPIN changes the PIN of the user logged in on the session (C_SetPIN).
func (m *Module) SetPIN(s ck.SessionHandle, oldPIN, newPIN []byte) error {
	if err := argsFit(fnSetPIN, uint64(s), uint64(len(oldPIN)), uint64(len(newPIN))); err != nil {
		return err
	}
	a := newArena(len(oldPIN) + len(newPIN) + 16)
	defer a.free()
	o := a.alloc(max(len(oldPIN), 1))
	copy(a.buf[o:], oldPIN)
	n := a.alloc(max(len(newPIN), 1))
	copy(a.buf[n:], newPIN)
	rv := m.call5(fnSetPIN, uintptr(s), uintptr(a.ptr(o)), uintptr(len(oldPIN)), uintptr(a.ptr(n)), uintptr(len(newPIN)))
	return check(fnSetPIN, rv)
}

// WaitForSlotEvent waits for a slot event (C_WaitForSlotEvent) and returns
// the slot. With ck.CKF_DONT_BLOCK it returns at once, with an error
// matching ck.CKR_NO_EVENT when nothing happened. A blocking wait holds an
// OS thread until an event or C_Finalize; package token offers a watcher
// with a context.
func (m *Module) WaitForSlotEvent(flags ck.WaitFlags) (ck.SlotID, error) {
	a := newArena(8)
	defer a.free()
	if flags&ck.CKF_DONT_BLOCK == 0 {
		m.inst.waiting.Add(1)
		defer m.inst.waiting.Add(-1)
	}
	rv := m.call3(fnWaitForSlotEvent, uintptr(flags), uintptr(a.ptr(0)), 0)
	if err := check(fnWaitForSlotEvent, rv); err != nil {
		return 0, err
	}
	return ck.SlotID(getUL(a.buf)), nil
}

// GetInterfaceList returns the interfaces the module offers
// (C_GetInterfaceList, PKCS#11 3.0). Modules of version 2.x do not
// export it; the error then matches ck.CKR_FUNCTION_NOT_SUPPORTED.
func (m *Module) GetInterfaceList() ([]ck.Interface, error) {
	fn, err := m.inst.lib.Lookup("C_GetInterfaceList")
	if err != nil {
		return nil, &Error{Func: "C_GetInterfaceList", RV: ck.CKR_FUNCTION_NOT_SUPPORTED}
	}
	a := newArena(8)
	defer a.free()
	putUL(a.buf, 0)
	r, _, _ := rawCall(fn, 0, uintptr(a.ptr(0)))
	if err := check(fnGetInterfaceList, ck.RV(uint64(r)&ulongMask)); err != nil {
		return nil, err
	}
	n := getUL(a.buf)
	if n > 64 {
		return nil, badOutput(fnGetInterfaceList, "%d interfaces", n)
	}
	buf := make([]byte, max(int(n)*sizeInterface, 1))
	putUL(a.buf, n)
	r, _, _ = rawCall(fn, uintptr(unsafe.Pointer(&buf[0])), uintptr(a.ptr(0)))
	if err := check(fnGetInterfaceList, ck.RV(uint64(r)&ulongMask)); err != nil {
		return nil, err
	}
	got := getUL(a.buf)
	if got > n {
		return nil, badOutput(fnGetInterfaceList, "%d interfaces in a list of %d", got, n)
	}
	out := make([]ck.Interface, got)
	for i := range out {
		e := buf[i*sizeInterface:]
		out[i].Name = cstring(getPtr(e), 256)
		if list := getPtr(e[offIfaceList:]); list != 0 {
			out[i].Version = getVersion(cmem(list, 2))
		}
		out[i].Flags = ck.InterfaceFlags(getUL(e[offIfaceFlags:]))
	}
	return out, nil
}

// GetInterface returns the interface the module offers under name and
// version (C_GetInterface, PKCS#11 3.0); an empty name and nil version
// ask for the module's default. The library keeps using the interface it
// chose at Open: this only reports.
func (m *Module) GetInterface(name string, version *ck.Version, flags ck.InterfaceFlags) (ck.Interface, error) {
	fn, err := m.inst.lib.Lookup("C_GetInterface")
	if err != nil {
		return ck.Interface{}, &Error{Func: "C_GetInterface", RV: ck.CKR_FUNCTION_NOT_SUPPORTED}
	}
	a := newArena(round8(len(name)+1) + 16)
	defer a.free()
	var pName, pVer uintptr
	if name != "" {
		pName = a.bytes(append([]byte(name), 0))
	}
	if version != nil {
		pVer = a.bytes([]byte{version.Major, version.Minor})
	}
	out := a.alloc(8)
	r, _, _ := rawCall(fn, pName, pVer, uintptr(a.ptr(out)), uintptr(flags))
	if err := check(fnGetInterface, ck.RV(uint64(r)&ulongMask)); err != nil {
		return ck.Interface{}, err
	}
	p := getPtr(a.buf[out:])
	if p == 0 {
		return ck.Interface{}, badOutput(fnGetInterface, "NULL interface")
	}
	e := cmem(p, sizeInterface)
	iface := ck.Interface{Name: cstring(getPtr(e), 256), Flags: ck.InterfaceFlags(getUL(e[offIfaceFlags:]))}
	if list := getPtr(e[offIfaceList:]); list != 0 {
		iface.Version = getVersion(cmem(list, 2))
	}
	return iface, nil
}
