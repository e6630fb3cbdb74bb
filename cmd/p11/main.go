// Command p11 talks to PKCS#11 modules without cgo: one static binary that
// cross-compiles to every platform.
//
// Usage:
//
//	p11 [-module path] info         the module's CK_INFO and interface
//	p11 [-module path] slots        every slot and the token in it
//	p11 [-module path] mechanisms   the mechanisms of each token
//	p11 demo                        a tour on a temporary SoftHSM token
//
// The module defaults to $P11_MODULE, else SoftHSM2's usual path. demo
// always uses SoftHSM2: it makes a throw-away token directory, initializes
// a token through the library, generates an ECDSA P-256 key pair on it,
// signs, and verifies the signature on the token and with Go's crypto.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

func main() {
	module := flag.String("module", defaultModule(), "path of the PKCS#11 module")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: p11 [-module path] info|slots|mechanisms|demo")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	switch flag.Arg(0) {
	case "info":
		err = withModule(*module, info)
	case "slots":
		err = withModule(*module, slots)
	case "mechanisms":
		err = withModule(*module, mechanisms)
	case "demo":
		err = demo(os.Stdout, softHSMPath())
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "p11:", err)
		os.Exit(1)
	}
}

func defaultModule() string {
	if m := os.Getenv("P11_MODULE"); m != "" {
		return m
	}
	return softHSMPath()
}

// softHSMPath returns where Debian and most distributions install SoftHSM2.
func softHSMPath() string {
	for _, p := range []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/opt/homebrew/lib/softhsm/libsofthsm2.so",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/usr/lib/softhsm/libsofthsm2.so"
}

func withModule(path string, f func(*pkcs11.Module) error) (err error) {
	m, err := pkcs11.Open(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := m.Close(); err == nil {
			err = cerr
		}
	}()
	return f(m)
}

func info(m *pkcs11.Module) error {
	i, err := m.GetInfo()
	if err != nil {
		return err
	}
	fmt.Printf("module:        %s\n", m.Path())
	fmt.Printf("manufacturer:  %s\n", i.ManufacturerID)
	fmt.Printf("library:       %s %v\n", i.LibraryDescription, i.LibraryVersion)
	fmt.Printf("cryptoki:      %v\n", i.CryptokiVersion)
	iface := m.Interface()
	fmt.Printf("interface:     %q %v\n", iface.Name, iface.Version)
	return nil
}

func slots(m *pkcs11.Module) error {
	list, err := m.GetSlotList(false)
	if err != nil {
		return err
	}
	for _, s := range list {
		si, err := m.GetSlotInfo(s)
		if err != nil {
			return err
		}
		fmt.Printf("slot %d: %s [%v]\n", s, si.SlotDescription, si.Flags)
		if si.Flags&ck.CKF_TOKEN_PRESENT == 0 {
			continue
		}
		ti, err := m.GetTokenInfo(s)
		if err != nil {
			fmt.Printf("  token: %v\n", err)
			continue
		}
		fmt.Printf("  token %q, %s %s, serial %s\n", ti.Label, ti.ManufacturerID, ti.Model, ti.SerialNumber)
		fmt.Printf("  flags %v\n", ti.Flags)
	}
	return nil
}

func mechanisms(m *pkcs11.Module) error {
	list, err := m.GetSlotList(true)
	if err != nil {
		return err
	}
	for _, s := range list {
		mechs, err := m.GetMechanismList(s)
		if err != nil {
			return err
		}
		fmt.Printf("slot %d: %d mechanisms\n", s, len(mechs))
		for _, mt := range mechs {
			mi, err := m.GetMechanismInfo(s, mt)
			if err != nil {
				fmt.Printf("  %-36v %v\n", mt, err)
				continue
			}
			flags := strings.ReplaceAll(mi.Flags.String(), "CKF_", "")
			fmt.Printf("  %-36v %5d..%-5d %s\n", mt, mi.MinKeySize, mi.MaxKeySize, flags)
		}
	}
	return nil
}
