package session_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/session"
)

// Share a token between goroutines: a pool logs in once, finds a key
// and signs with it, recovering from lost sessions on its own.
func ExamplePool_Sign() {
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	slot := ck.SlotID(0) // from package token: by label or serial

	ctx := context.Background()
	p, err := session.NewPool(ctx, m, slot, session.WithPIN([]byte("1234")))
	if err != nil {
		log.Fatal(err) // a wrong PIN is reported here, and never retried
	}
	defer p.Close()

	key, err := p.FindOne(ctx, []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY),
		ck.MustAttribute(ck.CKA_LABEL, "signing key"),
	})
	if errors.Is(err, session.ErrNotFound) {
		log.Fatal("no such key")
	} else if err != nil {
		log.Fatal(err)
	}

	// Safe from any number of goroutines.
	digest := sha256.Sum256([]byte("message"))
	sig, err := p.Sign(ctx, key, session.ECDSA(0), digest[:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d-byte signature\n", len(sig))
}

// Generate a key pair with secure defaults (private, sensitive, not
// extractable, on the token) and sign with RSA-PSS; the token hashes.
func ExampleSession_GenerateRSA() {
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s, err := session.Open(m, ck.SlotID(0), true)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.Login(ck.CKU_USER, []byte("1234")); err != nil {
		log.Fatal(err)
	}

	_, priv, err := s.GenerateRSA(3072, session.KeyLabel("release signing"))
	if err != nil {
		log.Fatal(err)
	}
	sig, err := s.Sign(priv, session.RSAPSS(crypto.SHA256, rsa.PSSSaltLengthEqualsHash), []byte("message"))
	if err != nil {
		var me *session.MechanismError
		if errors.As(err, &me) {
			log.Fatalf("the token cannot do %v", me.Mechanism)
		}
		log.Fatal(err)
	}
	fmt.Printf("%d-byte signature\n", len(sig))
}

// Go through every certificate of a token with thousands of objects,
// reading handles 100 at a time.
func ExampleSession_FindIter() {
	m, err := pkcs11.Open("/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s, err := session.Open(m, ck.SlotID(0), false)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	n := 0
	for h, err := range s.FindIter([]ck.Attribute{ck.MustAttribute(ck.CKA_CLASS, ck.CKO_CERTIFICATE)}, 100) {
		if err != nil {
			log.Fatal(err)
		}
		o, err := s.Object(h)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(o.Label)
		if n++; n == 10 {
			break // the search is ended all the same
		}
	}
}
