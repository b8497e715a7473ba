package rooms

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func newTestRegistry(t testing.TB) *Memory {
	t.Helper()
	c, err := NewCodes(testSalt)
	if err != nil {
		t.Fatal(err)
	}
	return NewMemory(c)
}

func drain(s Seat) []Event { return s.Drain(nil) }

func TestPairLifecycle(t *testing.T) {
	reg := newTestRegistry(t)
	alice, err := reg.Open(2, Member{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := reg.Join(alice.Code(), Member{Name: "bob", Guest: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := bob.Others(); len(got) != 1 || got[0].Name != "alice" {
		t.Fatalf("bob sees others %+v", got)
	}
	if alice.Self().Color == bob.Self().Color {
		t.Fatal("two members share a colour")
	}
	<-alice.Ready()
	if ev := drain(alice); len(ev) != 1 || ev[0].Kind != Joined || ev[0].Peer.Name != "bob" {
		t.Fatalf("alice got %+v", ev)
	}
	if _, err := reg.Join(alice.Code(), Member{Name: "carol"}); !errors.Is(err, ErrFull) {
		t.Fatalf("third join: %v, want ErrFull", err)
	}

	bob.Type("h")
	bob.Type("i")
	bob.Break()
	bob.Type("") // nothing to send
	want := []Event{{Typed, bob.Self(), "h"}, {Typed, bob.Self(), "i"}, {Broke, bob.Self(), ""}}
	if got := drain(alice); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("alice got %+v, want %+v", got, want)
	}
	if got := drain(bob); len(got) != 0 {
		t.Fatalf("sender received its own text: %+v", got)
	}

	bob.Leave()
	bob.Leave() // twice is harmless
	if got := drain(alice); len(got) != 1 || got[0].Kind != Left {
		t.Fatalf("alice got %+v, want Left", got)
	}
	if s := reg.Stats(); s.Rooms != 1 || s.Members != 1 || s.BySize[1] != 1 {
		t.Fatalf("stats %+v", s)
	}
	// A seat freed by a leaver can be taken by someone new.
	dave, err := reg.Join(alice.Code(), Member{Name: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	if dave.Self().ID == bob.Self().ID {
		t.Fatal("member ID reused in one room")
	}
	dave.Leave()
	alice.Leave()
	if _, err := reg.Join(alice.Code(), Member{Name: "eve"}); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("join after last left: %v, want ErrNoRoom", err)
	}
	if s := reg.Stats(); s.Rooms != 0 || s.Members != 0 {
		t.Fatalf("stats after close %+v", s)
	}
}

func TestJoinRejectsBadCodes(t *testing.T) {
	reg := newTestRegistry(t)
	if _, err := reg.Join("not a code!", Member{}); !errors.Is(err, ErrBadCode) {
		t.Fatalf("got %v, want ErrBadCode", err)
	}
	code, _ := reg.codes.New()
	if _, err := reg.Join(code, Member{}); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("got %v, want ErrNoRoom", err)
	}
}

func TestGroupFanOut(t *testing.T) {
	reg := newTestRegistry(t)
	first, _ := reg.Open(8, Member{Name: "m0"})
	seats := []Seat{first}
	for i := 1; i < 8; i++ {
		s, err := reg.Join(first.Code(), Member{Name: fmt.Sprint("m", i)})
		if err != nil {
			t.Fatal(err)
		}
		seats = append(seats, s)
	}
	colors := map[int]bool{}
	for _, s := range seats {
		colors[s.Self().Color] = true
		drain(s)
	}
	if len(colors) != 8 {
		t.Fatalf("8 members got %d colours", len(colors))
	}
	seats[3].Type("x")
	for i, s := range seats {
		got := drain(s)
		if i == 3 && len(got) != 0 || i != 3 && (len(got) != 1 || got[0].Text != "x") {
			t.Fatalf("member %d got %+v", i, got)
		}
	}
}

func TestQueueIsBounded(t *testing.T) {
	reg := newTestRegistry(t)
	a, _ := reg.Open(2, Member{Name: "a"})
	b, _ := reg.Join(a.Code(), Member{Name: "b"})
	drain(a)
	for range QueueLimit + 100 {
		b.Type("z")
	}
	if got := len(drain(a)); got != QueueLimit {
		t.Fatalf("queue held %d events, want %d", got, QueueLimit)
	}
	if d := reg.Stats().Dropped; d != 100 {
		t.Fatalf("dropped %d, want 100", d)
	}
	b.Leave() // departures still arrive when the queue was full
	if got := drain(a); len(got) != 1 || got[0].Kind != Left {
		t.Fatalf("got %+v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	reg := newTestRegistry(t)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			a, _ := reg.Open(2, Member{Name: "a"})
			b, err := reg.Join(a.Code(), Member{Name: "b"})
			if err != nil {
				t.Error(err)
				return
			}
			for range 100 {
				a.Type("x")
				b.Type("y")
				drain(a)
				drain(b)
			}
			a.Leave()
			b.Leave()
		})
	}
	wg.Wait()
	if s := reg.Stats(); s.Rooms != 0 {
		t.Fatalf("rooms left open: %+v", s)
	}
}

func BenchmarkFanOut(b *testing.B) {
	for _, size := range []int{2, 8} {
		b.Run(fmt.Sprint("room", size), func(b *testing.B) {
			reg := newTestRegistry(b)
			first, _ := reg.Open(size, Member{Name: "m0"})
			seats := []Seat{first}
			for i := 1; i < size; i++ {
				s, _ := reg.Join(first.Code(), Member{Name: "m"})
				seats = append(seats, s)
			}
			bufs := make([][]Event, size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				first.Type("x")
				if i%64 == 0 {
					for j, s := range seats {
						bufs[j] = s.Drain(bufs[j][:0])
					}
				}
			}
		})
	}
}
