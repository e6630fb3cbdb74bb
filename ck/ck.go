// Package ck is the vocabulary of PKCS#11 (Cryptoki): its constants, the Go
// forms of its structures, and its return values as errors. It does no I/O
// and loads nothing; the other packages of this module speak in its terms.
//
// # Constants
//
// Every constant of the PKCS#11 3.2 headers keeps its C spelling and has a
// Go type for its family: [CKA_LABEL] is an [AttributeType], [CKM_ECDSA] a
// [MechanismType], [CKK_EC] a [KeyType], [CKO_PRIVATE_KEY] an
// [ObjectClass], [CKR_PIN_INCORRECT] an [RV]. The CKF_ bits get one type per
// flags word, because the same bit means different things in different
// words: [CKF_RNG] is a [TokenFlags], [CKF_SERIAL_SESSION] a [SessionFlags],
// [CKF_SIGN] a [MechanismFlags], [CKF_OS_LOCKING_OK] an [InitializeFlags].
// The one exception is [CKF_ARRAY_ATTRIBUTE], an [AttributeType] bit that
// is part of values such as [CKA_WRAP_TEMPLATE]. Values that the
// specification names in other families, such as parameter sets
// ([MLDSAParameterSet]) or hedging choices ([HedgeType]), have types named
// after their C types. All the types have the underlying type uint64, which
// holds a CK_ULONG of any platform.
//
// Names the specification keeps only for compatibility, such as
// [CKK_ECDSA] for [CKK_EC], are constants too, with a Deprecated note where
// the specification deprecates them.
//
// # String
//
// The String method of each type prints the spec name of a value, for
// example "CKM_ECDSA". A value with several names prints as its current
// one ("CKK_EC", not "CKK_ECDSA"). A value without a name prints in
// lowercase hex after the family prefix, as in "CKA_0x1234" or
// "CKR_0x2ff"; a value at or above its family's vendor-defined base
// prints as the offset from that base, as in "CKM_VENDOR_DEFINED+0x123".
// Flag types print the names of the set bits joined by "|", as in
// "CKF_RNG|CKF_LOGIN_REQUIRED", with any unnamed bits in hex at the end and
// zero as "0". [AttributeTypeByName], [MechanismTypeByName],
// [KeyTypeByName] and [ObjectClassByName] parse these forms back.
//
// The constants and String methods are generated from the table in
// internal/mkconst/constants.txt; README.md in this directory tells how.
//
// The specification is OASIS PKCS #11 Specification Version 3.2; see
// [PKCS #11 3.2].
//
// [PKCS #11 3.2]: https://docs.oasis-open.org/pkcs11/pkcs11-spec/v3.2/pkcs11-spec-v3.2.html
package ck

//go:generate go run ./internal/mkconst

// BUG(ck): CKA_ENCAPSULATE_TEMPLATE and CKA_DECAPSULATE_TEMPLATE have the
// values of the published 3.2 header, which lacks the CKF_ARRAY_ATTRIBUTE
// bit that the other template attributes carry. A module built from a
// header that adds the bit uses other values, which print in hex.
