package web

import (
	"fmt"
	"time"
)

// idleWarning is how long before letting someone go they are warned
// (halfway, for short timeouts), as on SSH.
const idleWarning = time.Minute

// idle lets go of a tab whose person types nothing for d. Its channels
// fire once each per quiet spell; reset starts the spell over.
type idle struct {
	d, early    time.Duration
	warnT, endT *time.Timer
	warn, done  <-chan time.Time
}

func newIdle(d time.Duration) *idle {
	i := &idle{d: d}
	if d <= 0 {
		return i
	}
	i.early = min(idleWarning, d/2)
	i.warnT = time.NewTimer(d - i.early)
	i.endT = time.NewTimer(d)
	i.warn, i.done = i.warnT.C, i.endT.C
	return i
}

func (i *idle) reset() {
	if i.d > 0 {
		i.warnT.Reset(i.d - i.early)
		i.endT.Reset(i.d)
	}
}

func (i *idle) stop() {
	if i.d > 0 {
		i.warnT.Stop()
		i.endT.Stop()
	}
}

func (i *idle) warning() string {
	return fmt.Sprintf("You have typed nothing for a while: hush lets you go in %v unless you type.", i.early.Round(time.Second))
}
