package session_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/session"
	"github.com/purepkcs11/pkcs11/token"
)

// Name a key by a pkcs11: URI (RFC 7512): the URI picks the token, the
// pool logs in, and FindOneURI finds the key on it.
func ExamplePool_FindOneURI() {
	u, err := token.ParseURI("pkcs11:token=my%20token;object=signing%20key;type=private?module-name=softhsm2")
	if err != nil {
		log.Fatal(err)
	}
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	snap, err := token.Discover(m)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := snap.Token(token.MatchURI(u))
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	p, err := session.NewPool(ctx, m, tok.SlotID, session.WithPIN([]byte("1234")))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	key, err := p.FindOneURI(ctx, u) // ErrNotFound, ErrAmbiguous
	if err != nil {
		log.Fatal(err)
	}
	digest := sha256.Sum256([]byte("message"))
	sig, err := p.Sign(ctx, key, session.ECDSA(0), digest[:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d-byte signature\n", len(sig))
}
