// Package ui is what one person sees and does in a room: lanes of fading
// text, notices, and the keys that work. It knows nothing of SSH: it reads
// Bubble Tea messages and draws on an io.Writer through a Screen.
package ui

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/hush-chat/hush/clean"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
)

// Seat is the part of a room the UI talks to.
type Seat interface {
	Code() string
	Seats() int
	Self() rooms.Peer
	Others() []rooms.Peer
	Type(text string)
	Break()
	// Ready is signalled when Drain has events from the room.
	Ready() <-chan struct{}
	Drain(buf []rooms.Event) []rooms.Event
}

// Config is everything a Model needs from outside.
type Config struct {
	Seat     Seat
	Invite   string // the command that joins this room
	Linger   time.Duration
	MaxPaste int // runes kept from one paste
	// KeysPerSecond and KeyBurst bound typing: a paste spends the burst,
	// a flood beyond it is dropped with a hint, and nobody is kicked.
	KeysPerSecond float64
	KeyBurst      int
	Profile       colorprofile.Profile
	Width         int
	Height        int
	Screen        *Screen
	Now           func() time.Time // for tests; time.Now if nil
}

// Events carries what happened in the room since the last Events.
type Events []rooms.Event

// Shutdown tells the model the server is going away.
type Shutdown struct{}

// Idle tells the model its person has typed nothing for this long.
type Idle time.Duration

// tick wakes the model when something on screen changes by itself.
type tick struct{}

// noticeFor is how long a join, leave or hint stays on the status line.
const noticeFor = 4 * time.Second

type notice struct {
	who   string // a name, shortened first when the line is too narrow
	text  string
	color int // -1 for none
	until time.Time
}

// Model is one person's view of a room.
type Model struct {
	cfg      Config
	now      func() time.Time
	fade     *fader
	lanes    []*lane // others in arrival order, then you
	you      *lane
	notice   notice
	warned   bool // told once that nothing can be erased
	width    int
	height   int
	wake     time.Time // when the screen next changes by itself; zero: never
	memo     memo
	phase    time.Duration // this session's offset on the fade grid
	farewell string
	keys     limits.Bucket
	slowed   time.Time // when we last said keys were dropped
}

// New builds the model and draws its first frame at once.
func New(cfg Config) *Model {
	m := &Model{cfg: cfg, now: cfg.Now, phase: rand.N(FadeStep)}
	m.width, m.height = clampSize(cfg.Width, cfg.Height)
	if m.now == nil {
		m.now = time.Now
	}
	if m.cfg.MaxPaste <= 0 {
		m.cfg.MaxPaste = 1000
	}
	if m.cfg.KeysPerSecond <= 0 {
		m.cfg.KeysPerSecond, m.cfg.KeyBurst = 1e9, 1e9
	}
	m.keys = limits.NewBucket(m.cfg.KeysPerSecond, float64(max(m.cfg.KeyBurst, 1)))

	m.fade = newFader(cfg.Linger, cfg.Profile)
	for _, p := range cfg.Seat.Others() {
		m.lanes = append(m.lanes, newLane(p, false))
	}
	m.you = newLane(cfg.Seat.Self(), true)
	m.lanes = append(m.lanes, m.you)
	m.farewell = "You left the room. Nothing was kept.\r\n"
	m.draw()
	return m
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

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return nil }

// View implements tea.Model. Drawing happens in Update through the Screen,
// only when something changed, so there is nothing for Bubble Tea to draw.
func (m *Model) View() tea.View { return tea.View{} }

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	now := m.now()
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if quit := m.key(msg, now); quit {
			return m, tea.Quit
		}
	case tea.PasteMsg:
		m.paste(msg.Content, now)
	case tea.WindowSizeMsg:
		m.width, m.height = clampSize(msg.Width, msg.Height)
	case Events:
		for _, ev := range msg {
			m.event(ev, now)
		}
	case Idle:
		m.farewell = fmt.Sprintf("You typed nothing for %v, so hush let you go. Nothing was kept.\r\n", time.Duration(msg))
		return m, tea.Quit
	case Shutdown:
		m.farewell = "The hush server is restarting. Nothing was kept; start a new room in a moment.\r\n"
		return m, tea.Quit
	case tick:

	default:
		return m, nil
	}
	cut := now.Add(-m.fade.linger)
	for _, l := range m.lanes {
		l.expire(cut)
	}
	if !now.Before(m.notice.until) {
		m.notice = notice{}
	}
	m.draw()
	m.schedule(now)
	return m, nil
}

func (m *Model) key(k tea.KeyPressMsg, now time.Time) (quit bool) {
	switch k.String() {
	case "esc", "ctrl+c", "ctrl+d":
		return true
	case "ctrl+y":
		m.cfg.Screen.Raw("\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(m.cfg.Invite)) + "\a")
		m.say("Invite copied to your clipboard (if your terminal allows it).", -1, now)
	case "enter":
		if m.allow(1, now) == 1 {
			m.you.newline(now)
			m.cfg.Seat.Break()
		}
	case "backspace", "delete", "left", "right", "up", "down", "home", "end", "pgup", "pgdown", "ctrl+w", "ctrl+u", "ctrl+h":
		if !m.warned {
			m.warned = true
			m.say("No taking it back: words here only fade.", -1, now)
		}
	default:
		if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
			m.typed(k.Text, now)
		}
	}
	return false
}

// allow spends n keys from the typing budget and returns how many it may
// use, telling the person (not too often) when some were dropped.
func (m *Model) allow(n int, now time.Time) int {
	got := m.keys.Take(n, now)
	if got < n && now.Sub(m.slowed) > noticeFor {
		m.slowed = now
		m.say("Slow down: some keys were dropped.", -1, now)
	}
	return got
}

func (m *Model) typed(text string, now time.Time) {
	if n := utf8.RuneCountInString(text); n > 0 {
		if got := m.allow(n, now); got < n {
			text = string([]rune(text)[:got])
		}
	}
	if kept := m.you.add(text, now); kept != "" {
		m.cfg.Seat.Type(kept)
	}
}

func (m *Model) paste(content string, now time.Time) {
	runes := []rune(content)
	if len(runes) > m.cfg.MaxPaste {
		runes = runes[:m.cfg.MaxPaste]
		m.say("Paste cut short: only so much can be said at once.", -1, now)
	}
	start := 0
	for i := 0; i <= len(runes); i++ {
		if i < len(runes) && runes[i] != '\n' && runes[i] != '\r' {
			continue
		}
		if i > start {
			m.typed(string(runes[start:i]), now)
		}
		if i < len(runes) {
			if runes[i] == '\r' && i+1 < len(runes) && runes[i+1] == '\n' {
				i++
			}
			if m.allow(1, now) == 1 {
				m.you.newline(now)
				m.cfg.Seat.Break()
			}
		}
		start = i + 1
	}
}

func (m *Model) event(ev rooms.Event, now time.Time) {
	switch ev.Kind {
	case rooms.Joined:
		l := newLane(ev.Peer, false)
		m.lanes = append(m.lanes[:len(m.lanes)-1], l, m.you)
		m.sayOf(l.peer, " joined", now)
		m.cfg.Screen.Raw("\a")
	case rooms.Left:
		for i, l := range m.lanes {
			if !l.you && l.peer.ID == ev.Peer.ID {
				m.lanes = append(m.lanes[:i], m.lanes[i+1:]...)
				break
			}
		}
		ev.Peer.Name = clean.Name(ev.Peer.Name, maxName)
		m.sayOf(ev.Peer, " left", now)
	case rooms.Typed:
		if l := m.lane(ev.Peer.ID); l != nil {
			l.add(ev.Text, now)
		}
	case rooms.Broke:
		if l := m.lane(ev.Peer.ID); l != nil {
			l.newline(now)
		}
	}
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

func (m *Model) sayOf(p rooms.Peer, text string, now time.Time) {
	m.notice = notice{who: "● " + p.Name, text: text, color: p.Color, until: now.Add(noticeFor)}
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
	for _, l := range m.lanes {
		if len(l.cells) > 0 {
			if t := m.fade.next(l.cells[0].at, now); !t.IsZero() {
				earlier(t.Add(FadeStep - 1 - m.phase).Truncate(FadeStep).Add(m.phase))
			}
		}
	}
	if m.notice.text != "" {
		earlier(m.notice.until)
	}
	m.wake = next
}
