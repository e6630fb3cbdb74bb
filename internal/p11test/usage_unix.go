//go:build unix

package p11test

import (
	"syscall"
	"time"
)

func readUsage() (Usage, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, false
	}
	return Usage{
		CPU:      time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		Switches: int64(ru.Nvcsw) + int64(ru.Nivcsw),
	}, true
}
