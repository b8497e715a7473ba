// Package wait is how tests wait for something that happens in its own
// time: poll a condition, bounded, never a fixed sleep. A condition that
// holds at once costs one call; one that never holds fails the test with
// what it was waiting for and what it saw last.
package wait

import (
	"testing"
	"time"
)

// Timeout bounds every wait that names no bound of its own; a test that
// needs longer is broken.
const Timeout = 10 * time.Second

// Pauses between polls: short at first, so what is nearly there is seen
// at once, then longer, so a long wait under load costs little CPU.
const (
	firstPause = time.Millisecond
	maxPause   = 10 * time.Millisecond
)

// Poll calls cond until it returns true or d has passed, and reports
// whether it held. For waits that must not fail the test themselves.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for pause := firstPause; ; pause = min(2*pause, maxPause) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
	}
}

// Until polls cond until it holds, failing t after Timeout with what and
// the last detail cond gave.
func Until(t testing.TB, what string, cond func() (ok bool, detail string)) {
	t.Helper()
	Within(t, Timeout, what, cond)
}

// Within is Until bounded by d instead of Timeout. It returns how long the
// condition took to hold.
func Within(t testing.TB, d time.Duration, what string, cond func() (ok bool, detail string)) time.Duration {
	t.Helper()
	start := time.Now()
	var detail string
	if !Poll(d, func() (ok bool) { ok, detail = cond(); return ok }) {
		t.Fatalf("waited %v for %s; last saw: %s", d, what, detail)
	}
	return time.Since(start)
}
