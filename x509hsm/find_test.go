package x509hsm_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// onToken returns the labels of disc-<tok>'s entries among labels.
func onToken(labels []string, tok string) []string {
	var out []string
	for _, l := range labels {
		if strings.HasPrefix(l, tok) {
			out = append(out, l)
		}
	}
	return out
}

func TestFind(t *testing.T) {
	m := softhsm(t)
	d := discovery(t, m)
	s, err := openStore(t, m, append(discTokens,
		x509hsm.WithPIN(token.Label(x509hsm.TokDiscA), userPIN),
		x509hsm.WithPIN(token.Label(x509hsm.TokDiscB), userPIN))...)
	checkBadCert(t, err)

	a3SKID := sha1.Sum(d.a3)
	a1SHA1 := sha1.Sum(d.a1.Raw)
	a1SHA256 := sha256.Sum256(d.a1.Raw)
	uri := func(u string) *token.URI {
		p, err := token.ParseURI(u)
		require.NoError(t, err)
		return p
	}
	issued := []string{"a1-rsa", "a2-ec-cert", "b1-padded"}

	for _, c := range []struct {
		name string
		sel  []x509hsm.Selector
		want []string
	}{
		{"all", nil, []string{"a1-rsa", "a2-ec-cert", "a6-ca", "a3-orphan", "a4-nocert", "b1-padded", "b2-private-only", "b4-k1"}},
		{"serial", []x509hsm.Selector{x509hsm.BySerial(d.a1.SerialNumber)}, []string{"a1-rsa"}},
		{"serial none", []x509hsm.Selector{x509hsm.BySerial(big.NewInt(1 << 40))}, nil},
		{"subject DN", []x509hsm.Selector{x509hsm.BySubject("CN=a2 ec,O=x509hsm tests")}, []string{"a2-ec-cert"}},
		{"subject CN", []x509hsm.Selector{x509hsm.BySubjectCN("b1 padded")}, []string{"b1-padded"}},
		{"synthetic CN", []x509hsm.Selector{x509hsm.BySubjectCN("synthetic: a4-nocert")}, []string{"a4-nocert"}},
		{"subject O", []x509hsm.Selector{x509hsm.BySubjectOrg("x509hsm tests")}, []string{"a1-rsa", "a2-ec-cert", "a6-ca", "b1-padded"}},
		{"issuer", []x509hsm.Selector{x509hsm.ByIssuer(d.ca.cert.Subject.String())}, []string{"a1-rsa", "a2-ec-cert", "a6-ca", "b1-padded"}},
		{"subject key ID", []x509hsm.Selector{x509hsm.BySubjectKeyID([]byte{0xa1, 0xa1})}, []string{"a1-rsa"}},
		{"synthetic subject key ID", []x509hsm.Selector{x509hsm.BySubjectKeyID(a3SKID[:])}, []string{"a3-orphan"}},
		{"authority key ID", []x509hsm.Selector{x509hsm.ByAuthorityKeyID(d.ca.cert.SubjectKeyId)}, issued},
		{"SHA-1", []x509hsm.Selector{x509hsm.BySHA1Fingerprint(a1SHA1[:])}, []string{"a1-rsa"}},
		{"SHA-256", []x509hsm.Selector{x509hsm.BySHA256Fingerprint(a1SHA256[:])}, []string{"a1-rsa"}},
		{"key usage", []x509hsm.Selector{x509hsm.ByKeyUsage(x509.KeyUsageCertSign)}, []string{"a6-ca"}},
		{"key usage both", []x509hsm.Selector{x509hsm.ByKeyUsage(x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment)}, []string{"a1-rsa"}},
		{"DER", []x509hsm.Selector{x509hsm.ByDER(d.b1.Raw)}, []string{"b1-padded"}},
		{"label", []x509hsm.Selector{x509hsm.ByLabel("a4-nocert")}, []string{"a4-nocert"}},
		{"ID", []x509hsm.Selector{x509hsm.ByID("A1")}, []string{"a1-rsa"}},
		{"ID of a key linked by value", []x509hsm.Selector{x509hsm.ByID("a2")}, []string{"a2-ec-cert"}},
		{"ID invalid", []x509hsm.Selector{x509hsm.ByID("zz")}, nil},
		{"URI", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:token=disc-b;id=%b4"))}, []string{"b4-k1"}},
		{"URI token", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:token=disc-b"))}, []string{"b1-padded", "b2-private-only", "b4-k1"}},
		{"URI public", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:token=disc-a;type=public"))}, []string{"a1-rsa", "a2-ec-cert", "a3-orphan", "a4-nocert"}},
		{"URI cert", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:token=disc-a;type=cert"))}, []string{"a1-rsa", "a2-ec-cert", "a6-ca"}},
		{"URI private object", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:object=a4-nocert;type=private"))}, []string{"a4-nocert"}},
		{"URI other module", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:library-manufacturer=Nobody"))}, nil},
		{"URI other module file", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:token=disc-b?module-name=softokn3"))}, nil},
		{"URI module file", []x509hsm.Selector{x509hsm.ByURI(uri("pkcs11:token=disc-b;id=%b4?module-name=softhsm2"))}, []string{"b4-k1"}},
		{"on token", []x509hsm.Selector{x509hsm.OnToken(token.Label(x509hsm.TokDiscB))}, []string{"b1-padded", "b2-private-only", "b4-k1"}},
		{"private key", []x509hsm.Selector{x509hsm.HasPrivateKey(), x509hsm.OnToken(token.Label(x509hsm.TokDiscA))}, []string{"a1-rsa", "a2-ec-cert", "a4-nocert"}},
		{"where", []x509hsm.Selector{x509hsm.Where("X.509", (*x509hsm.Entry).IsX509)}, []string{"a1-rsa", "a2-ec-cert", "a6-ca", "b1-padded"}},
		{"limit", []x509hsm.Selector{x509hsm.OnToken(token.Label(x509hsm.TokDiscA)), x509hsm.Limit(2)}, []string{"a1-rsa", "a2-ec-cert"}},
		{"limit 0", []x509hsm.Selector{x509hsm.Limit(0)}, nil},
		{"two selectors", []x509hsm.Selector{x509hsm.ByIssuer(d.ca.cert.Subject.String()), x509hsm.HasPrivateKey()}, issued},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Slots come in an order of their own (SoftHSM derives their
			// IDs from random serials); within a token the order is
			// fixed.
			got := labels(s.Find(c.sel...))
			assert.ElementsMatch(t, c.want, got)
			for _, tok := range []string{"a", "b"} {
				assert.Equal(t, onToken(c.want, tok), onToken(got, tok))
			}
		})
	}

	t.Run("one", func(t *testing.T) {
		e, err := s.FindOne(x509hsm.BySubjectCN("a1 rsa"), x509hsm.Limit(5))
		require.NoError(t, err)
		assert.Equal(t, "a1-rsa", e.Label())

		_, err = s.FindOne(x509hsm.BySubjectCN("nobody"))
		require.ErrorIs(t, err, x509hsm.ErrNotFound)
		assert.EqualError(t, err, `x509hsm: no entry with subject CN "nobody"`)

		_, err = s.FindOne(x509hsm.ByIssuer(d.ca.cert.Subject.String()), x509hsm.HasPrivateKey())
		require.ErrorIs(t, err, x509hsm.ErrAmbiguous)
		var le *x509hsm.LookupError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, 3, le.Count)
		assert.Contains(t, err.Error(), "3 entries match issuer")
	})

	t.Run("entry", func(t *testing.T) {
		e, err := s.FindOne(x509hsm.ByLabel("b4-k1"))
		require.NoError(t, err)
		slot := slotOf(t, m, x509hsm.TokDiscB)
		assert.Equal(t, slot, e.SlotID())
		assert.Equal(t, x509hsm.TokDiscB, e.TokenLabel())
		assert.Equal(t, x509hsm.TokDiscB, e.TokenInfo().Label)
		assert.Equal(t, x509hsm.TokDiscB, e.Token().Info.Label)
		assert.NotZero(t, e.SlotInfo().Flags&ck.CKF_TOKEN_PRESENT)
		assert.Equal(t, "b4", e.ID())
		assert.Equal(t, fmt.Sprintf("%d-b4", slot), e.StorageID())
		u := e.URI()
		assert.True(t, strings.HasPrefix(u.String(), "pkcs11:"), u.String())
		assert.Equal(t, []*x509hsm.Entry{e}, s.Find(x509hsm.ByURI(u)))
		back, err := token.ParseURI(u.String())
		require.NoError(t, err)
		assert.Equal(t, []*x509hsm.Entry{e}, s.Find(x509hsm.ByURI(back)))
		assert.Len(t, s.Tokens(), 2)
	})
}
