package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/rooms"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// testLinger is short so fading can be watched to the end in a test.
const testLinger = 1500 * time.Millisecond

// startTest runs the real server on a free loopback port. Edit the config
// in tweak; the data directory is fresh unless tweak sets one.
func startTest(t *testing.T, tweak ...func(*config)) *app {
	t.Helper()
	return startLogged(t, io.Discard, tweak...)
}

// startLogged is startTest with the server's log written to log.
func startLogged(t *testing.T, log io.Writer, tweak ...func(*config)) *app {
	t.Helper()
	cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Host = "chat.test"
	cfg.Linger = testLinger
	for _, f := range tweak {
		f(&cfg)
	}
	a, err := start(cfg, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.srv.Shutdown(ctx)
	})
	return a
}

var inviteRE = regexp.MustCompile(`ssh -p (\d+) ([a-z0-9]+)@chat\.test`)

// openRoom connects as user ("new" or "group") and returns the terminal and
// the room code read off its screen.
func openRoom(t *testing.T, a *app, user string, o sshtest.Options) (*sshtest.Term, string) {
	t.Helper()
	term := sshtest.Dial(t, a.Addr(), user, o)
	term.WaitText("Waiting for someone to join")
	m := inviteRE.FindStringSubmatch(term.Screen())
	if m == nil {
		t.Fatalf("no invite on screen:\n%s", term.Screen())
	}
	if !strings.HasSuffix(a.Addr(), ":"+m[1]) {
		t.Fatalf("invite port %s, server on %s", m[1], a.Addr())
	}
	return term, m[2]
}

// openPair opens a room for two with default terminals and waits until
// both are in.
func openPair(t *testing.T, a *app) (alice, bob *sshtest.Term, code string) {
	t.Helper()
	alice, code = openRoom(t, a, "new", sshtest.Options{})
	bob = sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	alice.WaitText("joined")
	return alice, bob, code
}

// lineOf returns the index of the first screen line containing s, or -1.
func lineOf(term *sshtest.Term, s string) int {
	for i, l := range term.Lines() {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

func TestPairTalks(t *testing.T) {
	a := startTest(t)
	alice, code := openRoom(t, a, "new", sshtest.Options{})
	if !strings.Contains(alice.Screen(), "1 of 2 here") {
		t.Fatalf("header:\n%s", alice.Screen())
	}
	bobKey := sshtest.NewKey(t)
	bob := sshtest.Dial(t, a.Addr(), strings.ToUpper(code), sshtest.Options{Key: bobKey})
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
	a := startTest(t, func(c *config) { c.Linger = 3 * time.Second })
	alice, bob, _ := openPair(t, a)
	bob.Type("Q")
	alice.WaitText("Q")
	fresh := alice.CellStyle("Q")
	alice.WaitFor("Q to dim", func(string) bool {
		s := alice.CellStyle("Q")
		return s != "" && s != fresh
	})
	alice.WaitGone("Q")
}

func TestLeaveAndRoomEnds(t *testing.T) {
	a := startTest(t)
	alice, bob, code := openPair(t, a)
	bob.Type("\x1b") // Esc leaves
	if got := bob.Exit(); got != 0 {
		t.Fatalf("bob exit status %d", got)
	}
	if !strings.Contains(bob.Screen(), "You left the room") {
		t.Fatalf("bob's terminal after leaving:\n%s", bob.Screen())
	}
	alice.WaitText("left")
	alice.WaitText("Waiting for someone to join") // and she may wait for someone new
	carol := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	carol.WaitText("2 of 2 here")

	carol.Type("\x03") // Ctrl+C leaves too
	carol.Exit()
	alice.Type("\x1b")
	alice.Exit()
	late := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	if got := late.Exit(); got == 0 {
		t.Fatal("joining an ended room exited 0")
	}
	if !strings.Contains(late.Stderr(), "No room "+code+" is open") {
		t.Fatalf("stderr %q", late.Stderr())
	}
}

func TestGroupAndFullRooms(t *testing.T) {
	a := startTest(t, func(c *config) { c.MaxGroup = 3 })
	ann, code := openRoom(t, a, "group", sshtest.Options{})
	ben := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	cat := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	for _, term := range []*sshtest.Term{ann, ben, cat} {
		term.WaitText("3 of 3 here")
	}
	ben.Type("from ben")
	ann.WaitText("from ben")
	cat.WaitText("from ben")
	extra := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	if got := extra.Exit(); got == 0 || !strings.Contains(extra.Stderr(), "is full") {
		t.Fatalf("fourth member: exit %d, stderr %q", got, extra.Stderr())
	}

	_, pair := openRoom(t, a, "new", sshtest.Options{})
	sshtest.Dial(t, a.Addr(), pair, sshtest.Options{}).WaitText("2 of 2 here")
	third := sshtest.Dial(t, a.Addr(), pair, sshtest.Options{})
	if got := third.Exit(); got == 0 || !strings.Contains(third.Stderr(), "is full") {
		t.Fatalf("third in a pair: exit %d, stderr %q", got, third.Stderr())
	}
}

func TestBadCodesAndWelcome(t *testing.T) {
	a := startTest(t)
	// A well-formed code this server could issue but never did.
	salt, _ := os.ReadFile(filepath.Join(a.cfg.Data, "salt"))
	codes, _ := rooms.NewCodes(strings.TrimSpace(string(salt)))
	unknown, _ := codes.New()
	for _, tc := range []struct{ user, want string }{
		{unknown, "No room " + unknown + " is open"},
		{"k7dm2q9xw0", "That is not a room code"},
		{"abcdefghjkmn0o1l", "That is not a room code"},
	} {
		term := sshtest.Dial(t, a.Addr(), tc.user, sshtest.Options{})
		if got := term.Exit(); got != 1 {
			t.Errorf("user %q: exit %d, want 1", tc.user, got)
		}
		if !strings.Contains(term.Stderr(), tc.want) || strings.Contains(term.Stderr(), "\x1b") {
			t.Errorf("user %q: stderr %q, want %q", tc.user, term.Stderr(), tc.want)
		}
	}
	for _, user := range []string{"root", "Alice", "k7dm2q9x!\x1b[2J"} {
		term := sshtest.Dial(t, a.Addr(), user, sshtest.Options{})
		if got := term.Exit(); got != 0 {
			t.Errorf("welcome for %q exited %d", user, got)
		}
		for _, want := range []string{"new@chat.test", "group@chat.test", "CODE@chat.test"} {
			if !strings.Contains(term.Screen(), want) {
				t.Errorf("welcome for %q lacks %q:\n%s", user, want, term.Screen())
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	a := startTest(t)
	for name, tc := range map[string]struct {
		o    sshtest.Options
		want string
	}{
		"exec":   {sshtest.Options{Command: "ls"}, "not a shell"},
		"no pty": {sshtest.Options{NoPTY: true}, "needs a terminal"},
	} {
		term := sshtest.Dial(t, a.Addr(), "new", tc.o)
		if got := term.Exit(); got != 1 || !strings.Contains(term.Stderr(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q", name, got, term.Stderr())
		}
	}

	// Subsystems, agent and port forwarding, on a raw client.
	client, err := gossh.Dial("tcp", a.Addr(), &gossh.ClientConfig{
		User:            "new",
		Auth:            []gossh.AuthMethod{gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil })},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, _ := client.NewSession()
	errPipe, _ := sess.StderrPipe()
	if err := sess.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	// x/crypto reports no exit status for a subsystem; the message and the
	// closed channel are what a client sees.
	if msg, err := io.ReadAll(errPipe); err != nil || !strings.Contains(string(msg), "no file transfer") {
		t.Errorf("sftp: %v, stderr %q", err, msg)
	}

	sess, _ = client.NewSession()
	var stderr strings.Builder
	sess.Stderr = &stderr
	if err := agent.RequestAgentForwarding(sess); err != nil {
		t.Fatal(err)
	}
	_ = sess.RequestPty("xterm", 24, 80, nil)
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Wait(); exitStatus(err) != 1 || !strings.Contains(stderr.String(), "agent forwarding") {
		t.Errorf("agent: %v, stderr %q", err, stderr.String())
	}

	if _, err := client.Dial("tcp", "127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), "does not forward ports") {
		t.Errorf("port forwarding: %v", err)
	}
	if _, err := client.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Errorf("remote forwarding was accepted")
	}
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(*gossh.ExitError); ok {
		return e.ExitStatus()
	}
	return -1
}

func TestIdentity(t *testing.T) {
	a := startTest(t)
	key := sshtest.NewKey(t)
	var handles []string
	for range 2 {
		_, code := openRoom(t, a, "new", sshtest.Options{})
		guest := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
		guest.WaitText("2 of 2 here")
		keyed := sshtest.Dial(t, a.Addr(), "new", sshtest.Options{Key: key})
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

func TestHostKeyKeptAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	var keys []string
	for range 2 {
		a := startTest(t, func(c *config) { c.Data = dir })
		term := sshtest.Dial(t, a.Addr(), "root", sshtest.Options{})
		term.Exit()
		keys = append(keys, gossh.FingerprintSHA256(term.HostKey))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if keys[0] != keys[1] {
		t.Fatalf("host key changed across restart: %v", keys)
	}
	for _, f := range []string{"host_ed25519", "salt"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", f, err, st.Mode())
		}
	}
}

func TestShutdownTellsEveryone(t *testing.T) {
	a := startTest(t)
	alice, bob, _ := openPair(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, term := range []*sshtest.Term{alice, bob} {
		term.Exit()
		if !strings.Contains(term.Screen(), "server is restarting") {
			t.Fatalf("screen after shutdown:\n%s", term.Screen())
		}
	}
}

func TestTinyAndHugeWindows(t *testing.T) {
	a := startTest(t, func(c *config) { c.Linger = 5 * time.Second })
	alice, code := openRoom(t, a, "new", sshtest.Options{})
	alice.Resize(20, 5)
	alice.WaitText(code) // the code stays readable in a tiny window
	bob := sshtest.Dial(t, a.Addr(), code, sshtest.Options{Width: 20, Height: 5})
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
	alice.WaitFor("a reflowed 300-column header", func(s string) bool {
		return strings.Contains(s, "hush · room "+code+" · 2 of 2 here")
	})
	alice.Resize(20, 5)
	bob.Type("ok")
	alice.WaitText("ok")
}
