package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/natstest"
	"github.com/hush-chat/hush/limits"
)

// Wrong codes counted on one node pause the address on every node, and
// the address never reaches NATS in the clear.
func TestWrongCodesHoldAcrossNodes(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	cfg := limits.Config{WrongCodes: 3, WrongCodesPerHour: 6, Lockout: 10 * time.Minute}
	la, err := a.WrongCodes(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.WrongCodes(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const addr = "192.0.2.7"
	// Spread over both nodes, as a guesser behind a load balancer would.
	for i, l := range []*WrongCodes{la, lb, la} {
		if w, err := l.Wait(t.Context(), addr); err != nil || w != 0 {
			t.Fatalf("before wrong code %d: paused %v, %v", i+1, w, err)
		}
		if err := l.Wrong(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []*WrongCodes{la, lb} {
		w, err := l.Wait(t.Context(), addr)
		if err != nil || w < 9*time.Minute {
			t.Fatalf("after three wrong codes over two nodes: paused %v, %v", w, err)
		}
	}
	if w, _ := lb.Wait(t.Context(), "192.0.2.8"); w != 0 {
		t.Fatalf("another address paused %v", w)
	}
	keys, err := la.kv.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		e, err := la.kv.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(k, "192.0.2") || strings.Contains(string(e.Value()), "192.0.2") {
			t.Fatalf("an address in NATS: %s = %s", k, e.Value())
		}
	}
}

// Many nodes counting at once lose no wrong code: compare-and-set.
func TestWrongCodesCountRacers(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	cfg := limits.Config{WrongCodes: 100, WrongCodesPerHour: 0.001, Lockout: time.Minute}
	var counters []*WrongCodes
	for _, n := range []string{"a", "b", "c"} {
		l, err := newNode(t, s.ClientURL(), n).WrongCodes(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		counters = append(counters, l)
	}
	done := make(chan error)
	for _, l := range counters {
		go func() {
			for range 20 {
				if err := l.Wrong(t.Context(), "198.51.100.1"); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range counters {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	s0, _, err := counters[0].get(t.Context(), counters[0].name("198.51.100.1"))
	if err != nil {
		t.Fatal(err)
	}
	if left := int(s0.Left + 0.5); left != 40 {
		t.Fatalf("60 wrong codes from 3 nodes left %v of 100", s0.Left)
	}
}
