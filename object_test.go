package pkcs11_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

func dataTemplate(label string, value []byte) []ck.Attribute {
	return []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_DATA),
		ck.MustAttribute(ck.CKA_TOKEN, false),
		ck.MustAttribute(ck.CKA_LABEL, label),
		ck.MustAttribute(ck.CKA_APPLICATION, "purepkcs11 tests"),
		ck.MustAttribute(ck.CKA_VALUE, value),
	}
}

func TestObjects(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)

	value := bytes.Repeat([]byte{0xa5}, 1000)
	h, err := m.CreateObject(s, dataTemplate("obj-one", value))
	require.NoError(t, err)
	require.NotZero(t, h)

	res, err := m.GetAttributeValue(s, h, []ck.AttributeType{ck.CKA_LABEL, ck.CKA_CLASS, ck.CKA_VALUE, ck.CKA_TOKEN, ck.CKA_MODULUS})
	require.NoError(t, err)
	require.Len(t, res, 5)
	assert.NoError(t, res[0].Err)
	assert.Equal(t, "obj-one", res[0].Text())
	class, err := res[1].ULong()
	require.NoError(t, err)
	assert.Equal(t, ck.CKO_DATA, ck.ObjectClass(class))
	assert.Equal(t, value, res[2].Value)
	tokenFlag, err := res[3].Bool()
	require.NoError(t, err)
	assert.False(t, tokenFlag)
	// A data object has no modulus: that attribute alone fails.
	assert.ErrorIs(t, res[4].Err, ck.CKR_ATTRIBUTE_TYPE_INVALID)
	assert.Nil(t, res[4].Value)

	// With a size hint, in one call, and with a hint too small for the
	// value (the value is then asked for again).
	for _, hint := range []int{1, 16, 2048} {
		res, err := m.GetAttributeValueHint(s, h, []ck.AttributeType{ck.CKA_LABEL, ck.CKA_VALUE}, hint)
		require.NoError(t, err, "hint %d", hint)
		assert.Equal(t, "obj-one", res[0].Text(), "hint %d", hint)
		assert.Equal(t, value, res[1].Value, "hint %d", hint)
	}

	// Change, copy, find, size, destroy.
	require.NoError(t, m.SetAttributeValue(s, h, []ck.Attribute{ck.MustAttribute(ck.CKA_LABEL, "obj-renamed")}))
	h2, err := m.CopyObject(s, h, []ck.Attribute{ck.MustAttribute(ck.CKA_LABEL, "obj-copy")})
	require.NoError(t, err)
	found := findAll(t, m, s, []ck.Attribute{ck.MustAttribute(ck.CKA_LABEL, "obj-renamed")})
	assert.Equal(t, []ck.ObjectHandle{h}, found)
	found = findAll(t, m, s, []ck.Attribute{ck.MustAttribute(ck.CKA_APPLICATION, "purepkcs11 tests")})
	assert.ElementsMatch(t, []ck.ObjectHandle{h, h2}, found)
	size, err := m.GetObjectSize(s, h)
	if err == nil {
		assert.NotZero(t, size)
	} else {
		assert.ErrorIs(t, err, ck.CKR_FUNCTION_NOT_SUPPORTED)
	}
	require.NoError(t, m.DestroyObject(s, h2))
	_, err = m.GetAttributeValue(s, h2, []ck.AttributeType{ck.CKA_LABEL})
	assert.ErrorIs(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	assert.ErrorIs(t, m.DestroyObject(s, h2), ck.CKR_OBJECT_HANDLE_INVALID)
}

func findAll(t testing.TB, m *pkcs11.Module, s ck.SessionHandle, tmpl []ck.Attribute) []ck.ObjectHandle {
	t.Helper()
	require.NoError(t, m.FindObjectsInit(s, tmpl))
	defer m.FindObjectsFinal(s)
	var all []ck.ObjectHandle
	for {
		hs, err := m.FindObjects(s, 7)
		require.NoError(t, err)
		if len(hs) == 0 {
			return all
		}
		all = append(all, hs...)
	}
}

func TestSensitiveAttributes(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	key, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, []ck.Attribute{
		ck.MustAttribute(ck.CKA_TOKEN, false),
		ck.MustAttribute(ck.CKA_VALUE_LEN, 32),
		ck.MustAttribute(ck.CKA_SENSITIVE, true),
		ck.MustAttribute(ck.CKA_EXTRACTABLE, false),
		ck.MustAttribute(ck.CKA_LABEL, "aes-sensitive"),
		ck.MustAttribute(ck.CKA_ALLOWED_MECHANISMS, []ck.MechanismType{ck.CKM_AES_GCM, ck.CKM_AES_CBC_PAD}),
	})
	require.NoError(t, err)

	// CKA_START_DATE stays unset: SoftHSM 2.6 answers CKR_GENERAL_ERROR to
	// any read of a date it holds. Dates are read in the abimod tests.
	types := []ck.AttributeType{ck.CKA_VALUE, ck.CKA_LABEL, ck.CKA_MODULUS, ck.CKA_VALUE_LEN,
		ck.CKA_KEY_TYPE, ck.CKA_END_DATE, ck.CKA_ALLOWED_MECHANISMS, ck.CKA_SENSITIVE}
	for _, hint := range []int{0, 64} {
		t.Run(fmt.Sprint("hint ", hint), func(t *testing.T) {
			var res []pkcs11.AttributeResult
			if hint == 0 {
				res, err = m.GetAttributeValue(s, key, types)
			} else {
				res, err = m.GetAttributeValueHint(s, key, types, hint)
			}
			require.NoError(t, err)
			// Each attribute has its own outcome: the sensitive value and
			// the attribute an AES key lacks fail alone.
			assert.ErrorIs(t, res[0].Err, ck.CKR_ATTRIBUTE_SENSITIVE)
			assert.Equal(t, "aes-sensitive", res[1].Text())
			assert.ErrorIs(t, res[2].Err, ck.CKR_ATTRIBUTE_TYPE_INVALID)
			n, err := res[3].ULong()
			require.NoError(t, err)
			assert.Equal(t, uint64(32), n)
			kt, err := res[4].ULong()
			require.NoError(t, err)
			assert.Equal(t, ck.CKK_AES, ck.KeyType(kt))
			d, err := res[5].Date()
			require.NoError(t, err)
			assert.True(t, d.IsZero(), "unset date: %v", d)
			mechs, err := res[6].Mechanisms()
			require.NoError(t, err)
			assert.ElementsMatch(t, []ck.MechanismType{ck.CKM_AES_GCM, ck.CKM_AES_CBC_PAD}, mechs)
			sens, err := res[7].Bool()
			require.NoError(t, err)
			assert.True(t, sens)
		})
	}
	// Private keys never leave the token: the value stays unreadable.
	_, err = m.WrapKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP}, key, key)
	assert.Error(t, err)
}

// TestAttributeArrays writes CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE
// into SoftHSM keys and reads them back in the two levels of PKCS#11 3.2
// section 5.7.5.
func TestAttributeArrays(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)
	wrapTmpl := []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_SECRET_KEY),
		ck.MustAttribute(ck.CKA_KEY_TYPE, ck.CKK_AES),
		ck.MustAttribute(ck.CKA_EXTRACTABLE, true),
	}
	unwrapTmpl := []ck.Attribute{
		ck.MustAttribute(ck.CKA_LABEL, "unwrapped by the test"),
		ck.MustAttribute(ck.CKA_SENSITIVE, true),
		ck.MustAttribute(ck.CKA_VALUE_LEN, 32),
		ck.MustAttribute(ck.CKA_ID, []byte{1, 2, 3}),
	}
	kek, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, []ck.Attribute{
		ck.MustAttribute(ck.CKA_TOKEN, false),
		ck.MustAttribute(ck.CKA_VALUE_LEN, 32),
		ck.MustAttribute(ck.CKA_WRAP, true),
		ck.MustAttribute(ck.CKA_UNWRAP, true),
		ck.MustAttribute(ck.CKA_WRAP_TEMPLATE, wrapTmpl),
		ck.MustAttribute(ck.CKA_UNWRAP_TEMPLATE, unwrapTmpl),
	})
	require.NoError(t, err)
	plain, err := m.GenerateKey(s, ck.Mechanism{Type: ck.CKM_AES_KEY_GEN}, []ck.Attribute{
		ck.MustAttribute(ck.CKA_TOKEN, false),
		ck.MustAttribute(ck.CKA_VALUE_LEN, 16),
	})
	require.NoError(t, err)

	types := []ck.AttributeType{ck.CKA_WRAP_TEMPLATE, ck.CKA_VALUE_LEN, ck.CKA_UNWRAP_TEMPLATE}
	for _, hint := range []int{0, 64} {
		t.Run(fmt.Sprint("hint ", hint), func(t *testing.T) {
			res, err := m.GetAttributeValueHint(s, kek, types, hint)
			require.NoError(t, err)
			require.Len(t, res, 3)
			// SoftHSM keeps an array in a map: the order is its own.
			for i, want := range map[int][]ck.Attribute{0: wrapTmpl, 2: unwrapTmpl} {
				require.NoError(t, res[i].Err, "%v", res[i].Type)
				got, err := res[i].Template()
				require.NoError(t, err)
				assert.ElementsMatch(t, want, got, "%v", res[i].Type)
			}
			n, err := res[1].ULong()
			require.NoError(t, err)
			assert.Equal(t, uint64(32), n)

			// A key made without templates has empty arrays.
			res, err = m.GetAttributeValueHint(s, plain, types, hint)
			require.NoError(t, err)
			for _, i := range []int{0, 2} {
				require.NoError(t, res[i].Err, "%v", res[i].Type)
				got, err := res[i].Template()
				require.NoError(t, err)
				assert.Empty(t, got, "%v", res[i].Type)
			}
		})
	}
}

func TestObjectBadInput(t *testing.T) {
	m := softhsm(t)
	s := userSession(t, m, tokAlpha)

	// An empty template is a valid search for everything the session sees.
	require.NoError(t, m.FindObjectsInit(s, nil))
	_, err := m.FindObjects(s, 0)
	assert.ErrorContains(t, err, "must be positive")
	_, err = m.FindObjects(s, 10)
	assert.NoError(t, err)
	require.NoError(t, m.FindObjectsFinal(s))

	// Creating from an empty template: the token says what is missing.
	_, err = m.CreateObject(s, nil)
	assert.ErrorIs(t, err, ck.CKR_TEMPLATE_INCOMPLETE)
	// A value of the wrong kind never reaches the token.
	_, err = ck.NewAttribute(ck.CKA_LABEL, 3)
	assert.ErrorContains(t, err, "CKA_LABEL")
	_, err = ck.NewAttribute(ck.CKA_VALUE_LEN, -1)
	assert.ErrorContains(t, err, "negative")
	// A CK_ULONG attribute given with a wrong length goes to the token as
	// raw bytes, and the token refuses it.
	_, err = m.CreateObject(s, []ck.Attribute{{Type: ck.CKA_CLASS, Value: []byte{1, 2, 3}}})
	assert.Error(t, err)

	_, err = m.GetAttributeValue(s, 0xdeadbeef, []ck.AttributeType{ck.CKA_LABEL})
	assert.ErrorIs(t, err, ck.CKR_OBJECT_HANDLE_INVALID)
	_, err = m.GetAttributeValue(0xdeadbeef, 1, []ck.AttributeType{ck.CKA_LABEL})
	assert.ErrorIs(t, err, ck.CKR_SESSION_HANDLE_INVALID)
	res, err := m.GetAttributeValue(s, 1, nil)
	if err == nil {
		assert.Empty(t, res)
	}
	_, err = m.GetAttributeValueHint(s, 1, []ck.AttributeType{ck.CKA_LABEL}, -1)
	assert.ErrorContains(t, err, "out of range")
	_, err = m.GenerateRandom(s, -1)
	assert.ErrorContains(t, err, "out of range")

	// A public session cannot create private objects.
	_, slot := token(t, m, tokBeta)
	pub, err := m.OpenSession(slot, 0)
	require.NoError(t, err)
	defer m.CloseSession(pub)
	_, err = m.CreateObject(pub, append(dataTemplate("x", nil), ck.MustAttribute(ck.CKA_TOKEN, true)))
	assert.ErrorIs(t, err, ck.CKR_SESSION_READ_ONLY)
}
