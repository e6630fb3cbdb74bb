package token_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/token"
)

// TestDiscoverOpenSCEmptyReaders discovers OpenSC's module with the card
// readers `.ci/modules start` made: pcscd with two vpcd readers and no
// card in either, as a smart card user's machine looks before a card is
// inserted. Every other module of the tests has a token in every slot.
func TestDiscoverOpenSCEmptyReaders(t *testing.T) {
	ext, err := p11test.OpenSC()
	p11test.RequireExternal(t, "OpenSC", err)
	require.NotEmpty(t, ext.Readers)
	m := open(t, ext.Lib)

	// By default, slots with a token only: none.
	s, err := token.Discover(m)
	require.NoError(t, err)
	assert.Equal(t, "OpenSC Project", s.Info.ManufacturerID)
	assert.Empty(t, s.Slots)
	_, err = s.Token()
	assert.Error(t, err, "no token to find")

	// With the empty slots: one per reader, named after it, removable,
	// without a token, and no error for the token that is not there.
	all, err := token.Discover(m, token.IncludeEmptySlots(), token.WithMechanisms())
	require.NoError(t, err)
	require.NoError(t, all.Errors())
	var readers []string
	for _, sl := range all.Slots {
		readers = append(readers, sl.Info.SlotDescription)
		assert.False(t, sl.TokenPresent(), sl.Info.SlotDescription)
		assert.True(t, sl.Removable(), sl.Info.SlotDescription)
		assert.True(t, sl.Hardware(), sl.Info.SlotDescription)
		assert.Nil(t, sl.Token)
		assert.NoError(t, sl.Err)
	}
	assert.ElementsMatch(t, ext.Readers, readers)
	t.Logf("OpenSC %v: %d empty slots: %q", all.Info.LibraryVersion, len(all.Slots), readers)

	// Asked directly, an empty slot says so.
	_, err = m.GetTokenInfo(all.Slots[0].ID)
	assert.True(t, errors.Is(err, ck.CKR_TOKEN_NOT_PRESENT), "C_GetTokenInfo on an empty reader: %v", err)
	_, err = m.OpenSession(all.Slots[0].ID, ck.CKF_SERIAL_SESSION)
	assert.True(t, errors.Is(err, ck.CKR_TOKEN_NOT_PRESENT), "C_OpenSession on an empty reader: %v", err)
}
