package ui

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"time"
)

// Frame is what a screen should show. Each row is a head — styled text
// drawn from column 0 as it is: a header, a label, a notice — and then
// glyphs: typed characters, each at its own column in its own pen. The
// Screen compares heads row by row and glyphs cell by cell, so a fade step
// that only changes colours rewrites only the characters whose colour
// changed. A frame's memory is reused: fill one from Screen.Blank, hand it
// to Show, and never touch it again.
type Frame struct {
	Width      int
	CursorRow  int
	CursorCol  int
	ShowCursor bool

	rows   []frameRow
	glyphs []glyph
	text   []byte // heads and glyphs' text, back to back
}

// frameRow is one row of a frame: its head text[h0:h1], hw columns wide,
// then glyphs[g0:g1], left to right.
type frameRow struct {
	h0, h1 int32
	hw     int32
	g0, g1 int32
}

// glyph is one character cluster at column col, w columns wide: text[t0:t1].
type glyph struct {
	col, w int32
	t0, t1 int32
	pen    pen
}

// pen is how a glyph is drawn: bold, faint, and a foreground as SGR
// parameters ("38;5;110"), "" for the terminal's own. Nothing else is ever
// set, so a blank looks the same in any pen.
type pen struct {
	attr uint8
	fg   string
}

const (
	penBold uint8 = 1 << iota
	penFaint
)

// reset empties f for a width × height screen, keeping its memory.
func (f *Frame) reset(width, height int) {
	f.Width, f.CursorRow, f.CursorCol, f.ShowCursor = width, 0, 0, false
	if cap(f.rows) < height {
		f.rows = make([]frameRow, height)
	}
	f.rows = f.rows[:height]
	clear(f.rows)
	f.glyphs, f.text = f.glyphs[:0], f.text[:0]
}

// setRow starts row over with head, hw columns wide, and no glyphs.
func (f *Frame) setRow(row int, head string, hw int) {
	n := int32(len(f.glyphs))
	h0 := int32(len(f.text))
	f.text = append(f.text, head...)
	f.rows[row] = frameRow{h0: h0, h1: int32(len(f.text)), hw: int32(hw), g0: n, g1: n}
}

// glyph adds g at col to row, which must be the row setRow last started.
func (f *Frame) glyph(row, col, w int, p pen, g string) {
	t0 := int32(len(f.text))
	f.text = append(f.text, g...)
	f.glyphs = append(f.glyphs, glyph{col: int32(col), w: int32(w), t0: t0, t1: int32(len(f.text)), pen: p})
	f.rows[row].g1 = int32(len(f.glyphs))
}

func (f *Frame) head(r frameRow) []byte      { return f.text[r.h0:r.h1] }
func (f *Frame) glyphsOf(r frameRow) []glyph { return f.glyphs[r.g0:r.g1] }
func (f *Frame) textOf(g glyph) []byte       { return f.text[g.t0:g.t1] }
func (f *Frame) sameGlyph(g glyph, o *Frame, h glyph) bool {
	return g.col == h.col && g.w == h.w && g.pen == h.pen && bytes.Equal(f.textOf(g), o.textOf(h))
}

// sameRow reports whether row i of f and of o look the same.
func (f *Frame) sameRow(o *Frame, i int) bool {
	a, b := f.rows[i], o.rows[i]
	if a.hw != b.hw || a.g1-a.g0 != b.g1-b.g0 || !bytes.Equal(f.head(a), o.head(b)) {
		return false
	}
	bg := o.glyphsOf(b)
	for k, g := range f.glyphsOf(a) {
		if !f.sameGlyph(g, o, bg[k]) {
			return false
		}
	}
	return true
}

// Lines renders every row as a string, as it would be drawn on an erased
// row: the head, then each glyph in its style, blanks as cursor moves. It
// allocates; it is for tests and tools, not for drawing.
func (f Frame) Lines() []string {
	out := make([]string, len(f.rows))
	for i, r := range f.rows {
		b := append([]byte(nil), f.head(r)...)
		col := int(r.hw)
		var last *pen
		for _, g := range f.glyphsOf(r) {
			if n := int(g.col) - col; n > 0 {
				b = appendSkip(b, n)
			}
			if last == nil || *last != g.pen {
				b = append(b, "\x1b[0m"...)
				b = appendSGR(b, pen{}, false, g.pen)
				last = &g.pen
			}
			b = append(b, f.textOf(g)...)
			col = int(g.col + g.w)
		}
		out[i] = string(b)
	}
	return out
}

// appendSkip moves the cursor n columns right over an erased row: spaces
// when that is shorter, else CSI n C.
func appendSkip(b []byte, n int) []byte {
	if n <= 4 {
		return append(b, "    "[:n]...)
	}
	b = append(b, "\x1b["...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, 'C')
}

// appendSGR sets pen p on a terminal whose pen is cur (known) or unknown
// (!known), with as few parameters as it takes. It appends nothing when
// the pen is already p.
func appendSGR(b []byte, cur pen, known bool, p pen) []byte {
	if known && cur == p {
		return b
	}
	b = append(b, "\x1b["...)
	n := 0
	param := func(s string) {
		if n > 0 {
			b = append(b, ';')
		}
		b = append(b, s...)
		n++
	}
	switch {
	case !known:
		param("0")
		cur = pen{}
	case cur.attr&^p.attr != 0: // bold or faint to drop: 22 drops both
		param("22")
		cur.attr = 0
	}
	if add := p.attr &^ cur.attr; add != 0 {
		if add&penBold != 0 {
			param("1")
		}
		if add&penFaint != 0 {
			param("2")
		}
	}
	if p.fg != cur.fg {
		if p.fg == "" {
			param("39")
		} else {
			param(p.fg)
		}
	}
	return append(b, 'm')
}

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
	cov      []uint8 // scratch for patch: which frame covers each column
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

// paint appends to buf what turns the terminal from the frame shown into
// f, makes f the frame shown and returns the one it replaces.
func (s *Screen) paint(f *Frame) (old *Frame) {
	old = s.shown
	full := old == nil || f.Width != old.Width || len(f.rows) != len(old.rows)
	if full {
		s.buf = append(s.buf, "\x1b[0m\x1b[2J"...)
		s.at = termState{penSet: true}
	}
	for i := range f.rows {
		switch {
		case full:
			s.rewrite(f, i)
		case f.sameRow(old, i):
		case f.rows[i].hw != old.rows[i].hw || !bytes.Equal(f.head(f.rows[i]), old.head(old.rows[i])):
			s.rewrite(f, i)
		default:
			s.patchOrRewrite(old, f, i)
		}
	}
	if f.ShowCursor {
		// A frame that changed nothing writes nothing, not even a cursor move.
		s.moveTo(f.CursorRow, f.CursorCol, false)
		if !s.cursorOn {
			s.buf = append(s.buf, "\x1b[?25h"...)
		}
	} else if s.cursorOn {
		s.buf = append(s.buf, "\x1b[?25l"...)
	}
	s.cursorOn = f.ShowCursor
	s.shown = f
	return old
}

// rewrite erases row i and draws it whole.
func (s *Screen) rewrite(f *Frame, i int) {
	r := f.rows[i]
	s.moveTo(i, 0, false)
	// Erase first: erasing after a full-width row would clear its last cell.
	s.buf = append(s.buf, "\x1b[0m\x1b[2K"...)
	s.at.pen, s.at.penSet = pen{}, true
	if h := f.head(r); len(h) > 0 {
		s.buf = append(s.buf, h...)
		s.at.cursorSet, s.at.penSet = false, false
	}
	for _, g := range f.glyphsOf(r) {
		s.put(f, i, g, true)
	}
}

// patchOrRewrite draws row i of f over the same row of old, whichever
// costs fewer bytes: the changed glyphs only, or the whole row.
func (s *Screen) patchOrRewrite(old, f *Frame, i int) {
	start, before := len(s.buf), s.at
	s.patch(old, f, i)
	patched, after := len(s.buf), s.at
	if patched-start <= 32 {
		return // no rewrite is shorter than a cursor move, an erase and a pen
	}
	s.at = before
	s.rewrite(f, i)
	if len(s.buf)-patched < patched-start {
		s.buf = append(s.buf[:start], s.buf[patched:]...)
		return
	}
	s.buf, s.at = s.buf[:patched], after
}

// patch draws the glyphs of row i that differ from old's, and blanks what
// old showed there that f does not. Heads are the same.
func (s *Screen) patch(old, f *Frame, i int) {
	og, ng := old.glyphsOf(old.rows[i]), f.glyphsOf(f.rows[i])
	w := f.Width
	if cap(s.cov) < w {
		s.cov = make([]uint8, w)
	}
	cov := s.cov[:w]
	clear(cov)
	oend, nend := 0, 0
	for _, g := range og {
		for c := g.col; c < g.col+g.w && int(c) < w; c++ {
			cov[c] |= 1
		}
		oend = int(g.col + g.w)
	}
	for _, g := range ng {
		for c := g.col; c < g.col+g.w && int(c) < w; c++ {
			cov[c] |= 2
		}
		nend = int(g.col + g.w)
	}
	j, k := 0, 0
	for col := 0; col < w; {
		if k < len(ng) && int(ng[k].col) == col {
			g := ng[k]
			k++
			for j < len(og) && int(og[j].col) < col {
				j++
			}
			if j == len(og) || !f.sameGlyph(g, old, og[j]) {
				s.put(f, i, g, false)
			}
			col += max(int(g.w), 1)
			continue
		}
		if cov[col] != 1 {
			col++
			continue
		}
		// Shown before, blank now: spaces, or erase to the end of the row
		// when nothing of f follows.
		end := col
		for end < w && cov[end] == 1 {
			end++
		}
		s.moveTo(i, col, false)
		if col >= nend && (end < oend || end-col > 3) {
			s.buf = append(s.buf, "\x1b[K"...)
			return
		}
		for range end - col {
			s.buf = append(s.buf, ' ')
		}
		s.advance(end, w)
		col = end
	}
}

// put draws glyph g of f on row. erased says the row was erased since the
// cursor was last placed on it, so blanks may be crossed with spaces.
func (s *Screen) put(f *Frame, row int, g glyph, erased bool) {
	s.moveTo(row, int(g.col), erased)
	s.buf = appendSGR(s.buf, s.at.pen, s.at.penSet, g.pen)
	s.at.pen, s.at.penSet = g.pen, true
	t := f.textOf(g)
	s.buf = append(s.buf, t...)
	if len(t) == 1 && t[0] < 0x80 {
		s.advance(int(g.col+g.w), f.Width)
	} else {
		// How wide a terminal draws it is its own business.
		s.at.cursorSet = false
	}
}

// advance records that writing left the cursor at col, unless that is past
// the last column, where terminals differ.
func (s *Screen) advance(col, width int) {
	if col >= width {
		s.at.cursorSet = false
		return
	}
	s.at.col = col
}

// moveTo puts the cursor at row, col the shortest way it knows. erased
// says the cells it may cross on the same row are blank and may be
// written as spaces.
func (s *Screen) moveTo(row, col int, erased bool) {
	at := &s.at
	if at.cursorSet && at.row == row {
		switch d := col - at.col; {
		case d == 0:
			return
		case d > 0 && erased && d <= 4:
			s.buf = append(s.buf, "    "[:d]...)
		case d == 1:
			s.buf = append(s.buf, "\x1b[C"...)
		case d > 0:
			s.buf = append(s.buf, "\x1b["...)
			s.buf = strconv.AppendInt(s.buf, int64(d), 10)
			s.buf = append(s.buf, 'C')
		case col == 0:
			s.buf = append(s.buf, '\r')
		case d == -1:
			s.buf = append(s.buf, "\x1b[D"...)
		default:
			s.buf = append(s.buf, "\x1b["...)
			s.buf = strconv.AppendInt(s.buf, int64(-d), 10)
			s.buf = append(s.buf, 'D')
		}
	} else {
		s.buf = append(s.buf, "\x1b["...)
		s.buf = strconv.AppendInt(s.buf, int64(row+1), 10)
		if col > 0 {
			s.buf = append(s.buf, ';')
			s.buf = strconv.AppendInt(s.buf, int64(col+1), 10)
		}
		s.buf = append(s.buf, 'H')
	}
	at.row, at.col, at.cursorSet = row, col, true
}
