//go:build cgo

package cgobench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// The signer benchmarks compare the crypto.Signer of x509hsm with that of
// github.com/ThalesGroup/crypto11, the most used cgo crypto.Signer over
// PKCS#11 (it calls the module through miekg/pkcs11), on the same token
// keys: ECDSA P-256 and RSA-2048 (PKCS #1 v1.5 with SHA-256), signing a
// SHA-256 digest from 1, 2 and 8 goroutines that share one Signer. Each
// library uses its own session pool. ns/op is wall time per signature,
// the inverse of the throughput of all goroutines together.

// signerKey is one token key pair as both libraries see it.
type signerKey struct {
	name string
	pure crypto.Signer
	c11  crypto.Signer
}

var (
	signersOnce sync.Once
	signers     []signerKey
	signersErr  error
)

// setupSigners generates the two key pairs as token objects with a
// CKA_ID and a label, then finds them through x509hsm's store and through
// crypto11.
func setupSigners(tb testing.TB) []signerKey {
	tb.Helper()
	f := setup(tb)
	signersOnce.Do(func() { signers, signersErr = f.makeSigners() })
	if signersErr != nil {
		tb.Fatal(signersErr)
	}
	return signers
}

func (f *fixture) makeSigners() ([]signerKey, error) {
	m, s := f.pure, f.setup
	pair := func(id, label string) (pub, priv []ck.Attribute) {
		common := []ck.Attribute{
			ck.MustAttribute(ck.CKA_TOKEN, true),
			ck.MustAttribute(ck.CKA_ID, []byte(id)),
			ck.MustAttribute(ck.CKA_LABEL, label),
		}
		pub = append([]ck.Attribute{ck.MustAttribute(ck.CKA_VERIFY, true)}, common...)
		priv = append([]ck.Attribute{
			ck.MustAttribute(ck.CKA_PRIVATE, true), ck.MustAttribute(ck.CKA_SENSITIVE, true),
			ck.MustAttribute(ck.CKA_SIGN, true),
		}, common...)
		return pub, priv
	}
	p256, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	pub, priv := pair("signer-ec", "signer-ec")
	pub = append(pub, ck.MustAttribute(ck.CKA_EC_PARAMS, p256))
	if _, _, err := m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN}, pub, priv); err != nil {
		return nil, fmt.Errorf("ECDSA P-256 key: %w", err)
	}
	pub, priv = pair("signer-rsa", "signer-rsa")
	pub = append(pub, ck.MustAttribute(ck.CKA_MODULUS_BITS, 2048), ck.MustAttribute(ck.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	if _, _, err := m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN}, pub, priv); err != nil {
		return nil, fmt.Errorf("RSA-2048 key: %w", err)
	}

	ctx := context.Background()
	st, err := x509hsm.Open(ctx, m, x509hsm.WithTokens(token.Label(tokLabel)),
		x509hsm.WithPIN(token.Label(tokLabel), f.pin))
	if err != nil {
		return nil, err
	}
	f.store = st
	// Discovery reports the benchmarks' other private keys, whose public
	// keys are session objects without a CKA_ID, as keys it cannot use;
	// that is not what this store is for, so only a wait that fails
	// counts.
	<-st.Done()
	var keys []signerKey
	for _, name := range []string{"signer-ec", "signer-rsa"} {
		e, err := st.FindOne(x509hsm.ByLabel(name), x509hsm.HasPrivateKey())
		if err != nil {
			return nil, fmt.Errorf("x509hsm: %s: %w", name, err)
		}
		c, err := f.c11.FindKeyPair([]byte(name), []byte(name))
		if err != nil || c == nil {
			return nil, fmt.Errorf("crypto11: %s: %v (found %v)", name, err, c != nil)
		}
		keys = append(keys, signerKey{name: name, pure: e.Signer(), c11: c})
	}
	keys[0].name, keys[1].name = "ECDSA-P256", "RSA-2048"
	return keys, nil
}

func BenchmarkSigner(b *testing.B) {
	keys := setupSigners(b)
	digest := sha256.Sum256([]byte("benchmark"))
	for _, k := range keys {
		for _, g := range []int{1, 2, 8} {
			for _, lib := range []struct {
				name string
				sg   crypto.Signer
			}{{"purego", k.pure}, {"cgo-crypto11", k.c11}} {
				b.Run(fmt.Sprintf("%s/g=%d/%s", k.name, g, lib.name), func(b *testing.B) {
					var next atomic.Int64
					var wg sync.WaitGroup
					n := int64(b.N)
					b.ReportAllocs()
					u := p11test.ReadUsage()
					defer u.ReportSince(b)
					b.ResetTimer()
					for range g {
						wg.Go(func() {
							for next.Add(1) <= n {
								if _, err := lib.sg.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
				})
			}
		}
	}
}

// TestSignersAgree checks that the two signers are the same keys and
// produce the same kind of signature: each one's signature verifies with
// Go's crypto against the other one's public key.
func TestSignersAgree(t *testing.T) {
	keys := setupSigners(t)
	digest := sha256.Sum256([]byte("agree"))
	for _, k := range keys {
		for _, c := range []struct {
			name       string
			signer     crypto.Signer
			verifyWith crypto.PublicKey
		}{
			{"purego", k.pure, k.c11.Public()},
			{"cgo-crypto11", k.c11, k.pure.Public()},
		} {
			sig, err := c.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("%s/%s: %v", k.name, c.name, err)
			}
			ok := false
			switch pub := c.verifyWith.(type) {
			case *ecdsa.PublicKey:
				ok = ecdsa.VerifyASN1(pub, digest[:], sig)
			case *rsa.PublicKey:
				ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
			default:
				t.Fatalf("%s: public key of type %T", k.name, pub)
			}
			if !ok {
				t.Errorf("%s: the %s signature does not verify with the other library's public key", k.name, c.name)
			}
		}
	}
}
