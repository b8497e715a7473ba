// Package ui is what one person sees and does in a room on a terminal:
// lanes of fading text, notices, and the keys that work. It knows nothing
// of SSH or networks. The Model is a Bubble Tea model — Update changes
// state and returns effects as commands, View describes the frame — and
// Run drives it on a Screen, drawing only when something changed.
package ui

import (
	"image/color"
	"math/rand/v2"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/hush-chat/hush/talk"
)

// Config is everything a Model needs from outside.
type Config struct {
	// Conv is the conversation: where typing goes through the rules every
	// front end shares, and where what happens in the room comes from.
	Conv    *talk.Conv
	Profile colorprofile.Profile
	Width   int
	Height  int
	// Pace slows fading on this person's screen only: 1 as everyone, 2
	// slower, 4 slowest. Zero is 1.
	Pace int
	// Quiet turns the bell off.
	Quiet bool
	// Pictures is what this person sees of pictures: PicturesVeil (the
	// zero value), PicturesShow or PicturesOff.
	Pictures int
	// Fades, if set, is shared by every screen of a server, so screens
	// that fade alike share their shades (nil: each builds its own).
	Fades *Fades
}

// Events carries what happened in the conversation since the last Events.
type Events []talk.Event

// Background is the terminal's answer to the background colour query.
type Background struct{ color.Color }

// Bell is an effect: ring the terminal's bell.
type Bell struct{}

// Clipboard is an effect: put the text on the terminal's clipboard (OSC 52).
type Clipboard string

// AskBackground is an effect: ask the terminal for its background colour
// (OSC 11). The answer, if any, comes back as a Background message.
type AskBackground struct{}

// tick wakes the model when something on screen changes by itself.
type tick struct{}

func bell() tea.Msg          { return Bell{} }
func askBackground() tea.Msg { return AskBackground{} }

func copyText(s string) tea.Cmd { return func() tea.Msg { return Clipboard(s) } }

const (
	// noticeFor is how long a join, leave or hint stays on the status line.
	noticeFor = 4 * time.Second
	// leaveWithin is how soon a second Esc must follow the first to leave.
	leaveWithin = 2 * time.Second
)

// paces are the fading speeds a person can pick for their own screen.
var paces = []int{1, 2, 4}

type notice struct {
	who   string // a name, shortened first when the line is too narrow
	text  string
	color int // -1 for none
	until time.Time
	stay  bool // past until, it stays until the person types or another notice
}

// Model is one person's view of a room.
type Model struct {
	cfg      Config
	now      func() time.Time
	epoch    time.Time // stamps count from here (clock)
	fade     *fader
	bg       color.Color // the terminal's background; nil until it says
	pace     int
	quiet    bool
	help     bool      // the key help is showing
	leaving  time.Time // when Esc was pressed once; zero if not
	idling   bool      // the idle warning is showing
	lanes    []*lane   // others in arrival order, then you
	you      *lane
	notice   notice
	warned   bool // told once that nothing can be erased
	copied   int  // Ctrl+Y presses: even copies the invite, odd the link
	width    int
	height   int
	wake     time.Time // when the screen next changes by itself; zero: never
	dirty    bool      // the frame changed since Run last drew it
	ticked   bool      // the last message was the fade's own tick (see drawAt)
	memo     memo
	phase    time.Duration // this session's offset on the fade grid
	farewell string
	pictures int   // what this person sees of pictures
	picking  bool  // tab was pressed: keys pick (an ask, a knock, a person, a picture) instead of typing
	picked   *lane // the lane whose picture is highlighted while picking
	meet     meet  // the lobby, asks, knocks and the lock

	// Kept between frames so that drawing one allocates nothing.
	sizes, need []int
	invite      struct {
		key   [2]int
		lines []string
	}
	helpRows struct {
		key   [4]int
		lines []string
	}
}

// New builds the model. Nothing is drawn until Run (or a View).
func New(cfg Config) *Model {
	m := &Model{cfg: cfg, now: time.Now, epoch: time.Now(), phase: rand.N(talk.FadeStep), dirty: true, pace: 1, quiet: cfg.Quiet, pictures: cfg.Pictures}
	for _, p := range paces {
		if cfg.Pace == p {
			m.pace = p
		}
	}
	m.width, m.height = clampSize(cfg.Width, cfg.Height)
	m.refade()
	for _, p := range cfg.Conv.Others() {
		m.lanes = append(m.lanes, newLane(p, false))
	}
	m.you = newLane(cfg.Conv.Self(), true)
	m.lanes = append(m.lanes, m.you)
	m.farewell = talk.LeftText + "\r\n"
	m.startMeet()
	return m
}

// refade builds the fader for this screen's pace and background.
func (m *Model) refade() {
	m.fade = m.cfg.Fades.get(m.cfg.Conv.Fade().Linger*time.Duration(m.pace), m.cfg.Profile, m.bg)
	m.memo.reset()
	m.invite.lines, m.helpRows.lines = nil, nil
}

// clampSize keeps a frame's memory bounded whatever size a client claims,
// and gives a client that claims none the classic 80×24.
func clampSize(w, h int) (int, int) {
	if w <= 0 || h <= 0 {
		return 80, 24
	}
	return min(w, 500), min(h, 200)
}

// Farewell is what to print on the normal screen after the program ends.
func (m *Model) Farewell() string { return m.farewell }

// Init implements tea.Model: it asks the terminal for its background, so
// text can fade into it. The first frame does not wait for the answer.
func (m *Model) Init() tea.Cmd {
	if m.cfg.Profile <= colorprofile.ASCII {
		return nil
	}
	return askBackground
}

// View implements tea.Model: the frame as Bubble Tea describes one. Run
// draws the same frame row by row (Frame), which its Screen diffs.
func (m *Model) View() tea.View {
	f := m.Frame()
	v := tea.View{Content: strings.Join(f.Lines(), "\n"), AltScreen: true}
	if f.ShowCursor {
		v.Cursor = tea.NewCursor(f.CursorCol, f.CursorRow)
	}
	return v
}

// Frame lays out what the screen shows now.
func (m *Model) Frame() Frame { return m.frame(m.now()) }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	now := m.now()
	var cmd tea.Cmd
	m.ticked = false
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		cmd = m.key(msg, now)
	case tea.PasteMsg:
		if m.picking { // as a key would: back to typing, nothing typed
			m.stopPicking()
			break
		}
		m.typing(now)
		said, hint := m.cfg.Conv.Paste(msg.Content, false, now)
		m.echo(said, now)
		m.hint(hint, now)
	case tea.WindowSizeMsg:
		m.width, m.height = clampSize(msg.Width, msg.Height)
	case Background:
		if msg.Color == nil {
			return m, nil
		}
		m.bg = msg.Color
		m.refade()
	case Events:
		return m, m.events(msg, now)
	case tick:
		m.ticked = true
	default:
		return m, nil
	}
	m.settle(now)
	return m, cmd
}

// events applies what happened in the room, as Update does for Events:
// Run calls it with the seat's events as they are, without wrapping them
// in a message.
func (m *Model) events(evs []talk.Event, now time.Time) tea.Cmd {
	var cmd tea.Cmd
	m.ticked = false
	for _, ev := range evs {
		if c := m.event(ev, now); c != nil {
			cmd = tea.Batch(cmd, c)
		}
	}
	m.settle(now)
	return cmd
}

// settle drops what has vanished, ends a notice whose time is up, and
// works out when the screen next changes by itself, after anything that
// may have changed the frame.
func (m *Model) settle(now time.Time) {
	cut := m.cutAt(m.clock(now))
	for _, l := range m.lanes {
		l.compact(cut, m.textWidth())
	}
	if m.meet.lobby {
		m.quietLanes()
	}
	if !m.notice.stay && !now.Before(m.notice.until) {
		m.notice = notice{}
	}
	m.dirty = true
	m.schedule(now)
}

// clock turns a time into a stamp: nanoseconds since the model's epoch,
// on the monotonic clock when t has it.
func (m *Model) clock(t time.Time) stamp { return stamp(t.Sub(m.epoch)) }

// cutAt is the stamp at or before which a character has vanished by now.
func (m *Model) cutAt(now stamp) stamp { return now - stamp(m.fade.linger) }

// textWidth is the width of a lane's text under its label.
func (m *Model) textWidth() int { return max(m.width-indent, 1) }

var paceWords = map[int]string{
	1: "Fading as for everyone.",
	2: "Fading slower on your screen (only yours).",
	4: "Fading slowest on your screen (only yours).",
}

// typing notes that the person typed: a half-made leave is forgotten,
// an idle warning taken back.
func (m *Model) typing(now time.Time) {
	if m.notice.stay && !now.Before(m.notice.until) {
		m.notice = notice{}
	}
	if !m.leaving.IsZero() {
		m.leaving = time.Time{}
		m.notice = notice{}
	}
	if m.idling {
		m.idling = false
		m.notice = notice{}
	}
}

// leave quits with the conversation's goodbye, which says how to come
// back while others keep the room open.
func (m *Model) leave() tea.Cmd {
	m.farewell = lines(m.cfg.Conv.Leave)
	return tea.Quit
}

// lines is words for the normal screen after the program ends: each line
// ended as a terminal wants it.
func lines(words func() string) string {
	return strings.ReplaceAll(words(), "\n", "\r\n") + "\r\n"
}

// open reports whether the room has a free seat.
func (m *Model) open() bool { return len(m.lanes) < m.cfg.Conv.Seats() }

// echo shows in your own lane what the Speaker let into the room.
func (m *Model) echo(said string, now time.Time) {
	for said != "" {
		line, rest, broke := strings.Cut(said, "\n")
		m.you.add(line, m.clock(now))
		if broke {
			m.you.newline(m.clock(now))
		}
		said = rest
	}
}

func (m *Model) hint(hint string, now time.Time) {
	if hint != "" {
		m.say(hint, -1, now)
	}
}

// event applies one thing that happened in the conversation; it may
// return an effect (the bell when someone arrives, quitting at the end).
func (m *Model) event(ev talk.Event, now time.Time) tea.Cmd {
	if cmd, ok := m.meetEvent(ev, now); ok {
		return cmd
	}
	switch ev.Kind {
	case talk.Joined:
		if m.meet.lobby {
			m.lobbyJoined(ev.Peer) // arrivals in the lobby ring nothing
			return nil
		}
		l := newLane(ev.Peer, false)
		if m.meet.knocking { // the members, as the door opens
			m.lanes = append(m.lanes[:len(m.lanes)-1], l, m.you)
			return nil
		}
		m.lanes = append(m.lanes[:len(m.lanes)-1], l, m.you)
		m.announce(l.peer, " joined", now)
		if !m.quiet {
			return bell
		}
	case talk.Left:
		for i, l := range m.lanes {
			if !l.you && l.peer.ID == ev.Peer.ID {
				m.lanes = append(m.lanes[:i], m.lanes[i+1:]...)
				break
			}
		}
		if m.meet.lobby {
			m.lobbyLeft(ev.Peer.ID)
			return nil
		}
		m.announce(newLane(ev.Peer, false).peer, " left", now)
	case talk.Typed:
		if l := m.textLane(ev.Peer.ID); l != nil {
			l.add(ev.Text, m.clock(now))
		}
	case talk.Newline:
		if l := m.textLane(ev.Peer.ID); l != nil {
			l.newline(m.clock(now))
		}
	case talk.Pictured:
		m.picture(ev, now)
	case talk.Warned:
		m.idling = true
		m.notice = notice{text: ev.Text, color: -1, until: now.Add(ev.Wait)}
	case talk.Ended:
		m.farewell = lines(func() string { return ev.Text })
		return tea.Quit
	}
	return nil
}

// textLane is the lane text from id goes to: in the lobby, made when
// their text first shows.
func (m *Model) textLane(id int) *lane {
	if m.meet.lobby {
		return m.lobbyLane(id)
	}
	return m.lane(id)
}

func (m *Model) lane(id int) *lane {
	for _, l := range m.lanes {
		if !l.you && l.peer.ID == id {
			return l
		}
	}
	return nil
}

func (m *Model) say(text string, color int, now time.Time) {
	m.notice = notice{text: text, color: color, until: now.Add(noticeFor)}
}

// announce says who came or went for noticeFor at least, then until the
// person types or something else is said: a screen at rest costs no frame
// to take it away.
func (m *Model) announce(p talk.Peer, text string, now time.Time) {
	m.notice = notice{who: "● " + p.Name, text: text, color: p.Color, until: now.Add(noticeFor), stay: true}
}

func (m *Model) sayOf(p talk.Peer, text string, now time.Time) {
	m.notice = notice{who: "● " + p.Name, text: text, color: p.Color, until: now.Add(noticeFor)}
}

// drawAt is the moment a frame drawn now shows: now, or the next step of
// the fade when it is due within a step and the frame is not the tick of
// a step itself. While anything fades a key and the fade step after it
// then cost the terminal one frame instead of two; the fade runs at most
// one step early, and the tick at that step finds nothing left to write
// (the Screen drops a frame that changed nothing).
func (m *Model) drawAt(now time.Time) time.Time {
	if !m.ticked && !m.wake.IsZero() && m.wake.After(now) && m.wake.Sub(now) <= talk.FadeStep {
		return m.wake
	}
	return now
}

// schedule works out when the screen next changes by itself, and leaves
// it at zero when nothing fades: an idle room does no work. Fade steps snap
// to one grid, so several fading lanes wake the screen once, not each; each
// session's grid has its own phase, so sessions do not all wake together.
func (m *Model) schedule(now time.Time) {
	var next time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	at := m.clock(now)
	cut := m.cutAt(at)
	grid := func(t stamp) time.Time {
		return m.epoch.Add(time.Duration(t)).Add(talk.FadeStep - 1 - m.phase).Truncate(talk.FadeStep).Add(m.phase)
	}
	for _, l := range m.lanes {
		if c, ok := l.firstAlive(cut); ok {
			if t, ok := m.fade.next(c.at, at); ok {
				earlier(grid(t))
			}
		}
		if t := m.picNext(l, at); t != 0 {
			earlier(grid(t))
		}
	}
	if m.notice.text != "" && !m.notice.stay {
		earlier(m.notice.until) // a notice that stays wakes nothing
	}
	if m.meet.asking != nil {
		// Your ask counts its seconds down.
		earlier(now.Truncate(time.Second).Add(time.Second))
	}
	m.wake = next
}
