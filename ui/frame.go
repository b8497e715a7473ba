package ui

import (
	"bytes"
	"strconv"
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

// ascii holds every byte value at its own index: the text of a
// single-byte glyph.
var ascii = func() (a [256]byte) {
	for i := range a {
		a[i] = byte(i)
	}
	return a
}()

// A frame keeps its arenas from one use to the next, unless they are
// large and the last use took under 1/shrinkShare of them: a big screen
// full of text gives its memory back once it holds less.
const (
	// keepGlyphs (64 KB of glyphs) and keepText are what any frame keeps
	// however little it holds: a full 80×24 terminal fits, so the common
	// screen never gives back and allocates again.
	keepGlyphs = 4096
	keepText   = 16 << 10
	// shrinkShare: an arena is let go when its last use took under a
	// quarter of it, so one busy frame does not pin its peak for good, and
	// a frame that only dips for a moment is not reallocated.
	shrinkShare = 4
)

// reset empties f for a width × height screen, keeping its memory.
func (f *Frame) reset(width, height int) {
	if cap(f.glyphs) > keepGlyphs && len(f.glyphs) < cap(f.glyphs)/shrinkShare {
		f.glyphs = nil
	}
	if cap(f.text) > keepText && len(f.text) < cap(f.text)/shrinkShare {
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

// compact returns a copy of f whose arenas are cut to what it holds: what
// a screen at rest keeps of the frame it shows. A nil f stays nil.
func (f *Frame) compact() *Frame {
	if f == nil {
		return nil
	}
	c := *f
	c.rows = append([]frameRow(nil), f.rows...)
	c.glyphs = append([]glyph(nil), f.glyphs...)
	c.text = append([]byte(nil), f.text...)
	return &c
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

// same reports whether f looks exactly like o: size, cursor and every row.
func (f *Frame) same(o *Frame) bool {
	if f.Width != o.Width || len(f.rows) != len(o.rows) || f.ShowCursor != o.ShowCursor ||
		f.ShowCursor && (f.CursorRow != o.CursorRow || f.CursorCol != o.CursorCol) {
		return false
	}
	for i := range f.rows {
		if !f.sameRow(o, i) {
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
			col = int(g.col) + int(g.w)
		}
		out[i] = string(b)
	}
	return out
}

// appendSkip moves the cursor n columns right over an erased row: spaces
// when that is shorter, else CSI n C.
func appendSkip(b []byte, n int) []byte {
	if n <= spaceRun {
		return append(b, spaces[:n]...)
	}
	b = append(b, "\x1b["...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, 'C')
}
