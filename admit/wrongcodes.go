package admit

import (
	"context"
	"sync"
	"time"
)

// The server-wide budget.s delays: before any join is looked up while the server is
// over its wrong-code budget (so a right code waits no longer than this),
// and before a wrong answer (so a guess holds its session longer).
const (
	maxBeforeLookup = 500 * time.Millisecond
	maxBeforeWrong  = 2 * time.Second
)

// serverWrongCodes is a server-wide budget of wrong codes. Past it, answers slow down
// for everyone, by how far past it the server is. It slows each answer; it
// does not cap how many answers many addresses get at once (each waits on
// its own): per-address allowances bound that.
type serverWrongCodes struct {
	rate  float64 // wrong codes a second; 0 turns the budget off
	burst float64

	mu      sync.Mutex
	balance float64 // may go below zero: that is the debt the delays pay
	last    time.Time
}

func newServerWrongCodes(perMinute int) *serverWrongCodes {
	return &serverWrongCodes{rate: float64(perMinute) / 60, burst: float64(perMinute), balance: float64(perMinute)}
}

func (b *serverWrongCodes) refill(now time.Time) {
	if !b.last.IsZero() {
		b.balance = min(b.burst, b.balance+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// behind is how long until the budget is out of debt (0 if it is not).
func (b *serverWrongCodes) behind(now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.balance >= 0 {
		return 0
	}
	return time.Duration(-b.balance / b.rate * float64(time.Second))
}

// wrong spends one wrong code. The debt is bounded: beyond what the longest
// delay pays for, more guessing changes nothing.
func (b *serverWrongCodes) wrong(now time.Time) {
	if b.rate == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	b.balance = max(b.balance-1, -b.rate*maxBeforeWrong.Seconds()*4)
}

// pause waits for min(d, cap), or until ctx ends.
func pause(ctx context.Context, d, cap time.Duration) {
	if d = min(d, cap); d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
