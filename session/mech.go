package session

import (
	"crypto"
	"fmt"
	"slices"

	"github.com/purepkcs11/pkcs11/ck"
)

// This file builds the mechanisms of the common operations, so that
// callers name a hash and never lay out a parameter struct by hand.
//
// A helper given something it cannot express (a hash PKCS#11 has no
// mechanism for, an IV of the wrong size) still returns a ck.Mechanism,
// so that it can be written inline in a call; every operation of this
// package refuses that mechanism, before calling the token, with a
// *MechanismError that says what was wrong. Passed to the root package
// directly it names no mechanism a token knows.

// badMechanism is the type of a mechanism a helper could not build. Its
// parameter, a ck.RawParameter, holds the reason.
const badMechanism = ck.CKM_VENDOR_DEFINED | 0x0bad_0000

// invalid returns the mechanism of a helper that could not build one.
func invalid(format string, args ...any) ck.Mechanism {
	return ck.Mechanism{Type: badMechanism, Parameter: ck.RawParameter(fmt.Sprintf(format, args...))}
}

// hashMechs are the mechanisms PKCS#11 has for one hash function.
type hashMechs struct {
	digest, hmac, rsaPKCS, rsaPSS, ecdsa ck.MechanismType
	mgf                                  ck.MGF
}

var hashes = map[crypto.Hash]hashMechs{
	crypto.SHA1:     {ck.CKM_SHA_1, ck.CKM_SHA_1_HMAC, ck.CKM_SHA1_RSA_PKCS, ck.CKM_SHA1_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA1, ck.CKG_MGF1_SHA1},
	crypto.SHA224:   {ck.CKM_SHA224, ck.CKM_SHA224_HMAC, ck.CKM_SHA224_RSA_PKCS, ck.CKM_SHA224_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA224, ck.CKG_MGF1_SHA224},
	crypto.SHA256:   {ck.CKM_SHA256, ck.CKM_SHA256_HMAC, ck.CKM_SHA256_RSA_PKCS, ck.CKM_SHA256_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA256, ck.CKG_MGF1_SHA256},
	crypto.SHA384:   {ck.CKM_SHA384, ck.CKM_SHA384_HMAC, ck.CKM_SHA384_RSA_PKCS, ck.CKM_SHA384_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA384, ck.CKG_MGF1_SHA384},
	crypto.SHA512:   {ck.CKM_SHA512, ck.CKM_SHA512_HMAC, ck.CKM_SHA512_RSA_PKCS, ck.CKM_SHA512_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA512, ck.CKG_MGF1_SHA512},
	crypto.SHA3_224: {ck.CKM_SHA3_224, ck.CKM_SHA3_224_HMAC, ck.CKM_SHA3_224_RSA_PKCS, ck.CKM_SHA3_224_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA3_224, ck.CKG_MGF1_SHA3_224},
	crypto.SHA3_256: {ck.CKM_SHA3_256, ck.CKM_SHA3_256_HMAC, ck.CKM_SHA3_256_RSA_PKCS, ck.CKM_SHA3_256_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA3_256, ck.CKG_MGF1_SHA3_256},
	crypto.SHA3_384: {ck.CKM_SHA3_384, ck.CKM_SHA3_384_HMAC, ck.CKM_SHA3_384_RSA_PKCS, ck.CKM_SHA3_384_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA3_384, ck.CKG_MGF1_SHA3_384},
	crypto.SHA3_512: {ck.CKM_SHA3_512, ck.CKM_SHA3_512_HMAC, ck.CKM_SHA3_512_RSA_PKCS, ck.CKM_SHA3_512_RSA_PKCS_PSS, ck.CKM_ECDSA_SHA3_512, ck.CKG_MGF1_SHA3_512},
}

// hashName prints h for errors; crypto.Hash(0) has no name of its own.
func hashName(h crypto.Hash) string {
	if h == 0 {
		return "no hash"
	}
	return h.String()
}

// Hash returns the digest mechanism of h: CKM_SHA256 for crypto.SHA256,
// and so on for SHA-1, the SHA-2 and the SHA-3 families.
func Hash(h crypto.Hash) ck.Mechanism {
	hm, ok := hashes[h]
	if !ok {
		return invalid("Hash: %s has no PKCS#11 mechanism", hashName(h))
	}
	return ck.Mechanism{Type: hm.digest}
}

// HMAC returns the HMAC mechanism of h, such as CKM_SHA256_HMAC, for
// signing and verifying with a generic secret key.
func HMAC(h crypto.Hash) ck.Mechanism {
	hm, ok := hashes[h]
	if !ok {
		return invalid("HMAC: %s has no PKCS#11 mechanism", hashName(h))
	}
	return ck.Mechanism{Type: hm.hmac}
}

// RSAPKCS1v15 returns the RSA PKCS #1 v1.5 mechanism that hashes with h
// on the token, such as CKM_SHA256_RSA_PKCS. With h 0 it returns
// CKM_RSA_PKCS: the data is signed as given (a DigestInfo, for a
// signature), and the same mechanism encrypts and decrypts.
func RSAPKCS1v15(h crypto.Hash) ck.Mechanism {
	if h == 0 {
		return ck.Mechanism{Type: ck.CKM_RSA_PKCS}
	}
	hm, ok := hashes[h]
	if !ok {
		return invalid("RSAPKCS1v15: %s has no PKCS#11 mechanism", hashName(h))
	}
	return ck.Mechanism{Type: hm.rsaPKCS}
}

// RSAPSS returns the RSA-PSS mechanism that hashes the data with h on the
// token, such as CKM_SHA256_RSA_PKCS_PSS, with MGF1 over the same hash.
// saltLen is the salt length in bytes; rsa.PSSSaltLengthEqualsHash (-1)
// means the hash's size, the usual choice.
func RSAPSS(h crypto.Hash, saltLen int) ck.Mechanism {
	return rsaPSS("RSAPSS", h, saltLen, false)
}

// RSAPSSPrehashed is RSAPSS for data hashed already with h: the mechanism
// is CKM_RSA_PKCS_PSS and the data is the digest, as crypto.Signer
// passes it.
func RSAPSSPrehashed(h crypto.Hash, saltLen int) ck.Mechanism {
	return rsaPSS("RSAPSSPrehashed", h, saltLen, true)
}

func rsaPSS(fn string, h crypto.Hash, saltLen int, prehashed bool) ck.Mechanism {
	hm, ok := hashes[h]
	if !ok {
		return invalid("%s: %s has no PKCS#11 mechanism", fn, hashName(h))
	}
	if saltLen == -1 { // rsa.PSSSaltLengthEqualsHash
		saltLen = h.Size()
	}
	if saltLen < 0 {
		return invalid("%s: salt length %d", fn, saltLen)
	}
	t := hm.rsaPSS
	if prehashed {
		t = ck.CKM_RSA_PKCS_PSS
	}
	return ck.Mechanism{Type: t, Parameter: &ck.RSAPKCSPSSParams{
		HashAlg: hm.digest, MGF: hm.mgf, SaltLength: uint64(saltLen)}}
}

// RSAOAEP returns CKM_RSA_PKCS_OAEP with hash h, MGF1 over the same hash
// and label (nil or empty for none), as rsa.EncryptOAEP and
// rsa.DecryptOAEP use them. The label is copied.
func RSAOAEP(h crypto.Hash, label []byte) ck.Mechanism {
	hm, ok := hashes[h]
	if !ok {
		return invalid("RSAOAEP: %s has no PKCS#11 mechanism", hashName(h))
	}
	return ck.Mechanism{Type: ck.CKM_RSA_PKCS_OAEP, Parameter: &ck.RSAPKCSOAEPParams{
		HashAlg: hm.digest, MGF: hm.mgf, Label: slices.Clone(label)}}
}

// ECDSA returns the ECDSA mechanism that hashes the data with h on the
// token, such as CKM_ECDSA_SHA256. With h 0 it returns CKM_ECDSA, which
// signs the data as given: the digest, hashed by the caller. Signatures
// are r||s, each as long as the curve's field.
func ECDSA(h crypto.Hash) ck.Mechanism {
	if h == 0 {
		return ck.Mechanism{Type: ck.CKM_ECDSA}
	}
	hm, ok := hashes[h]
	if !ok {
		return invalid("ECDSA: %s has no PKCS#11 mechanism", hashName(h))
	}
	return ck.Mechanism{Type: hm.ecdsa}
}

// EdDSA returns CKM_EDDSA without a parameter: pure Ed25519 (RFC 8032),
// and on tokens that allow it, pure Ed448 with an empty context.
func EdDSA() ck.Mechanism { return ck.Mechanism{Type: ck.CKM_EDDSA} }

// EdDSAContext returns CKM_EDDSA with a CK_EDDSA_PARAMS: Ed25519ctx or
// Ed448 with context, or with prehash Ed25519ph or Ed448ph (RFC 8032).
// The context, at most 255 bytes, is copied.
func EdDSAContext(prehash bool, context []byte) ck.Mechanism {
	if len(context) > 255 {
		return invalid("EdDSAContext: context of %d bytes, at most 255", len(context))
	}
	return ck.Mechanism{Type: ck.CKM_EDDSA, Parameter: &ck.EdDSAParams{
		PreHash: prehash, Context: slices.Clone(context)}}
}

// AESGCM returns CKM_AES_GCM with iv, additional authenticated data aad
// and a tag of tagBits bits (128 is the usual; 96 to 128 in steps of 8,
// or 32 and 64, as NIST SP 800-38D allows). The slices are copied.
// Never encrypt twice with the same key and IV.
func AESGCM(iv, aad []byte, tagBits int) ck.Mechanism {
	switch {
	case len(iv) == 0:
		return invalid("AESGCM: empty IV")
	case !(tagBits == 32 || tagBits == 64 || tagBits >= 96 && tagBits <= 128 && tagBits%8 == 0):
		return invalid("AESGCM: tag of %d bits", tagBits)
	}
	return ck.Mechanism{Type: ck.CKM_AES_GCM, Parameter: &ck.GCMParams{
		IV: slices.Clone(iv), IVBits: 8 * uint64(len(iv)), AAD: slices.Clone(aad), TagBits: uint64(tagBits)}}
}

// AESCBC returns CKM_AES_CBC with a 16-byte iv, for data whose length is
// a multiple of 16. The IV is copied.
func AESCBC(iv []byte) ck.Mechanism { return aesIV("AESCBC", ck.CKM_AES_CBC, iv) }

// AESCBCPad returns CKM_AES_CBC_PAD, CBC with PKCS #7 padding, with a
// 16-byte iv. The IV is copied.
func AESCBCPad(iv []byte) ck.Mechanism { return aesIV("AESCBCPad", ck.CKM_AES_CBC_PAD, iv) }

func aesIV(fn string, t ck.MechanismType, iv []byte) ck.Mechanism {
	if len(iv) != 16 {
		return invalid("%s: IV of %d bytes, want 16", fn, len(iv))
	}
	return ck.Mechanism{Type: t, Parameter: ck.IV(slices.Clone(iv))}
}

// AESCTR returns CKM_AES_CTR with the 16-byte initial counter block iv,
// of which the last counterBits bits (1 to 128) are the counter, as
// cipher.NewCTR counts with counterBits 128.
func AESCTR(counterBits int, iv []byte) ck.Mechanism {
	if len(iv) != 16 {
		return invalid("AESCTR: counter block of %d bytes, want 16", len(iv))
	}
	if counterBits < 1 || counterBits > 128 {
		return invalid("AESCTR: counter of %d bits, want 1 to 128", counterBits)
	}
	p := &ck.AESCTRParams{CounterBits: uint64(counterBits)}
	copy(p.CounterBlock[:], iv)
	return ck.Mechanism{Type: ck.CKM_AES_CTR, Parameter: p}
}

// AESKeyWrap returns CKM_AES_KEY_WRAP, the key wrap of RFC 3394, for
// keys whose length is a multiple of 8 bytes.
func AESKeyWrap() ck.Mechanism { return ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP} }

// AESKeyWrapPad returns CKM_AES_KEY_WRAP_PAD, the key wrap with padding
// for keys of any length (RFC 5649 on SoftHSM; PKCS#11 3.0 also names
// CKM_AES_KEY_WRAP_KWP for it).
func AESKeyWrapPad() ck.Mechanism { return ck.Mechanism{Type: ck.CKM_AES_KEY_WRAP_PAD} }

// ECDH1 returns CKM_ECDH1_DERIVE with no key derivation function
// (CKD_NULL): the derived key is the raw shared secret, the x coordinate,
// as crypto/ecdh returns it. peer is the other party's public point,
// uncompressed (0x04||X||Y, as ecdh.PublicKey.Bytes returns it). It is
// copied.
func ECDH1(peer []byte) ck.Mechanism {
	if len(peer) == 0 {
		return invalid("ECDH1: empty peer point")
	}
	return ck.Mechanism{Type: ck.CKM_ECDH1_DERIVE, Parameter: &ck.ECDH1DeriveParams{
		KDF: ck.CKD_NULL, PublicData: slices.Clone(peer)}}
}
