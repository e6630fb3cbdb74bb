package token_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/token"
)

func TestDiscoverSoftHSM(t *testing.T) {
	m := softhsm(t)
	s, err := token.Discover(m)
	require.NoError(t, err)
	require.NoError(t, s.Errors())

	assert.Equal(t, "SoftHSM", s.Info.ManufacturerID)
	assert.Equal(t, "Implementation of PKCS11", s.Info.LibraryDescription)
	assert.Equal(t, m.Interface(), s.Interface)
	assert.Equal(t, "PKCS 11", s.Interface.Name)
	assert.False(t, s.Time.IsZero())

	// Four initialized tokens from TestMain and the free slot; the watch
	// tests may have initialized more.
	require.GreaterOrEqual(t, len(s.Slots), 5)
	for _, want := range hsm.Tokens {
		tok, err := s.Token(token.Label(want.Label))
		require.NoError(t, err)
		assert.Equal(t, want.Serial, tok.Info.SerialNumber)
		assert.Equal(t, "SoftHSM v2", tok.Info.Model)
		assert.True(t, tok.Initialized())
		assert.True(t, tok.LoginRequired())
		assert.True(t, tok.UserPINInitialized())
		assert.False(t, tok.ProtectedAuthenticationPath())
		assert.False(t, tok.WriteProtected())
		assert.Equal(t, token.PINState{}, tok.UserPIN())
		assert.True(t, tok.UserPIN().OK())
		assert.Equal(t, "ok", tok.SOPIN().String())
		assert.Nil(t, tok.Mechanisms, "mechanisms are read only WithMechanisms")

		sl, err := s.Slot(tok.SlotID)
		require.NoError(t, err)
		assert.Same(t, tok, sl.Token)
		assert.True(t, sl.TokenPresent())
		assert.False(t, sl.Removable(), "softhsm2.conf says slots.removable = false")
		assert.Equal(t, "SoftHSM project", sl.Info.ManufacturerID)
	}

	// SoftHSM's free slot holds a token that is not initialized, whose SO
	// PIN is locked and to be changed.
	free, err := s.Token(token.Initialized(false))
	require.NoError(t, err)
	assert.Empty(t, free.Info.Label)
	assert.Empty(t, free.Info.SerialNumber)
	assert.Equal(t, token.PINState{Locked: true, ToBeChanged: true}, free.SOPIN())
	assert.Equal(t, "locked, to be changed", free.SOPIN().String())
	assert.False(t, free.UserPINInitialized())

	// Every slot holds a token, so the empty ones add nothing.
	all, err := token.Discover(m, token.IncludeEmptySlots())
	require.NoError(t, err)
	assert.Len(t, all.Slots, len(s.Slots))

	_, err = s.Slot(0xdead)
	assert.EqualError(t, err, "token: no slot 57005")
}

func TestDiscoverMechanisms(t *testing.T) {
	m := softhsm(t)
	s, err := token.Discover(m, token.WithMechanisms())
	require.NoError(t, err)
	require.NoError(t, s.Errors())
	tok, err := s.Token(token.Label(tokAlpha))
	require.NoError(t, err)

	list, err := m.GetMechanismList(tok.SlotID)
	require.NoError(t, err)
	require.Len(t, tok.Mechanisms, len(list))
	for i, mech := range tok.Mechanisms {
		assert.Equal(t, list[i], mech.Type)
		assert.NoError(t, mech.Err)
	}
	info, ok := tok.Mechanism(ck.CKM_RSA_PKCS_KEY_PAIR_GEN)
	require.True(t, ok)
	assert.LessOrEqual(t, info.MinKeySize, uint64(1024))
	assert.GreaterOrEqual(t, info.MaxKeySize, uint64(4096))
	assert.True(t, tok.Supports(ck.CKM_ECDSA, ck.CKF_SIGN|ck.CKF_VERIFY))
	assert.True(t, tok.Supports(ck.CKM_AES_GCM, ck.CKF_ENCRYPT))
	assert.False(t, tok.Supports(ck.CKM_ECDSA, ck.CKF_ENCRYPT))
	assert.False(t, tok.Supports(ck.CKM_VENDOR_DEFINED+1, 0))
	_, ok = tok.Mechanism(ck.CKM_VENDOR_DEFINED + 1)
	assert.False(t, ok)

	// A clone is deep: refreshing or editing it leaves s alone.
	c := s.Clone()
	ct, err := c.Token(token.Label(tokAlpha))
	require.NoError(t, err)
	require.NotSame(t, tok, ct)
	ct.Mechanisms[0].Type = ck.CKM_VENDOR_DEFINED
	ct.Info.Label = "changed"
	assert.Equal(t, list[0], tok.Mechanisms[0].Type)
	assert.Equal(t, tokAlpha, tok.Info.Label)
}

// TestRefresh shows a PIN state change through Refresh: SoftHSM sets
// CKF_USER_PIN_COUNT_LOW after a wrong PIN, and clears it at the next
// good login.
func TestRefresh(t *testing.T) {
	m := softhsm(t)
	s, err := token.Discover(m)
	require.NoError(t, err)
	tok, err := s.Token(token.Label(tokBeta))
	require.NoError(t, err)
	require.True(t, tok.UserPIN().OK())

	sess, err := m.OpenSession(tok.SlotID, 0)
	require.NoError(t, err)
	defer m.CloseSession(sess)
	require.ErrorIs(t, m.Login(sess, ck.CKU_USER, []byte("0000")), ck.CKR_PIN_INCORRECT)
	require.NoError(t, tok.Refresh(m))
	assert.True(t, tok.UserPIN().CountLow, "%v", tok.Info.Flags)
	assert.False(t, tok.UserPIN().Locked)

	require.NoError(t, m.Login(sess, ck.CKU_USER, hsm.Tokens[1].PIN))
	require.NoError(t, m.Logout(sess))
	require.NoError(t, tok.Refresh(m))
	assert.True(t, tok.UserPIN().OK(), "%v", tok.Info.Flags)

	gone := &token.Token{SlotID: 0xdead}
	err = gone.Refresh(m)
	assert.ErrorIs(t, err, ck.CKR_SLOT_ID_INVALID)
	assert.EqualError(t, err, "token: slot 57005: pkcs11: C_GetTokenInfo: CKR_SLOT_ID_INVALID")
}

func TestLookup(t *testing.T) {
	m := softhsm(t)
	s, err := token.Discover(m)
	require.NoError(t, err)
	alpha, err := s.Token(token.Label(tokAlpha))
	require.NoError(t, err)
	beta, err := s.Token(token.Label(tokBeta))
	require.NoError(t, err)

	got, err := s.Token(token.LabelFold("BETA token"))
	require.NoError(t, err)
	assert.Same(t, beta, got)
	assert.Empty(t, s.Find(token.Label("BETA token")), "Label is exact")

	got, err = s.Token(token.Serial(alpha.Info.SerialNumber))
	require.NoError(t, err)
	assert.Same(t, alpha, got)
	got, err = s.Token(token.InSlot(beta.SlotID))
	require.NoError(t, err)
	assert.Same(t, beta, got)
	got, err = s.Token(token.MatchURI(alpha.URI()))
	require.NoError(t, err)
	assert.Same(t, alpha, got)
	got, err = s.Token(token.Where("a label that starts with B", func(t *token.Token) bool {
		return len(t.Info.Label) > 0 && t.Info.Label[0] == 'B'
	}))
	require.NoError(t, err)
	assert.Same(t, beta, got)

	// Manufacturer and model match every SoftHSM token, the free one too.
	all := s.Find(token.Manufacturer("SoftHSM project"), token.Model("SoftHSM v2"))
	assert.Len(t, all, len(s.Slots))
	assert.Equal(t, s.Find(), all)
	assert.Contains(t, all, alpha)
	assert.Contains(t, all, beta)

	_, err = s.Token(token.Label("x"))
	assert.EqualError(t, err, `token: no token with label "x"`)
	assert.ErrorIs(t, err, token.ErrNoToken)
	assert.NotErrorIs(t, err, token.ErrAmbiguous)

	_, err = s.Token(token.Manufacturer("SoftHSM project"))
	assert.EqualError(t, err, `token: `+strconv.Itoa(len(s.Slots))+` tokens match manufacturer "SoftHSM project"`)
	assert.ErrorIs(t, err, token.ErrAmbiguous)
	var le *token.LookupError
	require.True(t, errors.As(err, &le))
	assert.Equal(t, len(s.Slots), le.Count)

	_, err = s.Token(token.Label(tokAlpha), token.Serial(beta.Info.SerialNumber))
	assert.EqualError(t, err, `token: no token with label "alpha" and serial "`+beta.Info.SerialNumber+`"`)
	_, err = s.Token(token.LabelFold("ALPHA"), token.Model("nope"))
	assert.EqualError(t, err, `token: no token with label "ALPHA" in any case and model "nope"`)
	_, err = s.Token()
	assert.EqualError(t, err, `token: `+strconv.Itoa(len(s.Slots))+` tokens match`)

	// URIs select by module, slot and token attributes.
	for _, tc := range []struct {
		uri  string
		want []*token.Token
	}{
		{"pkcs11:token=alpha", []*token.Token{alpha}},
		{"pkcs11:token=Beta%20Token;manufacturer=SoftHSM%20project;model=SoftHSM%20v2", []*token.Token{beta}},
		{"pkcs11:token=alpha;library-manufacturer=SoftHSM;library-description=Implementation%20of%20PKCS11", []*token.Token{alpha}},
		{"pkcs11:token=alpha;library-manufacturer=NSS", nil},
		{"pkcs11:token=alpha;library-version=" + s.Info.LibraryVersion.String(), []*token.Token{alpha}},
		{"pkcs11:token=alpha;library-version=99", nil},
		{"pkcs11:slot-id=" + strconv.FormatUint(uint64(beta.SlotID), 10), []*token.Token{beta}},
		{"pkcs11:slot-id=" + strconv.FormatUint(uint64(beta.SlotID), 10) + ";token=alpha", nil},
		{"pkcs11:slot-manufacturer=SoftHSM%20project;serial=" + alpha.Info.SerialNumber, []*token.Token{alpha}},
		{"pkcs11:token=alpha;x-vendor=1", nil},
		{"pkcs11:token=alpha;object=key;type=private?pin-value=1234&module-name=softhsm2", []*token.Token{alpha}},
		{"pkcs11:token=alpha?module-name=softokn3", nil},
		{"pkcs11:token=alpha?module-path=" + m.Path(), []*token.Token{alpha}},
		{"pkcs11:token=alpha?module-path=/usr/lib/other.so", nil},
		{"pkcs11:token=alpha;serial=", nil},
	} {
		u, err := token.ParseURI(tc.uri)
		require.NoError(t, err, tc.uri)
		assert.Equal(t, tc.want, s.Find(token.MatchURI(u)), tc.uri)
	}
	_, err = s.Token(token.MatchURI(token.MustParseURI("pkcs11:token=nope?pin-value=secret")))
	assert.EqualError(t, err, `token: no token with URI pkcs11:token=nope`)
}

// TestDiscoverTrust discovers p11-kit's trust module on a directory of
// numCerts certificates, opened alongside SoftHSM, and finds certificates
// with the object template of a URI.
func TestDiscoverTrust(t *testing.T) {
	_ = softhsm(t)
	m := trust(t)
	s, err := token.Discover(m, token.WithMechanisms(), token.IncludeEmptySlots())
	require.NoError(t, err)
	require.NoError(t, s.Errors())
	assert.Equal(t, "PKCS#11 Kit", s.Info.ManufacturerID)
	assert.Equal(t, "PKCS#11 Kit Trust Module", s.Info.LibraryDescription)

	require.Len(t, s.Slots, 1)
	sl := s.Slots[0]
	assert.Equal(t, trustDir, sl.Info.SlotDescription)
	require.NotNil(t, sl.Token)
	tok := sl.Token
	label := filepath.Base(trustDir)
	assert.Equal(t, label, tok.Info.Label)
	assert.Equal(t, "p11-kit-trust", tok.Info.Model)
	assert.True(t, tok.Initialized())
	assert.False(t, tok.LoginRequired())
	assert.Empty(t, tok.Mechanisms)

	got, err := s.Token(token.MatchURI(token.MustParseURI("pkcs11:token=" + label + ";library-manufacturer=PKCS%23Kit")))
	assert.ErrorIs(t, err, token.ErrNoToken)
	assert.Nil(t, got)
	got, err = s.Token(token.MatchURI(token.MustParseURI("pkcs11:model=p11-kit-trust;library-manufacturer=PKCS%2311%20Kit")))
	require.NoError(t, err)
	assert.Same(t, tok, got)

	// Every certificate is there: 2 objects per certificate and one more
	// (MODULES.md); the URI's template finds one by label and class.
	sess, err := m.OpenSession(tok.SlotID, 0)
	require.NoError(t, err)
	defer m.CloseSession(sess)
	count := func(tmpl []ck.Attribute) int {
		t.Helper()
		require.NoError(t, m.FindObjectsInit(sess, tmpl))
		defer m.FindObjectsFinal(sess)
		n := 0
		for {
			h, err := m.FindObjects(sess, 256)
			require.NoError(t, err)
			if len(h) == 0 {
				return n
			}
			n += len(h)
		}
	}
	template := func(u *token.URI) []ck.Attribute {
		t.Helper()
		tmpl, ok := u.ObjectTemplate()
		require.True(t, ok, "%s names objects", u)
		return tmpl
	}
	assert.Equal(t, 2*numCerts+1, count(nil))
	assert.Equal(t, numCerts, count(template(token.MustParseURI("pkcs11:type=cert"))))
	u := token.MustParseURI("pkcs11:token=" + label + ";object=Token%20Test%20CA%20117;type=cert")
	require.True(t, u.MatchesToken(tok.Info))
	assert.Equal(t, 1, count(template(u)))
	assert.Equal(t, 0, count(template(token.MustParseURI("pkcs11:object=Token%20Test%20CA%20117;type=private"))))
}

func TestTokenURI(t *testing.T) {
	tok := &token.Token{SlotID: 3, Info: ck.TokenInfo{Label: "a b", ManufacturerID: "M;", Model: "X"}}
	u := tok.URI()
	assert.Equal(t, "pkcs11:token=a%20b;manufacturer=M%3B;serial=;model=X", u.String())
	assert.True(t, u.MatchesToken(tok.Info))
	assert.False(t, u.MatchesToken(ck.TokenInfo{Label: "a b", ManufacturerID: "M;", Model: "X", SerialNumber: "1"}))
	assert.Equal(t, `"a b" (M; X, serial "") in slot 3`, tok.String())
}

// cancelAfter is a slog handler for the root package's call tracing that
// counts the calls of one C function and cancels a context at the n-th.
type cancelAfter struct {
	fn     string
	n      int
	seen   atomic.Int32
	cancel context.CancelFunc
}

func (c *cancelAfter) Enabled(context.Context, slog.Level) bool { return true }
func (c *cancelAfter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *cancelAfter) WithGroup(string) slog.Handler            { return c }

func (c *cancelAfter) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "func" && a.Value.String() == c.fn {
			if int(c.seen.Add(1)) == c.n {
				c.cancel()
			}
			return false
		}
		return true
	})
	return nil
}

// TestDiscoverContext stops discovery halfway through a token's
// mechanism list and checks that it stops there, with the context's
// error and no snapshot, and that a context that has ended stops it
// before any call.
func TestDiscoverContext(t *testing.T) {
	softhsm(t)
	ctx, cancel := context.WithCancel(t.Context())
	h := &cancelAfter{fn: "C_GetMechanismInfo", n: 3, cancel: cancel}
	m := open(t, hsm.Lib, pkcs11.WithLogger(slog.New(h)))

	snap, err := token.DiscoverContext(ctx, m, token.WithMechanisms())
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, snap)
	assert.EqualValues(t, 3, h.seen.Load(), "C_GetMechanismInfo calls: discovery went on after the context ended")

	h.seen.Store(0)
	_, err = token.DiscoverContext(ctx, m)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, h.seen.Load())

	snap, err = token.DiscoverContext(t.Context(), m, token.WithMechanisms())
	require.NoError(t, err)
	tok, err := snap.Token(token.Label(tokAlpha))
	require.NoError(t, err)
	assert.NotEmpty(t, tok.Mechanisms)
}
