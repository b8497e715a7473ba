package e2e

// Limits: on typing and pasting, per address, server-wide and in time,
// and that a great many sessions leave nothing behind.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

func TestTypingFloodIsDroppedNotKicked(t *testing.T) {
	const rate, burst = 20, 40
	s := startServer(t, func(c *app.Config) {
		c.KeyRate = rate
		c.KeyBurst = burst
		c.MaxPaste = 30
		c.Linger = 30 * time.Second
	})
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{Width: 200})
	bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{Width: 200})
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
	s := startServer(t, func(c *app.Config) { c.Linger = 30 * time.Second })
	alice, bob, _ := openPair(t, s.Addr())
	bob.Paste(strings.Repeat("lorem ipsum ", 70) + "\nEND")
	alice.WaitText("END")
	if screen := bob.Screen(); strings.Contains(screen, "Slow down") || strings.Contains(screen, "cut short") {
		t.Fatalf("an 850-character paste was limited:\n%s", screen)
	}
}

func TestPerAddressLimits(t *testing.T) {
	t.Run("concurrent", func(t *testing.T) {
		s := startServer(t, func(c *app.Config) { c.ConnsPerIP = 2 })
		alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
		openRoom(t, s.Addr(), "new", sshtest.Options{})
		_, err := sshtest.TryDial(t, s.Addr(), "new", sshtest.Options{})
		if be, ok := errors.AsType[*sshtest.BannerError](err); !ok || !strings.Contains(be.Banner, "Too many connections from your address") {
			t.Fatalf("third connection: %v, want the reason in the banner", err)
		}
		// Another address is not affected, and neither is the room.
		bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{From: "127.0.0.2"})
		alice.WaitText("joined")
		bob.Type("fine")
		alice.WaitText("fine")
	})
	t.Run("wrong codes", func(t *testing.T) {
		s := startServer(t, func(c *app.Config) { c.WrongCodes = 2; c.Metrics = "127.0.0.1:0" })
		alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
		for _, wrong := range []string{"k7dm2q9xw0", "abcdefghjk", "mnpqrstuvw"} {
			term := sshtest.Dial(t, s.Addr(), wrong, sshtest.Options{From: "127.0.0.3"})
			if got := term.Exit(); got != 1 {
				t.Fatalf("wrong code %s: exit %d", wrong, got)
			}
		}
		locked := sshtest.Dial(t, s.Addr(), code, sshtest.Options{From: "127.0.0.3"})
		if got := locked.Exit(); got != 1 || !strings.Contains(locked.Stderr(), "Too many wrong room codes") {
			t.Fatalf("after wrong codes: exit %d, stderr %q", got, locked.Stderr())
		}
		bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{From: "127.0.0.4"})
		bob.WaitText("2 of 2 here")
		alice.WaitText("joined")
		// A lockout is counted as one, not as a connection limit.
		waitMetrics(t, s.MetricsAddr(),
			metric{name: "hush_rejections_total", labels: []string{"reason", "locked-out"}, want: 1, atLeast: true},
			metric{name: "hush_rejections_total", labels: []string{"reason", "malformed"}, want: 2, atLeast: true},
			metric{name: "hush_rejections_total", labels: []string{"reason", "rate-limited"}, want: 0},
		)
	})
	t.Run("rate", func(t *testing.T) {
		s := startServer(t, func(c *app.Config) { c.ConnsPerMinute = 5; c.ConnsPerIP = 0 })
		var told, dropped int
		for range 20 {
			term, err := sshtest.TryDial(t, s.Addr(), "root", sshtest.Options{From: "127.0.0.5"})
			if be, ok := errors.AsType[*sshtest.BannerError](err); ok && strings.Contains(be.Banner, "Too many connections") {
				told++
				continue
			}
			if err != nil {
				dropped++
				continue
			}
			term.Exit()
		}
		if told != 5 || dropped != 10 {
			t.Fatalf("20 fast connections with 5 a minute allowed: %d told, %d dropped; want 5 and 10", told, dropped)
		}
		sshtest.Dial(t, s.Addr(), "new", sshtest.Options{From: "127.0.0.6"}).WaitText("Waiting")
	})
}

func TestServerFull(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.MaxSessions = 2 })
	openRoom(t, s.Addr(), "new", sshtest.Options{})
	openRoom(t, s.Addr(), "new", sshtest.Options{From: "127.0.0.2"})
	full := sshtest.Dial(t, s.Addr(), "new", sshtest.Options{From: "127.0.0.3"})
	if got := full.Exit(); got != 1 || !strings.Contains(full.Stderr(), "server is full") {
		t.Fatalf("exit %d, stderr %q", got, full.Stderr())
	}
}

func TestHandshakeAndIdleTimeouts(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.HandshakeTimeout = time.Second; c.IdleTimeout = time.Second })
	conn, err := net.Dial("tcp", s.Addr())
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

	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	bob.Type("typing keeps bob here")
	if got := alice.Exit(); got != 0 || !strings.Contains(alice.Screen(), "You typed nothing for 1s") {
		t.Fatalf("idle alice: exit %d, screen:\n%s", got, alice.Screen())
	}
}

func TestThousandSessionsLeaveNoTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("connects 1,000 sessions")
	}
	s := startServer(t, func(c *app.Config) { c.ConnsPerMinute = 0; c.ConnsPerIP = 0; c.Metrics = "127.0.0.1:0" })
	// Warm up once so lazily built state is in the baseline.
	warm, _ := openRoom(t, s.Addr(), "new", sshtest.Options{})
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
				if err := briefSession(s.Addr(), user); err != nil {
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
	fams, _ := scrape(t, s.MetricsAddr())
	if n, _ := metricValue(fams, "hush_rooms"); n != 0 {
		t.Fatalf("%v rooms still open", n)
	}
	if n, ok := metricValue(fams, "hush_members"); !ok || n != 0 {
		t.Fatalf("%v members still seated (present %v)", n, ok)
	}
}

// briefSession is a person who connects, sees the room (or the welcome),
// types a little and leaves: a bare client, so the test measures the
// server and not its own terminals.
func briefSession(addr, user string) error {
	client, err := gossh.Dial("tcp", addr, sshtest.GuestConfig(user))
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
	_, _ = in.Write([]byte("hi\x04")) // ctrl+d leaves at once
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
