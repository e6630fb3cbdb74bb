package token_test

import (
	"testing"

	"github.com/purepkcs11/pkcs11/token"
)

// BenchmarkDiscover discovers SoftHSM with the tokens of TestMain (four
// and the free slot), without and with the mechanisms (about 70 per
// token), and p11-kit's trust module. It reports the C calls one
// discovery makes.
func BenchmarkDiscover(b *testing.B) {
	m := softhsm(b)
	for _, bc := range []struct {
		name string
		opts []token.Option
	}{
		{"tokens", nil},
		{"mechanisms", []token.Option{token.WithMechanisms()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := token.Discover(m, bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := token.Discover(m, bc.opts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(calls(s)), "calls/op")
		})
	}
	b.Run("trust", func(b *testing.B) {
		tm := trust(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := token.Discover(tm); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// calls counts the C calls of the discovery that made s: C_GetInfo and
// C_GetSlotList, then per slot C_GetSlotInfo, C_GetTokenInfo and, with
// mechanisms, C_GetMechanismList (which sizes then fills) and one
// C_GetMechanismInfo per mechanism.
func calls(s *token.Snapshot) int {
	n := 1 + 2 // C_GetSlotList also sizes then fills
	for _, sl := range s.Slots {
		n++
		if t := sl.Token; t != nil {
			n++
			if t.Mechanisms != nil {
				n += 2 + len(t.Mechanisms)
			}
		}
	}
	return n
}
