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

// frame lays the room out in a new frame; Run draws into recycled ones.
func (m *Model) frame(now time.Time) Frame {
	var f Frame
	m.draw(&f, now)
	return f
}

// draw lays the room out in f: a header, the lanes (yours at the bottom,
// nearest your hands), and a status line. Every row is cut to the width,
// so nothing ever wraps on the terminal and the diff stays row by row.
// It allocates nothing once f, the memo and the lanes have grown to size.
func (m *Model) draw(f *Frame, now time.Time) {
	switch {
	case m.meet.knocking:
		m.drawDoor(f)
		return
	case m.meet.lobby:
		m.drawLobby(f, now)
		return
	}
	w, h := max(m.width, 1), max(m.height, 1)
	f.reset(w, h)
	top, bottom := 0, h
	if h >= 3 {
		top, bottom = 1, h-1
	}
	if len(m.meet.knocks) > 0 && !m.help {
		for _, b := range m.banners(w, now) {
			if top < bottom-1 {
				f.setRow(top, b, 0)
				top++
			}
		}
	}
	body := bottom - top
	lanes := m.lanes
	if len(lanes) > body {
		lanes = lanes[len(lanes)-body:] // you are last, so always shown
	}
	if h >= 3 {
		hidden := len(m.lanes) - len(lanes)
		f.setMemoRow(0, m.memo.get(memoKey{kind: 'h', w: w, a: len(m.lanes), b: hidden}, func() string { return m.header(w, hidden) }), 0)
		f.setMemoRow(h-1, m.memo.get(memoKey{kind: 's', w: w, a: len(m.lanes), b: m.notice.color, s: m.notice.who, t: m.notice.text}, func() string { return m.status(w) }), 0)
	}
	if m.help {
		for i, line := range m.helpLines(w, body) {
			f.setRow(top+i, line, 0)
		}
		return
	}
	row := top
	if len(m.lanes) == 1 {
		for _, line := range m.invitePanel(w, body-1) {
			f.setRow(row, line, 0)
			row++
		}
	}
	at := m.clock(now)
	sizes := m.allocate(lanes, bottom-row, m.cutAt(at))
	for i, l := range lanes {
		if l.you { // nearest your hands: at the bottom, the gap above it
			row = bottom - sizes[i]
		}
		m.drawLane(f, l, row, sizes[i], w, at)
		row += sizes[i]
	}
}

// allocate gives each lane its rows. With room for a label and a row of
// text each, lanes are sized by what they hold: a silent member's lane is
// just its name, and rows nobody needs are left as a gap above yours.
// When text does not fit, the lanes holding most are cut to their newest
// rows, evenly. In a tiny window every lane gets an equal share.
func (m *Model) allocate(lanes []*lane, body int, cut stamp) []int {
	sizes := grow(&m.sizes, len(lanes))
	if body < 2*len(lanes) {
		per, extra := body/len(lanes), body%len(lanes)
		for i, l := range lanes {
			sizes[i] = per
			if l.you {
				sizes[i] += extra
			}
		}
		return sizes
	}
	tw := m.textWidth()
	need := grow(&m.need, len(lanes))
	total := 0
	for i, l := range lanes {
		need[i] = l.need(tw, cut) + m.picRows(l, tw, cut+stamp(m.fade.linger))
		if l.you {
			need[i] = max(need[i], 1)
		}
		total += need[i]
	}
	text := body - len(lanes) // rows left after every label
	if total > text {
		// The largest share c such that giving every lane min(need, c)
		// fits; what is left over goes to the fullest lanes, newest first.
		c := 0
		for sum := 0; ; c++ {
			sum = 0
			for _, n := range need {
				sum += min(n, c+1)
			}
			if sum > text {
				break
			}
		}
		left := text
		for i, n := range need {
			need[i] = min(n, c)
			left -= need[i]
		}
		for i := len(need) - 1; i >= 0 && left > 0; i-- {
			if l := lanes[i]; l.need(tw, cut)+m.picRows(l, tw, cut+stamp(m.fade.linger)) > need[i] {
				need[i]++
				left--
			}
		}
	}
	for i := range lanes {
		sizes[i] = 1 + need[i]
	}
	return sizes
}

// grow returns (*s)[:n], zeroed, growing *s only when it is too short.
func grow(s *[]int, n int) []int {
	if cap(*s) < n {
		*s = make([]int, n)
	}
	*s = (*s)[:n]
	clear(*s)
	return *s
}

func (m *Model) header(w, hidden int) string {
	shown := m.cfg.Conv.Code()
	code := m.style(ansi.Style{}.Bold()) + shown + m.style(ansi.Style{}.Faint())
	if w < 40 { // the code must stay readable in a tiny window
		return ansi.Truncate(code+fmt.Sprintf(" %d/%d", len(m.lanes), m.cfg.Conv.Seats()), w, "…")
	}
	here := fmt.Sprintf("%d of %d here", len(m.lanes), m.cfg.Conv.Seats())
	if hidden > 0 {
		here += fmt.Sprintf(", %d not shown", hidden)
	}
	if m.meet.locked {
		here += " · locked"
	}
	s := m.style(ansi.Style{}.Bold()) + "hush" + m.style(ansi.Style{}.Faint()) + " · room " + code + " · " + here
	return ansi.Truncate(s, w, "…")
}

// status is the notice of the moment, or the keys worth knowing: whole
// hints only, as many as fit, never one cut in the middle.
func (m *Model) status(w int) string {
	if m.notice.text != "" {
		st := m.style(ansi.Style{})
		if m.notice.color >= 0 {
			st = m.fade.style(m.notice.color, 0)
		}
		who := ansi.Truncate(m.notice.who, max(w-ansi.StringWidth(m.notice.text), 2), "…")
		return ansi.Truncate(st+who+m.notice.text, w, "…")
	}
	hints := []string{"esc esc leaves", "f1 help"}
	switch {
	case m.meet.lobby:
		hints = []string{"tab picks a person", "enter asks them", "esc esc leaves", "f1 help"}
	case m.meet.knocking:
		hints = []string{"esc esc stops knocking"}
	case m.cfg.Conv.Group():
		lock := "ctrl+l locks"
		if m.meet.locked {
			lock = "ctrl+l unlocks"
		}
		hints = append(hints, lock)
	}
	if m.open() && !m.meet.lobby && !m.meet.knocking {
		hints = append(hints, "ctrl+y copies the invite")
		if len(m.lanes) > 1 {
			hints = append(hints, m.cfg.Conv.Invite())
		}
	}
	line, used := "", 0
	for _, h := range hints {
		add := h
		if line != "" {
			add = " · " + h
		}
		if used+ansi.StringWidth(add) > w {
			continue // a later, shorter hint may still fit
		}
		line += add
		used += ansi.StringWidth(add)
	}
	return m.style(ansi.Style{}.Faint()) + line
}

// invitePanel tells someone alone in a room how to bring the other person
// in. The lines are kept until the size changes.
func (m *Model) invitePanel(w, room int) []string {
	key := [2]int{w, room}
	if m.invite.lines == nil || m.invite.key != key {
		m.invite.key, m.invite.lines = key, m.makeInvitePanel(w, room)
	}
	return m.invite.lines
}

func (m *Model) makeInvitePanel(w, room int) []string {
	dim, bold := m.style(ansi.Style{}.Faint()), m.style(ansi.Style{}.Bold())
	lines := []string{ansi.Truncate(dim+"Waiting for someone to join. Share this:", w, "…")}
	for rest := m.cfg.Conv.Invite(); rest != ""; {
		part := ansi.Truncate(rest, w-indent, "")
		if part == "" {
			break
		}
		lines = append(lines, strings.Repeat(" ", indent)+bold+part)
		rest = rest[len(part):]
	}
	copies := "ctrl+y copies it"
	if m.cfg.Conv.Link() != "" {
		lines = append(lines, ansi.Truncate(dim+"or, for a browser:", w, "…"))
		lines = append(lines, strings.Repeat(" ", indent)+bold+ansi.Truncate(m.cfg.Conv.Link(), w-indent, "…"))
		copies = "ctrl+y copies one, then the other"
	}
	lines = append(lines, ansi.Truncate(dim+copies+" · f1 shows every key", w, "…"), "")
	if room < 0 {
		room = 0
	}
	if len(lines) > room {
		lines = lines[:room]
	}
	return lines[:len(lines):len(lines)]
}

// helpLines list every key, and the settings a person can bring along.
// They are kept until the size or a setting they show changes.
func (m *Model) helpLines(w, rows int) []string {
	key := [4]int{w, rows, m.pace, 0}
	if m.quiet {
		key[3] = 1
	}
	if m.helpRows.lines == nil || m.helpRows.key != key {
		m.helpRows.key, m.helpRows.lines = key, m.makeHelpLines(w, rows)
	}
	return m.helpRows.lines
}

func (m *Model) makeHelpLines(w, rows int) []string {
	bold, dim := m.style(ansi.Style{}.Bold()), m.style(ansi.Style{}.Faint())
	bell := "on"
	if m.quiet {
		bell = "off"
	}
	lines := []string{
		bold + "Keys" + dim + "  (any key closes this)",
		"  typing      every key reaches the others as you press it",
		"  enter       starts a new line; nothing can be taken back",
		"  esc esc     leaves (press twice); ctrl+d leaves at once",
		"  ctrl+y      copies the invite (again: the web link), while a seat is free",
		"  ctrl+f      fades slower on your screen only: " + paceName[m.pace],
		"  ctrl+g      turns the bell on or off: " + bell,
		"  tab         picks: an ask, a knock, a person in the lobby, a picture",
		"              (tab ↓ next, shift+tab ↑ back, esc back to typing)",
		"  enter       on what is picked: accepts, lets in, asks, shows",
		"  backspace   on what is picked: declines an ask, turns a knock away",
		"  delete      on a person in the lobby: ignores them for this session",
		"  ctrl+l      locks or unlocks a group room; others then knock",
		"  ctrl+p      a line that sends a picture from another terminal",
		"  f1          shows this",
		"",
		bold + "Bring your settings" + dim + "  (when you connect)",
		"  ssh -o SetEnv=HUSH_FADE=slower …   or slowest",
		"  ssh -o SetEnv=HUSH_BELL=off …",
		"  ssh -o SetEnv=HUSH_PICTURES=show …  or veil (the default), off",
		"  ssh -o SetEnv=NO_COLOR=1 …          no colour at all",
	}
	for i := range lines {
		lines[i] = ansi.Truncate(lines[i], w, "…")
	}
	return lines[:min(len(lines), max(rows, 0))]
}

var paceName = map[int]string{1: "as for everyone", 2: "slower", 4: "slowest"}

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
func (m *Model) drawLane(f *Frame, l *lane, row, n, w int, now stamp) {
	if n < 1 {
		return
	}
	var prefix memoRow
	pw := indent
	cut := m.cutAt(now)
	if n == 1 && !l.you && len(l.cells) == 0 {
		n = 2 // a silent lane is its name line: the label, no text row
	}
	if n >= 2 {
		f.setMemoRow(row, m.memo.get(memoKey{kind: 'l', w: w, a: l.peer.ID}, func() string { return ansi.Truncate(m.label(l), w, "…") }), 0)
		row, n = row+1, n-1
		if used := m.drawPicture(f, l, row, n, w, now); used > 0 {
			row, n = row+used, n-used
			if n == 0 {
				return
			}
		}
	} else if w >= 8 {
		prefix = m.memo.get(memoKey{kind: 'p', w: w, a: l.peer.ID}, func() string {
			return m.fade.style(l.peer.Color, 0) + ansi.Truncate(l.peer.Name, w/3, "…") + "\x1b[0m› "
		})
		pw = ansi.StringWidth(prefix.s)
	}
	if pw >= w {
		prefix, pw = memoRow{}, 0 // too narrow for anything but the text
	}
	hw := pw
	if prefix.s == "" {
		hw = 0 // the indent is blank columns, not a head
	}
	tw := max(w-pw, 1)
	rows := l.rows(tw, n, cut)
	var used int
	for i, sp := range rows {
		f.setMemoRow(row+i, prefix, hw)
		used = m.glyphs(f, row+i, l, l.cells[sp.s:sp.e], pw, tw, now)
	}
	if len(rows) == 0 && pw > indent {
		f.setMemoRow(row, prefix, hw)
	}
	if l.you {
		f.ShowCursor = true
		f.CursorRow, f.CursorCol = row, pw
		if k := len(rows); k > 0 {
			f.CursorRow = row + k - 1
			f.CursorCol += used
			if rows[k-1].broke { // the newest row ended in a break: the cursor is below it
				f.CursorRow, f.CursorCol = min(row+k, row+n-1), pw
			}
		}
		f.CursorCol = min(f.CursorCol, w-1)
	}
}

// glyphs puts one row of text on row of f from column col0, each character
// in its shade of fading, and reports how many columns it took. A vanished
// character, or a space, is a blank: no glyph.
func (m *Model) glyphs(f *Frame, row int, l *lane, cells []cell, col0, width int, now stamp) int {
	cut := m.cutAt(now)
	used := 0
	for _, c := range cells {
		w := c.w
		if w > width || used+w > width {
			break // a space hanging off the row, or a character too wide for it
		}
		col := col0 + used
		used += w
		if w < 1 || c.g == " " || c.vanished(cut) || !safe(c.g) {
			continue
		}
		f.glyph(row, col, w, m.fade.pen(l.peer.Color, m.fade.step(c.at, now)), c.g)
	}
	return used
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
// frames, so a keystroke lays out only the text that moved. Each row kept
// has an id no other row of this memo ever has, so the Screen can tell an
// unchanged head without comparing its bytes.
type memo struct {
	rows  map[memoKey]memoRow
	last  uint64 // the last id given
	limit int    // rows kept before starting afresh; 0: 64
}

type memoKey struct {
	kind byte
	w    int
	a, b int
	s, t string
}

type memoRow struct {
	s  string
	id uint64
}

func (c *memo) get(key memoKey, make func() string) memoRow {
	if c.rows == nil {
		c.rows = map[memoKey]memoRow{}
	}
	v, ok := c.rows[key]
	if !ok {
		if len(c.rows) > max(c.limit, 64) { // sizes and notices come and go: start afresh
			clear(c.rows)
		}
		c.last++
		v = memoRow{make(), c.last}
		c.rows[key] = v
	}
	return v
}

// reset forgets every row (the styles changed), never reusing an id.
func (c *memo) reset() { clear(c.rows) }
