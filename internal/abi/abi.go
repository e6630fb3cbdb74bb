// Package abi describes the C memory layout of every Cryptoki struct this
// library reads or writes, for every platform it supports.
//
// A layout follows from three facts about a platform: the width of
// CK_ULONG (C's unsigned long), the width of a pointer, and whether the
// Cryptoki headers are compiled packed. Windows compiles them under
// #pragma pack(push, cryptoki, 1) and has a 32-bit unsigned long; 64-bit
// Unix systems align naturally with a 64-bit unsigned long; 32-bit Unix
// systems align naturally with 32-bit longs and pointers.
//
// The root package picks the [Platform] it is built for (abi_unix.go and
// abi_windows.go) and encodes and decodes structs at the offsets computed
// here. The same tables are checked in tests against a golden file for
// every platform and, on the platforms a test can run, against offsetof()
// from a real C compiler.
package abi

import "fmt"

// Platform is the set of facts a Cryptoki layout depends on.
type Platform struct {
	GOOS, GOARCH string
	ULong        int  // sizeof(CK_ULONG)
	Ptr          int  // sizeof(void *)
	Packed       bool // structs packed to 1 byte
}

// String returns "goos/goarch".
func (p Platform) String() string { return p.GOOS + "/" + p.GOARCH }

// Platforms lists every GOOS/GOARCH pair the library supports.
var Platforms = []Platform{
	{"linux", "amd64", 8, 8, false},
	{"linux", "arm64", 8, 8, false},
	{"linux", "386", 4, 4, false},
	{"linux", "arm", 4, 4, false},
	{"darwin", "amd64", 8, 8, false},
	{"darwin", "arm64", 8, 8, false},
	{"freebsd", "amd64", 8, 8, false},
	{"freebsd", "arm64", 8, 8, false},
	{"netbsd", "amd64", 8, 8, false},
	{"netbsd", "arm64", 8, 8, false},
	{"windows", "amd64", 4, 8, true},
	{"windows", "386", 4, 4, true},
	{"windows", "arm64", 4, 8, true},
}

// Lookup returns the platform for goos and goarch.
func Lookup(goos, goarch string) (Platform, bool) {
	for _, p := range Platforms {
		if p.GOOS == goos && p.GOARCH == goarch {
			return p, true
		}
	}
	return Platform{}, false
}

// A kind is the C type of a struct field.
type kind uint8

const (
	kByte    kind = iota // CK_BYTE, CK_BBOOL, CK_CHAR, CK_UTF8CHAR
	kULong               // CK_ULONG and every typedef of it
	kPtr                 // any pointer, function pointers included
	kVersion             // CK_VERSION, two bytes
)

type fieldSpec struct {
	name string
	kind kind
	n    int // array length; 0 means a scalar
}

type structSpec struct {
	name   string
	fields []fieldSpec
}

func b(name string, n int) fieldSpec { return fieldSpec{name, kByte, n} }
func u(name string) fieldSpec        { return fieldSpec{name, kULong, 0} }
func p(name string) fieldSpec        { return fieldSpec{name, kPtr, 0} }
func v(name string) fieldSpec        { return fieldSpec{name, kVersion, 0} }

// specs lists the structs in the order of the PKCS#11 3.2 headers' fields.
var specs = []structSpec{
	{"CK_VERSION", []fieldSpec{b("major", 0), b("minor", 0)}},
	{"CK_INFO", []fieldSpec{v("cryptokiVersion"), b("manufacturerID", 32), u("flags"),
		b("libraryDescription", 32), v("libraryVersion")}},
	{"CK_SLOT_INFO", []fieldSpec{b("slotDescription", 64), b("manufacturerID", 32), u("flags"),
		v("hardwareVersion"), v("firmwareVersion")}},
	{"CK_TOKEN_INFO", []fieldSpec{b("label", 32), b("manufacturerID", 32), b("model", 16),
		b("serialNumber", 16), u("flags"), u("ulMaxSessionCount"), u("ulSessionCount"),
		u("ulMaxRwSessionCount"), u("ulRwSessionCount"), u("ulMaxPinLen"), u("ulMinPinLen"),
		u("ulTotalPublicMemory"), u("ulFreePublicMemory"), u("ulTotalPrivateMemory"),
		u("ulFreePrivateMemory"), v("hardwareVersion"), v("firmwareVersion"), b("utcTime", 16)}},
	{"CK_SESSION_INFO", []fieldSpec{u("slotID"), u("state"), u("flags"), u("ulDeviceError")}},
	{"CK_MECHANISM_INFO", []fieldSpec{u("ulMinKeySize"), u("ulMaxKeySize"), u("flags")}},
	{"CK_ATTRIBUTE", []fieldSpec{u("type"), p("pValue"), u("ulValueLen")}},
	{"CK_MECHANISM", []fieldSpec{u("mechanism"), p("pParameter"), u("ulParameterLen")}},
	{"CK_DATE", []fieldSpec{b("year", 4), b("month", 2), b("day", 2)}},
	{"CK_INTERFACE", []fieldSpec{p("pInterfaceName"), p("pFunctionList"), u("flags")}},
	{"CK_C_INITIALIZE_ARGS", []fieldSpec{p("CreateMutex"), p("DestroyMutex"), p("LockMutex"),
		p("UnlockMutex"), u("flags"), p("pReserved")}},
	{"CK_FUNCTION_LIST", []fieldSpec{v("version"), p("C_Initialize")}},
	{"CK_RSA_PKCS_PSS_PARAMS", []fieldSpec{u("hashAlg"), u("mgf"), u("sLen")}},
	{"CK_RSA_PKCS_OAEP_PARAMS", []fieldSpec{u("hashAlg"), u("mgf"), u("source"),
		p("pSourceData"), u("ulSourceDataLen")}},
	{"CK_ECDH1_DERIVE_PARAMS", []fieldSpec{u("kdf"), u("ulSharedDataLen"), p("pSharedData"),
		u("ulPublicDataLen"), p("pPublicData")}},
	{"CK_EDDSA_PARAMS", []fieldSpec{b("phFlag", 0), u("ulContextDataLen"), p("pContextData")}},
	{"CK_GCM_PARAMS", []fieldSpec{p("pIv"), u("ulIvLen"), u("ulIvBits"), p("pAAD"),
		u("ulAADLen"), u("ulTagBits")}},
	{"CK_CCM_PARAMS", []fieldSpec{u("ulDataLen"), p("pNonce"), u("ulNonceLen"), p("pAAD"),
		u("ulAADLen"), u("ulMACLen")}},
	{"CK_AES_CTR_PARAMS", []fieldSpec{u("ulCounterBits"), b("cb", 16)}},
	{"CK_GCM_MESSAGE_PARAMS", []fieldSpec{p("pIv"), u("ulIvLen"), u("ulIvFixedBits"),
		u("ivGenerator"), p("pTag"), u("ulTagBits")}},
	{"CK_SIGN_ADDITIONAL_CONTEXT", []fieldSpec{u("hedgeVariant"), p("pContext"),
		u("ulContextLen")}},
	{"CK_ASYNC_DATA", []fieldSpec{u("ulVersion"), p("pValue"), u("ulValue"),
		u("hObject"), u("hAdditionalObject")}},
}

// Field is one field of a laid-out struct.
type Field struct {
	Name   string
	Offset int
	Size   int
}

// Struct is the layout of one C struct on one platform.
type Struct struct {
	Name   string
	Size   int
	Align  int
	Fields []Field
}

// Off returns the offset of the named field. It panics if the struct has
// no such field: names are fixed at compile time, so a miss is a bug.
func (s Struct) Off(name string) int {
	for _, f := range s.Fields {
		if f.Name == name {
			return f.Offset
		}
	}
	panic(fmt.Sprintf("abi: %s has no field %s", s.Name, name))
}

func (p Platform) sizeAlign(k kind) (size, align int) {
	switch k {
	case kULong:
		size = p.ULong
	case kPtr:
		size = p.Ptr
	case kVersion:
		return 2, 1
	default:
		size = 1
	}
	if p.Packed {
		return size, 1
	}
	return size, size
}

func (p Platform) layout(s structSpec) Struct {
	st := Struct{Name: s.name, Align: 1}
	off := 0
	for _, f := range s.fields {
		size, align := p.sizeAlign(f.kind)
		if f.n > 0 {
			size *= f.n
		}
		off = (off + align - 1) &^ (align - 1)
		st.Fields = append(st.Fields, Field{f.name, off, size})
		off += size
		st.Align = max(st.Align, align)
	}
	st.Size = (off + st.Align - 1) &^ (st.Align - 1)
	return st
}

// Structs returns the layout of every struct on p, in a fixed order.
func (p Platform) Structs() []Struct {
	out := make([]Struct, len(specs))
	for i, s := range specs {
		out[i] = p.layout(s)
	}
	return out
}

// Struct returns the layout of the named struct on p. It panics on an
// unknown name.
func (p Platform) Struct(name string) Struct {
	for _, s := range specs {
		if s.name == name {
			return p.layout(s)
		}
	}
	panic("abi: unknown struct " + name)
}
