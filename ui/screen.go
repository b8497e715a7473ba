package ui

import (
	"bytes"
	"image/color"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
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
// then glyphs[g0:g1], left to right. Two heads with the same non-zero id
// are the same text (one memo row).
type frameRow struct {
	h0, h1 int32
	hw     int32
	g0, g1 int32
	id     uint64
}

// glyph is one character cluster at column col, w columns wide: n bytes
// of text, which are the byte text itself when n is 1 (nearly always), or
// start at text in the frame's text. Two equal single-byte glyphs are
// equal as values, so rows compare as fast as memory.
type glyph struct {
	col  uint16
	n    uint16
	w    uint8
	pen  pen
	zero uint16 // always 0: with no padding, == compares the glyph as memory
	text uint32
}

// pen is how a glyph is drawn: bold or faint, and a foreground colour.
// Nothing else is ever set, so a blank looks the same in any pen.
type pen struct {
	attr uint8
	kind uint8 // fgDefault, fgBasic (c[0] is 0–15), fgIndexed (c[0]), fgRGB
	c    [3]uint8
}

const (
	penBold uint8 = 1 << iota
	penFaint
)

const (
	fgDefault uint8 = iota
	fgBasic
	fgIndexed
	fgRGB
)

// penOf is the pen for attributes attr and foreground c, as the colour
// profile converted it (nil: the terminal's own).
func penOf(attr uint8, c color.Color) pen {
	p := pen{attr: attr}
	switch c := c.(type) {
	case nil:
	case ansi.BasicColor:
		if c < 16 {
			p.kind, p.c[0] = fgBasic, uint8(c)
		}
	case ansi.IndexedColor:
		p.kind, p.c[0] = fgIndexed, uint8(c)
	default:
		r, g, b, _ := c.RGBA()
		p.kind, p.c = fgRGB, [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
	}
	return p
}

// appendFg appends the SGR parameters that set p's foreground, as
// ansi.Style writes them.
func (p pen) appendFg(b []byte) []byte {
	switch p.kind {
	case fgBasic:
		if p.c[0] < 8 {
			return strconv.AppendUint(b, 30+uint64(p.c[0]), 10)
		}
		return strconv.AppendUint(b, 90+uint64(p.c[0]-8), 10)
	case fgIndexed:
		b = append(b, "38;5;"...)
		return strconv.AppendUint(b, uint64(p.c[0]), 10)
	case fgRGB:
		b = append(b, "38;2;"...)
		b = strconv.AppendUint(b, uint64(p.c[0]), 10)
		b = append(b, ';')
		b = strconv.AppendUint(b, uint64(p.c[1]), 10)
		b = append(b, ';')
		return strconv.AppendUint(b, uint64(p.c[2]), 10)
	}
	return append(b, "39"...)
}

// ascii holds every byte value at its own index: the text of a
// single-byte glyph.
var ascii = func() (a [256]byte) {
	for i := range a {
		a[i] = byte(i)
	}
	return a
}()

// A frame keeps its arenas from one use to the next, unless they are
// large and the last use took under a quarter of them: a big screen full
// of text gives its memory back once it holds less.
const (
	keepGlyphs = 4096     // glyphs, 64 KB
	keepText   = 16 << 10 // bytes
)

// reset empties f for a width × height screen, keeping its memory.
func (f *Frame) reset(width, height int) {
	if cap(f.glyphs) > keepGlyphs && len(f.glyphs) < cap(f.glyphs)/4 {
		f.glyphs = nil
	}
	if cap(f.text) > keepText && len(f.text) < cap(f.text)/4 {
		f.text = nil
	}
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
	f.setMemoRow(row, memoRow{s: head}, hw)
}

// setMemoRow is setRow with a head kept in a memo, known by its id.
func (f *Frame) setMemoRow(row int, head memoRow, hw int) {
	n := int32(len(f.glyphs))
	h0 := int32(len(f.text))
	f.text = append(f.text, head.s...)
	f.rows[row] = frameRow{h0: h0, h1: int32(len(f.text)), hw: int32(hw), g0: n, g1: n, id: head.id}
}

// sameHead reports whether row i of f and of o start with the same head.
func (f *Frame) sameHead(o *Frame, i int) bool {
	a, b := &f.rows[i], &o.rows[i]
	if a.hw != b.hw || a.h1-a.h0 != b.h1-b.h0 {
		return false
	}
	return a.h1 == a.h0 || (a.id != 0 && a.id == b.id) || bytes.Equal(f.head(*a), o.head(*b))
}

// glyph adds g at col to row, which must be the row setRow last started.
// A cluster longer than a glyph can say is left out (clean bounds them
// far below that).
func (f *Frame) glyph(row, col, w int, p pen, g string) {
	if len(g) > 0xffff {
		return
	}
	gl := glyph{col: uint16(col), w: uint8(w), n: uint16(len(g)), pen: p}
	if len(g) == 1 {
		gl.text = uint32(g[0])
	} else {
		gl.text = uint32(len(f.text))
		f.text = append(f.text, g...)
	}
	f.glyphs = append(f.glyphs, gl)
	f.rows[row].g1 = int32(len(f.glyphs))
}

func (f *Frame) head(r frameRow) []byte      { return f.text[r.h0:r.h1] }
func (f *Frame) glyphsOf(r frameRow) []glyph { return f.glyphs[r.g0:r.g1] }
func (f *Frame) textOf(g glyph) []byte {
	if g.n == 1 {
		return ascii[g.text : g.text+1]
	}
	return f.text[g.text : g.text+uint32(g.n)]
}

// sameGlyph reports whether g of f and h of o look the same.
func (f *Frame) sameGlyph(g glyph, o *Frame, h glyph) bool {
	if g == h && (g.n == 1 || f == o) {
		return true
	}
	return g.n > 1 && g.n == h.n && g.col == h.col && g.w == h.w && g.pen == h.pen && bytes.Equal(f.textOf(g), o.textOf(h))
}

// sameRow reports whether row i of f and of o look the same.
func (f *Frame) sameRow(o *Frame, i int) bool {
	a, b := &f.rows[i], &o.rows[i]
	if a.g1-a.g0 != b.g1-b.g0 || !f.sameHead(o, i) {
		return false
	}
	bg := o.glyphs[b.g0:b.g1]
	for k, g := range f.glyphs[a.g0:a.g1] {
		if g != bg[k] || g.n > 1 {
			if !f.sameGlyph(g, o, bg[k]) {
				return false
			}
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
			col = int(g.col) + int(g.w)
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
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ';')
		}
	}
	switch {
	case !known:
		b = append(b, '0')
		cur = pen{}
	case cur.attr&^p.attr != 0: // bold or faint to drop: 22 drops both
		b = append(b, "22"...)
		cur.attr = 0
	}
	if add := p.attr &^ cur.attr; add != 0 {
		if add&penBold != 0 {
			sep()
			b = append(b, '1')
		}
		if add&penFaint != 0 {
			sep()
			b = append(b, '2')
		}
	}
	if p.kind != cur.kind || p.c != cur.c {
		sep()
		b = p.appendFg(b)
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
		r := &f.rows[i]
		switch {
		case full && r.h1 == r.h0 && r.g1 == r.g0:
			// Blank on a cleared screen already.
		case full:
			s.rewrite(f, i)
		case f.sameRow(old, i):
		case !f.sameHead(old, i):
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
// old showed there that f does not. Heads are the same. It walks both
// rows' glyphs left to right at once.
func (s *Screen) patch(old, f *Frame, i int) {
	og, ng := old.glyphsOf(old.rows[i]), f.glyphsOf(f.rows[i])
	w := f.Width
	nend := 0 // where f's last glyph ends
	if n := len(ng); n > 0 {
		nend = int(ng[n-1].col) + int(ng[n-1].w)
	}
	j, k := 0, 0
	for k < len(ng) || j < len(og) {
		if k < len(ng) && (j == len(og) || ng[k].col <= og[j].col) {
			g := ng[k]
			k++
			same := j < len(og) && og[j].col == g.col && (g == og[j] && g.n == 1 || f.sameGlyph(g, old, og[j]))
			for end := int(g.col) + max(int(g.w), 1); j < len(og) && int(og[j].col) < end; j++ {
				// Drawn over by g, or g itself.
			}
			if !same {
				s.put(f, i, g, false)
			}
			continue
		}
		// Old glyphs before the next new one: blank them, crossing short
		// gaps (blank already) with spaces too.
		next := w
		if k < len(ng) {
			next = int(ng[k].col)
		}
		start, end := int(og[j].col), int(og[j].col)+int(og[j].w)
		for j++; j < len(og) && int(og[j].col) < next && int(og[j].col)-end <= 3; j++ {
			end = int(og[j].col) + int(og[j].w)
		}
		end = min(end, next, w)
		if start >= w {
			return
		}
		s.moveTo(i, start, false)
		if start >= nend && (j < len(og) || end-start > 3) {
			// Nothing of f follows: erase to the end of the row.
			s.buf = append(s.buf, "\x1b[K"...)
			return
		}
		for range end - start {
			s.buf = append(s.buf, ' ')
		}
		s.advance(end, w)
	}
}

// put draws glyph g of f on row. erased says the row was erased since the
// cursor was last placed on it, so blanks may be crossed with spaces.
func (s *Screen) put(f *Frame, row int, g glyph, erased bool) {
	s.moveTo(row, int(g.col), erased)
	s.buf = appendSGR(s.buf, s.at.pen, s.at.penSet, g.pen)
	s.at.pen, s.at.penSet = g.pen, true
	if g.n == 1 {
		s.buf = append(s.buf, byte(g.text))
	} else {
		s.buf = append(s.buf, f.textOf(g)...)
	}
	if g.n == 1 && g.text < 0x80 {
		s.advance(int(g.col)+int(g.w), f.Width)
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
