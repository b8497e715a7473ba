// Package roomstest checks that a rooms.Registry keeps the promises package
// rooms makes, whatever sits behind it: run it from any implementation's
// tests with
//
//	roomstest.Run(t, func(t *testing.T) rooms.Registry { return newRegistry(t) })
//
// The suite uses only the interface. It never assumes an event is there when
// the call that caused it returns: it waits on Seat.Ready, for at most Wait.
// It does assume a caller's own calls are settled when they return: once the
// last member's Leave returns, Join finds no room; once Close returns,
// nothing opens. Counts from Stats may lag and are polled, again for at most
// Wait.
package roomstest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/rooms"
)

// Wait bounds every wait for something a registry has to deliver.
const Wait = 5 * time.Second

// Run runs the contract as subtests of t. open must return a new, empty
// registry each time it is called; Run closes it when the subtest ends
// (after which open's own t.Cleanup functions run).
func Run(t *testing.T, open func(t *testing.T) rooms.Registry) {
	tests := []struct {
		name string
		f    func(*testing.T, rooms.Registry)
	}{
		{"Open", testOpen},
		{"Join", testJoin},
		{"Colours", testColours},
		{"Full", testFull},
		{"LastSeatRace", testLastSeatRace},
		{"Leave", testLeave},
		{"SeatTakenAgain", testSeatTakenAgain},
		{"RoomEndsWithLastMember", testRoomEnds},
		{"BadCode", testBadCode},
		{"CodesUnique", testCodesUnique},
		{"InOrder", testInOrder},
		{"FanOut", testFanOut},
		{"BoundedQueue", testBoundedQueue},
		{"Stats", testStats},
		{"Concurrent", testConcurrent},
		{"Close", testClose},
		{"CloseNil", testCloseNil},
		{"CloseWhileBusy", testCloseWhileBusy},
		{"Context", testContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := open(t)
			t.Cleanup(func() { reg.Close(nil) })
			tc.f(t, reg)
		})
	}
}

// --- helpers -----------------------------------------------------------------

func member(name string) rooms.Member { return rooms.Member{Name: name} }

func mustOpen(t *testing.T, reg rooms.Registry, seats int, m rooms.Member) rooms.Seat {
	t.Helper()
	s, err := reg.Open(t.Context(), seats, m)
	if err != nil {
		t.Fatalf("Open(%d, %q): %v", seats, m.Name, err)
	}
	if s == nil {
		t.Fatalf("Open(%d, %q) returned no seat and no error", seats, m.Name)
	}
	return s
}

func mustJoin(t *testing.T, reg rooms.Registry, code string, m rooms.Member) rooms.Seat {
	t.Helper()
	s, err := reg.Join(t.Context(), code, m)
	if err != nil {
		t.Fatalf("Join(%q, %q): %v", code, m.Name, err)
	}
	if s == nil {
		t.Fatalf("Join(%q, %q) returned no seat and no error", code, m.Name)
	}
	return s
}

// fill opens a room of seats and seats n members in it (n ≤ seats), then
// waits until every member has heard of every later arrival and throws
// those Joined events away.
func fill(t *testing.T, reg rooms.Registry, seats, n int) []rooms.Seat {
	t.Helper()
	all := []rooms.Seat{mustOpen(t, reg, seats, member("m0"))}
	for i := 1; i < n; i++ {
		all = append(all, mustJoin(t, reg, all[0].Code(), member("m"+strconv.Itoa(i))))
	}
	for i, s := range all {
		got := until(t, s, fmt.Sprintf("%d Joined", n-1-i), count(n-1-i, is(rooms.Joined)))
		if c := countOf(got, is(rooms.Joined)); c != n-1-i || len(got) != c {
			t.Fatalf("%s: want %d Joined and nothing else, got%s", s.Self().Name, n-1-i, show(got))
		}
	}
	return all
}

// await drains s into got until done(got) holds or d passes.
func await(s rooms.Seat, got []rooms.Event, d time.Duration, done func([]rooms.Event) bool) ([]rooms.Event, bool) {
	got = s.Drain(got)
	if done(got) || d <= 0 {
		return got, done(got)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-s.Ready():
			got = s.Drain(got)
			if done(got) {
				return got, true
			}
		case <-timer.C:
			return s.Drain(got), done(got)
		}
	}
}

// until drains s until done holds, failing the test with what arrived if it
// does not within Wait. It also checks nothing followed an Ended event.
func until(t *testing.T, s rooms.Seat, what string, done func([]rooms.Event) bool) []rooms.Event {
	t.Helper()
	got, ok := await(s, nil, Wait, done)
	if !ok {
		t.Fatalf("%s waited %v for %s; got %d events:%s", s.Self().Name, Wait, what, len(got), show(got))
	}
	checkEndedLast(t, s, got)
	return got
}

func checkEndedLast(t *testing.T, s rooms.Seat, got []rooms.Event) {
	t.Helper()
	if i := slices.IndexFunc(got, is(rooms.Ended)); i >= 0 && i != len(got)-1 {
		t.Errorf("%s: events after Ended:%s", s.Self().Name, show(got[i:]))
	}
}

func is(k rooms.EventKind) func(rooms.Event) bool {
	return func(ev rooms.Event) bool { return ev.Kind == k }
}

// about matches events of kind k about the peer with the given ID.
func about(k rooms.EventKind, id int) func(rooms.Event) bool {
	return func(ev rooms.Event) bool { return ev.Kind == k && ev.Peer.ID == id }
}

func typed(text string) func(rooms.Event) bool {
	return func(ev rooms.Event) bool { return ev.Kind == rooms.Typed && ev.Text == text }
}

func countOf(evs []rooms.Event, f func(rooms.Event) bool) int {
	n := 0
	for _, ev := range evs {
		if f(ev) {
			n++
		}
	}
	return n
}

// count is a done func: at least n events match f.
func count(n int, f func(rooms.Event) bool) func([]rooms.Event) bool {
	return func(evs []rooms.Event) bool { return countOf(evs, f) >= n }
}

// has is a done func: some event matches f.
func has(f func(rooms.Event) bool) func([]rooms.Event) bool { return count(1, f) }

// wantStats waits until reg counts the given rooms and members, BySize
// given as pairs of size, count. Dropped is not compared.
func wantStats(t *testing.T, reg rooms.Registry, nrooms, members int, bySize ...int) {
	t.Helper()
	want := map[int]int{}
	for i := 0; i+1 < len(bySize); i += 2 {
		want[bySize[i]] = bySize[i+1]
	}
	wait.Within(t, Wait, fmt.Sprintf("Stats{Rooms:%d Members:%d BySize:%v}", nrooms, members, want), func() (bool, string) {
		s := reg.Stats()
		got := map[int]int{}
		for k, v := range s.BySize {
			if v != 0 {
				got[k] = v
			}
		}
		ok := s.Rooms == nrooms && s.Members == members && fmt.Sprint(got) == fmt.Sprint(want)
		return ok, fmt.Sprintf("%+v", s)
	})
}

func show(evs []rooms.Event) string {
	const edge = 6
	var b strings.Builder
	for i, ev := range evs {
		if len(evs) > 2*edge && i >= edge && i < len(evs)-edge {
			if i == edge {
				fmt.Fprintf(&b, " …%d more…", len(evs)-2*edge)
			}
			continue
		}
		b.WriteByte(' ')
		b.WriteString(showEvent(ev))
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

func showEvent(ev rooms.Event) string {
	kinds := map[rooms.EventKind]string{rooms.Joined: "Joined", rooms.Left: "Left", rooms.Typed: "Typed", rooms.Newline: "Newline", rooms.Ended: "Ended",
		rooms.Told: "Told", rooms.Locked: "Locked", rooms.Unlocked: "Unlocked", rooms.Knocked: "Knocked", rooms.KnockEnded: "KnockEnded", rooms.Let: "Let"}
	k, ok := kinds[ev.Kind]
	if !ok {
		k = fmt.Sprintf("Kind%d", ev.Kind)
	}
	s := fmt.Sprintf("%s(%s#%d", k, ev.Peer.Name, ev.Peer.ID)
	if ev.Kind == rooms.Typed || ev.Text != "" {
		s += " " + strconv.Quote(ev.Text)
	}
	return s + ")"
}

func ids(peers []rooms.Peer) []int {
	out := make([]int, len(peers))
	for i, p := range peers {
		out[i] = p.ID
	}
	slices.Sort(out)
	return out
}
