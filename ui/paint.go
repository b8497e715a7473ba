package ui

import "strconv"

// Thresholds of the diffing writer. Each picks the shorter of two ways to
// say the same thing to the terminal, counted in bytes sent.
const (
	// spaceRun is the most blank cells crossed by writing spaces over them:
	// up to four spaces are no longer than a cursor move (CSI n C).
	spaceRun = 4
	// blankRun is the most cells blanked by writing spaces: more, and
	// erasing to the end of the row (CSI K, three bytes) is shorter. It is
	// also the widest gap between two old glyphs that blanking them crosses
	// with spaces rather than a cursor move of about as many bytes.
	blankRun = 3
	// patchShort: a patch of at most this many bytes is kept without trying
	// a rewrite, since no rewrite is shorter than a cursor move, an erase
	// and a pen.
	patchShort = 32
)

// spaces holds the longest run of spaces spaceRun allows.
const spaces = "    "

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
	if patched-start <= patchShort {
		return
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
		for j++; j < len(og) && int(og[j].col) < next && int(og[j].col)-end <= blankRun; j++ {
			end = int(og[j].col) + int(og[j].w)
		}
		end = min(end, next, w)
		if start >= w {
			return
		}
		s.moveTo(i, start, false)
		if start >= nend && (j < len(og) || end-start > blankRun) {
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
		case d > 0 && erased && d <= spaceRun:
			s.buf = append(s.buf, spaces[:d]...)
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
