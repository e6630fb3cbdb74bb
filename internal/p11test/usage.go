package p11test

import (
	"testing"
	"time"
)

// Usage is what the whole process, the module's threads included, has
// used so far: CPU time and context switches. Benchmarks report it per
// operation, because both say more than wall time about how calls into
// a module share the machine's cores, and other load disturbs them less.
type Usage struct {
	CPU      time.Duration // user and system time
	Switches int64         // voluntary and involuntary context switches
	ok       bool
}

// ReadUsage returns the process's usage so far. Where the system cannot
// tell, it returns a Usage that reports nothing.
func ReadUsage() Usage {
	u, ok := readUsage()
	u.ok = ok
	return u
}

// ReportSince reports the usage since u, divided by b.N, as the metrics
// cpu-ns/op and ctxsw/op. Call it when the timed work has ended.
func (u Usage) ReportSince(b *testing.B) {
	now := ReadUsage()
	if !u.ok || !now.ok || b.N == 0 {
		return
	}
	b.ReportMetric(float64(now.CPU-u.CPU)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(now.Switches-u.Switches)/float64(b.N), "ctxsw/op")
}
