package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/x/vt"

	"github.com/hush-chat/hush/internal/sshtest"
)

// waitLimit bounds every single wait for a screen or a connection.
const waitLimit = 15 * time.Second

// rawKeep is how much of the start of a session's output a term keeps, to
// read the room code (and, without an emulator, the header) from.
const rawKeep = 16 << 10

// term is one SSH session with a PTY, as a person's terminal would hold it.
// With an emulator it decodes the screen; without one it only counts bytes,
// which is what background typists use: an x/vt emulator costs far more
// than a connection. Either way it keeps the first rawKeep bytes.
type term struct {
	conn  *sshtest.Conn
	stdin io.Writer

	received atomic.Int64 // bytes the server wrote to this terminal
	wire     atomic.Int64 // bytes read from its connection, SSH's own included
	reads    atomic.Int64 // reads that returned data: about one per frame

	mu     sync.Mutex
	emu    *vt.Emulator // nil: count bytes only
	raw    []byte
	waiter func(now time.Time) bool // called under mu after each write; true removes it
	watch  func(now time.Time)      // called under mu after each write, kept

	done chan struct{}
}

// newEmulator returns an emulator whose query answers are drained, so its
// writes never block on them.
func newEmulator(w, h int) *vt.Emulator {
	e := vt.NewEmulator(w, h)
	go func() { _, _ = io.Copy(io.Discard, e) }()
	return e
}

// dial opens a session as user with a w×h PTY and starts a shell, the way
// the tests do (sshtest.Open). emu may be nil; a reused emulator is reset
// first. env pairs are sent before the PTY.
func dial(addr, user string, w, h int, emu *vt.Emulator, env ...string) (*term, error) {
	if emu != nil {
		_, _ = emu.WriteString("\x1bc\x1b[?1049l\x1b[2J\x1b[H")
	}
	t := &term{emu: emu, done: make(chan struct{})}
	o := sshtest.Options{Width: w, Height: h, Timeout: waitLimit, Wire: &t.wire}
	if len(env) > 0 {
		o.Env = make(map[string]string, len(env)/2)
		for i := 0; i+1 < len(env); i += 2 {
			o.Env[env[i]] = env[i+1]
		}
	}
	c, err := sshtest.Open(addr, user, o, io.Discard)
	if err != nil {
		return nil, err
	}
	t.conn, t.stdin = c, c.Stdin
	go t.pump(c.Stdout)
	return t, nil
}

func (t *term) pump(r io.Reader) {
	defer close(t.done)
	buf := make([]byte, 8<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			t.received.Add(int64(n))
			t.reads.Add(1)
			t.mu.Lock()
			if t.emu != nil {
				_, _ = t.emu.Write(buf[:n])
			}
			if len(t.raw) < rawKeep {
				t.raw = append(t.raw, buf[:min(n, rawKeep-len(t.raw))]...)
			}
			if t.waiter != nil || t.watch != nil {
				now := time.Now()
				if t.waiter != nil && t.waiter(now) {
					t.waiter = nil
				}
				if t.watch != nil {
					t.watch(now)
				}
			}
			t.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

var errEnded = errors.New("session ended")

// wait returns when ok first held after a write (the time of that write), or
// now if it holds already. ok runs with t.mu held.
func (t *term) wait(what string, ok func() bool) (time.Time, error) {
	hit := make(chan time.Time, 1)
	t.mu.Lock()
	if ok() {
		t.mu.Unlock()
		return time.Now(), nil
	}
	t.waiter = func(now time.Time) bool {
		if ok() {
			hit <- now
			return true
		}
		return false
	}
	t.mu.Unlock()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	select {
	case at := <-hit:
		return at, nil
	case <-t.done:
		select {
		case at := <-hit:
			return at, nil
		default:
		}
		return time.Time{}, fmt.Errorf("waiting for %s: %w; screen:\n%s", what, errEnded, t.show())
	case <-timer.C:
		t.mu.Lock()
		t.waiter = nil
		t.mu.Unlock()
		return time.Time{}, fmt.Errorf("waiting for %s: timed out after %v; screen:\n%s", what, waitLimit, t.show())
	}
}

// waitText waits for s on the decoded screen, or in the raw bytes without
// an emulator. row >= 0 limits the search to that screen row.
func (t *term) waitText(s string, row int) (time.Time, error) {
	return t.wait(fmt.Sprintf("%q", s), func() bool { return t.hasText(s, row) })
}

func (t *term) hasText(s string, row int) bool {
	if t.emu == nil {
		return bytes.Contains(t.raw, []byte(s))
	}
	if row >= 0 {
		return strings.Contains(rowText(t.emu, row), s)
	}
	for y := range t.emu.Height() {
		if strings.Contains(rowText(t.emu, y), s) {
			return true
		}
	}
	return false
}

// show is the screen (or the raw bytes) for error messages.
func (t *term) show() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.emu == nil {
		return fmt.Sprintf("%q", t.raw)
	}
	return t.emu.String()
}

// setWatch installs f to run after every write (under the term's lock).
func (t *term) setWatch(f func(now time.Time)) {
	t.mu.Lock()
	t.watch = f
	t.mu.Unlock()
}

func (t *term) send(s string) error {
	_, err := io.WriteString(t.stdin, s)
	return err
}

func (t *term) close() {
	if t.conn != nil {
		t.conn.Close()
	}
}

// rowText is one row of the decoded screen; wide characters count once.
func rowText(e *vt.Emulator, y int) string {
	var b strings.Builder
	for x := range e.Width() {
		c := e.CellAt(x, y)
		switch {
		case c == nil || c.Content == "":
			if c == nil || c.Width != 0 {
				b.WriteByte(' ')
			}
		default:
			b.WriteString(c.Content)
		}
	}
	return b.String()
}

// lastChar is the last non-blank character in rows [top, bottom) of the
// screen, reading bottom-up and right to left: where the newest typed
// character sits, for hush's lane and the relay's raw text alike.
func lastChar(e *vt.Emulator, top, bottom int) byte {
	w := e.Width()
	for y := bottom - 1; y >= top; y-- {
		for x := w - 1; x >= 0; x-- {
			c := e.CellAt(x, y)
			if c == nil || len(c.Content) != 1 || c.Content[0] == ' ' {
				continue
			}
			return c.Content[0]
		}
	}
	return 0
}
