package ui

import (
	"fmt"
	"image/color"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/talk"
)

// emulator is a terminal that decodes what a Screen writes.
func emulator(w, h int) *vt.Emulator {
	e := vt.NewEmulator(w, h)
	go func() { _, _ = io.Copy(io.Discard, e) }() // answers to queries, unread
	return e
}

// cellView is a cell as a reader sees it: a blank is a blank in any pen
// (no pen ever sets a background, reverse or underline).
func cellView(c *uv.Cell) string {
	if c == nil || c.Content == "" || c.Content == " " {
		if c != nil && (c.Style.Bg != nil || c.Style.Attrs&(uv.AttrReverse) != 0 || c.Style.Underline != 0) {
			return fmt.Sprintf("blank with %+v", c.Style)
		}
		return " "
	}
	return fmt.Sprintf("%q w%d fg=%v attrs=%d", c.Content, c.Width, c.Style.Fg, c.Style.Attrs)
}

// sameScreens fails unless a and b show the same cells and cursor.
func sameScreens(t *testing.T, step string, a, b *vt.Emulator) {
	t.Helper()
	for y := range a.Height() {
		for x := range a.Width() {
			if va, vb := cellView(a.CellAt(x, y)), cellView(b.CellAt(x, y)); va != vb {
				t.Fatalf("%s: cell %d,%d is %s after the diffs, %s drawn whole\ndiffs:\n%s\nwhole:\n%s", step, x, y, va, vb, a.String(), b.String())
			}
		}
	}
	if pa, pb := a.CursorPosition(), b.CursorPosition(); pa != pb {
		t.Fatalf("%s: cursor at %v after the diffs, %v drawn whole", step, pa, pb)
	}
}

// The diff a Screen writes, frame after frame, leaves the terminal as a
// fresh Screen drawing the last frame whole: through typing, fading,
// vanishing, wide characters, joins, resizes and notices.
func TestScreenDiffsDrawWhatAFullRedrawDraws(t *testing.T) {
	for _, profile := range []colorprofile.Profile{colorprofile.TrueColor, colorprofile.ANSI256, colorprofile.ANSI, colorprofile.ASCII} {
		t.Run(profile.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(profile)))
			m, seat, c := newTestModel(t, 40, 12)
			m.cfg.Profile = profile
			m.refade()
			w, h := 40, 12
			inc := emulator(w, h)
			s := &Screen{}
			texts := []string{"a", "b", "Z", "7", "!", " ", "word", "日", "本", "👩\u200d💻", "e\u0301", "-", "'"}
			for step := range 400 {
				c.t = c.t.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
				switch r := rng.IntN(20); {
				case r < 8:
					m.Update(Events{{Kind: talk.Typed, Peer: rooms.Peer{ID: 2, Color: 1}, Text: texts[rng.IntN(len(texts))]}})
				case r < 12:
					m.Update(tea.KeyPressMsg{Code: 'x', Text: texts[rng.IntN(len(texts))]})
				case r < 13:
					m.Update(Events{{Kind: talk.Newline, Peer: rooms.Peer{ID: 2}}})
				case r < 14 && len(seat.others) < 4:
					id := 3 + len(seat.others)
					seat.others = append(seat.others, rooms.Peer{ID: id})
					m.Update(Events{{Kind: talk.Joined, Peer: rooms.Peer{ID: id, Color: id, Member: rooms.Member{Name: fmt.Sprint("p", id)}}}})
				case r < 15 && step%50 == 0:
					w, h = 20+rng.IntN(40), 5+rng.IntN(15)
					m.Update(tea.WindowSizeMsg{Width: w, Height: h})
					inc = emulator(w, h)
					s = &Screen{}
				default:
					m.Update(tick{})
				}
				f := s.Blank()
				m.draw(f, c.t)
				s.buf = s.buf[:0]
				s.paint(f)
				_, _ = inc.Write(s.buf)

				whole := emulator(w, h)
				fresh := &Screen{}
				fresh.paint(m.frame(c.t).ptr())
				_, _ = whole.Write(fresh.buf)
				sameScreens(t, fmt.Sprintf("step %d", step), inc, whole)
			}
		})
	}
}

func (f Frame) ptr() *Frame { return &f }

// A fade step that changes only colours writes only the characters whose
// colour changed, each run once, in the new colour: no erased rows, and
// nothing that kept its colour.
func TestFadeStepWritesOnlyChangedColours(t *testing.T) {
	m, _, c := newTestModel(t, 80, 24)
	m.cfg.Profile = colorprofile.ANSI256
	m.refade()
	// Two words typed a second apart: the first starts fading before the second.
	typeAt(m, c, "alpha ", 10*time.Millisecond)
	c.t = c.t.Add(time.Second)
	typeAt(m, c, "omega", 10*time.Millisecond)
	second := c.t
	s := &Screen{}
	draw := func() string {
		f := s.Blank()
		m.draw(f, c.t)
		s.buf = s.buf[:0]
		s.paint(f)
		return string(s.buf)
	}
	draw()
	bright := time.Duration(float64(m.fade.linger) * talk.BrightShare)
	var steps []string
	for {
		c.t = c.t.Add(talk.FadeStep)
		if c.t.Sub(second) >= bright {
			break // the second word starts fading too
		}
		m.Update(tick{})
		out := draw()
		if out != "" {
			steps = append(steps, out)
		}
	}
	if len(steps) == 0 {
		t.Fatal("nothing faded")
	}
	for _, out := range steps {
		if strings.Contains(out, "\x1b[2K") || strings.Contains(out, "\x1b[2J") {
			t.Fatalf("a fade step erased a row: %q", out)
		}
		text := ansi.Strip(out)
		if strings.Contains(text, "omega") && strings.Contains(text, "alpha") {
			t.Fatalf("a fade step rewrote both words, only one changes colour: %q", out)
		}
		if strings.Contains(text, "omega") {
			t.Fatalf("a fade step rewrote the word that keeps its colour: %q", out)
		}
		if n := strings.Count(out, "38;5;"); n > 1 {
			t.Fatalf("one word in one colour took %d colour changes: %q", n, out)
		}
	}
}

// A pen sets the same attributes and colour as the style string made for
// the same shade, in every profile, on every kind of background.
func TestPensMatchStyles(t *testing.T) {
	params := func(s string) map[string]bool {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "\x1b["), "m")
		set := map[string]bool{}
		// Colour parameters go together: 38;5;n and 38;2;r;g;b are one.
		parts := strings.Split(s, ";")
		for i := 0; i < len(parts); i++ {
			switch {
			case parts[i] == "38" && i+1 < len(parts) && parts[i+1] == "5":
				set[strings.Join(parts[i:i+3], ";")] = true
				i += 2
			case parts[i] == "38" && i+1 < len(parts) && parts[i+1] == "2":
				set[strings.Join(parts[i:i+5], ";")] = true
				i += 4
			case parts[i] != "0" && parts[i] != "":
				set[parts[i]] = true
			}
		}
		return set
	}
	for _, p := range []colorprofile.Profile{colorprofile.TrueColor, colorprofile.ANSI256, colorprofile.ANSI, colorprofile.ASCII} {
		for _, bg := range []color.Color{nil, color.Black, color.White} {
			f := newFader(5*time.Second, p, bg)
			for c := range rooms.Palette {
				for step := 0; step <= f.steps; step++ {
					want := params(f.style(c, step))
					got := params(string(appendSGR(nil, pen{}, false, f.pen(c, step))))
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%v on %v, colour %d step %d: pen %v, style %q", p, bg, c, step, got, f.style(c, step))
					}
				}
			}
		}
	}
}
