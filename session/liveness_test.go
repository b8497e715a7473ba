package session

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/internal/sshtest"
)

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
