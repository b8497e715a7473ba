package ui

import (
	"unicode"
	"unicode/utf8"

	"github.com/hush-chat/hush/clean"
	"github.com/hush-chat/hush/talk"
	"github.com/rivo/uniseg"
)

// maxCells bounds one lane however fast someone types; the screen shows far
// fewer, and the oldest go first.
const maxCells = 2048

// maxWord bounds how many characters share one fade clock: a word fades as
// a unit, but a "word" typed forever without a space still fades in parts.
const maxWord = 24

// stamp is a moment as nanoseconds since the model's epoch: as cheap to
// compare and subtract as an integer, and monotonic when the model's clock
// is (see Model.clock).
type stamp int64

// cell is one grapheme cluster someone typed, or a line break (g == "").
type cell struct {
	g  string
	w  int
	at stamp // the fade clock: when its word last grew
}

// lane is one person's strip of fading text. Characters fade where they
// stand: a vanished one leaves a blank, and the text moves only when a
// whole row has vanished (it is then dropped) or when a new row needs room.
type lane struct {
	peer   talk.Peer
	you    bool
	cells  []cell
	word   int          // first cell of the word being typed; -1 between words
	filter clean.Stream // the text filter, checked again before a terminal
	pic    *shown       // the picture this person sent, until it has faded
	// The last layout, kept until the cells or the width change: a frame
	// asks for it several times (compact, need, rows).
	spans      []span
	spansFor   int // the width they were laid out for; 0: none
	spansValid bool
}

// span is one row of a lane at some width: cells[s:e], and whether a line
// break ends it.
type span struct {
	s, e  int
	broke bool
}

// newLane makes a lane for p. The conversation cleaned the name already;
// it is checked again here, as every glyph is at drawing time: nothing
// reaches a terminal unfiltered, whatever let it in.
func newLane(p talk.Peer, you bool) *lane {
	p.Name = clean.Name(p.Name, talk.MaxName)
	p.Badge = clean.Name(p.Badge, talk.MaxName)
	return &lane{peer: p, you: you, word: -1}
}

// add appends typed text, joining a combining mark or joiner onto the
// cluster before it so a character typed in two keystrokes stays whole. It
// returns the text it kept after cleaning (which also bounds how far one
// character can grow).
func (l *lane) add(text string, now stamp) string {
	text = l.filter.Text(text)
	if text == "" {
		return ""
	}
	l.spansValid = false
	kept := text
	if n := len(l.cells); n > 0 && l.cells[n-1].g != "" && !(text[0] < utf8.RuneSelf && l.cells[n-1].g[len(l.cells[n-1].g)-1] < utf8.RuneSelf) {
		// (Between two ASCII characters no cluster ever grows: they are
		// never marks, joiners or prefixes. That is nearly every key,
		// and it saves joining them to ask.)
		last := l.cells[n-1]
		joined := last.g + text
		g, rest, w, _ := uniseg.FirstGraphemeClusterInString(joined, -1)
		if len(g) > len(last.g) {
			// The character keeps its clock: one that grows a key at a
			// time cannot keep itself from fading.
			l.cells[n-1] = cell{g: g, w: w, at: last.at}
			text = rest
		}
	}
	state := -1
	for text != "" {
		var g string
		var w int
		g, text, w, state = uniseg.FirstGraphemeClusterInString(text, state)
		if !wordy(g, l.word >= 0) {
			l.cells = append(l.cells, cell{g: g, w: w, at: now})
			l.word = -1 // spaces, symbols and emoji each fade on their own
			continue
		}
		if l.word < 0 || len(l.cells)-l.word >= maxWord {
			l.word = len(l.cells)
		}
		l.cells = append(l.cells, cell{g: g, w: w, at: now})
		// The whole word takes the clock of its newest letter, so it
		// fades as one: a reader never sees half a word.
		for i := l.word; i < len(l.cells); i++ {
			l.cells[i].at = now
		}
	}
	l.trim()
	return kept
}

// newline starts a new line in the lane.
func (l *lane) newline(now stamp) {
	l.spansValid = false
	l.filter.Newline()
	l.cells = append(l.cells, cell{at: now})
	l.word = -1
	l.trim()
}

func (l *lane) trim() {
	if over := len(l.cells) - maxCells; over > 0 {
		l.drop(over)
	}
}

// drop forgets the first n cells.
func (l *lane) drop(n int) {
	l.spansValid = false
	l.cells = append(l.cells[:0], l.cells[n:]...)
	if l.word >= 0 {
		l.word = max(l.word-n, 0)
	}
}

// vanished reports whether c has faded completely by cut (now - linger).
func (c cell) vanished(cut stamp) bool { return c.at <= cut }

// compact drops the rows, at width, that have vanished entirely from the
// top of the lane. Rows are laid out greedily from the lane's start, so
// dropping whole rows leaves every other row as it was: nothing still on
// screen moves. It reports whether anything is left.
func (l *lane) compact(cut stamp, width int) bool {
	spans := l.layout(width)
	first := len(l.cells)
	for _, sp := range spans {
		if !l.spanVanished(sp, cut) {
			first = sp.s
			break
		}
	}
	if first == len(l.cells) {
		l.cells, l.word, l.spansValid = nil, -1, false
		l.filter.Newline()
		return false
	}
	if first > 0 {
		l.drop(first)
	}
	return true
}

func (l *lane) spanVanished(sp span, cut stamp) bool {
	for _, c := range l.cells[sp.s:sp.e] {
		if !c.vanished(cut) {
			return false
		}
	}
	return !sp.broke || l.cells[sp.e].vanished(cut)
}

// firstAlive is the oldest cell still showing, if any: clocks never go
// down along a lane, so it changes first.
func (l *lane) firstAlive(cut stamp) (cell, bool) {
	for _, c := range l.cells {
		if !c.vanished(cut) {
			return c, true
		}
	}
	return cell{}, false
}

// layout wraps the lane to width at word boundaries: a word that does not
// fit goes whole to the next row (unless it alone is wider than a row), and
// a space that does not fit hangs off the end of its row, unseen. A line
// break ends a row.
func (l *lane) layout(width int) []span {
	if width < 1 {
		width = 1
	}
	if l.spansValid && l.spansFor == width {
		return l.spans
	}
	spans := l.spans[:0]
	start, used, brk := 0, 0, -1 // brk: where the current row may break, after a space
	for i, c := range l.cells {
		if c.g == "" {
			spans = append(spans, span{start, i, true})
			start, used, brk = i+1, 0, -1
			continue
		}
		w := min(c.w, width)
		if used > 0 && used+w > width {
			switch {
			case c.g == " ":
				spans = append(spans, span{start, i + 1, false})
				start, used, brk = i+1, 0, -1
				continue
			case brk > start:
				spans = append(spans, span{start, brk, false})
				used = 0
				for _, d := range l.cells[brk:i] {
					used += min(d.w, width)
				}
				start, brk = brk, -1
			default:
				spans = append(spans, span{start, i, false})
				start, used, brk = i, 0, -1
			}
		}
		used += w
		if c.g == " " {
			brk = i + 1
		}
	}
	spans = append(spans, span{start, len(l.cells), false})
	l.spans, l.spansFor, l.spansValid = spans, width, true
	return spans
}

// rows returns the last n rows of the lane at width, leaving out rows that
// have vanished entirely from its top.
func (l *lane) rows(width, n int, cut stamp) []span {
	if width < 1 || n < 1 {
		return nil
	}
	spans := l.layout(width)
	for len(spans) > 1 && l.spanVanished(spans[0], cut) {
		spans = spans[1:]
	}
	if len(spans) == 1 && spans[0].s == spans[0].e {
		return nil
	}
	if len(spans) > n {
		spans = spans[len(spans)-n:]
	}
	return spans
}

// need is how many rows the lane's text takes at width now.
func (l *lane) need(width int, cut stamp) int {
	return len(l.rows(width, 1<<20, cut))
}

// wordy reports whether cluster g belongs in a word: letters, digits and
// marks; inside a word also an apostrophe or a hyphen ("don't", "e-mail").
func wordy(g string, inWord bool) bool {
	r, _ := utf8.DecodeRuneInString(g)
	switch {
	case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r):
		return true
	case inWord:
		return r == '\'' || r == '’' || r == '-'
	}
	return false
}
