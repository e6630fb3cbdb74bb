//go:build darwin || freebsd || linux || netbsd

package token_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/cbuild"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/token"
)

// slotmod is testdata/token/slotmod.c, built once per test binary, with
// the hooks that change its slots.
type slotmod struct {
	path                                 string
	reset, insert, remove, flags, notify uintptr
	waiters                              uintptr
}

var (
	slotmodOnce sync.Once
	slotmodLib  *slotmod
	slotmodErr  error
)

// buildSlotmod builds and loads slotmod.c and looks up its hooks.
// cbuild.BuildAndLoad keeps the library loaded when the tests close every
// Module, so that a thread still returning from C_WaitForSlotEvent finds
// its code in place.
func buildSlotmod() (*slotmod, error) {
	s := &slotmod{}
	var err error
	s.path, err = cbuild.BuildAndLoad(filepath.Join("..", "testdata", "token", "slotmod.c"), map[string]*uintptr{
		"slotmod_reset": &s.reset, "slotmod_insert": &s.insert, "slotmod_remove": &s.remove,
		"slotmod_set_flags": &s.flags, "slotmod_notify": &s.notify, "slotmod_waiters": &s.waiters,
	})
	return s, err
}

// openSlotmod opens slotmod for one test, reset to its initial slots, and
// closes it at the end.
func openSlotmod(t testing.TB) (*pkcs11.Module, *slotmod) {
	t.Helper()
	slotmodOnce.Do(func() { slotmodLib, slotmodErr = buildSlotmod() })
	if slotmodErr == cbuild.ErrNoCompiler {
		p11test.Require(t, "a C compiler", slotmodErr)
	}
	if slotmodErr != nil {
		t.Fatalf("building slotmod: %v", slotmodErr)
	}
	slotmodLib.Reset()
	return open(t, slotmodLib.path), slotmodLib
}

func b2u(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

// Reset puts back the initial slots and empties the event queue.
func (s *slotmod) Reset() { purego.SyscallN(s.reset) }

// Insert puts token "card-<n>", serial "S<n>", into slot.
func (s *slotmod) Insert(slot, n uint, notify bool) {
	purego.SyscallN(s.insert, uintptr(slot), uintptr(n), b2u(notify))
}

// Remove takes the token out of slot.
func (s *slotmod) Remove(slot uint, notify bool) {
	purego.SyscallN(s.remove, uintptr(slot), b2u(notify))
}

// SetFlags sets the token flags of slot.
func (s *slotmod) SetFlags(slot uint, flags uint64, notify bool) {
	purego.SyscallN(s.flags, uintptr(slot), uintptr(flags), b2u(notify))
}

// Notify queues a slot event for slot without changing it.
func (s *slotmod) Notify(slot uint) { purego.SyscallN(s.notify, uintptr(slot)) }

// Waiters returns how many threads wait in a blocking C_WaitForSlotEvent.
func (s *slotmod) Waiters() int {
	r, _, _ := purego.SyscallN(s.waiters)
	return int(int32(r))
}

// TestDiscoverSlotmod discovers a module with an empty reader, a token
// whose C_GetTokenInfo fails, and a mechanism whose C_GetMechanismInfo
// fails: each failure stays in its slot or mechanism.
func TestDiscoverSlotmod(t *testing.T) {
	m, _ := openSlotmod(t)
	s, err := token.Discover(m, token.WithMechanisms())
	require.NoError(t, err)
	assert.Equal(t, ck.Info{
		CryptokiVersion:    ck.Version{Major: 2, Minor: 40},
		ManufacturerID:     "purepkcs11",
		LibraryDescription: "slot event module",
		LibraryVersion:     ck.Version{Major: 1, Minor: 2},
	}, s.Info)

	// Slots 2, 3 and 4 hold a token; 3's cannot be read.
	require.Len(t, s.Slots, 3)
	ids := []ck.SlotID{s.Slots[0].ID, s.Slots[1].ID, s.Slots[2].ID}
	assert.Equal(t, []ck.SlotID{2, 3, 4}, ids)
	broken := s.Slots[1]
	assert.Nil(t, broken.Token)
	assert.True(t, broken.TokenPresent())
	assert.ErrorIs(t, broken.Err, ck.CKR_DEVICE_ERROR)
	assert.EqualError(t, broken.Err, "token: slot 3: pkcs11: C_GetTokenInfo: CKR_DEVICE_ERROR")
	assert.EqualError(t, s.Errors(), broken.Err.Error())
	assert.Equal(t, "Reader 3", broken.Info.SlotDescription)

	two := s.Slots[0].Token
	require.NotNil(t, two)
	assert.NoError(t, s.Slots[0].Err)
	assert.Equal(t, "card-2", two.Info.Label)
	assert.Equal(t, "S2", two.Info.SerialNumber)
	assert.True(t, two.ProtectedAuthenticationPath())
	assert.True(t, two.LoginRequired())
	assert.True(t, s.Slots[0].Removable())
	assert.True(t, s.Slots[0].Hardware())
	require.Len(t, two.Mechanisms, 2)
	assert.Equal(t, token.Mechanism{Type: ck.CKM_ECDSA, Info: ck.MechanismInfo{
		MinKeySize: 256, MaxKeySize: 384, Flags: ck.CKF_HW | ck.CKF_SIGN | ck.CKF_VERIFY | ck.CKF_EC_F_P,
	}}, two.Mechanisms[0])
	assert.Equal(t, ck.CKM_SHA256, two.Mechanisms[1].Type)
	assert.ErrorIs(t, two.Mechanisms[1].Err, ck.CKR_MECHANISM_INVALID)
	assert.True(t, two.Supports(ck.CKM_ECDSA, ck.CKF_SIGN))
	assert.False(t, two.Supports(ck.CKM_SHA256, 0), "a mechanism without info is not supported")

	four := s.Slots[2].Token
	all := token.PINState{CountLow: true, FinalTry: true, Locked: true, ToBeChanged: true}
	assert.Equal(t, all, four.UserPIN())
	assert.Equal(t, all, four.SOPIN())
	assert.Equal(t, "count low, final try, locked, to be changed", four.UserPIN().String())
	assert.False(t, four.LoginRequired())
	assert.False(t, four.ProtectedAuthenticationPath())

	// With the empty reader.
	s, err = token.Discover(m, token.IncludeEmptySlots())
	require.NoError(t, err)
	require.Len(t, s.Slots, 4)
	empty := s.Slots[0]
	assert.Equal(t, ck.SlotID(1), empty.ID)
	assert.False(t, empty.TokenPresent())
	assert.Nil(t, empty.Token)
	assert.NoError(t, empty.Err)
	assert.Nil(t, s.Slots[1].Token.Mechanisms)
	assert.Len(t, s.Find(), 2)
}
