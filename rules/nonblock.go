//go:build !js && !wasip1

package rules

import "syscall"

// openNonBlocking opens a FIFO without waiting for a writer, so that the
// loader can see it is not a regular file and refuse it.
const openNonBlocking = syscall.O_NONBLOCK
