package ui

import (
	"image/color"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/pictures"
	"github.com/hush-chat/hush/talk"
)

// What a person chose to see of pictures (ssh -o SetEnv=HUSH_PICTURES=…).
const (
	PicturesVeil = iota // veiled until revealed with tab enter (the default)
	PicturesShow        // shown at once
	PicturesOff         // only the line that says one was sent
)

// shown is a picture in someone's lane: veiled until revealed, then
// fading like words. Only its small pixels are kept, and only until it has
// faded.
type shown struct {
	pic      *pictures.Picture
	at       stamp // when it arrived
	revealed stamp // when it was revealed; 0: veiled
	own      bool
	// The lines of its current look, kept until the look changes.
	look  int // which look lines are for: -1 veil, else a fade step
	cols  int // the width they were made for
	lines []string
}

// picture puts a picture that arrived into its sender's lane (yours for
// your own), replacing one that was there.
func (m *Model) picture(ev talk.Event, now time.Time) {
	l := m.you
	if ev.Peer.ID != m.you.peer.ID {
		if l = m.lane(ev.Peer.ID); l == nil {
			return
		}
	}
	at := m.clock(now)
	s := &shown{pic: ev.Picture, at: at, own: l.you, look: -2}
	if l.you || m.pictures == PicturesShow {
		s.revealed = at
	}
	l.pic = s
	if !l.you {
		m.sayOf(l.peer, " sent a picture", now)
	}
}

// picProfile is what a picture can be drawn with here.
func (m *Model) picProfile() pictures.Profile {
	switch {
	case m.pictures == PicturesOff:
		return pictures.Plain
	case m.cfg.Profile == colorprofile.TrueColor:
		return pictures.TrueColor
	case m.cfg.Profile == colorprofile.ANSI256:
		return pictures.Colors256
	}
	return pictures.Plain
}

// picGone reports whether l's picture has vanished by now, and forgets it
// if so.
func (m *Model) picGone(l *lane, now stamp) bool {
	s := l.pic
	if s == nil {
		return true
	}
	var end stamp
	if s.revealed == 0 {
		end = s.at + stamp(talk.VeiledFor)
	} else {
		end = s.revealed + stamp(m.fade.linger)
	}
	if now >= end {
		l.pic = nil
		if m.picking && m.picked == l {
			m.picked = nil
		}
		return true
	}
	return false
}

// picNext is when l's picture next changes how it looks (0: never).
func (m *Model) picNext(l *lane, now stamp) stamp {
	s := l.pic
	if s == nil {
		return 0
	}
	if s.revealed == 0 {
		return s.at + stamp(talk.VeiledFor)
	}
	bright := s.revealed + stamp(m.fade.bright)
	if now < bright {
		return bright
	}
	step := stamp(m.fade.linger-m.fade.bright) / pictures.Steps
	return min(now+step-(now-bright)%step, s.revealed+stamp(m.fade.linger))
}

// picStep is the fade step of a revealed picture now: 0 bright …
// pictures.Steps gone.
func (m *Model) picStep(s *shown, now stamp) int {
	age := time.Duration(now - s.revealed)
	if age < m.fade.bright {
		return 0
	}
	fading := max(m.fade.linger-m.fade.bright, 1)
	return min(1+int((age-m.fade.bright)*pictures.Steps/fading), pictures.Steps)
}

// picRows is how many rows l's picture takes now at text width w: its
// cells, and a caption line while veiled or where it cannot be drawn.
func (m *Model) picRows(l *lane, w int, now stamp) int {
	if m.picGone(l, now) {
		return 0
	}
	lines := m.picLines(l.pic, w, now)
	if l.pic.revealed == 0 || m.picProfile() == pictures.Plain {
		return len(lines) + 1
	}
	return len(lines)
}

// picLines are the picture's rows as it looks now, at most w wide.
func (m *Model) picLines(s *shown, w int, now stamp) []string {
	prof := m.picProfile()
	if prof == pictures.Plain {
		return nil
	}
	look := -1
	if s.revealed != 0 {
		look = m.picStep(s, now)
	}
	if s.look == look && s.cols == w {
		return s.lines
	}
	s.look, s.cols = look, w
	f, ok := pictures.Fit(*s.pic, w, max(m.height*2/3, 1))
	if !ok {
		s.lines = nil
		return nil
	}
	switch {
	case look < 0:
		f = f.Veil()
	case m.bg != nil:
		f = f.Fade(look, pictures.Steps, rgbOf(m.bg))
	default:
		f = f.Dissolve(look, pictures.Steps)
	}
	s.lines = f.Lines(prof)
	return s.lines
}

func rgbOf(c color.Color) pictures.RGB {
	r := toRGBA(c)
	return pictures.RGB{R: r.R, G: r.G, B: r.B}
}

// drawPicture puts l's picture on rows from row, at most n of them, and
// returns how many it took.
func (m *Model) drawPicture(f *Frame, l *lane, row, n, w int, now stamp) int {
	if n <= 0 || m.picGone(l, now) {
		return 0
	}
	s := l.pic
	tw := max(w-indent, 1)
	used := 0
	for _, line := range m.picLines(s, tw, now) {
		if used == n {
			return used
		}
		f.setRow(row+used, "  "+line, indent+ansi.StringWidth(line))
		used++
	}
	if used < n && (s.revealed == 0 || m.picProfile() == pictures.Plain) {
		f.setRow(row+used, m.caption(l, w), min(w, ansi.StringWidth(m.caption(l, w))))
		used++
	}
	return used
}

// caption is the line under a veiled picture, or the whole of a picture
// that cannot be drawn here.
func (m *Model) caption(l *lane, w int) string {
	text := pictures.Caption(l.peer.Name)
	if m.picProfile() != pictures.Plain && l.pic.revealed == 0 {
		text = l.peer.Name + " sent a picture · tab enter shows it"
	}
	st := m.style(ansi.Style{}.Faint())
	if m.picking && m.picked == l {
		st = m.style(ansi.Style{}.Reverse(true))
	}
	return ansi.Truncate(st+"  "+text, w, "…")
}

// veiled lists the lanes whose picture waits to be revealed, in lane order
// (yours last); picking starts at the last of them.
func (m *Model) veiled(now stamp) []*lane {
	var out []*lane
	for _, l := range m.lanes {
		if !m.picGone(l, now) && l.pic.revealed == 0 {
			out = append(out, l)
		}
	}
	return out
}
