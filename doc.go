// Package pkcs11 is a pure-Go binding to PKCS#11 (Cryptoki) modules: HSMs,
// smart cards, USB tokens, SoftHSM, NSS, TPMs. It needs no cgo: a program
// that imports it builds with CGO_ENABLED=0 and cross-compiles to every
// platform, and loads the vendor's shared library at run time through
// github.com/ebitengine/purego.
//
// # Entry points
//
// [Open] loads a module, picks the newest interface it offers (PKCS#11
// 3.2, 3.0, else the 2.x function list) and initializes it; [Module.Close]
// finalizes and unloads it. Every C function of PKCS#11 2.40, 3.0 and 3.2
// is a method of [Module] named without its C_ prefix: [Module.GetInfo],
// [Module.OpenSession], [Module.Login], [Module.SignInit],
// [Module.Sign], [Module.EncapsulateKey], and so on. Arguments and results
// are Go values from package ck: constants are typed (ck.CKA_LABEL is a
// ck.AttributeType), attributes are built with ck.NewAttribute, mechanism
// parameters are typed structs such as ck.RSAPKCSPSSParams.
//
// This is the raw layer: one call, one C function. Package token adds
// discovery and slot events, package session a session pool with shared
// login state and typed operations, and package x509hsm presents token
// keys and certificates as crypto.Signer, crypto.Decrypter and
// *x509.Certificate.
//
// # Errors
//
// A failing C function returns an [*Error] that names the function and
// unwraps to its ck.RV, so errors.Is(err, ck.CKR_PIN_INCORRECT) holds; a
// function the module lacks matches ck.CKR_FUNCTION_NOT_SUPPORTED and
// errors.ErrUnsupported. A module answer that cannot be right (a length
// larger than the buffer it was given, an absurd count) is an error
// matching [ErrBadOutput], and nothing of it is used. No error text holds a
// PIN.
//
// # Concurrency
//
// A Module is safe for concurrent use: modules are initialized with
// CKF_OS_LOCKING_OK. A PKCS#11 session is not: use each session handle
// from one goroutine at a time. Login state belongs to the token, not the
// session: logging in on one session logs in all of them.
//
// # Memory and ABI
//
// CK_ULONG is C's unsigned long: 64 bits on 64-bit Unix, 32 bits on
// Windows and 32-bit systems, where structs are also packed to one byte.
// The files abi_unix.go and abi_windows.go state those facts for their
// platforms, and every struct is laid out from them (internal/abi). Values
// cross the boundary in buffers that hold no Go pointers the collector
// could miss, built per call and kept alive for its duration; lengths the
// module returns are checked against the buffers it was given.
//
// # Tracing
//
// [WithLogger] traces every call through a *slog.Logger at debug level:
// function, handles, lengths, mechanism, return value and duration. PINs
// and data are never logged. Without it the library never logs.
//
// [PKCS#11 3.2]: https://docs.oasis-open.org/pkcs11/pkcs11-spec/v3.2/pkcs11-spec-v3.2.html
package pkcs11
