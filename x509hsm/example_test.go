package x509hsm_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// Open a store: discovery runs in the background; Wait for it, then
// list what it found. A token or object that could not be read is
// reported and skipped, never hiding the rest.
func ExampleOpen() {
	m, err := pkcs11.Open("/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	ctx := context.Background()
	store, err := x509hsm.Open(ctx, m,
		x509hsm.WithPIN(token.Label("signing"), []byte("1234")))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := store.Wait(wctx); err != nil {
		log.Printf("some objects were skipped: %v", err)
	}
	for _, e := range store.Entries() {
		fmt.Printf("%s  %-20q %s x509=%v key=%v\n", e.StorageID(), e.Label(),
			e.Certificate().Subject, e.IsX509(), e.HasPrivateKey())
	}
}

// Find a certificate with its key, by subject and issuer, and sign with
// it as with any crypto.Signer.
func ExampleStore_FindOne() {
	var store *x509hsm.Store // from x509hsm.Open, after Wait

	e, err := store.FindOne(
		x509hsm.BySubjectCN("www.example.com"),
		x509hsm.ByIssuer("CN=Example CA,O=Example"),
		x509hsm.HasPrivateKey())
	switch {
	case errors.Is(err, x509hsm.ErrNotFound):
		log.Fatal("no such certificate")
	case errors.Is(err, x509hsm.ErrAmbiguous):
		log.Fatal("several certificates match: narrow the search")
	case err != nil:
		log.Fatal(err)
	}

	digest := sha256.Sum256([]byte("message"))
	sig, err := e.Signer().Sign(nil, digest[:], &rsa.PSSOptions{
		SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d-byte signature by %s\n", len(sig), e.Certificate().Subject)
}

// Sign a JWT with a token key: Sign hashes the signing input and returns
// the signature as JWS wants it (r||s for ES256).
func ExampleEntry_Sign() {
	var store *x509hsm.Store // from x509hsm.Open, after Wait

	e, err := store.FindOne(x509hsm.ByLabel("jwt-signer"))
	if err != nil {
		log.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	header := fmt.Sprintf(`{"alg":%q,"typ":"JWT"}`, e.JWSAlgorithm())
	claims := fmt.Sprintf(`{"sub":"alice","exp":%d}`, time.Now().Add(time.Hour).Unix())
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))

	sig, err := e.Sign([]byte(input))
	if err != nil {
		log.Fatal(err)
	}
	jwt := input + "." + b64.EncodeToString(sig)
	fmt.Println(jwt)

	// Anyone with the certificate verifies it; Verify needs no PIN.
	if err := e.Verify([]byte(input), sig); err != nil {
		log.Fatal(err)
	}
}

// Import a certificate and its key from PEM files into a token: the key
// becomes sensitive and never extractable on the token.
func ExampleStore_ImportPEM() {
	var store *x509hsm.Store // from x509hsm.Open

	data, err := os.ReadFile("server.pem") // CERTIFICATE and PRIVATE KEY blocks
	if err != nil {
		log.Fatal(err)
	}
	e, err := store.ImportPEM(context.Background(), x509hsm.ImportRequest{
		Token: token.Label("web"),
		PIN:   []byte("1234"),
		Label: "www.example.com",
	}, data)
	clear(data) // the key is on the token now
	if err != nil {
		log.Fatal(err) // names the step that failed; nothing is left behind
	}
	fmt.Println("imported", e.StorageID(), e.URI())
}

// Serve HTTPS with the server key on the token: the store adds the
// intermediate certificates it holds to the chain.
func ExampleEntry_TLSCertificate() {
	var store *x509hsm.Store // from x509hsm.Open, after Wait

	e, err := store.FindOne(x509hsm.BySubjectCN("www.example.com"), x509hsm.HasPrivateKey())
	if err != nil {
		log.Fatal(err)
	}
	cert, err := e.TLSCertificate()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr: ":8443",
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "hello from a key that never left its token")
		}),
	}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

// Generate a key pair on a token, have a CA sign its CSR, and store the
// certificate next to the key.
func ExampleStore_Generate() {
	var store *x509hsm.Store // from x509hsm.Open
	ctx := context.Background()

	e, err := store.Generate(ctx, x509hsm.GenerateRequest{
		Token:     token.Label("web"),
		PIN:       []byte("1234"),
		Algorithm: x509hsm.P256,
		Label:     "www.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	csr, err := e.CreateCSR(&x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "www.example.com"},
		DNSNames: []string{"www.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	pem.Encode(os.Stdout, &pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})

	var cert *x509.Certificate // the CA's answer
	if err := e.StoreCertificate(ctx, cert); err != nil {
		log.Fatal(err)
	}
}
