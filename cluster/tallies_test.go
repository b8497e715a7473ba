package cluster

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/natstest"
	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
)

const tallyKeep = 10 * time.Minute

func tallies(t *testing.T, r *Registry) *Tallies {
	t.Helper()
	l, err := r.Tallies(t.Context(), tallyKeep)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Counts taken on one node hold on every node; the bucket forgets a
// tally after the longest period; keys never reach NATS in the clear.
func TestTalliesHoldAcrossNodes(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	ta, tb := tallies(t, a), tallies(t, b)
	const key = "knock\x00192.0.2.7"
	for i, l := range []*Tallies{ta, tb, ta} {
		ok, err := l.Take(t.Context(), key, 3, time.Minute)
		if err != nil || !ok {
			t.Fatalf("take %d: %v, %v", i+1, ok, err)
		}
	}
	for _, l := range []*Tallies{ta, tb} {
		if ok, err := l.Take(t.Context(), key, 3, time.Minute); err != nil || ok {
			t.Fatalf("a fourth of three over two nodes: %v, %v", ok, err)
		}
		if n, err := l.Count(t.Context(), key, time.Minute); err != nil || n != 3 {
			t.Fatalf("Count = %d, %v; want 3", n, err)
		}
	}
	if n, _ := tb.Count(t.Context(), "knock\x00192.0.2.8", time.Minute); n != 0 {
		t.Fatalf("another key counts %d", n)
	}
	if ok, err := tb.Take(t.Context(), "knock\x00192.0.2.8", 3, time.Minute); err != nil || !ok {
		t.Fatalf("another key refused: %v, %v", ok, err)
	}
	st, err := ta.kv.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != tallyKeep || st.Bucket() != talliesBucket {
		t.Fatalf("bucket %s keeps tallies %v, want %s and %v", st.Bucket(), st.TTL(), talliesBucket, tallyKeep)
	}
	keys, err := ta.kv.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range keys.Keys() {
		n++
		e, err := ta.kv.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(k, "192.0.2") || strings.Contains(string(e.Value()), "192.0.2") || strings.Contains(k, "knock") {
			t.Fatalf("a key in NATS in the clear: %s = %s", k, e.Value())
		}
	}
	if n != 2 {
		t.Fatalf("%d tallies in NATS, want 2", n)
	}
}

// Many nodes taking at once overshoot nothing: compare-and-set.
func TestTalliesRacers(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	var ls []*Tallies
	for _, n := range []string{"a", "b", "c"} {
		ls = append(ls, tallies(t, newNode(t, s.ClientURL(), n)))
	}
	var won atomic.Int32
	done := make(chan error)
	for _, l := range ls {
		go func() {
			for range 10 {
				ok, err := l.Take(t.Context(), "ask\x00198.51.100.1", 20, time.Minute)
				if err != nil {
					done <- err
					return
				}
				if ok {
					won.Add(1)
				}
			}
			done <- nil
		}()
	}
	for range ls {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := won.Load(); n != 20 {
		t.Fatalf("30 takes of 20 from 3 nodes: %d counted", n)
	}
}

// NATS gone: a call answers ErrUnavailable within its bound, and the
// caller goes by its own counts.
func TestTalliesUnavailable(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	r := newNode(t, s.ClientURL(), "a")
	l := tallies(t, r)
	s.Shutdown()
	s.WaitForShutdown()
	start := time.Now()
	_, err := l.Take(t.Context(), "k", 1, time.Minute)
	if !errors.Is(err, rooms.ErrUnavailable) || time.Since(start) > 3*l.timeout {
		t.Fatalf("Take with NATS down: %v after %v, want ErrUnavailable within %v", err, time.Since(start), 3*l.timeout)
	}
	start = time.Now()
	if _, err := l.Count(t.Context(), "k", time.Minute); !errors.Is(err, rooms.ErrUnavailable) || time.Since(start) > 3*l.timeout {
		t.Fatalf("Count with NATS down: %v after %v", err, time.Since(start))
	}
	r.Close(nil) // now, cut off: it has nothing to give back
}

// NATS restarted empty: the first calls make the buckets of tallies and
// wrong codes again, however many come at once, and counting goes on
// from nothing.
func TestTalliesAfterRestart(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	port := s.Addr().(*net.TCPAddr).Port
	r := newNode(t, s.ClientURL(), "a")
	l := tallies(t, r)
	w, err := r.WrongCodes(t.Context(), limits.Config{WrongCodes: 3, WrongCodesPerHour: 6, Lockout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Take(t.Context(), "k", 1, time.Minute); !ok || err != nil {
		t.Fatalf("Take: %v, %v", ok, err)
	}
	s.Shutdown()
	s.WaitForShutdown()
	natstest.StartServer(t, port, "")
	wait.Within(t, 10*time.Second, "the connection back", func() (bool, string) { return r.nc.IsConnected(), r.nc.Status().String() })
	var wg sync.WaitGroup
	var took atomic.Int32
	for range 4 {
		wg.Go(func() {
			if ok, err := l.Take(t.Context(), "k", 1, time.Minute); ok && err == nil {
				took.Add(1)
			}
			w.Wrong(t.Context(), "192.0.2.9")
		})
	}
	wg.Wait()
	if n := took.Load(); n > 1 {
		t.Fatalf("%d takes of one counted after the restart", n)
	}
	wait.Within(t, 5*time.Second, "counting again", func() (bool, string) {
		n, err := l.Count(t.Context(), "k", time.Minute)
		return n == 1 && err == nil, fmt.Sprint(n, err)
	})
	wait.Within(t, 5*time.Second, "wrong codes counted again", func() (bool, string) {
		w.Wrong(t.Context(), "192.0.2.9")
		d, err := w.Wait(t.Context(), "192.0.2.9")
		return d > 0 && err == nil, fmt.Sprint(d, err)
	})
	r.Close(nil) // before the server's cleanup stops NATS under it
}
