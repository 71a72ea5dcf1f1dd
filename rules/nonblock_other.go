//go:build js || wasip1

package rules

// openNonBlocking is not available here: there are no FIFOs to wait on.
const openNonBlocking = 0
