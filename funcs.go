package pkcs11

import "github.com/purepkcs11/pkcs11/ck"

// Indexes of the functions in CK_FUNCTION_LIST_3_2, in table order. The first
// 68 form the 2.x CK_FUNCTION_LIST, the first 92 CK_FUNCTION_LIST_3_0.
const (
	fnInitialize funcIndex = iota
	fnFinalize
	fnGetInfo
	fnGetFunctionList
	fnGetSlotList
	fnGetSlotInfo
	fnGetTokenInfo
	fnGetMechanismList
	fnGetMechanismInfo
	fnInitToken
	fnInitPIN
	fnSetPIN
	fnOpenSession
	fnCloseSession
	fnCloseAllSessions
	fnGetSessionInfo
	fnGetOperationState
	fnSetOperationState
	fnLogin
	fnLogout
	fnCreateObject
	fnCopyObject
	fnDestroyObject
	fnGetObjectSize
	fnGetAttributeValue
	fnSetAttributeValue
	fnFindObjectsInit
	fnFindObjects
	fnFindObjectsFinal
	fnEncryptInit
	fnEncrypt
	fnEncryptUpdate
	fnEncryptFinal
	fnDecryptInit
	fnDecrypt
	fnDecryptUpdate
	fnDecryptFinal
	fnDigestInit
	fnDigest
	fnDigestUpdate
	fnDigestKey
	fnDigestFinal
	fnSignInit
	fnSign
	fnSignUpdate
	fnSignFinal
	fnSignRecoverInit
	fnSignRecover
	fnVerifyInit
	fnVerify
	fnVerifyUpdate
	fnVerifyFinal
	fnVerifyRecoverInit
	fnVerifyRecover
	fnDigestEncryptUpdate
	fnDecryptDigestUpdate
	fnSignEncryptUpdate
	fnDecryptVerifyUpdate
	fnGenerateKey
	fnGenerateKeyPair
	fnWrapKey
	fnUnwrapKey
	fnDeriveKey
	fnSeedRandom
	fnGenerateRandom
	fnGetFunctionStatus
	fnCancelFunction
	fnWaitForSlotEvent
	fnGetInterfaceList
	fnGetInterface
	fnLoginUser
	fnSessionCancel
	fnMessageEncryptInit
	fnEncryptMessage
	fnEncryptMessageBegin
	fnEncryptMessageNext
	fnMessageEncryptFinal
	fnMessageDecryptInit
	fnDecryptMessage
	fnDecryptMessageBegin
	fnDecryptMessageNext
	fnMessageDecryptFinal
	fnMessageSignInit
	fnSignMessage
	fnSignMessageBegin
	fnSignMessageNext
	fnMessageSignFinal
	fnMessageVerifyInit
	fnVerifyMessage
	fnVerifyMessageBegin
	fnVerifyMessageNext
	fnMessageVerifyFinal
	fnEncapsulateKey
	fnDecapsulateKey
	fnVerifySignatureInit
	fnVerifySignature
	fnVerifySignatureUpdate
	fnVerifySignatureFinal
	fnGetSessionValidationFlags
	fnAsyncComplete
	fnAsyncGetID
	fnAsyncJoin
	fnWrapKeyAuthenticated
	fnUnwrapKeyAuthenticated
	numFuncs
)

// Table sizes of each function-list version.
const (
	funcs2x = ck.Functions240
	funcs30 = ck.Functions30
	funcs32 = ck.Functions32
)

// funcNames are the C names, indexed like the table: package ck keeps the
// list, in the order of CK_FUNCTION_LIST_3_2.
var funcNames = ck.FunctionNames

// The table and ck's list have the same length.
const (
	_ = uint(len(ck.FunctionNames) - int(numFuncs))
	_ = uint(int(numFuncs) - len(ck.FunctionNames))
)

// funcArgs names and classifies every parameter of every function, for
// the call tracer. Derived from the parameter lists of pkcs11f.h.
var funcArgs = [numFuncs][]argSpec{
	{{"pInitArgs", argSkip}},
	{{"pReserved", argSkip}},
	{{"pInfo", argSkip}},
	{{"ppFunctionList", argSkip}},
	{{"tokenPresent", argULong}, {"pSlotList", argSkip}, {"pulCount", argOutULong}},
	{{"slotID", argSlot}, {"pInfo", argSkip}},
	{{"slotID", argSlot}, {"pInfo", argSkip}},
	{{"slotID", argSlot}, {"pMechanismList", argSkip}, {"pulCount", argOutULong}},
	{{"slotID", argSlot}, {"type", argMechType}, {"pInfo", argSkip}},
	{{"slotID", argSlot}, {"pPin", argSecret}, {"ulPinLen", argSecret}, {"pLabel", argSecret}},
	{{"hSession", argSession}, {"pPin", argSecret}, {"ulPinLen", argSecret}},
	{{"hSession", argSession}, {"pOldPin", argSecret}, {"ulOldLen", argSecret}, {"pNewPin", argSecret}, {"ulNewLen", argSecret}},
	{{"slotID", argSlot}, {"flags", argULong}, {"pApplication", argSkip}, {"Notify", argSkip}, {"phSession", argOutULong}},
	{{"hSession", argSession}},
	{{"slotID", argSlot}},
	{{"hSession", argSession}, {"pInfo", argSkip}},
	{{"hSession", argSession}, {"pOperationState", argSkip}, {"pulOperationStateLen", argOutULong}},
	{{"hSession", argSession}, {"pOperationState", argSkip}, {"ulOperationStateLen", argULong}, {"hEncryptionKey", argObject}, {"hAuthenticationKey", argObject}},
	{{"hSession", argSession}, {"userType", argULong}, {"pPin", argSecret}, {"ulPinLen", argSecret}},
	{{"hSession", argSession}},
	{{"hSession", argSession}, {"pTemplate", argSkip}, {"ulCount", argULong}, {"phObject", argOutULong}},
	{{"hSession", argSession}, {"hObject", argObject}, {"pTemplate", argSkip}, {"ulCount", argULong}, {"phNewObject", argOutULong}},
	{{"hSession", argSession}, {"hObject", argObject}},
	{{"hSession", argSession}, {"hObject", argObject}, {"pulSize", argOutULong}},
	{{"hSession", argSession}, {"hObject", argObject}, {"pTemplate", argSkip}, {"ulCount", argULong}},
	{{"hSession", argSession}, {"hObject", argObject}, {"pTemplate", argSkip}, {"ulCount", argULong}},
	{{"hSession", argSession}, {"pTemplate", argSkip}, {"ulCount", argULong}},
	{{"hSession", argSession}, {"phObject", argOutULong}, {"ulMaxObjectCount", argULong}, {"pulObjectCount", argOutULong}},
	{{"hSession", argSession}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pEncryptedData", argSkip}, {"pulEncryptedDataLen", argOutULong}},
	{{"hSession", argSession}, {"pPart", argSkip}, {"ulPartLen", argULong}, {"pEncryptedPart", argSkip}, {"pulEncryptedPartLen", argOutULong}},
	{{"hSession", argSession}, {"pLastEncryptedPart", argSkip}, {"pulLastEncryptedPartLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pEncryptedData", argSkip}, {"ulEncryptedDataLen", argULong}, {"pData", argSkip}, {"pulDataLen", argOutULong}},
	{{"hSession", argSession}, {"pEncryptedPart", argSkip}, {"ulEncryptedPartLen", argULong}, {"pPart", argSkip}, {"pulPartLen", argOutULong}},
	{{"hSession", argSession}, {"pLastPart", argSkip}, {"pulLastPartLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}},
	{{"hSession", argSession}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pDigest", argSkip}, {"pulDigestLen", argOutULong}},
	{{"hSession", argSession}, {"pPart", argSkip}, {"ulPartLen", argULong}},
	{{"hSession", argSession}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pDigest", argSkip}, {"pulDigestLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pSignature", argSkip}, {"pulSignatureLen", argOutULong}},
	{{"hSession", argSession}, {"pPart", argSkip}, {"ulPartLen", argULong}},
	{{"hSession", argSession}, {"pSignature", argSkip}, {"pulSignatureLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pSignature", argSkip}, {"pulSignatureLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pSignature", argSkip}, {"ulSignatureLen", argULong}},
	{{"hSession", argSession}, {"pPart", argSkip}, {"ulPartLen", argULong}},
	{{"hSession", argSession}, {"pSignature", argSkip}, {"ulSignatureLen", argULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pSignature", argSkip}, {"ulSignatureLen", argULong}, {"pData", argSkip}, {"pulDataLen", argOutULong}},
	{{"hSession", argSession}, {"pPart", argSkip}, {"ulPartLen", argULong}, {"pEncryptedPart", argSkip}, {"pulEncryptedPartLen", argOutULong}},
	{{"hSession", argSession}, {"pEncryptedPart", argSkip}, {"ulEncryptedPartLen", argULong}, {"pPart", argSkip}, {"pulPartLen", argOutULong}},
	{{"hSession", argSession}, {"pPart", argSkip}, {"ulPartLen", argULong}, {"pEncryptedPart", argSkip}, {"pulEncryptedPartLen", argOutULong}},
	{{"hSession", argSession}, {"pEncryptedPart", argSkip}, {"ulEncryptedPartLen", argULong}, {"pPart", argSkip}, {"pulPartLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"pTemplate", argSkip}, {"ulCount", argULong}, {"phKey", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"pPublicKeyTemplate", argSkip}, {"ulPublicKeyAttributeCount", argULong}, {"pPrivateKeyTemplate", argSkip}, {"ulPrivateKeyAttributeCount", argULong}, {"phPublicKey", argOutULong}, {"phPrivateKey", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hWrappingKey", argObject}, {"hKey", argObject}, {"pWrappedKey", argSkip}, {"pulWrappedKeyLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hUnwrappingKey", argObject}, {"pWrappedKey", argSkip}, {"ulWrappedKeyLen", argULong}, {"pTemplate", argSkip}, {"ulAttributeCount", argULong}, {"phKey", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hBaseKey", argObject}, {"pTemplate", argSkip}, {"ulAttributeCount", argULong}, {"phKey", argOutULong}},
	{{"hSession", argSession}, {"pSeed", argSkip}, {"ulSeedLen", argULong}},
	{{"hSession", argSession}, {"RandomData", argSkip}, {"ulRandomLen", argULong}},
	{{"hSession", argSession}},
	{{"hSession", argSession}},
	{{"flags", argULong}, {"pSlot", argOutULong}, {"pRserved", argSkip}},
	{{"pInterfacesList", argSkip}, {"pulCount", argOutULong}},
	{{"pInterfaceName", argSkip}, {"pVersion", argSkip}, {"ppInterface", argSkip}, {"flags", argULong}},
	{{"hSession", argSession}, {"userType", argULong}, {"pPin", argSecret}, {"ulPinLen", argSecret}, {"pUsername", argSecret}, {"ulUsernameLen", argSecret}},
	{{"hSession", argSession}, {"flags", argULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pAssociatedData", argSkip}, {"ulAssociatedDataLen", argULong}, {"pPlaintext", argSkip}, {"ulPlaintextLen", argULong}, {"pCiphertext", argSkip}, {"pulCiphertextLen", argOutULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pAssociatedData", argSkip}, {"ulAssociatedDataLen", argULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pPlaintextPart", argSkip}, {"ulPlaintextPartLen", argULong}, {"pCiphertextPart", argSkip}, {"pulCiphertextPartLen", argOutULong}, {"flags", argULong}},
	{{"hSession", argSession}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pAssociatedData", argSkip}, {"ulAssociatedDataLen", argULong}, {"pCiphertext", argSkip}, {"ulCiphertextLen", argULong}, {"pPlaintext", argSkip}, {"pulPlaintextLen", argOutULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pAssociatedData", argSkip}, {"ulAssociatedDataLen", argULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pCiphertextPart", argSkip}, {"ulCiphertextPartLen", argULong}, {"pPlaintextPart", argSkip}, {"pulPlaintextPartLen", argOutULong}, {"flags", argULong}},
	{{"hSession", argSession}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pSignature", argSkip}, {"pulSignatureLen", argOutULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pSignature", argSkip}, {"pulSignatureLen", argOutULong}},
	{{"hSession", argSession}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pSignature", argSkip}, {"ulSignatureLen", argULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}},
	{{"hSession", argSession}, {"pParameter", argSkip}, {"ulParameterLen", argULong}, {"pData", argSkip}, {"ulDataLen", argULong}, {"pSignature", argSkip}, {"ulSignatureLen", argULong}},
	{{"hSession", argSession}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hPublicKey", argObject}, {"pTemplate", argSkip}, {"ulAttributeCount", argULong}, {"pCiphertext", argSkip}, {"pulCiphertextLen", argOutULong}, {"phKey", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hPrivateKey", argObject}, {"pTemplate", argSkip}, {"ulAttributeCount", argULong}, {"pCiphertext", argSkip}, {"ulCiphertextLen", argULong}, {"phKey", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hKey", argObject}, {"pSignature", argSkip}, {"ulSignatureLen", argULong}},
	{{"hSession", argSession}, {"pData", argSkip}, {"ulDataLen", argULong}},
	{{"hSession", argSession}, {"pPart", argSkip}, {"ulPartLen", argULong}},
	{{"hSession", argSession}},
	{{"hSession", argSession}, {"type", argULong}, {"pFlags", argOutULong}},
	{{"hSession", argSession}, {"pFunctionName", argSkip}, {"pResult", argSkip}},
	{{"hSession", argSession}, {"pFunctionName", argSkip}, {"pulID", argOutULong}},
	{{"hSession", argSession}, {"pFunctionName", argSkip}, {"ulID", argULong}, {"pData", argSkip}, {"ulData", argULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hWrappingKey", argObject}, {"hKey", argObject}, {"pAssociatedData", argSkip}, {"ulAssociatedDataLen", argULong}, {"pWrappedKey", argSkip}, {"pulWrappedKeyLen", argOutULong}},
	{{"hSession", argSession}, {"pMechanism", argMechanism}, {"hUnwrappingKey", argObject}, {"pWrappedKey", argSkip}, {"ulWrappedKeyLen", argULong}, {"pTemplate", argSkip}, {"ulAttributeCount", argULong}, {"pAssociatedData", argSkip}, {"ulAssociatedDataLen", argULong}, {"phKey", argOutULong}},
}
