package session

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/ui"
)

// channelSession is one session channel. Its requests are read, limited
// and answered on the goroutine ssh runs the channel on, and a window
// change goes straight to whoever draws the session. A session in a room
// takes the requests over (take): its model's loop answers window changes
// itself and the channel's goroutine ends, so a session at rest runs the
// goroutines it cannot do without and no more.
type channelSession struct {
	gossh.Channel
	conn *gossh.ServerConn
	ctx  ssh.Context
	g    *guard

	handler   ssh.Handler
	subsystem ssh.SubsystemHandler
	taken     chan (<-chan *gossh.Request) // the request loop gives its channel to take
	ended     chan struct{}                // closed when the request loop ends with the channel

	// Owned by whoever reads the requests: the request loop, or the
	// session that took them.
	handled bool
	resizes limits.Bucket

	// Set by the request loop before the handler starts, read after.
	env     []string
	rawCmd  string
	subName string

	mu      sync.Mutex
	pty     *ssh.Pty
	resized func(ssh.Window) // the handler's, once it asked (see onResize)
	exited  bool
}

var _ ssh.Session = (*channelSession)(nil)

func newChannelSession(ch gossh.Channel, conn *gossh.ServerConn, ctx ssh.Context, g *guard, handler ssh.Handler, subsystem ssh.SubsystemHandler) *channelSession {
	return &channelSession{
		Channel: ch, conn: conn, ctx: ctx, g: g, handler: handler, subsystem: subsystem,
		taken: make(chan (<-chan *gossh.Request)), ended: make(chan struct{}),
		resizes: limits.NewBucket(resizeRate, resizeBurst),
	}
}

// serve answers the channel's requests until the client closes the
// channel or the session takes them: at the pace the connection is
// allowed, with a handful of short environment variables, one PTY,
// window changes, and one shell or command, which runs the handler (a
// subsystem runs the subsystem handler). Everything else (agent or X11
// forwarding, signals) is declined; OpenSSH carries on without it. When
// the channel ends, so does the session's place on the connection.
func (c *channelSession) serve(reqs <-chan *gossh.Request) {
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				close(c.ended)
				c.g.closeSession()
				return
			}
			c.answer(req)
		case c.taken <- reqs:
			return
		}
	}
}

// answer serves one request, waiting for the pace if it must.
func (c *channelSession) answer(req *gossh.Request) {
	var extra *limits.Bucket
	if req.Type == "window-change" {
		extra = &c.resizes
	}
	if !c.g.wait(extra) {
		reply(req, false)
		return
	}
	switch req.Type {
	case "env":
		var kv struct{ Key, Value string }
		ok := !c.handled && len(c.env) < maxEnv && gossh.Unmarshal(req.Payload, &kv) == nil &&
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
		ok := !c.handled && c.pty == nil && gossh.Unmarshal(req.Payload, &p) == nil && len(p.Term) <= maxTerm
		if ok {
			c.pty = &ssh.Pty{Term: p.Term, Window: window(p.Cols, p.Rows, p.PxW, p.PxH)}
		}
		c.mu.Unlock()
		reply(req, ok)
	case "window-change":
		w, ok := windowChange(req)
		ok = ok && c.resize(w)
		reply(req, ok)
	case "shell", "exec", "subsystem":
		if c.handled {
			reply(req, false)
			return
		}
		var cmd struct{ Value string }
		if req.Type != "shell" && gossh.Unmarshal(req.Payload, &cmd) != nil {
			reply(req, false)
			return
		}
		c.handled = true
		run := c.handler
		if req.Type == "subsystem" {
			c.subName, run = cmd.Value, ssh.Handler(c.subsystem)
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

// take has the channel's requests read from now on through the returned
// Aside, on the caller's goroutine: a window change that wants no answer
// is served right there, within the pace; anything else goes back to a
// request loop of its own, from that request on. giveBack starts that
// loop if the Aside still holds the requests; the caller calls it, on the
// same goroutine, once it stops reading them. take reports false if the
// channel has already ended.
func (c *channelSession) take() (aside ui.Aside[*gossh.Request], giveBack func(), ok bool) {
	var reqs <-chan *gossh.Request
	select {
	case reqs = <-c.taken:
	case <-c.ended:
		return aside, nil, false
	}
	given := false
	aside.C = reqs
	aside.Serve = func(req *gossh.Request) (tea.Msg, bool) {
		if req.Type == "window-change" && !req.WantReply && c.g.allow(&c.resizes) {
			w, ok := windowChange(req)
			if ok && c.setWindow(w) {
				return tea.WindowSizeMsg{Width: w.Width, Height: w.Height}, true
			}
			return nil, true
		}
		given = true
		go func() {
			c.answer(req)
			c.serve(reqs)
		}()
		return nil, false
	}
	giveBack = func() {
		if !given {
			given = true
			go c.serve(reqs)
		}
	}
	return aside, giveBack, true
}

func reply(req *gossh.Request, ok bool) {
	if req.WantReply {
		_ = req.Reply(ok, nil)
	}
}

func window(cols, rows, pxW, pxH uint32) ssh.Window {
	return ssh.Window{Width: int(cols), Height: int(rows), WidthPixels: int(pxW), HeightPixels: int(pxH)}
}

func windowChange(req *gossh.Request) (ssh.Window, bool) {
	var w struct{ Cols, Rows, PxW, PxH uint32 }
	if gossh.Unmarshal(req.Payload, &w) != nil {
		return ssh.Window{}, false
	}
	return window(w.Cols, w.Rows, w.PxW, w.PxH), true
}

// resize takes a window change on the request loop and hands it to the
// handler: it reports false for a session with no PTY.
func (c *channelSession) resize(w ssh.Window) bool {
	if !c.setWindow(w) {
		return false
	}
	c.mu.Lock()
	f := c.resized
	c.mu.Unlock()
	if f != nil {
		f(w) // on the request loop: in order, and the client waits while it blocks
	}
	return true
}

// setWindow records a window change: it reports false for a session with
// no PTY.
func (c *channelSession) setWindow(w ssh.Window) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pty == nil {
		return false
	}
	c.pty.Window = w
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
func (c *channelSession) Subsystem() string         { return c.subName }
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
