package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/purepkcs11/pkcs11/internal/p11test"
)

func TestDemo(t *testing.T) {
	lib, err := p11test.SoftHSMPath()
	p11test.Require(t, "SoftHSM2", err)
	t.Setenv("SOFTHSM2_CONF", "")
	var out bytes.Buffer
	if err := demo(&out, lib); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"initialized token \"p11 demo\"",
		"CKR_ATTRIBUTE_SENSITIVE",
		"the token verified the signature",
		"crypto/ecdsa verified it",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
