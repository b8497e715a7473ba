package talk

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Flow tells a front end when to ask a client whether it still reads what
// it is sent (SSH's global request, the page's ping with a nonce): an
// answer can only come after the client has read everything sent before
// the question, so no kernel buffer hides a reader that stopped.
//
// Only output that flows is asked about: writes that follow each other,
// each within half a stall timeout of the one before, for a quarter of a
// stall timeout. The question goes out a quarter to half a stall timeout
// after that (Delay), and again while the flow goes on, half to three
// quarters of a stall timeout after each answer. So someone arriving (a first frame, the terminal's
// colours, a peer joining), a notice ending or one key are a burst, never
// a flow: a client at rest after them is sent nothing and holds no timer.
// A reader that stopped and is sent only such bursts costs what an idle
// one does, until its buffers fill and a write blocks for the stall
// timeout.
type Flow struct {
	stall time.Duration

	mu       sync.Mutex
	seen     bool      // a write was noted
	last     time.Time // the write before
	start    time.Time // the first write of the flow the last one belongs to
	due      bool      // a question is due or awaits its answer
	answered time.Time
}

// NewFlow returns a Flow for a client hung up on when a write, or an
// answer, takes longer than stall.
func NewFlow(stall time.Duration) *Flow { return &Flow{stall: stall} }

// Wrote notes output written at now and reports whether a question should
// now be asked, Delay from now. Until Answered or Unasked, it reports
// false.
func (f *Flow) Wrote(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seen || now.Sub(f.last) >= f.stall/2 {
		f.start = now
	}
	if f.answered.After(f.start) {
		f.start = f.answered
	}
	f.seen, f.last = true, now
	if f.due || now.Sub(f.start) < f.stall/4 {
		return false
	}
	f.due = true
	return true
}

// Delay is how long after Wrote reports true the question goes out: a
// quarter of a stall timeout, and up to a quarter more at random, so that
// the clients of a thousand rooms that began to type at once are not all
// asked at once, and again at once after every answer.
func (f *Flow) Delay() time.Duration { return f.stall/4 + rand.N(f.stall/4+1) }

// Answered notes the answer to the question asked, at now.
func (f *Flow) Answered(now time.Time) {
	f.mu.Lock()
	f.due, f.answered = false, now
	f.mu.Unlock()
}

// Unasked notes that the question due was not asked after all.
func (f *Flow) Unasked() {
	f.mu.Lock()
	f.due = false
	f.mu.Unlock()
}
