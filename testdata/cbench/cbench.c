/*
 * cbench: the baseline for the library's benchmarks. Each function runs
 * one operation n times in a plain C loop against a PKCS#11 module that
 * the Go test has already loaded and initialized, with the same session
 * and key handles, so that `go test -bench` reports Go and C side by side
 * in one run. It is built at test time by internal/cbuild.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#define CK_PTR *
#define CK_DECLARE_FUNCTION(returnType, name) returnType name
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (*name)
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (*name)
#ifndef NULL_PTR
#define NULL_PTR 0
#endif
#include "../abimod/include/pkcs11.h"

static CK_FUNCTION_LIST_PTR f;

/* cbench_open finds the already loaded module at path and its function
 * list. It returns 0 on success. */
int cbench_open(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	CK_C_GetFunctionList get;

	if (h == NULL)
		return -1;
	get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK)
		return -2;
	return 0;
}

unsigned long cbench_getinfo(long n)
{
	CK_INFO info;
	CK_RV rv = CKR_OK;

	for (long i = 0; i < n && rv == CKR_OK; i++)
		rv = f->C_GetInfo(&info);
	return rv;
}

unsigned long cbench_random(CK_SESSION_HANDLE s, long n)
{
	CK_BYTE buf[32];
	CK_RV rv = CKR_OK;

	for (long i = 0; i < n && rv == CKR_OK; i++)
		rv = f->C_GenerateRandom(s, buf, sizeof buf);
	return rv;
}

/* cbench_sign runs SignInit and Sign with a mechanism without parameter,
 * into a buffer large enough for any signature, as a C program would. */
unsigned long cbench_sign(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech,
			  CK_OBJECT_HANDLE key, long n)
{
	CK_MECHANISM m = { mech, NULL, 0 };
	CK_BYTE data[32], sig[1024];
	CK_ULONG len;
	CK_RV rv = CKR_OK;

	memset(data, 0x42, sizeof data);
	for (long i = 0; i < n && rv == CKR_OK; i++) {
		rv = f->C_SignInit(s, &m, key);
		if (rv != CKR_OK)
			break;
		len = sizeof sig;
		rv = f->C_Sign(s, data, sizeof data, sig, &len);
	}
	return rv;
}

/* cbench_getattr reads one attribute of known size in one call. */
unsigned long cbench_getattr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
			     CK_ATTRIBUTE_TYPE type, long n)
{
	CK_BYTE buf[4096];
	CK_ATTRIBUTE a;
	CK_RV rv = CKR_OK;

	for (long i = 0; i < n && rv == CKR_OK; i++) {
		a.type = type;
		a.pValue = buf;
		a.ulValueLen = sizeof buf;
		rv = f->C_GetAttributeValue(s, o, &a, 1);
	}
	return rv;
}

/* cbench_find searches for one object by label. */
unsigned long cbench_find(CK_SESSION_HANDLE s, const char *label, long n)
{
	CK_ATTRIBUTE t = { CKA_LABEL, (void *)label, strlen(label) };
	CK_OBJECT_HANDLE h[4];
	CK_ULONG cnt;
	CK_RV rv = CKR_OK;

	for (long i = 0; i < n && rv == CKR_OK; i++) {
		rv = f->C_FindObjectsInit(s, &t, 1);
		if (rv != CKR_OK)
			break;
		rv = f->C_FindObjects(s, h, 4, &cnt);
		if (rv == CKR_OK && cnt != 1)
			rv = CKR_GENERAL_ERROR;
		f->C_FindObjectsFinal(s);
	}
	return rv;
}

/* The same signing loop from several threads at once, each thread on its
 * own session: the scaling a C program gets from the module. */
struct signer {
	CK_SESSION_HANDLE s;
	CK_MECHANISM_TYPE mech;
	CK_OBJECT_HANDLE key;
	long n;
	unsigned long rv;
};

static void *sign_thread(void *arg)
{
	struct signer *w = arg;

	w->rv = cbench_sign(w->s, w->mech, w->key, w->n);
	return NULL;
}

/* cbench_sign_threads signs n times in total from nthreads threads (at
 * most 64), thread i on session sessions[i]. */
unsigned long cbench_sign_threads(long nthreads, const CK_SESSION_HANDLE *sessions,
				  CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, long n)
{
	pthread_t t[64];
	struct signer w[64];
	unsigned long rv = CKR_OK;

	if (nthreads < 1 || nthreads > 64)
		return CKR_ARGUMENTS_BAD;
	for (long i = 0; i < nthreads; i++) {
		w[i] = (struct signer){ sessions[i], mech, key, n / nthreads, CKR_OK };
		if (pthread_create(&t[i], NULL, sign_thread, &w[i]) != 0)
			return CKR_GENERAL_ERROR;
	}
	for (long i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		if (w[i].rv != CKR_OK)
			rv = w[i].rv;
	}
	return rv;
}
