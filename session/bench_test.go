package session_test

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/session"
)

// The benchmarks measure signing with token keys on SoftHSM at three
// levels, one signature per op:
//
//	raw      the root package's SignInit and Sign on one session, from
//	         one goroutine: the baseline
//	session  Session.Sign on one session, from one goroutine: the
//	         mechanism check and error wrapping
//	pool/N   Pool.Sign from N goroutines sharing one pool of 16
//	         sessions: borrowing, returning and contention
//
// ns/op is wall time per signature, so for pool/N it is the inverse of
// the throughput of all N goroutines together.

type sessionBench struct {
	m         *pkcs11.Module
	s         *session.Session
	p         *session.Pool
	ec, rsa   session.Object
	ecDigest  []byte
	rsaDigest []byte
}

var (
	sbOnce sync.Once
	sb     sessionBench
	sbErr  error
)

func setupSessionBench(b *testing.B) *sessionBench {
	b.Helper()
	softhsm(b) // skips or fails as the tests do
	sbOnce.Do(func() { sbErr = sb.setup(b) })
	if sbErr != nil {
		b.Fatal(sbErr)
	}
	return &sb
}

func (f *sessionBench) setup(b *testing.B) error {
	m, err := pkcs11.Open(hsm.Lib)
	if err != nil {
		return err
	}
	f.m = m
	slot, tok := slotOf(b, m, tokAlpha)
	if f.s, err = session.Open(m, slot, true); err != nil {
		return err
	}
	if err := f.s.Login(ck.CKU_USER, tok.PIN); err != nil {
		return err
	}
	if _, f.ec, err = f.s.GenerateEC("P-256", session.KeyLabel("bench-ec")); err != nil {
		return err
	}
	if _, f.rsa, err = f.s.GenerateRSA(2048, session.KeyLabel("bench-rsa")); err != nil {
		return err
	}
	f.p, err = session.NewPool(ctx, m, slot, session.WithPIN(tok.PIN))
	d := sha256.Sum256([]byte("benchmark"))
	f.ecDigest = d[:]
	f.rsaDigest = d[:]
	return err
}

func BenchmarkSign(b *testing.B) {
	f := setupSessionBench(b)
	keys := []struct {
		name string
		key  session.Object
		mech ck.Mechanism
		data []byte
	}{
		{"ECDSA-P256", f.ec, session.ECDSA(0), f.ecDigest},
		{"RSA-2048", f.rsa, session.RSAPKCS1v15(0), append(digestInfoSHA256(), f.rsaDigest...)},
	}
	for _, k := range keys {
		b.Run(k.name+"/raw", func(b *testing.B) {
			u := p11test.ReadUsage()
			defer u.ReportSince(b)
			for b.Loop() {
				if err := f.m.SignInit(f.s.Handle(), k.mech, k.key.Handle); err != nil {
					b.Fatal(err)
				}
				if _, err := f.m.Sign(f.s.Handle(), k.data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(k.name+"/session", func(b *testing.B) {
			u := p11test.ReadUsage()
			defer u.ReportSince(b)
			for b.Loop() {
				if _, err := f.s.Sign(k.key, k.mech, k.data); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, g := range []int{1, 2, 8, 64} {
			b.Run(fmt.Sprintf("%s/pool/%d", k.name, g), func(b *testing.B) {
				var next atomic.Int64
				var wg sync.WaitGroup
				n := int64(b.N)
				u := p11test.ReadUsage()
				defer u.ReportSince(b)
				b.ResetTimer()
				for range g {
					wg.Go(func() {
						for next.Add(1) <= n {
							if _, err := f.p.Sign(ctx, k.key, k.mech, k.data); err != nil {
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

// digestInfoSHA256 is the DER prefix of a PKCS #1 v1.5 DigestInfo for
// SHA-256, which CKM_RSA_PKCS signs together with the digest.
func digestInfoSHA256() []byte {
	return []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
}
