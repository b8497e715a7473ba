package roomstest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/rooms"
)

// RunMeeting runs the contract for how people find each other: the
// lobby, telling one member alone, locking a room and knocking at it. It
// takes open as Run does.
func RunMeeting(t *testing.T, open func(t *testing.T) rooms.Registry) {
	tests := []struct {
		name string
		f    func(*testing.T, rooms.Registry)
	}{
		{"Lobby", testLobby},
		{"LobbyFull", testLobbyFull},
		{"Tell", testTell},
		{"Lock", testLock},
		{"KnockLetIn", testKnockLetIn},
		{"KnockTurnedAway", testKnockTurnedAway},
		{"KnockNoSeat", testKnockNoSeat},
		{"KnockGivesUp", testKnockGivesUp},
		{"DoorLimit", testDoorLimit},
		{"KnockRoomEnds", testKnockRoomEnds},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := open(t)
			t.Cleanup(func() { reg.Close(nil) })
			tc.f(t, reg)
		})
	}
}

func mustLobby(t *testing.T, reg rooms.Registry, size int, name string) rooms.Seat {
	t.Helper()
	s, err := reg.Lobby(t.Context(), size, member(name))
	if err != nil {
		t.Fatalf("Lobby(%d, %q): %v", size, name, err)
	}
	return s
}

func testLobby(t *testing.T, reg rooms.Registry) {
	a := mustLobby(t, reg, 10, "ana")
	b := mustLobby(t, reg, 10, "bo")
	if a.Code() != rooms.LobbyCode || b.Code() != a.Code() {
		t.Fatalf("lobby codes %q and %q, want %q", a.Code(), b.Code(), rooms.LobbyCode)
	}
	if got := ids(b.Others()); len(got) != 1 || got[0] != a.Self().ID {
		t.Fatalf("bo sees %v in the lobby, want ana's %d", got, a.Self().ID)
	}
	until(t, a, "bo arriving", has(about(rooms.Joined, b.Self().ID)))
	if err := b.Type("hi"); err != nil {
		t.Fatal(err)
	}
	until(t, a, "bo's text", has(typed("hi")))
	if _, err := reg.Join(t.Context(), rooms.LobbyCode, member("cy")); err == nil {
		t.Fatal("Join found the lobby by name")
	}
	if err := a.Lock(true); !errors.Is(err, rooms.ErrNeverLocked) {
		t.Fatalf("locking the lobby: %v, want ErrNeverLocked", err)
	}
	lobbyHas := func(n int) {
		t.Helper()
		wait.Within(t, Wait, fmt.Sprintf("%d in the lobby", n), func() (bool, string) {
			s := reg.Stats()
			return s.Lobby == n, fmt.Sprintf("%+v", s)
		})
	}
	lobbyHas(2)
	if s := reg.Stats(); s.Members != 0 || s.Rooms != 0 {
		t.Fatalf("the lobby counted as a room: %+v", s)
	}
	a.Leave()
	until(t, b, "ana leaving", has(about(rooms.Left, a.Self().ID)))
	b.Leave()
	lobbyHas(0)
	c := mustLobby(t, reg, 10, "cy")
	if len(c.Others()) != 0 {
		t.Fatalf("an empty lobby lists %v", ids(c.Others()))
	}
	lobbyHas(1)
}

func testLobbyFull(t *testing.T, reg rooms.Registry) {
	mustLobby(t, reg, 2, "ana")
	mustLobby(t, reg, 2, "bo")
	if _, err := reg.Lobby(t.Context(), 2, member("cy")); !errors.Is(err, rooms.ErrFull) {
		t.Fatalf("a third in a lobby of two: %v, want ErrFull", err)
	}
}

func testTell(t *testing.T, reg rooms.Registry) {
	a := mustLobby(t, reg, 10, "ana")
	b := mustLobby(t, reg, 10, "bo")
	c := mustLobby(t, reg, 10, "cy")
	until(t, a, "two arrivals", count(2, is(rooms.Joined)))
	until(t, b, "cy arriving", has(is(rooms.Joined)))
	if err := a.Tell(c.Self().ID, "psst"); err != nil {
		t.Fatal(err)
	}
	if err := a.Tell(9999, "nobody"); err != nil {
		t.Fatal(err)
	}
	got := until(t, c, "ana's word", has(func(ev rooms.Event) bool {
		return ev.Kind == rooms.Told && ev.Text == "psst" && ev.Peer.ID == a.Self().ID
	}))
	if n := countOf(got, is(rooms.Told)); n != 1 {
		t.Fatalf("cy got %d words, want 1:%s", n, show(got))
	}
	// bo hears nothing of it: ana's next text reaches bo after anything told.
	if err := a.Type("x"); err != nil {
		t.Fatal(err)
	}
	got = until(t, b, "ana's text", has(typed("x")))
	if n := countOf(got, is(rooms.Told)); n != 0 {
		t.Fatalf("bo overheard:%s", show(got))
	}
}

func testLock(t *testing.T, reg rooms.Registry) {
	two := fill(t, reg, 2, 1)
	if err := two[0].Lock(true); !errors.Is(err, rooms.ErrNeverLocked) {
		t.Fatalf("locking a room for two: %v, want ErrNeverLocked", err)
	}
	s := fill(t, reg, 4, 2)
	if err := s[0].Lock(true); err != nil {
		t.Fatal(err)
	}
	until(t, s[1], "the lock", has(about(rooms.Locked, s[0].Self().ID)))
	if _, err := reg.Join(t.Context(), s[0].Code(), member("cy")); !errors.Is(err, rooms.ErrLocked) {
		t.Fatalf("joining a locked room: %v, want ErrLocked", err)
	}
	if err := s[1].Lock(false); err != nil {
		t.Fatal(err)
	}
	until(t, s[0], "the unlock", has(about(rooms.Unlocked, s[1].Self().ID)))
	mustJoin(t, reg, s[0].Code(), member("cy"))
	if _, err := reg.Knock(t.Context(), s[0].Code(), member("di")); !errors.Is(err, rooms.ErrNotLocked) {
		t.Fatalf("knocking at an open room: %v, want ErrNotLocked", err)
	}
}

// locked opens a group of four with two members, locks it, and returns
// them once both know.
func locked(t *testing.T, reg rooms.Registry, seats int) []rooms.Seat {
	t.Helper()
	s := fill(t, reg, seats, 2)
	if err := s[0].Lock(true); err != nil {
		t.Fatal(err)
	}
	until(t, s[1], "the lock", has(is(rooms.Locked)))
	return s
}

func mustKnock(t *testing.T, reg rooms.Registry, code, name string) rooms.Seat {
	t.Helper()
	k, err := reg.Knock(t.Context(), code, member(name))
	if err != nil {
		t.Fatalf("Knock(%q): %v", name, err)
	}
	return k
}

func testKnockLetIn(t *testing.T, reg rooms.Registry) {
	s := locked(t, reg, 4)
	k := mustKnock(t, reg, s[0].Code(), "cy")
	if len(k.Others()) != 0 {
		t.Fatalf("a knock sees the members before it is let in: %v", ids(k.Others()))
	}
	if err := k.Type("let me in"); err != nil {
		t.Fatal(err)
	}
	for _, m := range s {
		until(t, m, "the knock", has(about(rooms.Knocked, k.Self().ID)))
	}
	if err := s[1].Answer(k.Self().ID, true); err != nil {
		t.Fatal(err)
	}
	got := until(t, k, "being let in", has(is(rooms.Let)))
	if n := countOf(got, is(rooms.Joined)); n != 2 || got[len(got)-1].Kind != rooms.Let || got[len(got)-1].Text != rooms.LetLocked {
		t.Fatalf("the knock wants two Joined then Let, locked; got%s", show(got))
	}
	for _, m := range s {
		got := until(t, m, "cy joining", has(about(rooms.Joined, k.Self().ID)))
		if countOf(got, is(rooms.Typed)) != 0 {
			t.Fatalf("%s read what a knock typed:%s", m.Self().Name, show(got))
		}
		if countOf(got, about(rooms.KnockEnded, k.Self().ID)) != 1 {
			t.Fatalf("%s was not told the knock was answered:%s", m.Self().Name, show(got))
		}
	}
	if err := k.Type("hello"); err != nil {
		t.Fatal(err)
	}
	until(t, s[0], "cy's text", has(typed("hello")))
	// A second answer does nothing.
	if err := s[0].Answer(k.Self().ID, false); err != nil || k.Err() != nil {
		t.Fatalf("a late answer: %v, the seat %v", err, k.Err())
	}
}

func testKnockTurnedAway(t *testing.T, reg rooms.Registry) {
	s := locked(t, reg, 4)
	k := mustKnock(t, reg, s[0].Code(), "cy")
	until(t, s[0], "the knock", has(is(rooms.Knocked)))
	if err := s[0].Answer(k.Self().ID, false); err != nil {
		t.Fatal(err)
	}
	endsWith(t, k, rooms.ErrTurnedAway)
	until(t, s[1], "the knock ending", has(about(rooms.KnockEnded, k.Self().ID)))
}

func testKnockNoSeat(t *testing.T, reg rooms.Registry) {
	s := locked(t, reg, 3)
	k := mustKnock(t, reg, s[0].Code(), "cy")
	l := mustKnock(t, reg, s[0].Code(), "di")
	until(t, s[0], "two knocks", count(2, is(rooms.Knocked)))
	if err := s[0].Answer(k.Self().ID, true); err != nil {
		t.Fatal(err)
	}
	until(t, k, "being let in", has(is(rooms.Let)))
	if err := s[1].Answer(l.Self().ID, true); err != nil {
		t.Fatal(err)
	}
	endsWith(t, l, rooms.ErrFull)
}

func testKnockGivesUp(t *testing.T, reg rooms.Registry) {
	s := locked(t, reg, 4)
	k := mustKnock(t, reg, s[0].Code(), "cy")
	until(t, s[0], "the knock", has(is(rooms.Knocked)))
	k.Leave()
	until(t, s[0], "the knock ending", has(about(rooms.KnockEnded, k.Self().ID)))
}

func testDoorLimit(t *testing.T, reg rooms.Registry) {
	s := locked(t, reg, 8)
	for i := range rooms.DoorLimit {
		mustKnock(t, reg, s[0].Code(), "k"+string(rune('a'+i)))
	}
	if _, err := reg.Knock(t.Context(), s[0].Code(), member("late")); !errors.Is(err, rooms.ErrDoorFull) {
		t.Fatalf("knock %d: %v, want ErrDoorFull", rooms.DoorLimit+1, err)
	}
}

func testKnockRoomEnds(t *testing.T, reg rooms.Registry) {
	s := locked(t, reg, 4)
	k := mustKnock(t, reg, s[0].Code(), "cy")
	until(t, s[0], "the knock", has(is(rooms.Knocked)))
	s[0].Leave()
	s[1].Leave()
	endsWith(t, k, rooms.ErrTurnedAway)
}
