package session

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"

	"github.com/hush-chat/hush/limits"
)

// Limits bound what one address, one person, or everyone together can take.
type Limits struct {
	PerAddress       limits.Config
	MaxSessions      int           // sessions at once, server-wide
	HandshakeTimeout time.Duration // to finish the SSH handshake
	IdleTimeout      time.Duration // a person who types nothing for this long is let go
	KeysPerSecond    float64       // typing rate a person can keep up
	KeyBurst         int           // keys (runes) allowed at once, above the rate
	MaxPaste         int           // runes kept from one paste
}

type verdictKey struct{}

// countConn applies the per-address limits as a connection arrives, before
// any SSH work. A connection far over its limit is closed at once; one just
// over is let through to be told why (see admit).
func (s *Server) countConn(ctx ssh.Context, conn net.Conn) net.Conn {
	v, release := s.addrs.Connect(hostOf(conn.RemoteAddr()))
	if v == limits.Drop {
		s.cfg.Metrics.Rejected("rate-limited")
		return nil
	}
	ctx.SetValue(verdictKey{}, v)
	return &releasingConn{Conn: conn, release: release}
}

type releasingConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *releasingConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// admit turns away sessions over a limit, with one line that says why.
func (s *Server) admit(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if v, _ := sess.Context().Value(verdictKey{}).(limits.Verdict); v != limits.Allow {
			s.cfg.Metrics.Rejected("rate-limited")
			s.log.Info("refused", "remote", remoteIP(sess), "reason", "address over its limit")
			wish.Fatalln(sess, "Too many connections from your address. Wait a minute and try again.")
			return
		}
		if n := s.sessions.Add(1); s.cfg.Limits.MaxSessions > 0 && n > int64(s.cfg.Limits.MaxSessions) {
			s.sessions.Add(-1)
			s.cfg.Metrics.Rejected("server-full")
			s.log.Warn("refused", "remote", remoteIP(sess), "reason", "server full")
			wish.Fatalln(sess, "The server is full right now. Try again in a few minutes.")
			return
		}
		defer s.sessions.Add(-1)
		next(sess)
	}
}

// lockedOut tells someone who has tried too many wrong codes to wait.
func (s *Server) lockedOut(sess ssh.Session) bool {
	locked, left := s.addrs.Locked(remoteIP(sess))
	if locked {
		s.cfg.Metrics.Rejected("rate-limited")
		wish.Fatalln(sess, fmt.Sprintf("Too many wrong room codes from your address. Joining is paused for %d more minutes.", int(left.Minutes())+1))
	}
	return locked
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// idleWatch stamps every read from the client, so start can tell when
// nobody has typed for a while. One timer per session, no goroutine while
// it waits.
type idleWatch struct {
	r    io.Reader
	last atomic.Int64 // unix nanoseconds of the last read
	t    *time.Timer
}

func newIdleWatch(r io.Reader) *idleWatch {
	w := &idleWatch{r: r}
	w.last.Store(time.Now().UnixNano())
	return w
}

// start calls expired once nothing has been read for d; d <= 0 never.
func (w *idleWatch) start(d time.Duration, expired func()) {
	if d <= 0 {
		return
	}
	w.t = time.AfterFunc(time.Hour, func() {
		if left := d - time.Since(time.Unix(0, w.last.Load())); left > 0 {
			w.t.Reset(left)
			return
		}
		expired()
	})
	w.t.Reset(d)
}

func (w *idleWatch) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (w *idleWatch) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}

// hangUp closes the whole connection: a client that stopped reading would
// never see a polite close on its channel.
func hangUp(sess ssh.Session) {
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(interface{ Close() error }); ok {
		_ = c.Close()
	}
	_ = sess.Close()
}
