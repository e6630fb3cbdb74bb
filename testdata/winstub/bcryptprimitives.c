/*
 * bcryptprimitives.c: ProcessPrng for Wine 8.0, which lacks it.
 *
 * Go 1.24 and later get their random bytes from ProcessPrng in
 * bcryptprimitives.dll and abort at start-up without it. This DLL gives
 * Wine the function on top of RtlGenRandom (SystemFunction036 in
 * advapi32). .ci/abi builds it with mingw into the Wine prefix; it is a
 * test fixture, never part of the library.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
	while (length > 0) {
		ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		length -= n;
	}
	return TRUE;
}
