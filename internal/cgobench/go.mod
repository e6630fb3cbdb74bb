module github.com/purepkcs11/pkcs11/internal/cgobench

go 1.26.8

require (
	github.com/ThalesGroup/crypto11 v1.6.2
	github.com/miekg/pkcs11 v1.1.2
	github.com/purepkcs11/pkcs11 v0.0.0
)

require (
	github.com/ebitengine/purego v0.11.3 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/thales-e-security/pool v0.0.2 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/purepkcs11/pkcs11 => ../..
