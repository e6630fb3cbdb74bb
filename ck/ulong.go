package ck

// CK_UNAVAILABLE_INFORMATION is the value of a numeric field that a token
// cannot report. In C it is all ones in the platform's CK_ULONG (32 bits on
// Windows and 32-bit systems, 64 bits on 64-bit Unix); the library widens it
// to this 64-bit value wherever it decodes a CK_ULONG, so Go code compares
// against one constant on every platform.
const CK_UNAVAILABLE_INFORMATION = ^uint64(0)

// CK_EFFECTIVELY_INFINITE is the value of a session or PIN-length limit
// that has no limit.
const CK_EFFECTIVELY_INFINITE = 0

// CK_INVALID_HANDLE is the handle value that names no object or session.
const CK_INVALID_HANDLE = 0

// SlotID identifies a slot (CK_SLOT_ID).
type SlotID uint64

// SessionHandle identifies an open session (CK_SESSION_HANDLE).
type SessionHandle uint64

// ObjectHandle identifies an object within a session's view of a token
// (CK_OBJECT_HANDLE).
type ObjectHandle uint64
