package session

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/internal/sshtest"
)

// A probe is armed once writes have flowed for a quarter of a stall
// timeout, never by a burst, and again only a quarter of a stall timeout
// into a flow that goes on after an answer.
func TestProbeArmsOnlyOnAFlow(t *testing.T) {
	const stall = 4 * time.Second
	p := &probedWriter{g: &guard{}, stall: stall}
	at := time.Unix(100, 0)
	write := func(d time.Duration) bool { at = at.Add(d); return p.flows(at) }

	// Arriving: a burst of frames, then a notice that ends, then one key.
	for _, d := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 300 * time.Millisecond, stall, stall} {
		if write(d) {
			t.Fatalf("a burst armed a probe (write %v after the one before)", d)
		}
	}
	// Typing: a frame every 100 ms arms once a second has flowed.
	n := 0
	for !write(100 * time.Millisecond) {
		if n++; n > 100 {
			t.Fatal("a flow never armed a probe")
		}
	}
	if n != 9 {
		t.Errorf("a flow armed a probe after %d more frames, want 9 (a quarter of the stall timeout)", n)
	}
	// While the probe is due, nothing arms another.
	for range 20 {
		if write(100 * time.Millisecond) {
			t.Fatal("armed twice")
		}
	}
	// Answered: the flow that goes on arms again a quarter of a stall
	// timeout after the answer.
	p.g.answered.Store(at.UnixNano())
	p.g.armed.Store(false)
	n = 0
	for !write(100 * time.Millisecond) {
		n++
	}
	if n != 9 {
		t.Errorf("after an answer, armed after %d frames, want 9", n)
	}
}

// A session is asked whether it still reads only while output flows to
// it: arriving (its first frames, a peer joining) is a burst, and a
// session at rest after it gets no question and no bytes. Typing to it is
// a flow, and is asked about.
func TestLivenessAskedOnlyWhileOutputFlows(t *testing.T) {
	const stall = time.Second
	s := serve(t, func(c *Config, _ *admit.Config) { c.StallTimeout = stall })
	var asked atomic.Int64
	count := func(kind string) {
		if kind == liveness {
			asked.Add(1)
		}
	}
	alice := sshtest.Dial(t, s.addr, "new", sshtest.Options{Requests: count})
	code := sshtest.InviteCode(t, alice, s.addr)
	bob := sshtest.Dial(t, s.addr, code, sshtest.Options{Requests: count})
	alice.WaitText("2 of 2 here")
	bob.WaitText("2 of 2 here")

	// Quiet for a whole stall timeout: any probe the arrival armed (half a
	// stall timeout after a frame) has fired by then.
	quiet := func() bool {
		a, b := len(alice.Raw()), len(bob.Raw())
		time.Sleep(stall)
		return len(alice.Raw()) == a && len(bob.Raw()) == b
	}
	for i := 0; !quiet(); i++ {
		if i == 10 {
			t.Fatal("the screens never came to rest")
		}
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("two sessions at rest after arriving were asked %d liveness questions, want none", n)
	}

	// Typing is a flow: its peer is asked, within a few probes.
	tick := time.NewTicker(stall / 10)
	defer tick.Stop()
	for i := 0; i < 100 && asked.Load() == 0; i++ {
		<-tick.C
		bob.Type("x")
	}
	if asked.Load() == 0 {
		t.Fatalf("ten stall timeouts of typing asked nothing")
	}
}
