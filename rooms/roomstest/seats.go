package roomstest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hush-chat/hush/rooms"
)

func testOpen(t *testing.T, reg rooms.Registry) {
	wantStats(t, reg, 0, 0)
	m := rooms.Member{Name: "alice", Badge: "SHA256:ab12"}
	a := mustOpen(t, reg, 2, m)
	if a.Code() == "" {
		t.Fatal("empty code")
	}
	if a.Seats() != 2 {
		t.Errorf("Seats() = %d, want 2", a.Seats())
	}
	if self := a.Self(); self.Member != m || self.Color != 0 {
		t.Errorf("Self() = %+v, want member %+v with colour 0 (lowest free)", self, m)
	}
	if o := a.Others(); len(o) != 0 {
		t.Errorf("Others() of the opener = %+v, want none", o)
	}
	if err := a.Err(); err != nil {
		t.Errorf("Err() of a fresh seat = %v", err)
	}
	if err := a.Type("alone"); err != nil {
		t.Errorf("Type in a room of one: %v", err)
	}
	if err := a.Newline(); err != nil {
		t.Errorf("Newline in a room of one: %v", err)
	}
	wantStats(t, reg, 1, 1, 1, 1)
	for _, seats := range []int{0, -1} {
		if s, err := reg.Open(t.Context(), seats, member("x")); err == nil {
			t.Errorf("Open with %d seats: got seat %v, want an error", seats, s.Code())
		}
	}
	wantStats(t, reg, 1, 1, 1, 1)
}

func testJoin(t *testing.T, reg rooms.Registry) {
	a := mustOpen(t, reg, 3, member("alice"))
	bm := rooms.Member{Name: "bob", Guest: true}
	b := mustJoin(t, reg, strings.ToUpper(a.Code()), bm)
	if b.Code() != a.Code() {
		t.Errorf("joined with the upper-cased code: Code() = %q, want %q", b.Code(), a.Code())
	}
	if b.Seats() != 3 {
		t.Errorf("Seats() = %d, want 3", b.Seats())
	}
	if b.Self().Member != bm {
		t.Errorf("Self() = %+v, want member %+v", b.Self(), bm)
	}
	if o := b.Others(); len(o) != 1 || o[0] != a.Self() {
		t.Errorf("bob's Others() = %+v, want [%+v]", o, a.Self())
	}
	got := until(t, a, "Joined bob", has(is(rooms.Joined)))
	if len(got) != 1 || got[0] != (rooms.Event{Kind: rooms.Joined, Peer: b.Self()}) {
		t.Errorf("alice got%s, want Joined %+v", show(got), b.Self())
	}

	c := mustJoin(t, reg, a.Code(), member("carol"))
	if got, want := ids(c.Others()), ids([]rooms.Peer{a.Self(), b.Self()}); !slices.Equal(got, want) {
		t.Errorf("carol's Others() = %+v, want alice and bob", c.Others())
	}
	for _, o := range c.Others() {
		if o != a.Self() && o != b.Self() {
			t.Errorf("carol sees %+v, which is neither alice %+v nor bob %+v", o, a.Self(), b.Self())
		}
	}
	for _, s := range []rooms.Seat{a, b} {
		got := until(t, s, "Joined carol", has(is(rooms.Joined)))
		if len(got) != 1 || got[0] != (rooms.Event{Kind: rooms.Joined, Peer: c.Self()}) {
			t.Errorf("%s got%s, want Joined %+v", s.Self().Name, show(got), c.Self())
		}
	}
	peers := []rooms.Peer{a.Self(), b.Self(), c.Self()}
	if got := ids(peers); got[0] == got[1] || got[1] == got[2] {
		t.Errorf("IDs repeat in one room: %+v", peers)
	}
	for i, p := range peers {
		if p.Color != i {
			t.Errorf("member %d (%s) has colour %d, want %d (lowest free)", i, p.Name, p.Color, i)
		}
	}
	wantStats(t, reg, 1, 3, 3, 1)
}

func testColours(t *testing.T, reg rooms.Registry) {
	n := rooms.Palette + 2
	all := fill(t, reg, n, n)
	seenID := map[int]bool{}
	for i, s := range all {
		p := s.Self()
		if seenID[p.ID] {
			t.Errorf("ID %d given twice in one room", p.ID)
		}
		seenID[p.ID] = true
		switch {
		case p.Color < 0 || p.Color >= rooms.Palette:
			t.Errorf("member %d has colour %d, outside the palette of %d", i, p.Color, rooms.Palette)
		case i < rooms.Palette && p.Color != i:
			t.Errorf("member %d has colour %d, want %d (lowest free)", i, p.Color, i)
		}
	}
	// Free colour 3 (and the seat): the next arrival gets 3 and a new ID.
	gone := all[3]
	gone.Leave()
	for _, s := range slices.Delete(slices.Clone(all), 3, 4) {
		until(t, s, "Left m3", has(about(rooms.Left, gone.Self().ID)))
	}
	late := mustJoin(t, reg, all[0].Code(), member("late"))
	if late.Self().Color != 3 {
		t.Errorf("newcomer got colour %d, want 3 (the one freed)", late.Self().Color)
	}
	if seenID[late.Self().ID] {
		t.Errorf("newcomer got ID %d, already used in this room", late.Self().ID)
	}
}

func testFull(t *testing.T, reg rooms.Registry) {
	all := fill(t, reg, 2, 2)
	if s, err := reg.Join(t.Context(), all[0].Code(), member("carol")); !errors.Is(err, rooms.ErrFull) {
		t.Errorf("third Join into 2 seats: %v (seat %v), want ErrFull", err, s)
	}
	solo := mustOpen(t, reg, 1, member("solo"))
	if _, err := reg.Join(t.Context(), strings.ToUpper(solo.Code()), member("x")); !errors.Is(err, rooms.ErrFull) {
		t.Errorf("Join into 1 seat: %v, want ErrFull", err)
	}
	wantStats(t, reg, 2, 3, 1, 1, 2, 1)
}

func testLastSeatRace(t *testing.T, reg rooms.Registry) {
	const joiners = 50
	for _, seats := range []int{2, 5} {
		a := mustOpen(t, reg, seats, member("host"))
		start := make(chan struct{})
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			won     []rooms.Seat
			errs    = map[string]int{}
			badErrs []error
		)
		for i := range joiners {
			wg.Go(func() {
				<-start
				s, err := reg.Join(t.Context(), a.Code(), member("j"+strconv.Itoa(i)))
				_ = reg.Stats() // never blocks, may run alongside anything
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, s)
				case errors.Is(err, rooms.ErrFull):
					errs["ErrFull"]++
				default:
					badErrs = append(badErrs, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(won) != seats-1 || errs["ErrFull"] != joiners-(seats-1) || len(badErrs) > 0 {
			t.Fatalf("%d racing for %d free seats: %d won, %d ErrFull, other errors %v", joiners, seats-1, len(won), errs["ErrFull"], badErrs)
		}
		peers := []rooms.Peer{a.Self()}
		for _, s := range won {
			peers = append(peers, s.Self())
		}
		colours, idSet := map[int]bool{}, map[int]bool{}
		for _, p := range peers {
			colours[p.Color], idSet[p.ID] = true, true
		}
		if len(colours) != seats || len(idSet) != seats {
			t.Errorf("winners share IDs or colours: %+v", peers)
		}
		got := until(t, a, fmt.Sprintf("%d Joined", seats-1), count(seats-1, is(rooms.Joined)))
		if c := countOf(got, is(rooms.Joined)); c != seats-1 || len(got) != c {
			t.Errorf("host got%s, want exactly %d Joined", show(got), seats-1)
		}
		for _, ev := range got {
			if !slices.Contains(peers[1:], ev.Peer) {
				t.Errorf("host told of %+v, who did not win a seat", ev.Peer)
			}
		}
	}
	wantStats(t, reg, 2, 7, 2, 1, 5, 1)
}

func testLeave(t *testing.T, reg rooms.Registry) {
	all := fill(t, reg, 3, 3)
	a, b, c := all[0], all[1], all[2]
	b.Leave()
	for _, s := range []rooms.Seat{a, c} {
		got := until(t, s, "Left bob", has(is(rooms.Left)))
		if len(got) != 1 || got[0] != (rooms.Event{Kind: rooms.Left, Peer: b.Self()}) {
			t.Errorf("%s got%s, want Left %+v", s.Self().Name, show(got), b.Self())
		}
	}
	if err := b.Err(); !errors.Is(err, rooms.ErrLeft) {
		t.Errorf("Err() after Leave = %v, want ErrLeft", err)
	}
	b.Leave() // twice is harmless
	if err := b.Err(); !errors.Is(err, rooms.ErrLeft) {
		t.Errorf("Err() after leaving twice = %v, want ErrLeft", err)
	}
	if err := b.Type("ghost"); err == nil {
		t.Error("Type after Leave returned nil")
	}
	if err := b.Newline(); err == nil {
		t.Error("Newline after Leave returned nil")
	}
	if err := a.Err(); err != nil {
		t.Errorf("Err() of a member who stayed = %v", err)
	}
	// The second Leave told nobody anything; neither did the ghost's Type.
	if err := c.Type("mark"); err != nil {
		t.Fatal(err)
	}
	got := until(t, a, "carol's mark", has(typed("mark")))
	if len(got) != 1 {
		t.Errorf("alice got%s, want only carol's mark", show(got))
	}
	wantStats(t, reg, 1, 2, 2, 1)
}

func testSeatTakenAgain(t *testing.T, reg rooms.Registry) {
	all := fill(t, reg, 2, 2)
	a, b := all[0], all[1]
	used := map[int]bool{a.Self().ID: true, b.Self().ID: true}
	prev := b
	for i := range 3 {
		prev.Leave()
		until(t, a, "Left", has(about(rooms.Left, prev.Self().ID)))
		s := mustJoin(t, reg, a.Code(), member("again"+strconv.Itoa(i)))
		if used[s.Self().ID] {
			t.Errorf("freed seat taken with ID %d, already used in this room (%v)", s.Self().ID, used)
		}
		used[s.Self().ID] = true
		if s.Self().Color != 1 {
			t.Errorf("freed seat taken with colour %d, want 1 (lowest free)", s.Self().Color)
		}
		if o := s.Others(); len(o) != 1 || o[0] != a.Self() {
			t.Errorf("Others() = %+v, want only %+v", o, a.Self())
		}
		if _, err := reg.Join(t.Context(), a.Code(), member("extra")); !errors.Is(err, rooms.ErrFull) {
			t.Errorf("Join into a room full again: %v, want ErrFull", err)
		}
		until(t, a, "Joined", has(about(rooms.Joined, s.Self().ID)))
		prev = s
	}
	wantStats(t, reg, 1, 2, 2, 1)
}

func testRoomEnds(t *testing.T, reg rooms.Registry) {
	all := fill(t, reg, 2, 2)
	a, b := all[0], all[1]
	b.Leave()
	until(t, a, "Left bob", has(is(rooms.Left)))
	a.Leave()
	solo := mustOpen(t, reg, 3, member("solo"))
	solo.Leave()
	for _, code := range []string{a.Code(), solo.Code()} {
		for _, c := range []string{code, strings.ToUpper(code)} {
			if s, err := reg.Join(t.Context(), c, member("late")); !errors.Is(err, rooms.ErrNoRoom) {
				t.Errorf("Join(%q) after the last member left: %v (seat %v), want ErrNoRoom", c, err, s)
			}
		}
	}
	wantStats(t, reg, 0, 0)
}

func testBadCode(t *testing.T, reg rooms.Registry) {
	a := mustOpen(t, reg, 2, member("alice"))
	junk := []string{"", "new", "ssh", "not a code!", "0o1li", "aaaaaaaaaa", "a\x00b", "\xff\xfe",
		strings.Repeat("a", 200), a.Code() + "\x1b[2J", " " + a.Code(), a.Code() + a.Code()}
	for _, s := range junk {
		if seat, err := reg.Join(t.Context(), s, member("x")); !errors.Is(err, rooms.ErrBadCode) {
			t.Errorf("Join(%q) = %v, %v; want ErrBadCode", s, seat, err)
		}
	}
	// A one-character slip is junk or names no room, never another room.
	code := []byte(a.Code())
	for i := range code {
		mangled := slices.Clone(code)
		mangled[i] = rooms.Alphabet[(strings.IndexByte(rooms.Alphabet, code[i])+1)%len(rooms.Alphabet)]
		if seat, err := reg.Join(t.Context(), string(mangled), member("x")); !errors.Is(err, rooms.ErrBadCode) && !errors.Is(err, rooms.ErrNoRoom) {
			t.Errorf("Join(%q), one slip from %q = %v, %v; want ErrBadCode or ErrNoRoom", mangled, a.Code(), seat, err)
		}
	}
	wantStats(t, reg, 1, 1, 1, 1)
}

func testCodesUnique(t *testing.T, reg rooms.Registry) {
	const workers, each = 8, 250
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seats []rooms.Seat
	)
	for range workers {
		wg.Go(func() {
			mine := make([]rooms.Seat, 0, each)
			for range each {
				s, err := reg.Open(t.Context(), 1, member("opener"))
				if err != nil {
					t.Error(err)
					return
				}
				mine = append(mine, s)
			}
			mu.Lock()
			seats = append(seats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	codes := map[string]bool{}
	for _, s := range seats {
		if codes[s.Code()] {
			t.Fatalf("code %q given to two open rooms", s.Code())
		}
		codes[s.Code()] = true
	}
	wantStats(t, reg, workers*each, workers*each, 1, workers*each)
	for i := 0; i < len(seats); i += 100 { // each code finds its own room
		if _, err := reg.Join(t.Context(), strings.ToUpper(seats[i].Code()), member("x")); !errors.Is(err, rooms.ErrFull) {
			t.Errorf("Join(%q) of a full one-seat room: %v, want ErrFull", seats[i].Code(), err)
		}
	}
	for _, s := range seats {
		s.Leave()
	}
	wantStats(t, reg, 0, 0)
}
