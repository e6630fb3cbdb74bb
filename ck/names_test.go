package ck

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const tablePath = "internal/mkconst/constants.txt"

// tableConst is one constant line of the table.
type tableConst struct {
	name, group string
	value       uint64
	alias       bool
}

// readTable reads the constants of the table, resolving values given by
// name, and the kinds of its types. It trusts the generator to have
// checked the table; it only needs to read it.
func readTable(t *testing.T) (consts []tableConst, kinds map[string]string) {
	t.Helper()
	f, err := os.Open(tablePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	kinds = map[string]string{}
	values := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if fields[0] == "type" {
			kinds[fields[1]] = fields[2]
			continue
		}
		c := tableConst{name: fields[0], group: fields[2]}
		if v, ok := strings.CutPrefix(fields[1], "0x"); ok {
			c.value, err = strconv.ParseUint(v, 16, 64)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		} else {
			c.value = values[fields[1]]
		}
		c.alias = len(fields) > 3 && strings.Contains(fields[3], "alias")
		values[c.name] = c.value
		consts = append(consts, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return consts, kinds
}

// stringOf calls the String method of the type named group.
func stringOf(group string, v uint64) (string, bool) {
	switch group {
	case "AttributeType":
		return AttributeType(v).String(), true
	case "MechanismType":
		return MechanismType(v).String(), true
	case "KeyType":
		return KeyType(v).String(), true
	case "ObjectClass":
		return ObjectClass(v).String(), true
	case "RV":
		return RV(v).String(), true
	case "CertificateType":
		return CertificateType(v).String(), true
	case "HardwareFeatureType":
		return HardwareFeatureType(v).String(), true
	case "UserType":
		return UserType(v).String(), true
	case "SessionState":
		return SessionState(v).String(), true
	case "NotificationType":
		return NotificationType(v).String(), true
	case "ProfileID":
		return ProfileID(v).String(), true
	case "CertificateCategory":
		return CertificateCategory(v).String(), true
	case "JavaMIDPSecurityDomain":
		return JavaMIDPSecurityDomain(v).String(), true
	case "OTPFormat":
		return OTPFormat(v).String(), true
	case "OTPRequirement":
		return OTPRequirement(v).String(), true
	case "OTPParamType":
		return OTPParamType(v).String(), true
	case "MGF":
		return MGF(v).String(), true
	case "OAEPSource":
		return OAEPSource(v).String(), true
	case "KDF":
		return KDF(v).String(), true
	case "PKCS5PBKD2PseudoRandomFunction":
		return PKCS5PBKD2PseudoRandomFunction(v).String(), true
	case "PKCS5PBKDF2SaltSource":
		return PKCS5PBKDF2SaltSource(v).String(), true
	case "GeneratorFunction":
		return GeneratorFunction(v).String(), true
	case "PRFDataType":
		return PRFDataType(v).String(), true
	case "SP800108DKMLengthMethod":
		return SP800108DKMLengthMethod(v).String(), true
	case "HKDFSaltType":
		return HKDFSaltType(v).String(), true
	case "ValidationType":
		return ValidationType(v).String(), true
	case "ValidationAuthorityType":
		return ValidationAuthorityType(v).String(), true
	case "HedgeType":
		return HedgeType(v).String(), true
	case "MLDSAParameterSet":
		return MLDSAParameterSet(v).String(), true
	case "MLKEMParameterSet":
		return MLKEMParameterSet(v).String(), true
	case "SLHDSAParameterSet":
		return SLHDSAParameterSet(v).String(), true
	case "Trust":
		return Trust(v).String(), true
	case "InitializeFlags":
		return InitializeFlags(v).String(), true
	case "SlotFlags":
		return SlotFlags(v).String(), true
	case "TokenFlags":
		return TokenFlags(v).String(), true
	case "SessionFlags":
		return SessionFlags(v).String(), true
	case "MechanismFlags":
		return MechanismFlags(v).String(), true
	case "WaitFlags":
		return WaitFlags(v).String(), true
	case "InterfaceFlags":
		return InterfaceFlags(v).String(), true
	case "MessageFlags":
		return MessageFlags(v).String(), true
	case "OTPFlags":
		return OTPFlags(v).String(), true
	case "SessionValidationFlags":
		return SessionValidationFlags(v).String(), true
	}
	return "", false
}

// byName calls the ByName function of the type named group, if it has one.
func byName(group, name string) (v uint64, found, exists bool) {
	switch group {
	case "AttributeType":
		a, ok := AttributeTypeByName(name)
		return uint64(a), ok, true
	case "MechanismType":
		m, ok := MechanismTypeByName(name)
		return uint64(m), ok, true
	case "KeyType":
		k, ok := KeyTypeByName(name)
		return uint64(k), ok, true
	case "ObjectClass":
		o, ok := ObjectClassByName(name)
		return uint64(o), ok, true
	}
	return 0, false, false
}

// TestTableCounts checks the table against the number of names of each
// family that the PKCS#11 3.2 headers define.
func TestTableCounts(t *testing.T) {
	consts, _ := readTable(t)
	count := map[string]int{}
	for _, c := range consts {
		prefix, _, _ := strings.Cut(c.name, "_")
		count[prefix+"_"]++
	}
	for prefix, want := range map[string]int{
		"CKM_": 480,
		"CKA_": 160,
		"CKR_": 105,
		"CKK_": 69,
		"CKO_": 13,
		"CKF_": 73,
	} {
		if count[prefix] != want {
			t.Errorf("%s names: %d, want %d", prefix, count[prefix], want)
		}
	}
	if len(consts) != 1042 {
		t.Errorf("%d constants in the table, want 1042", len(consts))
	}
}

// TestStringAllNames checks every name of the table: String of its value
// is its canonical name, and, for the types with a ByName function, the
// name and the String form both parse back to the value.
func TestStringAllNames(t *testing.T) {
	consts, kinds := readTable(t)
	for group := range kinds {
		if _, ok := stringOf(group, 0); !ok {
			t.Errorf("type %s of the table is missing from stringOf", group)
		}
	}

	canonical := map[string]string{} // group and value -> name
	key := func(c tableConst) string { return c.group + "/" + strconv.FormatUint(c.value, 16) }
	for _, c := range consts {
		if !c.alias {
			canonical[key(c)] = c.name
		}
	}
	for _, c := range consts {
		want := canonical[key(c)]
		if want == "" {
			t.Errorf("%s: no canonical name for %#x", c.name, c.value)
			continue
		}
		got, _ := stringOf(c.group, c.value)
		if got != want {
			t.Errorf("%s(%#x).String() = %q, want %q", c.group, c.value, got, want)
		}
		if v, ok, exists := byName(c.group, c.name); exists && (!ok || v != c.value) {
			t.Errorf("%sByName(%q) = %#x, %v; want %#x", c.group, c.name, v, ok, c.value)
		}
		if v, ok, exists := byName(c.group, got); exists && (!ok || v != c.value) {
			t.Errorf("%sByName(%q) = %#x, %v; want %#x", c.group, got, v, ok, c.value)
		}
	}
}

func TestKnownValues(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"CKA_LABEL", uint64(CKA_LABEL), 0x3},
		{"CKM_ECDSA", uint64(CKM_ECDSA), 0x1041},
		{"CKR_PIN_INCORRECT", uint64(CKR_PIN_INCORRECT), 0xa0},
		{"CKM_ML_DSA", uint64(CKM_ML_DSA), 0x1d},
		{"CKM_ML_KEM", uint64(CKM_ML_KEM), 0x17},
		{"CKK_ML_DSA", uint64(CKK_ML_DSA), 0x4a},
		{"CKA_WRAP_TEMPLATE", uint64(CKA_WRAP_TEMPLATE), 0x40000211},
		{"CKA_ALLOWED_MECHANISMS", uint64(CKA_ALLOWED_MECHANISMS), 0x40000600},
		{"CKA_VENDOR_DEFINED", uint64(CKA_VENDOR_DEFINED), 0x80000000},
		{"CKR_VENDOR_DEFINED", uint64(CKR_VENDOR_DEFINED), 0x80000000},
		{"CKO_VENDOR_DEFINED", uint64(CKO_VENDOR_DEFINED), 0x80000000},
		{"CKF_OS_LOCKING_OK", uint64(CKF_OS_LOCKING_OK), 0x2},
		{"CKF_SERIAL_SESSION", uint64(CKF_SERIAL_SESSION), 0x4},
		{"CKF_DONT_BLOCK", uint64(CKF_DONT_BLOCK), 0x1},
		{"CKP_ML_DSA_65", uint64(CKP_ML_DSA_65), 0x2},
		{"CKH_DETERMINISTIC_REQUIRED", uint64(CKH_DETERMINISTIC_REQUIRED), 0x2},
		{"CKA_SUB_PRIME_BITS", uint64(CKA_SUB_PRIME_BITS), uint64(CKA_SUBPRIME_BITS)},
		{"CKK_ECDSA", uint64(CKK_ECDSA), uint64(CKK_EC)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		v    interface{ String() string }
		want string
	}{
		{CKA_LABEL, "CKA_LABEL"},
		{CKM_ML_DSA, "CKM_ML_DSA"},
		{CKR_OK, "CKR_OK"},
		{CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
		{CKK_ECDSA, "CKK_EC"},
		{CKA_ECDSA_PARAMS, "CKA_EC_PARAMS"},
		{CKA_SUB_PRIME_BITS, "CKA_SUBPRIME_BITS"},
		{CKM_CAST5_KEY_GEN, "CKM_CAST128_KEY_GEN"},
		{CKM_DSA_PROBABLISTIC_PARAMETER_GEN, "CKM_DSA_PROBABILISTIC_PARAMETER_GEN"},
		{CKA_WRAP_TEMPLATE, "CKA_WRAP_TEMPLATE"},
		{CKP_ML_KEM_768, "CKP_ML_KEM_768"},

		// Unknown values print in hex after the family prefix.
		{AttributeType(0x1234), "CKA_0x1234"},
		{RV(0x4e534351), "CKR_0x4e534351"},
		{UserType(7), "CKU_0x7"},
		{CertificateCategory(9), "CK_CERTIFICATE_CATEGORY_0x9"},
		{MGF(0xff), "CKG_0xff"},
		{AttributeType(CKF_ARRAY_ATTRIBUTE | 0x999), "CKA_0x40000999"},
		{MechanismType(1 << 40), "CKM_VENDOR_DEFINED+0xff80000000"},

		// Values from a vendor base up print as an offset from it.
		{CKM_VENDOR_DEFINED, "CKM_VENDOR_DEFINED"},
		{CKM_VENDOR_DEFINED + 0x123, "CKM_VENDOR_DEFINED+0x123"},
		{RV(0xce534351), "CKR_VENDOR_DEFINED+0x4e534351"},
		{CKA_VENDOR_DEFINED | CKF_ARRAY_ATTRIBUTE, "CKA_VENDOR_DEFINED+0x40000000"},
		{KeyType(0x80000001), "CKK_VENDOR_DEFINED+0x1"},
		{ObjectClass(0xffffffff), "CKO_VENDOR_DEFINED+0x7fffffff"},
		{HardwareFeatureType(0x80000002), "CKH_VENDOR_DEFINED+0x2"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%T(%#x).String() = %q, want %q", tt.v, tt.v, got, tt.want)
		}
	}
}

func TestFlagsString(t *testing.T) {
	tests := []struct {
		v    interface{ String() string }
		want string
	}{
		{TokenFlags(0), "0"},
		{CKF_RNG, "CKF_RNG"},
		{CKF_RNG | CKF_LOGIN_REQUIRED, "CKF_RNG|CKF_LOGIN_REQUIRED"},
		{CKF_LOGIN_REQUIRED | CKF_RNG | 0x80000000, "CKF_RNG|CKF_LOGIN_REQUIRED|0x80000000"},
		{TokenFlags(0x30000010), "0x30000010"},
		{CKF_SERIAL_SESSION | CKF_RW_SESSION, "CKF_RW_SESSION|CKF_SERIAL_SESSION"},
		{SessionFlags(1), "0x1"},
		{CKF_EC_NAMEDCURVE, "CKF_EC_OID"},
		{CKF_MULTI_MESSGE | CKF_HW, "CKF_HW|CKF_MULTI_MESSAGE"},
		{CKF_SIGN | CKF_VERIFY | CKF_EXTENSION, "CKF_SIGN|CKF_VERIFY|CKF_EXTENSION"},
		{CKF_OS_LOCKING_OK, "CKF_OS_LOCKING_OK"},
		{CKF_DONT_BLOCK, "CKF_DONT_BLOCK"},
		{CKF_INTERFACE_FORK_SAFE, "CKF_INTERFACE_FORK_SAFE"},
		{CKF_END_OF_MESSAGE, "CKF_END_OF_MESSAGE"},
		{CKF_NEXT_OTP | CKF_EXCLUDE_PIN, "CKF_NEXT_OTP|CKF_EXCLUDE_PIN"},
		{CKS_LAST_VALIDATION_OK, "CKS_LAST_VALIDATION_OK"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%T(%#x).String() = %q, want %q", tt.v, tt.v, got, tt.want)
		}
	}
}

func TestByName(t *testing.T) {
	good := []struct {
		name string
		want MechanismType
	}{
		{"CKM_ECDSA", CKM_ECDSA},
		{"CKM_ECDSA_KEY_PAIR_GEN", CKM_EC_KEY_PAIR_GEN},
		{"CKM_0x1234", 0x1234},
		{"CKM_0xABC", 0xabc},
		{"CKM_VENDOR_DEFINED", CKM_VENDOR_DEFINED},
		{"CKM_VENDOR_DEFINED+0x123", CKM_VENDOR_DEFINED + 0x123},
	}
	for _, tt := range good {
		if got, ok := MechanismTypeByName(tt.name); !ok || got != tt.want {
			t.Errorf("MechanismTypeByName(%q) = %#x, %v; want %#x", tt.name, got, ok, tt.want)
		}
	}
	for _, name := range []string{
		"", "CKM_", "CKM_0x", "CKM_0x-1", "CKM_0x+1", "CKM_0xzz", "CKM_0x1_0",
		"CKM_VENDOR_DEFINED+", "CKM_VENDOR_DEFINED+0x",
		"CKM_VENDOR_DEFINED+0xffffffffffffffff", "CKM_0x10000000000000000",
		"ckm_ecdsa", " CKM_ECDSA", "CKM_ECDSA ", "CKA_LABEL", "CKK_0x1",
	} {
		if got, ok := MechanismTypeByName(name); ok {
			t.Errorf("MechanismTypeByName(%q) = %#x, true; want false", name, got)
		}
	}

	if v, ok := AttributeTypeByName("CKA_SUB_PRIME_BITS"); !ok || v != CKA_SUBPRIME_BITS {
		t.Errorf("AttributeTypeByName(CKA_SUB_PRIME_BITS) = %v, %v", v, ok)
	}
	if v, ok := KeyTypeByName("CKK_VENDOR_DEFINED+0x10"); !ok || v != CKK_VENDOR_DEFINED+0x10 {
		t.Errorf("KeyTypeByName(CKK_VENDOR_DEFINED+0x10) = %v, %v", v, ok)
	}
	if v, ok := ObjectClassByName("CKO_0x1f"); !ok || v != 0x1f {
		t.Errorf("ObjectClassByName(CKO_0x1f) = %v, %v", v, ok)
	}
}

// TestStringAllocs checks that the name of a known value, enum or single
// flag, is returned without allocating.
func TestStringAllocs(t *testing.T) {
	var sink string
	n := testing.AllocsPerRun(100, func() {
		sink = CKM_ECDSA.String()
		sink = CKR_PIN_INCORRECT.String()
		sink = CKF_RNG.String()
		sink = TokenFlags(0).String()
	})
	if n != 0 {
		t.Errorf("String allocates %v times per run, want 0", n)
	}
	_ = sink
}

// TestGenerated runs the generator and compares its output with the
// committed zconst.go, so that the table and the code cannot drift apart.
func TestGenerated(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to run the generator: %v", err)
	}
	out := filepath.Join(t.TempDir(), "zconst.go")
	cmd := exec.Command(goTool, "run", "./internal/mkconst", "-out", out)
	// The generator runs on the host, whatever the tests target.
	cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./internal/mkconst: %v\n%s", err, msg)
	}

	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("zconst.go")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("zconst.go is stale; run go generate. Line %d:\ngenerated: %q\ncommitted: %q", i+1, g, w)
		}
	}
}

func TestFunctionNames(t *testing.T) {
	if len(FunctionNames) != Functions32 {
		t.Fatalf("%d function names, want %d", len(FunctionNames), Functions32)
	}
	seen := map[string]bool{}
	for i, name := range FunctionNames {
		if !strings.HasPrefix(name, "C_") || seen[name] {
			t.Errorf("FunctionNames[%d] = %q: not a new C_ name", i, name)
		}
		seen[name] = true
	}
	for i, want := range map[int]string{
		0:                "C_Initialize",
		3:                "C_GetFunctionList",
		Functions240 - 1: "C_WaitForSlotEvent",
		Functions240:     "C_GetInterfaceList",
		Functions30 - 1:  "C_MessageVerifyFinal",
		Functions30:      "C_EncapsulateKey",
		Functions32 - 1:  "C_UnwrapKeyAuthenticated",
	} {
		if FunctionNames[i] != want {
			t.Errorf("FunctionNames[%d] = %q, want %q", i, FunctionNames[i], want)
		}
	}
}

func BenchmarkMechanismTypeString(b *testing.B) {
	ms := []MechanismType{CKM_RSA_PKCS, CKM_ECDSA, CKM_ML_DSA, CKM_AES_GCM, CKM_VENDOR_DEFINED + 1}
	for i := 0; b.Loop(); i++ {
		_ = ms[i%len(ms)].String()
	}
}

func BenchmarkTokenFlagsString(b *testing.B) {
	f := CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED
	for b.Loop() {
		_ = f.String()
	}
}
