package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/natstest"
	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// next waits for the next events of s until done holds, within d.
func next(t *testing.T, s rooms.Seat, d time.Duration, what string, done func([]rooms.Event) bool) []rooms.Event {
	t.Helper()
	var got []rooms.Event
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		got = s.Drain(got)
		if done(got) {
			return got
		}
		select {
		case <-s.Ready():
		case <-timer.C:
			t.Fatalf("%s: waited %v for %s, got %+v", s.Self().Name, d, what, got)
		}
	}
}

func hasKind(k rooms.EventKind) func([]rooms.Event) bool {
	return func(evs []rooms.Event) bool {
		for _, ev := range evs {
			if ev.Kind == k {
				return true
			}
		}
		return false
	}
}

func open(t *testing.T, r *Registry, seats int, name string) rooms.Seat {
	t.Helper()
	s, err := r.Open(t.Context(), seats, rooms.Member{Name: name})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func join(t *testing.T, r *Registry, code, name string) rooms.Seat {
	t.Helper()
	s, err := r.Join(t.Context(), code, rooms.Member{Name: name})
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	return s
}

// Two nodes, many people each, one free seat: exactly one sits.
func TestLastSeatAcrossNodes(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	for round := range 3 {
		host := open(t, a, 2, "host")
		start := make(chan struct{})
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  []rooms.Seat
			full int
		)
		for i := range 40 {
			reg := [2]*Registry{a, b}[i%2]
			wg.Go(func() {
				<-start
				seat, err := reg.Join(t.Context(), host.Code(), rooms.Member{Name: "j" + strconv.Itoa(i)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, seat)
				case errors.Is(err, rooms.ErrFull):
					full++
				default:
					t.Errorf("round %d: Join: %v", round, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(won) != 1 || full != 39 {
			t.Fatalf("round %d: %d won, %d full; want 1 and 39", round, len(won), full)
		}
		next(t, host, 5*time.Second, "Joined", hasKind(rooms.Joined))
		won[0].Leave()
		host.Leave()
	}
}

// countMsgs counts core messages on subject as seen by a raw subscriber.
func countMsgs(t *testing.T, url, subject string) (func() int, *nats.Conn) {
	all, _, nc := countTyping(t, url, subject)
	return all, nc
}

// countTyping counts the messages on subject: all of them, and those that
// carry typing (text or a newline), which cross once per key; arrivals
// may be announced again when an acknowledgement comes late.
func countTyping(t *testing.T, url, subject string) (all, typing func() int, nc *nats.Conn) {
	nc = connect(t, url)
	var mu sync.Mutex
	n, typed := 0, 0
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		var w wire
		_ = json.Unmarshal(m.Data, &w)
		mu.Lock()
		defer mu.Unlock()
		n++
		if w.Kind == rooms.Typed || w.Kind == rooms.Newline {
			typed++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	all = func() int { mu.Lock(); defer mu.Unlock(); return n }
	typing = func() int { mu.Lock(); defer mu.Unlock(); return typed }
	return all, typing, nc
}

// A room whose members share a node says nothing on NATS; one that spans
// nodes sends one message per keystroke, and events cross in order.
func TestEventsCrossOnlyWhenNeeded(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	count, typing, raw := countTyping(t, s.ClientURL(), "hush.>")

	x := open(t, a, 3, "x")
	y := join(t, a, x.Code(), "y")
	next(t, x, time.Second, "Joined y", hasKind(rooms.Joined))
	for i := range 50 {
		y.Type(strconv.Itoa(i))
	}
	y.Newline()
	next(t, x, time.Second, "Newline", hasKind(rooms.Newline))
	y.Leave()
	next(t, x, time.Second, "Left", hasKind(rooms.Left))
	x.Leave()
	raw.Flush()
	if n := count(); n != 0 {
		t.Fatalf("a room on one node published %d messages", n)
	}

	p := open(t, a, 3, "p")
	q := join(t, b, p.Code(), "q")
	next(t, p, 2*time.Second, "Joined q", hasKind(rooms.Joined))
	before, out := typing(), b.Counters().EventsOut
	const n = 200
	for i := range n {
		q.Type(strconv.Itoa(i))
		if i%50 == 49 {
			q.Newline()
		}
	}
	got := next(t, p, 5*time.Second, "all pieces", func(evs []rooms.Event) bool { return len(evs) >= n+n/50 })
	i := 0
	for _, ev := range got {
		switch {
		case ev.Kind == rooms.Typed && ev.Text == strconv.Itoa(i):
			i++
		case ev.Kind == rooms.Newline && i%50 == 0 && i > 0:
		default:
			t.Fatalf("out of order at piece %d: %+v", i, ev)
		}
	}
	wait.Within(t, 2*time.Second, "raw count", func() (bool, string) {
		return typing()-before >= n+n/50, fmt.Sprintf("%d messages", typing()-before)
	})
	if got, sent := typing()-before, b.Counters().EventsOut-out; got != n+n/50 || sent < uint64(n+n/50) {
		t.Fatalf("%d keystrokes and newlines made %d messages (%d counted out)", n+n/50, got, sent)
	}
	// A third member on b joins and leaves: p hears both, in order.
	r := join(t, b, p.Code(), "r")
	r.Type("hi")
	r.Leave()
	got = next(t, p, 2*time.Second, "Left r", hasKind(rooms.Left))
	if len(got) != 3 || got[0].Kind != rooms.Joined || got[1].Kind != rooms.Typed || got[2].Kind != rooms.Left {
		t.Fatalf("p got %+v, want Joined, Typed, Left", got)
	}
	if a.Counters().EventsIn == 0 {
		t.Error("EventsIn not counted")
	}
}

// No code ever reaches NATS: not in a subject, a header, a payload, a key
// or a value.
func TestCodesNeverInNATS(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	spy := connect(t, s.ClientURL())
	var (
		mu   sync.Mutex
		seen []string
	)
	spy.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		seen = append(seen, m.Subject+" "+m.Reply+" "+string(m.Data)+" "+strings.Join(flatten(m.Header), " "))
		mu.Unlock()
	})
	spy.Flush()
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	var codes []string
	for range 5 {
		x := open(t, a, 3, "x")
		y := join(t, b, strings.ToUpper(rooms.Grouped(x.Code())), "y")
		y.Type("secret words " + x.Code())
		next(t, x, 2*time.Second, "Typed", hasKind(rooms.Typed))
		codes = append(codes, x.Code())
		if len(codes)%2 == 0 {
			y.Leave()
		}
	}
	spy.Flush()
	kv, err := a.js.KeyValue(t.Context(), roomsBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		e, err := kv.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		seen = append(seen, k+" "+string(e.Value()))
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	typed := 0
	for _, m := range seen {
		lower := strings.ToLower(strings.ReplaceAll(m, "-", ""))
		for _, c := range codes {
			if strings.Contains(lower, c) && !strings.Contains(m, "secret words") {
				t.Errorf("code %s in NATS: %.200q", c, m)
			}
		}
		if strings.Contains(m, "secret words") {
			typed++
			if !strings.HasPrefix(m, "hush.room.") {
				t.Errorf("typed text outside a room subject: %.200q", m)
			}
		}
	}
	if typed != 5 || len(seen) < 20 {
		t.Fatalf("spy saw %d messages, %d with typed text; want some and exactly 5", len(seen), typed)
	}
}

func flatten(h nats.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k)
		out = append(out, vs...)
	}
	return out
}

// A node that dies without a word: the others see its members leave
// within the lease and the seat frees up.
func TestNodeDies(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a := newNode(t, s.ClientURL(), "a")
	b, nc := mortalNode(t, s.ClientURL(), "b")
	cfg := b.cfg
	x := open(t, a, 2, "x")
	y := join(t, b, x.Code(), "y")
	next(t, x, 2*time.Second, "Joined", hasKind(rooms.Joined))
	if _, err := a.Join(t.Context(), x.Code(), rooms.Member{Name: "z"}); !errors.Is(err, rooms.ErrFull) {
		t.Fatalf("Join of a full room: %v", err)
	}
	died := time.Now()
	nc.Close() // b's process is gone as far as anyone can tell
	got := next(t, x, 3*cfg.Lease, "Left", hasKind(rooms.Left))
	if got[len(got)-1].Peer.ID != y.Self().ID {
		t.Fatalf("x got %+v", got)
	}
	t.Logf("left seen %v after the node died (lease %v)", time.Since(died), cfg.Lease)
	join(t, a, x.Code(), "z")
	if a.Counters().NodesLost == 0 {
		t.Error("NodesLost not counted")
	}
}

// proxy forwards TCP to target. Cut, every connection through it closes
// and new ones are refused; stalled, it holds what it reads, as a network
// that drops packets would, until it flows again.
type proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	flowing *sync.Cond
	cut     bool
	stalled bool
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.flowing = sync.NewCond(&p.mu)
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.set(true, false)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, c) })
		p.wg.Go(func() { p.pipe(c, up) })
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled && !p.cut {
				p.flowing.Wait()
			}
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) set(cut, stalled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.stalled = cut, stalled
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
	p.flowing.Broadcast()
}

// A node cut off from NATS ends its seats in shared rooms with ErrLost
// before the others drop them; its rooms of its own go on; when NATS is
// back, it opens rooms again.
func TestFencing(t *testing.T) {
	t.Run("closed", func(t *testing.T) { testFencing(t, true) })  // connections reset: the client knows
	t.Run("silent", func(t *testing.T) { testFencing(t, false) }) // packets dropped: only timeouts tell
}

func testFencing(t *testing.T, closed bool) {
	s := natstest.StartServer(t, 0, "")
	px := newProxy(t, strings.TrimPrefix(s.ClientURL(), "nats://"))
	a := newNode(t, s.ClientURL(), "a")
	b := newNode(t, px.url(), "b")
	shared := open(t, a, 2, "shared-a")
	cut := join(t, b, shared.Code(), "shared-b")
	next(t, shared, 2*time.Second, "Joined", hasKind(rooms.Joined))
	own1 := open(t, b, 3, "own1")
	own2 := join(t, b, own1.Code(), "own2")
	next(t, own1, time.Second, "Joined", hasKind(rooms.Joined))

	px.set(closed, !closed)
	cutAt := time.Now()
	next(t, cut, b.cfg.Lease, "Ended", hasKind(rooms.Ended))
	if err := cut.Err(); !errors.Is(err, rooms.ErrLost) {
		t.Fatalf("cut-off seat ended with %v, want ErrLost", err)
	}
	fenced := time.Since(cutAt)
	next(t, shared, 3*b.cfg.Lease, "Left", hasKind(rooms.Left))
	t.Logf("fenced after %v; the other node saw the member leave after %v", fenced, time.Since(cutAt))
	if b.Health() == nil {
		t.Error("Health nil while cut off")
	}
	if _, err := b.Open(t.Context(), 2, rooms.Member{Name: "late"}); !errors.Is(err, rooms.ErrUnavailable) {
		t.Errorf("Open while cut off: %v, want ErrUnavailable", err)
	}
	// The room seated only on b goes on.
	if err := own2.Type("still here"); err != nil {
		t.Fatal(err)
	}
	next(t, own1, time.Second, "Typed", hasKind(rooms.Typed))

	px.set(false, false)
	wait.Within(t, 3*b.cfg.Lease, "b healthy again", func() (bool, string) { err := b.Health(); return err == nil, fmt.Sprint(err) })
	x := open(t, b, 2, "back")
	join(t, a, x.Code(), "welcome")
	next(t, x, 2*time.Second, "Joined", hasKind(rooms.Joined))
	// b's own room was written again under its new lease: a can join it,
	// and it survives the old lease's expiry.
	w := join(t, a, own1.Code(), "w")
	next(t, own1, 2*time.Second, "Joined", hasKind(rooms.Joined))
	if err := own2.Type("both nodes"); err != nil {
		t.Fatal(err)
	}
	next(t, w, 2*time.Second, "Typed across nodes", hasKind(rooms.Typed))
	if b.Counters().Fenced != 1 {
		t.Errorf("Fenced = %d, want 1", b.Counters().Fenced)
	}
}

// NATS gone: Open and Join answer ErrUnavailable in time. NATS back on the
// same port, empty: new rooms work with the same registries, and a room
// that lived through it is written again.
func TestServerRestart(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	port := s.Addr().(*net.TCPAddr).Port
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	kept := open(t, a, 3, "kept")
	s.Shutdown()
	s.WaitForShutdown()
	down := time.Now()
	for _, r := range []*Registry{a, b} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := r.Open(ctx, 2, rooms.Member{Name: "x"})
		cancel()
		if !errors.Is(err, rooms.ErrUnavailable) || time.Since(start) > 5*time.Second {
			t.Fatalf("Open with NATS down: %v after %v, want ErrUnavailable within 5s", err, time.Since(start))
		}
		_, err = r.Join(t.Context(), kept.Code(), rooms.Member{Name: "x"})
		if !errors.Is(err, rooms.ErrUnavailable) {
			t.Fatalf("Join with NATS down: %v", err)
		}
	}
	natstest.StartServer(t, port, "")
	back := time.Now()
	t.Logf("restarted %v after shutdown", time.Since(down))
	wait.Within(t, 10*time.Second, "Open to work again", func() (bool, string) {
		s, err := b.Open(t.Context(), 2, rooms.Member{Name: "again"})
		if err == nil {
			s.Leave()
		}
		return err == nil, fmt.Sprint(err)
	})
	wait.Within(t, 5*time.Second, "kept room written again", func() (bool, string) {
		_, err := b.Join(t.Context(), kept.Code(), rooms.Member{Name: "j"})
		if err != nil && !errors.Is(err, rooms.ErrNoRoom) && !errors.Is(err, rooms.ErrUnavailable) {
			t.Fatalf("Join: %v", err)
		}
		return err == nil, fmt.Sprint(err)
	})
	next(t, kept, 2*time.Second, "Joined", hasKind(rooms.Joined))
	t.Logf("NATS back for %v: new rooms open, the old room is found again", time.Since(back))
	if c := a.Counters(); c.LeaseRenewals < 2 {
		t.Errorf("counters after an outage: %+v", c)
	}
	for _, r := range []*Registry{a, b} {
		start := time.Now()
		r.Close(nil)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Close took %v", d)
		}
	}
}

// NATS restarted empty within the lease: the nodes write their rooms back,
// and a room that spans them goes on without anyone leaving, though for a
// while its record holds only the members of the node that wrote it first.
func TestQuickRestartKeepsSharedRooms(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	port := s.Addr().(*net.TCPAddr).Port
	// A lease long enough to outlast the restart: no node fences itself.
	lease := func(c *Config) { c.Lease = 4 * time.Second }
	a, b := newNode(t, s.ClientURL(), "a", lease), newNode(t, s.ClientURL(), "b", lease)
	c := open(t, a, 2, "c")
	d := join(t, b, c.Code(), "d")
	next(t, c, 2*time.Second, "Joined d", hasKind(rooms.Joined))
	s.Shutdown()
	s.WaitForShutdown()
	natstest.StartServer(t, port, "")
	wait.Within(t, a.cfg.Lease, "both leases taken again", func() (bool, string) {
		return a.retaken.Load() != 0 && b.retaken.Load() != 0, fmt.Sprint("a ", a.retaken.Load(), ", b ", b.retaken.Load())
	})
	// Measuring an absence: two leases is long enough for any
	// reconciliation to have run and any wrong Left to have come.
	time.Sleep(2 * a.cfg.Lease)
	if evs := append(c.Drain(nil), d.Drain(nil)...); len(evs) != 0 {
		t.Fatalf("after a quick NATS restart the room saw %+v", evs)
	}
	if err := d.Type("still here"); err != nil {
		t.Fatal(err)
	}
	next(t, c, 2*time.Second, "d's text", hasKind(rooms.Typed))
	if err := c.Type("so am I"); err != nil {
		t.Fatal(err)
	}
	next(t, d, 2*time.Second, "c's text", hasKind(rooms.Typed))
	a.Close(nil) // before the server's cleanup stops NATS under them
	b.Close(nil)
}

// A node whose salt, host key, lease or replica count differs from the
// cluster's is refused, with both values for a setting; it changes no
// bucket on its way out.
func TestMismatchRefused(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a := newNode(t, s.ClientURL(), "a")
	for name, c := range map[string]struct {
		edit func(*Config)
		says string
	}{
		"secret":   {func(c *Config) { c.Secret = []byte("another-secret-0123456789") }, "secret (fingerprint"},
		"hostkey":  {func(c *Config) { c.HostKey = []byte("another-host-key") }, "hostkey (fingerprint"},
		"lease":    {func(c *Config) { c.Lease = 3 * time.Second }, "lease (--nats-lease) is 3s, the cluster's is 2s"},
		"replicas": {func(c *Config) { c.Replicas = 3 }, "replicas (--nats-replicas) is 3, the cluster's is 1"},
	} {
		cfg := testConfig(t, "b")
		c.edit(&cfg)
		r, err := New(t.Context(), connect(t, s.ClientURL()), cfg)
		if !errors.Is(err, errMismatch) || !strings.Contains(err.Error(), c.says) {
			if r != nil {
				r.Close(nil)
			}
			t.Errorf("%s differs: New = %v, want errMismatch saying %q", name, err, c.says)
		}
	}
	st, err := a.leases.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != a.cfg.Lease {
		t.Errorf("leases bucket TTL %v after a refused node, want %v", st.TTL(), a.cfg.Lease)
	}
	newNode(t, s.ClientURL(), "c") // the same directory and settings are welcome
}

// Three JetStream servers clustered by routes, buckets kept on all three:
// losing one, a room keeps working and new rooms open.
func TestThreeServers(t *testing.T) {
	servers := natstest.Cluster(t, 3)
	r3 := func(c *Config) { c.Replicas = 3 }
	var a, b *Registry
	wait.Within(t, 15*time.Second, "JetStream cluster up", func() (bool, string) {
		nc := connect(t, servers[0].ClientURL())
		js, _ := jetstream.New(nc)
		_, err := js.AccountInfo(t.Context())
		return err == nil, fmt.Sprint(err)
	})
	a = newNode(t, servers[0].ClientURL(), "a", r3)
	b = newNode(t, servers[1].ClientURL(), "b", r3)
	x := open(t, a, 3, "x")
	y := join(t, b, x.Code(), "y")
	next(t, x, 2*time.Second, "Joined", hasKind(rooms.Joined))

	servers[2].Shutdown()
	y.Type("through one server down")
	next(t, x, 2*time.Second, "Typed", hasKind(rooms.Typed))
	wait.Within(t, 10*time.Second, "Join with one server down", func() (bool, string) {
		_, err := a.Join(t.Context(), x.Code(), rooms.Member{Name: "z"})
		return err == nil, fmt.Sprint(err)
	})
	next(t, y, 2*time.Second, "Joined z", hasKind(rooms.Joined))
	wait.Within(t, 10*time.Second, "Open with one server down", func() (bool, string) {
		s, err := b.Open(t.Context(), 2, rooms.Member{Name: "o"})
		if err == nil {
			s.Leave()
		}
		return err == nil, fmt.Sprint(err)
	})
}

// At rest, KV writes do not grow with sessions: the rooms bucket is not
// written at all, the leases bucket once per node every Lease/3. Reads
// are one per room that spans nodes, per node, every Lease/2 (the
// reconciliation). When everyone has left, the deleted rooms' markers
// expire too.
func TestQuietAtRest(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	var seats []rooms.Seat
	for i := range 50 {
		x := open(t, [2]*Registry{a, b}[i%2], 2, "x")
		seats = append(seats, x, join(t, [2]*Registry{b, a}[i%2], x.Code(), "y"))
	}
	state := func(bucket string) (last, msgs uint64) {
		st, err := a.js.Stream(t.Context(), "KV_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq, info.State.Msgs
	}
	reads, _ := countMsgs(t, s.ClientURL(), "$JS.API.*.GET.KV_"+roomsBucket+".>")
	rooms0, _ := state(roomsBucket)
	leases0, _ := state(leasesBucket)
	reads0 := reads()
	renewals0 := a.Counters().LeaseRenewals + b.Counters().LeaseRenewals
	start := time.Now()
	time.Sleep(a.cfg.Lease) // measuring an absence: this wait is the measurement
	rooms1, _ := state(roomsBucket)
	leases1, _ := state(leasesBucket)
	read := reads() - reads0
	renewals := a.Counters().LeaseRenewals + b.Counters().LeaseRenewals - renewals0
	perNode := float64(time.Since(start)) / float64(a.cfg.Lease/3)
	if rooms1 != rooms0 {
		t.Errorf("rooms bucket written %d times at rest with 100 seats", rooms1-rooms0)
	}
	if w := leases1 - leases0; float64(w) > 2*(perNode+1) || renewals == 0 {
		t.Errorf("leases bucket written %d times (%d renewals) in %v by 2 nodes; want at most %.0f", w, renewals, time.Since(start), 2*(perNode+1))
	}
	checks := float64(time.Since(start)) / float64(a.cfg.Lease/2)
	if most := 2 * 50 * (checks + 1); read == 0 || float64(read) > most {
		t.Errorf("rooms bucket read %d times in %v by 2 nodes sharing 50 rooms; want 1 to %.0f", read, time.Since(start), most)
	}
	t.Logf("at rest for %v: %d reads of room records by 2 nodes sharing 50 rooms", time.Since(start).Round(time.Millisecond), read)
	for _, s := range seats {
		s.Leave()
	}
	wait.Within(t, 5*time.Second, "deleted rooms' markers to expire", func() (bool, string) {
		_, msgs := state(roomsBucket)
		return msgs == 4, fmt.Sprintf("%d messages", msgs) // what every node must share: salt, host key, lease, replicas
	})
}

// A Join announcement lost on the way (core NATS is at-most-once): the
// newcomer's first keystroke introduces them.
func TestLostJoinHeals(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a := newNode(t, s.ClientURL(), "a")
	x := open(t, a, 3, "x")
	raw := connect(t, s.ClientURL())
	ghost := member{ID: 7, Name: "newcomer", Color: 1, Node: "elsewhere-00000000"}
	data, _ := json.Marshal(wire{Kind: rooms.Typed, Peer: ghost, Text: "hello"})
	if err := raw.Publish(subjectPrefix+a.roomKey(x.Code()), data); err != nil {
		t.Fatal(err)
	}
	got := next(t, x, 2*time.Second, "Typed", hasKind(rooms.Typed))
	if len(got) != 2 || got[0].Kind != rooms.Joined || got[0].Peer.ID != 7 || got[1].Text != "hello" {
		t.Fatalf("x got %+v, want Joined newcomer then their text", got)
	}
	// Now the room has a member elsewhere: x's text goes out.
	out := a.Counters().EventsOut
	x.Type("hi")
	if a.Counters().EventsOut != out+1 {
		t.Fatal("x's text not published to the newcomer's node")
	}
}

// dropper loses, once armed, the messages from other nodes of one kind,
// as core NATS may (it is at most once), and counts what it lost.
type dropper struct {
	kind    rooms.EventKind
	armed   atomic.Bool
	dropped atomic.Int32
}

// lossyPair starts two nodes on one server, a losing what d drops, and
// opens a room for three on a. Their lease is 4 s: reconciling takes up
// to ¾ of it by design, and the rest is slack for a loaded machine.
func lossyPair(t *testing.T, d *dropper) (a, b *Registry, x rooms.Seat) {
	s := natstest.StartServer(t, 0, "")
	lease := func(c *Config) { c.Lease = 4 * time.Second }
	a = newNode(t, s.ClientURL(), "a", lease, func(c *Config) { c.drop = d.drop })
	b = newNode(t, s.ClientURL(), "b", lease)
	return a, b, open(t, a, 3, "x")
}

func (d *dropper) drop(msg *nats.Msg) bool {
	var w wire
	if !d.armed.Load() || json.Unmarshal(msg.Data, &w) != nil || w.Kind != d.kind {
		return false
	}
	d.dropped.Add(1)
	return true
}

// A Leave lost on the way: the member it concerns leaves the other node's
// screens within a lease all the same, seen in the room's record.
func TestLostLeaveReconciled(t *testing.T) {
	d := &dropper{kind: rooms.Left}
	a, b, x := lossyPair(t, d)
	y := join(t, b, x.Code(), "y")
	next(t, x, 2*time.Second, "Joined y", hasKind(rooms.Joined))
	d.armed.Store(true)
	y.Leave()
	left := time.Now()
	got := next(t, x, a.cfg.Lease, "Left y within a lease", hasKind(rooms.Left))
	if ev := got[len(got)-1]; ev.Peer.ID != y.Self().ID {
		t.Fatalf("x got %+v, want y to leave", got)
	}
	if n := d.dropped.Load(); n != 1 {
		t.Fatalf("%d Left messages lost, want 1", n)
	}
	t.Logf("the ghost was gone %v after its Leave was lost (lease %v)", time.Since(left).Round(time.Millisecond), a.cfg.Lease)
	// Nothing else changes: x's room goes on, and says no more.
	if err := x.Type("alone"); err != nil {
		t.Fatal(err)
	}
	if evs := x.Drain(nil); len(evs) != 0 {
		t.Fatalf("x got %+v after the ghost left", evs)
	}
}

// A Join lost on the way, every time it is said, to the node whose member
// opened the room: that member sees the newcomer within a lease though the
// newcomer says nothing, and then their text crosses both ways.
func TestLostJoinReconciled(t *testing.T) {
	d := &dropper{kind: rooms.Joined}
	a, b, x := lossyPair(t, d)
	d.armed.Store(true)
	y := join(t, b, x.Code(), "y")
	d.armed.Store(false)
	joined := time.Now()
	if d.dropped.Load() == 0 {
		t.Fatal("no Joined message lost")
	}
	got := next(t, x, a.cfg.Lease, "Joined y within a lease", hasKind(rooms.Joined))
	if ev := got[0]; ev.Peer.ID != y.Self().ID || ev.Peer.Name != "y" {
		t.Fatalf("x got %+v, want y to arrive", got)
	}
	t.Logf("y appeared %v after all %d announcements were lost (lease %v)", time.Since(joined).Round(time.Millisecond), d.dropped.Load(), a.cfg.Lease)
	if err := x.Type("hello y"); err != nil {
		t.Fatal(err)
	}
	next(t, y, 2*time.Second, "x's text", hasKind(rooms.Typed))
}

// Reconciling shows a member the record holds and this node never heard
// of only if their node still holds its lease: one of a node that died is
// not shown arriving (the sweep drops it instead).
func TestReconcileSkipsTheDead(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	x := open(t, a, 5, "x")
	join(t, b, x.Code(), "y")
	next(t, x, 2*time.Second, "Joined y", hasKind(rooms.Joined))
	// Until a has held its lease a whole lease, it counts every node alive.
	wait.Within(t, 2*a.cfg.Lease, "a's lease held a whole lease", func() (bool, string) {
		held := time.Since(time.Unix(0, a.heldSince.Load()))
		return held > a.cfg.Lease, fmt.Sprint("held ", held)
	})
	key := a.roomKey(x.Code())
	e, err := a.rooms.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	rec.Members = append(rec.Members,
		member{ID: 9, Name: "dead", Node: "gone-00000000"},
		member{ID: 10, Name: "unheard", Node: b.leaseKey()})
	rec.Last = 10
	data, _ := json.Marshal(rec)
	if _, err := a.rooms.Update(t.Context(), key, data, e.Revision()); err != nil {
		t.Fatal(err)
	}
	got := next(t, x, a.cfg.Lease, "Joined unheard", func(evs []rooms.Event) bool {
		return slices.ContainsFunc(evs, func(ev rooms.Event) bool { return ev.Peer.ID == 10 })
	})
	for _, ev := range got {
		if ev.Peer.ID == 9 {
			t.Fatalf("x was shown the dead node's member: %+v", got)
		}
	}
}

func lobby(t *testing.T, r *Registry, name string) rooms.Seat {
	t.Helper()
	s, err := r.Lobby(t.Context(), 10, rooms.Member{Name: name})
	if err != nil {
		t.Fatalf("Lobby: %v", err)
	}
	return s
}

// A node that dies without a word takes its people out of the lobby
// within the lease: those on the other node see them leave, and whoever
// enters next is not shown them.
func TestLobbyNodeDies(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a := newNode(t, s.ClientURL(), "a")
	b, nc := mortalNode(t, s.ClientURL(), "b")
	cfg := b.cfg
	x := lobby(t, a, "x")
	y, z := lobby(t, b, "y"), lobby(t, b, "z")
	next(t, x, 2*time.Second, "y and z", func(evs []rooms.Event) bool { return len(evs) == 2 })
	if got := len(lobby(t, a, "w").Others()); got != 3 {
		t.Fatalf("w entering the lobby saw %d, want 3", got)
	}
	next(t, x, 2*time.Second, "w", hasKind(rooms.Joined))
	died := time.Now()
	nc.Close() // b's process is gone as far as anyone can tell
	got := next(t, x, 3*cfg.Lease, "y and z leaving", func(evs []rooms.Event) bool { return len(evs) == 2 })
	for _, ev := range got {
		if ev.Kind != rooms.Left || ev.Peer.ID != y.Self().ID && ev.Peer.ID != z.Self().ID {
			t.Fatalf("x got %+v, want y and z to leave", got)
		}
	}
	t.Logf("the lobby lost the dead node's people %v after it died (lease %v)", time.Since(died), cfg.Lease)
	v := lobby(t, a, "v")
	if others := v.Others(); len(others) != 2 || others[0].Name != "x" || others[1].Name != "w" {
		t.Fatalf("v entering after the node died saw %+v, want x and w", others)
	}
	wait.Within(t, 2*time.Second, "a's lobby count", func() (bool, string) {
		n := a.Stats().Lobby
		return n == 3, fmt.Sprint(n)
	})
}
