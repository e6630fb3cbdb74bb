package ck

import (
	"fmt"
	"time"
)

// Version is a CK_VERSION: a major and a minor number.
type Version struct {
	Major, Minor byte
}

// String returns "major.minor" with both numbers in decimal, as Cryptoki
// versions are written: {2, 40} is "2.40", {3, 0} is "3.0", {3, 2} is
// "3.2".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Date is a CK_DATE: a calendar date, which the C struct holds as the
// ASCII digits of a 4-digit year, a 2-digit month and a 2-digit day
// ("20240229"). The zero Date is a date not set, an empty attribute
// value. [Attribute.CKDate] decodes one; [NewAttribute] encodes one, and
// accepts a time.Time too.
type Date struct {
	Year  int        // 0 to 9999
	Month time.Month // 1 to 12
	Day   int        // 1 to 31
}

// DateOf returns the calendar date of t in UTC.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{y, m, d}
}

// IsZero reports whether d is the zero Date, a date not set.
func (d Date) IsZero() bool { return d == Date{} }

// Time returns midnight UTC of d, or the zero time for the zero Date.
func (d Date) Time() time.Time {
	if d.IsZero() {
		return time.Time{}
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// String returns the date as CK_DATE holds it, "YYYYMMDD", or "" for the
// zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
}

func (d Date) valid() bool {
	return d.Year >= 0 && d.Year <= 9999 && d.Month >= 1 && d.Month <= 12 &&
		d.Day >= 1 && d.Day <= 31 && d.Time().Day() == d.Day
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

// Info is CK_INFO: general information about a module. Text fields are
// decoded from their blank-padded form and trimmed.
type Info struct {
	CryptokiVersion    Version
	ManufacturerID     string
	Flags              uint64 // reserved, zero
	LibraryDescription string
	LibraryVersion     Version
}

// SlotInfo is CK_SLOT_INFO.
type SlotInfo struct {
	SlotDescription string
	ManufacturerID  string
	Flags           SlotFlags
	HardwareVersion Version
	FirmwareVersion Version
}

// TokenInfo is CK_TOKEN_INFO. Numeric fields hold
// CK_UNAVAILABLE_INFORMATION when the token cannot report them, and the
// session and PIN limits may hold CK_EFFECTIVELY_INFINITE.
type TokenInfo struct {
	Label              string
	ManufacturerID     string
	Model              string
	SerialNumber       string
	Flags              TokenFlags
	MaxSessionCount    uint64
	SessionCount       uint64
	MaxRwSessionCount  uint64
	RwSessionCount     uint64
	MaxPinLen          uint64
	MinPinLen          uint64
	TotalPublicMemory  uint64
	FreePublicMemory   uint64
	TotalPrivateMemory uint64
	FreePrivateMemory  uint64
	HardwareVersion    Version
	FirmwareVersion    Version
	// UTCTime is the token's clock as the 16 characters YYYYMMDDhhmmssxx,
	// or empty when the token has no clock (CKF_CLOCK_ON_TOKEN unset).
	UTCTime string
}

// Time parses UTCTime. It returns false when the token has no clock or
// reports a value that is not a time.
func (ti *TokenInfo) Time() (time.Time, bool) {
	if len(ti.UTCTime) < 14 {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405", ti.UTCTime[:14])
	return t, err == nil
}

// SessionInfo is CK_SESSION_INFO.
type SessionInfo struct {
	SlotID      SlotID
	State       SessionState
	Flags       SessionFlags
	DeviceError uint64
}

// MechanismInfo is CK_MECHANISM_INFO. The unit of the key sizes depends on
// the mechanism (bits for RSA and EC, bytes for many secret-key
// mechanisms, and tokens differ).
type MechanismInfo struct {
	MinKeySize uint64
	MaxKeySize uint64
	Flags      MechanismFlags
}

// Interface is a CK_INTERFACE offered by a module: a name such as
// "PKCS 11", the version of its function list, and its flags.
type Interface struct {
	Name    string
	Version Version
	Flags   InterfaceFlags
}
