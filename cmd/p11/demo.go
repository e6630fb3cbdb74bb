package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// demo shows the library at work on a SoftHSM2 token it creates in a
// temporary directory and removes afterwards; lib is the SoftHSM2 library.
func demo(w io.Writer, lib string) (err error) {
	if _, err := os.Stat(lib); err != nil {
		return fmt.Errorf("SoftHSM2 is not installed (%v); on Debian: apt-get install softhsm2", err)
	}
	dir, err := os.MkdirTemp("", "p11-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "softhsm2.conf")
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return err
	}
	cfg := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return err
	}
	// SoftHSM reads its configuration when the module is initialized.
	os.Setenv("SOFTHSM2_CONF", conf)

	step := func(format string, args ...any) { fmt.Fprintf(w, "• "+format+"\n", args...) }
	m, err := pkcs11.Open(lib)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Close()) }()
	info, err := m.GetInfo()
	if err != nil {
		return err
	}
	step("loaded %s: %s %v, Cryptoki %v, interface %v", lib, info.ManufacturerID, info.LibraryVersion,
		info.CryptokiVersion, m.Interface().Version)

	// SoftHSM always offers one uninitialized token.
	slots, err := m.GetSlotList(true)
	if err != nil {
		return err
	}
	if len(slots) == 0 {
		return errors.New("SoftHSM lists no slot")
	}
	// PINs for this throw-away token: random, never printed.
	soPIN, userPIN := randomPIN(), randomPIN()
	defer clear(soPIN)
	defer clear(userPIN)
	if err := m.InitToken(slots[0], soPIN, "p11 demo"); err != nil {
		return err
	}
	slot, err := findToken(m, "p11 demo")
	if err != nil {
		return err
	}
	ti, err := m.GetTokenInfo(slot)
	if err != nil {
		return err
	}
	step("initialized token %q (serial %s) in slot %d", ti.Label, ti.SerialNumber, slot)

	s, err := m.OpenSession(slot, ck.CKF_RW_SESSION)
	if err != nil {
		return err
	}
	defer m.CloseSession(s)
	if err := m.Login(s, ck.CKU_SO, soPIN); err != nil {
		return err
	}
	if err := m.InitPIN(s, userPIN); err != nil {
		return err
	}
	if err := m.Logout(s); err != nil {
		return err
	}
	if err := m.Login(s, ck.CKU_USER, userPIN); err != nil {
		return err
	}
	step("set the user PIN as security officer and logged in as the user")

	p256, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	pub, priv, err := m.GenerateKeyPair(s, ck.Mechanism{Type: ck.CKM_EC_KEY_PAIR_GEN},
		[]ck.Attribute{
			ck.MustAttribute(ck.CKA_TOKEN, true),
			ck.MustAttribute(ck.CKA_VERIFY, true),
			ck.MustAttribute(ck.CKA_EC_PARAMS, p256),
			ck.MustAttribute(ck.CKA_LABEL, "demo-key"),
		},
		[]ck.Attribute{
			ck.MustAttribute(ck.CKA_TOKEN, true),
			ck.MustAttribute(ck.CKA_PRIVATE, true),
			ck.MustAttribute(ck.CKA_SIGN, true),
			ck.MustAttribute(ck.CKA_SENSITIVE, true),
			ck.MustAttribute(ck.CKA_EXTRACTABLE, false),
			ck.MustAttribute(ck.CKA_LABEL, "demo-key"),
		})
	if err != nil {
		return err
	}
	step("generated an ECDSA P-256 key pair on the token (private key sensitive, not extractable)")

	res, err := m.GetAttributeValue(s, priv, []ck.AttributeType{ck.CKA_VALUE, ck.CKA_KEY_TYPE})
	if err != nil {
		return err
	}
	step("reading the private key's CKA_VALUE: %v", res[0].Err)

	msg := []byte("pure Go, no cgo")
	digest := sha256.Sum256(msg)
	if err := m.SignInit(s, ck.Mechanism{Type: ck.CKM_ECDSA}, priv); err != nil {
		return err
	}
	sig, err := m.Sign(s, digest[:])
	if err != nil {
		return err
	}
	step("signed SHA-256(%q) on the token: r||s = %s…", msg, hex.EncodeToString(sig[:16]))

	if err := m.VerifyInit(s, ck.Mechanism{Type: ck.CKM_ECDSA}, pub); err != nil {
		return err
	}
	if err := m.Verify(s, digest[:], sig); err != nil {
		return fmt.Errorf("the token rejects its own signature: %w", err)
	}
	step("the token verified the signature")

	point, err := m.GetAttributeValue(s, pub, []ck.AttributeType{ck.CKA_EC_POINT})
	if err != nil || point[0].Err != nil {
		return errors.Join(err, point[0].Err)
	}
	var raw []byte
	if _, err := asn1.Unmarshal(point[0].Value, &raw); err != nil {
		return fmt.Errorf("CKA_EC_POINT: %w", err)
	}
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return fmt.Errorf("CKA_EC_POINT: %w", err)
	}
	if len(sig) != 64 {
		return fmt.Errorf("an ECDSA P-256 signature of %d bytes", len(sig))
	}
	r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key, digest[:], r, sv) {
		return errors.New("Go's crypto/ecdsa rejects the token's signature")
	}
	step("Go's crypto/ecdsa verified it with the public key read from the token")
	step("done; the temporary token directory is removed")
	return nil
}

func findToken(m *pkcs11.Module, label string) (ck.SlotID, error) {
	slots, err := m.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err == nil && ti.Label == label {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no token labelled %q", label)
}

func randomPIN() []byte {
	b := make([]byte, 12)
	rand.Read(b)
	const digits = "0123456789"
	for i := range b {
		b[i] = digits[int(b[i])%10]
	}
	return b
}
