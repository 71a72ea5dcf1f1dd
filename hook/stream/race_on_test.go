//go:build race

package stream

// raceEnabled: the race detector makes allocation counts meaningless.
const raceEnabled = true
