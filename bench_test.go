//go:build linux || darwin || freebsd || netbsd

package pkcs11_test

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ebitengine/purego"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/cbuild"
	"github.com/purepkcs11/pkcs11/internal/p11test"
)

// The benchmarks run each operation through the library ("go") and, in
// the same process on the same session and keys, through a plain C loop
// ("c", testdata/cbench), so that one `go test -bench` run gives the
// ratio between the two. Compare with benchstat over -count=6 or more.

type benchFixture struct {
	m                    *pkcs11.Module
	s                    ck.SessionHandle
	ec, rsa, ed          ck.ObjectHandle
	blob                 ck.ObjectHandle // a data object with a 1 KiB value
	cGetInfo, cRandom    uintptr
	cSign, cGetattr      uintptr
	cFind, cSignThreads  uintptr
	findLabel, cFindName []byte
}

var (
	benchOnce sync.Once
	bench     benchFixture
	benchErr  error
)

func setupBench(b *testing.B) *benchFixture {
	b.Helper()
	p11test.Require(b, "SoftHSM2", hsmErr)
	benchOnce.Do(func() { benchErr = bench.setup() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return &bench
}

func (f *benchFixture) setup() error {
	m, err := pkcs11.Open(hsm.Lib)
	if err != nil {
		return err
	}
	f.m = m
	var tok p11test.Token
	var slot ck.SlotID
	slots, err := m.GetSlotList(true)
	if err != nil {
		return err
	}
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err == nil && ti.Label == tokAlpha {
			slot = s
		}
	}
	for _, t := range hsm.Tokens {
		if t.Label == tokAlpha {
			tok = t
		}
	}
	if f.s, err = m.OpenSession(slot, ck.CKF_RW_SESSION); err != nil {
		return err
	}
	if err := m.Login(f.s, ck.CKU_USER, tok.PIN); err != nil && !isRV(err, ck.CKR_USER_ALREADY_LOGGED_IN) {
		return err
	}

	priv := func(label string) []ck.Attribute {
		return []ck.Attribute{
			ck.MustAttribute(ck.CKA_TOKEN, true), ck.MustAttribute(ck.CKA_PRIVATE, true),
			ck.MustAttribute(ck.CKA_SIGN, true), ck.MustAttribute(ck.CKA_SENSITIVE, true),
			ck.MustAttribute(ck.CKA_LABEL, label),
		}
	}
	pub := func(extra ...ck.Attribute) []ck.Attribute {
		return append([]ck.Attribute{ck.MustAttribute(ck.CKA_TOKEN, false), ck.MustAttribute(ck.CKA_VERIFY, true)}, extra...)
	}
	p256, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	ed25519, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 101, 112})
	if _, f.ec, err = m.GenerateKeyPair(f.s, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN},
		pub(ck.MustAttribute(ck.CKA_EC_PARAMS, p256)), priv("bench-ec")); err != nil {
		return fmt.Errorf("EC key: %w", err)
	}
	if _, f.rsa, err = m.GenerateKeyPair(f.s, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN},
		pub(ck.MustAttribute(ck.CKA_MODULUS_BITS, 2048), ck.MustAttribute(ck.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1})),
		priv("bench-rsa")); err != nil {
		return fmt.Errorf("RSA key: %w", err)
	}
	if _, f.ed, err = m.GenerateKeyPair(f.s, ck.Mechanism{Type: ck.CKM_EC_EDWARDS_KEY_PAIR_GEN},
		pub(ck.MustAttribute(ck.CKA_EC_PARAMS, ed25519)), priv("bench-ed")); err != nil {
		return fmt.Errorf("Ed25519 key: %w", err)
	}
	// 1000 objects to search among, and the one with a 1 KiB value.
	for i := range 1000 {
		h, err := m.CreateObject(f.s, dataTemplate(fmt.Sprintf("bench-obj-%04d", i), bytes.Repeat([]byte{byte(i)}, 1024)))
		if err != nil {
			return err
		}
		if i == 500 {
			f.blob = h
		}
	}
	f.findLabel = []byte("bench-obj-0500")
	f.cFindName = append([]byte("bench-obj-0500"), 0)
	return f.setupC()
}

// setupC builds testdata/cbench and points it at the module already
// loaded in this process.
func (f *benchFixture) setupC() error {
	var open uintptr
	_, err := cbuild.BuildAndLoad(filepath.Join("testdata", "cbench", "cbench.c"), map[string]*uintptr{
		"cbench_open": &open, "cbench_getinfo": &f.cGetInfo, "cbench_random": &f.cRandom,
		"cbench_sign": &f.cSign, "cbench_getattr": &f.cGetattr, "cbench_find": &f.cFind,
		"cbench_sign_threads": &f.cSignThreads,
	}, "-O2", "-pthread")
	if err != nil {
		return err
	}
	path := append([]byte(f.m.Path()), 0)
	if r, _, _ := purego.SyscallN(open, uintptr(unsafePointer(&path[0]))); r != 0 {
		return fmt.Errorf("cbench_open(%s) = %d", f.m.Path(), int32(r))
	}
	return nil
}

// runC runs a C loop of b.N iterations and fails on a non-OK CK_RV.
func runC(b *testing.B, fn uintptr, args ...uintptr) {
	b.Helper()
	b.ResetTimer()
	r, _, _ := purego.SyscallN(fn, append(args, uintptr(b.N))...)
	if r != 0 {
		b.Fatalf("C loop: %v", ck.RV(r))
	}
}

func BenchmarkGetInfo(b *testing.B) {
	f := setupBench(b)
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.m.GetInfo(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("c", func(b *testing.B) { runC(b, f.cGetInfo) })
}

func BenchmarkGenerateRandom32(b *testing.B) {
	f := setupBench(b)
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.m.GenerateRandom(f.s, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-into", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 32)
		for b.Loop() {
			if err := f.m.GenerateRandomInto(f.s, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("c", func(b *testing.B) { runC(b, f.cRandom, uintptr(f.s)) })
}

func benchSign(b *testing.B, mech ck.MechanismType, key func(*benchFixture) ck.ObjectHandle) {
	f := setupBench(b)
	data := bytes.Repeat([]byte{0x42}, 32)
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f.m.SignInit(f.s, ck.Mechanism{Type: mech}, key(f)); err != nil {
				b.Fatal(err)
			}
			if _, err := f.m.Sign(f.s, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-into", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 1024)
		for b.Loop() {
			if err := f.m.SignInit(f.s, ck.Mechanism{Type: mech}, key(f)); err != nil {
				b.Fatal(err)
			}
			if _, err := f.m.SignInto(f.s, data, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("c", func(b *testing.B) { runC(b, f.cSign, uintptr(f.s), uintptr(mech), uintptr(key(f))) })
}

func BenchmarkSignECDSAP256(b *testing.B) {
	benchSign(b, ck.CKM_ECDSA, func(f *benchFixture) ck.ObjectHandle { return f.ec })
}

func BenchmarkSignRSA2048(b *testing.B) {
	benchSign(b, ck.CKM_SHA256_RSA_PKCS, func(f *benchFixture) ck.ObjectHandle { return f.rsa })
}

func BenchmarkSignEd25519(b *testing.B) {
	benchSign(b, ck.CKM_EDDSA, func(f *benchFixture) ck.ObjectHandle { return f.ed })
}

func BenchmarkFindObjectsByLabel(b *testing.B) {
	f := setupBench(b)
	tmpl := []ck.Attribute{{Type: ck.CKA_LABEL, Value: f.findLabel}}
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f.m.FindObjectsInit(f.s, tmpl); err != nil {
				b.Fatal(err)
			}
			hs, err := f.m.FindObjects(f.s, 4)
			if err != nil || len(hs) != 1 {
				b.Fatal(hs, err)
			}
			if err := f.m.FindObjectsFinal(f.s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("c", func(b *testing.B) { runC(b, f.cFind, uintptr(f.s), uintptr(unsafePointer(&f.cFindName[0]))) })
}

func BenchmarkGetAttributeValue1KiB(b *testing.B) {
	f := setupBench(b)
	types := []ck.AttributeType{ck.CKA_VALUE}
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := f.m.GetAttributeValue(f.s, f.blob, types)
			if err != nil || len(res[0].Value) != 1024 {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-hint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := f.m.GetAttributeValueHint(f.s, f.blob, types, 1024)
			if err != nil || len(res[0].Value) != 1024 {
				b.Fatal(err)
			}
		}
	})
	b.Run("c", func(b *testing.B) { runC(b, f.cGetattr, uintptr(f.s), uintptr(f.blob), uintptr(ck.CKA_VALUE)) })
}
