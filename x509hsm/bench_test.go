package x509hsm_test

import (
	"crypto"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// BenchmarkSign measures Signer.Sign against the root package's
// SignInit and Sign on SoftHSM, one signature per op, from 1, 2 and 8
// goroutines:
//
//	raw/N     N goroutines, each with its own logged-in session, calling
//	          Module.SignInit and Module.Sign with the mechanism and
//	          data Signer would use: the baseline
//	signer/N  N goroutines sharing one entry's Signer, through the
//	          store's session pool
//
// ns/op is wall time per signature, the inverse of the throughput of
// all N goroutines together, so signer/N over raw/N is the overhead of
// this package and the session pool at that concurrency. cpu-ns/op is
// the CPU time the whole process (SoftHSM included) spent per signature,
// which other load on the machine disturbs less than wall time.
func BenchmarkSign(b *testing.B) {
	f := setupBench(b)
	digest := sha256.Sum256([]byte("benchmark"))
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	for _, k := range []struct {
		name  string
		entry *x509hsm.Entry
		key   ck.ObjectHandle
		mech  ck.Mechanism
		data  []byte
	}{
		{"ECDSA-P256", f.ec, f.ecKey, ck.Mechanism{Type: ck.CKM_ECDSA}, digest[:]},
		{"RSA-2048", f.rsa, f.rsaKey, ck.Mechanism{Type: ck.CKM_RSA_PKCS}, append(prefix, digest[:]...)},
	} {
		for _, g := range []int{1, 2, 8} {
			b.Run(fmt.Sprintf("%s/raw/%d", k.name, g), func(b *testing.B) {
				parallel(b, g, func(i int) error {
					h := f.sessions[i].Handle()
					if err := f.m.SignInit(h, k.mech, k.key); err != nil {
						return err
					}
					_, err := f.m.Sign(h, k.data)
					return err
				})
			})
			b.Run(fmt.Sprintf("%s/signer/%d", k.name, g), func(b *testing.B) {
				sg := k.entry.Signer()
				parallel(b, g, func(int) error {
					_, err := sg.Sign(nil, digest[:], crypto.SHA256)
					return err
				})
			})
		}
	}
}

// parallel runs b.N calls of op from g goroutines; op gets the
// goroutine's number.
func parallel(b *testing.B, g int, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	n := int64(b.N)
	cpu0, ok := processCPU()
	b.ResetTimer()
	for i := range g {
		wg.Go(func() {
			for next.Add(1) <= n {
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if cpu1, ok1 := processCPU(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

type benchFixture struct {
	m             *pkcs11.Module
	sessions      []*session.Session
	ec, rsa       *x509hsm.Entry
	ecKey, rsaKey ck.ObjectHandle
}

var (
	benchOnce sync.Once
	bench     benchFixture
	benchErr  error
)

// setupBench generates the keys on token bench and opens the sessions
// and store of the benchmarks, once per process; they stay open until
// the process ends.
func setupBench(b *testing.B) *benchFixture {
	b.Helper()
	softhsm(b) // skips or fails as the tests do
	benchOnce.Do(func() { benchErr = bench.setup() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return &bench
}

func (f *benchFixture) setup() error {
	hsm, err := x509hsm.SoftHSMForTest()
	if err != nil {
		return err
	}
	if f.m, err = pkcs11.Open(hsm.Lib); err != nil {
		return err
	}
	snap, err := token.Discover(f.m)
	if err != nil {
		return err
	}
	tok, err := snap.Token(token.Label(x509hsm.TokBench))
	if err != nil {
		return err
	}
	for i := range 8 {
		s, err := session.Open(f.m, tok.SlotID, true)
		if err != nil {
			return err
		}
		if i == 0 {
			if err := s.Login(ck.CKU_USER, userPIN); err != nil {
				return err
			}
		}
		f.sessions = append(f.sessions, s)
	}
	s := f.sessions[0]
	_, ec, err := s.GenerateEC("P-256", session.KeyLabel("bench-ec"))
	if err != nil {
		return err
	}
	_, rsa, err := s.GenerateRSA(2048, session.KeyLabel("bench-rsa"))
	if err != nil {
		return err
	}
	f.ecKey, f.rsaKey = ec.Handle, rsa.Handle

	st, err := x509hsm.Open(ctx, f.m, x509hsm.WithTokens(token.Label(x509hsm.TokBench)),
		x509hsm.WithPIN(token.Label(x509hsm.TokBench), userPIN))
	if err != nil {
		return err
	}
	if err := st.Wait(ctx); err != nil {
		return err
	}
	if f.ec, err = st.FindOne(x509hsm.ByLabel("bench-ec"), x509hsm.HasPrivateKey()); err != nil {
		return err
	}
	f.rsa, err = st.FindOne(x509hsm.ByLabel("bench-rsa"), x509hsm.HasPrivateKey())
	return err
}
