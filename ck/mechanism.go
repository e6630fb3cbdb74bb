package ck

// Mechanism is a CK_MECHANISM: a mechanism type and its parameter.
// Parameter is nil for mechanisms that take none.
type Mechanism struct {
	Type      MechanismType
	Parameter Parameter
}

// NewMechanism returns a mechanism with an optional parameter.
func NewMechanism(t MechanismType, p Parameter) Mechanism { return Mechanism{t, p} }

// Parameter is a mechanism parameter. The types in this package cover the
// parameters the library encodes for every ABI; [RawParameter] passes any
// other parameter as bytes already in the platform's C layout.
type Parameter interface {
	isParameter()
}

// RawParameter is a parameter passed to the module as these bytes: any
// parameter struct the caller lays out itself in the platform's C layout.
type RawParameter []byte

// IV is an initialization vector passed as the whole parameter: the block
// of CKM_AES_CBC, CKM_AES_CBC_PAD and the other CBC mechanisms (16 bytes
// for AES, 8 for DES3), and the optional IV of CKM_AES_KEY_WRAP (8 bytes)
// and CKM_AES_KEY_WRAP_KWP (4 bytes). Its C encoding is the bytes
// themselves, on every ABI; the module only reads it.
type IV []byte

// RSAPKCSPSSParams is CK_RSA_PKCS_PSS_PARAMS, for CKM_RSA_PKCS_PSS and the
// hashing PSS mechanisms.
type RSAPKCSPSSParams struct {
	HashAlg    MechanismType // CKM_SHA256, ...
	MGF        MGF           // CKG_MGF1_SHA256, ...
	SaltLength uint64        // sLen, in bytes
}

// RSAPKCSOAEPParams is CK_RSA_PKCS_OAEP_PARAMS. A non-empty Label is passed
// as CKZ_DATA_SPECIFIED source data; an empty one as no source data.
type RSAPKCSOAEPParams struct {
	HashAlg MechanismType
	MGF     MGF
	Label   []byte
}

// ECDH1DeriveParams is CK_ECDH1_DERIVE_PARAMS, for CKM_ECDH1_DERIVE and
// CKM_ECDH1_COFACTOR_DERIVE. PublicData is the peer's public key: for
// Weierstrass curves usually the uncompressed point, for X25519 the 32
// bytes.
type ECDH1DeriveParams struct {
	KDF        KDF
	SharedData []byte
	PublicData []byte
}

// EdDSAParams is CK_EDDSA_PARAMS: the Ed25519ph / Ed25519ctx / Ed448
// variants. CKM_EDDSA without a parameter means pure Ed25519.
type EdDSAParams struct {
	PreHash bool
	Context []byte
}

// GCMParams is CK_GCM_PARAMS. A token that generates the IV itself writes
// it into IV during the Init call: the library copies it back into this
// slice, which must then have the IV's full length.
type GCMParams struct {
	IV      []byte
	IVBits  uint64 // 0 means 8*len(IV)
	AAD     []byte
	TagBits uint64
}

// CCMParams is CK_CCM_PARAMS.
type CCMParams struct {
	DataLen uint64
	Nonce   []byte
	AAD     []byte
	MACLen  uint64
}

// AESCTRParams is CK_AES_CTR_PARAMS.
type AESCTRParams struct {
	CounterBits  uint64
	CounterBlock [16]byte
}

// GCMMessageParams is CK_GCM_MESSAGE_PARAMS, for the per-message calls of
// PKCS#11 3.0 (EncryptMessage, DecryptMessage). The module may write a
// generated IV into IV and, when encrypting, writes the tag into Tag; the
// library copies both back into these slices.
type GCMMessageParams struct {
	IV          []byte
	IVFixedBits uint64
	IVGenerator GeneratorFunction
	Tag         []byte
	TagBits     uint64
}

// SignAdditionalContext is CK_SIGN_ADDITIONAL_CONTEXT, for ML-DSA and
// SLH-DSA signing with a context string and a hedging choice.
type SignAdditionalContext struct {
	Hedge   HedgeType
	Context []byte
}

func (RawParameter) isParameter()           {}
func (IV) isParameter()                     {}
func (*RSAPKCSPSSParams) isParameter()      {}
func (*RSAPKCSOAEPParams) isParameter()     {}
func (*ECDH1DeriveParams) isParameter()     {}
func (*EdDSAParams) isParameter()           {}
func (*GCMParams) isParameter()             {}
func (*CCMParams) isParameter()             {}
func (*AESCTRParams) isParameter()          {}
func (*GCMMessageParams) isParameter()      {}
func (*SignAdditionalContext) isParameter() {}
