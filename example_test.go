package pkcs11_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// Open a module, list its tokens, and close it.
func ExampleOpen() {
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	info, err := m.GetInfo()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %v (Cryptoki %v)\n", info.ManufacturerID, info.LibraryVersion, info.CryptokiVersion)

	slots, err := m.GetSlotList(true)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("slot %d: %q serial %s\n", s, ti.Label, ti.SerialNumber)
	}
}

// Find a private key by label and sign a SHA-256 digest with ECDSA.
func ExampleModule_Sign() {
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	slot := ck.SlotID(0) // from GetSlotList and GetTokenInfo

	s, err := m.OpenSession(slot, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer m.CloseSession(s)
	pin := []byte("1234")
	if err := m.Login(s, ck.CKU_USER, pin); err != nil {
		if errors.Is(err, ck.CKR_PIN_INCORRECT) {
			log.Fatal("wrong PIN") // never retry in a loop: tokens lock
		}
		log.Fatal(err)
	}
	clear(pin)

	err = m.FindObjectsInit(s, []ck.Attribute{
		ck.MustAttribute(ck.CKA_CLASS, ck.CKO_PRIVATE_KEY),
		ck.MustAttribute(ck.CKA_LABEL, "my-key"),
	})
	if err != nil {
		log.Fatal(err)
	}
	keys, err := m.FindObjects(s, 1)
	m.FindObjectsFinal(s)
	if err != nil || len(keys) == 0 {
		log.Fatal("no key labelled my-key")
	}

	digest := sha256.Sum256([]byte("hello"))
	if err := m.SignInit(s, ck.Mechanism{Type: ck.CKM_ECDSA}, keys[0]); err != nil {
		log.Fatal(err)
	}
	sig, err := m.Sign(s, digest[:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("r||s: %x\n", sig)
}

// Read several attributes at once; each has its own outcome.
func ExampleModule_GetAttributeValue() {
	var m *pkcs11.Module // from pkcs11.Open
	var s ck.SessionHandle
	var key ck.ObjectHandle

	res, err := m.GetAttributeValue(s, key, []ck.AttributeType{ck.CKA_LABEL, ck.CKA_KEY_TYPE, ck.CKA_VALUE})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		if errors.Is(r.Err, ck.CKR_ATTRIBUTE_SENSITIVE) {
			fmt.Println(r.Type, "is sensitive")
			continue
		}
		fmt.Println(r)
	}
}
