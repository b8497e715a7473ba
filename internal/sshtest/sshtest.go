// Package sshtest drives a server the way a person would: a real SSH client
// with a PTY, and a terminal emulator that decodes what the screen shows.
package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"image/color"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
)

// Timeout bounds every wait; a test that needs longer is broken.
const Timeout = 10 * time.Second

// Options shape one connection.
type Options struct {
	Key     ssh.Signer // nil: join as a guest (keyboard-interactive)
	Width   int        // 80 if zero
	Height  int        // 24 if zero
	NoPTY   bool
	Command string // run as an exec request instead of a shell
	Env     map[string]string
	From    string // local address to dial from, e.g. 127.0.0.2 (any loopback address works on Linux)
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
	auth := []ssh.AuthMethod{ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil })}
	if o.Key != nil {
		auth = []ssh.AuthMethod{ssh.PublicKeys(o.Key)}
	}
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: auth,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			tm.HostKey = key
			return nil
		},
		Timeout: Timeout,
		// OpenSSH prints the banner on standard error; so does this.
		BannerCallback: func(msg string) error {
			tm.mu.Lock()
			tm.stderr.WriteString(msg)
			tm.mu.Unlock()
			return nil
		},
	}
	d := net.Dialer{Timeout: Timeout}
	if o.From != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.From)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		if b := tm.Stderr(); b != "" {
			return nil, &BannerError{Banner: b, Err: err}
		}
		return nil, err
	}
	client := ssh.NewClient(c, chans, reqs)
	sess, err := client.NewSession()
	if err != nil {
		client.Close()
		return nil, err
	}
	tm.resize = func(w, h int) error { return sess.WindowChange(h, w) }
	tm.hangup = func() { _ = sess.Close(); _ = client.Close() }
	t.Cleanup(tm.Close)
	for k, v := range o.Env {
		if err := sess.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("setenv %s: %w", k, err)
		}
	}
	if !o.NoPTY {
		if err := sess.RequestPty("xterm-256color", o.Height, o.Width, ssh.TerminalModes{}); err != nil {
			return nil, err
		}
	}
	tm.startEmulator(o.Width, o.Height)
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := sess.StderrPipe()
	if err != nil {
		return nil, err
	}
	if tm.stdin, err = sess.StdinPipe(); err != nil {
		return nil, err
	}
	if o.Command != "" {
		err = sess.Start(o.Command)
	} else {
		err = sess.Shell()
	}
	if err != nil {
		return nil, err
	}
	var copies sync.WaitGroup
	copies.Go(func() { tm.pump(stdout, true) })
	copies.Go(func() { tm.pump(stderr, false) })
	go func() {
		copies.Wait()
		tm.waitErr = sess.Wait()
		close(tm.done)
	}()
	return tm, nil
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
		tm.pump(ptmx, true) // ends with EIO when the program exits
		tm.waitErr = cmd.Wait()
		ptmx.Close()
		close(tm.done)
	}()
	return tm
}

func (tm *Term) pump(r io.Reader, screen bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			tm.mu.Lock()
			if screen {
				tm.raw.Write(buf[:n])
				_, _ = tm.emu.Write(buf[:n])
			} else {
				tm.stderr.Write(buf[:n])
			}
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

// Screen is the text the terminal shows now, trailing blanks trimmed.
func (tm *Term) Screen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.emu.String()
}

// Lines is Screen split into rows, each with trailing spaces removed.
func (tm *Term) Lines() []string {
	lines := strings.Split(tm.Screen(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// Raw is every byte the server wrote to the terminal so far.
func (tm *Term) Raw() []byte {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return bytes.Clone(tm.raw.Bytes())
}

// Stderr is what the server wrote to standard error.
func (tm *Term) Stderr() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.stderr.String()
}

// State reports what a hostile byte could have changed in the terminal.
type State struct {
	Bells int
	Title string
	Modes []ansi.Mode
}

// State returns the emulator's side effects so far.
func (tm *Term) State() State {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return State{Bells: tm.bells, Title: tm.title, Modes: append([]ansi.Mode(nil), tm.modes...)}
}

// Cursor returns where the cursor is.
func (tm *Term) Cursor() (x, y int) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	p := tm.emu.CursorPosition()
	return p.X, p.Y
}

// CellStyle describes how the first cell showing s is drawn (colour and
// attributes), or "" if s is not on screen.
func (tm *Term) CellStyle(s string) string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for y, line := range strings.Split(tm.emu.String(), "\n") {
		if x := strings.Index(line, s); x >= 0 {
			c := tm.emu.CellAt(ansi.StringWidth(line[:x]), y)
			if c == nil {
				return ""
			}
			return fmt.Sprintf("%v/%v", c.Style.Fg, c.Style.Attrs)
		}
	}
	return ""
}

// CellFg returns the foreground colour of the first cell showing s, and
// whether s is on screen and coloured.
func (tm *Term) CellFg(s string) (color.Color, bool) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for y, line := range strings.Split(tm.emu.String(), "\n") {
		if x := strings.Index(line, s); x >= 0 {
			c := tm.emu.CellAt(ansi.StringWidth(line[:x]), y)
			if c == nil || c.Style.Fg == nil {
				return nil, false
			}
			return c.Style.Fg, true
		}
	}
	return nil, false
}

// WaitFor waits until ok holds for the screen, failing with the screen
// shown if it does not within Timeout.
func (tm *Term) WaitFor(what string, ok func(screen string) bool) {
	tm.t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		s := tm.Screen()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out waiting for %s; screen:\n%s\nstderr: %q", what, s, tm.Stderr())
		}
		select {
		case <-tm.done:
			if s := tm.Screen(); ok(s) {
				return
			}
			tm.t.Fatalf("session ended waiting for %s; screen:\n%s\nstderr: %q", what, tm.Screen(), tm.Stderr())
		case <-time.After(5 * time.Millisecond):
		}
	}
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
