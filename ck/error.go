package ck

import "errors"

// Error returns the spec name of rv, so an RV can be returned as an error
// on its own. Errors from this library wrap an RV together with the name of
// the C function that returned it; errors.Is(err, CKR_PIN_INCORRECT) works
// through that wrapping.
func (rv RV) Error() string { return rv.String() }

// Is reports whether rv matches target. Besides equal RVs,
// CKR_FUNCTION_NOT_SUPPORTED matches errors.ErrUnsupported.
func (rv RV) Is(target error) bool {
	if target == errors.ErrUnsupported {
		return rv == CKR_FUNCTION_NOT_SUPPORTED
	}
	t, ok := target.(RV)
	return ok && t == rv
}
