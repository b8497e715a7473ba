package ui

import (
	"image/color"
	"math"
	"sync"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/talk"
)

// maxShades bounds the fade table: a long --linger fades in longer steps,
// not in more of them.
const maxShades = 24

// The lane colours, one set per kind of background, each colour in the
// same order (sky, amber, leaf, rose, lilac, teal, straw, coral). WCAG
// contrast ratios, checked in ui/reading_test.go (TestFadesTowardTheBackground):
//   - onDark: at least 9.2:1 on black and 7.3:1 on #1e1e1e;
//   - onLight: at least 5.3:1 on white;
//   - unsure, for a terminal that does not say what its background is:
//     about 4.6:1 on black and on white alike.
var (
	onDark = [talk.Palette]color.RGBA{
		{0x7a, 0xc7, 0xff, 0xff}, {0xff, 0xb8, 0x6c, 0xff}, {0x9d, 0xe0, 0x8a, 0xff}, {0xff, 0x8f, 0xc7, 0xff},
		{0xc3, 0xa6, 0xff, 0xff}, {0x6c, 0xe0, 0xd0, 0xff}, {0xf1, 0xe0, 0x7a, 0xff}, {0xff, 0x8a, 0x80, 0xff},
	}
	onLight = [talk.Palette]color.RGBA{
		{0x0b, 0x5f, 0xa5, 0xff}, {0x9a, 0x4d, 0x00, 0xff}, {0x2b, 0x7a, 0x2b, 0xff}, {0xb0, 0x30, 0x6a, 0xff},
		{0x6a, 0x3f, 0xb5, 0xff}, {0x00, 0x79, 0x6b, 0xff}, {0x7a, 0x62, 0x00, 0xff}, {0xc0, 0x39, 0x2b, 0xff},
	}
	unsure = [talk.Palette]color.RGBA{
		{0x30, 0x78, 0xc0, 0xff}, {0xa1, 0x69, 0x28, 0xff}, {0x1d, 0x88, 0x07, 0xff}, {0xce, 0x3b, 0x85, 0xff},
		{0x92, 0x4c, 0xf6, 0xff}, {0x21, 0x83, 0x76, 0xff}, {0x8a, 0x74, 0x07, 0xff}, {0xce, 0x47, 0x3b, 0xff},
	}
	// unsureEnd is where text fades to when the background is unknown: a
	// grey as readable on black as on white, so fading shows as colour
	// draining away rather than as text getting darker on a light screen.
	unsureEnd = color.RGBA{0x76, 0x76, 0x76, 0xff}
)

// fader turns a character's age into a style, per lane colour.
type fader struct {
	linger  time.Duration
	bright  time.Duration
	steps   int
	stepDur time.Duration // how long one shade lasts: a step, longer for a long linger
	// styles[color][step] is the SGR prefix for that shade; step 0 is
	// bright. pens[color][step] is the same shade as a pen, for glyphs.
	styles [talk.Palette][]string
	pens   [talk.Palette][]pen
}

// Fades are the shades screens fade through, built once for each linger,
// colour profile and background and shared: a screen's own table would
// cost it 5–6 KB.
type Fades struct {
	mu   sync.Mutex
	made map[fadeKey]*fader
}

type fadeKey struct {
	linger  time.Duration
	profile colorprofile.Profile
	bg      color.RGBA
	known   bool // the terminal said what its background is
}

// maxFades bounds the tables kept: terminals may claim any background, and
// a screen whose table is not kept builds its own.
const maxFades = 64

// NewFades returns an empty set of shared fades.
func NewFades() *Fades { return &Fades{made: make(map[fadeKey]*fader)} }

// get returns the fader for linger, p and bg, shared if fs is not nil.
// A fader is never changed once made.
func (fs *Fades) get(linger time.Duration, p colorprofile.Profile, bg color.Color) *fader {
	if fs == nil {
		return newFader(linger, p, bg)
	}
	k := fadeKey{linger: linger, profile: p, known: bg != nil}
	if bg != nil {
		k.bg = toRGBA(bg)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.made[k]; ok {
		return f
	}
	f := newFader(linger, p, bg)
	if len(fs.made) < maxFades {
		fs.made[k] = f
	}
	return f
}

// newFader fades over linger toward bg, the terminal's background (nil
// when it has not said).
func newFader(linger time.Duration, p colorprofile.Profile, bg color.Color) *fader {
	sched := talk.Schedule(linger)
	linger, bright := sched.Linger, sched.Bright
	stepDur := max(sched.Step, (linger-bright)/maxShades)
	steps := max(int((linger-bright)/stepDur), 1)
	f := &fader{linger: linger, bright: bright, steps: steps, stepDur: stepDur}
	palette, end := unsure, unsureEnd
	if bg != nil {
		end = toRGBA(bg)
		palette = onDark
		if luminance(end) > 0.4 {
			palette = onLight
		}
	}
	for i, base := range palette {
		shades := make([]string, steps+1)
		pens := make([]pen, steps+1)
		for s := range shades {
			shades[s], pens[s] = shade(p, base, end, float64(s)/float64(steps+1))
		}
		f.styles[i], f.pens[i] = shades, pens
	}
	return f
}

// shade is the SGR prefix for base faded toward end by t (0 bright … 1
// gone), and the same as a pen. With 16 colours: bold, plain, then faint.
// Without colour: bold, plain, faint — the same idea.
func shade(p colorprofile.Profile, base, end color.RGBA, t float64) (string, pen) {
	st := ansi.Style{}
	var pn pen
	switch {
	case p == colorprofile.NoTTY:
		return "", pen{}
	case p <= colorprofile.ASCII:
	case p == colorprofile.ANSI:
		pn = penOf(0, p.Convert(base))
		st = st.ForegroundColor(p.Convert(base))
	default:
		// 256 colours: the mix is mapped to the nearest of the 240 cube
		// and grey colours at every step, so it drifts toward the
		// background instead of jumping to a grey at the first step.
		mix := func(a, b uint8) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t + 0.5) }
		c := p.Convert(color.RGBA{mix(base.R, end.R), mix(base.G, end.G), mix(base.B, end.B), 0xff})
		pn = penOf(0, c)
		st = st.ForegroundColor(c)
	}
	switch {
	case t == 0:
		st = st.Bold()
		pn.attr = penBold
	case t >= 0.5 && p <= colorprofile.ANSI:
		st = st.Faint()
		pn.attr = penFaint
	}
	return st.String(), pn
}

// luminance is the relative luminance of c (WCAG), 0 black … 1 white.
func luminance(c color.RGBA) float64 {
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

func toRGBA(c color.Color) color.RGBA {
	r, g, b, _ := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0xff}
}

// step returns the shade index for a character typed at `at`, or -1 once
// it has vanished.
func (f *fader) step(at, now stamp) int {
	age := time.Duration(now - at)
	switch {
	case age >= f.linger:
		return -1
	case age < f.bright:
		return 0
	}
	return min(1+int((age-f.bright)/f.stepDur), f.steps)
}

// next returns when a character typed at `at` next changes how it looks,
// and false once it has vanished.
func (f *fader) next(at, now stamp) (stamp, bool) {
	age := time.Duration(now - at)
	switch {
	case age < f.bright:
		return at + stamp(f.bright), true
	case age >= f.linger:
		return 0, false
	}
	n := at + stamp(f.bright+f.stepDur*time.Duration(1+int((age-f.bright)/f.stepDur)))
	if end := at + stamp(f.linger); n > end {
		return end, true
	}
	return n, true
}

func (f *fader) style(colorIdx, step int) string {
	return f.styles[colorIdx%talk.Palette][step]
}

func (f *fader) pen(colorIdx, step int) pen {
	return f.pens[colorIdx%talk.Palette][step]
}
