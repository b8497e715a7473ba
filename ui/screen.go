package ui

import (
	"io"
	"sync"
	"time"
)

// Screen draws frames on a terminal, rewriting only what changed. Show
// never blocks: a writer goroutine sends the newest frame whenever the
// terminal can take it, so a slow connection skips frames instead of
// queueing them, and costs at most three frames of memory however long it
// stalls (the one shown, the one waiting, the one being filled).
type Screen struct {
	w       io.Writer
	stall   time.Duration
	onStall func()

	mu      sync.Mutex
	next    *Frame
	shows   int      // frames handed to Show
	spare   []*Frame // frames done with, to be filled again
	raw     []byte
	closing bool
	final   string
	wake    chan struct{}
	done    chan struct{}

	// Owned by the writer goroutine.
	shown    *Frame // what the terminal shows; nil before the first frame
	cursorOn bool
	at       termState
	buf      []byte
}

// termState is what the writer knows of the terminal: where its cursor is
// and which pen is set. Unknown after anything whose effect it cannot be
// sure of (a styled head, a character that is not ASCII, the last column).
type termState struct {
	row, col  int
	cursorSet bool
	pen       pen
	penSet    bool
}

// maxRaw bounds bells and clipboard writes waiting behind a stalled terminal.
const maxRaw = 4096

// maxSpare is how many frames a Screen keeps to be filled again: one
// waiting and one being filled, while a third is shown.
const maxSpare = 2

// NewScreen starts drawing to w. If one write blocks for longer than stall,
// onStall is called once (to hang up on the reader that stopped reading).
func NewScreen(w io.Writer, stall time.Duration, onStall func()) *Screen {
	s := &Screen{w: w, stall: stall, onStall: onStall, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// Blank returns a frame to fill and pass to Show: one the writer is done
// with, or a new one.
func (s *Screen) Blank() *Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.spare); n > 0 {
		f := s.spare[n-1]
		s.spare[n-1] = nil
		s.spare = s.spare[:n-1]
		return f
	}
	return new(Frame)
}

// Show replaces whatever frame is waiting with f. The Screen owns f from
// now on.
func (s *Screen) Show(f *Frame) {
	s.mu.Lock()
	if s.next != nil {
		s.recycle(s.next)
	}
	s.next = f
	s.shows++
	s.mu.Unlock()
	s.poke()
}

// recycle keeps f to be filled again. Called with mu held.
func (s *Screen) recycle(f *Frame) {
	if f != nil && len(s.spare) < maxSpare {
		s.spare = append(s.spare, f)
	}
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
	var raw []byte
	for range s.wake {
		s.mu.Lock()
		f, closing, final := s.next, s.closing, s.final
		s.next = nil
		// The raw bytes change hands: the writer's buffer from last time
		// takes the next ones, so neither is allocated again.
		raw, s.raw = s.raw, raw[:0]
		s.mu.Unlock()

		s.buf = s.buf[:0]
		if !started && (f != nil || closing) {
			started = true
			s.buf = append(s.buf, "\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[2J"...)
		}
		s.buf = append(s.buf, raw...)
		if f != nil {
			old := s.paint(f)
			s.mu.Lock()
			s.recycle(old)
			s.mu.Unlock()
		}
		if closing {
			s.buf = append(s.buf, "\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l"...)
			s.buf = append(s.buf, final...)
		}
		if len(s.buf) > 0 {
			if timer != nil {
				timer.Reset(s.stall)
			}
			_, err := s.w.Write(s.buf)
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
