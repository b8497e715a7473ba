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
//
// A screen at rest holds no goroutine, no timer and no buffer: the writer
// starts with the first frame after a rest and ends once nothing has come
// for restAfter, giving back its timers, its write buffer and the spare
// frames, and keeping the frame shown, cut to its size, to diff the next
// one against.
type Screen struct {
	w       io.Writer
	stall   time.Duration
	onStall func()

	mu      sync.Mutex
	next    *Frame
	last    *Frame   // the newest frame handed to Show and kept; the writer only reads it
	shows   int      // frames handed to Show
	spare   []*Frame // frames done with, to be filled again
	raw     []byte
	closing bool
	final   string
	writing bool // a writer goroutine runs
	wake    chan struct{}
	done    chan struct{}

	// Owned by the writer goroutine that runs.
	shown    *Frame // what the terminal shows; nil before the first frame
	started  bool   // the terminal is set up (alternate screen)
	cursorOn bool
	at       termState
	buf      []byte
	rawBuf   []byte // the writer's half of the raw bytes (see run)
	stalled  *time.Timer
	rest     *time.Timer
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

// restAfter is how long a writer waits for another frame before it ends
// and the screen gives back what only drawing needs.
const restAfter = time.Second

// NewScreen draws to w. If one write blocks for longer than stall,
// onStall is called once (to hang up on the reader that stopped reading).
func NewScreen(w io.Writer, stall time.Duration, onStall func()) *Screen {
	return &Screen{w: w, stall: stall, onStall: onStall, wake: make(chan struct{}, 1), done: make(chan struct{})}
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
// now on. A frame that looks like the last one shown is dropped without
// waking the writer: the tick of a fade step a key frame already drew
// costs only its layout.
func (s *Screen) Show(f *Frame) {
	s.mu.Lock()
	s.shows++
	if s.last != nil && f.same(s.last) {
		s.recycle(f)
		s.mu.Unlock()
		return
	}
	if s.next != nil {
		s.recycle(s.next)
	}
	s.next, s.last = f, f
	s.wakeWriter()
	s.mu.Unlock()
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
	s.wakeWriter()
	s.mu.Unlock()
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
	s.wakeWriter()
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(wait):
	}
}

// wakeWriter tells the writer there is work, starting one if none runs.
// A Screen not made by NewScreen has no writer: whoever holds it paints
// (the benchmarks do). Called with mu held.
func (s *Screen) wakeWriter() {
	if s.wake == nil {
		return
	}
	if !s.writing {
		s.writing = true
		go s.run()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run writes what is waiting until nothing has come for restAfter, or the
// screen closes.
func (s *Screen) run() {
	if s.onStall != nil && s.stall > 0 {
		s.stalled = time.AfterFunc(time.Hour, s.onStall)
		s.stalled.Stop()
	}
	s.rest = time.NewTimer(restAfter)
	last := time.Now() // the last work done; the rest timer may be older
	for {
		s.mu.Lock()
		f, closing, final := s.next, s.closing, s.final
		s.next = nil
		// The raw bytes change hands: the writer's buffer from last time
		// takes the next ones, so neither is allocated again.
		raw := s.raw
		s.raw, s.rawBuf = s.rawBuf[:0], raw
		s.mu.Unlock()
		if f != nil || closing || len(raw) > 0 {
			if !s.write(f, closing, final, raw) || closing {
				s.rest.Stop()
				close(s.done)
				return
			}
			last = time.Now()
		}
		select {
		case <-s.wake:
			continue
		case <-s.rest.C:
		}
		if wait := restAfter - time.Since(last); wait > 0 {
			s.rest.Reset(wait) // frames came meanwhile: wait on from the last
			continue
		}
		s.mu.Lock()
		if s.next == nil && len(s.raw) == 0 && !s.closing {
			s.writing = false
			s.shown = s.shown.compact()
			s.last = s.shown
			s.spare, s.buf, s.rawBuf = nil, nil, nil
			s.stalled, s.rest = nil, nil // stopped after each write, and fired
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.rest.Reset(restAfter)
	}
}

// write paints f (if any) after raw and sends it all in one write, with the
// terminal's restore and final at the end when closing. It reports false
// when the terminal is gone.
func (s *Screen) write(f *Frame, closing bool, final string, raw []byte) bool {
	s.buf = s.buf[:0]
	if !s.started && (f != nil || closing) {
		s.started = true
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
	if len(s.buf) == 0 {
		return true
	}
	if s.stalled != nil {
		s.stalled.Reset(s.stall)
	}
	_, err := s.w.Write(s.buf)
	if s.stalled != nil {
		s.stalled.Stop()
	}
	return err == nil
}
