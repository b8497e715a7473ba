package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/limits"
)

// Wrong codes counted on one node pause the address on every node, and
// the address never reaches NATS in the clear.
func TestLedgerHoldsAcrossNodes(t *testing.T) {
	s := startServer(t, 0, "")
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	cfg := limits.Config{Fails: 3, FailsPerHour: 6, Lockout: 10 * time.Minute}
	la, err := a.Ledger(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Ledger(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const addr = "192.0.2.7"
	// Spread over both nodes, as a guesser behind a load balancer would.
	for i, l := range []*Ledger{la, lb, la} {
		if w, err := l.Wait(t.Context(), addr); err != nil || w != 0 {
			t.Fatalf("before wrong code %d: paused %v, %v", i+1, w, err)
		}
		if err := l.Strike(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []*Ledger{la, lb} {
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

// Many nodes striking at once lose no strike: compare-and-set.
func TestLedgerCountsRacingStrikes(t *testing.T) {
	s := startServer(t, 0, "")
	cfg := limits.Config{Fails: 100, FailsPerHour: 0.001, Lockout: time.Minute}
	var ledgers []*Ledger
	for _, n := range []string{"a", "b", "c"} {
		l, err := newNode(t, s.ClientURL(), n).Ledger(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ledgers = append(ledgers, l)
	}
	done := make(chan error)
	for _, l := range ledgers {
		go func() {
			for range 20 {
				if err := l.Strike(t.Context(), "198.51.100.1"); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range ledgers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	s0, _, err := ledgers[0].get(t.Context(), ledgers[0].name("198.51.100.1"))
	if err != nil {
		t.Fatal(err)
	}
	if left := int(s0.Left + 0.5); left != 40 {
		t.Fatalf("60 strikes from 3 nodes left %v of 100", s0.Left)
	}
}
