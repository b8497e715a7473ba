package ui

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/talk"
)

// What the terminal shows of people finding each other: the lobby's list
// and asks, a locked room's knocks, the wait at its door. The rules and
// sentences are package talk's; here is only where they go on screen.

// waiting is an ask, or a knock, waiting for an answer.
type waiting struct {
	peer  talk.Peer
	until time.Time // zero: no end shown
}

// meet is the model's part for finding each other.
type meet struct {
	lobby    bool        // in the lobby
	people   []talk.Peer // the lobby: everyone but you, in arrival order
	scroll   int         // the first person listed
	asks     []waiting   // asks waiting on you, oldest first
	asking   *waiting    // your open ask
	knocks   []waiting   // knocks at your room
	knocking bool        // you wait at a locked room's door
	locked   bool        // the room is locked
	pick     item        // what is highlighted while picking
}

type itemKind uint8

const (
	pickAsk itemKind = iota + 1
	pickKnock
	pickPerson
	pickPicture
)

// item is one thing Tab can pick.
type item struct {
	kind itemKind
	peer talk.Peer
	lane *lane // pickPicture
}

func (a item) same(b item) bool {
	return a.kind == b.kind && a.peer.ID == b.peer.ID && a.lane == b.lane
}

// answerFor bounds a choice that reaches the rooms (opening a room for an
// accepted ask): the screen waits on it.
const answerFor = 10 * time.Second

func (m *Model) conv() *talk.Conv { return m.cfg.Conv }

// startMeet reads where the conversation starts.
func (m *Model) startMeet() {
	c := m.conv()
	m.meet.lobby, m.meet.knocking, m.meet.locked = c.InLobby(), c.Knocking(), c.Locked()
	if m.meet.lobby {
		m.meet.people = append(m.meet.people, c.Others()...)
		m.lanes = m.lanes[:0]
		m.lanes = append(m.lanes, m.you)
	}
}

// items lists what Tab can pick now, in order: asks waiting on you, then
// knocks, then people in the lobby or pictures in the room.
func (m *Model) items(at stamp) []item {
	var out []item
	for _, a := range m.meet.asks {
		out = append(out, item{kind: pickAsk, peer: a.peer})
	}
	for _, k := range m.meet.knocks {
		out = append(out, item{kind: pickKnock, peer: k.peer})
	}
	if m.meet.lobby {
		for _, p := range m.meet.people {
			out = append(out, item{kind: pickPerson, peer: p})
		}
	}
	for _, l := range m.veiled(at) {
		out = append(out, item{kind: pickPicture, lane: l})
	}
	return out
}

// pickKey handles Tab, and every key while picking: tab and arrows move,
// enter acts on what is highlighted, backspace declines or turns away,
// delete ignores a person, esc goes back to typing. It reports whether
// the key was taken.
func (m *Model) pickKey(key string, now time.Time) (bool, tea.Cmd) {
	at := m.clock(now)
	its := m.items(at)
	if !m.picking {
		if key != "tab" {
			return false, nil
		}
		if len(its) == 0 {
			m.say(m.nothingToPick(), -1, now)
			return true, nil
		}
		first := its[0]
		if first.kind == pickPicture {
			first = its[len(its)-1] // the newest picture
		}
		m.setPick(first)
		m.picking = true
		m.say(m.pickingWords(first), -1, now)
		return true, nil
	}
	i := -1
	for j, it := range its {
		if it.same(m.meet.pick) {
			i = j
		}
	}
	if i < 0 && (key == "tab" || key == "down" || key == "shift+tab" || key == "up") {
		if len(its) == 0 { // everything pickable has gone
			m.stopPicking()
			return true, nil
		}
		m.setPick(its[0])
		return true, nil
	}
	switch key {
	case "tab", "down":
		m.setPick(its[(i+1)%len(its)])
		m.say(m.pickingWords(m.meet.pick), -1, now)
		return true, nil
	case "shift+tab", "up":
		m.setPick(its[(i-1+len(its))%len(its)])
		m.say(m.pickingWords(m.meet.pick), -1, now)
		return true, nil
	}
	it := m.meet.pick
	m.stopPicking()
	if i < 0 {
		return true, nil // what was highlighted has gone
	}
	switch key {
	case "enter":
		return true, m.act(it, now)
	case "backspace", "ctrl+h":
		switch it.kind {
		case pickAsk:
			m.apply(m.conv().Answer(context.Background(), it.peer, false), now)
		case pickKnock:
			m.conv().LetIn(it.peer, false)
			m.dropKnock(it.peer.ID)
		}
	case "delete":
		if it.kind == pickPerson || it.kind == pickAsk {
			m.apply(m.conv().Ignore(it.peer), now)
			m.sayOf(it.peer, " is ignored: you will not see their text or asks.", now)
		}
	}
	return true, nil
}

// act does what enter does on an item.
func (m *Model) act(it item, now time.Time) tea.Cmd {
	switch it.kind {
	case pickAsk:
		ctx, cancel := context.WithTimeout(context.Background(), answerFor)
		defer cancel()
		return m.apply(m.conv().Answer(ctx, it.peer, true), now)
	case pickKnock:
		m.conv().LetIn(it.peer, true)
		m.dropKnock(it.peer.ID)
	case pickPerson:
		ctx, cancel := context.WithTimeout(context.Background(), answerFor)
		defer cancel()
		return m.apply(m.conv().Ask(ctx, it.peer), now)
	case pickPicture:
		if it.lane.pic != nil {
			it.lane.pic.revealed = m.clock(now)
		}
	}
	return nil
}

func (m *Model) setPick(it item) {
	m.meet.pick = it
	m.picked = it.lane
	if m.meet.lobby && it.kind == pickPerson {
		m.scrollTo(it.peer.ID)
	}
}

func (m *Model) stopPicking() {
	m.picking, m.picked, m.meet.pick = false, nil, item{}
	m.notice = notice{}
}

func (m *Model) nothingToPick() string {
	if m.meet.lobby {
		return "Nobody else is here yet: tab picks a person to ask."
	}
	return "Nothing to pick: tab picks a knock or a picture someone sent."
}

func (m *Model) pickingWords(it item) string {
	switch it.kind {
	case pickAsk:
		return "enter accepts · backspace declines · delete ignores · esc goes back to typing"
	case pickKnock:
		return "enter lets them in · backspace turns them away · esc goes back to typing"
	case pickPerson:
		return "enter asks for a private room · delete ignores · esc goes back to typing"
	}
	return "Picking: enter shows the picture, tab moves, esc goes back to typing."
}

// apply applies events a choice gave at once, as if they came from the
// conversation.
func (m *Model) apply(evs []talk.Event, now time.Time) tea.Cmd {
	var cmd tea.Cmd
	for _, ev := range evs {
		if c := m.event(ev, now); c != nil {
			cmd = tea.Batch(cmd, c)
		}
	}
	return cmd
}

// meetEvent applies an event about finding each other; false if ev is
// none of those.
func (m *Model) meetEvent(ev talk.Event, now time.Time) (tea.Cmd, bool) {
	var cmd tea.Cmd
	switch ev.Kind {
	case talk.Notice:
		m.say(ev.Text, -1, now)
	case talk.Asking:
		m.meet.asking = &waiting{peer: ev.Peer, until: now.Add(ev.Wait)}
	case talk.NoAnswer:
		m.meet.asking = nil
		m.say(ev.Text, -1, now)
	case talk.Asked:
		m.meet.asks = append(m.meet.asks, waiting{peer: ev.Peer, until: now.Add(ev.Wait)})
		cmd = m.ring()
	case talk.AskEnded:
		m.meet.asks = dropWaiting(m.meet.asks, ev.Peer.ID)
	case talk.Locked, talk.Unlocked:
		m.meet.locked = ev.Kind == talk.Locked
		m.notice = notice{text: ev.Text, color: -1, until: now.Add(noticeFor)}
		m.header0()
	case talk.Knocked:
		m.meet.knocks = append(m.meet.knocks, waiting{peer: ev.Peer})
		cmd = m.ring()
	case talk.KnockEnded:
		m.dropKnock(ev.Peer.ID)
	case talk.LetIn:
		m.meet.knocking, m.meet.locked = false, m.conv().Locked()
		m.you.peer = newLane(ev.Peer, true).peer
		m.say("You are in.", -1, now)
		m.header0()
	case talk.Moved:
		m.moved(ev, now)
	default:
		return nil, false
	}
	return cmd, true
}

// moved starts again in the room the conversation moved to.
func (m *Model) moved(ev talk.Event, now time.Time) {
	c := m.conv()
	m.meet = meet{locked: c.Locked()}
	m.stopPicking()
	m.lanes = m.lanes[:0]
	for _, p := range c.Others() {
		m.lanes = append(m.lanes, newLane(p, false))
	}
	m.you = newLane(c.Self(), true)
	m.lanes = append(m.lanes, m.you)
	m.invite.lines = nil
	m.header0()
	m.notice = notice{text: ev.Text, color: -1, until: now.Add(noticeFor)}
}

// header0 forgets memoised rows whose words changed with the place.
func (m *Model) header0() { m.memo.reset() }

func (m *Model) ring() tea.Cmd {
	if m.quiet {
		return nil
	}
	return bell
}

func (m *Model) dropKnock(id int) { m.meet.knocks = dropWaiting(m.meet.knocks, id) }

func dropWaiting(ws []waiting, id int) []waiting {
	for i, w := range ws {
		if w.peer.ID == id {
			return append(ws[:i], ws[i+1:]...)
		}
	}
	return ws
}

// lobbyJoined and lobbyLeft keep the lobby's list; a lane is only for
// someone whose text is showing.
func (m *Model) lobbyJoined(p talk.Peer) { m.meet.people = append(m.meet.people, p) }

func (m *Model) lobbyLeft(id int) {
	for i, p := range m.meet.people {
		if p.ID == id {
			m.meet.people = append(m.meet.people[:i], m.meet.people[i+1:]...)
			break
		}
	}
	m.meet.asks = dropWaiting(m.meet.asks, id)
	m.meet.scroll = min(m.meet.scroll, max(len(m.meet.people)-1, 0))
}

// lobbyLane is the lane of a person in the lobby, made when their text
// first shows.
func (m *Model) lobbyLane(id int) *lane {
	if l := m.lane(id); l != nil {
		return l
	}
	for _, p := range m.meet.people {
		if p.ID == id {
			l := newLane(p, false)
			m.lanes = append(m.lanes[:len(m.lanes)-1], l, m.you)
			return l
		}
	}
	return nil
}

// quietLanes drops the lobby lanes whose text has all faded.
func (m *Model) quietLanes() {
	kept := m.lanes[:0]
	for _, l := range m.lanes {
		if l.you || len(l.cells) > 0 || l.pic != nil {
			kept = append(kept, l)
		}
	}
	clear(m.lanes[len(kept):])
	m.lanes = kept
}

// scrollTo keeps the person id within the list's rows.
func (m *Model) scrollTo(id int) {
	for i, p := range m.meet.people {
		if p.ID == id {
			rows := m.listRows()
			if i < m.meet.scroll {
				m.meet.scroll = i
			} else if rows > 0 && i >= m.meet.scroll+rows {
				m.meet.scroll = i - rows + 1
			}
			return
		}
	}
}

// listRows is how many people the lobby lists at once: at most half the
// body, so the lobby's text keeps room.
func (m *Model) listRows() int {
	body := max(m.height-2-len(m.banners(m.width, time.Time{})), 1)
	return max(min(len(m.meet.people), body/2), 1)
}

// banners are the lines that do not fade: asks waiting on you, your own
// ask, knocks at your room. Each is cut to w, and when its keys do not fit
// beside it they go on a line of their own below. at is when they are
// drawn (zero: only their number matters).
func (m *Model) banners(w int, at time.Time) []string {
	var out []string
	dim := m.style(ansi.Style{}.Faint())
	add := func(head, keys string) {
		full := head + dim + " · " + keys
		if ansi.StringWidth(full) <= w {
			out = append(out, full)
			return
		}
		out = append(out, ansi.Truncate(head, w, "…"), ansi.Truncate(dim+"  "+keys, w, "…"))
	}
	hi := func(it item) string {
		if m.picking && m.meet.pick.same(it) {
			return m.style(ansi.Style{}.Reverse(true))
		}
		return m.style(ansi.Style{}.Bold())
	}
	for _, a := range m.meet.asks {
		add(hi(item{kind: pickAsk, peer: a.peer})+a.peer.Name+" asks you for a private room", "tab enter accepts · tab backspace declines")
	}
	if a := m.meet.asking; a != nil {
		left := ""
		if !at.IsZero() {
			left = fmt.Sprintf(" (%d s)", max(int(a.until.Sub(at).Round(time.Second)/time.Second), 0))
		}
		out = append(out, ansi.Truncate(m.style(ansi.Style{}.Bold())+"asking "+a.peer.Name+"…"+left+dim+" · esc cancels", w, "…"))
	}
	if n := len(m.meet.knocks); n > 0 {
		k := m.meet.knocks[0].peer
		for _, w := range m.meet.knocks {
			if m.picking && m.meet.pick.same(item{kind: pickKnock, peer: w.peer}) {
				k = w.peer // the one highlighted, while it still waits
			}
		}
		who := k.Name + " knocks"
		if n > 1 {
			who = fmt.Sprintf("%s and %d more knock", k.Name, n-1)
		}
		add(hi(item{kind: pickKnock, peer: k})+who, "tab enter lets them in · tab backspace turns them away")
	}
	return out
}

// drawLobby lays the lobby out: header, banners, the list of people, the
// lanes of those whose text shows (yours at the bottom), the status line.
func (m *Model) drawLobby(f *Frame, now time.Time) {
	w, h := max(m.width, 1), max(m.height, 1)
	f.reset(w, h)
	// Every listed person's row, and the lanes' labels, are kept between
	// frames: a key in the lobby redraws only the text that moved.
	m.memo.limit = 2*h + 16
	top, bottom := 0, h
	if h >= 3 {
		top, bottom = 1, h-1
		here := len(m.meet.people) + 1
		f.setMemoRow(0, m.memo.get(memoKey{kind: 'L', w: w, a: here}, func() string {
			dim := m.style(ansi.Style{}.Faint())
			return ansi.Truncate(m.style(ansi.Style{}.Bold())+"hush"+dim+fmt.Sprintf(" · lobby · %d here", here), w, "…")
		}), 0)
		f.setMemoRow(h-1, m.memo.get(memoKey{kind: 's', w: w, a: -1, b: m.notice.color, s: m.notice.who, t: m.notice.text}, func() string { return m.status(w) }), 0)
	}
	if m.help {
		for i, line := range m.helpLines(w, bottom-top) {
			f.setRow(top+i, line, 0)
		}
		return
	}
	row := top
	for _, b := range m.banners(w, now) {
		if row >= bottom-1 {
			break
		}
		f.setRow(row, b, 0)
		row++
	}
	if len(m.meet.people) == 0 {
		if row < bottom-1 {
			f.setRow(row, ansi.Truncate(m.style(ansi.Style{}.Faint())+"Nobody else is here yet. Whoever comes sees you listed; leaving unlists you.", w, "…"), 0)
			row++
		}
	} else {
		rows := min(m.listRows(), bottom-row-1)
		m.meet.scroll = max(min(m.meet.scroll, len(m.meet.people)-rows), 0)
		for i := 0; i < rows && m.meet.scroll+i < len(m.meet.people); i++ {
			p := m.meet.people[m.meet.scroll+i]
			look := 0
			if m.picking && m.meet.pick.kind == pickPerson && m.meet.pick.peer.ID == p.ID {
				look = 1
			}
			if m.conv().Ignored(p) {
				look |= 2
			}
			f.setMemoRow(row, m.memo.get(memoKey{kind: 'P', w: w, a: p.ID, b: look}, func() string { return m.personRow(p, w, look) }), 0)
			row++
		}
		if more := len(m.meet.people) - m.meet.scroll - rows; more > 0 && row < bottom-1 {
			f.setRow(row, ansi.Truncate(m.style(ansi.Style{}.Faint())+fmt.Sprintf("  … %d more: tab and ↓ scroll", more), w, "…"), 0)
			row++
		}
	}
	at := m.clock(now)
	lanes := m.lanes
	if body := bottom - row; len(lanes) > body {
		lanes = lanes[len(lanes)-max(body, 1):]
	}
	if bottom-row < 1 {
		return
	}
	sizes := m.allocate(lanes, bottom-row, m.cutAt(at))
	for i, l := range lanes {
		if l.you {
			row = bottom - sizes[i]
		}
		m.drawLane(f, l, row, sizes[i], w, at)
		row += sizes[i]
	}
}

// personRow is one person in the lobby's list; look has 1 set while they
// are picked, 2 once ignored.
func (m *Model) personRow(p talk.Peer, w, look int) string {
	l := lane{peer: p}
	s := m.label(&l)
	if look&2 != 0 {
		s += " · ignored"
	}
	if look&1 != 0 {
		s = m.style(ansi.Style{}.Reverse(true)) + "› " + ansi.Strip(s)
	} else {
		s = "  " + s
	}
	return ansi.Truncate(s, w, "…")
}

// drawDoor is the wait at a locked room's door.
func (m *Model) drawDoor(f *Frame) {
	w, h := max(m.width, 1), max(m.height, 1)
	f.reset(w, h)
	dim := m.style(ansi.Style{}.Faint())
	if m.help {
		for i, line := range m.helpLines(w, h) {
			f.setRow(i, line, 0)
		}
		return
	}
	lines := []string{
		m.style(ansi.Style{}.Bold()) + "hush" + dim + " · room " + m.conv().Code() + " · locked",
		"",
		m.conv().KnockingText(),
		dim + "You knock as " + m.label(m.you),
		dim + "esc esc stops knocking",
	}
	for i, line := range lines {
		if i < h {
			f.setRow(i, ansi.Truncate(line, w, "…"), 0)
		}
	}
	if h >= 3 {
		f.setRow(h-1, m.status(w), 0)
	}
}

// lockKey locks or unlocks a group room.
func (m *Model) lockKey(now time.Time) tea.Cmd {
	if m.meet.lobby || m.meet.knocking {
		return nil
	}
	if !m.conv().Group() {
		m.say("A room for two is never locked: it is full at two.", -1, now)
		return nil
	}
	return m.apply(m.conv().Lock(!m.meet.locked), now)
}
