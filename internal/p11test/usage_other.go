//go:build !unix

package p11test

func readUsage() (Usage, bool) { return Usage{}, false }
