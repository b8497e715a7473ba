package ui

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"time"
)

// Frame is what a screen should show: one styled string per row, each no
// wider than the terminal.
type Frame struct {
	Lines      []string
	Width      int
	CursorRow  int
	CursorCol  int
	ShowCursor bool
}

// Screen draws frames on a terminal, rewriting only the rows that changed.
// Show never blocks: a writer goroutine sends the newest frame whenever the
// terminal can take it, so a slow connection skips frames instead of
// queueing them, and costs one frame of memory however long it stalls.
type Screen struct {
	w       io.Writer
	stall   time.Duration
	onStall func()

	mu      sync.Mutex
	next    *Frame
	raw     []byte
	closing bool
	final   string
	wake    chan struct{}
	done    chan struct{}

	// Owned by the writer goroutine.
	shown      []string
	shownWidth int
	cursorOn   bool
	cursorAt   [2]int // row, column where the cursor was left
	buf        bytes.Buffer
}

// maxRaw bounds bells and clipboard writes waiting behind a stalled terminal.
const maxRaw = 4096

// NewScreen starts drawing to w. If one write blocks for longer than stall,
// onStall is called once (to hang up on the reader that stopped reading).
func NewScreen(w io.Writer, stall time.Duration, onStall func()) *Screen {
	s := &Screen{w: w, stall: stall, onStall: onStall, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// Show replaces whatever frame is waiting with f.
func (s *Screen) Show(f Frame) {
	s.mu.Lock()
	s.next = &f
	s.mu.Unlock()
	s.poke()
}

// Raw queues bytes that are not part of a frame (a bell, a clipboard write).
// They are dropped if too many are already waiting.
func (s *Screen) Raw(b string) {
	s.mu.Lock()
	if len(s.raw)+len(b) <= maxRaw {
		s.raw = append(s.raw, b...)
	}
	s.mu.Unlock()
	s.poke()
}

// Close draws the last frame, restores the terminal, prints final on the
// normal screen and waits for the writer, at most for wait.
func (s *Screen) Close(final string, wait time.Duration) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	s.final = final
	s.mu.Unlock()
	s.poke()
	select {
	case <-s.done:
	case <-time.After(wait):
	}
}

func (s *Screen) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Screen) run() {
	defer close(s.done)
	var timer *time.Timer
	if s.onStall != nil && s.stall > 0 {
		timer = time.AfterFunc(time.Hour, s.onStall)
		timer.Stop()
		defer timer.Stop()
	}
	started := false
	for range s.wake {
		s.mu.Lock()
		f, raw, closing, final := s.next, s.raw, s.closing, s.final
		s.next, s.raw = nil, nil
		s.mu.Unlock()

		s.buf.Reset()
		if !started && (f != nil || closing) {
			started = true
			s.buf.WriteString("\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[2J")
		}
		s.buf.Write(raw)
		if f != nil {
			s.paint(f)
		}
		if closing {
			s.buf.WriteString("\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l")
			s.buf.WriteString(final)
		}
		if s.buf.Len() > 0 {
			if timer != nil {
				timer.Reset(s.stall)
			}
			_, err := s.w.Write(s.buf.Bytes())
			if timer != nil {
				timer.Stop()
			}
			if err != nil {
				return
			}
		}
		if closing {
			return
		}
	}
}

func (s *Screen) paint(f *Frame) {
	if f.Width != s.shownWidth || len(f.Lines) != len(s.shown) {
		s.buf.WriteString("\x1b[0m\x1b[2J")
		s.shown = make([]string, len(f.Lines))
		for i := range s.shown {
			s.shown[i] = "\x00" // never equal to a real line
		}
		s.shownWidth = f.Width
	}
	changed := false
	for i, line := range f.Lines {
		if s.shown[i] == line {
			continue
		}
		changed = true
		s.shown[i] = line
		s.moveTo(i, 0)
		// Erase first: erasing after a full-width row would clear its last cell.
		s.buf.WriteString("\x1b[0m\x1b[2K")
		s.buf.WriteString(line)
	}
	if f.ShowCursor {
		// A frame that changed nothing writes nothing, not even a cursor move.
		if at := [2]int{f.CursorRow, f.CursorCol}; changed || at != s.cursorAt {
			s.moveTo(at[0], at[1])
			s.cursorAt = at
		}
		if !s.cursorOn {
			s.buf.WriteString("\x1b[?25h")
		}
	} else if s.cursorOn {
		s.buf.WriteString("\x1b[?25l")
	}
	s.cursorOn = f.ShowCursor
}

func (s *Screen) moveTo(row, col int) {
	var b [24]byte
	out := append(b[:0], "\x1b["...)
	out = strconv.AppendInt(out, int64(row+1), 10)
	out = append(out, ';')
	out = strconv.AppendInt(out, int64(col+1), 10)
	out = append(out, 'H')
	s.buf.Write(out)
}
