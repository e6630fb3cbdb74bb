//go:build !unix

package x509hsm_test

import "time"

// processCPU returns the CPU time the process has used, or false where
// it cannot be read, as here.
func processCPU() (time.Duration, bool) { return 0, false }
