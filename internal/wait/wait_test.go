package wait

import (
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	calls := 0
	if !Poll(time.Second, func() bool { calls++; return true }) || calls != 1 {
		t.Fatalf("a condition that holds at once: %d calls", calls)
	}
	calls = 0
	start := time.Now()
	if Poll(50*time.Millisecond, func() bool { calls++; return false }) {
		t.Fatal("a condition that never holds was reported held")
	}
	if took := time.Since(start); took < 50*time.Millisecond || took > 50*time.Millisecond+Timeout {
		t.Fatalf("gave up after %v, want just over 50ms", took)
	}
	// Pauses grow to maxPause: 50 ms is at most a dozen calls, not fifty.
	if calls < 2 || calls > int(50*time.Millisecond/maxPause)+5 {
		t.Fatalf("%d calls in 50ms", calls)
	}
	n := 0
	if d := Within(t, Timeout, "the third call", func() (bool, string) { n++; return n == 3, "" }); n != 3 || d > Timeout {
		t.Fatalf("Within: %d calls, %v", n, d)
	}
}
