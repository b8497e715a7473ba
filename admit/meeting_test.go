package admit_test

import (
	"errors"
	"testing"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
)

func TestLobbyFull(t *testing.T) {
	g, obs := newGate(t, admit.Config{LobbySize: 2})
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		if _, err := enter(t, g, ip).Lobby(t.Context(), rooms.Member{Name: ip}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := enter(t, g, "192.0.2.3").Lobby(t.Context(), rooms.Member{Name: "late"})
	if r := reason(t, err); r != admit.LobbyFull {
		t.Fatalf("a third in a lobby of two: %v", r)
	}
	if obs.seated[admit.OpLobby] != 2 || obs.refused[admit.LobbyFull] != 1 {
		t.Fatalf("counted %v seated, %v refused", obs.seated, obs.refused)
	}
}

func TestAskLimits(t *testing.T) {
	g, obs := newGate(t, admit.Config{})
	c := g.Connect(addr("192.0.2.1"))
	defer c.Close()
	if err := c.Ask(t.Context(), "bo#ab12", "bo"); err != nil {
		t.Fatal(err)
	}
	c.NoAnswer(t.Context(), "bo#ab12")
	err := c.Ask(t.Context(), "bo#ab12", "bo")
	if r := reason(t, err); r != admit.AskedRecently || err.Error() != "You asked bo a moment ago; try again in a few minutes." {
		t.Fatalf("asking bo again at once: %v %q", r, err)
	}
	// Another connection from the same address is the same asker.
	d := g.Connect(addr("192.0.2.1"))
	defer d.Close()
	if err := d.Ask(t.Context(), "bo#ab12", "bo"); err == nil {
		t.Fatal("a second connection from the address asked bo again at once")
	}
	for i := 1; i < admit.AsksAllowed; i++ {
		if err := c.Ask(t.Context(), "p"+string(rune('a'+i)), "p"); err != nil {
			t.Fatalf("ask %d: %v", i+1, err)
		}
	}
	err = c.Ask(t.Context(), "cy", "cy")
	if r := reason(t, err); r != admit.TooManyAsks {
		t.Fatalf("ask %d: %v", admit.AsksAllowed+1, r)
	}
	// Another address is not held back.
	e := g.Connect(addr("192.0.2.9"))
	defer e.Close()
	if err := e.Ask(t.Context(), "bo#ab12", "bo"); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.refused[admit.AskedRecently] != 2 || obs.refused[admit.TooManyAsks] != 1 {
		t.Fatalf("refusals counted: %v", obs.refused)
	}
}

func TestKnockLimits(t *testing.T) {
	g, _ := newGate(t, admit.Config{MaxGroup: 8})
	owner := enter(t, g, "192.0.2.1")
	seat, err := owner.Open(t.Context(), admit.OpGroup, rooms.Member{Name: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	knocker := enter(t, g, "192.0.2.2")
	if _, _, err := knocker.Knock(t.Context(), seat.Code(), rooms.Member{Name: "cy"}); !errors.Is(err, rooms.ErrNotLocked) {
		t.Fatalf("knocking at an open room: %v", err)
	}
	if err := seat.Lock(true); err != nil {
		t.Fatal(err)
	}
	_, err = knocker.Join(t.Context(), seat.Code(), rooms.Member{Name: "cy"})
	if r := reason(t, err); r != admit.Locked {
		t.Fatalf("joining a locked room: %v", r)
	}
	k, done, err := knocker.Knock(t.Context(), seat.Code(), rooms.Member{Name: "cy"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = enter(t, g, "192.0.2.2").Knock(t.Context(), seat.Code(), rooms.Member{Name: "cy"})
	if r := reason(t, err); r != admit.KnockWaiting {
		t.Fatalf("a second knock from the address: %v", r)
	}
	k.Leave()
	done()
	// KnocksAllowed per period: two spent (at the open room, and the one
	// let go; the one refused as waiting counts nothing), so the rest pass
	// and the next is refused.
	for i := range admit.KnocksAllowed - 2 {
		k, done, err := knocker.Knock(t.Context(), seat.Code(), rooms.Member{Name: "cy"})
		if err != nil {
			t.Fatalf("knock %d: %v", i+3, err)
		}
		k.Leave()
		done()
	}
	_, _, err = knocker.Knock(t.Context(), seat.Code(), rooms.Member{Name: "cy"})
	if r := reason(t, err); r != admit.TooManyKnocks {
		t.Fatalf("knock %d: %v", admit.KnocksAllowed+1, r)
	}
}
