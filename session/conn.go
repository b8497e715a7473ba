package session

import (
	"io"
	"net"
	"sync"
	"time"

	"charm.land/ssh"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/talk"
)

// sendBuffer bounds what the kernel holds for one client. Without a bound
// it grows to megabytes, and a client that stopped reading would look
// alive for minutes while the kernel took its frames.
const sendBuffer = 64 << 10

type admitKey struct{}

// connect asks the gate about a connection as it arrives, before any SSH
// work. A connection far over its address's limit is closed at once; one
// just over is let through to be told why (see route). Every other one
// gets a guard for its requests and sessions.
func (s *Server) connect(ctx ssh.Context, conn net.Conn) net.Conn {
	c := s.hub.Connect(conn.RemoteAddr())
	if c == nil {
		return nil
	}
	boundSendBuffer(conn)
	rc := &releasingConn{Conn: conn}
	rc.guard = newGuard(s, rc, c)
	ctx.SetValue(admitKey{}, rc.guard)
	rc.guard.start()
	return rc
}

// A connection just over its address's limits is told why in the SSH
// banner (OpenSSH prints it before asking for anything), refused every
// way of authenticating, and closed: as soon as it tries one, a moment
// after the banner, and at the latest overGrace after it arrived. So an
// address holds no more than its limit for longer than that.
const (
	overGrace = 1500 * time.Millisecond
	// bannerFlush is how long the banner is given to leave before the
	// connection closes under it.
	bannerFlush = 200 * time.Millisecond
)

func (s *Server) banner(ctx ssh.Context) string {
	g := guardOf(ctx)
	if g == nil {
		return ""
	}
	err := g.gate.Refusal("ssh")
	if err == nil {
		return ""
	}
	time.AfterFunc(bannerFlush, func() { _ = g.conn.Close() })
	return err.Error() + "\r\n"
}

// welcomeAuth lets everyone in (a key gives a stable handle, no key makes
// a guest) except a connection over its address's limits, which is closed.
func (s *Server) welcomeAuth(ctx ssh.Context) bool {
	g := guardOf(ctx)
	if g != nil && g.gate.Over() {
		_ = g.conn.Close()
		return false
	}
	return true
}

func boundSendBuffer(conn net.Conn) {
	for {
		switch c := conn.(type) {
		case interface{ SetWriteBuffer(int) error }:
			_ = c.SetWriteBuffer(sendBuffer)
			return
		case interface{ Raw() net.Conn }: // a PROXY protocol connection
			conn = c.Raw()
		default:
			return
		}
	}
}

// releasingConn gives the connection's place at the gate back on Close.
type releasingConn struct {
	net.Conn
	guard *guard
	once  sync.Once
}

func (c *releasingConn) Close() error {
	c.once.Do(func() {
		c.guard.close()
		c.guard.gate.Close()
	})
	return c.Conn.Close()
}

func gateConn(sess ssh.Session) *talk.Conn { return guardOf(sess.Context()).gate }

// Typed input: pastes spend the burst; a flood beyond the rate is read
// more slowly, so the client is held back by the channel's flow control
// instead of costing the server a core to decode.
const (
	inputRate  = 32 << 10  // bytes a second
	inputBurst = 256 << 10 // bytes
)

// pacedReader reads what the client types: it tells the conversation on
// every read, so it can tell when nobody has typed for a while, and it
// paces a flood.
type pacedReader struct {
	r      io.Reader
	touch  func(time.Time)
	budget limits.Bucket
}

func newPacedReader(r io.Reader, touch func(time.Time)) *pacedReader {
	return &pacedReader{r: r, touch: touch, budget: limits.NewBucket(inputRate, inputBurst)}
}

func (in *pacedReader) Read(p []byte) (int, error) {
	n, err := in.r.Read(p)
	if n > 0 {
		now := time.Now()
		in.touch(now)
		if got := in.budget.Take(n, now); got < n {
			time.Sleep(time.Duration(n-got) * time.Second / inputRate)
		}
	}
	return n, err
}

// hangUp closes the whole connection: a client that stopped reading would
// never see a polite close on its channel.
func hangUp(sess ssh.Session) {
	if c, ok := sess.Context().Value(ssh.ContextKeyConn).(interface{ Close() error }); ok {
		_ = c.Close()
	}
	_ = sess.Close()
}
