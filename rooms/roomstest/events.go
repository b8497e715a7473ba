package roomstest

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/rooms"
)

func testInOrder(t *testing.T, reg rooms.Registry) {
	const pieces = 500
	all := fill(t, reg, 2, 2)
	a, b := all[0], all[1]
	var want []rooms.Event
	for i := range pieces {
		text := "p" + strconv.Itoa(i)
		if err := b.Type(text); err != nil {
			t.Fatal(err)
		}
		want = append(want, rooms.Event{Kind: rooms.Typed, Peer: b.Self(), Text: text})
		if i%50 == 49 {
			if err := b.Newline(); err != nil {
				t.Fatal(err)
			}
			want = append(want, rooms.Event{Kind: rooms.Newline, Peer: b.Self()})
		}
		if i%100 == 0 {
			if err := b.Type(""); err != nil { // sends nothing
				t.Fatal(err)
			}
		}
	}
	got := until(t, a, fmt.Sprintf("%d events", len(want)), func(evs []rooms.Event) bool { return len(evs) >= len(want) })
	if !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("events differ from #%d: got%s, want%s", i, show(got[i:]), show(want[i:]))
	}
	// The sender hears nothing of its own: once the receiver answers, the
	// answer is all there is.
	if err := a.Type("ack"); err != nil {
		t.Fatal(err)
	}
	got = until(t, b, "alice's ack", has(typed("ack")))
	if len(got) != 1 {
		t.Errorf("sender got%s, want only the ack", show(got))
	}
}

func testFanOut(t *testing.T, reg rooms.Registry) {
	const n = 8
	all := fill(t, reg, n, n)
	for i, s := range all {
		if err := s.Type("from" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	index := map[int]int{} // peer ID → position in all
	for i, s := range all {
		index[s.Self().ID] = i
	}
	for i, s := range all {
		got := until(t, s, fmt.Sprintf("%d Typed", n-1), count(n-1, is(rooms.Typed)))
		from := map[int]bool{}
		for _, ev := range got {
			sender, known := index[ev.Peer.ID]
			switch {
			case ev.Peer.ID == s.Self().ID:
				t.Errorf("member %d received its own text: %s", i, showEvent(ev))
			case ev.Kind != rooms.Typed || !known || ev.Text != "from"+strconv.Itoa(sender) || from[sender]:
				t.Errorf("member %d got %s", i, showEvent(ev))
			}
			from[sender] = true
		}
		if len(got) != n-1 {
			t.Errorf("member %d got%s, want one piece from each of the %d others", i, show(got), n-1)
		}
	}
}

func testBoundedQueue(t *testing.T, reg rooms.Registry) {
	const extra = 100
	all := fill(t, reg, 3, 2)
	a, b := all[0], all[1] // a never drains while b floods it
	dropped := reg.Stats().Dropped
	start := time.Now()
	for i := range rooms.QueueLimit + extra {
		if err := b.Type(strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d pieces typed at a member who does not read in %v", rooms.QueueLimit+extra, time.Since(start))
	wait.Within(t, Wait, fmt.Sprintf("Stats().Dropped to grow by %d", extra), func() (bool, string) {
		d := reg.Stats().Dropped - dropped
		return d >= extra, fmt.Sprint("grown by ", d)
	})
	// Arrivals and departures still get through to a full queue.
	c := mustJoin(t, reg, a.Code(), member("carol"))
	b.Leave()
	got := until(t, a, "Joined carol, Left bob", func(evs []rooms.Event) bool {
		return has(about(rooms.Joined, c.Self().ID))(evs) && has(about(rooms.Left, b.Self().ID))(evs)
	})
	kept, last := 0, -1
	for _, ev := range got {
		if ev.Kind != rooms.Typed {
			continue
		}
		kept++
		n, err := strconv.Atoi(ev.Text)
		if err != nil || n <= last {
			t.Fatalf("after #%d got Typed %q: out of order", last, ev.Text)
		}
		last = n
	}
	if kept > rooms.QueueLimit || kept == 0 {
		t.Errorf("queue held %d Typed events, want 1..%d", kept, rooms.QueueLimit)
	}
	j := slices.IndexFunc(got, about(rooms.Joined, c.Self().ID))
	l := slices.IndexFunc(got, about(rooms.Left, b.Self().ID))
	if j > l {
		t.Errorf("Left bob (#%d) came before Joined carol (#%d)", l, j)
	}
	t.Logf("queue held %d of %d pieces; %d dropped", kept, rooms.QueueLimit+extra, reg.Stats().Dropped-dropped)

	// Newlines count towards the bound too.
	dropped = reg.Stats().Dropped
	for range rooms.QueueLimit + extra {
		if err := c.Newline(); err != nil {
			t.Fatal(err)
		}
	}
	wait.Within(t, Wait, fmt.Sprintf("Stats().Dropped to grow by %d", extra), func() (bool, string) {
		d := reg.Stats().Dropped - dropped
		return d >= extra, fmt.Sprint("grown by ", d)
	})
	c.Leave()
	got = until(t, a, "Left carol", has(about(rooms.Left, c.Self().ID)))
	if n := countOf(got, is(rooms.Newline)); n > rooms.QueueLimit || n == 0 {
		t.Errorf("queue held %d Newline events, want 1..%d", n, rooms.QueueLimit)
	}
}

func testStats(t *testing.T, reg rooms.Registry) {
	wantStats(t, reg, 0, 0)
	solo := mustOpen(t, reg, 4, member("solo"))
	r2 := fill(t, reg, 3, 3)
	r3 := fill(t, reg, 5, 3)
	wantStats(t, reg, 3, 7, 1, 1, 3, 2)
	r2[1].Leave()
	wantStats(t, reg, 3, 6, 1, 1, 2, 1, 3, 1)
	r3 = append(r3, mustJoin(t, reg, r3[0].Code(), member("m3")))
	wantStats(t, reg, 3, 7, 1, 1, 2, 1, 4, 1)
	solo.Leave()
	wantStats(t, reg, 2, 6, 2, 1, 4, 1)
	for _, s := range append(r2, r3...) {
		s.Leave()
	}
	wantStats(t, reg, 0, 0)
}

func testConcurrent(t *testing.T, reg rooms.Registry) {
	const pairs, pieces = 20, 100
	var wg sync.WaitGroup
	for p := range pairs {
		wg.Go(func() {
			a, err := reg.Open(t.Context(), 2, member("a"+strconv.Itoa(p)))
			if err != nil {
				t.Error(err)
				return
			}
			b, err := reg.Join(t.Context(), a.Code(), member("b"+strconv.Itoa(p)))
			if err != nil {
				t.Error(err)
				a.Leave()
				return
			}
			var ga, gb []rooms.Event
			for i := range pieces {
				a.Type(strconv.Itoa(i))
				b.Type(strconv.Itoa(i))
				ga, gb = a.Drain(ga), b.Drain(gb)
				_ = reg.Stats()
			}
			for _, x := range []struct {
				s   rooms.Seat
				got []rooms.Event
			}{{a, ga}, {b, gb}} {
				got, ok := await(x.s, x.got, Wait, count(pieces, is(rooms.Typed)))
				var texts []string
				for _, ev := range got {
					if ev.Kind == rooms.Typed {
						texts = append(texts, ev.Text)
					}
				}
				for i, text := range texts {
					if text != strconv.Itoa(i) {
						ok = false
					}
				}
				if !ok || len(texts) != pieces {
					t.Errorf("%s got%s, want %d pieces in order", x.s.Self().Name, show(got), pieces)
				}
			}
			a.Leave()
			b.Leave()
		})
	}
	wg.Wait()
	wantStats(t, reg, 0, 0)
}
