//go:build unix

package main

import "syscall"

// descriptorLimit is how many descriptors the process may open (Go raises
// the soft limit to the hard one at start), or 0 when unknown.
func descriptorLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}
