/*
 * sessmod: a fake PKCS#11 module for the tests of package session. It has
 * what SoftHSM lacks: a token with a session limit. SoftHSM reports no
 * limit (ulMaxSessionCount 0) and never refuses a session; sessmod
 * reports the limits the test sets and answers C_OpenSession with
 * CKR_SESSION_COUNT once as many sessions are open as it allows, which
 * the test sets apart, as a token shared with other processes does.
 *
 * One slot, 1, holds token "limited". Sessions have no objects and no
 * operations: C_OpenSession, C_CloseSession, C_CloseAllSessions,
 * C_GetSessionInfo, C_Login (PIN "1234") and C_Logout are all there is
 * besides the slot and token queries. Other functions are missing from
 * the function list, which the library reports as
 * CKR_FUNCTION_NOT_SUPPORTED.
 *
 * Test hooks, all thread-safe:
 *   sessmod_reset()                 close every session, no limits
 *   sessmod_report(max, maxRw)      ulMaxSessionCount, ulMaxRwSessionCount
 *   sessmod_limit(n, nRw)           refuse a session past n open (nRw
 *                                   read-write); -1 for no limit
 *   sessmod_open()                  sessions open now
 *   sessmod_refused()               C_OpenSession calls refused so far
 *
 * Build: cc -shared -fPIC -O1 -Wall -Werror -o sessmod.so sessmod.c
 */

#include <pthread.h>
#include <string.h>

#define SESSMOD_EXPORT __attribute__((visibility("default")))

#define CK_PTR *
#define CK_DECLARE_FUNCTION(returnType, name) SESSMOD_EXPORT returnType name
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (*name)
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (*name)
#ifndef NULL_PTR
#define NULL_PTR 0
#endif

#include "../abimod/include/pkcs11.h"

SESSMOD_EXPORT void sessmod_reset(void);
SESSMOD_EXPORT void sessmod_report(unsigned long max, unsigned long maxRw);
SESSMOD_EXPORT void sessmod_limit(long n, long nRw);
SESSMOD_EXPORT int sessmod_open(void);
SESSMOD_EXPORT int sessmod_refused(void);

#define SLOT 1
#define MAXSESSIONS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static CK_FLAGS sessions[MAXSESSIONS]; /* 0: free, else the flags */
static int loggedIn;
static CK_ULONG reportMax, reportMaxRw;
static long limit = -1, limitRw = -1;
static int refused;

static void pad(CK_UTF8CHAR *dst, const char *src, size_t n)
{
	size_t l = strlen(src);
	memset(dst, ' ', n);
	memcpy(dst, src, l < n ? l : n);
}

/* count returns the sessions open, or the read-write ones; mu held. */
static long count(int rwOnly)
{
	long n = 0;
	for (int i = 0; i < MAXSESSIONS; i++)
		if (sessions[i] && (!rwOnly || (sessions[i] & CKF_RW_SESSION)))
			n++;
	return n;
}

void sessmod_reset(void)
{
	pthread_mutex_lock(&mu);
	memset(sessions, 0, sizeof sessions);
	loggedIn = 0;
	reportMax = reportMaxRw = CK_EFFECTIVELY_INFINITE;
	limit = limitRw = -1;
	refused = 0;
	pthread_mutex_unlock(&mu);
}

void sessmod_report(unsigned long max, unsigned long maxRw)
{
	pthread_mutex_lock(&mu);
	reportMax = max;
	reportMaxRw = maxRw;
	pthread_mutex_unlock(&mu);
}

void sessmod_limit(long n, long nRw)
{
	pthread_mutex_lock(&mu);
	limit = n;
	limitRw = nRw;
	pthread_mutex_unlock(&mu);
}

int sessmod_open(void)
{
	pthread_mutex_lock(&mu);
	int n = (int)count(0);
	pthread_mutex_unlock(&mu);
	return n;
}

int sessmod_refused(void)
{
	pthread_mutex_lock(&mu);
	int n = refused;
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
	memset(sessions, 0, sizeof sessions);
	loggedIn = 0;
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
	pad(pInfo->libraryDescription, "session limit module", 32);
	pInfo->libraryVersion.major = 1;
	return CKR_OK;
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
	CK_ULONG_PTR pulCount)
{
	(void)tokenPresent;
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	CK_RV rv = CKR_OK;
	if (pSlotList != NULL) {
		if (*pulCount < 1)
			rv = CKR_BUFFER_TOO_SMALL;
		else
			pSlotList[0] = SLOT;
	}
	*pulCount = 1;
	return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	if (slotID != SLOT)
		return CKR_SLOT_ID_INVALID;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof *pInfo);
	pad(pInfo->slotDescription, "Limited slot", 64);
	pad(pInfo->manufacturerID, "purepkcs11", 32);
	pInfo->flags = CKF_TOKEN_PRESENT;
	return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	if (slotID != SLOT)
		return CKR_SLOT_ID_INVALID;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof *pInfo);
	pad(pInfo->label, "limited", 32);
	pad(pInfo->manufacturerID, "purepkcs11", 32);
	pad(pInfo->model, "sessmod", 16);
	pad(pInfo->serialNumber, "L1", 16);
	pInfo->flags = CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED |
		CKF_TOKEN_INITIALIZED;
	pthread_mutex_lock(&mu);
	pInfo->ulMaxSessionCount = reportMax;
	pInfo->ulMaxRwSessionCount = reportMaxRw;
	pInfo->ulSessionCount = (CK_ULONG)count(0);
	pInfo->ulRwSessionCount = (CK_ULONG)count(1);
	pthread_mutex_unlock(&mu);
	pInfo->ulMaxPinLen = 8;
	pInfo->ulMinPinLen = 4;
	pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	return CKR_OK;
}

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
	CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	(void)pApplication;
	(void)Notify;
	if (slotID != SLOT)
		return CKR_SLOT_ID_INVALID;
	if (phSession == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	pthread_mutex_lock(&mu);
	CK_RV rv = CKR_SESSION_COUNT;
	if ((limit >= 0 && count(0) >= limit) ||
	    ((flags & CKF_RW_SESSION) && limitRw >= 0 && count(1) >= limitRw)) {
		refused++;
	} else {
		for (int i = 0; i < MAXSESSIONS; i++) {
			if (!sessions[i]) {
				sessions[i] = flags;
				*phSession = (CK_SESSION_HANDLE)(i + 1);
				rv = CKR_OK;
				break;
			}
		}
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

/* valid reports whether h is an open session; mu held. */
static int valid(CK_SESSION_HANDLE h)
{
	return h >= 1 && h <= MAXSESSIONS && sessions[h - 1];
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	pthread_mutex_lock(&mu);
	CK_RV rv = CKR_SESSION_HANDLE_INVALID;
	if (valid(hSession)) {
		sessions[hSession - 1] = 0;
		if (count(0) == 0)
			loggedIn = 0;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	if (slotID != SLOT)
		return CKR_SLOT_ID_INVALID;
	pthread_mutex_lock(&mu);
	memset(sessions, 0, sizeof sessions);
	loggedIn = 0;
	pthread_mutex_unlock(&mu);
	return CKR_OK;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&mu);
	CK_RV rv = CKR_SESSION_HANDLE_INVALID;
	if (valid(hSession)) {
		CK_FLAGS f = sessions[hSession - 1];
		memset(pInfo, 0, sizeof *pInfo);
		pInfo->slotID = SLOT;
		pInfo->flags = f;
		if (f & CKF_RW_SESSION)
			pInfo->state = loggedIn ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION;
		else
			pInfo->state = loggedIn ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
	CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	if (userType != CKU_USER)
		return CKR_USER_TYPE_INVALID;
	pthread_mutex_lock(&mu);
	CK_RV rv;
	if (!valid(hSession))
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (loggedIn)
		rv = CKR_USER_ALREADY_LOGGED_IN;
	else if (pPin == NULL || ulPinLen != 4 || memcmp(pPin, "1234", 4) != 0)
		rv = CKR_PIN_INCORRECT;
	else {
		loggedIn = 1;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	pthread_mutex_lock(&mu);
	CK_RV rv;
	if (!valid(hSession))
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!loggedIn)
		rv = CKR_USER_NOT_LOGGED_IN;
	else {
		loggedIn = 0;
		rv = CKR_OK;
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
	.C_OpenSession = C_OpenSession,
	.C_CloseSession = C_CloseSession,
	.C_CloseAllSessions = C_CloseAllSessions,
	.C_GetSessionInfo = C_GetSessionInfo,
	.C_Login = C_Login,
	.C_Logout = C_Logout,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &list;
	return CKR_OK;
}
