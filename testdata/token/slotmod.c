/*
 * slotmod: a fake PKCS#11 module for the tests of package token. It has
 * what SoftHSM lacks: a reader slot with no token, a slot whose token
 * cannot be read, tokens that come and go, and slot events, reported by
 * C_WaitForSlotEvent with and without blocking.
 *
 * Slots 1 to 4 exist. After slotmod_reset():
 *   1  an empty reader
 *   2  token "card-2", serial "S2", protected authentication path
 *   3  a token whose C_GetTokenInfo fails with CKR_DEVICE_ERROR
 *   4  token "card-4", serial "S4", every PIN-state flag set
 * Every token has two mechanisms: CKM_ECDSA, and CKM_SHA256, whose
 * C_GetMechanismInfo fails with CKR_MECHANISM_INVALID.
 *
 * The tests change the slots through the exported slotmod_ hooks; with
 * notify set, a change queues a slot event. The module is thread-safe: a
 * blocking C_WaitForSlotEvent waits on a condition variable that a
 * notifying hook or C_Finalize signals.
 *
 * Build: cc -shared -fPIC -O1 -Wall -Werror -o slotmod.so slotmod.c
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SLOTMOD_EXPORT __attribute__((visibility("default")))

#define CK_PTR *
#define CK_DECLARE_FUNCTION(returnType, name) SLOTMOD_EXPORT returnType name
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (*name)
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (*name)
#ifndef NULL_PTR
#define NULL_PTR 0
#endif

#include "../abimod/include/pkcs11.h"

SLOTMOD_EXPORT void slotmod_reset(void);
SLOTMOD_EXPORT void slotmod_insert(unsigned long slot, unsigned long n, int notify);
SLOTMOD_EXPORT void slotmod_remove(unsigned long slot, int notify);
SLOTMOD_EXPORT void slotmod_set_flags(unsigned long slot, unsigned long flags, int notify);
SLOTMOD_EXPORT void slotmod_notify(unsigned long slot);
SLOTMOD_EXPORT int slotmod_waiters(void);

#define NSLOTS 4
#define QUEUE 64

#define DEFAULT_FLAGS (CKF_RNG | CKF_LOGIN_REQUIRED | \
	CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED)

struct slot {
	int present;
	int broken;
	char label[33];
	char serial[17];
	CK_FLAGS flags;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int initialized;
static int waiters;
static struct slot slots[NSLOTS + 1]; /* slots[0] is unused */
static CK_SLOT_ID queue[QUEUE];
static int qlen;

static void pad(CK_UTF8CHAR *dst, const char *src, size_t n)
{
	size_t l = strlen(src);
	memset(dst, ' ', n);
	memcpy(dst, src, l < n ? l : n);
}

/* push queues an event for slot; mu must be held. */
static void push(CK_SLOT_ID slot)
{
	if (qlen < QUEUE)
		queue[qlen++] = slot;
	pthread_cond_broadcast(&cond);
}

static CK_SLOT_ID pop(void)
{
	CK_SLOT_ID s = queue[0];
	memmove(queue, queue + 1, (size_t)(qlen - 1) * sizeof queue[0]);
	qlen--;
	return s;
}

static void put(unsigned long slot, unsigned long n)
{
	struct slot *s = &slots[slot];
	memset(s, 0, sizeof *s);
	s->present = 1;
	snprintf(s->label, sizeof s->label, "card-%lu", n);
	snprintf(s->serial, sizeof s->serial, "S%lu", n);
	s->flags = DEFAULT_FLAGS;
}

void slotmod_reset(void)
{
	pthread_mutex_lock(&mu);
	memset(slots, 0, sizeof slots);
	put(2, 2);
	slots[2].flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
	put(3, 3);
	slots[3].broken = 1;
	put(4, 4);
	slots[4].flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED |
		CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
		CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED |
		CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY |
		CKF_SO_PIN_LOCKED | CKF_SO_PIN_TO_BE_CHANGED;
	qlen = 0;
	pthread_mutex_unlock(&mu);
}

void slotmod_insert(unsigned long slot, unsigned long n, int notify)
{
	if (slot < 1 || slot > NSLOTS)
		return;
	pthread_mutex_lock(&mu);
	put(slot, n);
	if (notify)
		push(slot);
	pthread_mutex_unlock(&mu);
}

void slotmod_remove(unsigned long slot, int notify)
{
	if (slot < 1 || slot > NSLOTS)
		return;
	pthread_mutex_lock(&mu);
	memset(&slots[slot], 0, sizeof slots[slot]);
	if (notify)
		push(slot);
	pthread_mutex_unlock(&mu);
}

void slotmod_set_flags(unsigned long slot, unsigned long flags, int notify)
{
	if (slot < 1 || slot > NSLOTS)
		return;
	pthread_mutex_lock(&mu);
	slots[slot].flags = flags;
	if (notify)
		push(slot);
	pthread_mutex_unlock(&mu);
}

void slotmod_notify(unsigned long slot)
{
	pthread_mutex_lock(&mu);
	push(slot);
	pthread_mutex_unlock(&mu);
}

int slotmod_waiters(void)
{
	pthread_mutex_lock(&mu);
	int n = waiters;
	pthread_mutex_unlock(&mu);
	return n;
}

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	(void)pInitArgs;
	pthread_mutex_lock(&mu);
	CK_RV rv = initialized ? CKR_CRYPTOKI_ALREADY_INITIALIZED : CKR_OK;
	initialized = 1;
	pthread_mutex_unlock(&mu);
	return rv;
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	(void)pReserved;
	pthread_mutex_lock(&mu);
	CK_RV rv = initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
	initialized = 0;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	return rv;
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof *pInfo);
	pInfo->cryptokiVersion.major = 2;
	pInfo->cryptokiVersion.minor = 40;
	pad(pInfo->manufacturerID, "purepkcs11", 32);
	pad(pInfo->libraryDescription, "slot event module", 32);
	pInfo->libraryVersion.major = 1;
	pInfo->libraryVersion.minor = 2;
	return CKR_OK;
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
	CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&mu);
	CK_SLOT_ID ids[NSLOTS];
	CK_ULONG n = 0;
	for (CK_SLOT_ID i = 1; i <= NSLOTS; i++)
		if (!tokenPresent || slots[i].present)
			ids[n++] = i;
	pthread_mutex_unlock(&mu);
	CK_RV rv = CKR_OK;
	if (pSlotList != NULL) {
		if (*pulCount < n)
			rv = CKR_BUFFER_TOO_SMALL;
		else
			memcpy(pSlotList, ids, n * sizeof ids[0]);
	}
	*pulCount = n;
	return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	char desc[32];
	if (slotID < 1 || slotID > NSLOTS)
		return CKR_SLOT_ID_INVALID;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof *pInfo);
	snprintf(desc, sizeof desc, "Reader %lu", (unsigned long)slotID);
	pad(pInfo->slotDescription, desc, 64);
	pad(pInfo->manufacturerID, "purepkcs11", 32);
	pInfo->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
	pthread_mutex_lock(&mu);
	if (slots[slotID].present)
		pInfo->flags |= CKF_TOKEN_PRESENT;
	pthread_mutex_unlock(&mu);
	return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	if (slotID < 1 || slotID > NSLOTS)
		return CKR_SLOT_ID_INVALID;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&mu);
	struct slot s = slots[slotID];
	pthread_mutex_unlock(&mu);
	if (!s.present)
		return CKR_TOKEN_NOT_PRESENT;
	if (s.broken)
		return CKR_DEVICE_ERROR;
	memset(pInfo, 0, sizeof *pInfo);
	pad(pInfo->label, s.label, 32);
	pad(pInfo->manufacturerID, "purepkcs11", 32);
	pad(pInfo->model, "slotmod", 16);
	pad(pInfo->serialNumber, s.serial, 16);
	pInfo->flags = s.flags;
	pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	pInfo->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	pInfo->ulMaxPinLen = 8;
	pInfo->ulMinPinLen = 4;
	pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	return CKR_OK;
}

static const CK_MECHANISM_TYPE mechs[] = {CKM_ECDSA, CKM_SHA256};

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pList,
	CK_ULONG_PTR pulCount)
{
	const CK_ULONG n = sizeof mechs / sizeof mechs[0];
	if (slotID < 1 || slotID > NSLOTS)
		return CKR_SLOT_ID_INVALID;
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	CK_RV rv = CKR_OK;
	if (pList != NULL) {
		if (*pulCount < n)
			rv = CKR_BUFFER_TOO_SMALL;
		else
			memcpy(pList, mechs, sizeof mechs);
	}
	*pulCount = n;
	return rv;
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
	CK_MECHANISM_INFO_PTR pInfo)
{
	if (slotID < 1 || slotID > NSLOTS)
		return CKR_SLOT_ID_INVALID;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	if (type != CKM_ECDSA)
		return CKR_MECHANISM_INVALID;
	pInfo->ulMinKeySize = 256;
	pInfo->ulMaxKeySize = 384;
	pInfo->flags = CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_EC_F_P;
	return CKR_OK;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot,
	CK_VOID_PTR pReserved)
{
	(void)pReserved;
	if (pSlot == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&mu);
	CK_RV rv = CKR_OK;
	if (!initialized) {
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	} else if (qlen > 0) {
		*pSlot = pop();
	} else if (flags & CKF_DONT_BLOCK) {
		rv = CKR_NO_EVENT;
	} else {
		waiters++;
		while (qlen == 0 && initialized)
			pthread_cond_wait(&cond, &mu);
		waiters--;
		if (qlen > 0)
			*pSlot = pop();
		else
			rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static CK_FUNCTION_LIST list = {
	.version = {2, 40},
	.C_Initialize = C_Initialize,
	.C_Finalize = C_Finalize,
	.C_GetInfo = C_GetInfo,
	.C_GetFunctionList = C_GetFunctionList,
	.C_GetSlotList = C_GetSlotList,
	.C_GetSlotInfo = C_GetSlotInfo,
	.C_GetTokenInfo = C_GetTokenInfo,
	.C_GetMechanismList = C_GetMechanismList,
	.C_GetMechanismInfo = C_GetMechanismInfo,
	.C_WaitForSlotEvent = C_WaitForSlotEvent,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &list;
	return CKR_OK;
}
