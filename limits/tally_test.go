package limits

import (
	"testing"
	"time"
)

func TestTallyTakesUpToMaxWithinPeriod(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := NewTallies(10*time.Minute, clock)
	for i := range 3 {
		if !s.Take("a", 3, 10*time.Minute) {
			t.Fatalf("take %d refused", i+1)
		}
		now = now.Add(time.Minute)
	}
	if s.Take("a", 3, 10*time.Minute) {
		t.Fatal("a fourth within ten minutes was taken")
	}
	if !s.Take("b", 3, 10*time.Minute) {
		t.Fatal("another key shares the first one's count")
	}
	now = now.Add(8 * time.Minute) // the first two are now 11 and 10 minutes old
	if !s.Take("a", 3, 10*time.Minute) {
		t.Fatal("the oldest did not age out")
	}
	if got := s.Count("a", 10*time.Minute); got != 2 {
		t.Fatalf("Count = %d, want 2", got)
	}
	now = now.Add(time.Hour)
	s.Take("c", 1, time.Minute)
	if got := s.Len(); got != 1 {
		t.Fatalf("%d keys remembered an hour later, want only the new one", got)
	}
}

func TestTallyKeepsNoMoreThanItMust(t *testing.T) {
	var tl Tally
	now := time.Now()
	for range 100 {
		tl, _ = tl.Take(now, 1000, time.Hour)
	}
	if len(tl.At) > MaxTally {
		t.Fatalf("a tally holds %d times, want at most %d", len(tl.At), MaxTally)
	}
}
