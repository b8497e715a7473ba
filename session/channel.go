package session

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/limits"
)

// channelSession is one session channel. Its requests are read, limited
// and answered on the goroutine ssh runs the channel on, and a window
// change goes straight to whoever draws the session: no goroutine stands
// between the client's requests and the session, which keeps a session
// at rest to the goroutines it cannot do without.
type channelSession struct {
	gossh.Channel
	conn *gossh.ServerConn
	ctx  ssh.Context

	// Set by the request loop before the handler starts, read after.
	env       []string
	rawCmd    string
	subsystem string

	mu      sync.Mutex
	pty     *ssh.Pty
	resized func(ssh.Window) // the handler's, once it asked (see onResize)
	exited  bool
}

var _ ssh.Session = (*channelSession)(nil)

// serve answers the channel's requests until the client closes it: at
// the pace the connection is allowed, with a handful of short environment
// variables, one PTY, window changes, and one shell or command, which
// runs handler (a subsystem runs subsystem). Everything else (agent or X11
// forwarding, signals) is declined; OpenSSH carries on without it.
func (c *channelSession) serve(reqs <-chan *gossh.Request, g *guard, handler ssh.Handler, subsystem ssh.SubsystemHandler) {
	resizes := limits.NewBucket(resizeRate, resizeBurst)
	handled := false
	for req := range reqs {
		var extra *limits.Bucket
		if req.Type == "window-change" {
			extra = &resizes
		}
		if !g.wait(extra) {
			reply(req, false)
			continue
		}
		switch req.Type {
		case "env":
			var kv struct{ Key, Value string }
			ok := !handled && len(c.env) < maxEnv && gossh.Unmarshal(req.Payload, &kv) == nil &&
				len(kv.Key) <= maxEnvKey && len(kv.Value) <= maxEnvValue
			if ok {
				c.env = append(c.env, kv.Key+"="+kv.Value)
			}
			reply(req, ok)
		case "pty-req":
			var p struct {
				Term                 string
				Cols, Rows, PxW, PxH uint32
				Modes                string
			}
			c.mu.Lock()
			ok := !handled && c.pty == nil && gossh.Unmarshal(req.Payload, &p) == nil && len(p.Term) <= maxTerm
			if ok {
				c.pty = &ssh.Pty{Term: p.Term, Window: window(p.Cols, p.Rows, p.PxW, p.PxH)}
			}
			c.mu.Unlock()
			reply(req, ok)
		case "window-change":
			var w struct{ Cols, Rows, PxW, PxH uint32 }
			ok := gossh.Unmarshal(req.Payload, &w) == nil && c.resize(window(w.Cols, w.Rows, w.PxW, w.PxH))
			reply(req, ok)
		case "shell", "exec", "subsystem":
			if handled {
				reply(req, false)
				continue
			}
			var cmd struct{ Value string }
			if req.Type != "shell" && gossh.Unmarshal(req.Payload, &cmd) != nil {
				reply(req, false)
				continue
			}
			handled = true
			run := handler
			if req.Type == "subsystem" {
				c.subsystem, run = cmd.Value, ssh.Handler(subsystem)
			} else {
				c.rawCmd = cmd.Value
			}
			reply(req, true)
			go func() {
				run(c)
				_ = c.Exit(0)
			}()
		default:
			reply(req, false)
		}
	}
}

func reply(req *gossh.Request, ok bool) {
	if req.WantReply {
		_ = req.Reply(ok, nil)
	}
}

func window(cols, rows, pxW, pxH uint32) ssh.Window {
	return ssh.Window{Width: int(cols), Height: int(rows), WidthPixels: int(pxW), HeightPixels: int(pxH)}
}

// resize takes a window change: it reports false for a session with no
// PTY.
func (c *channelSession) resize(w ssh.Window) bool {
	c.mu.Lock()
	if c.pty == nil {
		c.mu.Unlock()
		return false
	}
	c.pty.Window = w
	f := c.resized
	c.mu.Unlock()
	if f != nil {
		f(w) // on the request loop: in order, and the client waits while it blocks
	}
	return true
}

// onResize has every window change from now on handed to f, and returns
// the size the window has now.
func (c *channelSession) onResize(f func(ssh.Window)) ssh.Window {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resized = f
	if c.pty == nil {
		return ssh.Window{}
	}
	return c.pty.Window
}

func (c *channelSession) User() string              { return c.conn.User() }
func (c *channelSession) RemoteAddr() net.Addr      { return c.conn.RemoteAddr() }
func (c *channelSession) LocalAddr() net.Addr       { return c.conn.LocalAddr() }
func (c *channelSession) Environ() []string         { return append([]string(nil), c.env...) }
func (c *channelSession) RawCommand() string        { return c.rawCmd }
func (c *channelSession) Command() []string         { return strings.Fields(c.rawCmd) }
func (c *channelSession) Subsystem() string         { return c.subsystem }
func (c *channelSession) Context() ssh.Context      { return c.ctx }
func (c *channelSession) EmulatedPty() bool         { return false }
func (c *channelSession) Signals(chan<- ssh.Signal) {}
func (c *channelSession) Break(chan<- bool)         {}

func (c *channelSession) PublicKey() ssh.PublicKey {
	k, _ := c.ctx.Value(ssh.ContextKeyPublicKey).(ssh.PublicKey)
	return k
}

func (c *channelSession) Permissions() ssh.Permissions {
	if p, ok := c.ctx.Value(ssh.ContextKeyPermissions).(*ssh.Permissions); ok {
		return *p
	}
	return ssh.Permissions{}
}

// Stderr is the channel's standard error. With a PTY, whose terminal is
// in raw mode, its lines end in CRLF. (Standard output is written as it
// is: frames move the cursor themselves.)
func (c *channelSession) Stderr() io.ReadWriter {
	c.mu.Lock()
	pty := c.pty != nil
	c.mu.Unlock()
	if !pty {
		return c.Channel.Stderr()
	}
	return struct {
		io.Reader
		io.Writer
	}{c.Channel.Stderr(), crlf{c.Channel.Stderr()}}
}

// crlf ends lines in CRLF, leaving those that already do alone.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+8)
	for i, b := range p {
		if b == '\n' && (i == 0 || p[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Pty reports the PTY the client asked for. Its channel of window changes
// is nil: they reach the session through onResize.
func (c *channelSession) Pty() (ssh.Pty, <-chan ssh.Window, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pty == nil {
		return ssh.Pty{}, nil, false
	}
	return *c.pty, nil, true
}

// Exit sends the exit status and closes the channel, once.
func (c *channelSession) Exit(code int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exited {
		return errors.New("session: exit called twice")
	}
	c.exited = true
	status := struct{ Status uint32 }{uint32(code)}
	if _, err := c.SendRequest("exit-status", false, gossh.Marshal(&status)); err != nil {
		return err
	}
	return c.Close()
}
