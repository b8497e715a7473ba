package e2e

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

// victim is a pair talking on another address while an attack runs: its
// keystroke-to-screen latency is measured throughout.
type victim struct {
	alice, bob *sshtest.Term
	line       strings.Builder
}

func newVictim(t *testing.T, addr string) *victim {
	t.Helper()
	v := &victim{}
	var code string
	v.alice, code = openRoom(t, addr, "new", sshtest.Options{From: "127.0.0.2", Width: 200})
	v.bob = sshtest.Dial(t, addr, code, sshtest.Options{From: "127.0.0.3", Width: 200})
	v.alice.WaitText("joined")
	v.bob.WaitText("2 of 2 here")
	return v
}

// talk types n keys, 30 ms apart, and returns each one's latency.
func (v *victim) talk(t *testing.T, n int) []time.Duration {
	t.Helper()
	return keyLatency(t, v.alice, v.bob, &v.line, n)
}

// Attack, round three, 6: one address opens three times its connection
// limit at once, half of them finishing the SSH handshake and trying to
// log in, half saying nothing at all. Those over the limit are told why
// in the banner and closed: 2 s after the last one arrived the address
// holds no more than its limit.
func TestAttackOverLimitConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	const limit, tries = 20, 60
	s := startServer(t, func(c *app.Config) { c.ConnsPerIP = limit; c.Linger = 30 * time.Second })
	v := newVictim(t, s.Addr())

	var open atomic.Int64 // connections the server has not closed
	var told atomic.Int64 // refusals heard in the banner
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	var lastMu sync.Mutex
	var last time.Time
	for i := range tries {
		d := net.Dialer{Timeout: sshtest.Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.9")}}
		raw, err := d.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		conns = append(conns, raw)
		mu.Unlock()
		open.Add(1)
		lastMu.Lock()
		last = time.Now()
		lastMu.Unlock()
		wg.Go(func() {
			defer open.Add(-1)
			if i%2 == 0 { // silent: read until the server closes
				_, _ = io.Copy(io.Discard, raw)
				return
			}
			cfg := sshtest.GuestConfig("new")
			cfg.BannerCallback = func(msg string) error {
				if strings.Contains(msg, "Too many connections") {
					told.Add(1)
				}
				return nil
			}
			cc, chans, reqs, err := gossh.NewClientConn(raw, s.Addr(), cfg)
			if err != nil {
				return // refused: the server has closed it
			}
			c := gossh.NewClient(cc, chans, reqs)
			_ = c.Wait() // held until the test ends
		})
	}
	quiet := v.talk(t, 30)
	var held int64
	for {
		held = open.Load()
		lastMu.Lock()
		since := time.Since(last)
		lastMu.Unlock()
		if held <= limit || since > 10*time.Second {
			t.Logf("%d of %d connections from one address still held %v after the last arrived (limit %d); %d were told why in the banner",
				held, tries, since.Round(time.Millisecond), limit, told.Load())
			// 2 s, and 2 s more for a busy machine to accept and run its
			// timers (the grace is 1.5 s from the server's accept).
			if held > limit || since > 4*time.Second {
				t.Fatalf("%d connections from one address held %v after the last arrived, want at most %d within 2s", held, since, limit)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if told.Load() == 0 {
		t.Fatal("no connection over the limit was told why")
	}
	flooded := v.talk(t, 30)
	t.Logf("victim keystroke to screen: before p99 %v, during and after p99 %v", percentile(quiet, .99), percentile(flooded, .99))
}

// Attack, round three, 7: 20 connections from one address each keep 4
// session channels opening rooms at once, closing each 30 ms after it is
// seated and opening another, for 3 s. Seated sessions never exceed
// --max-sessions-per-ip: counted by the attacker from the moment a room
// shows until it sends the close (a span within the server's own, so a
// sound lower bound of it), and by the server's hush_members, sampled.
// (Counted instead until the client has seen each session end, 21 or 22
// were seen: spans on different connections overlap by the client's own
// delay in reading the end, which says nothing about the server. That
// count is what a client sees; the server gives a place back only once
// it has sent the session's end, so the overlap is the client's alone.)
func TestAttackSessionRaceStaysWithinLimit(t *testing.T) {
	t.Parallel()
	const limit, conns, perConn = 20, 20, 4
	s := startServer(t, func(c *app.Config) {
		c.SessionsPerIP = limit
		c.ConnsPerIP = conns + 2
		c.ConnsPerMinute = 1000
		c.Linger = 30 * time.Second
		c.Metrics = "127.0.0.1:0"
	})
	v := newVictim(t, s.Addr())
	var seated, most, total, refused atomic.Int64
	var failures, closed atomic.Int64
	var firstErr atomic.Value
	clients := make([]*gossh.Client, conns)
	for i := range clients {
		clients[i] = bareDial(t, s.Addr(), "new", "127.0.0.8")
	}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for _, c := range clients {
		for range perConn {
			wg.Go(func() {
				for i := 0; i < 251 && time.Now().Before(deadline); i++ {
					ok, err := seatOnce(c, deadline.Add(sshtest.Timeout), func() {
						n := seated.Add(1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						total.Add(1)
					}, func() { seated.Add(-1) })
					if errors.Is(err, io.EOF) {
						closed.Add(1) // too many refused opens: the server hung up
						return
					}
					if errors.Is(err, io.EOF) {
						closed.Add(1) // too many refused opens: the server hung up
						return
					}
					if err != nil {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, err)
						return
					}
					if !ok {
						refused.Add(1)
					}
				}
			})
		}
	}
	members := sampleMembers(s.MetricsAddr(), deadline)
	lat := v.talk(t, 60)
	wg.Wait()
	server := <-members
	t.Logf("%d sessions seated, %d refused, %d loops ended by the server hanging up; at most %d seated at once from one address (limit %d), hush_members at most %d (the victim pair is 2 of them); victim p99 %v",
		total.Load(), refused.Load(), closed.Load(), most.Load(), limit, server, percentile(lat, .99))
	if server < 2 {
		t.Fatalf("hush_members was never read (at most %d seen)", server)
	}
	if server > limit+2 {
		t.Errorf("the server counted %d members, more than %d from the attacker and the victim pair", server, limit+2)
	}
	if e := firstErr.Load(); e != nil {
		t.Fatalf("%d session loops failed, first: %v", failures.Load(), e)
	}
	if most.Load() > limit {
		t.Fatalf("%d sessions from one address were seated at once, the limit is %d", most.Load(), limit)
	}
	if total.Load() < limit {
		t.Fatalf("only %d sessions were seated in all: the attack did not reach the limit", total.Load())
	}
}

// seatOnce opens a session asking for a room; if one shows, in is called,
// then out just before the client closes it. ok is false for a refusal.
func seatOnce(c *gossh.Client, deadline time.Time, in, out func()) (ok bool, err error) {
	sess, err := c.NewSession()
	if err != nil {
		if _, refused := errors.AsType[*gossh.OpenChannelError](err); refused {
			time.Sleep(5 * time.Millisecond)
			return false, nil // this connection's 4 are busy for a moment
		}
		return false, err
	}
	defer sess.Close()
	sh, err := tryShell(sess, 80, 24)
	if err != nil {
		return false, nil // the channel was closed under the request
	}
	for !strings.Contains(sh.stdout.String(), "Waiting for someone to join") {
		if sh.ended() {
			if !strings.Contains(sh.stderr.String(), "Too many sessions") {
				return false, errors.New("refused with " + sh.stderr.String())
			}
			return false, nil
		}
		if time.Now().After(deadline) {
			return false, errors.New("neither seated nor refused")
		}
		time.Sleep(2 * time.Millisecond)
	}
	in()
	time.Sleep(30 * time.Millisecond) // long enough for the others to pile up
	out()
	return true, nil
}

// sampleMembers reads hush_members from the metrics endpoint until
// deadline and sends the most it saw.
func sampleMembers(addr string, deadline time.Time) <-chan int {
	most := make(chan int, 1)
	go func() {
		m := 0
		for time.Now().Before(deadline) {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for l := range strings.Lines(string(b)) {
				if v, ok := strings.CutPrefix(l, "hush_members "); ok {
					if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
						m = max(m, n)
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		most <- m
	}()
	return most
}
