package main

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Typing patterns for -typing. Background typists always type steadily.
const (
	typingSteady = "steady" // one key every 1/-rate seconds
	typingBursts = "bursts" // short words typed fast, short pauses between
)

// Bursts: words of burstMinWord to burstMaxWord keys, burstKeyGap apart
// (a few ms, as a fast typist's fingers roll), separated by burstPause.
const (
	burstMinWord   = 2
	burstMaxWord   = 5
	burstKeyGapMin = 5 * time.Millisecond
	burstKeyGapMax = 15 * time.Millisecond
	burstPauseMin  = 20 * time.Millisecond
	burstPauseMax  = 60 * time.Millisecond
)

// gaps returns how long a typist waits before each key: period each time
// when steady; for bursts, the gaps of words and pauses drawn from a
// generator seeded with seed, so a run can be repeated.
func gaps(typing string, period time.Duration, seed uint64) func() time.Duration {
	if typing != typingBursts {
		return func() time.Duration { return period }
	}
	rng := rand.New(rand.NewPCG(seed, 0x6875736821))
	left := 0 // keys left in the word being typed
	return func() time.Duration {
		if left > 0 {
			left--
			return burstKeyGapMin + time.Duration(rng.Int64N(int64(burstKeyGapMax-burstKeyGapMin)+1))
		}
		left = burstMinWord + rng.IntN(burstMaxWord-burstMinWord+1) - 1 // this key starts the word
		return burstPauseMin + time.Duration(rng.Int64N(int64(burstPauseMax-burstPauseMin)+1))
	}
}

// sender is a typist's end of a session: an SSH terminal or a browser's
// WebSocket.
type sender interface {
	send(s string) error
}

// typeLoop types one key after each gap from a random offset after start
// until deadline. A typist that falls behind by more than a gap skips
// ahead rather than bursting.
func typeLoop(t sender, tr *tracker, gap func() time.Duration, start, deadline time.Time, keys, errs *atomic.Int64) {
	d := gap()
	next := start.Add(rand.N(d))
	for i := 0; next.Before(deadline); i++ {
		time.Sleep(time.Until(next))
		var c byte
		if tr != nil {
			c = tr.next()
		} else {
			c = alphabet[i%len(alphabet)]
		}
		if err := t.send(string(c)); err != nil {
			errs.Add(1)
			return
		}
		keys.Add(1)
		d = gap()
		next = next.Add(d)
		if now := time.Now(); now.Sub(next) > d {
			next = now
		}
	}
}
