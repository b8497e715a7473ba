package ui

import (
	"time"

	"github.com/hush-chat/hush/clean"
	"github.com/hush-chat/hush/rooms"
	"github.com/rivo/uniseg"
)

// maxCells bounds one lane however fast someone types; the screen shows far
// fewer, and the oldest go first.
const maxCells = 2048

// cell is one grapheme cluster someone typed, or a line break (g == "").
type cell struct {
	g  string
	w  int
	at time.Time
}

// lane is one person's strip of fading text.
type lane struct {
	peer  rooms.Peer
	you   bool
	cells []cell
	guard clean.Stream
}

// maxName bounds a name on screen.
const maxName = 40

// newLane makes a lane for p. Names are made by the server, not typed, but
// they are cleaned here anyway: nothing reaches a terminal unfiltered.
func newLane(p rooms.Peer, you bool) *lane {
	p.Name = clean.Name(p.Name, maxName)
	p.Badge = clean.Name(p.Badge, maxName)
	return &lane{peer: p, you: you}
}

// add appends typed text, joining a combining mark or joiner onto the
// cluster before it so a character typed in two keystrokes stays whole. It
// returns the text it kept after cleaning (which also bounds how far one
// character can grow).
func (l *lane) add(text string, now time.Time) string {
	text = l.guard.Text(text)
	if text == "" {
		return ""
	}
	kept := text
	if n := len(l.cells); n > 0 && l.cells[n-1].g != "" {
		last := l.cells[n-1]
		joined := last.g + text
		g, rest, w, _ := uniseg.FirstGraphemeClusterInString(joined, -1)
		if len(g) > len(last.g) {
			// The character keeps its first key's clock: one that grows a
			// key at a time cannot keep itself from fading.
			l.cells[n-1] = cell{g: g, w: w, at: last.at}
			text = rest
		}
	}
	state := -1
	for text != "" {
		var g string
		var w int
		g, text, w, state = uniseg.FirstGraphemeClusterInString(text, state)
		l.cells = append(l.cells, cell{g: g, w: w, at: now})
	}
	l.trim()
	return kept
}

// newline starts a new line in the lane.
func (l *lane) newline(now time.Time) {
	l.guard.Newline()
	l.cells = append(l.cells, cell{at: now})
	l.trim()
}

func (l *lane) trim() {
	if over := len(l.cells) - maxCells; over > 0 {
		l.cells = append(l.cells[:0], l.cells[over:]...)
	}
}

// expire drops what has faded completely and reports whether anything is left.
func (l *lane) expire(cut time.Time) bool {
	i := 0
	for i < len(l.cells) && !l.cells[i].at.After(cut) {
		i++
	}
	if i > 0 {
		l.cells = append(l.cells[:0], l.cells[i:]...)
	}
	if len(l.cells) == 0 {
		l.cells = nil
		l.guard.Newline()
	}
	return len(l.cells) > 0
}

// rows wraps the lane to width and returns the last n rows, each a run of
// cells; a break ends a row. Leading empty rows are dropped so text that
// has faded above leaves no gap.
func (l *lane) rows(width, n int) [][]cell {
	if width < 1 || n < 1 {
		return nil
	}
	var out [][]cell
	start, used := 0, 0
	for i, c := range l.cells {
		if c.w > width {
			continue // a wide character in a one-column lane cannot be shown
		}
		if c.g == "" {
			out = append(out, l.cells[start:i])
			start, used = i+1, 0
			continue
		}
		if used > 0 && used+c.w > width {
			out = append(out, l.cells[start:i])
			start, used = i, 0
		}
		used += c.w
	}
	out = append(out, l.cells[start:])
	for len(out) > 1 && len(out[0]) == 0 {
		out = out[1:]
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
