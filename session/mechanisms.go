package session

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/ck"
)

// tokenCaps is what a token can do, learned lazily and kept for the life
// of the process: its mechanism list, and whether it knows CKA_UNIQUE_ID.
// Both are facts of the token's firmware or software, not of its state,
// so they do not change while the process runs.
type tokenCaps struct {
	mu    sync.Mutex
	mechs atomic.Pointer[mechSet]
	// noUniqueID is set once the token has answered
	// CKR_ATTRIBUTE_TYPE_INVALID for CKA_UNIQUE_ID (PKCS#11 3.0), so
	// that object reads stop asking for it.
	noUniqueID atomic.Bool
}

// mechSet is a token's mechanism list. A nil set means that the token's
// list could not be had and nothing is checked.
type mechSet struct {
	set map[ck.MechanismType]struct{}
}

// mechanisms returns the token's mechanism list, reading it with
// C_GetMechanismList the first time. A token that does not implement the
// function, or returns an empty list, gets an empty mechSet and no
// checks; a failure that may pass (token absent, say) is not remembered.
func (c *tokenCaps) mechanisms(m *pkcs11.Module, slot ck.SlotID) *mechSet {
	if ms := c.mechs.Load(); ms != nil {
		return ms
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ms := c.mechs.Load(); ms != nil {
		return ms
	}
	list, err := m.GetMechanismList(slot)
	if err != nil && !errors.Is(err, ck.CKR_FUNCTION_NOT_SUPPORTED) {
		return &mechSet{}
	}
	ms := &mechSet{}
	if len(list) > 0 {
		ms.set = make(map[ck.MechanismType]struct{}, len(list))
		for _, mt := range list {
			ms.set[mt] = struct{}{}
		}
	}
	c.mechs.Store(ms)
	return ms
}

// has reports whether mt is in the list, or true when there is no list.
func (ms *mechSet) has(mt ck.MechanismType) bool {
	if ms.set == nil {
		return true
	}
	_, ok := ms.set[mt]
	return ok
}

// MechanismError is the error of an operation given a mechanism it cannot
// use: one the token does not list (C_GetMechanismList), or one a helper
// of this package could not build, such as RSAPSS with a hash PKCS#11 has
// no mechanism for. No token function was called for the operation. It
// matches ck.CKR_MECHANISM_INVALID with errors.Is.
type MechanismError struct {
	Op        string           // the operation, such as "sign"
	Mechanism ck.MechanismType // the mechanism
	// Reason says why a helper could not build the mechanism; empty when
	// the token lacks it.
	Reason string
}

func (e *MechanismError) Error() string {
	if e.Reason != "" {
		return "session: " + e.Op + ": " + e.Reason
	}
	return "session: " + e.Op + ": token lacks " + e.Mechanism.String()
}

// Unwrap returns ck.CKR_MECHANISM_INVALID, what the token would have
// answered.
func (e *MechanismError) Unwrap() error { return ck.CKR_MECHANISM_INVALID }

// Supports reports whether the session's token lists mechanism mt. The
// list is read once per token and process (C_GetMechanismList); when the
// token cannot give one, Supports reports true and leaves the answer to
// the operation itself.
func (s *Session) Supports(mt ck.MechanismType) bool {
	return s.tok.caps.mechanisms(s.m, s.slot).has(mt)
}

// checkMech returns a *MechanismError when mech cannot be used for op:
// a helper could not build it, or the token lacks it.
func (s *Session) checkMech(op string, mech ck.Mechanism) error {
	if mech.Type == badMechanism {
		reason, _ := mech.Parameter.(ck.RawParameter)
		return &MechanismError{Op: op, Mechanism: mech.Type, Reason: string(reason)}
	}
	if !s.Supports(mech.Type) {
		return &MechanismError{Op: op, Mechanism: mech.Type}
	}
	return nil
}
