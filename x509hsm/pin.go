package x509hsm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"
)

// sealedPIN is a PIN kept encrypted in memory: AES-256-GCM under a
// random key of its own, held in a separate allocation from the
// ciphertext, so that a dump of one does not give the PIN. The PIN is
// decrypted only for the moment of a login, into a slice the caller
// clears, and wipe zeroes key and ciphertext.
//
// This is defence in depth, not a guarantee: the key and the PIN pass
// through memory the Go runtime manages (the AES key schedule, the
// slice handed to C_Login), which the collector may copy or leave
// behind until it is reused.
type sealedPIN struct {
	mu    sync.Mutex
	key   *[32]byte
	nonce [12]byte
	ct    []byte
}

var errWiped = errors.New("x509hsm: the PIN was wiped")

// sealPIN encrypts pin under a fresh random key. The caller keeps pin.
func sealPIN(pin []byte) (*sealedPIN, error) {
	p := &sealedPIN{key: new([32]byte)}
	if _, err := io.ReadFull(rand.Reader, p.key[:]); err != nil {
		return nil, fmt.Errorf("x509hsm: sealing the PIN: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, p.nonce[:]); err != nil {
		return nil, fmt.Errorf("x509hsm: sealing the PIN: %w", err)
	}
	aead, err := newAEAD(p.key)
	if err != nil {
		return nil, err
	}
	p.ct = aead.Seal(nil, p.nonce[:], pin, nil)
	return p, nil
}

func newAEAD(key *[32]byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("x509hsm: PIN cipher: %w", err)
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("x509hsm: PIN cipher: %w", err)
	}
	return aead, nil
}

// open returns the PIN in a fresh slice, which the caller must clear.
func (p *sealedPIN) open() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key == nil {
		return nil, errWiped
	}
	aead, err := newAEAD(p.key)
	if err != nil {
		return nil, err
	}
	pin, err := aead.Open(nil, p.nonce[:], p.ct, nil)
	if err != nil {
		return nil, errors.New("x509hsm: the sealed PIN does not decrypt")
	}
	return pin, nil
}

// equal reports, in constant time for PINs of equal length, whether
// the sealed PIN is pin.
func (p *sealedPIN) equal(pin []byte) bool {
	b, err := p.open()
	if err != nil {
		return false
	}
	defer clear(b)
	return subtle.ConstantTimeCompare(b, pin) == 1
}

// clone seals the same PIN again under a new key.
func (p *sealedPIN) clone() (*sealedPIN, error) {
	b, err := p.open()
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return sealPIN(b)
}

// alive reports whether the PIN has not been wiped.
func (p *sealedPIN) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.key != nil
}

// wipe zeroes the key and the ciphertext. The PIN cannot be opened
// afterwards.
func (p *sealedPIN) wipe() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key != nil {
		clear(p.key[:])
	}
	clear(p.ct)
	clear(p.nonce[:])
	p.key, p.ct = nil, nil
}

// Format prints a placeholder for every verb, so that no formatting of
// a struct holding a sealedPIN shows its bytes.
func (p *sealedPIN) Format(f fmt.State, _ rune) { io.WriteString(f, "[sealed PIN]") }
