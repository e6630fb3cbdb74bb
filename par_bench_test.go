//go:build linux || darwin || freebsd || netbsd

package pkcs11_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
)

// BenchmarkSignParallel signs from g goroutines, each on its own session,
// through the root layer, and from g C threads doing the same (c/): the
// scaling the module allows and how much of it the library keeps. Run it
// with several GOMAXPROCS values: go test -bench SignParallel -cpu 2,3.
func BenchmarkSignParallel(b *testing.B) {
	f := setupBench(b)
	data := bytes.Repeat([]byte{0x42}, 32)
	_, slot := token(b, f.m, tokAlpha)
	cases := []struct {
		name string
		mech ck.MechanismType
		key  ck.ObjectHandle
	}{
		{"ECDSA-P256", ck.CKM_ECDSA, f.ec},
		{"RSA-2048", ck.CKM_SHA256_RSA_PKCS, f.rsa},
	}
	for _, c := range cases {
		for _, g := range []int{1, 2, 4} {
			sessions := make([]ck.SessionHandle, g)
			native := make([]uintptr, g)
			for i := range sessions {
				s, err := f.m.OpenSession(slot, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer f.m.CloseSession(s)
				sessions[i], native[i] = s, uintptr(s)
			}
			b.Run(fmt.Sprintf("%s/go/g=%d", c.name, g), func(b *testing.B) {
				u := p11test.ReadUsage()
				defer u.ReportSince(b)
				var wg sync.WaitGroup
				per := b.N / g
				for i := range g {
					wg.Go(func() {
						buf := make([]byte, 1024)
						for range per {
							if err := f.m.SignInit(sessions[i], ck.Mechanism{Type: c.mech}, c.key); err != nil {
								b.Error(err)
								return
							}
							if _, err := f.m.SignInto(sessions[i], data, buf); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
			b.Run(fmt.Sprintf("%s/c/g=%d", c.name, g), func(b *testing.B) {
				u := p11test.ReadUsage()
				defer u.ReportSince(b)
				runC(b, f.cSignThreads, uintptr(g), uintptr(unsafePointer(&native[0])), uintptr(c.mech), uintptr(c.key))
			})
		}
	}
}
