package session_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// TestResolveNotByLabel checks the order Resolve promises: an object
// with a CKA_ID is found again by its CKA_ID only, never by a label that
// another key now has.
func TestResolveNotByLabel(t *testing.T) {
	m, s := alpha(t)
	slot, tok := slotOf(t, m, tokAlpha)
	p, err := session.NewPool(ctx, m, slot, session.WithPIN(tok.PIN), session.ReadWrite())
	require.NoError(t, err)
	defer p.Close()

	label := uniqueLabel(t)
	id, otherID := []byte("id-"+label), []byte("other-"+label)
	first, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	o := importEC(t, s, first, id, label, true)
	digest := sha256.Sum256(message)

	// The key replaced by another with the same label and another ID:
	// not the key the Object names. Neither Resolve nor the pool's
	// recovery may pick it, though its label names exactly one key.
	require.NoError(t, s.Destroy(o.Handle))
	second, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	impostor := importEC(t, s, second, otherID, label, true)
	found, err := s.Find([]ck.Attribute{attr(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY), attr(ck.CKA_LABEL, label)})
	require.NoError(t, err)
	require.Len(t, found, 1, "the label alone names the other key")

	r, err := s.Resolve(o)
	require.ErrorIs(t, err, session.ErrNotFound)
	assert.NotEqual(t, impostor.Handle, r.Handle)
	assert.Equal(t, o, r, "a failed Resolve gives o back")
	_, err = p.Sign(ctx, o, session.ECDSA(0), digest[:])
	requireRV(t, err, ck.CKR_KEY_HANDLE_INVALID, ck.CKR_OBJECT_HANDLE_INVALID)
	assert.ErrorIs(t, err, session.ErrNotFound, "no signature by the other key")

	// A key with the Object's CKA_ID is taken for it, whatever its
	// label: the CKA_ID names the key.
	third, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sameID := importEC(t, s, third, id, label+"-renamed", true)
	r, err = s.Resolve(o)
	require.NoError(t, err)
	assert.Equal(t, sameID.Handle, r.Handle)
	sig, err := p.Sign(ctx, o, session.ECDSA(0), digest[:])
	require.NoError(t, err)
	verifyECDSA(t, &third.PublicKey, digest[:], sig)

	// Two keys with the CKA_ID: the label picks one; a label that
	// neither has is not a reason to take the other.
	twin := importEC(t, s, third, id, label, true)
	r, err = s.Resolve(o)
	require.NoError(t, err)
	assert.Equal(t, twin.Handle, r.Handle)
	relabelled := o
	relabelled.Label = label + "-gone"
	_, err = s.Resolve(relabelled)
	require.ErrorIs(t, err, session.ErrAmbiguous)
	assert.NotContains(t, err.Error(), "CKK_EC, CKA_LABEL=", "the label narrows, it is not asked alone")
	require.NoError(t, s.Destroy(sameID.Handle))
	require.NoError(t, s.Destroy(twin.Handle))

	// An Object with a CKA_UNIQUE_ID and no CKA_ID is found by that
	// only: SoftHSM 2.6 has no CKA_UNIQUE_ID, so nothing has it, and
	// the label, which names the other key, is not asked.
	byUnique := session.Object{Handle: o.Handle, Class: ck.CKO_PRIVATE_KEY, KeyType: ck.CKK_EC,
		Label: label, UniqueID: "unique-" + label}
	r, err = s.Resolve(byUnique)
	require.Error(t, err)
	assert.NotEqual(t, impostor.Handle, r.Handle)

	// With neither, the label is what there is.
	byLabel := session.Object{Handle: o.Handle, Class: ck.CKO_PRIVATE_KEY, KeyType: ck.CKK_EC, Label: label}
	r, err = s.Resolve(byLabel)
	require.NoError(t, err)
	assert.Equal(t, impostor.Handle, r.Handle)
}
