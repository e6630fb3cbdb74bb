//go:build cgo

package cgobench

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ThalesGroup/crypto11"
	miekg "github.com/miekg/pkcs11"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// Each benchmark runs one operation through purepkcs11 ("purego") and
// through github.com/miekg/pkcs11 ("cgo"), in this process, on the one
// loaded and initialized SoftHSM2, the same token and the same keys and
// objects. Each sub-benchmark has its own session, logged in. Compare the
// two with benchstat over -count=6 or more (README.md).

const tokLabel = "cgobench"

// The SoftHSM configuration: SoftHSM reads it once, in C_Initialize, so
// TestMain writes it before anything loads the module.
var (
	hsm    *p11test.SoftHSM
	hsmErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cgobench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hsm, hsmErr = p11test.NewSoftHSM(dir, tokLabel)
	if hsmErr == nil {
		hsmErr = hsm.Setenv()
	}
	code := m.Run()
	if err := fix.close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is the module as both bindings see it, and what the benchmarks
// work on. The token's login and the public keys (session objects) and
// the data objects live as long as the setup session does.
type fixture struct {
	pure   *pkcs11.Module
	cgo    *miekg.Ctx
	c11    *crypto11.Context // crypto11's own view of the module, for the signers
	store  *x509hsm.Store    // purepkcs11's, for the signers
	slot   ck.SlotID
	pin    []byte
	setup  ck.SessionHandle
	ec     keyPair
	rsa    keyPair
	ed     keyPair
	blob   ck.ObjectHandle // the data object with a 1 KiB value
	label  []byte          // the label of one of the 1000 data objects
	target ck.ObjectHandle // the object labelled label
}

type keyPair struct {
	pub, priv ck.ObjectHandle
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
)

// setup returns the fixture, made on first use. It skips the benchmark if
// SoftHSM2 is missing on a developer's machine and fails it in CI.
func setup(tb testing.TB) *fixture {
	tb.Helper()
	p11test.Require(tb, "SoftHSM2", hsmErr)
	fixOnce.Do(func() { fixErr = fix.open() })
	if fixErr != nil {
		tb.Fatal(fixErr)
	}
	return &fix
}

// open loads SoftHSM through crypto11, which initializes it, then through
// purepkcs11 and miekg/pkcs11, whose dlopen returns the same loaded
// library: miekg/pkcs11's C_Initialize must therefore report
// CKR_CRYPTOKI_ALREADY_INITIALIZED; any other answer means the bindings
// would not share one module. Then it makes the keys and objects.
func (f *fixture) open() error {
	// crypto11 insists on initializing the module itself, so it goes
	// first; purepkcs11 then shares the initialized module and will not
	// finalize it.
	c11, err := crypto11.Configure(&crypto11.Config{Path: hsm.Lib, TokenLabel: tokLabel, Pin: string(hsm.Tokens[0].PIN)})
	if err != nil {
		return fmt.Errorf("crypto11: %w", err)
	}
	f.c11 = c11
	m, err := pkcs11.Open(hsm.Lib)
	if err != nil {
		return err
	}
	f.pure = m
	c := miekg.New(hsm.Lib)
	if c == nil {
		return fmt.Errorf("miekg/pkcs11: New(%s) failed", hsm.Lib)
	}
	f.cgo = c
	err = c.Initialize()
	if !errors.Is(err, miekg.Error(miekg.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("miekg/pkcs11: Initialize after purepkcs11's: got %v, want CKR_CRYPTOKI_ALREADY_INITIALIZED (not the same loaded module?)", err)
	}

	slots, err := m.GetSlotList(true)
	if err != nil {
		return err
	}
	found := false
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err == nil && ti.Label == tokLabel {
			f.slot, found = s, true
		}
	}
	if !found {
		return fmt.Errorf("token %q not found in slots %v", tokLabel, slots)
	}
	f.pin = hsm.Tokens[0].PIN
	if f.setup, err = f.pureSession(); err != nil {
		return err
	}
	return f.makeObjects()
}

// makeObjects generates the token keys and the data objects through
// purepkcs11, in the setup session.
func (f *fixture) makeObjects() error {
	m, s := f.pure, f.setup
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
	var err error
	if f.ec.pub, f.ec.priv, err = m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN},
		pub(ck.MustAttribute(ck.CKA_EC_PARAMS, p256)), priv("cgobench-ec")); err != nil {
		return fmt.Errorf("ECDSA P-256 key: %w", err)
	}
	if f.rsa.pub, f.rsa.priv, err = m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_RSA_PKCS_KEY_PAIR_GEN},
		pub(ck.MustAttribute(ck.CKA_MODULUS_BITS, 2048), ck.MustAttribute(ck.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1})),
		priv("cgobench-rsa")); err != nil {
		return fmt.Errorf("RSA-2048 key: %w", err)
	}
	if f.ed.pub, f.ed.priv, err = m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_EC_EDWARDS_KEY_PAIR_GEN},
		pub(ck.MustAttribute(ck.CKA_EC_PARAMS, ed25519)), priv("cgobench-ed25519")); err != nil {
		return fmt.Errorf("Ed25519 key: %w", err)
	}

	// 1000 labelled data objects to search among, and one with a 1 KiB
	// value to read. They are session objects of the setup session, as in
	// the root module's benchmarks; every session of the process sees them.
	data := func(label string, value []byte) []ck.Attribute {
		return []ck.Attribute{
			ck.MustAttribute(ck.CKA_CLASS, ck.CKO_DATA),
			ck.MustAttribute(ck.CKA_TOKEN, false),
			ck.MustAttribute(ck.CKA_LABEL, label),
			ck.MustAttribute(ck.CKA_APPLICATION, "cgobench"),
			ck.MustAttribute(ck.CKA_VALUE, value),
		}
	}
	for i := range 1000 {
		label := fmt.Sprintf("cgobench-obj-%04d", i)
		h, err := m.CreateObject(s, data(label, []byte(label)))
		if err != nil {
			return err
		}
		if i == 500 {
			f.label, f.target = []byte(label), h
		}
	}
	if f.blob, err = m.CreateObject(s, data("cgobench-blob", bytes.Repeat([]byte{0xa5}, 1024))); err != nil {
		return err
	}
	return nil
}

// close ends what open began, in the order that keeps the module alive
// while it is in use: miekg/pkcs11 and purepkcs11 did not initialize the
// module, so they only unload their references (neither calls
// C_Finalize); crypto11, which initialized it, finalizes it last.
func (f *fixture) close() error {
	var errs []error
	if f.store != nil {
		errs = append(errs, f.store.Close())
	}
	if f.cgo != nil {
		f.cgo.Destroy()
	}
	if f.pure != nil {
		errs = append(errs, f.pure.Close())
	}
	if f.c11 != nil {
		errs = append(errs, f.c11.Close())
	}
	return errors.Join(errs...)
}

// pureSession opens a read-write session through purepkcs11 and logs the
// user in; the token may already be logged in by another session.
func (f *fixture) pureSession() (ck.SessionHandle, error) {
	s, err := f.pure.OpenSession(f.slot, ck.CKF_RW_SESSION)
	if err != nil {
		return 0, err
	}
	if err := f.pure.Login(s, ck.CKU_USER, f.pin); err != nil && !errors.Is(err, ck.CKR_USER_ALREADY_LOGGED_IN) {
		f.pure.CloseSession(s)
		return 0, err
	}
	return s, nil
}

// pureBench returns a session of its own for one purepkcs11 benchmark,
// closed when the benchmark ends.
func (f *fixture) pureBench(b *testing.B) ck.SessionHandle {
	b.Helper()
	s, err := f.pureSession()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.pure.CloseSession(s) })
	return s
}

// cgoBench returns a session of its own for one miekg/pkcs11 benchmark,
// opened and logged in through miekg/pkcs11, closed when the benchmark
// ends.
func (f *fixture) cgoBench(b *testing.B) miekg.SessionHandle {
	b.Helper()
	s, err := f.cgo.OpenSession(uint(f.slot), miekg.CKF_SERIAL_SESSION|miekg.CKF_RW_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.cgo.CloseSession(s) })
	err = f.cgo.Login(s, miekg.CKU_USER, string(f.pin))
	if err != nil && !errors.Is(err, miekg.Error(miekg.CKR_USER_ALREADY_LOGGED_IN)) {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGetInfo(b *testing.B) {
	f := setup(b)
	b.Run("purego", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.pure.GetInfo(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cgo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.cgo.GetInfo(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGenerateRandom32(b *testing.B) {
	f := setup(b)
	b.Run("purego", func(b *testing.B) {
		s := f.pureBench(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.pure.GenerateRandom(s, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cgo", func(b *testing.B) {
		s := f.cgoBench(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.cgo.GenerateRandom(s, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchSign signs a 32-byte message with SignInit and Sign. purepkcs11
// takes the mechanism as a value built in the loop; miekg/pkcs11's
// mechanism list is built once, outside it, as a program would keep it.
func benchSign(b *testing.B, mech ck.MechanismType, key func(*fixture) keyPair, sigLen int) {
	f := setup(b)
	priv := key(f).priv
	data := bytes.Repeat([]byte{0x42}, 32)
	b.Run("purego", func(b *testing.B) {
		s := f.pureBench(b)
		b.ReportAllocs()
		u := p11test.ReadUsage()
		defer u.ReportSince(b)
		for b.Loop() {
			if err := f.pure.SignInit(s, ck.Mechanism{Type: mech}, priv); err != nil {
				b.Fatal(err)
			}
			sig, err := f.pure.Sign(s, data)
			if err != nil || len(sig) != sigLen {
				b.Fatal(len(sig), err)
			}
		}
	})
	b.Run("cgo", func(b *testing.B) {
		s := f.cgoBench(b)
		m := []*miekg.Mechanism{miekg.NewMechanism(uint(mech), nil)}
		b.ReportAllocs()
		u := p11test.ReadUsage()
		defer u.ReportSince(b)
		for b.Loop() {
			if err := f.cgo.SignInit(s, m, miekg.ObjectHandle(priv)); err != nil {
				b.Fatal(err)
			}
			sig, err := f.cgo.Sign(s, data)
			if err != nil || len(sig) != sigLen {
				b.Fatal(len(sig), err)
			}
		}
	})
}

func BenchmarkSignECDSAP256(b *testing.B) {
	benchSign(b, ck.CKM_ECDSA, func(f *fixture) keyPair { return f.ec }, 64)
}

func BenchmarkSignRSA2048(b *testing.B) {
	benchSign(b, ck.CKM_SHA256_RSA_PKCS, func(f *fixture) keyPair { return f.rsa }, 256)
}

func BenchmarkSignEd25519(b *testing.B) {
	benchSign(b, ck.CKM_EDDSA, func(f *fixture) keyPair { return f.ed }, 64)
}

// BenchmarkFindObjectsByLabel finds one object by its label among the
// 1000 data objects: FindObjectsInit, FindObjects, FindObjectsFinal. Both
// templates are built once, outside the loop.
func BenchmarkFindObjectsByLabel(b *testing.B) {
	f := setup(b)
	b.Run("purego", func(b *testing.B) {
		s := f.pureBench(b)
		tmpl := []ck.Attribute{{Type: ck.CKA_LABEL, Value: f.label}}
		b.ReportAllocs()
		for b.Loop() {
			if err := f.pure.FindObjectsInit(s, tmpl); err != nil {
				b.Fatal(err)
			}
			hs, err := f.pure.FindObjects(s, 4)
			if err != nil || len(hs) != 1 || hs[0] != f.target {
				b.Fatal(hs, err)
			}
			if err := f.pure.FindObjectsFinal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cgo", func(b *testing.B) {
		s := f.cgoBench(b)
		tmpl := []*miekg.Attribute{miekg.NewAttribute(miekg.CKA_LABEL, f.label)}
		b.ReportAllocs()
		for b.Loop() {
			if err := f.cgo.FindObjectsInit(s, tmpl); err != nil {
				b.Fatal(err)
			}
			hs, _, err := f.cgo.FindObjects(s, 4)
			if err != nil || len(hs) != 1 || ck.ObjectHandle(hs[0]) != f.target {
				b.Fatal(hs, err)
			}
			if err := f.cgo.FindObjectsFinal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetAttributeValue1KiB reads the 1 KiB CKA_VALUE of a data
// object. purepkcs11's GetAttributeValue and miekg/pkcs11's both ask for
// the length first, then the value: two C calls. purego-hint offers 1024
// bytes at once: one call.
func BenchmarkGetAttributeValue1KiB(b *testing.B) {
	f := setup(b)
	types := []ck.AttributeType{ck.CKA_VALUE}
	b.Run("purego", func(b *testing.B) {
		s := f.pureBench(b)
		b.ReportAllocs()
		for b.Loop() {
			res, err := f.pure.GetAttributeValue(s, f.blob, types)
			if err != nil || res[0].Err != nil || len(res[0].Value) != 1024 {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("purego-hint", func(b *testing.B) {
		s := f.pureBench(b)
		b.ReportAllocs()
		for b.Loop() {
			res, err := f.pure.GetAttributeValueHint(s, f.blob, types, 1024)
			if err != nil || res[0].Err != nil || len(res[0].Value) != 1024 {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("cgo", func(b *testing.B) {
		s := f.cgoBench(b)
		tmpl := []*miekg.Attribute{miekg.NewAttribute(miekg.CKA_VALUE, nil)}
		b.ReportAllocs()
		for b.Loop() {
			res, err := f.cgo.GetAttributeValue(s, miekg.ObjectHandle(f.blob), tmpl)
			if err != nil || len(res[0].Value) != 1024 {
				b.Fatal(res, err)
			}
		}
	})
}

// TestBindingsAgree checks that the benchmarks compare like with like:
// both bindings see the same objects, read the same value, and sign with
// the same keys (each binding's signature verifies through the other).
func TestBindingsAgree(t *testing.T) {
	f := setup(t)
	ps, err := f.pureSession()
	if err != nil {
		t.Fatal(err)
	}
	defer f.pure.CloseSession(ps)
	cs, err := f.cgo.OpenSession(uint(f.slot), miekg.CKF_SERIAL_SESSION|miekg.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer f.cgo.CloseSession(cs)

	if err := f.cgo.FindObjectsInit(cs, []*miekg.Attribute{miekg.NewAttribute(miekg.CKA_LABEL, f.label)}); err != nil {
		t.Fatal(err)
	}
	hs, _, err := f.cgo.FindObjects(cs, 4)
	if err != nil || len(hs) != 1 || ck.ObjectHandle(hs[0]) != f.target {
		t.Errorf("miekg/pkcs11 found %v (%v), want [%d]", hs, err, f.target)
	}
	if err := f.cgo.FindObjectsFinal(cs); err != nil {
		t.Fatal(err)
	}

	res, err := f.pure.GetAttributeValue(ps, f.blob, []ck.AttributeType{ck.CKA_VALUE})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := f.cgo.GetAttributeValue(cs, miekg.ObjectHandle(f.blob), []*miekg.Attribute{miekg.NewAttribute(miekg.CKA_VALUE, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res[0].Value, attrs[0].Value) || len(attrs[0].Value) != 1024 {
		t.Errorf("CKA_VALUE: purepkcs11 read %d bytes, miekg/pkcs11 %d, or they differ", len(res[0].Value), len(attrs[0].Value))
	}

	data := bytes.Repeat([]byte{0x42}, 32)
	for _, c := range []struct {
		name string
		mech ck.MechanismType
		key  keyPair
	}{
		{"ECDSA-P256", ck.CKM_ECDSA, f.ec},
		{"RSA-2048", ck.CKM_SHA256_RSA_PKCS, f.rsa},
		{"Ed25519", ck.CKM_EDDSA, f.ed},
	} {
		m := []*miekg.Mechanism{miekg.NewMechanism(uint(c.mech), nil)}
		if err := f.pure.SignInit(ps, ck.Mechanism{Type: c.mech}, c.key.priv); err != nil {
			t.Fatal(c.name, err)
		}
		sig, err := f.pure.Sign(ps, data)
		if err != nil {
			t.Fatal(c.name, err)
		}
		if err := f.cgo.VerifyInit(cs, m, miekg.ObjectHandle(c.key.pub)); err != nil {
			t.Fatal(c.name, err)
		}
		if err := f.cgo.Verify(cs, data, sig); err != nil {
			t.Errorf("%s: purepkcs11's signature does not verify through miekg/pkcs11: %v", c.name, err)
		}

		if err := f.cgo.SignInit(cs, m, miekg.ObjectHandle(c.key.priv)); err != nil {
			t.Fatal(c.name, err)
		}
		if sig, err = f.cgo.Sign(cs, data); err != nil {
			t.Fatal(c.name, err)
		}
		if err := f.pure.VerifyInit(ps, ck.Mechanism{Type: c.mech}, c.key.pub); err != nil {
			t.Fatal(c.name, err)
		}
		if err := f.pure.Verify(ps, data, sig); err != nil {
			t.Errorf("%s: miekg/pkcs11's signature does not verify through purepkcs11: %v", c.name, err)
		}
	}
}
