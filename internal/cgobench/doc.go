// Package cgobench measures purepkcs11 against the cgo bindings people use
// today, in one process on one loaded SoftHSM2, so that one `go test
// -bench` run gives the ratios:
//
//   - the raw calls against github.com/miekg/pkcs11, the most used cgo
//     binding to PKCS#11, on the same token, keys and objects;
//   - x509hsm's crypto.Signer against github.com/ThalesGroup/crypto11's,
//     the most used cgo crypto.Signer over PKCS#11, on the same token keys,
//     from 1, 2 and 8 goroutines.
//
// It is a nested module, so that the main module depends on no cgo
// binding, and it holds nothing but this doc, its benchmarks and the
// tests that check the bindings compare like with like; all need cgo.
// The repository's README.md has the command and the results.
package cgobench
