package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
	"github.com/hush-chat/hush/talk"
	gossh "golang.org/x/crypto/ssh"
)

// counter records what the gate reports.
type counter struct {
	mu      sync.Mutex
	refused map[admit.Reason]int
}

func (c *counter) Refused(r admit.Reason) { c.mu.Lock(); c.refused[r]++; c.mu.Unlock() }
func (c *counter) Seated(admit.Op)        {}
func (c *counter) Knocked()               {}
func (c *counter) Asked(admit.AskOutcome) {}
func (c *counter) count(r admit.Reason) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[r]
}

type testServer struct {
	*Server
	addr string
	hub  *talk.Hub
	obs  *counter
}

// serve runs the SSH front end alone on a loopback port, in front of an
// in-memory registry and its own gate.
func serve(t *testing.T, tweak func(*Config, *admit.Config)) *testServer {
	t.Helper()
	codes, err := rooms.NewCodes("session test salt 0123456789")
	if err != nil {
		t.Fatal(err)
	}
	gcfg := admit.Config{MaxGroup: 3, PerAddress: limits.Config{WrongCodes: 100, WrongCodesPerHour: 100, Lockout: time.Minute}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{
		HostKeyPath:  filepath.Join(t.TempDir(), "host_ed25519"),
		MaxGroup:     3,
		Log:          log,
		StallTimeout: 5 * time.Second,
	}
	if tweak != nil {
		tweak(&cfg, &gcfg)
	}
	obs := &counter{refused: map[admit.Reason]int{}}
	gate := admit.New(rooms.NewMemory(codes), gcfg, obs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	cfg.Hub = talk.NewHub(talk.Config{
		Gate:   gate,
		Speak:  speak.Config{KeysPerSecond: 100, KeyBurst: 1000, MaxPaste: 100},
		Linger: 2 * time.Second,
		Invite: func(user string) string { return Invite("chat.test", port, user) },
		Log:    log,
	})
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cfg.Hub.Shutdown()
		_ = srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{Server: srv, addr: ln.Addr().String(), hub: cfg.Hub, obs: obs}
}

func TestRoutesByUserName(t *testing.T) {
	s := serve(t, nil)
	alice := sshtest.Dial(t, s.addr, "new", sshtest.Options{})
	c := sshtest.InviteCode(t, alice, s.addr)
	if !strings.Contains(alice.Screen(), "ssh -p ") {
		t.Fatalf("invite without the port:\n%s", alice.Screen())
	}
	bob := sshtest.Dial(t, s.addr, strings.ToUpper(c), sshtest.Options{})
	bob.WaitText("2 of 2 here")
	bob.Type("hi")
	alice.WaitText("hi")

	full := sshtest.Dial(t, s.addr, c, sshtest.Options{})
	if got := full.Exit(); got != 1 || !strings.Contains(full.Stderr(), "is full. Start your own: ssh -p") {
		t.Fatalf("third in a pair: exit %d, %q", got, full.Stderr())
	}
	group := sshtest.Dial(t, s.addr, "group", sshtest.Options{})
	group.WaitText("1 of 3 here")

	welcome := sshtest.Dial(t, s.addr, "root", sshtest.Options{})
	if got := welcome.Exit(); got != 0 || !strings.Contains(welcome.Screen(), "up to 3") {
		t.Fatalf("welcome: exit %d:\n%s", got, welcome.Screen())
	}
	junk := sshtest.Dial(t, s.addr, "k7dm2q9xw0", sshtest.Options{})
	if got := junk.Exit(); got != 1 || !strings.Contains(junk.Stderr(), "not a room code") {
		t.Fatalf("junk code: exit %d, %q", got, junk.Stderr())
	}
	alice.Type("\x04")
	if got := alice.Exit(); got != 0 {
		t.Fatalf("leaving: exit %d", got)
	}
	bob.WaitText("left")
}

func TestRefusalsAreCounted(t *testing.T) {
	s := serve(t, func(_ *Config, g *admit.Config) { g.PerAddress.Conns = 1 })
	holder := sshtest.Dial(t, s.addr, "new", sshtest.Options{})
	holder.WaitText("Waiting")
	_, err := sshtest.TryDial(t, s.addr, "new", sshtest.Options{})
	if be, ok := errors.AsType[*sshtest.BannerError](err); !ok || !strings.Contains(be.Banner, "Too many connections") {
		t.Fatalf("over the limit: %v, want the reason in the banner", err)
	}
	term := sshtest.Dial(t, s.addr, "new", sshtest.Options{NoPTY: true, From: "127.0.0.2"})
	if got := term.Exit(); got != 1 || !strings.Contains(term.Stderr(), "needs a terminal") {
		t.Fatalf("no pty: exit %d, %q", got, term.Stderr())
	}
	// A command is asked about first, with or without a terminal.
	cmd := sshtest.Dial(t, s.addr, "new", sshtest.Options{NoPTY: true, Command: "ls", From: "127.0.0.3"})
	if got := cmd.Exit(); got != 1 || !strings.Contains(cmd.Stderr(), "not a shell") {
		t.Fatalf("a command: exit %d, %q", got, cmd.Stderr())
	}
	// The client hears its exit status before the refusal is counted:
	// wait for the count, within a bound.
	wait.Until(t, "every refusal counted", func() (bool, string) {
		if s.obs.count(admit.BadRequest) == 2 && s.obs.count(admit.TooManyConns) == 1 {
			return true, ""
		}
		s.obs.mu.Lock()
		defer s.obs.mu.Unlock()
		return false, fmt.Sprint(s.obs.refused)
	})
}

// A shutdown ends every seat through the gate; each person is told why on
// their normal screen, and their session ends with an exit status, even
// while the server closes every connection right after.
func TestShutdownSaysGoodbyeWithAStatus(t *testing.T) {
	for range 3 {
		s := serve(t, nil)
		alice := sshtest.Dial(t, s.addr, "new", sshtest.Options{})
		bob := sshtest.Dial(t, s.addr, sshtest.InviteCode(t, alice, s.addr), sshtest.Options{})
		bob.WaitText("2 of 2 here")
		s.hub.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		for _, term := range []*sshtest.Term{alice, bob} {
			if got := term.Exit(); got != 0 || !strings.Contains(term.Screen(), "restarting") {
				t.Fatalf("exit %d:\n%s", got, term.Screen())
			}
		}
		late, err := sshtest.TryDial(t, s.addr, "new", sshtest.Options{})
		if err == nil {
			if got := late.Exit(); got == 0 {
				t.Fatal("a session after shutdown was served")
			}
		}
	}
}

// dialRaw opens an SSH connection as a guest, for tests that speak the
// protocol themselves.
func dialRaw(t *testing.T, addr, user string) *gossh.Client {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, sshtest.GuestConfig(user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawSession opens a session channel as new@, nothing asked of it yet.
func rawSession(t *testing.T, addr string) *gossh.Session {
	t.Helper()
	sess, err := dialRaw(t, addr, "new").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// closed waits (bounded) for the server to close c.
func closed(t *testing.T, c *gossh.Client, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("connection still open after %v", within)
		return 0
	}
}

func TestChannelsPerConnection(t *testing.T) {
	s := serve(t, nil)
	c := dialRaw(t, s.addr, "new")
	var open []*gossh.Session
	for range maxSessionsPerConn {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", len(open)+1, err)
		}
		open = append(open, sess)
	}
	if _, err := c.NewSession(); err == nil || !strings.Contains(err.Error(), "4 sessions") {
		t.Fatalf("a fifth session: %v", err)
	}
	// One closed frees its slot.
	open[0].Close()
	var err error
	wait.Poll(sshtest.Timeout, func() bool {
		var sess *gossh.Session
		if sess, err = c.NewSession(); err == nil {
			sess.Close()
		}
		return err == nil
	})
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	// A connection that keeps asking is closed. (An open sent just as the
	// server closes can wait forever inside x/crypto's client, so each
	// open is waited for only until the connection is gone.)
	gone := make(chan struct{})
	go func() { _ = c.Wait(); close(gone) }()
asking:
	for range maxRefusedChannels + 5 {
		res := make(chan error, 1)
		go func() { _, _, err := c.OpenChannel("direct-tcpip", nil); res <- err }()
		select {
		case err := <-res:
			if err == nil {
				t.Fatal("a forwarding channel was accepted")
			}
		case <-gone:
			break asking
		case <-time.After(sshtest.Timeout):
			t.Fatal("a channel open was never answered while the connection stayed up")
		}
	}
	select {
	case <-gone:
	case <-time.After(sshtest.Timeout):
		t.Fatal("a connection that kept asking for channels was not closed")
	}
	if n := s.obs.count(admit.TooManyChannels); n < 1 {
		t.Errorf("too-many-channels counted %d times", n)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	t.Parallel()
	s := serve(t, func(c *Config, _ *admit.Config) { c.HandshakeTimeout = time.Second })
	// Authenticated, no session ever opened.
	if d := closed(t, dialRaw(t, s.addr, "new"), time.Second+idleGrace+sshtest.Timeout); d > time.Second+idleGrace+2*time.Second {
		t.Errorf("closed after %v", d)
	}
	// A session opened and closed, the connection kept (what a ControlMaster does).
	c := dialRaw(t, s.addr, "root")
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()
	if d := closed(t, c, idleGrace+sshtest.Timeout); d > idleGrace+2*time.Second {
		t.Errorf("closed %v after its last session", d)
	}
}

// Closing the session channel, or EOF on it, ends the session and frees
// the seat at once, whatever the connection does next.
func TestSeatFreedWhenTheChannelEnds(t *testing.T) {
	for _, how := range []string{"close", "eof"} {
		t.Run(how, func(t *testing.T) {
			s := serve(t, nil)
			alice := sshtest.Dial(t, s.addr, "new", sshtest.Options{})
			room := sshtest.InviteCode(t, alice, s.addr)
			c := dialRaw(t, s.addr, room)
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			stdin, _ := sess.StdinPipe()
			if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
				t.Fatal(err)
			}
			if err := sess.Shell(); err != nil {
				t.Fatal(err)
			}
			alice.WaitText("2 of 2 here")
			start := time.Now()
			if how == "close" {
				sess.Close()
			} else {
				stdin.Close()
			}
			alice.WaitText("1 of 2 here")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("seat freed after %v", d)
			}
			sshtest.Dial(t, s.addr, room, sshtest.Options{}).WaitText("2 of 2 here")
			if _, err := c.NewSession(); err != nil {
				t.Fatalf("the connection was closed with the channel: %v", err)
			}
		})
	}
}

// Environment variables beyond a handful of short ones are refused and
// never stored; a flood of requests is slowed, not served at full speed.
func TestRequestsAreBounded(t *testing.T) {
	sess := rawSession(t, serve(t, nil).addr)
	big := strings.Repeat("x", 200<<10)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	accepted := 0
	start := time.Now()
	const sent = 100
	for i := range sent {
		ok, err := sess.SendRequest("env", true, gossh.Marshal(struct{ K, V string }{fmt.Sprint("K", i), big}))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			accepted++
		}
	}
	for i := range 20 {
		if ok, _ := sess.SendRequest("env", true, gossh.Marshal(struct{ K, V string }{fmt.Sprint("S", i), "short"})); ok {
			accepted++
		}
	}
	took := time.Since(start)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if accepted != maxEnv {
		t.Errorf("%d environment variables accepted, want %d", accepted, maxEnv)
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 20<<20 {
		t.Errorf("heap grew %d MB under an env flood", grew>>20)
	}
	// 120 requests at 20/s after a burst of 60 take about 3 s at least.
	if min := time.Duration(sent+20-requestBurst) * time.Second / requestRate; took < min*8/10 {
		t.Errorf("%d requests served in %v, faster than the %d/s allowed", sent+20, took, requestRate)
	}
}
