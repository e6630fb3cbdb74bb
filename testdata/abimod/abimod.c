/*
 * abimod: a fake PKCS#11 module that proves the Cryptoki struct layouts of
 * the platform it is compiled for.
 *
 * It does two jobs. abimod_layout() reports offsetof/sizeof/_Alignof of
 * every struct that internal/abi models, as computed by the C compiler
 * from the official OASIS headers. The C_ functions form a small module
 * that answers with known values and checks every struct it is handed
 * against known values, so a Go test can show that what Go encodes is
 * what C decodes, and back. The known values are all listed in the
 * "Canonical values" section below; README.md explains how to build.
 *
 * The same source builds with gcc or clang on Unix and with mingw for
 * Windows, where the headers are compiled packed to 1 byte as the
 * Cryptoki convention asks. The module is not thread-safe: drive it from
 * one thread at a time.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/*
 * The five platform macros pkcs11.h asks for, and the export attribute.
 * The functions are exported (dllexport on Windows) since this is the
 * module, not a caller. Function pointer types stay plain everywhere: the
 * dllimport that the header's comments suggest for them on Windows means
 * nothing on a pointer, and gcc says so with a warning.
 */
#ifdef _WIN32
#define ABIMOD_EXPORT __declspec(dllexport)
#else
#define ABIMOD_EXPORT __attribute__((visibility("default")))
#endif

#define CK_PTR *
#define CK_DECLARE_FUNCTION(returnType, name) ABIMOD_EXPORT returnType name
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (*name)
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (*name)
#ifndef NULL_PTR
#define NULL_PTR 0
#endif

#ifdef _WIN32
#pragma pack(push, cryptoki, 1)
#include "include/pkcs11.h"
#pragma pack(pop, cryptoki)
#else
#include "include/pkcs11.h"
#endif

ABIMOD_EXPORT int abimod_layout(char *buf, int len);
ABIMOD_EXPORT const char *abimod_init_reserved(void);
ABIMOD_EXPORT unsigned long abimod_init_flags(void);
ABIMOD_EXPORT const char *abimod_last_error(void);
ABIMOD_EXPORT void abimod_set_fault(unsigned long f);
ABIMOD_EXPORT unsigned long abimod_count(unsigned long what);

#define UNSUPPORTED { return CKR_FUNCTION_NOT_SUPPORTED; }

/* ---------------------------------------------------------------------
 * Canonical values
 *
 * Every value the module hands out and every value it expects from the
 * caller. A Go test that wants the module to say CKR_OK sends exactly
 * these.
 * ------------------------------------------------------------------- */

/* Slots: 1 has no token, 7 has one. */
#define SLOT_EMPTY 1
#define SLOT_TOKEN 7

/* C_GetInfo */
#define INFO_CRYPTOKI_VERSION {3, 2}
#define INFO_MANUFACTURER "purepkcs11 ABI module"
#define INFO_DESCRIPTION "layout prover"
#define INFO_LIBRARY_VERSION {1, 7}

/* C_GetSlotInfo(7); slot 1 reports "ABI empty slot", flags CKF_HW_SLOT |
 * CKF_REMOVABLE_DEVICE and versions {0,1}. */
#define SLOT_DESCRIPTION "ABI slot"
#define SLOT_MANUFACTURER "purepkcs11"
#define SLOT_FLAGS (CKF_TOKEN_PRESENT | CKF_HW_SLOT)
#define SLOT_HW_VERSION {2, 3}
#define SLOT_FW_VERSION {4, 5}

/* C_GetTokenInfo(7) */
#define TOKEN_LABEL "abi-token"
#define TOKEN_MANUFACTURER "purepkcs11"
#define TOKEN_MODEL "abimod"
#define TOKEN_SERIAL "0123456789abcdef"
#define TOKEN_FLAGS (CKF_RNG | CKF_LOGIN_REQUIRED | \
	CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED)
#define TOKEN_MAX_SESSIONS CK_EFFECTIVELY_INFINITE
#define TOKEN_SESSIONS CK_UNAVAILABLE_INFORMATION
#define TOKEN_MAX_RW_SESSIONS 11
#define TOKEN_RW_SESSIONS 12
#define TOKEN_MAX_PIN 13
#define TOKEN_MIN_PIN 4
#define TOKEN_TOTAL_PUBLIC 0x11111111
#define TOKEN_FREE_PUBLIC CK_UNAVAILABLE_INFORMATION
#define TOKEN_TOTAL_PRIVATE 0x22222222
#define TOKEN_FREE_PRIVATE 0x33333333
#define TOKEN_HW_VERSION {6, 7}
#define TOKEN_FW_VERSION {8, 9}
#define TOKEN_UTC_TIME "2026120312345600"

/* C_GetMechanismInfo: ulMinKeySize is the mechanism number & 0xff. */
#define MECH_MAX_KEY 4096
#define MECH_FLAGS (CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT)

/* Sessions, login, objects. C_OpenSession needs CKF_SERIAL_SESSION. */
#define SESSION 0x51
#define SESSION_STATE CKS_RW_USER_FUNCTIONS
#define SESSION_FLAGS (CKF_RW_SESSION | CKF_SERIAL_SESSION)
#define SESSION_DEVICE_ERROR 0x77
#define USER_PIN "1234"			/* for CKU_USER only */
#define OBJECT 0x100			/* for C_GetAttributeValue */
#define CREATED_OBJECT 0x200		/* from C_CreateObject */
#define DERIVED_KEY 0x99		/* from C_DeriveKey */
static const char signature[4] = {'s', 'i', 'g', '!'};	/* from C_Sign */
#define WRAPPED_LEN 24		/* C_WrapKey output: byte i is 0xC0 + i */

/* Attributes of OBJECT. CKA_VALUE is sensitive; other types are invalid. */
static const char obj_label[] = "abi-object";	/* CKA_LABEL, no NUL */
static const CK_ULONG obj_class = CKO_SECRET_KEY;	/* CKA_CLASS */
static const CK_ULONG obj_value_len = 32;		/* CKA_VALUE_LEN */
static const CK_DATE obj_start_date = {		/* CKA_START_DATE */
	{'2', '0', '2', '6'}, {'1', '2'}, {'0', '3'}
};

/* The template C_CreateObject and C_FindObjectsInit expect, in any order
 * (C_FindObjectsInit also takes an empty template). */
static const CK_ULONG tmpl_class = CKO_DATA;		/* CKA_CLASS */
static const CK_BBOOL tmpl_token = CK_TRUE;		/* CKA_TOKEN */
static const char tmpl_label[4] = {'t', 'm', 'p', 'l'};	/* CKA_LABEL */
/* CKA_VALUE: ulValueLen 0 with a pointer that is not NULL. */

/* The mechanisms of the token, in the order C_GetMechanismList gives. */
static const CK_MECHANISM_TYPE mech_list[] = {
	CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_ECDH1_DERIVE, CKM_EDDSA,
	CKM_AES_GCM, CKM_AES_CCM, CKM_AES_CTR, CKM_AES_CBC_PAD,
	CKM_AES_KEY_WRAP, CKM_VENDOR_DEFINED + 0x42,
};

/* Mechanism parameters C_SignInit, C_EncryptInit, C_WrapKey and
 * C_DeriveKey accept; any other value is CKR_MECHANISM_PARAM_INVALID.
 * CKM_VENDOR_DEFINED+0x42 takes no parameter (ulParameterLen 0). */

/* CKM_RSA_PKCS_PSS: CK_RSA_PKCS_PSS_PARAMS */
#define PSS_HASH CKM_SHA256
#define PSS_MGF CKG_MGF1_SHA256
#define PSS_SLEN 32

/* CKM_RSA_PKCS_OAEP: CK_RSA_PKCS_OAEP_PARAMS */
#define OAEP_HASH CKM_SHA384
#define OAEP_MGF CKG_MGF1_SHA384
#define OAEP_SOURCE CKZ_DATA_SPECIFIED
static const CK_BYTE oaep_label[5] = {'l', 'a', 'b', 'e', 'l'};

/* CKM_ECDH1_DERIVE: CK_ECDH1_DERIVE_PARAMS, kdf CKD_NULL, no shared data
 * (length 0, pointer NULL), public data 65 bytes: 0x04, then byte i is i. */
#define ECDH_KDF CKD_NULL
#define ECDH_PUBLIC_LEN 65

/* CKM_EDDSA: CK_EDDSA_PARAMS */
#define EDDSA_PH CK_TRUE
static const CK_BYTE eddsa_context[3] = {'c', 't', 'x'};

/* CKM_AES_GCM: CK_GCM_PARAMS. The IV is 0xA0..0xAB; the module overwrites
 * it with 0xB0..0xBB, as tokens that generate the IV do, when
 * C_EncryptInit succeeds and when C_WrapKey or C_WrapKeyAuthenticated
 * write the wrapped key (not on their size query). */
#define GCM_IV_LEN 12
#define GCM_IV_FIRST 0xA0
#define GCM_NEW_IV_FIRST 0xB0
#define GCM_IV_BITS 96
static const CK_BYTE gcm_aad[3] = {'a', 'a', 'd'};
#define GCM_TAG_BITS 128

/* CKM_AES_CCM: CK_CCM_PARAMS, nonce 0x01..0x07 */
#define CCM_DATA_LEN 64
#define CCM_NONCE_LEN 7
static const CK_BYTE ccm_aad[3] = {'h', 'd', 'r'};
#define CCM_MAC_LEN 16

/* CKM_AES_CTR: CK_AES_CTR_PARAMS, cb 0x00..0x0f */
#define CTR_COUNTER_BITS 32

/* CKM_AES_CBC_PAD: a bare 16-byte IV 0x10..0x1f.
 * CKM_AES_KEY_WRAP: a bare 8-byte IV of 0xA6. */
#define CBC_IV_LEN 16
#define WRAP_IV_LEN 8
#define WRAP_IV_BYTE 0xA6

/* Attribute arrays of OBJECT: CKA_WRAP_TEMPLATE holds three attributes,
 * CKA_UNWRAP_TEMPLATE none. */
static const CK_ULONG wrap_key_type = CKK_AES;
static const CK_BBOOL wrap_extractable = CK_FALSE;
static const char wrap_label[7] = {'w', 'r', 'a', 'p', 'p', 'e', 'd'};
struct elem {
	CK_ATTRIBUTE_TYPE type;
	const void *value;
	CK_ULONG len;
};
static const struct elem wrap_template[] = {
	{CKA_KEY_TYPE, &wrap_key_type, sizeof wrap_key_type},
	{CKA_EXTRACTABLE, &wrap_extractable, sizeof wrap_extractable},
	{CKA_LABEL, wrap_label, sizeof wrap_label},
};
#define NWRAP (sizeof wrap_template / sizeof wrap_template[0])

/* The functions of PKCS#11 3.0 and 3.2 check every key handle: the key of
 * an operation is KEY, the key C_WrapKeyAuthenticated wraps is KEY + 1. */
#define KEY 0x300
#define LOGIN_USERNAME "abi-user"	/* C_LoginUser, with USER_PIN */

/* The data of the message-based functions and of C_VerifySignature* is
 * any number of bytes msg_byte(i), i counted from the start of the
 * message. */
#define msg_byte(i) ((CK_BYTE)('0' + (i) % 10))

/* Message-based AES-GCM. C_MessageEncryptInit and C_MessageDecryptInit
 * take CKM_AES_GCM without parameter and KEY; each message carries a
 * CK_GCM_MESSAGE_PARAMS, gcm_aad as associated data, and comes out XOR
 * MSG_XOR. Encrypting, the parameter has the IV 0xA0..0xAB
 * (GCM_IV_FIRST), MSG_IV_FIXED_BITS, MSG_IV_GENERATOR, a tag buffer and
 * GCM_TAG_BITS; the module writes the generated IV 0xB0..0xBB
 * (GCM_NEW_IV_FIRST) into it in C_EncryptMessage or
 * C_EncryptMessageBegin, and the tag 0xD0..0xDF when the message ends.
 * Decrypting, it expects that IV and tag back. */
#define MSG_IV_FIXED_BITS 16
#define MSG_IV_GENERATOR CKG_GENERATE_COUNTER
#define MSG_TAG_LEN 16
#define MSG_TAG_FIRST 0xD0
#define MSG_XOR 0x5A

/* ML-DSA. C_MessageSignInit, C_MessageVerifyInit and
 * C_VerifySignatureInit take CKM_ML_DSA with no parameter or with a
 * CK_SIGN_ADDITIONAL_CONTEXT of SAC_HEDGE and sac_context, and KEY; each
 * message carries that CK_SIGN_ADDITIONAL_CONTEXT. The signature is
 * MLDSA_SIG_LEN bytes, byte i being i & 0xff. */
#define SAC_HEDGE CKH_DETERMINISTIC_REQUIRED
static const CK_BYTE sac_context[5] = {'m', 'l', 'd', 's', 'a'};
#define MLDSA_SIG_LEN 2420

/* C_EncapsulateKey and C_DecapsulateKey: CKM_ML_KEM without parameter,
 * KEY, the template of C_CreateObject, and a ciphertext of MLKEM_CT_LEN
 * bytes, byte i being (MLKEM_CT_FIRST + i) & 0xff. */
#define MLKEM_CT_LEN 1088
#define MLKEM_CT_FIRST 0x60
#define ENCAPSULATED_KEY 0x400
#define DECAPSULATED_KEY 0x401

/* C_WrapKeyAuthenticated takes a mechanism C_WrapKey takes, KEY wrapping
 * KEY + 1 and gcm_aad; it gives AUTH_WRAPPED_LEN bytes 0xC0 + i.
 * C_UnwrapKeyAuthenticated takes them back with the same mechanism, KEY,
 * gcm_aad and the template of C_CreateObject, and gives UNWRAPPED_KEY. */
#define AUTH_WRAPPED_LEN 40
#define UNWRAPPED_KEY 0x402

/* C_GetSessionValidationFlags(CKS_LAST_VALIDATION_OK) */
#define VALIDATION_FLAGS 0x80000001UL

/* Asynchronous calls: only ASYNC_FUNCTION is pending. C_AsyncGetID gives
 * ASYNC_ID; C_AsyncJoin takes it with a buffer of ASYNC_JOIN_LEN bytes and
 * fills it with 0x70 + i; C_AsyncComplete wants ulVersion ASYNC_VERSION
 * and gives async_value, ASYNC_OBJECT and ASYNC_OBJECT + 1. */
#define ASYNC_FUNCTION "C_GenerateKeyPair"
#define ASYNC_ID 0x5EED
#define ASYNC_JOIN_LEN 32
#define ASYNC_JOIN_FIRST 0x70
#define ASYNC_VERSION 1
static const CK_BYTE async_value[6] = {'a', 's', 'y', 'n', 'c', '!'};
#define ASYNC_OBJECT 0x500

/* Faults abimod_set_fault() switches on. */
enum {
	FAULT_NONE,
	FAULT_SLOT_LIST_GROWS,	/* C_GetSlotList: 1000000, then too small */
	FAULT_SIGN_LONG,	/* C_Sign: length beyond the caller's buffer */
	FAULT_INFO_RV,		/* C_GetInfo: returns UNKNOWN_RV */
	FAULT_LABEL_LONG,	/* C_GetAttributeValue: CKA_LABEL too long */
	FAULT_QUERY_SHORT,	/* 3.x outputs: size query gives half */
	FAULT_OUT_LONG,		/* 3.x outputs: length beyond the buffer */
	FAULT_LABEL_UNAVAILABLE, /* CKA_LABEL: unavailable, with CKR_OK */
	FAULT_LABEL_ONCE,	/* the same once, then CKA_LABEL as usual */
	FAULT_ARRAY_LONG,	/* CKA_WRAP_TEMPLATE: an element too long */
	FAULT_ARRAY_HUGE,	/* CKA_WRAP_TEMPLATE: an element of 1 GiB */
};
#define SLOT_LIST_GROWS 1000000
#define UNKNOWN_RV 0xCE534351UL
#define LONG_BY 16	/* how far the lying lengths overshoot */
#define ARRAY_HUGE 0x40000000UL

/* What abimod_count() counts. */
enum {
	COUNT_INITIALIZE,	/* calls of C_Initialize */
	COUNT_FINALIZE,		/* calls of C_Finalize */
	NCOUNTS
};

/* ---------------------------------------------------------------------
 * Layout table
 * ------------------------------------------------------------------- */

/* The number of function pointers in each function list, counted from
 * pkcs11f.h, the same list the headers build the structs from. */
#define CK_PKCS11_FUNCTION_INFO(name) + 1
enum {
	FUNCS_3_2 = 0
#include "include/pkcs11f.h"
};
#define CK_PKCS11_3_0_ONLY 1
enum {
	FUNCS_3_0 = 0
#include "include/pkcs11f.h"
};
#undef CK_PKCS11_3_0_ONLY
#define CK_PKCS11_2_0_ONLY 1
enum {
	FUNCS_2_40 = 0
#include "include/pkcs11f.h"
};
#undef CK_PKCS11_2_0_ONLY
#undef CK_PKCS11_FUNCTION_INFO

struct out {
	char *buf;
	int len;	/* room in buf */
	int n;		/* bytes the whole table needs, without the NUL */
};

static void put(struct out *o, const char *fmt, ...)
{
	char line[160];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if (k >= (int)sizeof line)
		k = sizeof line - 1;
	if (o->n + k < o->len)
		memcpy(o->buf + o->n, line, k);
	o->n += k;
}

#define STRUCT(T) put(&o, "%s - %lu %lu\n", #T, \
	(unsigned long)sizeof(T), (unsigned long)_Alignof(T))
#define FIELD(T, f) put(&o, "%s %s %lu %lu\n", #T, #f, \
	(unsigned long)offsetof(T, f), (unsigned long)sizeof(((T *)0)->f))
#define FACT(name, value) put(&o, "= %s %lu\n", name, (unsigned long)(value))

/*
 * abimod_layout writes the layout table into buf and returns its length
 * without the terminating NUL, which it also writes. If buf is shorter
 * than the table plus its NUL it returns minus that length instead, and
 * what buf holds is unspecified.
 *
 * The table is text, one record a line, fields separated by one space:
 *
 *	STRUCT - SIZEOF ALIGNOF		one per struct
 *	STRUCT FIELD OFFSET SIZE	one per field, arrays as a whole
 *	= FACT VALUE			a fact about the platform
 *	# ...				a comment
 *
 * Numbers are decimal. Struct and field names are those of the headers,
 * and the set is the one internal/abi models: CK_FUNCTION_LIST lists
 * only version and C_Initialize, its size being the real sizeof. The
 * facts are sizeof(CK_ULONG), sizeof(CK_VOID_PTR), packed (1 if the
 * Cryptoki structs have alignment 1), functions(L) for the number of
 * function pointers in each function list L, and sizeof(L) for the 3.x
 * lists.
 */
int abimod_layout(char *buf, int len)
{
	struct out o = {buf, buf == NULL || len < 0 ? 0 : len, 0};

	put(&o, "# abimod layout 1: STRUCT - SIZEOF ALIGNOF | "
		"STRUCT FIELD OFFSET SIZE | = FACT VALUE\n");
	FACT("sizeof(CK_ULONG)", sizeof(CK_ULONG));
	FACT("sizeof(CK_VOID_PTR)", sizeof(CK_VOID_PTR));
	FACT("packed", _Alignof(CK_ATTRIBUTE) == 1);
	FACT("functions(CK_FUNCTION_LIST)", FUNCS_2_40);
	FACT("functions(CK_FUNCTION_LIST_3_0)", FUNCS_3_0);
	FACT("functions(CK_FUNCTION_LIST_3_2)", FUNCS_3_2);
	FACT("sizeof(CK_FUNCTION_LIST_3_0)", sizeof(CK_FUNCTION_LIST_3_0));
	FACT("sizeof(CK_FUNCTION_LIST_3_2)", sizeof(CK_FUNCTION_LIST_3_2));

	STRUCT(CK_VERSION);
	FIELD(CK_VERSION, major);
	FIELD(CK_VERSION, minor);

	STRUCT(CK_INFO);
	FIELD(CK_INFO, cryptokiVersion);
	FIELD(CK_INFO, manufacturerID);
	FIELD(CK_INFO, flags);
	FIELD(CK_INFO, libraryDescription);
	FIELD(CK_INFO, libraryVersion);

	STRUCT(CK_SLOT_INFO);
	FIELD(CK_SLOT_INFO, slotDescription);
	FIELD(CK_SLOT_INFO, manufacturerID);
	FIELD(CK_SLOT_INFO, flags);
	FIELD(CK_SLOT_INFO, hardwareVersion);
	FIELD(CK_SLOT_INFO, firmwareVersion);

	STRUCT(CK_TOKEN_INFO);
	FIELD(CK_TOKEN_INFO, label);
	FIELD(CK_TOKEN_INFO, manufacturerID);
	FIELD(CK_TOKEN_INFO, model);
	FIELD(CK_TOKEN_INFO, serialNumber);
	FIELD(CK_TOKEN_INFO, flags);
	FIELD(CK_TOKEN_INFO, ulMaxSessionCount);
	FIELD(CK_TOKEN_INFO, ulSessionCount);
	FIELD(CK_TOKEN_INFO, ulMaxRwSessionCount);
	FIELD(CK_TOKEN_INFO, ulRwSessionCount);
	FIELD(CK_TOKEN_INFO, ulMaxPinLen);
	FIELD(CK_TOKEN_INFO, ulMinPinLen);
	FIELD(CK_TOKEN_INFO, ulTotalPublicMemory);
	FIELD(CK_TOKEN_INFO, ulFreePublicMemory);
	FIELD(CK_TOKEN_INFO, ulTotalPrivateMemory);
	FIELD(CK_TOKEN_INFO, ulFreePrivateMemory);
	FIELD(CK_TOKEN_INFO, hardwareVersion);
	FIELD(CK_TOKEN_INFO, firmwareVersion);
	FIELD(CK_TOKEN_INFO, utcTime);

	STRUCT(CK_SESSION_INFO);
	FIELD(CK_SESSION_INFO, slotID);
	FIELD(CK_SESSION_INFO, state);
	FIELD(CK_SESSION_INFO, flags);
	FIELD(CK_SESSION_INFO, ulDeviceError);

	STRUCT(CK_MECHANISM_INFO);
	FIELD(CK_MECHANISM_INFO, ulMinKeySize);
	FIELD(CK_MECHANISM_INFO, ulMaxKeySize);
	FIELD(CK_MECHANISM_INFO, flags);

	STRUCT(CK_ATTRIBUTE);
	FIELD(CK_ATTRIBUTE, type);
	FIELD(CK_ATTRIBUTE, pValue);
	FIELD(CK_ATTRIBUTE, ulValueLen);

	STRUCT(CK_MECHANISM);
	FIELD(CK_MECHANISM, mechanism);
	FIELD(CK_MECHANISM, pParameter);
	FIELD(CK_MECHANISM, ulParameterLen);

	STRUCT(CK_DATE);
	FIELD(CK_DATE, year);
	FIELD(CK_DATE, month);
	FIELD(CK_DATE, day);

	STRUCT(CK_INTERFACE);
	FIELD(CK_INTERFACE, pInterfaceName);
	FIELD(CK_INTERFACE, pFunctionList);
	FIELD(CK_INTERFACE, flags);

	STRUCT(CK_C_INITIALIZE_ARGS);
	FIELD(CK_C_INITIALIZE_ARGS, CreateMutex);
	FIELD(CK_C_INITIALIZE_ARGS, DestroyMutex);
	FIELD(CK_C_INITIALIZE_ARGS, LockMutex);
	FIELD(CK_C_INITIALIZE_ARGS, UnlockMutex);
	FIELD(CK_C_INITIALIZE_ARGS, flags);
	FIELD(CK_C_INITIALIZE_ARGS, pReserved);

	STRUCT(CK_FUNCTION_LIST);
	FIELD(CK_FUNCTION_LIST, version);
	FIELD(CK_FUNCTION_LIST, C_Initialize);

	STRUCT(CK_RSA_PKCS_PSS_PARAMS);
	FIELD(CK_RSA_PKCS_PSS_PARAMS, hashAlg);
	FIELD(CK_RSA_PKCS_PSS_PARAMS, mgf);
	FIELD(CK_RSA_PKCS_PSS_PARAMS, sLen);

	STRUCT(CK_RSA_PKCS_OAEP_PARAMS);
	FIELD(CK_RSA_PKCS_OAEP_PARAMS, hashAlg);
	FIELD(CK_RSA_PKCS_OAEP_PARAMS, mgf);
	FIELD(CK_RSA_PKCS_OAEP_PARAMS, source);
	FIELD(CK_RSA_PKCS_OAEP_PARAMS, pSourceData);
	FIELD(CK_RSA_PKCS_OAEP_PARAMS, ulSourceDataLen);

	STRUCT(CK_ECDH1_DERIVE_PARAMS);
	FIELD(CK_ECDH1_DERIVE_PARAMS, kdf);
	FIELD(CK_ECDH1_DERIVE_PARAMS, ulSharedDataLen);
	FIELD(CK_ECDH1_DERIVE_PARAMS, pSharedData);
	FIELD(CK_ECDH1_DERIVE_PARAMS, ulPublicDataLen);
	FIELD(CK_ECDH1_DERIVE_PARAMS, pPublicData);

	STRUCT(CK_EDDSA_PARAMS);
	FIELD(CK_EDDSA_PARAMS, phFlag);
	FIELD(CK_EDDSA_PARAMS, ulContextDataLen);
	FIELD(CK_EDDSA_PARAMS, pContextData);

	STRUCT(CK_GCM_PARAMS);
	FIELD(CK_GCM_PARAMS, pIv);
	FIELD(CK_GCM_PARAMS, ulIvLen);
	FIELD(CK_GCM_PARAMS, ulIvBits);
	FIELD(CK_GCM_PARAMS, pAAD);
	FIELD(CK_GCM_PARAMS, ulAADLen);
	FIELD(CK_GCM_PARAMS, ulTagBits);

	STRUCT(CK_CCM_PARAMS);
	FIELD(CK_CCM_PARAMS, ulDataLen);
	FIELD(CK_CCM_PARAMS, pNonce);
	FIELD(CK_CCM_PARAMS, ulNonceLen);
	FIELD(CK_CCM_PARAMS, pAAD);
	FIELD(CK_CCM_PARAMS, ulAADLen);
	FIELD(CK_CCM_PARAMS, ulMACLen);

	STRUCT(CK_AES_CTR_PARAMS);
	FIELD(CK_AES_CTR_PARAMS, ulCounterBits);
	FIELD(CK_AES_CTR_PARAMS, cb);

	STRUCT(CK_GCM_MESSAGE_PARAMS);
	FIELD(CK_GCM_MESSAGE_PARAMS, pIv);
	FIELD(CK_GCM_MESSAGE_PARAMS, ulIvLen);
	FIELD(CK_GCM_MESSAGE_PARAMS, ulIvFixedBits);
	FIELD(CK_GCM_MESSAGE_PARAMS, ivGenerator);
	FIELD(CK_GCM_MESSAGE_PARAMS, pTag);
	FIELD(CK_GCM_MESSAGE_PARAMS, ulTagBits);

	STRUCT(CK_SIGN_ADDITIONAL_CONTEXT);
	FIELD(CK_SIGN_ADDITIONAL_CONTEXT, hedgeVariant);
	FIELD(CK_SIGN_ADDITIONAL_CONTEXT, pContext);
	FIELD(CK_SIGN_ADDITIONAL_CONTEXT, ulContextLen);

	STRUCT(CK_ASYNC_DATA);
	FIELD(CK_ASYNC_DATA, ulVersion);
	FIELD(CK_ASYNC_DATA, pValue);
	FIELD(CK_ASYNC_DATA, ulValue);
	FIELD(CK_ASYNC_DATA, hObject);
	FIELD(CK_ASYNC_DATA, hAdditionalObject);

	if (o.n >= o.len)
		return -(o.n + 1);
	o.buf[o.n] = '\0';
	return o.n;
}

#undef STRUCT
#undef FIELD
#undef FACT

/* ---------------------------------------------------------------------
 * Module state and test hooks
 * ------------------------------------------------------------------- */

static int initialized;
static CK_FLAGS init_flags;
static int init_has_reserved;
static char init_reserved[256];
static unsigned long fault;
static char last_error[256];

static CK_ULONG open_sessions;	/* all of them share the handle SESSION */
static int logged_in;
static int sign_active;
static int find_active;
static CK_OBJECT_HANDLE find_next;	/* 0 once the search is done */
static int label_refused;	/* FAULT_LABEL_ONCE has refused CKA_LABEL */
static unsigned long counts[NCOUNTS];

/* A message-based operation of PKCS#11 3.0. */
struct msgop {
	int active;		/* C_Message*Init succeeded */
	int in_message;		/* between *MessageBegin and the last part */
	CK_ULONG offset;	/* bytes of the message seen so far */
};
static struct msgop msg_enc, msg_dec, msg_sign, msg_verify;

/* The C_VerifySignature* operation. */
static struct {
	int active;
	int sig_good;		/* the signature C_VerifySignatureInit got */
	CK_ULONG offset;	/* bytes of data seen so far */
} vsig;

/* abimod_init_reserved returns the string C_Initialize found in
 * pInitArgs->pReserved (at most 255 bytes of it), or NULL if C_Initialize
 * got no arguments or a NULL pReserved. */
const char *abimod_init_reserved(void)
{
	return init_has_reserved ? init_reserved : NULL;
}

/* abimod_init_flags returns pInitArgs->flags of the last C_Initialize, 0
 * if it got no arguments. */
unsigned long abimod_init_flags(void)
{
	return init_flags;
}

/* abimod_last_error returns why the last check of a caller's struct
 * failed: "STRUCT.field: expected X, got Y". Every check clears it, so it
 * is empty after one that passed. */
const char *abimod_last_error(void)
{
	return last_error;
}

/* abimod_set_fault switches on a hostile behaviour (see the FAULT_ enum),
 * or turns it off with 0. */
void abimod_set_fault(unsigned long f)
{
	fault = f;
	label_refused = 0;
}

/* abimod_count returns a count kept since the module was loaded: the
 * calls of C_Initialize (0) or of C_Finalize (1). */
unsigned long abimod_count(unsigned long what)
{
	return what < NCOUNTS ? counts[what] : 0;
}

/* end_operations ends every operation of the session. */
static void end_operations(void)
{
	sign_active = 0;
	find_active = 0;
	memset(&msg_enc, 0, sizeof msg_enc);
	memset(&msg_dec, 0, sizeof msg_dec);
	memset(&msg_sign, 0, sizeof msg_sign);
	memset(&msg_verify, 0, sizeof msg_verify);
	memset(&vsig, 0, sizeof vsig);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
}

/* pad copies s into a blank padded, unterminated field of n bytes. */
static void pad(CK_UTF8CHAR *dst, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(dst, ' ', n);
	memcpy(dst, s, l < n ? l : n);
}

static CK_RV token_slot(CK_SLOT_ID slot)
{
	if (!initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (slot == SLOT_TOKEN)
		return CKR_OK;
	if (slot == SLOT_EMPTY)
		return CKR_TOKEN_NOT_PRESENT;
	return CKR_SLOT_ID_INVALID;
}

static CK_RV session_ok(CK_SESSION_HANDLE h)
{
	if (!initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (h != SESSION || open_sessions == 0)
		return CKR_SESSION_HANDLE_INVALID;
	return CKR_OK;
}

/* put_out implements the size-query convention for a byte output: a NULL
 * buffer asks for the length, a short one gets CKR_BUFFER_TOO_SMALL. */
static CK_RV put_out(CK_BYTE_PTR dst, CK_ULONG_PTR dstLen,
	const void *src, CK_ULONG n)
{
	if (dstLen == NULL)
		return CKR_ARGUMENTS_BAD;
	if (dst == NULL) {
		*dstLen = n;
		return CKR_OK;
	}
	if (*dstLen < n) {
		*dstLen = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(dst, src, n);
	*dstLen = n;
	return CKR_OK;
}

/* put_ulongs is put_out for arrays of CK_ULONG (slots, mechanisms). */
static CK_RV put_ulongs(CK_ULONG_PTR dst, CK_ULONG_PTR count,
	const CK_ULONG *src, CK_ULONG n)
{
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (dst == NULL) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(dst, src, n * sizeof *src);
	*count = n;
	return CKR_OK;
}

/* out_room applies the size-query convention to an output of n bytes of
 * the PKCS#11 3.x functions. It returns 1 when dst takes them, and else 0
 * with *rv set: CKR_OK after a size query, which FAULT_QUERY_SHORT
 * answers with half the length. */
static int out_room(CK_BYTE_PTR dst, CK_ULONG_PTR dstLen, CK_ULONG n,
	CK_RV *rv)
{
	if (dstLen == NULL) {
		*rv = CKR_ARGUMENTS_BAD;
		return 0;
	}
	if (dst == NULL) {
		*dstLen = fault == FAULT_QUERY_SHORT ? n / 2 : n;
		*rv = CKR_OK;
		return 0;
	}
	if (*dstLen < n) {
		*dstLen = n;
		*rv = CKR_BUFFER_TOO_SMALL;
		return 0;
	}
	*rv = CKR_OK;
	return 1;
}

/* out_done reports the n bytes written after out_room, or, with
 * FAULT_OUT_LONG, more than the buffer holds. */
static void out_done(CK_ULONG_PTR dstLen, CK_ULONG n)
{
	*dstLen = fault == FAULT_OUT_LONG ? *dstLen + LONG_BY : n;
}

/* fill_seq writes n bytes counting up from first. */
static void fill_seq(CK_BYTE *dst, CK_ULONG n, CK_BYTE first)
{
	CK_ULONG i;

	for (i = 0; i < n; i++)
		dst[i] = (CK_BYTE)(first + i);
}

/* ---------------------------------------------------------------------
 * Checks of the caller's structs. Each returns 1 and records a message
 * on a mismatch, 0 on a match.
 * ------------------------------------------------------------------- */

static int bad_ulong(const char *where, CK_ULONG want, CK_ULONG got)
{
	if (want == got)
		return 0;
	fail("%s: expected 0x%lx, got 0x%lx", where, want, got);
	return 1;
}

static int bad_bytes(const char *where, const CK_BYTE *want, CK_ULONG n,
	const void *got)
{
	const CK_BYTE *g = got;
	CK_ULONG i;

	if (g == NULL) {
		fail("%s: expected %lu bytes, got NULL", where, n);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (g[i] != want[i]) {
			fail("%s[%lu]: expected 0x%02x, got 0x%02x", where, i,
				want[i], g[i]);
			return 1;
		}
	}
	return 0;
}

/* bad_seq checks n bytes counting up from first, and their length. */
static int bad_seq(const char *where, const CK_BYTE *got, CK_ULONG n,
	CK_ULONG want, CK_BYTE first)
{
	CK_ULONG i;

	if (n != want) {
		fail("%s: expected %lu bytes, got %lu", where, want, n);
		return 1;
	}
	if (got == NULL) {
		fail("%s: expected %lu bytes, got NULL", where, n);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (got[i] != (CK_BYTE)(first + i)) {
			fail("%s[%lu]: expected 0x%02x, got 0x%02x", where, i,
				(CK_BYTE)(first + i), got[i]);
			return 1;
		}
	}
	return 0;
}

/* bad_data checks n bytes of message data from offset off, XOR x. */
static int bad_data(const char *where, const CK_BYTE *got, CK_ULONG n,
	CK_ULONG off, CK_BYTE x)
{
	CK_ULONG i;

	if (got == NULL) {
		fail("%s: expected %lu bytes, got NULL", where, n);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (got[i] != (msg_byte(off + i) ^ x)) {
			fail("%s[%lu]: expected 0x%02x, got 0x%02x", where, i,
				msg_byte(off + i) ^ x, got[i]);
			return 1;
		}
	}
	return 0;
}

/* bad_aad checks associated data against gcm_aad. */
static int bad_aad(const CK_BYTE *got, CK_ULONG n)
{
	return bad_ulong("ulAssociatedDataLen", sizeof gcm_aad, n) ||
		bad_bytes("pAssociatedData", gcm_aad, sizeof gcm_aad, got);
}

/* bad_ptr_null checks that a pointer field is NULL. */
static int bad_ptr_null(const char *where, const void *got)
{
	if (got == NULL)
		return 0;
	fail("%s: expected NULL, got %p", where, got);
	return 1;
}

/* In the check_ functions p points to the parameter struct T. */
#define BAD_UL(T, f, want) bad_ulong(#T "." #f, (want), p->f)
#define BAD_BYTES(T, f, want, n) bad_bytes(#T "." #f, (want), (n), p->f)

/* bad_param checks pParameter and ulParameterLen of a mechanism. */
static int bad_param(CK_MECHANISM_PTR m, const char *name, CK_ULONG size)
{
	if (size > 0 && m->pParameter == NULL) {
		fail("CK_MECHANISM.pParameter of %s: expected %lu bytes, "
			"got NULL", name, size);
		return 1;
	}
	if (m->ulParameterLen != size) {
		fail("CK_MECHANISM.ulParameterLen of %s: expected %lu, got %lu",
			name, size, m->ulParameterLen);
		return 1;
	}
	return 0;
}

static int check_pss(CK_MECHANISM_PTR m)
{
	CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;

	return bad_param(m, "CKM_RSA_PKCS_PSS", sizeof *p) ||
		BAD_UL(CK_RSA_PKCS_PSS_PARAMS, hashAlg, PSS_HASH) ||
		BAD_UL(CK_RSA_PKCS_PSS_PARAMS, mgf, PSS_MGF) ||
		BAD_UL(CK_RSA_PKCS_PSS_PARAMS, sLen, PSS_SLEN);
}

static int check_oaep(CK_MECHANISM_PTR m)
{
	CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;

	return bad_param(m, "CKM_RSA_PKCS_OAEP", sizeof *p) ||
		BAD_UL(CK_RSA_PKCS_OAEP_PARAMS, hashAlg, OAEP_HASH) ||
		BAD_UL(CK_RSA_PKCS_OAEP_PARAMS, mgf, OAEP_MGF) ||
		BAD_UL(CK_RSA_PKCS_OAEP_PARAMS, source, OAEP_SOURCE) ||
		BAD_UL(CK_RSA_PKCS_OAEP_PARAMS, ulSourceDataLen,
			sizeof oaep_label) ||
		BAD_BYTES(CK_RSA_PKCS_OAEP_PARAMS, pSourceData, oaep_label,
			sizeof oaep_label);
}

static int check_ecdh(CK_MECHANISM_PTR m)
{
	CK_ECDH1_DERIVE_PARAMS *p = m->pParameter;
	CK_BYTE point[ECDH_PUBLIC_LEN];
	int i;

	point[0] = 0x04;
	for (i = 1; i < ECDH_PUBLIC_LEN; i++)
		point[i] = i;
	return bad_param(m, "CKM_ECDH1_DERIVE", sizeof *p) ||
		BAD_UL(CK_ECDH1_DERIVE_PARAMS, kdf, ECDH_KDF) ||
		BAD_UL(CK_ECDH1_DERIVE_PARAMS, ulSharedDataLen, 0) ||
		bad_ptr_null("CK_ECDH1_DERIVE_PARAMS.pSharedData",
			p->pSharedData) ||
		BAD_UL(CK_ECDH1_DERIVE_PARAMS, ulPublicDataLen,
			ECDH_PUBLIC_LEN) ||
		BAD_BYTES(CK_ECDH1_DERIVE_PARAMS, pPublicData, point,
			ECDH_PUBLIC_LEN);
}

static int check_eddsa(CK_MECHANISM_PTR m)
{
	CK_EDDSA_PARAMS *p = m->pParameter;

	return bad_param(m, "CKM_EDDSA", sizeof *p) ||
		BAD_UL(CK_EDDSA_PARAMS, phFlag, EDDSA_PH) ||
		BAD_UL(CK_EDDSA_PARAMS, ulContextDataLen,
			sizeof eddsa_context) ||
		BAD_BYTES(CK_EDDSA_PARAMS, pContextData, eddsa_context,
			sizeof eddsa_context);
}

static int check_gcm(CK_MECHANISM_PTR m)
{
	CK_GCM_PARAMS *p = m->pParameter;
	CK_BYTE iv[GCM_IV_LEN];
	int i;

	for (i = 0; i < GCM_IV_LEN; i++)
		iv[i] = GCM_IV_FIRST + i;
	if (bad_param(m, "CKM_AES_GCM", sizeof *p) ||
		BAD_UL(CK_GCM_PARAMS, ulIvLen, GCM_IV_LEN) ||
		BAD_BYTES(CK_GCM_PARAMS, pIv, iv, GCM_IV_LEN) ||
		BAD_UL(CK_GCM_PARAMS, ulIvBits, GCM_IV_BITS) ||
		BAD_UL(CK_GCM_PARAMS, ulAADLen, sizeof gcm_aad) ||
		BAD_BYTES(CK_GCM_PARAMS, pAAD, gcm_aad, sizeof gcm_aad) ||
		BAD_UL(CK_GCM_PARAMS, ulTagBits, GCM_TAG_BITS))
		return 1;
	return 0;
}

/* new_iv hands back a fresh IV in a CKM_AES_GCM parameter that passed
 * check_mechanism, as a token that makes its own IV does. */
static void new_iv(CK_MECHANISM_PTR m)
{
	CK_GCM_PARAMS *p = m->pParameter;

	if (m->mechanism == CKM_AES_GCM)
		fill_seq(p->pIv, GCM_IV_LEN, GCM_NEW_IV_FIRST);
}

static int check_ccm(CK_MECHANISM_PTR m)
{
	CK_CCM_PARAMS *p = m->pParameter;
	CK_BYTE nonce[CCM_NONCE_LEN];
	int i;

	for (i = 0; i < CCM_NONCE_LEN; i++)
		nonce[i] = i + 1;
	return bad_param(m, "CKM_AES_CCM", sizeof *p) ||
		BAD_UL(CK_CCM_PARAMS, ulDataLen, CCM_DATA_LEN) ||
		BAD_UL(CK_CCM_PARAMS, ulNonceLen, CCM_NONCE_LEN) ||
		BAD_BYTES(CK_CCM_PARAMS, pNonce, nonce, CCM_NONCE_LEN) ||
		BAD_UL(CK_CCM_PARAMS, ulAADLen, sizeof ccm_aad) ||
		BAD_BYTES(CK_CCM_PARAMS, pAAD, ccm_aad, sizeof ccm_aad) ||
		BAD_UL(CK_CCM_PARAMS, ulMACLen, CCM_MAC_LEN);
}

static int check_ctr(CK_MECHANISM_PTR m)
{
	CK_AES_CTR_PARAMS *p = m->pParameter;
	CK_BYTE cb[16];
	int i;

	for (i = 0; i < 16; i++)
		cb[i] = i;
	return bad_param(m, "CKM_AES_CTR", sizeof *p) ||
		BAD_UL(CK_AES_CTR_PARAMS, ulCounterBits, CTR_COUNTER_BITS) ||
		BAD_BYTES(CK_AES_CTR_PARAMS, cb, cb, sizeof cb);
}

static int check_cbc_pad(CK_MECHANISM_PTR m)
{
	CK_BYTE iv[CBC_IV_LEN];
	int i;

	for (i = 0; i < CBC_IV_LEN; i++)
		iv[i] = 0x10 + i;
	return bad_param(m, "CKM_AES_CBC_PAD", CBC_IV_LEN) ||
		bad_bytes("CKM_AES_CBC_PAD IV", iv, CBC_IV_LEN,
			m->pParameter);
}

static int check_key_wrap(CK_MECHANISM_PTR m)
{
	CK_BYTE iv[WRAP_IV_LEN];

	memset(iv, WRAP_IV_BYTE, sizeof iv);
	return bad_param(m, "CKM_AES_KEY_WRAP", WRAP_IV_LEN) ||
		bad_bytes("CKM_AES_KEY_WRAP IV", iv, WRAP_IV_LEN,
			m->pParameter);
}

static int check_vendor(CK_MECHANISM_PTR m)
{
	return bad_param(m, "CKM_VENDOR_DEFINED+0x42", 0);
}

/* bad_msg_param checks the pParameter and ulParameterLen of a message. */
static int bad_msg_param(const void *param, CK_ULONG len, const char *name,
	CK_ULONG size)
{
	if (param == NULL) {
		fail("pParameter (%s): expected %lu bytes, got NULL", name,
			size);
		return 1;
	}
	if (len != size) {
		fail("ulParameterLen (%s): expected %lu, got %lu", name, size,
			len);
		return 1;
	}
	return 0;
}

/* bad_gcm_message checks the CK_GCM_MESSAGE_PARAMS of a message: its IV
 * must count up from iv_first; decrypting, the tag must be the one
 * encrypting wrote. */
static int bad_gcm_message(const void *param, CK_ULONG len,
	CK_BYTE iv_first, int decrypt)
{
	const CK_GCM_MESSAGE_PARAMS *p = param;
	CK_BYTE iv[GCM_IV_LEN], tag[MSG_TAG_LEN];

	fill_seq(iv, GCM_IV_LEN, iv_first);
	fill_seq(tag, MSG_TAG_LEN, MSG_TAG_FIRST);
	if (bad_msg_param(param, len, "CK_GCM_MESSAGE_PARAMS", sizeof *p) ||
		BAD_UL(CK_GCM_MESSAGE_PARAMS, ulIvLen, GCM_IV_LEN) ||
		BAD_BYTES(CK_GCM_MESSAGE_PARAMS, pIv, iv, GCM_IV_LEN) ||
		BAD_UL(CK_GCM_MESSAGE_PARAMS, ulTagBits, GCM_TAG_BITS))
		return 1;
	if (decrypt)
		return BAD_BYTES(CK_GCM_MESSAGE_PARAMS, pTag, tag,
			MSG_TAG_LEN);
	if (p->pTag == NULL) {
		fail("CK_GCM_MESSAGE_PARAMS.pTag: expected a buffer, got NULL");
		return 1;
	}
	return BAD_UL(CK_GCM_MESSAGE_PARAMS, ulIvFixedBits,
			MSG_IV_FIXED_BITS) ||
		BAD_UL(CK_GCM_MESSAGE_PARAMS, ivGenerator, MSG_IV_GENERATOR);
}

/* bad_sac checks a CK_SIGN_ADDITIONAL_CONTEXT. */
static int bad_sac(const void *param, CK_ULONG len)
{
	const CK_SIGN_ADDITIONAL_CONTEXT *p = param;

	return bad_msg_param(param, len, "CK_SIGN_ADDITIONAL_CONTEXT",
			sizeof *p) ||
		BAD_UL(CK_SIGN_ADDITIONAL_CONTEXT, hedgeVariant, SAC_HEDGE) ||
		BAD_UL(CK_SIGN_ADDITIONAL_CONTEXT, ulContextLen,
			sizeof sac_context) ||
		BAD_BYTES(CK_SIGN_ADDITIONAL_CONTEXT, pContext, sac_context,
			sizeof sac_context);
}

/* check_ml_dsa takes CKM_ML_DSA without parameter or with the canonical
 * CK_SIGN_ADDITIONAL_CONTEXT. */
static int check_ml_dsa(CK_MECHANISM_PTR m)
{
	if (m->pParameter == NULL && m->ulParameterLen == 0)
		return 0;
	return bad_sac(m->pParameter, m->ulParameterLen);
}

/* check_no_param takes a mechanism without parameter. */
static int check_no_param(CK_MECHANISM_PTR m)
{
	return bad_param(m, "a mechanism without parameter", 0) ||
		bad_ptr_null("CK_MECHANISM.pParameter", m->pParameter);
}

#undef BAD_UL
#undef BAD_BYTES

/* check_mechanism checks a mechanism and its parameter against the
 * canonical values, whichever of the *Init functions it comes to. */
static CK_RV check_mechanism(CK_MECHANISM_PTR m)
{
	static const struct {
		CK_MECHANISM_TYPE type;
		int (*bad)(CK_MECHANISM_PTR);
	} checks[] = {
		{CKM_RSA_PKCS_PSS, check_pss},
		{CKM_RSA_PKCS_OAEP, check_oaep},
		{CKM_ECDH1_DERIVE, check_ecdh},
		{CKM_EDDSA, check_eddsa},
		{CKM_AES_GCM, check_gcm},
		{CKM_AES_CCM, check_ccm},
		{CKM_AES_CTR, check_ctr},
		{CKM_AES_CBC_PAD, check_cbc_pad},
		{CKM_AES_KEY_WRAP, check_key_wrap},
		{CKM_VENDOR_DEFINED + 0x42, check_vendor},
		{CKM_ML_DSA, check_ml_dsa},
		{CKM_ML_KEM, check_no_param},
	};
	size_t i;

	last_error[0] = '\0';
	if (m == NULL)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		if (checks[i].type != m->mechanism)
			continue;
		if (checks[i].bad(m))
			return CKR_MECHANISM_PARAM_INVALID;
		return CKR_OK;
	}
	fail("CK_MECHANISM.mechanism: 0x%lx is not supported", m->mechanism);
	return CKR_MECHANISM_INVALID;
}

/* check_key checks a key handle. */
static CK_RV check_key(const char *where, CK_OBJECT_HANDLE want,
	CK_OBJECT_HANDLE got)
{
	return bad_ulong(where, want, got) ? CKR_KEY_HANDLE_INVALID : CKR_OK;
}

/* check_op_mechanism checks the mechanism and key that start an operation
 * of PKCS#11 3.x: want, with the parameter check_mechanism accepts, or
 * none for CKM_AES_GCM, which takes its parameter with each message. */
static CK_RV check_op_mechanism(CK_MECHANISM_PTR m, CK_MECHANISM_TYPE want,
	CK_OBJECT_HANDLE key)
{
	CK_RV rv;

	last_error[0] = '\0';
	if (m == NULL)
		return CKR_ARGUMENTS_BAD;
	if (bad_ulong("CK_MECHANISM.mechanism", want, m->mechanism))
		return CKR_MECHANISM_INVALID;
	if (want == CKM_AES_GCM) {
		if (check_no_param(m))
			return CKR_MECHANISM_PARAM_INVALID;
	} else {
		rv = check_mechanism(m);
		if (rv != CKR_OK)
			return rv;
	}
	return check_key("hKey", KEY, key);
}

/* check_template checks a template against the canonical one of
 * C_CreateObject: each of its four attributes once, in any order. */
static CK_RV check_template(CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	static const struct {
		CK_ATTRIBUTE_TYPE type;
		const char *name;
		const void *value;
		CK_ULONG len;
	} want[] = {
		{CKA_CLASS, "CKA_CLASS", &tmpl_class, sizeof tmpl_class},
		{CKA_TOKEN, "CKA_TOKEN", &tmpl_token, sizeof tmpl_token},
		{CKA_LABEL, "CKA_LABEL", tmpl_label, sizeof tmpl_label},
		{CKA_VALUE, "CKA_VALUE", "", 0},
	};
	enum { NWANT = sizeof want / sizeof want[0] };
	int seen[NWANT] = {0};
	char where[64];
	CK_ULONG i;
	int j;

	last_error[0] = '\0';
	if (t == NULL) {
		fail("template: pTemplate is NULL");
		return CKR_TEMPLATE_INCONSISTENT;
	}
	if (n != NWANT) {
		fail("template: expected %d attributes, got %lu", NWANT, n);
		return CKR_TEMPLATE_INCONSISTENT;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < NWANT && want[j].type != t[i].type; j++)
			;
		if (j == NWANT) {
			fail("template[%lu].type: unexpected 0x%lx", i,
				t[i].type);
			return CKR_TEMPLATE_INCONSISTENT;
		}
		if (seen[j]++) {
			fail("template[%lu].type: %s appears twice", i,
				want[j].name);
			return CKR_TEMPLATE_INCONSISTENT;
		}
		snprintf(where, sizeof where, "template[%lu] (%s).ulValueLen",
			i, want[j].name);
		if (bad_ulong(where, want[j].len, t[i].ulValueLen))
			return CKR_TEMPLATE_INCONSISTENT;
		snprintf(where, sizeof where, "template[%lu] (%s).pValue",
			i, want[j].name);
		if (bad_bytes(where, want[j].value, want[j].len, t[i].pValue))
			return CKR_TEMPLATE_INCONSISTENT;
	}
	return CKR_OK;
}

/* ---------------------------------------------------------------------
 * General purpose and slot functions
 * ------------------------------------------------------------------- */

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	CK_C_INITIALIZE_ARGS *a = pInitArgs;
	int mutexes;
	size_t i;

	counts[COUNT_INITIALIZE]++;
	if (initialized)
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	init_flags = 0;
	init_has_reserved = 0;
	init_reserved[0] = '\0';
	if (a != NULL) {
		mutexes = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) +
			(a->LockMutex != NULL) + (a->UnlockMutex != NULL);
		if (mutexes != 0 && mutexes != 4)
			return CKR_ARGUMENTS_BAD;
		init_flags = a->flags;
		if (a->pReserved != NULL) {
			const char *s = a->pReserved;

			for (i = 0; i < sizeof init_reserved - 1 && s[i]; i++)
				init_reserved[i] = s[i];
			init_reserved[i] = '\0';
			init_has_reserved = 1;
		}
	}

	initialized = 1;
	open_sessions = 0;
	logged_in = 0;
	end_operations();
	return CKR_OK;
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	counts[COUNT_FINALIZE]++;
	if (!initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	initialized = 0;
	return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	static const CK_VERSION cryptoki = INFO_CRYPTOKI_VERSION;
	static const CK_VERSION library = INFO_LIBRARY_VERSION;

	if (!initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	if (fault == FAULT_INFO_RV)
		return UNKNOWN_RV;
	memset(pInfo, 0, sizeof *pInfo);
	pInfo->cryptokiVersion = cryptoki;
	pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID,
		INFO_MANUFACTURER);
	pInfo->flags = 0;
	pad(pInfo->libraryDescription, sizeof pInfo->libraryDescription,
		INFO_DESCRIPTION);
	pInfo->libraryVersion = library;
	return CKR_OK;
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
	CK_ULONG_PTR pulCount)
{
	static const CK_SLOT_ID all[] = {SLOT_EMPTY, SLOT_TOKEN};
	static const CK_SLOT_ID present[] = {SLOT_TOKEN};

	if (!initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	if (fault == FAULT_SLOT_LIST_GROWS) {
		*pulCount = SLOT_LIST_GROWS;
		return pSlotList == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	if (tokenPresent)
		return put_ulongs(pSlotList, pulCount, present, 1);
	return put_ulongs(pSlotList, pulCount, all, 2);
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	static const CK_VERSION hw = SLOT_HW_VERSION, fw = SLOT_FW_VERSION;
	static const CK_VERSION empty = {0, 1};
	CK_RV rv = token_slot(slotID);

	if (rv != CKR_OK && rv != CKR_TOKEN_NOT_PRESENT)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof *pInfo);
	pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID,
		SLOT_MANUFACTURER);
	if (slotID == SLOT_EMPTY) {
		pad(pInfo->slotDescription, sizeof pInfo->slotDescription,
			"ABI empty slot");
		pInfo->flags = CKF_HW_SLOT | CKF_REMOVABLE_DEVICE;
		pInfo->hardwareVersion = empty;
		pInfo->firmwareVersion = empty;
		return CKR_OK;
	}
	pad(pInfo->slotDescription, sizeof pInfo->slotDescription,
		SLOT_DESCRIPTION);
	pInfo->flags = SLOT_FLAGS;
	pInfo->hardwareVersion = hw;
	pInfo->firmwareVersion = fw;
	return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	static const CK_VERSION hw = TOKEN_HW_VERSION, fw = TOKEN_FW_VERSION;
	CK_RV rv = token_slot(slotID);

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof *pInfo);
	pad(pInfo->label, sizeof pInfo->label, TOKEN_LABEL);
	pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID,
		TOKEN_MANUFACTURER);
	pad(pInfo->model, sizeof pInfo->model, TOKEN_MODEL);
	pad(pInfo->serialNumber, sizeof pInfo->serialNumber, TOKEN_SERIAL);
	pInfo->flags = TOKEN_FLAGS;
	pInfo->ulMaxSessionCount = TOKEN_MAX_SESSIONS;
	pInfo->ulSessionCount = TOKEN_SESSIONS;
	pInfo->ulMaxRwSessionCount = TOKEN_MAX_RW_SESSIONS;
	pInfo->ulRwSessionCount = TOKEN_RW_SESSIONS;
	pInfo->ulMaxPinLen = TOKEN_MAX_PIN;
	pInfo->ulMinPinLen = TOKEN_MIN_PIN;
	pInfo->ulTotalPublicMemory = TOKEN_TOTAL_PUBLIC;
	pInfo->ulFreePublicMemory = TOKEN_FREE_PUBLIC;
	pInfo->ulTotalPrivateMemory = TOKEN_TOTAL_PRIVATE;
	pInfo->ulFreePrivateMemory = TOKEN_FREE_PRIVATE;
	pInfo->hardwareVersion = hw;
	pInfo->firmwareVersion = fw;
	pad(pInfo->utcTime, sizeof pInfo->utcTime, TOKEN_UTC_TIME);
	return CKR_OK;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID,
	CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount)
{
	CK_RV rv = token_slot(slotID);

	if (rv != CKR_OK)
		return rv;
	return put_ulongs(pMechanismList, pulCount, mech_list,
		sizeof mech_list / sizeof mech_list[0]);
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
	CK_MECHANISM_INFO_PTR pInfo)
{
	CK_RV rv = token_slot(slotID);
	size_t i;

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < sizeof mech_list / sizeof mech_list[0]; i++) {
		if (mech_list[i] != type)
			continue;
		pInfo->ulMinKeySize = type & 0xff;
		pInfo->ulMaxKeySize = MECH_MAX_KEY;
		pInfo->flags = MECH_FLAGS;
		return CKR_OK;
	}
	return CKR_MECHANISM_INVALID;
}

/* ---------------------------------------------------------------------
 * Sessions and login
 * ------------------------------------------------------------------- */

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags,
	CK_VOID_PTR pApplication, CK_NOTIFY Notify,
	CK_SESSION_HANDLE_PTR phSession)
{
	CK_RV rv = token_slot(slotID);

	if (rv != CKR_OK)
		return rv;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if (phSession == NULL)
		return CKR_ARGUMENTS_BAD;
	open_sessions++;
	*phSession = SESSION;
	return CKR_OK;
}

/* drop_sessions closes n sessions; closing the last one logs out and
 * ends every operation. */
static void drop_sessions(CK_ULONG n)
{
	open_sessions = n < open_sessions ? open_sessions - n : 0;
	if (open_sessions == 0) {
		logged_in = 0;
		end_operations();
	}
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	drop_sessions(1);
	return CKR_OK;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	CK_RV rv = token_slot(slotID);

	if (rv != CKR_OK)
		return rv;
	drop_sessions(open_sessions);
	return CKR_OK;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pInfo->slotID = SLOT_TOKEN;
	pInfo->state = SESSION_STATE;
	pInfo->flags = SESSION_FLAGS;
	pInfo->ulDeviceError = SESSION_DEVICE_ERROR;
	return CKR_OK;
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
	CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (pPin == NULL && ulPinLen > 0)
		return CKR_ARGUMENTS_BAD;
	if (userType != CKU_USER || pPin == NULL ||
		ulPinLen != strlen(USER_PIN) ||
		memcmp(pPin, USER_PIN, ulPinLen) != 0)
		return CKR_PIN_INCORRECT;
	if (logged_in)
		return CKR_USER_ALREADY_LOGGED_IN;
	logged_in = 1;
	return CKR_OK;
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (!logged_in)
		return CKR_USER_NOT_LOGGED_IN;
	logged_in = 0;
	return CKR_OK;
}

/* ---------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------- */

CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
	CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (phObject == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = check_template(pTemplate, ulCount);
	if (rv != CKR_OK)
		return rv;
	*phObject = CREATED_OBJECT;
	return CKR_OK;
}

/* attribute finds the value of one attribute of OBJECT. */
static CK_RV attribute(CK_ATTRIBUTE_TYPE type, const void **v, CK_ULONG *n)
{
	switch (type) {
	case CKA_LABEL:
		*v = obj_label;
		*n = sizeof obj_label - 1;
		return CKR_OK;
	case CKA_CLASS:
		*v = &obj_class;
		*n = sizeof obj_class;
		return CKR_OK;
	case CKA_VALUE_LEN:
		*v = &obj_value_len;
		*n = sizeof obj_value_len;
		return CKR_OK;
	case CKA_START_DATE:
		*v = &obj_start_date;
		*n = sizeof obj_start_date;
		return CKR_OK;
	case CKA_VALUE:
		return CKR_ATTRIBUTE_SENSITIVE;
	}
	return CKR_ATTRIBUTE_TYPE_INVALID;
}

/* get_array answers for an attribute whose value is the array of the n
 * attributes e, in the two levels of PKCS#11 3.2 section 5.7.5: a NULL
 * pValue asks for the size of the CK_ATTRIBUTE array; an array whose
 * elements all have a NULL pValue gets their types and lengths; an
 * array whose elements all have one gets their values, and must carry
 * the types of the first level. */
static CK_RV get_array(CK_ATTRIBUTE *a, const struct elem *e, CK_ULONG n)
{
	CK_ATTRIBUTE *arr = a->pValue;
	CK_ULONG i, nulls = 0, size = n * sizeof(CK_ATTRIBUTE);
	CK_RV rv = CKR_OK;
	char where[64];

	if (arr == NULL) {
		a->ulValueLen = size;
		return CKR_OK;
	}
	if (a->ulValueLen < size) {
		a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (i = 0; i < n; i++)
		nulls += arr[i].pValue == NULL;

	if (nulls == n) {
		for (i = 0; i < n; i++) {
			arr[i].type = e[i].type;
			arr[i].ulValueLen = e[i].len;
		}
		if (fault == FAULT_ARRAY_HUGE && n > 0)
			arr[n - 1].ulValueLen = ARRAY_HUGE;
		a->ulValueLen = size;
		return CKR_OK;
	}
	if (nulls != 0) {
		fail("attribute array: %lu of %lu elements have a NULL pValue",
			nulls, n);
		a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_TEMPLATE_INCONSISTENT;
	}

	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE *x = &arr[i];

		snprintf(where, sizeof where, "attribute array[%lu].type", i);
		if (bad_ulong(where, e[i].type, x->type)) {
			a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			return CKR_TEMPLATE_INCONSISTENT;
		}
		if (x->ulValueLen < e[i].len) {
			x->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
			continue;
		}
		memcpy(x->pValue, e[i].value, e[i].len);
		if (fault == FAULT_ARRAY_LONG && i == n - 1)
			x->ulValueLen += LONG_BY;
		else
			x->ulValueLen = e[i].len;
	}
	a->ulValueLen = size;
	return rv;
}

/* label_unavailable tells whether a fault withholds CKA_LABEL. */
static int label_unavailable(void)
{
	if (fault == FAULT_LABEL_UNAVAILABLE)
		return 1;
	if (fault == FAULT_LABEL_ONCE && !label_refused) {
		label_refused = 1;
		return 1;
	}
	return 0;
}

/* C_GetAttributeValue follows PKCS#11 3.2 section 5.7.5 attribute by
 * attribute and returns the first error in template order.
 * FAULT_LABEL_UNAVAILABLE and FAULT_LABEL_ONCE make CKA_LABEL
 * CK_UNAVAILABLE_INFORMATION without an error, as no case of the
 * specification allows. */
CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession,
	CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	CK_RV rv = session_ok(hSession), first = CKR_OK, r;
	const void *v;
	CK_ULONG i, n, room;

	if (rv != CKR_OK)
		return rv;
	if (hObject != OBJECT)
		return CKR_OBJECT_HANDLE_INVALID;
	if (pTemplate == NULL && ulCount > 0)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < ulCount; i++) {
		CK_ATTRIBUTE *a = &pTemplate[i];

		if (a->type == CKA_WRAP_TEMPLATE) {
			r = get_array(a, wrap_template, NWRAP);
			if (first == CKR_OK)
				first = r;
			continue;
		}
		if (a->type == CKA_UNWRAP_TEMPLATE) {
			r = get_array(a, NULL, 0);
			if (first == CKR_OK)
				first = r;
			continue;
		}
		if (a->type == CKA_LABEL && label_unavailable()) {
			a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			continue;
		}
		r = attribute(a->type, &v, &n);
		if (r == CKR_OK && a->pValue == NULL) {
			a->ulValueLen = n;
		} else if (r == CKR_OK && fault == FAULT_LABEL_LONG &&
			a->type == CKA_LABEL) {
			room = a->ulValueLen;
			memcpy(a->pValue, v, room < n ? room : n);
			a->ulValueLen = room + LONG_BY;
		} else if (r == CKR_OK && a->ulValueLen >= n) {
			memcpy(a->pValue, v, n);
			a->ulValueLen = n;
		} else {
			if (r == CKR_OK)
				r = CKR_BUFFER_TOO_SMALL;
			a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		}
		if (first == CKR_OK)
			first = r;
	}
	return first;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (find_active)
		return CKR_OPERATION_ACTIVE;
	if (ulCount == 0) {
		find_next = OBJECT;
	} else {
		rv = check_template(pTemplate, ulCount);
		if (rv != CKR_OK)
			return rv;
		find_next = CREATED_OBJECT;
	}
	find_active = 1;
	return CKR_OK;
}

/* C_FindObjects finds OBJECT for an empty template and CREATED_OBJECT
 * for the canonical one, one handle a call. */
CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
	CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (!find_active)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (phObject == NULL || pulObjectCount == NULL)
		return CKR_ARGUMENTS_BAD;
	*pulObjectCount = 0;
	if (find_next != 0 && ulMaxObjectCount > 0) {
		phObject[0] = find_next;
		*pulObjectCount = 1;
		find_next = 0;
	}
	return CKR_OK;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (!find_active)
		return CKR_OPERATION_NOT_INITIALIZED;
	find_active = 0;
	return CKR_OK;
}

/* ---------------------------------------------------------------------
 * Cryptographic functions of PKCS#11 2.40. Key handles are not checked.
 * C_EncryptInit only checks the mechanism: there is no C_Encrypt to
 * finish it.
 * ------------------------------------------------------------------- */

CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(pMechanism);
	if (rv == CKR_OK)
		new_iv(pMechanism);
	return rv;
}

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (sign_active)
		return CKR_OPERATION_ACTIVE;
	rv = check_mechanism(pMechanism);
	if (rv != CKR_OK)
		return rv;
	sign_active = 1;
	return CKR_OK;
}

/* C_Sign produces the 4-byte signature "sig!" for any data. A NULL pData
 * is refused even when ulDataLen is 0: the library must pass a valid
 * pointer for empty input. */
CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
	CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
	CK_ULONG_PTR pulSignatureLen)
{
	CK_RV rv = session_ok(hSession);
	CK_ULONG room;

	if (rv != CKR_OK)
		return rv;
	if (!sign_active)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (pData == NULL || pulSignatureLen == NULL) {
		sign_active = 0;
		fail("C_Sign: %s is NULL",
			pData == NULL ? "pData" : "pulSignatureLen");
		return CKR_ARGUMENTS_BAD;
	}
	if (fault == FAULT_SIGN_LONG && pSignature != NULL) {
		room = *pulSignatureLen;
		memcpy(pSignature, signature,
			room < sizeof signature ? room : sizeof signature);
		*pulSignatureLen = room + LONG_BY;
		sign_active = 0;
		return CKR_OK;
	}
	rv = put_out(pSignature, pulSignatureLen, signature,
		sizeof signature);
	if (rv == CKR_OK && pSignature != NULL)
		sign_active = 0;
	return rv;
}

/* C_WrapKey produces WRAPPED_LEN bytes, byte i being 0xC0 + i, and a
 * fresh CKM_AES_GCM IV with them. */
CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
	CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
	CK_RV rv = session_ok(hSession);
	CK_BYTE wrapped[WRAPPED_LEN];
	int i;

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(pMechanism);
	if (rv != CKR_OK)
		return rv;
	for (i = 0; i < WRAPPED_LEN; i++)
		wrapped[i] = 0xC0 + i;
	rv = put_out(pWrappedKey, pulWrappedKeyLen, wrapped, WRAPPED_LEN);
	if (rv == CKR_OK && pWrappedKey != NULL)
		new_iv(pMechanism);
	return rv;
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
	CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (phKey == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = check_mechanism(pMechanism);
	if (rv != CKR_OK)
		return rv;
	*phKey = DERIVED_KEY;
	return CKR_OK;
}

/* ---------------------------------------------------------------------
 * Functions of PKCS#11 3.0 and 3.2
 * ------------------------------------------------------------------- */

/* C_LoginUser logs in CKU_USER with USER_PIN as LOGIN_USERNAME. A wrong
 * user type is CKR_USER_TYPE_INVALID, a wrong username or PIN
 * CKR_PIN_INCORRECT; abimod_last_error() never shows the PIN. */
CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
	CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
	CK_ULONG ulUsernameLen)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	last_error[0] = '\0';
	if (bad_ulong("C_LoginUser userType", CKU_USER, userType))
		return CKR_USER_TYPE_INVALID;
	if (bad_ulong("C_LoginUser ulUsernameLen", strlen(LOGIN_USERNAME),
		ulUsernameLen) ||
		bad_bytes("C_LoginUser pUsername",
		(const CK_BYTE *)LOGIN_USERNAME, ulUsernameLen, pUsername))
		return CKR_PIN_INCORRECT;
	if (pPin == NULL || ulPinLen != strlen(USER_PIN) ||
		memcmp(pPin, USER_PIN, ulPinLen) != 0) {
		fail("C_LoginUser: wrong PIN");
		return CKR_PIN_INCORRECT;
	}
	if (logged_in)
		return CKR_USER_ALREADY_LOGGED_IN;
	logged_in = 1;
	return CKR_OK;
}

/* The operations C_SessionCancel can end. */
#define CANCELLABLE (CKF_SIGN | CKF_VERIFY | CKF_FIND_OBJECTS | \
	CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MESSAGE_SIGN | \
	CKF_MESSAGE_VERIFY)

/* C_SessionCancel ends the operations named in flags; other bits are
 * CKR_ARGUMENTS_BAD. CKF_VERIFY ends C_VerifySignature* too. */
CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	last_error[0] = '\0';
	if (flags == 0 || (flags & ~(CK_FLAGS)CANCELLABLE) != 0) {
		fail("C_SessionCancel flags: expected bits of 0x%lx, got 0x%lx",
			(CK_ULONG)CANCELLABLE, flags);
		return CKR_ARGUMENTS_BAD;
	}
	if (flags & CKF_SIGN)
		sign_active = 0;
	if (flags & CKF_VERIFY)
		memset(&vsig, 0, sizeof vsig);
	if (flags & CKF_FIND_OBJECTS)
		find_active = 0;
	if (flags & CKF_MESSAGE_ENCRYPT)
		memset(&msg_enc, 0, sizeof msg_enc);
	if (flags & CKF_MESSAGE_DECRYPT)
		memset(&msg_dec, 0, sizeof msg_dec);
	if (flags & CKF_MESSAGE_SIGN)
		memset(&msg_sign, 0, sizeof msg_sign);
	if (flags & CKF_MESSAGE_VERIFY)
		memset(&msg_verify, 0, sizeof msg_verify);
	return CKR_OK;
}

/* msg_init starts the message-based operation op. */
static CK_RV msg_init(struct msgop *op, CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_MECHANISM_TYPE want,
	CK_OBJECT_HANDLE hKey)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (op->active)
		return CKR_OPERATION_ACTIVE;
	rv = check_op_mechanism(pMechanism, want, hKey);
	if (rv != CKR_OK)
		return rv;
	memset(op, 0, sizeof *op);
	op->active = 1;
	return CKR_OK;
}

/* msg_state checks that op is active and that a multi-part message is
 * (in_message) or is not in progress. */
static CK_RV msg_state(struct msgop *op, CK_SESSION_HANDLE hSession,
	int in_message)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (!op->active)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (op->in_message != in_message)
		return in_message ? CKR_OPERATION_NOT_INITIALIZED :
			CKR_OPERATION_ACTIVE;
	last_error[0] = '\0';
	return CKR_OK;
}

/* msg_final ends the message-based operation op. */
static CK_RV msg_final(struct msgop *op, CK_SESSION_HANDLE hSession)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (!op->active)
		return CKR_OPERATION_NOT_INITIALIZED;
	memset(op, 0, sizeof *op);
	return CKR_OK;
}

/* crypt_out writes n bytes of message data from offset off, XOR x. */
static void crypt_out(CK_BYTE *dst, CK_ULONG n, CK_ULONG off, CK_BYTE x)
{
	CK_ULONG i;

	for (i = 0; i < n; i++)
		dst[i] = msg_byte(off + i) ^ x;
}

/* gcm_new_iv and gcm_tag write what encrypting a message generates into
 * a parameter that bad_gcm_message passed. */
static void gcm_new_iv(CK_VOID_PTR param)
{
	fill_seq(((CK_GCM_MESSAGE_PARAMS *)param)->pIv, GCM_IV_LEN,
		GCM_NEW_IV_FIRST);
}

static void gcm_tag(CK_VOID_PTR param)
{
	fill_seq(((CK_GCM_MESSAGE_PARAMS *)param)->pTag, MSG_TAG_LEN,
		MSG_TAG_FIRST);
}

/* crypt_message is C_EncryptMessage and C_DecryptMessage. */
static CK_RV crypt_message(struct msgop *op, CK_SESSION_HANDLE hSession,
	CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
	CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
	CK_BYTE_PTR pIn, CK_ULONG ulInLen, CK_BYTE_PTR pOut,
	CK_ULONG_PTR pulOutLen, int decrypt)
{
	CK_RV rv = msg_state(op, hSession, 0);

	if (rv != CKR_OK)
		return rv;
	if (bad_gcm_message(pParameter, ulParameterLen,
		decrypt ? GCM_NEW_IV_FIRST : GCM_IV_FIRST, decrypt))
		return CKR_MECHANISM_PARAM_INVALID;
	if (bad_aad(pAssociatedData, ulAssociatedDataLen))
		return CKR_ARGUMENTS_BAD;
	if (bad_data(decrypt ? "pCiphertext" : "pPlaintext", pIn, ulInLen, 0,
		decrypt ? MSG_XOR : 0))
		return decrypt ? CKR_ENCRYPTED_DATA_INVALID : CKR_DATA_INVALID;
	if (!out_room(pOut, pulOutLen, ulInLen, &rv))
		return rv;
	crypt_out(pOut, ulInLen, 0, decrypt ? 0 : MSG_XOR);
	if (!decrypt) {
		gcm_new_iv(pParameter);
		gcm_tag(pParameter);
	}
	out_done(pulOutLen, ulInLen);
	return CKR_OK;
}

/* crypt_begin is C_EncryptMessageBegin and C_DecryptMessageBegin. */
static CK_RV crypt_begin(struct msgop *op, CK_SESSION_HANDLE hSession,
	CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
	CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, int decrypt)
{
	CK_RV rv = msg_state(op, hSession, 0);

	if (rv != CKR_OK)
		return rv;
	if (bad_gcm_message(pParameter, ulParameterLen,
		decrypt ? GCM_NEW_IV_FIRST : GCM_IV_FIRST, decrypt))
		return CKR_MECHANISM_PARAM_INVALID;
	if (bad_aad(pAssociatedData, ulAssociatedDataLen))
		return CKR_ARGUMENTS_BAD;
	if (!decrypt)
		gcm_new_iv(pParameter);
	op->in_message = 1;
	op->offset = 0;
	return CKR_OK;
}

/* crypt_next is C_EncryptMessageNext and C_DecryptMessageNext: the
 * parameter carries the IV C_EncryptMessageBegin generated; the part
 * flagged CKF_END_OF_MESSAGE ends the message, and encrypting, writes the
 * tag. */
static CK_RV crypt_next(struct msgop *op, CK_SESSION_HANDLE hSession,
	CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, CK_BYTE_PTR pIn,
	CK_ULONG ulInLen, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen,
	CK_FLAGS flags, int decrypt)
{
	CK_RV rv = msg_state(op, hSession, 1);

	if (rv != CKR_OK)
		return rv;
	if (bad_gcm_message(pParameter, ulParameterLen, GCM_NEW_IV_FIRST,
		decrypt))
		return CKR_MECHANISM_PARAM_INVALID;
	if ((flags & ~(CK_FLAGS)CKF_END_OF_MESSAGE) != 0) {
		fail("flags: expected 0 or CKF_END_OF_MESSAGE, got 0x%lx",
			flags);
		return CKR_ARGUMENTS_BAD;
	}
	if (bad_data(decrypt ? "pCiphertextPart" : "pPlaintextPart", pIn,
		ulInLen, op->offset, decrypt ? MSG_XOR : 0))
		return decrypt ? CKR_ENCRYPTED_DATA_INVALID : CKR_DATA_INVALID;
	if (!out_room(pOut, pulOutLen, ulInLen, &rv))
		return rv;
	crypt_out(pOut, ulInLen, op->offset, decrypt ? 0 : MSG_XOR);
	op->offset += ulInLen;
	if (flags & CKF_END_OF_MESSAGE) {
		if (!decrypt)
			gcm_tag(pParameter);
		op->in_message = 0;
	}
	out_done(pulOutLen, ulInLen);
	return CKR_OK;
}

CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return msg_init(&msg_enc, hSession, pMechanism, CKM_AES_GCM, hKey);
}

CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
	CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
	CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
	CK_ULONG_PTR pulCiphertextLen)
{
	return crypt_message(&msg_enc, hSession, pParameter, ulParameterLen,
		pAssociatedData, ulAssociatedDataLen, pPlaintext,
		ulPlaintextLen, pCiphertext, pulCiphertextLen, 0);
}

CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
	CK_ULONG ulAssociatedDataLen)
{
	return crypt_begin(&msg_enc, hSession, pParameter, ulParameterLen,
		pAssociatedData, ulAssociatedDataLen, 0);
}

CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
	CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
	CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags)
{
	return crypt_next(&msg_enc, hSession, pParameter, ulParameterLen,
		pPlaintextPart, ulPlaintextPartLen, pCiphertextPart,
		pulCiphertextPartLen, flags, 0);
}

CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession)
{
	return msg_final(&msg_enc, hSession);
}

CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return msg_init(&msg_dec, hSession, pMechanism, CKM_AES_GCM, hKey);
}

CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
	CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
	CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
	CK_ULONG_PTR pulPlaintextLen)
{
	return crypt_message(&msg_dec, hSession, pParameter, ulParameterLen,
		pAssociatedData, ulAssociatedDataLen, pCiphertext,
		ulCiphertextLen, pPlaintext, pulPlaintextLen, 1);
}

CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
	CK_ULONG ulAssociatedDataLen)
{
	return crypt_begin(&msg_dec, hSession, pParameter, ulParameterLen,
		pAssociatedData, ulAssociatedDataLen, 1);
}

CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
	CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
	CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags)
{
	return crypt_next(&msg_dec, hSession, pParameter, ulParameterLen,
		pCiphertextPart, ulCiphertextPartLen, pPlaintextPart,
		pulPlaintextPartLen, flags, 1);
}

CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession)
{
	return msg_final(&msg_dec, hSession);
}

/* put_signature writes the ML-DSA signature under the size-query
 * convention. */
static CK_RV put_signature(CK_BYTE_PTR pSignature,
	CK_ULONG_PTR pulSignatureLen)
{
	CK_RV rv;

	if (!out_room(pSignature, pulSignatureLen, MLDSA_SIG_LEN, &rv))
		return rv;
	fill_seq(pSignature, MLDSA_SIG_LEN, 0);
	out_done(pulSignatureLen, MLDSA_SIG_LEN);
	return CKR_OK;
}

/* bad_signature checks a signature against the one put_signature writes.
 * A wrong one is an outcome, not a fault of the caller, so last_error is
 * left alone. */
static int bad_signature(const CK_BYTE *sig, CK_ULONG n)
{
	CK_ULONG i;

	if (sig == NULL || n != MLDSA_SIG_LEN)
		return 1;
	for (i = 0; i < n; i++)
		if (sig[i] != (CK_BYTE)i)
			return 1;
	return 0;
}

CK_RV C_MessageSignInit(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return msg_init(&msg_sign, hSession, pMechanism, CKM_ML_DSA, hKey);
}

CK_RV C_SignMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	CK_RV rv = msg_state(&msg_sign, hSession, 0);

	if (rv != CKR_OK)
		return rv;
	if (bad_sac(pParameter, ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	if (bad_data("pData", pData, ulDataLen, 0, 0))
		return CKR_DATA_INVALID;
	return put_signature(pSignature, pulSignatureLen);
}

CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen)
{
	CK_RV rv = msg_state(&msg_sign, hSession, 0);

	if (rv != CKR_OK)
		return rv;
	if (bad_sac(pParameter, ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	msg_sign.in_message = 1;
	msg_sign.offset = 0;
	return CKR_OK;
}

/* C_SignMessageNext: a NULL pulSignatureLen marks a part that is not the
 * last; the last part gives the signature and ends the message. */
CK_RV C_SignMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	CK_RV rv = msg_state(&msg_sign, hSession, 1);

	if (rv != CKR_OK)
		return rv;
	if (bad_sac(pParameter, ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	if (bad_data("pData", pData, ulDataLen, msg_sign.offset, 0))
		return CKR_DATA_INVALID;
	if (pulSignatureLen == NULL) {
		msg_sign.offset += ulDataLen;
		return CKR_OK;
	}
	rv = put_signature(pSignature, pulSignatureLen);
	if (rv == CKR_OK && pSignature != NULL)
		msg_sign.in_message = 0;
	return rv;
}

CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hSession)
{
	return msg_final(&msg_sign, hSession);
}

CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return msg_init(&msg_verify, hSession, pMechanism, CKM_ML_DSA, hKey);
}

CK_RV C_VerifyMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	CK_RV rv = msg_state(&msg_verify, hSession, 0);

	if (rv != CKR_OK)
		return rv;
	if (bad_sac(pParameter, ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	if (bad_data("pData", pData, ulDataLen, 0, 0))
		return CKR_DATA_INVALID;
	if (pSignature == NULL) {
		fail("C_VerifyMessage: pSignature is NULL");
		return CKR_ARGUMENTS_BAD;
	}
	return bad_signature(pSignature, ulSignatureLen) ?
		CKR_SIGNATURE_INVALID : CKR_OK;
}

CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen)
{
	CK_RV rv = msg_state(&msg_verify, hSession, 0);

	if (rv != CKR_OK)
		return rv;
	if (bad_sac(pParameter, ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	msg_verify.in_message = 1;
	msg_verify.offset = 0;
	return CKR_OK;
}

/* C_VerifyMessageNext: a NULL pSignature marks a part that is not the
 * last; the last part is verified with the signature and ends the
 * message. */
CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
	CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
	CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	CK_RV rv = msg_state(&msg_verify, hSession, 1);

	if (rv != CKR_OK)
		return rv;
	if (bad_sac(pParameter, ulParameterLen))
		return CKR_MECHANISM_PARAM_INVALID;
	if (bad_data("pData", pData, ulDataLen, msg_verify.offset, 0))
		return CKR_DATA_INVALID;
	msg_verify.offset += ulDataLen;
	if (pSignature == NULL)
		return CKR_OK;
	msg_verify.in_message = 0;
	return bad_signature(pSignature, ulSignatureLen) ?
		CKR_SIGNATURE_INVALID : CKR_OK;
}

CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE hSession)
{
	return msg_final(&msg_verify, hSession);
}

/* C_EncapsulateKey makes ENCAPSULATED_KEY only when it writes the
 * ciphertext, not on a size query. */
CK_RV C_EncapsulateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hPublicKey, CK_ATTRIBUTE_PTR pTemplate,
	CK_ULONG ulAttributeCount, CK_BYTE_PTR pCiphertext,
	CK_ULONG_PTR pulCiphertextLen, CK_OBJECT_HANDLE_PTR phKey)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	rv = check_op_mechanism(pMechanism, CKM_ML_KEM, hPublicKey);
	if (rv != CKR_OK)
		return rv;
	rv = check_template(pTemplate, ulAttributeCount);
	if (rv != CKR_OK)
		return rv;
	if (phKey == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!out_room(pCiphertext, pulCiphertextLen, MLKEM_CT_LEN, &rv))
		return rv;
	fill_seq(pCiphertext, MLKEM_CT_LEN, MLKEM_CT_FIRST);
	*phKey = ENCAPSULATED_KEY;
	out_done(pulCiphertextLen, MLKEM_CT_LEN);
	return CKR_OK;
}

CK_RV C_DecapsulateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hPrivateKey, CK_ATTRIBUTE_PTR pTemplate,
	CK_ULONG ulAttributeCount, CK_BYTE_PTR pCiphertext,
	CK_ULONG ulCiphertextLen, CK_OBJECT_HANDLE_PTR phKey)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	rv = check_op_mechanism(pMechanism, CKM_ML_KEM, hPrivateKey);
	if (rv != CKR_OK)
		return rv;
	rv = check_template(pTemplate, ulAttributeCount);
	if (rv != CKR_OK)
		return rv;
	if (bad_seq("pCiphertext", pCiphertext, ulCiphertextLen, MLKEM_CT_LEN,
		MLKEM_CT_FIRST))
		return CKR_ENCRYPTED_DATA_INVALID;
	if (phKey == NULL)
		return CKR_ARGUMENTS_BAD;
	*phKey = DECAPSULATED_KEY;
	return CKR_OK;
}

/* C_VerifySignatureInit keeps whether the signature is the one
 * put_signature writes; C_VerifySignature or C_VerifySignatureFinal
 * then tells. */
CK_RV C_VerifySignatureInit(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey,
	CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (vsig.active)
		return CKR_OPERATION_ACTIVE;
	rv = check_op_mechanism(pMechanism, CKM_ML_DSA, hKey);
	if (rv != CKR_OK)
		return rv;
	if (pSignature == NULL) {
		fail("C_VerifySignatureInit: pSignature is NULL");
		return CKR_ARGUMENTS_BAD;
	}
	vsig.active = 1;
	vsig.sig_good = !bad_signature(pSignature, ulSignatureLen);
	vsig.offset = 0;
	return CKR_OK;
}

CK_RV C_VerifySignature(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
	CK_ULONG ulDataLen)
{
	CK_RV rv = session_ok(hSession);
	int good = vsig.sig_good;

	if (rv != CKR_OK)
		return rv;
	if (!vsig.active)
		return CKR_OPERATION_NOT_INITIALIZED;
	memset(&vsig, 0, sizeof vsig);
	last_error[0] = '\0';
	if (bad_data("C_VerifySignature pData", pData, ulDataLen, 0, 0))
		return CKR_DATA_INVALID;
	return good ? CKR_OK : CKR_SIGNATURE_INVALID;
}

CK_RV C_VerifySignatureUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	if (!vsig.active)
		return CKR_OPERATION_NOT_INITIALIZED;
	last_error[0] = '\0';
	if (bad_data("C_VerifySignatureUpdate pPart", pPart, ulPartLen,
		vsig.offset, 0)) {
		memset(&vsig, 0, sizeof vsig);
		return CKR_DATA_INVALID;
	}
	vsig.offset += ulPartLen;
	return CKR_OK;
}

CK_RV C_VerifySignatureFinal(CK_SESSION_HANDLE hSession)
{
	CK_RV rv = session_ok(hSession);
	int good = vsig.sig_good;

	if (rv != CKR_OK)
		return rv;
	if (!vsig.active)
		return CKR_OPERATION_NOT_INITIALIZED;
	memset(&vsig, 0, sizeof vsig);
	return good ? CKR_OK : CKR_SIGNATURE_INVALID;
}

CK_RV C_GetSessionValidationFlags(CK_SESSION_HANDLE hSession,
	CK_SESSION_VALIDATION_FLAGS_TYPE type, CK_FLAGS_PTR pFlags)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	last_error[0] = '\0';
	if (bad_ulong("C_GetSessionValidationFlags type",
		CKS_LAST_VALIDATION_OK, type))
		return CKR_ARGUMENTS_BAD;
	if (pFlags == NULL)
		return CKR_ARGUMENTS_BAD;
	*pFlags = VALIDATION_FLAGS;
	return CKR_OK;
}

/* bad_function_name checks the function name of the asynchronous calls. */
static int bad_function_name(CK_UTF8CHAR_PTR name)
{
	if (name == NULL) {
		fail("pFunctionName: expected \"%s\", got NULL",
			ASYNC_FUNCTION);
		return 1;
	}
	if (strcmp((const char *)name, ASYNC_FUNCTION) != 0) {
		fail("pFunctionName: expected \"%s\", got \"%.40s\"",
			ASYNC_FUNCTION, (const char *)name);
		return 1;
	}
	return 0;
}

/* C_AsyncComplete reports ASYNC_FUNCTION done. A value buffer shorter than
 * async_value gets CKR_BUFFER_TOO_SMALL and the length in ulValue. */
CK_RV C_AsyncComplete(CK_SESSION_HANDLE hSession,
	CK_UTF8CHAR_PTR pFunctionName, CK_ASYNC_DATA_PTR pResult)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	last_error[0] = '\0';
	if (bad_function_name(pFunctionName) || pResult == NULL ||
		bad_ulong("CK_ASYNC_DATA.ulVersion", ASYNC_VERSION,
		pResult->ulVersion))
		return CKR_ARGUMENTS_BAD;
	if (pResult->ulValue < sizeof async_value) {
		pResult->ulValue = sizeof async_value;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (pResult->pValue == NULL) {
		fail("CK_ASYNC_DATA.pValue: expected %lu bytes, got NULL",
			pResult->ulValue);
		return CKR_ARGUMENTS_BAD;
	}
	memcpy(pResult->pValue, async_value, sizeof async_value);
	pResult->ulValue = sizeof async_value;
	pResult->hObject = ASYNC_OBJECT;
	pResult->hAdditionalObject = ASYNC_OBJECT + 1;
	return CKR_OK;
}

CK_RV C_AsyncGetID(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pFunctionName,
	CK_ULONG_PTR pulID)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	last_error[0] = '\0';
	if (bad_function_name(pFunctionName) || pulID == NULL)
		return CKR_ARGUMENTS_BAD;
	*pulID = ASYNC_ID;
	return CKR_OK;
}

/* C_AsyncJoin writes the result at once: this module has no thread to
 * write it later. */
CK_RV C_AsyncJoin(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pFunctionName,
	CK_ULONG ulID, CK_BYTE_PTR pData, CK_ULONG ulData)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	last_error[0] = '\0';
	if (bad_function_name(pFunctionName) ||
		bad_ulong("C_AsyncJoin ulID", ASYNC_ID, ulID) ||
		bad_ulong("C_AsyncJoin ulData", ASYNC_JOIN_LEN, ulData))
		return CKR_ARGUMENTS_BAD;
	if (pData == NULL) {
		fail("C_AsyncJoin: pData is NULL");
		return CKR_ARGUMENTS_BAD;
	}
	fill_seq(pData, ulData, ASYNC_JOIN_FIRST);
	return CKR_OK;
}

/* C_WrapKeyAuthenticated writes a fresh IV into a CKM_AES_GCM parameter
 * only when it writes the wrapped key, not on a size query. */
CK_RV C_WrapKeyAuthenticated(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hWrappingKey,
	CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pAssociatedData,
	CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pWrappedKey,
	CK_ULONG_PTR pulWrappedKeyLen)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(pMechanism);
	if (rv != CKR_OK)
		return rv;
	rv = check_key("hWrappingKey", KEY, hWrappingKey);
	if (rv == CKR_OK)
		rv = check_key("hKey", KEY + 1, hKey);
	if (rv != CKR_OK)
		return rv;
	if (bad_aad(pAssociatedData, ulAssociatedDataLen))
		return CKR_ARGUMENTS_BAD;
	if (!out_room(pWrappedKey, pulWrappedKeyLen, AUTH_WRAPPED_LEN, &rv))
		return rv;
	fill_seq(pWrappedKey, AUTH_WRAPPED_LEN, 0xC0);
	new_iv(pMechanism);
	out_done(pulWrappedKeyLen, AUTH_WRAPPED_LEN);
	return CKR_OK;
}

CK_RV C_UnwrapKeyAuthenticated(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hUnwrappingKey,
	CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
	CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
	CK_OBJECT_HANDLE_PTR phKey)
{
	CK_RV rv = session_ok(hSession);

	if (rv != CKR_OK)
		return rv;
	rv = check_mechanism(pMechanism);
	if (rv == CKR_OK)
		rv = check_key("hUnwrappingKey", KEY, hUnwrappingKey);
	if (rv != CKR_OK)
		return rv;
	if (bad_seq("pWrappedKey", pWrappedKey, ulWrappedKeyLen,
		AUTH_WRAPPED_LEN, 0xC0))
		return CKR_WRAPPED_KEY_INVALID;
	rv = check_template(pTemplate, ulAttributeCount);
	if (rv != CKR_OK)
		return rv;
	if (bad_aad(pAssociatedData, ulAssociatedDataLen))
		return CKR_ARGUMENTS_BAD;
	if (phKey == NULL)
		return CKR_ARGUMENTS_BAD;
	*phKey = UNWRAPPED_KEY;
	return CKR_OK;
}

/* ---------------------------------------------------------------------
 * Functions this module does not implement
 * ------------------------------------------------------------------- */

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
	CK_UTF8CHAR_PTR pLabel) UNSUPPORTED
CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin,
	CK_ULONG ulPinLen) UNSUPPORTED
CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
	CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
	UNSUPPORTED
CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession,
	CK_BYTE_PTR pOperationState, CK_ULONG_PTR pulOperationStateLen)
	UNSUPPORTED
CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession,
	CK_BYTE_PTR pOperationState, CK_ULONG ulOperationStateLen,
	CK_OBJECT_HANDLE hEncryptionKey, CK_OBJECT_HANDLE hAuthenticationKey)
	UNSUPPORTED
CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
	CK_OBJECT_HANDLE_PTR phNewObject) UNSUPPORTED
CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
	UNSUPPORTED
CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	CK_ULONG_PTR pulSize) UNSUPPORTED
CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) UNSUPPORTED
CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
	CK_ULONG ulDataLen, CK_BYTE_PTR pEncryptedData,
	CK_ULONG_PTR pulEncryptedDataLen) UNSUPPORTED
CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
	CK_ULONG_PTR pulEncryptedPartLen) UNSUPPORTED
CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession,
	CK_BYTE_PTR pLastEncryptedPart, CK_ULONG_PTR pulLastEncryptedPartLen)
	UNSUPPORTED
CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey) UNSUPPORTED
CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
	CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData,
	CK_ULONG_PTR pulDataLen) UNSUPPORTED
CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
	CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
	CK_ULONG_PTR pulPartLen) UNSUPPORTED
CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
	CK_ULONG_PTR pulLastPartLen) UNSUPPORTED
CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
	UNSUPPORTED
CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
	CK_ULONG ulDataLen, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
	UNSUPPORTED
CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen) UNSUPPORTED
CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
	UNSUPPORTED
CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
	CK_ULONG_PTR pulDigestLen) UNSUPPORTED
CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen) UNSUPPORTED
CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	CK_ULONG_PTR pulSignatureLen) UNSUPPORTED
CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) UNSUPPORTED
CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
	CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
	CK_ULONG_PTR pulSignatureLen) UNSUPPORTED
CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hKey) UNSUPPORTED
CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
	CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
	UNSUPPORTED
CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen) UNSUPPORTED
CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	CK_ULONG ulSignatureLen) UNSUPPORTED
CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey) UNSUPPORTED
CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
	CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
	UNSUPPORTED
CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
	CK_ULONG_PTR pulEncryptedPartLen) UNSUPPORTED
CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession,
	CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
	CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) UNSUPPORTED
CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
	CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
	CK_ULONG_PTR pulEncryptedPartLen) UNSUPPORTED
CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession,
	CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen,
	CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen) UNSUPPORTED
CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
	CK_OBJECT_HANDLE_PTR phKey) UNSUPPORTED
CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession,
	CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pPublicKeyTemplate,
	CK_ULONG ulPublicKeyAttributeCount,
	CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
	CK_ULONG ulPrivateKeyAttributeCount, CK_OBJECT_HANDLE_PTR phPublicKey,
	CK_OBJECT_HANDLE_PTR phPrivateKey) UNSUPPORTED
CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
	CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
	CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
	CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey) UNSUPPORTED
CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed,
	CK_ULONG ulSeedLen) UNSUPPORTED
CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
	CK_ULONG ulRandomLen) UNSUPPORTED
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession) UNSUPPORTED
CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession) UNSUPPORTED
CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot,
	CK_VOID_PTR pRserved) UNSUPPORTED

/* ---------------------------------------------------------------------
 * Function lists and interfaces
 *
 * Each list is filled in the order pkcs11f.h declares the functions, the
 * order the headers build the structs in, so no pointer is left out.
 * ------------------------------------------------------------------- */

#define CK_PKCS11_FUNCTION_INFO(name) name,

static CK_FUNCTION_LIST_3_2 list_3_2 = {
	{3, 2},
#include "include/pkcs11f.h"
};

#define CK_PKCS11_3_0_ONLY 1
static CK_FUNCTION_LIST_3_0 list_3_0 = {
	{3, 0},
#include "include/pkcs11f.h"
};
#undef CK_PKCS11_3_0_ONLY

#define CK_PKCS11_2_0_ONLY 1
static CK_FUNCTION_LIST list_2_40 = {
	{2, 40},
#include "include/pkcs11f.h"
};
#undef CK_PKCS11_2_0_ONLY

#undef CK_PKCS11_FUNCTION_INFO

static CK_UTF8CHAR interface_name[] = "PKCS 11";

/* The interfaces, newest first; C_GetInterface(NULL, NULL, ...) gives the
 * first. */
static CK_INTERFACE interfaces[] = {
	{interface_name, &list_3_2, 0},
	{interface_name, &list_3_0, 0},
};

#define NINTERFACES (sizeof interfaces / sizeof interfaces[0])

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &list_2_40;
	return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList,
	CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	if (pInterfacesList == NULL) {
		*pulCount = NINTERFACES;
		return CKR_OK;
	}
	if (*pulCount < NINTERFACES) {
		*pulCount = NINTERFACES;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(pInterfacesList, interfaces, sizeof interfaces);
	*pulCount = NINTERFACES;
	return CKR_OK;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
	CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	size_t i;

	if (ppInterface == NULL)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < NINTERFACES; i++) {
		CK_INTERFACE *it = &interfaces[i];
		const CK_VERSION *v = it->pFunctionList;

		if (pInterfaceName != NULL &&
			strcmp((const char *)pInterfaceName,
			(const char *)it->pInterfaceName) != 0)
			continue;
		if (pVersion != NULL && (pVersion->major != v->major ||
			pVersion->minor != v->minor))
			continue;
		if ((it->flags & flags) != flags)
			continue;
		*ppInterface = it;
		return CKR_OK;
	}
	return CKR_ARGUMENTS_BAD;
}
