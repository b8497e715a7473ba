package e2e

// Finding each other: the lobby, asking for a private room, locking a
// group and knocking at it, over SSH (x/crypto and the OpenSSH binary).

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

var selfRe = regexp.MustCompile(`● (\S+) · (?:key \S+|guest, no key) · you`)

// selfName is the name a screen shows for its own person.
func selfName(t *testing.T, term *sshtest.Term) string {
	t.Helper()
	term.WaitText("· you")
	m := selfRe.FindStringSubmatch(term.Screen())
	if m == nil {
		t.Fatalf("no name of one's own on screen:\n%s", term.Screen())
	}
	return m[1]
}

var roomRe = regexp.MustCompile(`hush · room (\S+) ·`)

func roomOf(t *testing.T, term *sshtest.Term) string {
	t.Helper()
	m := roomRe.FindStringSubmatch(term.Screen())
	if m == nil {
		t.Fatalf("no room in the header:\n%s", term.Screen())
	}
	return m[1]
}

const (
	keyTab       = "\t"
	keyEnter     = "\r"
	keyBackspace = "\x7f"
	keyDelete    = "\x1b[3~"
	keyCtrlL     = "\x0c"
)

func withMetrics(c *app.Config) { c.Metrics = "127.0.0.1:0" }

func TestLobbyMeetAskAccept(t *testing.T) {
	s := startServer(t, withMetrics)
	ana := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{})
	ana.WaitText("hush · lobby · 1 here")
	ana.WaitText("Nobody else is here yet")
	bo := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{Key: sshtest.NewKey(t)})
	bo.WaitText("lobby · 2 here")
	ana.WaitText("lobby · 2 here")
	anaName, boName := selfName(t, ana), selfName(t, bo)
	ana.WaitText(boName + " · key ") // listed, with the key badge
	bo.WaitText(anaName + " · guest, no key")

	// Public text, live per key, reaches everyone in the lobby.
	ana.Type("hello all")
	bo.WaitText("hello all")

	cy := sshtest.Dial(t, s.Addr(), "LOBBY", sshtest.Options{})
	cy.WaitText("lobby · 3 here")
	waitMetrics(t, s.MetricsAddr(),
		metric{name: "hush_lobby_people", want: 3},
		metric{name: "hush_joins_total", labels: []string{"op", "lobby"}, want: 3})

	// Ask: tab picks the first person listed (bo, who came first), enter
	// asks.
	cyName := selfName(t, cy)
	ana.WaitText(cyName)
	ana.Type(keyTab)
	ana.WaitText("enter asks for a private room")
	ana.WaitText("› ● " + boName)
	bells := bo.State().Bells
	ana.Type(keyEnter)
	ana.WaitText("asking " + boName + "…")
	bo.WaitText(anaName + " asks you for a private room")
	bo.WaitText("tab enter accepts · tab backspace declines")
	bo.WaitFor("one bell", func(string) bool { return bo.State().Bells == bells+1 })

	// Accept: both leave the lobby together into a new room for two.
	bo.Type(keyTab)
	bo.WaitText("enter accepts · backspace declines")
	bo.Type(keyEnter)
	bo.WaitText("2 of 2 here")
	ana.WaitText("2 of 2 here")
	if a, b := roomOf(t, ana), roomOf(t, bo); a != b {
		t.Fatalf("ana is in %s, bo in %s", a, b)
	}
	ana.Type("just us")
	bo.WaitText("just us")

	// The lobby saw them leave, never where to.
	cy.WaitText("lobby · 1 here")
	if strings.Contains(cy.Screen(), roomOf(t, ana)) {
		t.Fatalf("the lobby shows where they went:\n%s", cy.Screen())
	}
	waitMetrics(t, s.MetricsAddr(),
		metric{name: "hush_lobby_people", want: 1},
		metric{name: "hush_asks_total", labels: []string{"outcome", "sent"}, want: 1},
		metric{name: "hush_asks_total", labels: []string{"outcome", "accepted"}, want: 1},
		metric{name: "hush_asks_total", labels: []string{"outcome", "no-answer"}, want: 0},
		metric{name: "hush_members", want: 2})
}

func TestLobbyDeclineAndIgnore(t *testing.T) {
	s := startServer(t, withMetrics)
	ana := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{})
	bo := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{})
	ana.WaitText("lobby · 2 here")
	bo.WaitText("lobby · 2 here")
	anaName, boName := selfName(t, ana), selfName(t, bo)

	ana.Type(keyTab + keyEnter)
	bo.WaitText(anaName + " asks you")
	bo.Type(keyTab + keyBackspace)
	ana.WaitText("No answer from " + boName + ".")
	bo.WaitGone(anaName + " asks you")

	// Asking the same person again at once is refused with its sentence.
	ana.Type(keyTab + keyEnter)
	ana.WaitText("You asked " + boName + " a moment ago; try again in a few minutes.")
	waitMetrics(t, s.MetricsAddr(),
		metric{name: "hush_asks_total", labels: []string{"outcome", "sent"}, want: 1},
		metric{name: "hush_asks_total", labels: []string{"outcome", "no-answer"}, want: 1},
		metric{name: "hush_rejections_total", labels: []string{"reason", "asked-recently"}, want: 1})

	// Ignoring hides the person's text and drops their asks.
	bo.Type(keyTab + keyDelete)
	bo.WaitText("is ignored")
	bo.WaitText("· ignored")
	ana.Type("can you see me")
	bo.Type("x")
	ana.WaitText("x")
	if strings.Contains(bo.Screen(), "can you see me") {
		t.Fatalf("ignored text shown:\n%s", bo.Screen())
	}
}

func TestLockAndKnock(t *testing.T) {
	s := startServer(t, withMetrics)
	ana, code := openRoom(t, s.Addr(), "group", sshtest.Options{})
	bo := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	ana.WaitText("2 of 8 here")
	anaName := selfName(t, ana)

	ana.Type(keyCtrlL)
	ana.WaitText(anaName + " locked the room")
	bo.WaitText(anaName + " locked the room")
	bo.WaitText("· locked")

	// Someone with the code is not seated: they may knock.
	cy := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	cy.WaitText("This room is locked. Enter knocks, Esc leaves.")
	bells := ana.State().Bells
	cy.Type(keyEnter)
	cy.WaitText("Knocking at room")
	cyName := selfName(t, cy)
	ana.WaitText(cyName + " knocks")
	ana.WaitText("tab enter lets them in · tab backspace turns them away")
	bo.WaitText(cyName + " knocks")
	ana.WaitFor("one bell", func(string) bool { return ana.State().Bells == bells+1 })
	bo.Type(keyTab + keyEnter)
	cy.WaitText("You are in.")
	cy.WaitText("3 of 8 here")
	ana.WaitGone(cyName + " knocks")
	cy.Type("thanks")
	ana.WaitText("thanks")

	// Turned away.
	di := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	di.WaitText("Enter knocks")
	di.Type(keyEnter)
	diName := selfName(t, di)
	ana.WaitText(diName + " knocks")
	ana.Type(keyTab + keyBackspace)
	di.WaitText("Nobody let you in.")
	if got := di.Exit(); got != 0 {
		t.Fatalf("turned away: exit %d", got)
	}
	waitMetrics(t, s.MetricsAddr(),
		metric{name: "hush_knocks_total", want: 2},
		metric{name: "hush_rejections_total", labels: []string{"reason", "locked"}, want: 2})

	// Unlocked, the code seats people again.
	ana.Type(keyCtrlL)
	bo.WaitText(anaName + " unlocked the room")
	ed := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	ed.WaitText("4 of 8 here")
}

// A room for two is never locked; Esc at the locked room's question
// leaves without knocking.
func TestKnockLeaveAndTwoNeverLock(t *testing.T) {
	s := startServer(t)
	ana, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	ana.Type(keyCtrlL)
	ana.WaitText("A room for two is never locked")
	g, gcode := openRoom(t, s.Addr(), "group", sshtest.Options{})
	g.Type(keyCtrlL)
	g.WaitText("locked the room")
	cy := sshtest.Dial(t, s.Addr(), gcode, sshtest.Options{})
	cy.WaitText("Enter knocks, Esc leaves.")
	cy.Type("\x1b")
	cy.WaitText("You did not knock.")
	if got := cy.Exit(); got != 0 {
		t.Fatalf("exit %d", got)
	}
	if header := ana.Lines()[0]; strings.Contains(header, "locked") || !strings.Contains(header, code) {
		t.Fatalf("a room for two shows a lock: %q", header)
	}
}

// The real OpenSSH client asks and is asked.
func TestOpenSSHLobby(t *testing.T) {
	s := startServer(t)
	ana := openssh(t, s.Addr(), "lobby", "")
	ana.WaitText("lobby · 1 here")
	bo := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{})
	ana.WaitText("lobby · 2 here")
	anaName := selfName(t, ana)
	bo.Type(keyTab + keyEnter)
	ana.WaitText("asks you for a private room")
	ana.Type(keyTab + keyEnter)
	ana.WaitText("2 of 2 here")
	bo.WaitText("2 of 2 here")
	bo.Type("over x/crypto")
	ana.WaitText("over x/crypto")
	ana.Type("over openssh")
	bo.WaitText("over openssh")
	if roomOf(t, ana) != roomOf(t, bo) {
		t.Fatalf("%s is in %s, bo in %s", anaName, roomOf(t, ana), roomOf(t, bo))
	}
}

// What a hostile person types into the lobby renders inert on every other
// screen.
func TestLobbyInjectionInert(t *testing.T) {
	s := startServer(t)
	ana := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{})
	bo := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{})
	ana.WaitText("lobby · 2 here")
	before := ana.State()
	for i, attack := range attacks {
		bo.Paste(attack)
		bo.Type(strings.NewReplacer("\x1b", "", "\x03", "", "\x04", "", "\t", "").Replace(attack))
		bo.Type(fmt.Sprintf("\r#%d\r", i))
		ana.WaitText(fmt.Sprintf("#%d", i))
	}
	after := ana.State()
	if after.Title != "" || after.Bells != before.Bells {
		t.Errorf("title %q, %d bells", after.Title, after.Bells-before.Bells)
	}
	raw := bytes.ReplaceAll(ana.Raw(), []byte(ansi.RequestBackgroundColor), nil)
	for _, bad := range []string{"\x1b]", "\x1bP", "\x1b_", "\u009b", "\u202e", "\x08", "\x7f", "\x1b[?1000h", "\x1b[?1049l"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("ana's terminal was sent %q", bad)
		}
	}
	if !strings.HasPrefix(ana.Lines()[0], "hush · lobby · 2 here") {
		t.Errorf("header rewritten: %q", ana.Lines()[0])
	}
}
