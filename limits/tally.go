package limits

import (
	"sync"
	"time"
)

// Tally is when something happened lately under one key: an ask, a
// knock. It keeps no more times than the largest allowance it is checked
// against, so it stays small. It is plain data, so a cluster can keep it
// where every node sees it.
type Tally struct {
	At []time.Time `json:"at"`
}

// MaxTally bounds the times one Tally keeps.
const MaxTally = 32

// Count is how many times fell within per before now.
func (t Tally) Count(now time.Time, per time.Duration) int {
	n := 0
	for _, at := range t.At {
		if now.Sub(at) < per {
			n++
		}
	}
	return n
}

// Take counts one more at now if fewer than max fell within per, and
// reports whether it did. Times older than per are dropped.
func (t Tally) Take(now time.Time, max int, per time.Duration) (Tally, bool) {
	kept := t.At[:0:0]
	for _, at := range t.At {
		if now.Sub(at) < per {
			kept = append(kept, at)
		}
	}
	t.At = kept
	if len(t.At) >= max || len(t.At) >= MaxTally {
		return t, false
	}
	t.At = append(t.At, now)
	return t, true
}

// Tallies keeps tallies in this process, forgetting each once its last
// time is older than Keep.
type Tallies struct {
	Keep time.Duration // the longest period any caller checks
	now  func() time.Time

	mu        sync.Mutex
	tallies   map[string]Tally
	lastSweep time.Time
}

// NewTallies returns an empty store keeping times for keep; now is
// time.Now unless a test supplies a clock.
func NewTallies(keep time.Duration, now func() time.Time) *Tallies {
	if now == nil {
		now = time.Now
	}
	return &Tallies{Keep: keep, now: now, tallies: make(map[string]Tally)}
}

// Take counts one under key if fewer than max fell within per.
func (s *Tallies) Take(key string, max int, per time.Duration) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	t, ok := s.tallies[key].Take(now, max, per)
	s.tallies[key] = t
	return ok
}

// Count is how many were counted under key within per.
func (s *Tallies) Count(key string, per time.Duration) int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tallies[key].Count(now, per)
}

// Len is how many keys are remembered.
func (s *Tallies) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tallies)
}

func (s *Tallies) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for k, t := range s.tallies {
		if t.Count(now, s.Keep) == 0 {
			delete(s.tallies, k)
		}
	}
}
