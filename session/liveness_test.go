package session

import (
	"io"
	"log/slog"
	"sync"
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

// slowCount counts members hung up on for not reading.
type slowCount struct {
	noMetrics
	n atomic.Int64
}

func (c *slowCount) SlowDropped() { c.n.Add(1) }

// The probe and a write blocked for the stall timeout often see the same
// stalled client at the same moment: it is hung up on and counted once.
func TestSlowClientIsCountedOnce(t *testing.T) {
	client, conn := tcpPair(t)
	m := &slowCount{}
	s := &Server{cfg: Config{Metrics: m, StallTimeout: time.Second}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	g := newGuard(s, conn, nil)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { g.hangUpSlow("room", "r1") })
	}
	wg.Wait()
	if n := m.n.Load(); n != 1 {
		t.Fatalf("a client seen stalled twice was counted %d times, want once", n)
	}
	// Hung up on: the client reads the end of its connection.
	_ = client.SetReadDeadline(time.Now().Add(sshtest.Timeout))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the client read %v, want the end of its connection", err)
	}
}
