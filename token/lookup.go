package token

import (
	"errors"
	"fmt"
	"strings"

	"github.com/purepkcs11/pkcs11/ck"
)

// Selector picks tokens of a [Snapshot] for [Snapshot.Find] and
// [Snapshot.Token]: by label, serial, manufacturer, model, slot, or URI.
type Selector struct {
	desc  string // for errors: `label "x"`
	match func(s *Snapshot, sl *Slot, t *Token) bool
}

// Label selects the tokens whose label is label, exactly.
func Label(label string) Selector {
	return Selector{fmt.Sprintf("label %q", label), func(_ *Snapshot, _ *Slot, t *Token) bool {
		return t.Info.Label == label
	}}
}

// LabelFold selects the tokens whose label is label in any case
// (strings.EqualFold).
func LabelFold(label string) Selector {
	return Selector{fmt.Sprintf("label %q in any case", label), func(_ *Snapshot, _ *Slot, t *Token) bool {
		return strings.EqualFold(t.Info.Label, label)
	}}
}

// Serial selects the tokens whose serial number is serial.
func Serial(serial string) Selector {
	return Selector{fmt.Sprintf("serial %q", serial), func(_ *Snapshot, _ *Slot, t *Token) bool {
		return t.Info.SerialNumber == serial
	}}
}

// Manufacturer selects the tokens whose manufacturer ID is manufacturer.
func Manufacturer(manufacturer string) Selector {
	return Selector{fmt.Sprintf("manufacturer %q", manufacturer), func(_ *Snapshot, _ *Slot, t *Token) bool {
		return t.Info.ManufacturerID == manufacturer
	}}
}

// Model selects the tokens whose model is model.
func Model(model string) Selector {
	return Selector{fmt.Sprintf("model %q", model), func(_ *Snapshot, _ *Slot, t *Token) bool {
		return t.Info.Model == model
	}}
}

// InSlot selects the token in slot id.
func InSlot(id ck.SlotID) Selector {
	return Selector{fmt.Sprintf("slot %d", id), func(_ *Snapshot, sl *Slot, _ *Token) bool {
		return sl.ID == id
	}}
}

// Initialized selects the tokens that are initialized (CKF_TOKEN_INITIALIZED)
// when want is true, and those that are not when it is false, such as
// SoftHSM's free slot.
func Initialized(want bool) Selector {
	desc := "an initialized token"
	if !want {
		desc = "an uninitialized token"
	}
	return Selector{desc, func(_ *Snapshot, _ *Slot, t *Token) bool {
		return t.Initialized() == want
	}}
}

// MatchURI selects the tokens a PKCS#11 URI names: the module must match
// its library attributes and, when the snapshot knows the module's file,
// its module-name and module-path query attributes; the slot its slot
// attributes and the token its token attributes. The URI's object
// attributes and other query attributes are not looked at.
func MatchURI(u *URI) Selector {
	return Selector{fmt.Sprintf("URI %s", u), func(s *Snapshot, sl *Slot, t *Token) bool {
		if s.ModulePath != "" && !u.MatchesModulePath(s.ModulePath) {
			return false
		}
		return u.MatchesModule(s.Info) && u.MatchesSlot(sl.ID, sl.Info) && u.MatchesToken(t.Info)
	}}
}

// Where selects the tokens for which f returns true; desc describes them
// in errors, as in `token: no token with <desc>`.
func Where(desc string, f func(*Token) bool) Selector {
	return Selector{desc, func(_ *Snapshot, _ *Slot, t *Token) bool { return f(t) }}
}

// ErrNoToken is matched by the error of [Snapshot.Token] when no token
// matches.
var ErrNoToken = errors.New("token: no matching token")

// ErrAmbiguous is matched by the error of [Snapshot.Token] when more than
// one token matches.
var ErrAmbiguous = errors.New("token: more than one token matches")

// LookupError is the error of [Snapshot.Token] when not exactly one token
// matches. It matches ErrNoToken or ErrAmbiguous.
type LookupError struct {
	// What describes the selectors, such as `label "x"`.
	What string
	// Count is the number of tokens that matched: 0 or more than 1.
	Count int
}

func (e *LookupError) Error() string {
	what := e.What
	if e.Count == 0 {
		if what == "" {
			return "token: no token"
		}
		return "token: no token with " + what
	}
	if what == "" {
		return fmt.Sprintf("token: %d tokens match", e.Count)
	}
	return fmt.Sprintf("token: %d tokens match %s", e.Count, what)
}

// Is reports whether target is ErrNoToken (no match) or ErrAmbiguous
// (several).
func (e *LookupError) Is(target error) bool {
	return target == ErrNoToken && e.Count == 0 || target == ErrAmbiguous && e.Count > 1
}

// Find returns every token that all the selectors select, in slot order;
// with no selector, every token.
func (s *Snapshot) Find(sel ...Selector) []*Token {
	var out []*Token
	for i := range s.Slots {
		sl := &s.Slots[i]
		if sl.Token != nil && s.matches(sl, sel) {
			out = append(out, sl.Token)
		}
	}
	return out
}

func (s *Snapshot) matches(sl *Slot, sel []Selector) bool {
	for _, x := range sel {
		if x.match != nil && !x.match(s, sl, sl.Token) {
			return false
		}
	}
	return true
}

// Token returns the one token that all the selectors select. When none
// or several do, the error is a [*LookupError] that says so
// (`token: no token with label "x"`, `token: 2 tokens match label "x"`)
// and matches ErrNoToken or ErrAmbiguous.
func (s *Snapshot) Token(sel ...Selector) (*Token, error) {
	found := s.Find(sel...)
	if len(found) == 1 {
		return found[0], nil
	}
	descs := make([]string, 0, len(sel))
	for _, x := range sel {
		descs = append(descs, x.desc)
	}
	return nil, &LookupError{What: strings.Join(descs, " and "), Count: len(found)}
}
