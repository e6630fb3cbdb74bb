package ck

import (
	"math/bits"
	"strconv"
	"strings"
)

// The types below give each PKCS#11 constant family its own Go type. Their
// constants and String methods are generated into zconst.go from
// internal/mkconst/constants.txt. Every type has the underlying type uint64,
// wide enough for a CK_ULONG on any platform.

// AttributeType is a CK_ATTRIBUTE_TYPE: which attribute of an object a
// template entry names (CKA_). The bit CKF_ARRAY_ATTRIBUTE is set in the
// attributes whose value is an array, such as CKA_WRAP_TEMPLATE.
type AttributeType uint64

// MechanismType is a CK_MECHANISM_TYPE (CKM_).
type MechanismType uint64

// KeyType is a CK_KEY_TYPE (CKK_).
type KeyType uint64

// ObjectClass is a CK_OBJECT_CLASS (CKO_).
type ObjectClass uint64

// RV is a CK_RV: the value a PKCS#11 function returns (CKR_).
type RV uint64

// CertificateType is a CK_CERTIFICATE_TYPE (CKC_).
type CertificateType uint64

// HardwareFeatureType is a CK_HW_FEATURE_TYPE: the kind of a CKO_HW_FEATURE
// object (CKH_).
type HardwareFeatureType uint64

// UserType is a CK_USER_TYPE: who logs in (CKU_).
type UserType uint64

// SessionState is a CK_STATE: the login state of a session (CKS_).
type SessionState uint64

// NotificationType is a CK_NOTIFICATION: the event passed to the callback
// given to C_OpenSession (CKN_).
type NotificationType uint64

// ProfileID is a CK_PROFILE_ID: the profile a CKO_PROFILE object names
// (CKP_).
type ProfileID uint64

// CertificateCategory is a CK_CERTIFICATE_CATEGORY, the value of
// CKA_CERTIFICATE_CATEGORY (CK_CERTIFICATE_CATEGORY_).
type CertificateCategory uint64

// JavaMIDPSecurityDomain is a CK_JAVA_MIDP_SECURITY_DOMAIN, the value of
// CKA_JAVA_MIDP_SECURITY_DOMAIN (CK_SECURITY_DOMAIN_).
type JavaMIDPSecurityDomain uint64

// OTPFormat is the value of CKA_OTP_FORMAT (CK_OTP_FORMAT_).
type OTPFormat uint64

// OTPRequirement is the value of the CKA_OTP_*_REQUIREMENT attributes
// (CK_OTP_PARAM_IGNORED, CK_OTP_PARAM_OPTIONAL, CK_OTP_PARAM_MANDATORY).
type OTPRequirement uint64

// OTPParamType is a CK_OTP_PARAM_TYPE: what a CK_OTP_PARAM carries
// (CK_OTP_VALUE, CK_OTP_PIN, ...).
type OTPParamType uint64

// MGF is a CK_RSA_PKCS_MGF_TYPE: the mask generation function of RSA OAEP
// and PSS (CKG_MGF1_).
type MGF uint64

// OAEPSource is a CK_RSA_PKCS_OAEP_SOURCE_TYPE: where the OAEP label comes
// from (CKZ_DATA_SPECIFIED).
type OAEPSource uint64

// KDF is a CK_EC_KDF_TYPE: the key derivation function applied to a shared
// secret (CKD_). The X9.42 DH, X3DH and X2Ratchet parameters use the same
// values.
type KDF uint64

// PKCS5PBKD2PseudoRandomFunction is a
// CK_PKCS5_PBKD2_PSEUDO_RANDOM_FUNCTION_TYPE: the PRF of CKM_PKCS5_PBKD2
// (CKP_PKCS5_PBKD2_).
type PKCS5PBKD2PseudoRandomFunction uint64

// PKCS5PBKDF2SaltSource is a CK_PKCS5_PBKDF2_SALT_SOURCE_TYPE
// (CKZ_SALT_SPECIFIED).
type PKCS5PBKDF2SaltSource uint64

// GeneratorFunction is a CK_GENERATOR_FUNCTION: how the IV or nonce of a
// message-based AEAD operation is made (CKG_NO_GENERATE, CKG_GENERATE, ...).
type GeneratorFunction uint64

// PRFDataType is a CK_PRF_DATA_TYPE: the kind of one data parameter of the
// SP 800-108 key derivation mechanisms (CK_SP800_108_).
type PRFDataType uint64

// SP800108DKMLengthMethod is a CK_SP800_108_DKM_LENGTH_METHOD
// (CK_SP800_108_DKM_LENGTH_).
type SP800108DKMLengthMethod uint64

// HKDFSaltType is the ulSaltType of CK_HKDF_PARAMS: where the HKDF salt
// comes from. The specification spells its values CKF_HKDF_SALT_, but a
// parameter holds exactly one of them.
type HKDFSaltType uint64

// ValidationType is a CK_VALIDATION_TYPE (CKV_TYPE_).
type ValidationType uint64

// ValidationAuthorityType is a CK_VALIDATION_AUTHORITY_TYPE
// (CKV_AUTHORITY_TYPE_).
type ValidationAuthorityType uint64

// HedgeType is a CK_HEDGE_TYPE: whether ML-DSA and SLH-DSA signing adds
// randomness (CKH_HEDGE_PREFERRED, ...).
type HedgeType uint64

// MLDSAParameterSet is a CK_ML_DSA_PARAMETER_SET_TYPE, the
// CKA_PARAMETER_SET of an ML-DSA key (CKP_ML_DSA_).
type MLDSAParameterSet uint64

// MLKEMParameterSet is a CK_ML_KEM_PARAMETER_SET_TYPE, the
// CKA_PARAMETER_SET of an ML-KEM key (CKP_ML_KEM_).
type MLKEMParameterSet uint64

// SLHDSAParameterSet is a CK_SLH_DSA_PARAMETER_SET_TYPE, the
// CKA_PARAMETER_SET of an SLH-DSA key (CKP_SLH_DSA_).
type SLHDSAParameterSet uint64

// Trust is a CK_TRUST: the value of the CKA_TRUST_ attributes of a
// CKO_TRUST object (CKT_).
type Trust uint64

// Flag words. The CKF_ bits of different structures and functions overlap,
// so every flags word has a type of its own, and the String method of each
// prints only the names of its own bits.

// InitializeFlags is the flags field of CK_C_INITIALIZE_ARGS.
type InitializeFlags uint64

// SlotFlags is the flags field of CK_SLOT_INFO.
type SlotFlags uint64

// TokenFlags is the flags field of CK_TOKEN_INFO.
type TokenFlags uint64

// SessionFlags is the flags field of CK_SESSION_INFO and the flags argument
// of C_OpenSession.
type SessionFlags uint64

// MechanismFlags is the flags field of CK_MECHANISM_INFO.
type MechanismFlags uint64

// WaitFlags is the flags argument of C_WaitForSlotEvent.
type WaitFlags uint64

// InterfaceFlags is the flags field of CK_INTERFACE and the flags argument
// of C_GetInterface.
type InterfaceFlags uint64

// MessageFlags is the flags argument of the message-based functions, such
// as C_EncryptMessageNext.
type MessageFlags uint64

// OTPFlags is the value of a CK_OTP_FLAGS parameter.
type OTPFlags uint64

// SessionValidationFlags is a CK_SESSION_VALIDATION_FLAGS_TYPE, as
// returned by C_GetSessionValidationFlags. Its one bit is spelled CKS_.
type SessionValidationFlags uint64

// unknownString formats a value that no constant of its type has: the hex
// form prefix+"0x1f", or, at or above a vendor base, vendor+"+0x1f" with
// the offset from the base. An empty vendor means the family has no base.
func unknownString(v uint64, prefix, vendor string, base uint64) string {
	if vendor != "" && v >= base {
		return vendor + "+0x" + strconv.FormatUint(v-base, 16)
	}
	return prefix + "0x" + strconv.FormatUint(v, 16)
}

// parseUnknown is the inverse of unknownString, for the ByName functions.
func parseUnknown(s, prefix, vendor string, base uint64) (uint64, bool) {
	if vendor != "" {
		if hex, ok := strings.CutPrefix(s, vendor+"+0x"); ok {
			off, err := strconv.ParseUint(hex, 16, 64)
			if err != nil {
				return 0, false
			}
			v, carry := bits.Add64(base, off, 0)
			return v, carry == 0
		}
	}
	hex, ok := strings.CutPrefix(s, prefix+"0x")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	return v, err == nil
}

// flagName is one named bit of a flags type.
type flagName struct {
	bit  uint64
	name string
}

// flagsString formats v as the names of its set bits, in the order of
// names, joined by "|". Bits without a name are printed last, together, in
// hex. Zero prints as "0".
func flagsString(v uint64, names []flagName) string {
	if v == 0 {
		return "0"
	}
	for _, f := range names {
		if v == f.bit {
			return f.name
		}
	}

	// Size the result first, so that building it allocates once.
	n, rest := 0, v
	for _, f := range names {
		if rest&f.bit == f.bit {
			n += len(f.name) + 1
			rest &^= f.bit
		}
	}
	if rest != 0 {
		n += 2 + 16
	}

	var b strings.Builder
	b.Grow(n)
	for _, f := range names {
		if v&f.bit == f.bit {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(f.name)
			v &^= f.bit
		}
	}
	if v != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		var hex [16]byte
		b.WriteString("0x")
		b.Write(strconv.AppendUint(hex[:0], v, 16))
	}
	return b.String()
}
