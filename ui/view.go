package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/clean"
)

// indent is the gap before a lane's text, under its label.
const indent = 2

// frame lays the room out: a header, the lanes (yours at the bottom, nearest
// your hands), and a status line. Every row is cut to the width, so nothing
// ever wraps on the terminal and the diff stays row by row.
func (m *Model) frame(now time.Time) Frame {
	w, h := max(m.width, 1), max(m.height, 1)
	f := Frame{Lines: make([]string, h), Width: w}
	top, bottom := 0, h
	lanes := m.lanes
	body := h
	if h >= 3 {
		top, bottom = 1, h-1
		body = bottom - top
	}
	if len(lanes) > body {
		lanes = lanes[len(lanes)-body:] // you are last, so always shown
	}
	if h >= 3 {
		hidden := len(m.lanes) - len(lanes)
		f.Lines[0] = m.memo.get(memoKey{'h', w, len(m.lanes), hidden, ""}, func() string { return m.header(w, hidden) })
		f.Lines[h-1] = m.memo.get(memoKey{'s', w, len(m.lanes), m.notice.color, m.notice.who + m.notice.text}, func() string { return m.status(w) })
	}
	row := top
	if len(m.lanes) == 1 {
		for _, line := range m.invitePanel(w, body-1) {
			f.Lines[row] = line
			row++
		}
	}
	body = bottom - row
	per, extra := body/len(lanes), body%len(lanes)
	for _, l := range lanes {
		n := per
		if l.you {
			n += extra
		}
		m.drawLane(&f, l, row, n, w, now)
		row += n
	}
	return f
}

func (m *Model) header(w, hidden int) string {
	code := m.style(ansi.Style{}.Bold()) + m.cfg.Seat.Code() + m.style(ansi.Style{}.Faint())
	if w < 40 { // the code must stay readable in a tiny window
		return ansi.Truncate(code+fmt.Sprintf(" %d/%d", len(m.lanes), m.cfg.Seat.Seats()), w, "…")
	}
	here := fmt.Sprintf("%d of %d here", len(m.lanes), m.cfg.Seat.Seats())
	if hidden > 0 {
		here += fmt.Sprintf(", %d not shown", hidden)
	}
	s := m.style(ansi.Style{}.Bold()) + "hush" + m.style(ansi.Style{}.Faint()) + " · room " + code + " · " + here
	return ansi.Truncate(s, w, "…")
}

func (m *Model) status(w int) string {
	if m.notice.text != "" {
		st := m.style(ansi.Style{})
		if m.notice.color >= 0 {
			st = m.fade.style(m.notice.color, 0)
		}
		who := ansi.Truncate(m.notice.who, max(w-ansi.StringWidth(m.notice.text), 2), "…")
		return ansi.Truncate(st+who+m.notice.text, w, "…")
	}
	hint := "esc leaves · ctrl+y copies the invite"
	if m.cfg.Seat.Seats() > 2 && len(m.lanes) < m.cfg.Seat.Seats() {
		hint += " · ssh " + m.cfg.Seat.Code() + "@…"
	}
	return ansi.Truncate(m.style(ansi.Style{}.Faint())+hint, w, "…")
}

// invitePanel tells someone alone in a room how to bring the other person in.
func (m *Model) invitePanel(w, room int) []string {
	dim, bold := m.style(ansi.Style{}.Faint()), m.style(ansi.Style{}.Bold())
	lines := []string{ansi.Truncate(dim+"Waiting for someone to join. Share this:", w, "…")}
	for rest := m.cfg.Invite; rest != ""; {
		part := ansi.Truncate(rest, w-indent, "")
		if part == "" {
			break
		}
		lines = append(lines, strings.Repeat(" ", indent)+bold+part)
		rest = rest[len(part):]
	}
	lines = append(lines, ansi.Truncate(dim+"ctrl+y copies it", w, "…"), "")
	if room < 0 {
		room = 0
	}
	if len(lines) > room {
		lines = lines[:room]
	}
	return lines
}

func (m *Model) label(l *lane) string {
	s := m.fade.style(l.peer.Color, 0) + "● " + l.peer.Name + m.style(ansi.Style{}.Faint())
	switch {
	case l.peer.Guest:
		s += " · guest, no key"
	case l.peer.Badge != "":
		s += " · key " + l.peer.Badge
	}
	if l.you {
		s += " · you"
	}
	return s
}

// drawLane fills n rows from row with a label and the lane's newest text.
// With a single row the name goes in front of the text.
func (m *Model) drawLane(f *Frame, l *lane, row, n, w int, now time.Time) {
	if n < 1 {
		return
	}
	prefix, pw := strings.Repeat(" ", indent), indent
	if n >= 2 {
		f.Lines[row] = m.memo.get(memoKey{'l', w, l.peer.ID, 0, ""}, func() string { return ansi.Truncate(m.label(l), w, "…") })
		row, n = row+1, n-1
	} else if w >= 8 {
		name := ansi.Truncate(l.peer.Name, w/3, "…")
		prefix = m.fade.style(l.peer.Color, 0) + name + "\x1b[0m› "
		pw = ansi.StringWidth(name) + 2
	}
	if pw >= w {
		prefix, pw = "", 0 // too narrow for anything but the text
	}
	tw := max(w-pw, 1)
	rows := l.rows(tw, n)
	for i, cells := range rows {
		f.Lines[row+i] = prefix + m.cells(l, cells, tw, now)
	}
	if len(rows) == 0 && pw > indent {
		f.Lines[row] = prefix
	}
	if l.you {
		f.ShowCursor = true
		f.CursorRow, f.CursorCol = row, pw
		if k := len(rows); k > 0 {
			f.CursorRow = row + k - 1
			for _, c := range rows[k-1] {
				f.CursorCol += c.w
			}
		}
		f.CursorCol = min(f.CursorCol, w-1)
	}
}

// cells draws one row of text, each character in its shade of fading.
func (m *Model) cells(l *lane, cells []cell, width int, now time.Time) string {
	var b strings.Builder
	last := -1
	for _, c := range cells {
		if c.w > width {
			continue // see lane.rows
		}
		step := m.fade.step(c.at, now)
		if step < 0 || !safe(c.g) {
			b.WriteString(strings.Repeat(" ", c.w))
			continue
		}
		if step != last {
			b.WriteString("\x1b[0m")
			b.WriteString(m.fade.style(l.peer.Color, step))
			last = step
		}
		b.WriteString(c.g)
	}
	return b.String()
}

// safe checks a cluster again at drawing time, whatever let it in.
func safe(g string) bool {
	for _, r := range g {
		if !clean.Safe(r) {
			return false
		}
	}
	return true
}

func (m *Model) style(s ansi.Style) string {
	if m.cfg.Profile == colorprofile.NoTTY {
		return ""
	}
	return "\x1b[0m" + s.String()
}

// memo keeps the rows that rarely change (header, status, labels) between
// frames, so a keystroke lays out only the text that moved.
type memo struct {
	rows map[memoKey]string
}

type memoKey struct {
	kind byte
	w    int
	a, b int
	s    string
}

func (c *memo) get(key memoKey, make func() string) string {
	if c.rows == nil {
		c.rows = map[memoKey]string{}
	}
	v, ok := c.rows[key]
	if !ok {
		if len(c.rows) > 64 { // sizes and notices come and go: start afresh
			clear(c.rows)
		}
		v = make()
		c.rows[key] = v
	}
	return v
}
