package talk

import (
	"testing"
	"time"
)

// A question is due once writes have flowed for a quarter of a stall
// timeout, never after a burst, and again only a quarter of a stall
// timeout into a flow that goes on after an answer.
func TestFlow(t *testing.T) {
	const stall = 4 * time.Second
	f := NewFlow(stall)
	at := time.Unix(100, 0)
	write := func(d time.Duration) bool { at = at.Add(d); return f.Wrote(at) }

	// Arriving: a burst of frames, then a notice that ends, then one key.
	for _, d := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 300 * time.Millisecond, stall, stall} {
		if write(d) {
			t.Fatalf("a burst made a question due (a write %v after the one before)", d)
		}
	}
	// Typing: a frame every 100 ms makes one due once a second has flowed.
	n := 0
	for !write(100 * time.Millisecond) {
		if n++; n > 100 {
			t.Fatal("a flow never made a question due")
		}
	}
	if n != 9 {
		t.Errorf("due after %d more frames, want 9 (a quarter of the stall timeout)", n)
	}
	for range 100 {
		if d := f.Delay(); d < stall/4 || d > stall/2 {
			t.Fatalf("delay %v, want from %v to %v", d, stall/4, stall/2)
		}
	}
	// While it is due, no other is.
	for range 20 {
		if write(100 * time.Millisecond) {
			t.Fatal("due twice")
		}
	}
	// Answered: the flow that goes on makes the next one due a quarter of
	// a stall timeout after the answer.
	f.Answered(at)
	n = 0
	for !write(100 * time.Millisecond) {
		n++
	}
	if n != 9 {
		t.Errorf("after an answer, due after %d frames, want 9", n)
	}
	// Not asked after all (the connection closing): the next write of the
	// flow makes it due again.
	f.Unasked()
	if !write(100 * time.Millisecond) {
		t.Error("after a question went unasked, the flow made none due")
	}
}
