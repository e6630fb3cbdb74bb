package ck

// FunctionNames lists the C functions of PKCS#11 in the order of their
// pointers in CK_FUNCTION_LIST_3_2. The lists of earlier versions are
// prefixes of it: CK_FUNCTION_LIST (2.x) holds the first [Functions240],
// CK_FUNCTION_LIST_3_0 the first [Functions30], and CK_FUNCTION_LIST_3_2
// all [Functions32]. In each list the function pointers follow a
// CK_VERSION.
var FunctionNames = [...]string{
	// PKCS#11 2.40 (CK_FUNCTION_LIST).
	"C_Initialize",
	"C_Finalize",
	"C_GetInfo",
	"C_GetFunctionList",
	"C_GetSlotList",
	"C_GetSlotInfo",
	"C_GetTokenInfo",
	"C_GetMechanismList",
	"C_GetMechanismInfo",
	"C_InitToken",
	"C_InitPIN",
	"C_SetPIN",
	"C_OpenSession",
	"C_CloseSession",
	"C_CloseAllSessions",
	"C_GetSessionInfo",
	"C_GetOperationState",
	"C_SetOperationState",
	"C_Login",
	"C_Logout",
	"C_CreateObject",
	"C_CopyObject",
	"C_DestroyObject",
	"C_GetObjectSize",
	"C_GetAttributeValue",
	"C_SetAttributeValue",
	"C_FindObjectsInit",
	"C_FindObjects",
	"C_FindObjectsFinal",
	"C_EncryptInit",
	"C_Encrypt",
	"C_EncryptUpdate",
	"C_EncryptFinal",
	"C_DecryptInit",
	"C_Decrypt",
	"C_DecryptUpdate",
	"C_DecryptFinal",
	"C_DigestInit",
	"C_Digest",
	"C_DigestUpdate",
	"C_DigestKey",
	"C_DigestFinal",
	"C_SignInit",
	"C_Sign",
	"C_SignUpdate",
	"C_SignFinal",
	"C_SignRecoverInit",
	"C_SignRecover",
	"C_VerifyInit",
	"C_Verify",
	"C_VerifyUpdate",
	"C_VerifyFinal",
	"C_VerifyRecoverInit",
	"C_VerifyRecover",
	"C_DigestEncryptUpdate",
	"C_DecryptDigestUpdate",
	"C_SignEncryptUpdate",
	"C_DecryptVerifyUpdate",
	"C_GenerateKey",
	"C_GenerateKeyPair",
	"C_WrapKey",
	"C_UnwrapKey",
	"C_DeriveKey",
	"C_SeedRandom",
	"C_GenerateRandom",
	"C_GetFunctionStatus",
	"C_CancelFunction",
	"C_WaitForSlotEvent",

	// Added in 3.0 (CK_FUNCTION_LIST_3_0).
	"C_GetInterfaceList",
	"C_GetInterface",
	"C_LoginUser",
	"C_SessionCancel",
	"C_MessageEncryptInit",
	"C_EncryptMessage",
	"C_EncryptMessageBegin",
	"C_EncryptMessageNext",
	"C_MessageEncryptFinal",
	"C_MessageDecryptInit",
	"C_DecryptMessage",
	"C_DecryptMessageBegin",
	"C_DecryptMessageNext",
	"C_MessageDecryptFinal",
	"C_MessageSignInit",
	"C_SignMessage",
	"C_SignMessageBegin",
	"C_SignMessageNext",
	"C_MessageSignFinal",
	"C_MessageVerifyInit",
	"C_VerifyMessage",
	"C_VerifyMessageBegin",
	"C_VerifyMessageNext",
	"C_MessageVerifyFinal",

	// Added in 3.2 (CK_FUNCTION_LIST_3_2).
	"C_EncapsulateKey",
	"C_DecapsulateKey",
	"C_VerifySignatureInit",
	"C_VerifySignature",
	"C_VerifySignatureUpdate",
	"C_VerifySignatureFinal",
	"C_GetSessionValidationFlags",
	"C_AsyncComplete",
	"C_AsyncGetID",
	"C_AsyncJoin",
	"C_WrapKeyAuthenticated",
	"C_UnwrapKeyAuthenticated",
}

// The number of function pointers in each version's function list.
const (
	// Functions240 is the number of functions in CK_FUNCTION_LIST, the
	// list of PKCS#11 2.x.
	Functions240 = 68

	// Functions30 is the number of functions in CK_FUNCTION_LIST_3_0.
	Functions30 = 92

	// Functions32 is the number of functions in CK_FUNCTION_LIST_3_2.
	Functions32 = 104
)

// FunctionNames has exactly Functions32 entries.
const (
	_ = uint(len(FunctionNames) - Functions32)
	_ = uint(Functions32 - len(FunctionNames))
)
