package talk

import (
	"sync/atomic"
	"time"
)

// idleWarning is how long before letting someone go they are warned
// (halfway, for a short timeout).
const idleWarning = time.Minute

// idle lets go of a person who types nothing for d: one timer per
// conversation and no goroutine while it waits. Touch starts the count
// again; warn and expired are called from the timer's goroutine.
type idle struct {
	d, early time.Duration
	last     atomic.Int64 // unix nanoseconds of the last touch
	t        *time.Timer
	stopped  atomic.Bool // a timer already running must not arm itself again
}

func startIdle(d time.Duration, warn func(left time.Duration), expired func()) *idle {
	i := &idle{d: d}
	i.last.Store(time.Now().UnixNano())
	if d <= 0 {
		return i
	}
	i.early = min(idleWarning, d/2)
	warned := false // touched only by the timer's function, one call at a time
	// Armed only once i.t is set: the function resets i.t.
	i.t = time.AfterFunc(time.Hour, func() {
		if i.stopped.Load() {
			return
		}
		quiet := time.Since(time.Unix(0, i.last.Load()))
		switch {
		case quiet < d-i.early:
			warned = false
			i.t.Reset(d - i.early - quiet)
		case !warned:
			// Always warned before let go, and given the whole warning
			// even when this timer ran late.
			warned = true
			left := max(d-quiet, i.early)
			warn(left)
			i.t.Reset(left)
		case quiet < d:
			i.t.Reset(d - quiet)
		default:
			expired()
		}
	})
	i.t.Reset(d - i.early)
	return i
}

func (i *idle) touch(now time.Time) { i.last.Store(now.UnixNano()) }

func (i *idle) stop() {
	i.stopped.Store(true)
	if i.t != nil {
		i.t.Stop()
	}
}
