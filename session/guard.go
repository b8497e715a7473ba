package session

import (
	"io"
	"net"
	"sync"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/talk"
)

// What one connection may ask of the server. A chat needs few of anything:
// one session, a PTY, a shell, a few environment variables, window changes
// while a window is dragged.
const (
	// maxSessionsPerConn bounds session channels open at once on one
	// connection (OpenSSH's own MaxSessions is 10).
	maxSessionsPerConn = 4
	// maxRefusedChannels is how many channel opens one connection may have
	// refused before it is taken for an attack and closed.
	maxRefusedChannels = 32
	// Requests of any kind, on the connection or its channels: beyond the
	// burst the connection is slowed — its requests wait, so the server
	// stops reading from it — never served faster than the rate.
	requestRate  = 20
	requestBurst = 60
	// Window changes cost a redraw each; they get a smaller share.
	resizeRate  = 10
	resizeBurst = 20
	// Environment variables: a handful of short ones (TERM, LANG,
	// NO_COLOR, COLORTERM, HUSH_*); more, or longer, are refused, never stored.
	maxEnv      = 16
	maxEnvKey   = 64
	maxEnvValue = 256
	// maxTerm bounds the terminal's name in a PTY request (xterm-256color).
	maxTerm = 64
	// idleGrace is how long an authenticated connection may hold its place
	// without a session open.
	idleGrace = 5 * time.Second
)

// guard watches one connection: its place at the gate, how many sessions
// it has open, how fast it sends requests, and whether it is holding a
// slot without using it.
type guard struct {
	s    *Server
	conn net.Conn
	gate *talk.Conn

	mu       sync.Mutex
	sessions int
	refused  int
	requests limits.Bucket
	idle     *time.Timer
	closed   bool
	slow     bool          // hung up on for not reading
	done     chan struct{} // closed with the connection

	// Liveness while output flows (see probe).
	ssh     *gossh.ServerConn
	flow    *talk.Flow
	probing *time.Timer
}

func newGuard(s *Server, conn net.Conn, gate *talk.Conn) *guard {
	g := &guard{s: s, conn: conn, gate: gate, requests: limits.NewBucket(requestRate, requestBurst), done: make(chan struct{}),
		flow: talk.NewFlow(s.cfg.StallTimeout)}
	g.idle = time.AfterFunc(time.Hour, g.idleOut)
	g.idle.Stop()
	return g
}

// start arms the idle timer: until the first session, the handshake's own
// bound and then the grace.
func (g *guard) start() {
	g.mu.Lock()
	if g.gate.Over() {
		g.idle.Reset(overGrace)
	} else {
		g.idle.Reset(g.s.cfg.HandshakeTimeout + idleGrace)
	}
	g.mu.Unlock()
}

func guardOf(ctx ssh.Context) *guard {
	g, _ := ctx.Value(admitKey{}).(*guard)
	return g
}

// idleOut closes a connection that has held its place with no session.
func (g *guard) idleOut() {
	g.mu.Lock()
	idle := g.sessions == 0 && !g.closed
	g.mu.Unlock()
	if !idle {
		return
	}
	reason := "no session"
	if g.gate.Over() {
		reason = "over the limit"
	}
	g.s.log.Info("closed idle connection", "remote", talk.Key(g.conn.RemoteAddr()), "reason", reason)
	g.s.cfg.Metrics.IdleClosed()
	_ = g.conn.Close()
}

func (g *guard) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.idle.Stop()
		if g.probing != nil {
			g.probing.Stop()
		}
		close(g.done)
	}
}

// openSession takes a session slot on the connection.
func (g *guard) openSession() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sessions >= maxSessionsPerConn {
		return false
	}
	g.sessions++
	g.idle.Stop()
	return true
}

func (g *guard) closeSession() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sessions--; g.sessions == 0 && !g.closed {
		g.idle.Reset(idleGrace)
	}
}

// refuseChannel counts a refused channel open and closes a connection that
// keeps asking.
func (g *guard) refuseChannel(ch gossh.NewChannel, reason gossh.RejectionReason, msg string) {
	_ = ch.Reject(reason, msg)
	g.mu.Lock()
	g.refused++
	over := g.refused == maxRefusedChannels
	g.mu.Unlock()
	if over {
		g.s.log.Warn("closed connection", "remote", talk.Key(g.conn.RemoteAddr()), "reason", "too many refused channels")
		_ = g.conn.Close()
	}
}

// wait spends one request from the connection's budget, first waiting for
// one if it is spent. While it waits, whatever asked stops being read. It
// reports false once the connection has closed: what it still sent is
// dropped, not served at the pace of a live one.
func (g *guard) wait(extra *limits.Bucket) bool {
	for {
		d, ok := g.spend(extra)
		if !ok || d == 0 {
			return ok
		}
		g.s.cfg.Metrics.Throttled()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-g.done:
			t.Stop()
		}
	}
}

// allow spends one request from the connection's budget (and one from
// extra) if it can now, without waiting.
func (g *guard) allow(extra *limits.Bucket) bool {
	d, ok := g.spend(extra)
	return ok && d == 0
}

// spend takes one request from the budget and from extra, or says how
// long to wait for one (nothing is taken then); false once the connection
// has closed.
func (g *guard) spend(extra *limits.Bucket) (time.Duration, bool) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return 0, false
	case g.requests.Take(1, now) == 0:
		return time.Second / requestRate, true
	case extra != nil && extra.Take(1, now) == 0:
		g.requests.Give(1)
		return time.Second / resizeRate, true
	}
	return 0, true
}

// sessionChannel serves a session channel (see channel.go), with the
// connection's limits in front of it.
func (s *Server) sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	g := guardOf(ctx)
	g.mu.Lock()
	g.ssh = conn
	g.mu.Unlock()
	if !g.openSession() {
		s.hub.Refused(talk.TooManyChannels)
		g.refuseChannel(nc, gossh.ResourceShortage, "hush allows 4 sessions on one connection")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		g.closeSession()
		return
	}
	newChannelSession(ch, conn, ctx, g, srv.Handler, s.badSubsystem).serve(reqs)
}

// otherChannel refuses every other channel type (port forwarding).
func (s *Server) otherChannel(_ *ssh.Server, _ *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	s.hub.Refused(talk.BadRequest)
	guardOf(ctx).refuseChannel(nc, gossh.Prohibited, "hush does not forward ports")
}

// globalRequest answers the connection-level requests hush does not serve
// (port forwarding, keepalives), slowly for a connection that floods them.
func (s *Server) globalRequest(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	_ = guardOf(ctx).wait(nil) // refused either way
	return false, nil
}

// A client that stops reading is caught by asking it a global request it
// must answer (any SSH client answers one it does not know with a
// failure), while output flows to it (see talk.Flow).
const liveness = "keepalive@hush"

// output wraps w, a session's channel: output that flows arms the probe.
func (g *guard) output(w io.Writer) io.Writer { return &probedWriter{w: w, g: g} }

type probedWriter struct {
	w io.Writer
	g *guard
}

func (p *probedWriter) Write(b []byte) (int, error) {
	if p.g.flow.Wrote(time.Now()) {
		p.g.arm(p.g.flow.Delay())
	}
	return p.w.Write(b)
}

// arm schedules a probe after d.
func (g *guard) arm(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.probing != nil {
		return
	}
	g.probing = time.AfterFunc(d, g.probe)
}

// probe asks the client for an answer and hangs up if none comes within
// the stall timeout.
func (g *guard) probe() {
	g.mu.Lock()
	g.probing = nil
	conn, closed := g.ssh, g.closed
	g.mu.Unlock()
	if closed || conn == nil {
		g.flow.Unasked()
		return
	}
	answered := make(chan struct{})
	go func() {
		_, _, _ = conn.SendRequest(liveness, true, nil)
		close(answered)
	}()
	t := time.NewTimer(g.s.cfg.StallTimeout)
	defer t.Stop()
	select {
	case <-answered:
		g.flow.Answered(time.Now())
	case <-g.done:
	case <-t.C:
		g.hangUpSlow()
	}
}

// hangUpSlow closes the connection of a client that stopped reading. The
// probe and a write blocked for the stall timeout often both see the same
// client, at about the same moment; it is logged and counted once.
func (g *guard) hangUpSlow(attrs ...any) {
	g.mu.Lock()
	first := !g.slow
	g.slow = true
	g.mu.Unlock()
	if first {
		g.s.log.Warn("client stopped reading, hanging up", append([]any{"remote", talk.Key(g.conn.RemoteAddr())}, attrs...)...)
		g.s.cfg.Metrics.SlowDropped()
	}
	_ = g.conn.Close()
}
