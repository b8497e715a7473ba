// Package sshtest drives a server the way a person would: a real SSH client
// with a PTY, and a terminal emulator that decodes what the screen shows.
package sshtest

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/internal/wait"
)

// Timeout bounds every wait; a test that needs longer is broken.
const Timeout = wait.Timeout

// Options shape one connection.
type Options struct {
	Key     ssh.Signer // nil: join as a guest (keyboard-interactive)
	Width   int        // 80 if zero
	Height  int        // 24 if zero
	NoPTY   bool
	Command string // run as an exec request instead of a shell
	Env     map[string]string
	From    string        // local address to dial from, e.g. 127.0.0.2 (any loopback address works on Linux)
	Timeout time.Duration // bounds connecting and the handshake; Timeout if zero
	// Requests, if set, is told of every global request the server sends
	// (its liveness questions); each is answered as OpenSSH answers one it
	// does not know, with a failure.
	Requests func(kind string)
	// Wire, if set, counts every byte read from the connection: what the
	// server sent, SSH's own messages and framing included.
	Wire *atomic.Int64
}

// NewKey returns a fresh ed25519 signer.
func NewKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Term is one person at one terminal.
type Term struct {
	t       testing.TB
	stdin   io.Writer
	resize  func(w, h int) error
	hangup  func()
	HostKey ssh.PublicKey // what the server presented, for SSH connections

	mu     sync.Mutex
	emu    *vt.Emulator
	raw    bytes.Buffer // everything the server sent to stdout
	stderr bytes.Buffer
	bells  int
	title  string
	modes  []ansi.Mode

	done    chan struct{}
	waitErr error
}

// BannerError is a connection refused after the server said why in its
// banner.
type BannerError struct {
	Banner string
	Err    error
}

func (e *BannerError) Error() string { return fmt.Sprintf("%v (banner: %q)", e.Err, e.Banner) }
func (e *BannerError) Unwrap() error { return e.Err }

// Dial connects to addr as user and starts a shell with a PTY.
func Dial(t testing.TB, addr, user string, o Options) *Term {
	t.Helper()
	term, err := TryDial(t, addr, user, o)
	if err != nil {
		t.Fatalf("dial %s as %q: %v", addr, user, err)
	}
	return term
}

// TryDial is Dial that returns the error instead of failing the test.
func TryDial(t testing.TB, addr, user string, o Options) (*Term, error) {
	if o.Width == 0 {
		o.Width = 80
	}
	if o.Height == 0 {
		o.Height = 24
	}
	tm := &Term{t: t, done: make(chan struct{})}
	tm.startEmulator(o.Width, o.Height)
	c, err := Open(addr, user, o, stderrOf{tm})
	if err != nil {
		return nil, err
	}
	tm.HostKey, tm.stdin = c.HostKey, c.Stdin
	tm.resize = func(w, h int) error { return c.Session.WindowChange(h, w) }
	tm.hangup = c.Close
	t.Cleanup(tm.Close)
	go func() {
		tm.pump(c.Stdout)
		tm.waitErr = c.Session.Wait() // after stdout's EOF; it waits for stderr itself
		close(tm.done)
	}()
	return tm, nil
}

// Conn is an SSH session as Open leaves it: started, its stdin and stdout
// to use.
type Conn struct {
	Client  *ssh.Client
	Session *ssh.Session
	Stdin   io.WriteCloser
	Stdout  io.Reader
	HostKey ssh.PublicKey // what the server presented
}

// Close hangs up.
func (c *Conn) Close() { _ = c.Session.Close(); _ = c.Client.Close() }

// GuestConfig is a client's config for user as a guest (no key, an empty
// keyboard-interactive answer) who trusts any host key: every server a
// test or the load tool dials is one it has just started on loopback.
func GuestConfig(user string) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil })},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         Timeout,
	}
}

// Open connects to addr as user (a guest unless o.Key), sends o.Env, asks
// for a PTY of o.Width×o.Height unless o.NoPTY, and starts a shell, or
// o.Command; the session's stderr goes to stderr. Connecting and the
// handshake are bounded by o.Timeout. It fails no test: cmd/hushload
// opens its sessions with it too.
func Open(addr, user string, o Options, stderr io.Writer) (*Conn, error) {
	limit := cmp.Or(o.Timeout, Timeout)
	c := &Conn{}
	cfg := GuestConfig(user)
	if o.Key != nil {
		cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(o.Key)}
	}
	cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error {
		c.HostKey = key
		return nil
	}
	// OpenSSH prints the banner on standard error; so does this.
	var banner strings.Builder
	cfg.BannerCallback = func(msg string) error {
		banner.WriteString(msg)
		if stderr != nil {
			_, _ = io.WriteString(stderr, msg)
		}
		return nil
	}
	cfg.Timeout = limit
	d := net.Dialer{Timeout: limit}
	if o.From != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.From)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if o.Wire != nil {
		conn = countedConn{Conn: conn, n: o.Wire}
	}
	_ = conn.SetDeadline(time.Now().Add(limit)) // a server that never answers the handshake
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		if b := banner.String(); b != "" {
			return nil, &BannerError{Banner: b, Err: err}
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if o.Requests != nil {
		seen, from := make(chan *ssh.Request), reqs
		go func() {
			defer close(seen)
			for r := range from {
				o.Requests(r.Type)
				seen <- r
			}
		}()
		reqs = seen
	}
	c.Client = ssh.NewClient(cc, chans, reqs)
	if err := c.start(o, stderr); err != nil {
		c.Client.Close()
		return nil, err
	}
	return c, nil
}

// start opens the session on c.Client and starts what o asks for.
func (c *Conn) start(o Options, stderr io.Writer) error {
	sess, err := c.Client.NewSession()
	if err != nil {
		return err
	}
	c.Session = sess
	for k, v := range o.Env {
		if err := sess.Setenv(k, v); err != nil {
			return fmt.Errorf("setenv %s: %w", k, err)
		}
	}
	if !o.NoPTY {
		if err := sess.RequestPty("xterm-256color", o.Height, o.Width, ssh.TerminalModes{}); err != nil {
			return err
		}
	}
	sess.Stderr = stderr
	if c.Stdout, err = sess.StdoutPipe(); err != nil {
		return err
	}
	if c.Stdin, err = sess.StdinPipe(); err != nil {
		return err
	}
	if o.Command != "" {
		return sess.Start(o.Command)
	}
	return sess.Shell()
}

// countedConn counts what is read from a connection.
type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// stderrOf collects a Term's stderr.
type stderrOf struct{ tm *Term }

func (s stderrOf) Write(p []byte) (int, error) {
	s.tm.mu.Lock()
	defer s.tm.mu.Unlock()
	return s.tm.stderr.Write(p)
}

func (tm *Term) startEmulator(w, h int) {
	tm.emu = vt.NewEmulator(w, h)
	tm.emu.SetCallbacks(vt.Callbacks{
		Bell:       func() { tm.bells++ },
		Title:      func(s string) { tm.title = s },
		EnableMode: func(m ansi.Mode) { tm.modes = append(tm.modes, m) },
	})
	// The emulator answers queries into a pipe that must be drained.
	go func() { _, _ = io.Copy(io.Discard, tm.emu) }()
}

// Spawn runs a local program (an ssh binary, say) under a PTY of w×h and
// reads its screen the same way.
func Spawn(t testing.TB, cmd *exec.Cmd, w, h int) *Term {
	t.Helper()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(w), Rows: uint16(h)})
	if err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	tm := &Term{t: t, done: make(chan struct{}), stdin: ptmx}
	tm.startEmulator(w, h)
	tm.resize = func(w, h int) error { return pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(w), Rows: uint16(h)}) }
	tm.hangup = func() { _ = cmd.Process.Kill() }
	t.Cleanup(tm.Close)
	go func() {
		tm.pump(ptmx) // ends with EIO when the program exits
		tm.waitErr = cmd.Wait()
		ptmx.Close()
		close(tm.done)
	}()
	return tm
}

func (tm *Term) pump(r io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			tm.mu.Lock()
			tm.raw.Write(buf[:n])
			_, _ = tm.emu.Write(buf[:n])
			tm.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// Type sends keys as a person would type them.
func (tm *Term) Type(s string) {
	tm.t.Helper()
	if _, err := io.WriteString(tm.stdin, s); err != nil {
		tm.t.Fatalf("type: %v", err)
	}
}

// Paste sends s as one bracketed paste.
func (tm *Term) Paste(s string) { tm.Type("\x1b[200~" + s + "\x1b[201~") }

// Resize tells the server the window changed.
func (tm *Term) Resize(w, h int) {
	tm.t.Helper()
	tm.mu.Lock()
	tm.emu.Resize(w, h)
	tm.mu.Unlock()
	if err := tm.resize(w, h); err != nil {
		tm.t.Fatalf("resize: %v", err)
	}
}

// WaitFor waits until ok holds for the screen, failing with the screen
// shown if it does not within Timeout, or if the session ends first.
func (tm *Term) WaitFor(what string, ok func(screen string) bool) {
	tm.t.Helper()
	held, ended := false, false
	wait.Poll(Timeout, func() bool {
		select {
		case <-tm.done:
			ended = true // and what its last output drew is on screen
		default:
		}
		held = ok(tm.Screen())
		return held || ended
	})
	switch {
	case held:
	case ended:
		tm.t.Fatalf("session ended waiting for %s; screen:\n%s\nstderr: %q", what, tm.Screen(), tm.Stderr())
	default:
		tm.t.Fatalf("timed out waiting for %s; screen:\n%s\nstderr: %q", what, tm.Screen(), tm.Stderr())
	}
}

// inviteRE finds the command an invite shows: tests serve on a port other
// than 22, so it names the port.
var inviteRE = regexp.MustCompile(`ssh -p (\d+) ([A-Za-z0-9-]+)@`)

// Invite finds the invite command in text (a screen, or raw output) and
// returns its room code and port.
func Invite(text string) (code, port string, ok bool) {
	m := inviteRE.FindStringSubmatch(text)
	if m == nil {
		return "", "", false
	}
	return m[2], m[1], true
}

// InviteCode waits for term to be alone in a new room and returns the code
// from its invite, failing t unless the invite names the port of addr.
func InviteCode(t testing.TB, term *Term, addr string) string {
	t.Helper()
	term.WaitText("Waiting for someone to join")
	code, port, ok := Invite(term.Screen())
	if !ok {
		t.Fatalf("no invite on screen:\n%s", term.Screen())
	}
	if !strings.HasSuffix(addr, ":"+port) {
		t.Fatalf("invite port %s, server on %s", port, addr)
	}
	return code
}

// WaitText waits until the screen shows s.
func (tm *Term) WaitText(s string) {
	tm.t.Helper()
	tm.WaitFor(fmt.Sprintf("%q on screen", s), func(screen string) bool { return strings.Contains(screen, s) })
}

// WaitGone waits until the screen no longer shows s.
func (tm *Term) WaitGone(s string) {
	tm.t.Helper()
	tm.WaitFor(fmt.Sprintf("%q to leave the screen", s), func(screen string) bool { return !strings.Contains(screen, s) })
}

// Exit waits for the session to end and returns its exit status.
func (tm *Term) Exit() int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(Timeout):
		tm.t.Fatalf("session did not end; screen:\n%s", tm.Screen())
	}
	var exit *ssh.ExitError
	var local *exec.ExitError
	switch {
	case tm.waitErr == nil:
		return 0
	case errors.As(tm.waitErr, &exit):
		return exit.ExitStatus()
	case errors.As(tm.waitErr, &local):
		return local.ExitCode()
	}
	tm.t.Fatalf("session ended without a status: %v", tm.waitErr)
	return -1
}

// Done is closed when the session has ended.
func (tm *Term) Done() <-chan struct{} { return tm.done }

// Close hangs up.
func (tm *Term) Close() {
	tm.hangup()
}
