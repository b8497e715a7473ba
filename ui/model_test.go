package ui

import (
	"context"
	"fmt"
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
	"github.com/hush-chat/hush/speak"
	"github.com/hush-chat/hush/talk"
)

// fakeSeat records what the model sends to the room.
type fakeSeat struct {
	others []rooms.Peer
	typed  strings.Builder
	breaks int
	err    error
	onType func() // called as each key reaches the room
}

func (f *fakeSeat) Code() string         { return "k7dm2q9xwpq" }
func (f *fakeSeat) Seats() int           { return 8 }
func (f *fakeSeat) Self() rooms.Peer     { return rooms.Peer{Member: rooms.Member{Name: "me-you"}, ID: 1} }
func (f *fakeSeat) Others() []rooms.Peer { return f.others }
func (f *fakeSeat) Type(text string) error {
	if f.onType != nil {
		f.onType()
	}
	f.typed.WriteString(text)
	return nil
}
func (f *fakeSeat) Newline() error                        { f.breaks++; return nil }
func (f *fakeSeat) Picture(string) error                  { return nil }
func (f *fakeSeat) Leave()                                {}
func (f *fakeSeat) Err() error                            { return f.err }
func (f *fakeSeat) Ready() <-chan struct{}                { return nil }
func (f *fakeSeat) Drain(buf []rooms.Event) []rooms.Event { return buf }
func (f *fakeSeat) Tell(int, string) error                { return nil }
func (f *fakeSeat) Lock(bool) error                       { return nil }
func (f *fakeSeat) Answer(int, bool) error                { return nil }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestModel(t testing.TB, w, h int) (*Model, *fakeSeat, *clock) {
	t.Helper()
	seat := &fakeSeat{others: []rooms.Peer{{Member: rooms.Member{Name: "them-other"}, ID: 2, Color: 1}}}
	c := &clock{t: time.Unix(1e9, 0)}
	hub := talk.NewHub(talk.Config{Speak: speak.Config{MaxPaste: 100, KeysPerSecond: 30, KeyBurst: 200}, Linger: 5 * time.Second,
		Invite: func(user string) string { return "ssh " + user + "@host" }})
	m := New(Config{Conv: hub.Sit(seat), Profile: colorprofile.TrueColor, Width: w, Height: h})
	m.now = c.now
	return m, seat, c
}

// checkFrame holds for every frame whatever happened before it.
func checkFrame(t testing.TB, m *Model) {
	t.Helper()
	f := m.frame(m.now())
	if len(f.Lines()) != m.height {
		t.Fatalf("%d lines for height %d", len(f.Lines()), m.height)
	}
	for i, l := range f.Lines() {
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
	if !strings.Contains(strings.Join(m.frame(c.t).Lines(), "\n"), "No taking it back") {
		t.Fatal("backspace did not explain itself")
	}
	bright := m.frame(c.t)
	c.t = c.t.Add(4 * time.Second)
	m.Update(tick{})
	if strings.Join(m.frame(c.t).Lines(), "") == strings.Join(bright.Lines(), "") {
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
		m.Update(Events{{Kind: talk.Typed, Peer: rooms.Peer{ID: 2}, Text: strings.Repeat("wide字", 40)}})
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
				m.Update(Events{{Kind: talk.Typed, Peer: rooms.Peer{ID: 2}, Text: text}})
			case 5:
				m.Update(Events{{Kind: talk.Joined, Peer: rooms.Peer{ID: int(op), Member: rooms.Member{Name: text}}}})
			case 6:
				m.Update(Events{{Kind: talk.Left, Peer: rooms.Peer{ID: int(op)}}, {Kind: talk.Newline, Peer: rooms.Peer{ID: 2}}})
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
	f := textFrame(10, "a", "b", "c")
	f.ShowCursor, f.CursorRow, f.CursorCol = true, 2, 1
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
	g := textFrame(10, "a", "B", "c")
	g.ShowCursor, g.CursorRow, g.CursorCol = true, 2, 1
	s.Show(g)
	written("B")
	h := textFrame(10, "a", "B", "c")
	h.ShowCursor, h.CursorRow, h.CursorCol = true, 2, 1
	s.Show(h) // the same frame again: nothing to write
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

// run executes cmd as Run would and returns its message (nil for none).
func runCmd(cmd tea.Cmd) tea.Msg {
	if cmd == nil {
		return nil
	}
	return cmd()
}

func TestEffectsAreCommands(t *testing.T) {
	m, _, _ := newTestModel(t, 80, 24)
	if _, cmd := m.Update(Events{{Kind: talk.Joined, Peer: rooms.Peer{ID: 3, Member: rooms.Member{Name: "new-one"}}}}); runCmd(cmd) != (Bell{}) {
		t.Fatalf("a join rang no bell: %v", runCmd(cmd))
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'y', Mod: tea.ModCtrl}); runCmd(cmd) != Clipboard("ssh k7dm-2q9x-wpq@host") {
		t.Fatalf("ctrl+y copied %v", runCmd(cmd))
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"}); cmd != nil {
		t.Fatalf("a typed key has an effect: %v", runCmd(cmd))
	}
	if !strings.Contains(m.View().Content, "new-one") {
		t.Fatalf("View does not show the newcomer:\n%s", m.View().Content)
	}
	// Leaving takes esc twice (vim users press it without thinking).
	if _, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEscape}); cmd != nil {
		t.Fatal("one esc left the room")
	}
	if !strings.Contains(m.View().Content, "again to leave") {
		t.Fatalf("one esc did not say how to leave:\n%s", m.View().Content)
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEscape}); runCmd(cmd) != (tea.QuitMsg{}) {
		t.Fatal("esc twice does not quit")
	}
	if !strings.Contains(m.Farewell(), "to come back: ssh k7dm-2q9x-wpq@host") {
		t.Fatalf("the goodbye does not say how to come back: %q", m.Farewell())
	}

	// A conversation that ended quits with words that say why.
	if _, cmd := m.Update(Events{{Kind: talk.Ended, Text: "The hush server is restarting."}}); runCmd(cmd) != (tea.QuitMsg{}) {
		t.Fatal("an ended seat does not quit")
	}
	if !strings.Contains(m.Farewell(), "restarting") {
		t.Fatalf("farewell %q", m.Farewell())
	}
}

func TestRunDrawsOnChangeAndRunsEffects(t *testing.T) {
	m, _, _ := newTestModel(t, 40, 10)
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	screen := NewScreen(w, 0, nil)
	in := make(chan tea.Msg)
	done := make(chan struct{})
	go func() { defer close(done); m.Run(t.Context(), in, screen) }()
	in <- tea.KeyPressMsg{Code: 'y', Mod: tea.ModCtrl}
	in <- tea.KeyPressMsg{Code: 'd', Mod: tea.ModCtrl}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end on ctrl+d")
	}
	screen.Close("", time.Second)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(out.String(), "\x1b]52;c;") {
		t.Fatalf("no clipboard write: %q", out.String())
	}
	if !strings.Contains(out.String(), "k7dm-2q9x-wpq") {
		t.Fatalf("no frame drawn: %q", out.String())
	}
}

// A character grown one joiner at a time stays bounded and fades on its
// first key's clock, not its last.
func TestGrowingCharacterIsBoundedAndFades(t *testing.T) {
	m, _, c := newTestModel(t, 80, 24)
	peer := rooms.Peer{ID: 2}
	start := c.t
	m.Update(Events{{Kind: talk.Typed, Peer: peer, Text: "👩"}})
	for range 60 {
		c.t = c.t.Add(70 * time.Millisecond)
		m.Update(Events{{Kind: talk.Typed, Peer: peer, Text: "\u200d👩"}})
	}
	l := m.lane(2)
	if len(l.cells) < 10 {
		t.Fatalf("60 joined keys made %d characters: one grew without bound", len(l.cells))
	}
	for _, cell := range l.cells {
		if len(cell.g) > 40 {
			t.Fatalf("a character of %d bytes", len(cell.g))
		}
	}
	first := l.cells[0].at
	if first != m.clock(start) {
		t.Fatalf("the first character's clock moved from %v to %v", m.clock(start), first)
	}
	c.t = start.Add(m.fade.linger)
	m.Update(tick{})
	if len(l.cells) > 0 && l.cells[0].at == m.clock(start) && m.fade.step(l.cells[0].at, m.clock(c.t)) >= 0 {
		t.Fatal("the first character outlived its linger")
	}
}

func keyPress(s string) tea.KeyPressMsg { r := []rune(s)[0]; return tea.KeyPressMsg{Code: r, Text: s} }
func keyCtrl(r rune) tea.KeyPressMsg    { return tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl} }
func keyF1() tea.KeyPressMsg            { return tea.KeyPressMsg{Code: tea.KeyF1} }

// With a web link, the waiting panel shows it under the ssh command, and
// Ctrl+Y copies the command, then the link, then the command again.
func TestInviteAndWebLink(t *testing.T) {
	hub := talk.NewHub(talk.Config{Linger: 5 * time.Second,
		Invite: func(user string) string { return "ssh " + user + "@host" },
		Link:   func(code string) string { return "https://host/" + code }})
	m := New(Config{Conv: hub.Sit(&fakeSeat{}), Profile: colorprofile.TrueColor, Width: 80, Height: 24})
	view := ansi.Strip(m.View().Content)
	cmd, link := strings.Index(view, "ssh k7dm-2q9x-wpq@host"), strings.Index(view, "https://host/k7dm-2q9x-wpq")
	if cmd < 0 || link < cmd {
		t.Fatalf("want the command, then the link:\n%s", view)
	}
	for i, want := range []string{"ssh k7dm-2q9x-wpq@host", "https://host/k7dm-2q9x-wpq", "ssh k7dm-2q9x-wpq@host"} {
		if _, c := m.Update(tea.KeyPressMsg{Code: 'y', Mod: tea.ModCtrl}); runCmd(c) != Clipboard(want) {
			t.Fatalf("ctrl+y #%d copied %v, want %q", i+1, runCmd(c), want)
		}
	}
	if !strings.Contains(ansi.Strip(m.View().Content), "Ctrl+y again: web link") {
		t.Fatalf("no word on what ctrl+y copies next:\n%s", ansi.Strip(m.View().Content))
	}
}

// Keys already waiting when Run could draw are taken first, and one frame
// is drawn for all of them: a key never waits behind the frame of the key
// before it, to reach the room or to be echoed. The keys are queued before
// Run starts: every one reaches the room before Run hands the Screen its
// first frame (drawing after each message, the first key would find one
// frame shown, the second two, and so on).
func TestRunTakesWaitingKeysBeforeDrawing(t *testing.T) {
	m, seat, _ := newTestModel(t, 40, 10)
	screen := NewScreen(io.Discard, 0, nil)
	shows := func() int {
		screen.mu.Lock()
		defer screen.mu.Unlock()
		return screen.shows
	}
	var before []int // frames shown as each key reached the room
	seat.onType = func() { before = append(before, shows()) }
	in := make(chan tea.Msg, 8)
	for _, r := range "abcde" {
		in <- tea.KeyPressMsg{Code: r, Text: string(r)}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx, in, screen) }()
	for deadline := time.Now().Add(5 * time.Second); shows() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no frame drawn")
		}
	}
	cancel()
	<-done
	screen.Close("", time.Second)
	if seat.typed.String() != "abcde" {
		t.Fatalf("the room got %q", seat.typed.String())
	}
	if fmt.Sprint(before) != "[0 0 0 0 0]" {
		t.Fatalf("frames shown before each key reached the room: %v, want none before any", before)
	}
}

// A frame drawn within a step of the next fade step shows that step: the
// key and the step cost one frame, and the tick at the step finds nothing
// to write, however far from the step the key came.
func TestFrameTakesTheFadeStepDueNext(t *testing.T) {
	open := func() *fadeRoom {
		m, seat, clk := newTestModel(t, 40, 10)
		m.phase = 0
		r := &fadeRoom{m: m, seat: seat, clk: clk, scr: &Screen{w: io.Discard}} // painted here, no writer
		m.Update(Events{{Kind: talk.Typed, Peer: seat.others[0], Text: "hello"}})
		r.paint()
		return r
	}
	for _, before := range []time.Duration{30 * time.Millisecond, talk.FadeStep/2 + 20*time.Millisecond, talk.FadeStep} {
		// alone fades untouched: it tells which step changes the screen.
		alone, r := open(), open()
		for i := 0; ; i++ {
			if i > 100 || alone.m.wake.IsZero() {
				t.Fatal("no fade step changed the screen")
			}
			step := alone.m.wake
			alone.clk.t = step
			alone.m.Update(tick{})
			if alone.paint() > 0 && i > 0 {
				// r gets a new word just before this step.
				r.clk.t = step.Add(-before)
				r.m.Update(Events{{Kind: talk.Typed, Peer: r.seat.others[0], Text: " x"}})
				if r.paint() == 0 {
					t.Fatal("the key was not drawn")
				}
				r.clk.t = step
				r.m.Update(tick{})
				if n := r.paint(); n != 0 {
					t.Errorf("key %v before a step: the step wrote %d bytes of its own", before, n)
				}
				break
			}
			r.clk.t = step
			r.m.Update(tick{})
			r.paint()
		}
	}
}

// fadeRoom is a model on a test clock whose frames are painted as Run
// would paint them.
type fadeRoom struct {
	m    *Model
	seat *fakeSeat
	clk  *clock
	scr  *Screen
}

// paint draws and paints the model now and returns the bytes written.
func (r *fadeRoom) paint() int {
	r.m.dirty = false
	return drawAndPaint(r.scr, r.m, r.clk.t)
}

// A model at rest waits on neither its timer nor its commands' channel: a
// goroutine blocked in a select holds a record for each channel it waits
// on. Each is there only while set or running.
func TestRestWaitsOnNoTimerAndNoCommand(t *testing.T) {
	var a alarm
	defer a.stop()
	if a.c() != nil {
		t.Fatal("an alarm never set gives a channel")
	}
	a.set(time.Now().Add(10 * time.Millisecond))
	select {
	case <-a.c():
		a.rang()
	case <-time.After(10 * time.Second):
		t.Fatal("the alarm did not ring")
	}
	if a.c() != nil {
		t.Fatal("an alarm that rang still gives a channel")
	}
	a.set(time.Now().Add(time.Hour))
	if a.c() == nil {
		t.Fatal("a set alarm gives no channel")
	}
	a.set(time.Time{})
	if a.c() != nil {
		t.Fatal("an alarm set to never gives a channel")
	}

	r := newRunner(t.Context())
	if r.waiting() != nil {
		t.Fatal("no command runs, yet the runner gives a channel")
	}
	r.run(func() tea.Msg { return "done" })
	select {
	case msg := <-r.waiting():
		r.pending--
		if msg != "done" {
			t.Fatalf("got %v", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command's message did not come back")
	}
	if r.waiting() != nil {
		t.Fatal("every message came back, yet the runner gives a channel")
	}
}
