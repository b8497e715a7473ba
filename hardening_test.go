package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// attacks are what a hostile participant might type or paste to reach
// into someone else's terminal.
var attacks = []string{
	"\x1b]0;pwned\x07",                     // window title
	"\x1b]2;pwned\x1b\\",                   // title, ST-terminated
	"\x1b[2J\x1b[H",                        // clear screen, home
	"\x1b[10;10Hmoved",                     // cursor move
	"abc\b\b\bXYZ",                         // backspace run
	"\x7f\x7f\x7f",                         // DEL
	"\x1b]52;c;ZXZpbA==\x07",               // OSC 52 clipboard write
	"\x1b[?1000h\x1b[?1006h",               // mouse reporting
	"\x1b[?1049l",                          // leave the alternate screen
	"\x1bPq#0;2;0;0;0#1;2;100;100;0\x1b\\", // DCS (sixel)
	"\x1b_Gf=100;AAAA\x1b\\",               // APC (kitty graphics)
	"\u009b2J\u009d0;c1title\u009c",        // C1 CSI and OSC
	"\u202egnp.exe",                        // right-to-left override
	"\u2066\u2067\u2068\u2069\u200e\u200f", // bidi isolates and marks
	"\u0301\u0301\u0301",                   // combining marks with nothing to sit on
	"\xff\xfe\xc0\xaf",                     // invalid UTF-8
	"\x07\x07\x07",                         // bells
	"\x1b]8;;https://evil.test\x1b\\link\x1b]8;;\x1b\\", // hyperlink
	"e" + strings.Repeat("\u0301", 50),                  // zalgo
}

// junk is n bytes of seeded noise: every byte value, no structure.
func junk(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

func TestInjectionNeverReachesThePeer(t *testing.T) {
	a := startTest(t, func(c *config) { c.Linger = 30 * time.Second; c.KeyBurst = 100000 })
	alice, bob, _ := openPair(t, a)
	before := alice.State()
	header := alice.Lines()[0]

	for i, attack := range attacks {
		bob.Paste(attack)
		bob.Type("\r")
		// Typed, the same bytes arrive as keys; only the ones that would
		// end bob's own session are left out.
		bob.Type(strings.NewReplacer("\x1b", "", "\x03", "", "\x04", "").Replace(attack))
		bob.Type(fmt.Sprintf("\r#%d\r", i))
		alice.WaitText(fmt.Sprintf("#%d", i))
	}
	for seed := range uint64(3) {
		// An unterminated DCS or OSC in the noise (ESC P, or a bare C1 byte)
		// holds bob's own input parser until a terminator comes, which says
		// nothing about what reaches alice: so the noise ends with one.
		bob.Paste(strings.ReplaceAll(junk(10<<10, seed), "\x1b[201~", "") + "\x1b\\")
		bob.Type("\rEND" + fmt.Sprint(seed) + "\r")
		alice.WaitText("END" + fmt.Sprint(seed))
	}

	after := alice.State()
	if after.Title != "" {
		t.Errorf("title changed to %q", after.Title)
	}
	if after.Bells != before.Bells {
		t.Errorf("%d bells rang", after.Bells-before.Bells)
	}
	if !slices.Equal(after.Modes, before.Modes) {
		t.Errorf("terminal modes changed: %v → %v", before.Modes, after.Modes)
	}
	raw := alice.Raw()
	for _, bad := range []string{"\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\u009b", "\u009d", "\u202e", "\u2066", "\x08", "\x7f", "\x1b[?1000h", "\x1b[?1049l"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("alice's terminal was sent %q", bad)
		}
	}
	if n := bytes.Count(raw, []byte("\x07")); n != before.Bells {
		t.Errorf("alice's terminal was sent %d BEL bytes, want only the join bell", n)
	}
	lines := alice.Lines()
	if lines[0] != header {
		t.Errorf("header rewritten: %q → %q", header, lines[0])
	}
	you := lineOf(alice, "· you")
	if you < 0 || !strings.Contains(lines[len(lines)-1], "esc leaves") && !strings.Contains(lines[len(lines)-1], "joined") {
		t.Fatalf("alice's own lane or status line is gone:\n%s", alice.Screen())
	}
	for _, l := range lines[you+1 : len(lines)-1] {
		if strings.TrimSpace(l) != "" {
			t.Errorf("text appeared in alice's own lane: %q", l)
		}
	}
	if x, y := alice.Cursor(); y != you+1 || x != 2 {
		t.Errorf("cursor at %d,%d, want the start of alice's lane at 2,%d", x, y, you+1)
	}
	if bob.Screen() == "" {
		t.Fatal("bob's screen is empty")
	}
	select {
	case <-bob.Done():
		t.Fatal("bob was disconnected for pasting")
	default:
	}
}

// stallingClient opens a room seat with a PTY and never reads what the
// server sends; it asks for redraws (window changes) to fill its window
// quickly, as a hostile client could.
func stallingClient(t *testing.T, addr, user string) (*gossh.Client, func()) {
	t.Helper()
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil })},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 100, 300, nil); err != nil {
		t.Fatal(err)
	}
	// Pipes that are never read: without them x/crypto would drain the
	// channel into io.Discard by itself.
	if _, err := sess.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.StderrPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	flood := func() {
		// Bounded: at most 20,000 requests or 10 s.
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
			if _, err := sess.SendRequest("window-change", false, gossh.Marshal(struct{ W, H, PW, PH uint32 }{uint32(299 + i%2), 100, 0, 0})); err != nil {
				return
			}
		}
	}
	return client, flood
}

func TestSlowReaderIsDroppedAndHurtsNobody(t *testing.T) {
	a := startTest(t, func(c *config) { c.Stall = time.Second; c.MaxGroup = 3; c.Linger = 30 * time.Second })
	baseline, _ := serverGoroutines()

	// A pair and a group, each with someone who stops reading.
	alice, pair := openRoom(t, a, "new", sshtest.Options{})
	slowPair, floodPair := stallingClient(t, a.Addr(), pair)
	alice.WaitText("joined")
	ann, group := openRoom(t, a, "group", sshtest.Options{})
	ben := sshtest.Dial(t, a.Addr(), group, sshtest.Options{})
	slowGroup, floodGroup := stallingClient(t, a.Addr(), group)
	ann.WaitText("3 of 3 here")
	// And a room with nobody slow in it.
	xena, other := openRoom(t, a, "new", sshtest.Options{})
	yuri := sshtest.Dial(t, a.Addr(), other, sshtest.Options{})
	xena.WaitText("joined")

	var wg sync.WaitGroup
	wg.Go(floodPair)
	wg.Go(floodGroup)
	// While the slow ones fill up, everyone else keeps talking.
	for i := range 5 {
		word := fmt.Sprintf("w%d", i)
		ann.Type(word + " ")
		ben.WaitText(word)
		xena.Type(word + " ")
		yuri.WaitText(word)
	}
	alice.WaitText("left")
	ann.WaitText("left")
	ann.WaitText("2 of 3 here")
	ann.Type("still here")
	ben.WaitText("still here")
	wg.Wait()

	for _, term := range []*sshtest.Term{alice, ann, ben, xena, yuri} {
		term.Close()
	}
	slowPair.Close()
	slowGroup.Close()
	waitGoroutines(t, baseline)
}

// serverGoroutines counts the goroutines running server code (SSH
// connections, programs, screens), leaving out the test's own clients.
func serverGoroutines() (int, string) {
	buf := make([]byte, 8<<20)
	dump := string(buf[:runtime.Stack(buf, true)])
	n := 0
	var kept []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, ".(*Server).Serve(") {
			continue // the accept loop lives as long as the server
		}
		for _, mark := range []string{"charm.land/ssh.", "charm.land/bubbletea/", "hush/ui.", "hush/session.", "hush/rooms."} {
			if strings.Contains(g, mark) {
				n++
				kept = append(kept, g)
				break
			}
		}
	}
	return n, strings.Join(kept, "\n\n")
}

// waitGoroutines waits for the server's goroutines to come back to
// baseline, failing with their stacks if they do not.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(sshtest.Timeout)
	for {
		n, stacks := serverGoroutines()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server goroutines, baseline %d:\n%s", n, baseline, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTypingFloodIsDroppedNotKicked(t *testing.T) {
	const rate, burst = 20, 40
	a := startTest(t, func(c *config) { c.KeyRate = rate; c.KeyBurst = burst; c.MaxPaste = 30; c.Linger = 30 * time.Second })
	alice, code := openRoom(t, a, "new", sshtest.Options{Width: 200})
	bob := sshtest.Dial(t, a.Addr(), code, sshtest.Options{Width: 200})
	alice.WaitText("joined")

	// A paste longer than --max-paste is cut, with a hint.
	bob.Paste(strings.Repeat("p", 100))
	bob.WaitText("Paste cut short")
	alice.WaitText(strings.Repeat("p", 30))
	if strings.Contains(alice.Screen(), strings.Repeat("p", 31)) {
		t.Fatal("paste was not cut to --max-paste")
	}

	// A flood past the burst is dropped, with a hint.
	bob.Type("\r")
	start := time.Now()
	bob.Type(strings.Repeat("x", 500))
	bob.WaitText("Slow down: some keys were dropped.")
	alice.WaitText(strings.Repeat("x", 5))
	got := strings.Count(alice.Screen(), "x")
	if limit := burst + int(time.Since(start).Seconds()*rate) + 1; got > limit {
		t.Fatalf("alice saw %d keys of a 500-key flood, limit %d", got, limit)
	}
	select {
	case <-bob.Done():
		t.Fatal("flooding disconnected bob")
	default:
	}
	// Bob can still talk once the budget refills.
	alice.Type("ok?")
	bob.WaitText("ok?")
}

func TestNormalPasteIsNotPunished(t *testing.T) {
	a := startTest(t, func(c *config) { c.Linger = 30 * time.Second })
	alice, bob, _ := openPair(t, a)
	bob.Paste(strings.Repeat("lorem ipsum ", 70) + "\nEND")
	alice.WaitText("END")
	if s := bob.Screen(); strings.Contains(s, "Slow down") || strings.Contains(s, "cut short") {
		t.Fatalf("an 850-character paste was limited:\n%s", s)
	}
}

func TestPerAddressLimits(t *testing.T) {
	t.Run("concurrent", func(t *testing.T) {
		a := startTest(t, func(c *config) { c.ConnsPerIP = 2 })
		alice, code := openRoom(t, a, "new", sshtest.Options{})
		openRoom(t, a, "new", sshtest.Options{})
		third := sshtest.Dial(t, a.Addr(), "new", sshtest.Options{})
		if got := third.Exit(); got != 1 || !strings.Contains(third.Stderr(), "Too many connections from your address") {
			t.Fatalf("third connection: exit %d, stderr %q", got, third.Stderr())
		}
		// Another address is not affected, and neither is the room.
		bob := sshtest.Dial(t, a.Addr(), code, sshtest.Options{From: "127.0.0.2"})
		alice.WaitText("joined")
		bob.Type("fine")
		alice.WaitText("fine")
	})
	t.Run("wrong codes", func(t *testing.T) {
		a := startTest(t, func(c *config) { c.WrongCodes = 2 })
		alice, code := openRoom(t, a, "new", sshtest.Options{})
		for _, wrong := range []string{"k7dm2q9xw0", "abcdefghjk", "mnpqrstuvw"} {
			term := sshtest.Dial(t, a.Addr(), wrong, sshtest.Options{From: "127.0.0.3"})
			if got := term.Exit(); got != 1 {
				t.Fatalf("wrong code %s: exit %d", wrong, got)
			}
		}
		locked := sshtest.Dial(t, a.Addr(), code, sshtest.Options{From: "127.0.0.3"})
		if got := locked.Exit(); got != 1 || !strings.Contains(locked.Stderr(), "Too many wrong room codes") {
			t.Fatalf("after wrong codes: exit %d, stderr %q", got, locked.Stderr())
		}
		bob := sshtest.Dial(t, a.Addr(), code, sshtest.Options{From: "127.0.0.4"})
		bob.WaitText("2 of 2 here")
		alice.WaitText("joined")
	})
	t.Run("rate", func(t *testing.T) {
		a := startTest(t, func(c *config) { c.ConnsPerMinute = 5; c.ConnsPerIP = 0 })
		var told, dropped int
		for range 20 {
			term, err := sshtest.TryDial(t, a.Addr(), "root", sshtest.Options{From: "127.0.0.5"})
			if err != nil {
				dropped++
				continue
			}
			term.Exit()
			if strings.Contains(term.Stderr(), "Too many connections") {
				told++
			}
		}
		if told != 5 || dropped != 10 {
			t.Fatalf("20 fast connections with 5 a minute allowed: %d told, %d dropped; want 5 and 10", told, dropped)
		}
		sshtest.Dial(t, a.Addr(), "new", sshtest.Options{From: "127.0.0.6"}).WaitText("Waiting")
	})
}

func TestServerFull(t *testing.T) {
	a := startTest(t, func(c *config) { c.MaxSessions = 2 })
	openRoom(t, a, "new", sshtest.Options{})
	openRoom(t, a, "new", sshtest.Options{From: "127.0.0.2"})
	full := sshtest.Dial(t, a.Addr(), "new", sshtest.Options{From: "127.0.0.3"})
	if got := full.Exit(); got != 1 || !strings.Contains(full.Stderr(), "server is full") {
		t.Fatalf("exit %d, stderr %q", got, full.Stderr())
	}
}

func TestHandshakeAndIdleTimeouts(t *testing.T) {
	a := startTest(t, func(c *config) { c.HandshakeTimeout = time.Second; c.IdleTimeout = time.Second })
	conn, err := net.Dial("tcp", a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(sshtest.Timeout))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("a silent client was never hung up on")
			}
			break
		}
	}

	alice, code := openRoom(t, a, "new", sshtest.Options{})
	bob := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	bob.Type("typing keeps bob here")
	if got := alice.Exit(); got != 0 || !strings.Contains(alice.Screen(), "You typed nothing for 1s") {
		t.Fatalf("idle alice: exit %d, screen:\n%s", got, alice.Screen())
	}
}

func TestThousandSessionsLeaveNoTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("connects 1,000 sessions")
	}
	a := startTest(t, func(c *config) { c.ConnsPerMinute = 0; c.ConnsPerIP = 0 })
	// Warm up once so lazily built state is in the baseline.
	warm, _ := openRoom(t, a, "new", sshtest.Options{})
	warm.Close()
	baseline, _ := serverGoroutines()
	heap := heapInUse()

	const total, parallel = 1000, 8
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range parallel {
		wg.Go(func() {
			for i := range jobs {
				user := "new"
				if i%4 == 3 {
					user = "root" // some only see the welcome
				}
				if err := briefSession(a.Addr(), user); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	waitGoroutines(t, baseline)
	grown := heapInUse() - heap
	if grown > 8<<20 {
		t.Fatalf("heap grew by %d KB over %d sessions", grown>>10, total)
	}
	t.Logf("%d sessions came and went; heap in use changed by %d KB", total, grown>>10)
	if s := a.rooms.Stats(); s.Rooms != 0 {
		t.Fatalf("rooms still open: %+v", s)
	}
}

// briefSession is a person who connects, sees the room (or the welcome),
// types a little and leaves: a bare client, so the test measures the
// server and not its own terminals.
func briefSession(addr, user string) error {
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil })},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         sshtest.Timeout,
	})
	if err != nil {
		return err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	if err := sess.RequestPty("xterm", 10, 40, nil); err != nil {
		return err
	}
	out, _ := sess.StdoutPipe()
	in, _ := sess.StdinPipe()
	if err := sess.Shell(); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	seen := ""
	for !strings.Contains(seen, "hush") {
		n, err := out.Read(buf)
		if err != nil {
			return fmt.Errorf("%s: read: %w", user, err)
		}
		seen += string(buf[:n])
	}
	_, _ = in.Write([]byte("hi\x1b"))
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return sess.Wait()
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
