package ui

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
	"github.com/hush-chat/hush/talk"
)

// realHub is a conversation layer over an in-memory registry, as app
// builds one.
func realHub(t testing.TB) *talk.Hub {
	t.Helper()
	codes, err := rooms.NewCodes("ui test salt 0123456789")
	if err != nil {
		t.Fatal(err)
	}
	hub := talk.NewHub(talk.Config{
		Gate:   admit.New(rooms.NewMemory(codes), admit.Config{MaxGroup: 4}, nil),
		Speak:  speak.Config{MaxPaste: 100, KeysPerSecond: 30, KeyBurst: 200},
		Linger: 5 * time.Second,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(hub.Shutdown)
	return hub
}

// lobbyModel is a model for someone in a real lobby (an in-memory one).
func lobbyModel(t testing.TB, w, h int) (*Model, *clock) {
	t.Helper()
	hub := realHub(t)
	c := hub.Connect(&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1})
	t.Cleanup(c.Close)
	conv, err := c.Enter(t.Context(), talk.Lobby, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	return onClock(t, conv, w, h)
}

// onClock is a w×h truecolor model of conv on a clock the test moves,
// conv closed with the test.
func onClock(t testing.TB, conv *talk.Conv, w, h int) (*Model, *clock) {
	t.Cleanup(conv.Close)
	clk := &clock{t: time.Unix(1e9, 0)}
	m := New(Config{Conv: conv, Profile: colorprofile.TrueColor, Width: w, Height: h})
	m.now = clk.now
	return m, clk
}

func peer(id int, name string) rooms.Peer {
	return rooms.Peer{ID: id, Color: id % rooms.Palette, Member: rooms.Member{Name: name, Badge: "AbCd1234"}}
}

func TestLobbyScreen(t *testing.T) {
	m, _ := lobbyModel(t, 72, 16)
	if !strings.HasPrefix(ansi.Strip(m.Frame().Lines()[0]), "hush · lobby · 1 here") {
		t.Fatalf("header: %q", m.Frame().Lines()[0])
	}
	m.Update(Events{{Kind: talk.Joined, Peer: peer(2, "amber-panda")}, {Kind: talk.Joined, Peer: peer(3, "keen-owl")}})
	m.Update(Events{{Kind: talk.Typed, Peer: peer(3, "keen-owl"), Text: "hello"}})
	m.Update(Events{{Kind: talk.Asked, Peer: peer(2, "amber-panda"), Text: "amber-panda asks you for a private room", Wait: talk.AskFor}})
	screen := strings.Join(m.Frame().Lines(), "\n")
	for _, want := range []string{"3 here", "amber-panda asks you for a private room", "tab enter accepts · tab backspace declines", "  ● amber-panda · key AbCd1234", "hello", "· you"} {
		if !strings.Contains(ansi.Strip(screen), want) {
			t.Errorf("lobby screen lacks %q:\n%s", want, ansi.Strip(screen))
		}
	}
	// Tab picks the ask first, then the people.
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if m.meet.pick.kind != pickAsk || m.meet.pick.peer.ID != 2 {
		t.Fatalf("tab picked %+v, want the ask", m.meet.pick)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if m.meet.pick.kind != pickPerson || m.meet.pick.peer.ID != 2 {
		t.Fatalf("tab again picked %+v, want the first person", m.meet.pick)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if m.picking {
		t.Fatal("esc did not go back to typing")
	}
	// Silent people are only listed; a lane is for text that shows.
	if len(m.lanes) != 2 {
		t.Fatalf("%d lanes, want keen-owl's and yours", len(m.lanes))
	}
	m.Update(Events{{Kind: talk.Left, Peer: peer(3, "keen-owl")}})
	if len(m.lanes) != 1 || len(m.meet.people) != 1 {
		t.Fatalf("after leaving: %d lanes, %d listed", len(m.lanes), len(m.meet.people))
	}
}

// Whatever happens in the lobby, every frame fits the window and carries
// no control byte.
func TestLobbyFramesFitEverySize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range [][2]int{{1, 1}, {2, 3}, {10, 4}, {20, 5}, {40, 8}, {80, 24}, {200, 60}} {
		m, clk := lobbyModel(t, size[0], size[1])
		for i := range 400 {
			id := 2 + r.IntN(30)
			p := peer(id, fmt.Sprintf("p%d-\x1b[2J%s", id, strings.Repeat("x", r.IntN(50))))
			switch r.IntN(12) {
			case 0, 1:
				m.Update(Events{{Kind: talk.Joined, Peer: p}})
			case 2:
				m.Update(Events{{Kind: talk.Left, Peer: p}})
			case 3, 4:
				m.Update(Events{{Kind: talk.Typed, Peer: p, Text: "héllo wörld \u202e"}})
			case 5:
				m.Update(Events{{Kind: talk.Asked, Peer: p, Text: "asks", Wait: talk.AskFor}})
			case 6:
				m.Update(Events{{Kind: talk.AskEnded, Peer: p}})
			case 7:
				m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
			case 8:
				m.Update(tea.KeyPressMsg{Code: []rune{tea.KeyDown, tea.KeyUp, tea.KeyEscape, tea.KeyDelete}[r.IntN(4)]})
			case 9:
				m.Update(tea.KeyPressMsg{Code: 'a', Text: "a"})
			case 10:
				clk.t = clk.t.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
				m.Update(tick{})
			case 11:
				m.Update(tea.WindowSizeMsg{Width: size[0] + r.IntN(3), Height: size[1] + r.IntN(3)})
			}
			checkFrame(t, m)
			_ = i
		}
	}
}

// A knock at a group room shows as one banner line with a count, and tab
// picks it before any picture.
func TestKnockBanner(t *testing.T) {
	m, _, _ := newTestModel(t, 100, 20)
	m.Update(Events{{Kind: talk.Knocked, Peer: peer(7, "cy"), Text: "cy knocks"}, {Kind: talk.Knocked, Peer: peer(8, "di"), Text: "di knocks"}})
	screen := ansi.Strip(strings.Join(m.Frame().Lines(), "\n"))
	if !strings.Contains(screen, "cy and 1 more knock · tab enter lets them in · tab backspace turns them away") {
		t.Fatalf("knock banner:\n%s", screen)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if m.meet.pick.kind != pickKnock || m.meet.pick.peer.ID != 7 {
		t.Fatalf("tab picked %+v", m.meet.pick)
	}
	m.Update(Events{{Kind: talk.KnockEnded, Peer: peer(7, "cy")}, {Kind: talk.KnockEnded, Peer: peer(8, "di")}})
	if strings.Contains(ansi.Strip(strings.Join(m.Frame().Lines(), "\n")), "knock") {
		t.Fatal("the banner stayed after the knocks ended")
	}
}

// Who came or went shows for noticeFor at least, even while the person
// types, then stays without waking the screen until they type again.
func TestArrivalStaysWithoutWaking(t *testing.T) {
	m, _, c := newTestModel(t, 80, 24)
	m.Update(Events{{Kind: talk.Joined, Peer: peer(5, "cy")}})
	status := func() string { l := m.Frame().Lines(); return ansi.Strip(l[len(l)-1]) }
	if !strings.Contains(status(), "cy joined") {
		t.Fatalf("status: %q", status())
	}
	if !m.wake.IsZero() {
		t.Fatalf("an arrival wakes the screen at %v", m.wake)
	}
	c.t = c.t.Add(time.Second)
	m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if !strings.Contains(status(), "cy joined") {
		t.Fatalf("a key a second later took the arrival away: %q", status())
	}
	c.t = c.t.Add(time.Minute)
	m.Update(tick{})
	if !strings.Contains(status(), "cy joined") {
		t.Fatalf("the arrival went by itself: %q", status())
	}
	m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if strings.Contains(status(), "joined") {
		t.Fatalf("typing did not take the arrival away: %q", status())
	}
}

// Picking goes on safely when everything pickable has gone: the person
// highlighted left, or the knock highlighted ended, and tab is pressed.
func TestPickingWhenEverythingHasGone(t *testing.T) {
	m, _ := lobbyModel(t, 72, 16)
	m.Update(Events{{Kind: talk.Joined, Peer: peer(2, "amber-panda")}})
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if !m.picking || m.meet.pick.peer.ID != 2 {
		t.Fatalf("tab picked %+v", m.meet.pick)
	}
	m.Update(Events{{Kind: talk.Left, Peer: peer(2, "amber-panda")}})
	for _, k := range []rune{tea.KeyTab, tea.KeyDown, tea.KeyUp} {
		m.Update(tea.KeyPressMsg{Code: k})
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	checkFrame(t, m)

	r, _, _ := newTestModel(t, 100, 20)
	r.Update(Events{{Kind: talk.Knocked, Peer: peer(7, "cy"), Text: "cy knocks"}})
	r.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	r.Update(Events{{Kind: talk.KnockEnded, Peer: peer(7, "cy")}})
	r.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	checkFrame(t, r)
}

// While picking, a paste types nothing either: it goes back to typing,
// as any key but the picking keys does.
func TestPasteWhilePickingTypesNothing(t *testing.T) {
	m, seat, _ := newTestModel(t, 100, 20)
	m.Update(Events{{Kind: talk.Knocked, Peer: peer(7, "cy"), Text: "cy knocks"}})
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if !m.picking {
		t.Fatal("tab did not pick the knock")
	}
	m.Update(tea.PasteMsg{Content: "meant for elsewhere"})
	if got := seat.typed.String(); got != "" {
		t.Fatalf("a paste while picking reached the room: %q", got)
	}
	if m.picking {
		t.Fatal("a paste left picking on")
	}
}

// doorModel is a model for someone knocking at a real locked group room
// (an in-memory one).
func doorModel(t testing.TB, w, h int) *Model {
	t.Helper()
	hub := realHub(t)
	enter := func(ip string) *talk.Conn {
		c := hub.Connect(&net.TCPAddr{IP: net.ParseIP(ip), Port: 1})
		t.Cleanup(c.Close)
		return c
	}
	owner, err := enter("192.0.2.1").Enter(t.Context(), talk.Group, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(owner.Close)
	if len(owner.Lock(true)) == 0 {
		t.Fatal("the room did not lock")
	}
	conv, err := enter("192.0.2.2").Knock(t.Context(), owner.Code(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := onClock(t, conv, w, h)
	return m
}

// F1 at the door shows the keys, as everywhere; the key that closes it
// does nothing else there either.
func TestHelpAtTheDoor(t *testing.T) {
	m := doorModel(t, 80, 24)
	if !m.meet.knocking {
		t.Fatal("not knocking")
	}
	m.Update(keyF1())
	if screen := ansi.Strip(strings.Join(m.Frame().Lines(), "\n")); !strings.Contains(screen, "Keys") || !strings.Contains(screen, "esc esc") {
		t.Fatalf("f1 at the door:\n%s", screen)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if screen := ansi.Strip(strings.Join(m.Frame().Lines(), "\n")); strings.Contains(screen, "Keys") || !strings.Contains(screen, "esc esc stops knocking") {
		t.Fatalf("after closing the help:\n%s", screen)
	}
	checkFrame(t, m)
}

// The knock banner names a knock still waiting: once the one highlighted
// has ended, it names the next, not the one gone.
func TestKnockBannerForgetsAnEndedPick(t *testing.T) {
	m, _, _ := newTestModel(t, 100, 20)
	m.Update(Events{{Kind: talk.Knocked, Peer: peer(7, "cy"), Text: "cy knocks"}, {Kind: talk.Knocked, Peer: peer(8, "di"), Text: "di knocks"}})
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	if m.meet.pick.kind != pickKnock || m.meet.pick.peer.ID != 7 {
		t.Fatalf("tab picked %+v", m.meet.pick)
	}
	m.Update(Events{{Kind: talk.KnockEnded, Peer: peer(7, "cy")}})
	screen := ansi.Strip(strings.Join(m.Frame().Lines(), "\n"))
	if strings.Contains(screen, "cy knocks") || !strings.Contains(screen, "di knocks") {
		t.Fatalf("after cy's knock ended:\n%s", screen)
	}
}
