package session_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// dataObject returns the template of a session data object (which has
// no CKA_ID).
func dataObject(app, label string) []ck.Attribute {
	return []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_TOKEN, false), attr(ck.CKA_PRIVATE, false),
		attr(ck.CKA_APPLICATION, app), attr(ck.CKA_LABEL, label), attr(ck.CKA_VALUE, []byte("value of "+label)),
	}
}

func TestFind(t *testing.T) {
	m, log := tracedSoftHSM(t)
	s := userSession(t, m, tokAlpha)
	app := uniqueLabel(t)
	for _, l := range []string{"a", "b", "c"} {
		_, err := s.Create(dataObject(app, app+"-"+l))
		require.NoError(t, err)
	}
	byApp := []ck.Attribute{attr(ck.CKA_CLASS, ck.CKO_DATA), attr(ck.CKA_APPLICATION, app)}

	found, err := s.Find(byApp)
	require.NoError(t, err)
	require.Len(t, found, 3)
	labels := map[string]bool{}
	for _, o := range found {
		assert.Equal(t, ck.CKO_DATA, o.Class)
		assert.Equal(t, ck.KeyType(ck.CK_UNAVAILABLE_INFORMATION), o.KeyType, "a data object has no key type")
		assert.Empty(t, o.ID, "a data object has no CKA_ID")
		assert.Empty(t, o.UniqueID, "SoftHSM 2.6 has no CKA_UNIQUE_ID")
		labels[o.Label] = true
	}
	assert.Equal(t, map[string]bool{app + "-a": true, app + "-b": true, app + "-c": true}, labels)

	// One C_GetAttributeValue per object: the template says these are no
	// keys, and the token is known to lack CKA_UNIQUE_ID.
	log.reset()
	found, err = s.Find(byApp)
	require.NoError(t, err)
	require.Len(t, found, 3)
	assert.Equal(t, 3, log.count("C_GetAttributeValue"), "%v", log.calls())

	o, err := s.FindOne([]ck.Attribute{attr(ck.CKA_LABEL, app+"-b")})
	require.NoError(t, err)
	assert.Equal(t, app+"-b", o.Label)

	_, err = s.FindOne(byApp)
	require.ErrorIs(t, err, session.ErrAmbiguous)
	assert.EqualError(t, err, fmt.Sprintf(`session: find one: more than one object matches (3 do): {CKA_CLASS=CKO_DATA, CKA_APPLICATION="%s"}`, app))

	_, err = s.FindOne([]ck.Attribute{attr(ck.CKA_LABEL, app+"-nope"), attr(ck.CKA_ID, []byte{0xca, 0xfe})})
	require.ErrorIs(t, err, session.ErrNotFound)
	assert.EqualError(t, err, fmt.Sprintf(`session: find one: no object matches: {CKA_LABEL="%s-nope", CKA_ID=cafe}`, app))

	// Keys: the key type comes with the identity.
	label := uniqueLabel(t)
	_, _, err = s.GenerateEC("P-256", session.SessionKey(), session.KeyLabel(label))
	require.NoError(t, err)
	keys, err := s.Find([]ck.Attribute{attr(ck.CKA_LABEL, label)})
	require.NoError(t, err)
	require.Len(t, keys, 2)
	classes := map[ck.ObjectClass]bool{}
	for _, k := range keys {
		assert.Equal(t, ck.CKK_EC, k.KeyType)
		assert.Len(t, k.ID, 16)
		classes[k.Class] = true
	}
	assert.Equal(t, map[ck.ObjectClass]bool{ck.CKO_PUBLIC_KEY: true, ck.CKO_PRIVATE_KEY: true}, classes)
	// A template naming a non-key class that turns out wrong still
	// gets the key type.
	priv, err := s.FindOne([]ck.Attribute{attr(ck.CKA_LABEL, label), attr(ck.CKA_SIGN, true)})
	require.NoError(t, err)
	assert.Equal(t, ck.CKK_EC, priv.KeyType)
}

func TestFindIter(t *testing.T) {
	m, log := tracedSoftHSM(t)
	s := userSession(t, m, tokAlpha)
	app := uniqueLabel(t)
	const n = 2500
	for i := range n {
		_, err := m.CreateObject(s.Handle(), dataObject(app, fmt.Sprintf("%s-%04d", app, i)))
		require.NoError(t, err)
	}
	template := []ck.Attribute{attr(ck.CKA_APPLICATION, app)}

	log.reset()
	seen := map[ck.ObjectHandle]bool{}
	for h, err := range s.FindIter(template, 100) {
		require.NoError(t, err)
		seen[h] = true
	}
	assert.Len(t, seen, n)
	assert.Equal(t, 26, log.count("C_FindObjects"), "25 full batches and the empty one")
	assert.Equal(t, 1, log.count("C_FindObjectsFinal"))

	// Break early: the search is ended all the same.
	log.reset()
	count := 0
	for _, err := range s.FindIter(template, 100) {
		require.NoError(t, err)
		count++
		if count == 150 {
			break
		}
	}
	assert.Equal(t, 150, count)
	assert.Equal(t, 2, log.count("C_FindObjects"))
	assert.Equal(t, 1, log.count("C_FindObjectsFinal"))
	// A raw C_FindObjectsInit finds no search active.
	require.NoError(t, m.FindObjectsInit(s.Handle(), template))
	hs, err := m.FindObjects(s.Handle(), n+1)
	require.NoError(t, err)
	assert.Len(t, hs, n)
	require.NoError(t, m.FindObjectsFinal(s.Handle()))

	// Find reads them all with their identities.
	all, err := s.Find(template)
	require.NoError(t, err)
	require.Len(t, all, n)
	for _, o := range all {
		require.True(t, seen[o.Handle])
		require.Equal(t, ck.CKO_DATA, o.Class)
	}

	// A bad batch size is an error, not a panic.
	for _, err := range s.FindIter(template, 0) {
		assert.ErrorContains(t, err, "batch size 0")
	}

	// A search left open by someone else is ended and replaced.
	require.NoError(t, m.FindObjectsInit(s.Handle(), nil))
	got, err := s.Find(template)
	require.NoError(t, err)
	assert.Len(t, got, n)
}

func TestObjectLifecycle(t *testing.T) {
	_, s := alpha(t)
	label := uniqueLabel(t)
	value := []byte("a readable secret of 32 bytes...")
	o, err := s.Create([]ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_GENERIC_SECRET),
		attr(ck.CKA_TOKEN, false), attr(ck.CKA_SENSITIVE, false), attr(ck.CKA_EXTRACTABLE, true),
		attr(ck.CKA_VALUE, value), attr(ck.CKA_LABEL, label), attr(ck.CKA_ID, []byte("id-1")),
	})
	require.NoError(t, err)
	assert.Equal(t, session.Object{Handle: o.Handle, Class: ck.CKO_SECRET_KEY, KeyType: ck.CKK_GENERIC_SECRET,
		ID: []byte("id-1"), Label: label}, o)

	res, err := s.Attributes(o.Handle, ck.CKA_VALUE, ck.CKA_MODULUS, ck.CKA_VALUE_LEN)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, value, res[0].Value)
	requireRV(t, res[1].Err, ck.CKR_ATTRIBUTE_TYPE_INVALID)
	n, err := res[2].ULong()
	require.NoError(t, err)
	assert.Equal(t, uint64(32), n)

	require.NoError(t, s.SetAttributes(o.Handle, attr(ck.CKA_LABEL, label+"-renamed"), attr(ck.CKA_ID, []byte("id-2"))))
	again, err := s.Object(o.Handle)
	require.NoError(t, err)
	assert.Equal(t, label+"-renamed", again.Label)
	assert.Equal(t, []byte("id-2"), again.ID)

	c, err := s.Copy(o.Handle, []ck.Attribute{attr(ck.CKA_LABEL, label+"-copy")})
	require.NoError(t, err)
	assert.NotEqual(t, o.Handle, c.Handle)
	assert.Equal(t, label+"-copy", c.Label)
	assert.Equal(t, []byte("id-2"), c.ID)
	assert.Equal(t, value, values(t, s, c, ck.CKA_VALUE)[0].Value)

	require.NoError(t, s.Destroy(o.Handle))
	_, err = s.Attributes(o.Handle, ck.CKA_LABEL)
	requireRV(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	assert.ErrorContains(t, err, "session: reading attributes: ")
	requireRV(t, s.Destroy(o.Handle), ck.CKR_OBJECT_HANDLE_INVALID)
}

// importEC stores a Go EC private key on the token, so that a test can
// destroy it and store it again under a new handle.
func importEC(t testing.TB, s *session.Session, k *ecdsa.PrivateKey, id []byte, label string, token bool) session.Object {
	t.Helper()
	c, ok := ck.CurveByName(k.Curve.Params().Name)
	require.True(t, ok)
	d, err := k.Bytes()
	require.NoError(t, err)
	tmpl := []ck.Attribute{
		attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_EC),
		attr(ck.CKA_TOKEN, token), attr(ck.CKA_PRIVATE, true), attr(ck.CKA_SENSITIVE, true),
		attr(ck.CKA_SIGN, true), attr(ck.CKA_EC_PARAMS, c.ECParams()), attr(ck.CKA_VALUE, d),
		attr(ck.CKA_LABEL, label),
	}
	if id != nil {
		tmpl = append(tmpl, attr(ck.CKA_ID, id))
	}
	o, err := s.Create(tmpl)
	require.NoError(t, err)
	if token {
		t.Cleanup(func() { s.Destroy(o.Handle) })
	}
	return o
}

func TestResolve(t *testing.T) {
	_, s := alpha(t)
	gk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id, label := []byte("resolve-"+uniqueLabel(t)), uniqueLabel(t)
	o := importEC(t, s, gk, id, label, true)

	// A valid handle of the right object: unchanged.
	r, err := s.Resolve(o)
	require.NoError(t, err)
	assert.Equal(t, o, r)

	// The key replaced by the same key: a new handle, found by CKA_ID.
	require.NoError(t, s.Destroy(o.Handle))
	n := importEC(t, s, gk, id, label, true)
	require.NotEqual(t, o.Handle, n.Handle, "SoftHSM never reuses a handle")
	_, err = s.Sign(o, session.ECDSA(0), make([]byte, 32))
	requireRV(t, err, ck.CKR_KEY_HANDLE_INVALID, ck.CKR_OBJECT_HANDLE_INVALID)
	r, err = s.Resolve(o)
	require.NoError(t, err)
	assert.Equal(t, n.Handle, r.Handle)
	digest := sha256.Sum256(message)
	sig, err := s.Sign(r, session.ECDSA(0), digest[:])
	require.NoError(t, err)
	rr, ss := splitECDSA(t, sig)
	assert.True(t, ecdsa.Verify(&gk.PublicKey, digest[:], rr, ss))

	// A handle that names another object now: found by identity too.
	other := importEC(t, s, gk, []byte("other-"+uniqueLabel(t)), uniqueLabel(t), false)
	stale := o
	stale.Handle = other.Handle
	r, err = s.Resolve(stale)
	require.NoError(t, err)
	assert.Equal(t, n.Handle, r.Handle)

	// Two keys with the same ID: the label tells them apart.
	twin := importEC(t, s, gk, id, label+"-twin", false)
	r, err = s.Resolve(o)
	require.NoError(t, err)
	assert.Equal(t, n.Handle, r.Handle)
	twinStale := twin
	twinStale.Handle = other.Handle
	r, err = s.Resolve(twinStale)
	require.NoError(t, err)
	assert.Equal(t, twin.Handle, r.Handle)

	// By label and class when there is no ID.
	byLabel := session.Object{Handle: o.Handle, Class: ck.CKO_PRIVATE_KEY, KeyType: ck.CKK_EC, Label: label}
	r, err = s.Resolve(byLabel)
	require.NoError(t, err)
	assert.Equal(t, n.Handle, r.Handle)

	// Gone for good.
	require.NoError(t, s.Destroy(n.Handle))
	require.NoError(t, s.Destroy(twin.Handle))
	_, err = s.Resolve(o)
	require.ErrorIs(t, err, session.ErrNotFound)
	assert.ErrorContains(t, err, "session: resolve: ")

	// A bare handle: fine while valid, unresolvable after.
	bare := session.Object{Handle: other.Handle}
	r, err = s.Resolve(bare)
	require.NoError(t, err)
	assert.Equal(t, bare, r)
	require.NoError(t, s.Destroy(other.Handle))
	_, err = s.Resolve(bare)
	assert.ErrorContains(t, err, "no CKA_UNIQUE_ID, CKA_ID or label")
}

func TestResolveAfterAllSessionsClosed(t *testing.T) {
	m, s := alpha(t)
	pub, priv, err := s.GenerateEC("P-256", session.KeyLabel(uniqueLabel(t)))
	require.NoError(t, err)
	k := ecPublic(t, s, pub, elliptic.P256())

	// SoftHSM forgets the handles of token objects when the
	// application's last session closes, and hands out new ones.
	require.NoError(t, m.CloseAllSessions(s.Slot()))
	s = userSession(t, m, tokAlpha)
	defer func() {
		s.Destroy(pub.Handle)
		s.Destroy(priv.Handle)
	}()
	digest := sha256.Sum256(message)
	_, err = s.Sign(priv, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_KEY_HANDLE_INVALID, ck.CKR_OBJECT_HANDLE_INVALID)

	r, err := s.Resolve(priv)
	require.NoError(t, err)
	assert.NotEqual(t, priv.Handle, r.Handle)
	sig, err := s.Sign(r, session.ECDSA(0), digest[:])
	require.NoError(t, err)
	rr, ss := splitECDSA(t, sig)
	assert.True(t, ecdsa.Verify(k, digest[:], rr, ss))
	if pub, err = s.Resolve(pub); err != nil {
		t.Fatal(err)
	}
	priv = r
}
