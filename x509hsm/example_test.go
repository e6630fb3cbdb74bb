package x509hsm_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/token"
	"github.com/purepkcs11/pkcs11/x509hsm"
)

// The examples run against SoftHSM: the tests set P11_MODULE and P11_PIN
// and put the certificates and keys they look for on token "web".

// Open a store of the token labelled "web": discovery runs in the
// background; Wait for it, then list what it found. A token or object
// that could not be read is reported and skipped, never hiding the rest.
func ExampleOpen() {
	module := os.Getenv("P11_MODULE") // such as /usr/lib/softhsm/libsofthsm2.so
	pin := []byte(os.Getenv("P11_PIN"))

	m, err := pkcs11.Open(module)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	ctx := context.Background()
	web := token.Label("web")
	store, err := x509hsm.Open(ctx, m, x509hsm.WithTokens(web), x509hsm.WithPIN(web, pin))
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
		fmt.Printf("%-24s x509=%-5v private key=%v\n", e.Label(), e.IsX509(), e.HasPrivateKey())
	}
	// Output:
	// Example Intermediate CA  x509=true  private key=false
	// Example Root CA          x509=true  private key=false
	// www.example.com          x509=true  private key=true
	// jwt-signer               x509=false private key=true
}

// Find a certificate with its key, by subject and issuer, and sign with
// it as with any crypto.Signer.
func ExampleStore_FindOne() {
	m, err := pkcs11.Open(os.Getenv("P11_MODULE"))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	web := token.Label("web")
	store, err := x509hsm.Open(ctx, m, x509hsm.WithTokens(web), x509hsm.WithPIN(web, []byte(os.Getenv("P11_PIN"))))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Wait(ctx); err != nil {
		log.Fatal(err)
	}

	e, err := store.FindOne(
		x509hsm.BySubjectCN("www.example.com"),
		x509hsm.ByIssuer("CN=Example Intermediate CA,O=Example"),
		x509hsm.HasPrivateKey())
	switch {
	case errors.Is(err, x509hsm.ErrNotFound):
		log.Fatal("no such certificate")
	case errors.Is(err, x509hsm.ErrAmbiguous):
		log.Fatal("several certificates match: narrow the search")
	case err != nil:
		log.Fatal(err)
	}

	msg := []byte("message")
	sig, err := crypto.SignMessage(e.Signer(), rand.Reader, msg, &rsa.PSSOptions{
		SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	if err != nil {
		log.Fatal(err)
	}
	err = e.Certificate().CheckSignature(x509.SHA256WithRSAPSS, msg, sig)
	fmt.Printf("%d-byte signature by %s, valid: %v\n", len(sig), e.Certificate().Subject, err == nil)
	// Output:
	// 256-byte signature by CN=www.example.com,O=Example, valid: true
}

// Sign a JWT with a token key: Sign hashes the signing input and returns
// the signature as JWS wants it (r||s for ES256).
func ExampleEntry_Sign() {
	m, err := pkcs11.Open(os.Getenv("P11_MODULE"))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	web := token.Label("web")
	store, err := x509hsm.Open(ctx, m, x509hsm.WithTokens(web), x509hsm.WithPIN(web, []byte(os.Getenv("P11_PIN"))))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Wait(ctx); err != nil {
		log.Fatal(err)
	}

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
	_ = jwt // send it
	fmt.Println(header)

	// Anyone with the certificate verifies it; Verify needs no PIN.
	fmt.Println("valid:", e.Verify([]byte(input), sig) == nil)
	// Output:
	// {"alg":"ES256","typ":"JWT"}
	// valid: true
}

// Import a certificate, its issuer and its key from a PEM file into a
// token: the key becomes sensitive and never extractable on the token.
func ExampleStore_ImportPEM() {
	m, err := pkcs11.Open(os.Getenv("P11_MODULE"))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	staging := token.Label("staging")
	store, err := x509hsm.Open(ctx, m, x509hsm.WithTokens(staging))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// CERTIFICATE blocks and a PRIVATE KEY block.
	data, err := os.ReadFile("../testdata/x509hsm/server.pem")
	if err != nil {
		log.Fatal(err)
	}
	e, err := store.ImportPEM(ctx, x509hsm.ImportRequest{
		Token: staging,
		PIN:   []byte(os.Getenv("P11_PIN")),
		Label: "api.example.com",
	}, data)
	clear(data) // the key is on the token now
	if err != nil {
		log.Fatal(err) // names the step that failed; nothing is left behind
	}
	fmt.Println("imported:", e.Certificate().Subject, "with its private key:", e.HasPrivateKey())
	issuer, err := store.FindOne(x509hsm.BySubjectCN("Example Issuing CA"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("and its issuer:", issuer.Certificate().Subject)
	// Output:
	// imported: CN=api.example.com,O=Example with its private key: true
	// and its issuer: CN=Example Issuing CA,O=Example
}

// Serve HTTPS with the server key on the token: the store adds the
// intermediate certificates it holds to the chain.
func ExampleEntry_TLSCertificate() {
	m, err := pkcs11.Open(os.Getenv("P11_MODULE"))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	web := token.Label("web")
	store, err := x509hsm.Open(ctx, m, x509hsm.WithTokens(web), x509hsm.WithPIN(web, []byte(os.Getenv("P11_PIN"))))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Wait(ctx); err != nil {
		log.Fatal(err)
	}

	e, err := store.FindOne(x509hsm.BySubjectCN("www.example.com"), x509hsm.HasPrivateKey())
	if err != nil {
		log.Fatal(err)
	}
	cert, err := e.TLSCertificate()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "hello from a key that never left its token")
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // ":443" in production
	if err != nil {
		log.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()

	// A client that trusts the root CA, whose certificate the token
	// holds too.
	root, err := store.FindOne(x509hsm.BySubjectCN("Example Root CA"))
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate())
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "www.example.com"},
	}}
	resp, err := client.Get("https://" + ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s", resp.Status, body)
	fmt.Println("certificates sent:", len(resp.TLS.PeerCertificates))
	// Output:
	// 200 OK: hello from a key that never left its token
	// certificates sent: 2
}

// Generate a key pair on a token, make a CSR for a CA to sign, and
// store a certificate next to the key: here one the key signs itself.
func ExampleStore_Generate() {
	m, err := pkcs11.Open(os.Getenv("P11_MODULE"))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	staging := token.Label("staging")
	store, err := x509hsm.Open(ctx, m, x509hsm.WithTokens(staging), x509hsm.WithPIN(staging, []byte(os.Getenv("P11_PIN"))))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	e, err := store.Generate(ctx, x509hsm.GenerateRequest{
		Token:     staging,
		Algorithm: x509hsm.P256,
		Label:     "shop.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	name := pkix.Name{CommonName: "shop.example.com"}
	der, err := e.CreateCSR(&x509.CertificateRequest{Subject: name, DNSNames: []string{"shop.example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("CSR for", csr.Subject, "signed by the token:", csr.CheckSignature() == nil)

	cert, err := e.CreateSelfSigned(&x509.Certificate{
		Subject:   name,
		DNSNames:  []string{"shop.example.com"},
		NotBefore: time.Now(),
		NotAfter:  time.Now().AddDate(1, 0, 0),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := e.StoreCertificate(ctx, cert); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored:", e.Certificate().Subject, "x509:", e.IsX509())
	// Output:
	// CSR for CN=shop.example.com signed by the token: true
	// stored: CN=shop.example.com x509: true
}
