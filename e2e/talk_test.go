package e2e

// Talking: what people in a room see of each other.

import (
	"regexp"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

func TestPairTalks(t *testing.T) {
	s := startServer(t)
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	if !strings.Contains(alice.Screen(), "1 of 2 here") {
		t.Fatalf("header:\n%s", alice.Screen())
	}
	bobKey := sshtest.NewKey(t)
	bob := sshtest.Dial(t, s.Addr(), strings.ToUpper(code), sshtest.Options{Key: bobKey})
	bob.WaitText("2 of 2 here")
	alice.WaitText("joined")
	alice.WaitGone("Waiting for someone")
	if alice.State().Bells != 1 {
		t.Errorf("alice heard %d bells when bob joined, want 1", alice.State().Bells)
	}

	// Every keystroke shows as typed, in bob's lane above alice's own.
	bob.Type("h")
	alice.WaitText("h")
	bob.Type("ello")
	alice.WaitText("hello")
	if l, you := lineOf(alice, "hello"), lineOf(alice, "· you"); l < 0 || you < 0 || l > you {
		t.Fatalf("bob's text at line %d, alice's own lane at %d:\n%s", l, you, alice.Screen())
	}
	if bob.Screen() == "" || lineOf(bob, "hello") < lineOf(bob, "· you") {
		t.Fatalf("bob's own text should be in his own (bottom) lane:\n%s", bob.Screen())
	}

	// Enter starts a new line; backspace and arrows change nothing.
	bob.Type("\r")
	bob.Type("\x7f\x7f\x1b[D")
	bob.WaitText("No taking it back")
	bob.Type("world")
	alice.WaitText("world")
	if h, w := lineOf(alice, "hello"), lineOf(alice, "world"); h < 0 || w != h+1 {
		t.Fatalf("hello at %d, world at %d:\n%s", h, w, alice.Screen())
	}
	if !strings.Contains(alice.Screen(), "hello") {
		t.Fatalf("backspace erased text on the peer:\n%s", alice.Screen())
	}

	// Alice answers; bob sees it.
	alice.Type("hi bob")
	bob.WaitText("hi bob")

	// Then it all fades to nothing.
	alice.WaitGone("hello")
	alice.WaitGone("world")
	bob.WaitGone("hi bob")
}

func TestFadeDims(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 3 * time.Second })
	alice, bob, _ := openPair(t, s.Addr())
	bob.Type("Q")
	alice.WaitText("Q")
	fresh := alice.CellStyle("Q")
	alice.WaitFor("Q to dim", func(string) bool {
		now := alice.CellStyle("Q")
		return now != "" && now != fresh
	})
	alice.WaitGone("Q")
}

func TestLeaveAndRoomEnds(t *testing.T) {
	s := startServer(t)
	alice, bob, code := openPair(t, s.Addr())
	// Esc once only asks; twice leaves, and the goodbye says how to come back.
	bob.Type("\x1b")
	bob.WaitText("Press esc again to leave")
	select {
	case <-bob.Done():
		t.Fatal("one esc ended the session")
	default:
	}
	bob.Type("x")
	alice.WaitText("x")             // still in the room, still talking
	bob.WaitGone("Press esc again") // typing in between starts over
	bob.Type("\x1b")
	bob.WaitText("Press esc again")
	bob.Type("\x1b")
	if got := bob.Exit(); got != 0 {
		t.Fatalf("bob exit status %d", got)
	}
	if !strings.Contains(bob.Screen(), "You left the room") || !strings.Contains(bob.Screen(), "to come back: ssh -p") {
		t.Fatalf("bob's terminal after leaving:\n%s", bob.Screen())
	}
	alice.WaitText("left")
	alice.WaitText("Waiting for someone to join") // and she may wait for someone new
	carol := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	carol.WaitText("2 of 2 here")

	carol.Type("\x03") // Ctrl+C twice leaves too
	carol.WaitText("Press ctrl+c again")
	carol.Type("\x03")
	carol.Exit()
	alice.Type("\x04") // Ctrl+D leaves at once
	alice.Exit()
	if strings.Contains(alice.Screen(), "to come back") {
		t.Fatalf("the last to leave was told how to come back to a room that ended:\n%s", alice.Screen())
	}
	late := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	if got := late.Exit(); got == 0 {
		t.Fatal("joining an ended room exited 0")
	}
	if !strings.Contains(late.Stderr(), "No room "+code+" is open") {
		t.Fatalf("stderr %q", late.Stderr())
	}
}

func TestGroupAndFullRooms(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.MaxGroup = 3 })
	ann, code := openRoom(t, s.Addr(), "group", sshtest.Options{})
	ben := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	cat := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	for _, term := range []*sshtest.Term{ann, ben, cat} {
		term.WaitText("3 of 3 here")
	}
	ben.Type("from ben")
	ann.WaitText("from ben")
	cat.WaitText("from ben")
	extra := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	if got := extra.Exit(); got == 0 || !strings.Contains(extra.Stderr(), "Room "+code+" is full. Start your own: ssh -p ") {
		t.Fatalf("fourth member: exit %d, stderr %q", got, extra.Stderr())
	}

	_, pair := openRoom(t, s.Addr(), "new", sshtest.Options{})
	sshtest.Dial(t, s.Addr(), pair, sshtest.Options{}).WaitText("2 of 2 here")
	third := sshtest.Dial(t, s.Addr(), pair, sshtest.Options{})
	if got := third.Exit(); got == 0 || !strings.Contains(third.Stderr(), "is full") {
		t.Fatalf("third in a pair: exit %d, stderr %q", got, third.Stderr())
	}
}

func TestIdentity(t *testing.T) {
	s := startServer(t)
	key := sshtest.NewKey(t)
	var handles []string
	for range 2 {
		_, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
		guest := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
		guest.WaitText("2 of 2 here")
		keyed := sshtest.Dial(t, s.Addr(), "new", sshtest.Options{Key: key})
		keyed.WaitText("· you")
		m := regexp.MustCompile(`● ([a-z]+-[a-z]+) · key ([A-Za-z0-9+/]{8}) · you`).FindStringSubmatch(keyed.Screen())
		if m == nil {
			t.Fatalf("no handle and badge:\n%s", keyed.Screen())
		}
		if fp := gossh.FingerprintSHA256(key.PublicKey()); !strings.HasPrefix(fp, "SHA256:"+m[2]) {
			t.Fatalf("badge %s is not the start of %s", m[2], fp)
		}
		handles = append(handles, m[1])
		if !regexp.MustCompile(`● guest-[a-z]+-[a-z]+ · guest, no key · you`).MatchString(guest.Screen()) {
			t.Fatalf("guest not marked:\n%s", guest.Screen())
		}
	}
	if handles[0] != handles[1] {
		t.Fatalf("same key, handles %v", handles)
	}
}

func TestTinyAndHugeWindows(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 5 * time.Second })
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	alice.Resize(20, 5)
	alice.WaitText(code) // the code stays readable in a tiny window
	bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{Width: 20, Height: 5})
	alice.WaitText("joined")
	// Wide characters, emoji and a combining mark typed as its own key.
	bob.Type("日本👩‍💻e")
	bob.Type("\u0301")
	alice.WaitText("日本👩\u200d💻e\u0301") // kept whole, mark on its letter
	for _, l := range alice.Lines() {
		if w := len([]rune(l)); w > 20 {
			t.Fatalf("line wider than the window: %q", l)
		}
	}
	alice.Resize(300, 100)
	alice.WaitFor("a reflowed 300-column header", func(screen string) bool {
		return strings.Contains(screen, "hush · room "+code+" · 2 of 2 here")
	})
	alice.Resize(20, 5)
	bob.Type("ok")
	alice.WaitText("ok")
}
