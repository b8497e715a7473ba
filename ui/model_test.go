package ui

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/rooms"
)

// fakeSeat records what the model sends to the room.
type fakeSeat struct {
	others []rooms.Peer
	typed  strings.Builder
	breaks int
}

func (f *fakeSeat) Code() string                          { return "k7dm2q9xwpq" }
func (f *fakeSeat) Seats() int                            { return 8 }
func (f *fakeSeat) Self() rooms.Peer                      { return rooms.Peer{Member: rooms.Member{Name: "me-you"}, ID: 1} }
func (f *fakeSeat) Others() []rooms.Peer                  { return f.others }
func (f *fakeSeat) Type(text string)                      { f.typed.WriteString(text) }
func (f *fakeSeat) Break()                                { f.breaks++ }
func (f *fakeSeat) Ready() <-chan struct{}                { return nil }
func (f *fakeSeat) Drain(buf []rooms.Event) []rooms.Event { return buf }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestModel(t testing.TB, w, h int) (*Model, *fakeSeat, *clock) {
	t.Helper()
	seat := &fakeSeat{others: []rooms.Peer{{Member: rooms.Member{Name: "them-other"}, ID: 2, Color: 1}}}
	c := &clock{t: time.Unix(1e9, 0)}
	screen := NewScreen(io.Discard, 0, nil)
	t.Cleanup(func() { screen.Close("", time.Second) })
	m := New(Config{Seat: seat, Invite: "ssh k7dm2q9xwpq@host", Linger: 5 * time.Second, Profile: colorprofile.TrueColor,
		Width: w, Height: h, Screen: screen, Now: c.now, MaxPaste: 100, KeysPerSecond: 30, KeyBurst: 200})
	return m, seat, c
}

// checkFrame holds for every frame whatever happened before it.
func checkFrame(t testing.TB, m *Model) {
	t.Helper()
	f := m.frame(m.now())
	if len(f.Lines) != m.height {
		t.Fatalf("%d lines for height %d", len(f.Lines), m.height)
	}
	for i, l := range f.Lines {
		if w := ansi.StringWidth(l); w > m.width {
			t.Fatalf("line %d is %d wide in %d: %q", i, w, m.width, l)
		}
		for _, r := range ansi.Strip(l) {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) {
				t.Fatalf("line %d carries control %U: %q", i, r, l)
			}
		}
		if !utf8.ValidString(l) {
			t.Fatalf("line %d is not UTF-8: %q", i, l)
		}
	}
	if f.ShowCursor && (f.CursorRow < 0 || f.CursorRow >= m.height || f.CursorCol < 0 || f.CursorCol >= m.width) {
		t.Fatalf("cursor %d,%d outside %dx%d", f.CursorCol, f.CursorRow, m.width, m.height)
	}
}

func TestTypingReachesRoomAndFades(t *testing.T) {
	m, seat, c := newTestModel(t, 80, 24)
	for _, r := range "hi" {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	if seat.typed.String() != "hi" || seat.breaks != 1 {
		t.Fatalf("room got %q and %d breaks", seat.typed.String(), seat.breaks)
	}
	if !strings.Contains(strings.Join(m.frame(c.t).Lines, "\n"), "No taking it back") {
		t.Fatal("backspace did not explain itself")
	}
	bright := m.frame(c.t)
	c.t = c.t.Add(4 * time.Second)
	m.Update(tick{})
	if strings.Join(m.frame(c.t).Lines, "") == strings.Join(bright.Lines, "") {
		t.Fatal("nothing dimmed after 4s of a 5s linger")
	}
	c.t = c.t.Add(2 * time.Second)
	m.Update(tick{})
	if len(m.you.cells) != 0 {
		t.Fatalf("%d cells left after the linger", len(m.you.cells))
	}
	if !m.wake.IsZero() {
		t.Fatalf("a faded, idle room still wants a tick at %v", m.wake)
	}
}

func TestFramesFitEverySize(t *testing.T) {
	for _, size := range [][2]int{{20, 5}, {1, 1}, {0, 0}, {300, 100}, {5, 30}, {80, 3}, {100000, 100000}} {
		m, _, _ := newTestModel(t, size[0], size[1])
		m.Update(tea.PasteMsg{Content: strings.Repeat("日本👩‍💻e\u0301 ", 20) + "\nsecond line"})
		m.Update(Events{{Kind: rooms.Typed, Peer: rooms.Peer{ID: 2}, Text: strings.Repeat("wide字", 40)}})
		checkFrame(t, m)
	}
}

func FuzzModel(f *testing.F) {
	f.Add([]byte("hello\x00\x01\x02world"), uint16(80), uint16(24))
	f.Add([]byte("\x1b[2J\x1b]0;x\x07\u202e\u0301"), uint16(20), uint16(5))
	f.Add([]byte{0xff, 0x10, 0x20, 0x30, 0x05, 0x06, 0x07}, uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, ops []byte, w, h uint16) {
		m, _, c := newTestModel(t, int(w%400), int(h%150))
		// Each op byte picks an action; the bytes after it are its text.
		for len(ops) > 0 {
			op, n := ops[0], min(int(ops[0]>>3)+1, len(ops)-1)
			text := string(ops[1 : 1+n])
			ops = ops[1+n:]
			switch op % 8 {
			case 0:
				m.Update(tea.KeyPressMsg{Text: text})
			case 1:
				m.Update(tea.PasteMsg{Content: text})
			case 2:
				m.Update(tea.WindowSizeMsg{Width: int(op) % 130, Height: len(text) % 40})
			case 3:
				c.t = c.t.Add(time.Duration(op) * 37 * time.Millisecond)
				m.Update(tick{})
			case 4:
				m.Update(Events{{Kind: rooms.Typed, Peer: rooms.Peer{ID: 2}, Text: text}})
			case 5:
				m.Update(Events{{Kind: rooms.Joined, Peer: rooms.Peer{ID: int(op), Member: rooms.Member{Name: text}}}})
			case 6:
				m.Update(Events{{Kind: rooms.Left, Peer: rooms.Peer{ID: int(op)}}, {Kind: rooms.Broke, Peer: rooms.Peer{ID: 2}}})
			case 7:
				m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
			}
			checkFrame(t, m)
		}
	})
}

func TestScreenWritesOnlyChanges(t *testing.T) {
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	s := NewScreen(w, 0, nil)
	f := Frame{Lines: []string{"a", "b", "c"}, Width: 10, ShowCursor: true, CursorRow: 2, CursorCol: 1}
	written := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			ok := strings.Contains(out.String(), want)
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q never written", want)
			}
		}
	}
	s.Show(f)
	written("c")
	g := f
	g.Lines = []string{"a", "B", "c"}
	s.Show(g)
	written("B")
	s.Show(g) // the same frame again: nothing to write
	s.Close("bye", time.Second)
	mu.Lock()
	defer mu.Unlock()
	got := out.String()
	if strings.Count(got, "\x1b[2K") != 4 { // three rows once, then only the changed one
		t.Fatalf("rows written: %q", got)
	}
	if strings.Count(got, "\x1b[3;2H") != 2 {
		t.Fatalf("cursor moves: %q", got)
	}
	if !strings.HasSuffix(got, "bye") {
		t.Fatalf("no farewell after restoring the terminal: %q", got)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
