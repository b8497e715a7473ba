package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
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
)

// Lobby text crosses NATS once per key however many nodes listen, and
// reaches people on every node in order; a room's people hear none of it.
func TestLobbyTextCrossesOnce(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	nodes := []*Registry{newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b"), newNode(t, s.ClientURL(), "c")}
	_, typing, _ := countTyping(t, s.ClientURL(), "hush.>")
	var seats []rooms.Seat
	for i, n := range nodes {
		for j := range 2 {
			seats = append(seats, lobby(t, n, fmt.Sprintf("p%d%d", i, j)))
		}
	}
	for i, p := range seats {
		next(t, p, 2*time.Second, "everyone", func(evs []rooms.Event) bool { return len(evs) >= len(seats)-1-i })
		p.Drain(nil)
	}
	room := open(t, nodes[1], 3, "elsewhere")
	const n = 100
	for i := range n {
		seats[0].Type(strconv.Itoa(i))
	}
	for _, p := range seats[1:] {
		got := next(t, p, 5*time.Second, "every key", func(evs []rooms.Event) bool { return len(evs) >= n })
		for i, ev := range got {
			if ev.Kind != rooms.Typed || ev.Text != strconv.Itoa(i) {
				t.Fatalf("%s: piece %d is %+v", p.Self().Name, i, ev)
			}
		}
	}
	wait.Within(t, 2*time.Second, "keys on NATS", func() (bool, string) { return typing() >= n, fmt.Sprint(typing()) })
	if got := typing(); got != n {
		t.Fatalf("%d keys in a lobby over three nodes made %d messages", n, got)
	}
	if evs := room.Drain(nil); len(evs) != 0 {
		t.Fatalf("a room heard the lobby: %+v", evs)
	}
	if st := nodes[0].Stats(); st.Lobby != 2 || st.Members != 0 {
		t.Fatalf("node a counts %+v, want 2 in the lobby and no members", st)
	}
}

// lockedOn opens a room of seats on r with two members, locks it, and
// returns them once both know.
func lockedOn(t *testing.T, r *Registry, seats int) []rooms.Seat {
	t.Helper()
	m0 := open(t, r, seats, "m0")
	m1 := join(t, r, m0.Code(), "m1")
	next(t, m0, time.Second, "m1", hasKind(rooms.Joined))
	if err := m0.Lock(true); err != nil {
		t.Fatal(err)
	}
	next(t, m1, time.Second, "the lock", hasKind(rooms.Locked))
	return []rooms.Seat{m0, m1}
}

func knock(t *testing.T, r *Registry, code, name string) rooms.Seat {
	t.Helper()
	k, err := r.Knock(t.Context(), code, rooms.Member{Name: name})
	if err != nil {
		t.Fatalf("Knock: %v", err)
	}
	return k
}

func about(k rooms.EventKind, id int) func([]rooms.Event) bool {
	return func(evs []rooms.Event) bool {
		for _, ev := range evs {
			if ev.Kind == k && ev.Peer.ID == id {
				return true
			}
		}
		return false
	}
}

// A room whose members all sit on one node, knocked at from another: the
// lock refuses a Join there, the members hear the knock, a knock's words
// never cross, one let in talks both ways (a word told to it crosses
// sealed), and when the members leave the knocks still waiting are turned
// away.
func TestDoorAcrossNodes(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	spy := connect(t, s.ClientURL())
	var (
		mu   sync.Mutex
		seen []string
	)
	spy.Subscribe("hush.>", func(m *nats.Msg) {
		mu.Lock()
		seen = append(seen, string(m.Data))
		mu.Unlock()
	})
	spy.Flush()
	a, b := newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")
	m := lockedOn(t, a, 4)
	if _, err := b.Join(t.Context(), m[0].Code(), rooms.Member{Name: "late"}); !errors.Is(err, rooms.ErrLocked) {
		t.Fatalf("Join on the other node: %v, want ErrLocked", err)
	}
	k := knock(t, b, m[0].Code(), "k")
	k.Type("knock words")
	for _, s := range m {
		next(t, s, 2*time.Second, "the knock", about(rooms.Knocked, k.Self().ID))
	}
	if err := m[1].Answer(k.Self().ID, true); err != nil {
		t.Fatal(err)
	}
	got := next(t, k, 2*time.Second, "Let", hasKind(rooms.Let))
	if len(got) != 3 || got[0].Kind != rooms.Joined || got[1].Kind != rooms.Joined || got[0].Peer.Name != "m0" || got[1].Peer.Name != "m1" {
		t.Fatalf("k let in got %+v, want m0 and m1 then Let", got)
	}
	for _, s := range m {
		got := next(t, s, 2*time.Second, "k joining", about(rooms.Joined, k.Self().ID))
		if got[0].Kind != rooms.KnockEnded {
			t.Fatalf("%s got %+v, want the knock ended first", s.Self().Name, got)
		}
		for _, ev := range got {
			if ev.Kind == rooms.Joined && ev.Peer.Color != k.Self().Color {
				t.Fatalf("%s sees k in colour %d, k says %d", s.Self().Name, ev.Peer.Color, k.Self().Color)
			}
		}
	}
	k.Type("inside")
	next(t, m[0], 2*time.Second, "k's text", hasKind(rooms.Typed))
	m[0].Type("welcome")
	next(t, k, 2*time.Second, "m0's text", hasKind(rooms.Typed))
	m[0].Tell(k.Self().ID, "told alone")
	told := next(t, k, 2*time.Second, "told", hasKind(rooms.Told))
	if ev := told[len(told)-1]; ev.Text != "told alone" || ev.Peer.ID != m[0].Self().ID {
		t.Fatalf("k was told %+v", ev)
	}

	// The next knock waits; the members leave; it is turned away.
	l := knock(t, b, m[0].Code(), "l")
	next(t, m[0], 2*time.Second, "the knock", about(rooms.Knocked, l.Self().ID))
	k.Leave()
	m[0].Leave()
	m[1].Leave()
	next(t, l, 2*time.Second, "Ended", hasKind(rooms.Ended))
	if err := l.Err(); !errors.Is(err, rooms.ErrTurnedAway) {
		t.Fatalf("knock at a room that ended: %v, want ErrTurnedAway", err)
	}
	// Every seat and knock let go of its hold: neither node keeps the room.
	wait.Within(t, 2*time.Second, "the room let go on both nodes", func() (bool, string) {
		na, nb := len(a.table.All()), len(b.table.All())
		return na+nb == 0, fmt.Sprint(na, " and ", nb, " rooms")
	})
	spy.Flush()
	mu.Lock()
	defer mu.Unlock()
	for _, m := range seen {
		if strings.Contains(m, "knock words") || strings.Contains(m, "told alone") {
			t.Errorf("on NATS: %.200q", m)
		}
	}
}

// A knock's answer lost on the way to its node (core NATS is at most
// once): the record says what became of it, within a lease.
func TestLostAnswerHeals(t *testing.T) {
	for _, let := range []bool{true, false} {
		t.Run(fmt.Sprint("let=", let), func(t *testing.T) {
			d := &dropper{kind: rooms.KnockEnded}
			s := natstest.StartServer(t, 0, "")
			lease := func(c *Config) { c.Lease = 4 * time.Second }
			a := newNode(t, s.ClientURL(), "a", lease)
			b := newNode(t, s.ClientURL(), "b", lease, func(c *Config) { c.drop = d.drop })
			m := lockedOn(t, a, 4)
			k := knock(t, b, m[0].Code(), "k")
			next(t, m[0], 2*time.Second, "the knock", about(rooms.Knocked, k.Self().ID))
			d.armed.Store(true)
			if err := m[0].Answer(k.Self().ID, let); err != nil {
				t.Fatal(err)
			}
			answered := time.Now()
			if let {
				got := next(t, k, a.cfg.Lease, "Let", hasKind(rooms.Let))
				if len(got) != 3 {
					t.Fatalf("k got %+v, want two members then Let", got)
				}
				k.Type("in at last")
				next(t, m[1], 2*time.Second, "k's text", hasKind(rooms.Typed))
			} else {
				next(t, k, a.cfg.Lease, "Ended", hasKind(rooms.Ended))
				if err := k.Err(); !errors.Is(err, rooms.ErrTurnedAway) {
					t.Fatalf("k ended with %v, want ErrTurnedAway", err)
				}
				wait.Within(t, 2*time.Second, "b to let the room go", func() (bool, string) {
					n := len(b.table.All())
					return n == 0, fmt.Sprint(n, " rooms")
				})
			}
			if d.dropped.Load() == 0 {
				t.Fatal("no answer lost")
			}
			t.Logf("the knock learnt its answer %v after it was lost (lease %v)", time.Since(answered).Round(time.Millisecond), a.cfg.Lease)
		})
	}
}

// A knocker's node that dies: the members see the knock end within the
// lease, and its place at the door is free again.
func TestKnockerNodeDies(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	a := newNode(t, s.ClientURL(), "a")
	b, nc := mortalNode(t, s.ClientURL(), "b")
	cfg := b.cfg
	m := lockedOn(t, a, 8)
	var ks []rooms.Seat
	for i := range rooms.DoorLimit {
		ks = append(ks, knock(t, b, m[0].Code(), "k"+strconv.Itoa(i)))
	}
	next(t, m[0], 2*time.Second, "the knocks", func(evs []rooms.Event) bool { return len(evs) == rooms.DoorLimit })
	if _, err := a.Knock(t.Context(), m[0].Code(), rooms.Member{Name: "more"}); !errors.Is(err, rooms.ErrDoorFull) {
		t.Fatalf("a knock past the limit: %v, want ErrDoorFull", err)
	}
	nc.Close()
	got := next(t, m[0], 3*cfg.Lease, "the knocks ending", func(evs []rooms.Event) bool { return len(evs) == rooms.DoorLimit })
	ended := map[int]bool{}
	for _, ev := range got {
		if ev.Kind == rooms.KnockEnded {
			ended[ev.Peer.ID] = true
		}
	}
	for _, k := range ks {
		if !ended[k.Self().ID] {
			t.Fatalf("m0 got %+v, want every knock to end", got)
		}
	}
	knock(t, a, m[0].Code(), "fresh")
}

// Word of a knock, and of its end, lost on the way to the members' node:
// they see it knock, and stop, within a lease all the same.
func TestLostKnockHeals(t *testing.T) {
	var armed atomic.Bool
	var lost atomic.Int32
	drop := func(msg *nats.Msg) bool {
		var w wire
		if !armed.Load() || json.Unmarshal(msg.Data, &w) != nil || w.Kind != rooms.Knocked && w.Kind != rooms.KnockEnded {
			return false
		}
		lost.Add(1)
		return true
	}
	s := natstest.StartServer(t, 0, "")
	lease := func(c *Config) { c.Lease = 4 * time.Second }
	a := newNode(t, s.ClientURL(), "a", lease, func(c *Config) { c.drop = drop })
	b := newNode(t, s.ClientURL(), "b", lease)
	m := lockedOn(t, a, 4)
	armed.Store(true)
	k := knock(t, b, m[0].Code(), "k")
	start := time.Now()
	next(t, m[0], a.cfg.Lease, "the knock", about(rooms.Knocked, k.Self().ID))
	t.Logf("the knock was shown %v after word of it was lost (lease %v)", time.Since(start).Round(time.Millisecond), a.cfg.Lease)
	k.Leave()
	start = time.Now()
	next(t, m[1], a.cfg.Lease+time.Second, "the knock ending", about(rooms.KnockEnded, k.Self().ID))
	t.Logf("the knock ended %v after word of it was lost", time.Since(start).Round(time.Millisecond))
	if n := lost.Load(); n != 2 {
		t.Fatalf("%d messages lost, want the knock and its end", n)
	}
	// A fresh knock, heard: answered at once.
	armed.Store(false)
	l := knock(t, b, m[0].Code(), "l")
	next(t, m[0], 2*time.Second, "the next knock", about(rooms.Knocked, l.Self().ID))
	if err := m[0].Answer(l.Self().ID, true); err != nil {
		t.Fatal(err)
	}
	next(t, l, 2*time.Second, "Let", hasKind(rooms.Let))
}

// People crowding into the lobby through two nodes at once: all of them
// get in up to its size, not one more, and everyone ends up seeing
// everyone.
func TestLobbyCrowdAcrossNodes(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	nodes := [2]*Registry{newNode(t, s.ClientURL(), "a"), newNode(t, s.ClientURL(), "b")}
	const size = 200 // the default --lobby-size
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seats []rooms.Seat
	)
	start := time.Now()
	for i := range size {
		wg.Go(func() {
			p, err := nodes[i%2].Lobby(t.Context(), size, rooms.Member{Name: "p" + strconv.Itoa(i)})
			if err != nil {
				t.Errorf("p%d: %v", i, err)
				return
			}
			mu.Lock()
			seats = append(seats, p)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d people into the lobby through two nodes at once in %v", size, time.Since(start).Round(time.Millisecond))
	for _, n := range nodes {
		if _, err := n.Lobby(t.Context(), size, rooms.Member{Name: "late"}); !errors.Is(err, rooms.ErrFull) {
			t.Fatalf("one past the lobby's size: %v, want ErrFull", err)
		}
	}
	for _, p := range seats {
		known := map[int]bool{}
		for _, o := range p.Others() {
			known[o.ID] = true
		}
		next(t, p, 5*time.Second, "everyone", func(evs []rooms.Event) bool {
			for _, ev := range evs {
				if ev.Kind == rooms.Joined {
					known[ev.Peer.ID] = true
				}
			}
			return len(known) == size-1
		})
	}
	if a, b := nodes[0].Stats().Lobby, nodes[1].Stats().Lobby; a+b != size {
		t.Fatalf("the nodes count %d and %d in the lobby, want %d in all", a, b, size)
	}
}

// Word of a lock lost on the way: the members on the node that missed it
// see the room locked, by whom, within a lease.
func TestLostLockHeals(t *testing.T) {
	d := &dropper{kind: rooms.Locked}
	a, b, x := lossyPair(t, d)
	y := join(t, b, x.Code(), "y")
	next(t, x, 2*time.Second, "Joined y", hasKind(rooms.Joined))
	d.armed.Store(true)
	if err := y.Lock(true); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()
	if _, err := a.Join(t.Context(), x.Code(), rooms.Member{Name: "z"}); !errors.Is(err, rooms.ErrLocked) {
		t.Fatalf("Join on the node that missed the word: %v, want ErrLocked", err)
	}
	got := next(t, x, a.cfg.Lease, "Locked", hasKind(rooms.Locked))
	if ev := got[len(got)-1]; ev.Peer.ID != y.Self().ID || ev.Peer.Name != "y" {
		t.Fatalf("x got %+v, want y to have locked the room", got)
	}
	if d.dropped.Load() != 1 {
		t.Fatalf("%d Locked messages lost, want 1", d.dropped.Load())
	}
	t.Logf("the lock was shown %v after word of it was lost (lease %v)", time.Since(locked).Round(time.Millisecond), a.cfg.Lease)
	// Said once: no second Locked comes.
	if err := x.Type("seen"); err != nil {
		t.Fatal(err)
	}
	next(t, y, 2*time.Second, "x's text", hasKind(rooms.Typed))
	if evs := x.Drain(nil); len(evs) != 0 {
		t.Fatalf("x got %+v after the lock was shown", evs)
	}
}
