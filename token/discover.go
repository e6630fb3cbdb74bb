package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// Snapshot is what a module showed at one moment: its CK_INFO and
// interface, and every slot with its CK_SLOT_INFO, the token in it with its
// CK_TOKEN_INFO and, if asked for, the token's mechanisms. [Discover]
// makes one.
//
// A Snapshot is not updated: call Discover again, or [Token.Refresh] for
// one token. It is safe for concurrent reads; Token.Refresh writes to the
// token it is called on.
type Snapshot struct {
	// Info is the module's CK_INFO (C_GetInfo).
	Info ck.Info
	// Interface is the interface the library uses to talk to the module
	// (pkcs11.Module.Interface).
	Interface ck.Interface
	// ModulePath is the file the module was loaded from
	// (pkcs11.Module.Path), for the module-name and module-path
	// attributes of URIs.
	ModulePath string
	// Slots are the module's slots in the order C_GetSlotList returned
	// them: only those with a token, unless IncludeEmptySlots was given.
	Slots []Slot
	// Time is when the discovery started.
	Time time.Time
}

// Slot is one slot of a [Snapshot].
type Slot struct {
	// ID is the slot's ID. Modules may renumber slots: SoftHSM gives a
	// token a new slot ID when it is initialized, and readers come and go.
	// Find tokens by label or serial, not by slot ID.
	ID ck.SlotID
	// Info is the slot's CK_SLOT_INFO; zero when Err says C_GetSlotInfo
	// failed.
	Info ck.SlotInfo
	// Token is the token in the slot, or nil when the slot holds none or
	// its CK_TOKEN_INFO could not be read (then Err says why).
	Token *Token
	// Err records what failed while reading this slot (C_GetSlotInfo,
	// C_GetTokenInfo, or the mechanisms), so that one broken slot does not
	// hide the others. A token whose mechanisms could not be read is still
	// in Token, without mechanisms.
	Err error
}

// TokenPresent reports whether the slot holds a token (CKF_TOKEN_PRESENT).
func (s *Slot) TokenPresent() bool { return s.Info.Flags&ck.CKF_TOKEN_PRESENT != 0 }

// Removable reports whether the slot's token can be removed
// (CKF_REMOVABLE_DEVICE), as a smart card from a reader.
func (s *Slot) Removable() bool { return s.Info.Flags&ck.CKF_REMOVABLE_DEVICE != 0 }

// Hardware reports whether the slot is a hardware slot (CKF_HW_SLOT)
// rather than one implemented in software.
func (s *Slot) Hardware() bool { return s.Info.Flags&ck.CKF_HW_SLOT != 0 }

// Token is a token found in a slot: its CK_TOKEN_INFO and, if discovery was
// asked for them, its mechanisms.
type Token struct {
	// SlotID is the slot the token was found in.
	SlotID ck.SlotID
	// Info is the token's CK_TOKEN_INFO. Text fields are trimmed of their
	// blank padding.
	Info ck.TokenInfo
	// Mechanisms are the token's mechanisms in the order
	// C_GetMechanismList returned them, each with its CK_MECHANISM_INFO;
	// nil unless discovery was given WithMechanisms.
	Mechanisms []Mechanism
}

// Mechanism is a mechanism a token supports and what it can do with it.
type Mechanism struct {
	Type ck.MechanismType
	// Info is the mechanism's CK_MECHANISM_INFO; zero when Err is set.
	Info ck.MechanismInfo
	// Err is the error of C_GetMechanismInfo for this mechanism, if any.
	Err error
}

// Option configures [Discover]. Every Option is also a [WatchOption]:
// it then configures the discoveries the watcher makes.
type Option struct {
	apply func(*discoverConfig)
}

type discoverConfig struct {
	ctx        context.Context // nil: never stops
	emptySlots bool
	mechanisms bool
}

// IncludeEmptySlots makes Discover list every slot, also those without a
// token (an empty card reader), instead of only the slots holding one.
func IncludeEmptySlots() Option {
	return Option{func(c *discoverConfig) { c.emptySlots = true }}
}

// WithMechanisms makes Discover read each token's mechanisms
// (C_GetMechanismList) and what each can do (C_GetMechanismInfo).
func WithMechanisms() Option {
	return Option{func(c *discoverConfig) { c.mechanisms = true }}
}

// Discover reads the configuration of module m: its CK_INFO and interface,
// its slots (those holding a token, or all of them with
// IncludeEmptySlots), each slot's CK_SLOT_INFO, the CK_TOKEN_INFO of the
// token in it and, WithMechanisms, each token's mechanisms.
//
// Each C function is called once per slot or mechanism, in order, and
// nothing twice. An error reading one slot or token is recorded in that
// [Slot]'s Err and discovery goes on with the next; Discover fails only
// when C_GetInfo or C_GetSlotList fails.
func Discover(m *pkcs11.Module, opts ...Option) (*Snapshot, error) {
	return DiscoverContext(context.Background(), m, opts...)
}

// DiscoverContext is Discover that stops when ctx ends: it checks ctx
// before each slot and each mechanism, and then returns ctx's error
// (wrapped) and no snapshot. A call into the module that has begun is
// not interrupted.
func DiscoverContext(ctx context.Context, m *pkcs11.Module, opts ...Option) (*Snapshot, error) {
	c := discoverConfig{ctx: ctx}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(&c)
		}
	}
	return discover(m, &c)
}

// stopped returns the error of c's context once it has ended.
func (c *discoverConfig) stopped() error {
	if c.ctx == nil {
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("token: discovery stopped: %w", err)
	}
	return nil
}

func discover(m *pkcs11.Module, c *discoverConfig) (*Snapshot, error) {
	if err := c.stopped(); err != nil {
		return nil, err
	}
	s := &Snapshot{Interface: m.Interface(), ModulePath: m.Path(), Time: time.Now()}
	info, err := m.GetInfo()
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	s.Info = info
	ids, err := m.GetSlotList(!c.emptySlots)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}

	s.Slots = make([]Slot, len(ids))
	for i, id := range ids {
		if err := c.stopped(); err != nil {
			return nil, err
		}
		readSlot(m, c, &s.Slots[i], id)
	}
	if err := c.stopped(); err != nil {
		return nil, err
	}
	return s, nil
}

// readSlot fills sl with what the module says about slot id.
func readSlot(m *pkcs11.Module, c *discoverConfig, sl *Slot, id ck.SlotID) {
	sl.ID = id
	si, err := m.GetSlotInfo(id)
	if err != nil {
		sl.Err = slotErr(id, err)
		return
	}
	sl.Info = si
	if !sl.TokenPresent() {
		return
	}

	ti, err := m.GetTokenInfo(id)
	if err != nil {
		sl.Err = slotErr(id, err)
		return
	}
	sl.Token = &Token{SlotID: id, Info: ti}
	if c.mechanisms {
		sl.Token.Mechanisms, err = readMechanisms(m, c, id)
		if err != nil {
			sl.Err = slotErr(id, err)
		}
	}
}

func slotErr(id ck.SlotID, err error) error {
	return fmt.Errorf("token: slot %d: %w", id, err)
}

// readMechanisms lists a token's mechanisms with their information.
func readMechanisms(m *pkcs11.Module, c *discoverConfig, id ck.SlotID) ([]Mechanism, error) {
	types, err := m.GetMechanismList(id)
	if err != nil {
		return nil, err
	}
	mechs := make([]Mechanism, len(types))
	for i, t := range types {
		if c.stopped() != nil {
			return mechs[:i], nil // discover returns the context's error
		}
		mechs[i].Type = t
		mechs[i].Info, mechs[i].Err = m.GetMechanismInfo(id, t)
	}
	return mechs, nil
}

// Slot returns the slot with ID id.
func (s *Snapshot) Slot(id ck.SlotID) (*Slot, error) {
	for i := range s.Slots {
		if s.Slots[i].ID == id {
			return &s.Slots[i], nil
		}
	}
	return nil, fmt.Errorf("token: no slot %d", id)
}

// Errors returns the errors recorded in the slots, joined, or nil when
// every slot was read without one.
func (s *Snapshot) Errors() error {
	var errs []error
	for i := range s.Slots {
		if s.Slots[i].Err != nil {
			errs = append(errs, s.Slots[i].Err)
		}
	}
	return errors.Join(errs...)
}

// Clone returns a deep copy of s, whose tokens can be refreshed without
// touching s.
func (s *Snapshot) Clone() *Snapshot {
	c := *s
	c.Slots = slices.Clone(s.Slots)
	for i := range c.Slots {
		if t := c.Slots[i].Token; t != nil {
			tc := *t
			tc.Mechanisms = slices.Clone(t.Mechanisms)
			c.Slots[i].Token = &tc
		}
	}
	return &c
}

// PINState is the state of a PIN as the token's flags tell it.
type PINState struct {
	// CountLow: a wrong PIN was entered since the last successful login
	// (CKF_USER_PIN_COUNT_LOW, CKF_SO_PIN_COUNT_LOW).
	CountLow bool
	// FinalTry: one more wrong PIN locks it (CKF_USER_PIN_FINAL_TRY,
	// CKF_SO_PIN_FINAL_TRY).
	FinalTry bool
	// Locked: the PIN is locked (CKF_USER_PIN_LOCKED, CKF_SO_PIN_LOCKED).
	Locked bool
	// ToBeChanged: the PIN is the initial or an expired one and must be
	// changed (CKF_USER_PIN_TO_BE_CHANGED, CKF_SO_PIN_TO_BE_CHANGED).
	ToBeChanged bool
}

// OK reports whether none of the state's flags is set.
func (p PINState) OK() bool { return p == PINState{} }

// String returns "ok", or the set flags among "count low", "final try",
// "locked" and "to be changed", joined by ", ".
func (p PINState) String() string {
	if p.OK() {
		return "ok"
	}
	var parts []string
	for _, f := range []struct {
		set  bool
		name string
	}{{p.CountLow, "count low"}, {p.FinalTry, "final try"}, {p.Locked, "locked"}, {p.ToBeChanged, "to be changed"}} {
		if f.set {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, ", ")
}

// UserPIN returns the state of the normal user's PIN.
func (t *Token) UserPIN() PINState {
	f := t.Info.Flags
	return PINState{
		CountLow:    f&ck.CKF_USER_PIN_COUNT_LOW != 0,
		FinalTry:    f&ck.CKF_USER_PIN_FINAL_TRY != 0,
		Locked:      f&ck.CKF_USER_PIN_LOCKED != 0,
		ToBeChanged: f&ck.CKF_USER_PIN_TO_BE_CHANGED != 0,
	}
}

// SOPIN returns the state of the security officer's PIN.
func (t *Token) SOPIN() PINState {
	f := t.Info.Flags
	return PINState{
		CountLow:    f&ck.CKF_SO_PIN_COUNT_LOW != 0,
		FinalTry:    f&ck.CKF_SO_PIN_FINAL_TRY != 0,
		Locked:      f&ck.CKF_SO_PIN_LOCKED != 0,
		ToBeChanged: f&ck.CKF_SO_PIN_TO_BE_CHANGED != 0,
	}
}

// Initialized reports whether the token has been initialized
// (CKF_TOKEN_INITIALIZED). SoftHSM always shows one token that is not: the
// free slot to initialize the next one in.
func (t *Token) Initialized() bool { return t.Info.Flags&ck.CKF_TOKEN_INITIALIZED != 0 }

// LoginRequired reports whether some functions need a login
// (CKF_LOGIN_REQUIRED).
func (t *Token) LoginRequired() bool { return t.Info.Flags&ck.CKF_LOGIN_REQUIRED != 0 }

// UserPINInitialized reports whether the normal user's PIN has been set
// (CKF_USER_PIN_INITIALIZED).
func (t *Token) UserPINInitialized() bool { return t.Info.Flags&ck.CKF_USER_PIN_INITIALIZED != 0 }

// ProtectedAuthenticationPath reports whether the user logs in through a
// path outside the library, such as a PIN pad on the reader
// (CKF_PROTECTED_AUTHENTICATION_PATH): C_Login is then called with no PIN.
func (t *Token) ProtectedAuthenticationPath() bool {
	return t.Info.Flags&ck.CKF_PROTECTED_AUTHENTICATION_PATH != 0
}

// WriteProtected reports whether the token is read-only
// (CKF_WRITE_PROTECTED).
func (t *Token) WriteProtected() bool { return t.Info.Flags&ck.CKF_WRITE_PROTECTED != 0 }

// Mechanism returns the information of mechanism typ, and false when the
// token's mechanisms were not discovered, the token lacks typ, or its
// C_GetMechanismInfo failed.
func (t *Token) Mechanism(typ ck.MechanismType) (ck.MechanismInfo, bool) {
	for _, m := range t.Mechanisms {
		if m.Type == typ && m.Err == nil {
			return m.Info, true
		}
	}
	return ck.MechanismInfo{}, false
}

// Supports reports whether the token has mechanism typ with every flag of
// flags (such as ck.CKF_SIGN). It needs the mechanisms: see
// WithMechanisms.
func (t *Token) Supports(typ ck.MechanismType, flags ck.MechanismFlags) bool {
	info, ok := t.Mechanism(typ)
	return ok && info.Flags&flags == flags
}

// Refresh reads the token's CK_TOKEN_INFO again (C_GetTokenInfo) into
// t.Info, to see its current PIN state, sessions or label. It fails when
// the token was removed or its slot renumbered (then discover again).
// Refresh writes to t: it must not run while other goroutines read t.
func (t *Token) Refresh(m *pkcs11.Module) error {
	ti, err := m.GetTokenInfo(t.SlotID)
	if err != nil {
		return slotErr(t.SlotID, err)
	}
	t.Info = ti
	return nil
}

// URI returns a PKCS#11 URI that names the token by its label,
// manufacturer, model and serial number.
func (t *Token) URI() *URI {
	u := &URI{
		Token:        t.Info.Label,
		Manufacturer: t.Info.ManufacturerID,
		Model:        t.Info.Model,
		Serial:       t.Info.SerialNumber,
	}
	u.markPresent(attrToken, attrManufacturer, attrModel, attrSerial)
	return u
}

// String describes the token for people: its label, model and serial,
// and its slot.
func (t *Token) String() string {
	return fmt.Sprintf("%q (%s %s, serial %q) in slot %d", t.Info.Label,
		t.Info.ManufacturerID, t.Info.Model, t.Info.SerialNumber, t.SlotID)
}
