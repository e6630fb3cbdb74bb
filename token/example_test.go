package token_test

import (
	"context"
	"fmt"
	"log"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
	"github.com/purepkcs11/pkcs11/token"
)

func ExampleDiscover() {
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	s, err := token.Discover(m, token.WithMechanisms())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Info.ManufacturerID, s.Info.LibraryVersion)
	for _, sl := range s.Slots {
		if sl.Err != nil {
			fmt.Println(sl.Err) // this slot only: the others are there
			continue
		}
		if t := sl.Token; t != nil {
			fmt.Printf("%v: user PIN %v, ECDSA signing: %v\n", t, t.UserPIN(), t.Supports(ck.CKM_ECDSA, ck.CKF_SIGN))
		}
	}

	tok, err := s.Token(token.Label("my token"))
	if err != nil {
		log.Fatal(err) // token: no token with label "my token"
	}
	session, err := m.OpenSession(tok.SlotID, ck.CKF_RW_SESSION)
	if err != nil {
		log.Fatal(err)
	}
	defer m.CloseSession(session)
}

func ExampleParseURI() {
	u, err := token.ParseURI("pkcs11:token=My%20Token;object=signing%20key;type=private?pin-value=1234")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Token, "/", u.Object, "/", u.Type)
	fmt.Println(u) // never the PIN
	fmt.Println(u.MatchesToken(ck.TokenInfo{Label: "My Token"}))
	template, ok := u.ObjectTemplate()
	fmt.Println(ok)
	for _, a := range template {
		fmt.Println(a.Type)
	}
	fmt.Println(u.MatchesObject(ck.CKO_PRIVATE_KEY, "signing key", []byte{1}))
	// Output:
	// My Token / signing key / private
	// pkcs11:token=My%20Token;object=signing%20key;type=private
	// true
	// true
	// CKA_CLASS
	// CKA_LABEL
	// true
}

func ExampleSnapshot_Token() {
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s, err := token.Discover(m)
	if err != nil {
		log.Fatal(err)
	}

	u := token.MustParseURI("pkcs11:token=my%20token;manufacturer=SoftHSM%20project")
	tok, err := s.Token(token.MatchURI(u))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.SlotID)
}

func ExampleWatch() {
	m, err := pkcs11.Open("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := token.Watch(ctx, m, token.InitialEvents())
	if err != nil {
		log.Fatal(err)
	}
	for ev := range events {
		switch ev.Kind {
		case token.Inserted:
			fmt.Println("inserted:", ev.Token)
		case token.Removed:
			fmt.Println("removed:", ev.Token)
		case token.Changed:
			fmt.Println("changed:", ev.Token, "user PIN", ev.Token.UserPIN())
		case token.Failure:
			fmt.Println("failure:", ev.Err)
		}
	}
}
