package ui

import (
	"image/color"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/rooms"
)

// FadeStep is how often a fading character changes shade: ten steps a
// second looks smooth and costs nothing while nothing fades.
const FadeStep = 100 * time.Millisecond

// maxShades bounds the fade table: a long --linger fades in longer steps,
// not in more of them.
const maxShades = 24

// brightShare is the part of the linger spent at full brightness; the rest is
// the fade. The original app used 2.5 s bright and 1 s of fade.
const brightShare = 0.7

// fader turns a character's age into a style, per lane colour.
type fader struct {
	linger  time.Duration
	bright  time.Duration
	steps   int
	stepDur time.Duration // how long one shade lasts: FadeStep, longer for a long linger
	// styles[color][step] is the SGR prefix for that shade; step 0 is bright.
	styles [][]string
}

// lanePalette has one colour for each colour a room hands out.
var lanePalette = [rooms.Palette]color.RGBA{
	{0x7a, 0xc7, 0xff, 0xff}, // sky
	{0xff, 0xb8, 0x6c, 0xff}, // amber
	{0x9d, 0xe0, 0x8a, 0xff}, // leaf
	{0xff, 0x8f, 0xc7, 0xff}, // rose
	{0xc3, 0xa6, 0xff, 0xff}, // lilac
	{0x6c, 0xe0, 0xd0, 0xff}, // teal
	{0xf1, 0xe0, 0x7a, 0xff}, // straw
	{0xff, 0x8a, 0x80, 0xff}, // coral
}

// faded is where every shade ends: dim, but not the terminal's background,
// which we cannot know.
var faded = color.RGBA{0x3a, 0x3a, 0x3a, 0xff}

func newFader(linger time.Duration, p colorprofile.Profile) *fader {
	if linger < 2*FadeStep {
		linger = 2 * FadeStep
	}
	bright := time.Duration(float64(linger) * brightShare)
	stepDur := max(FadeStep, (linger-bright)/maxShades)
	steps := max(int((linger-bright)/stepDur), 1)
	f := &fader{linger: linger, bright: bright, steps: steps, stepDur: stepDur}
	for _, base := range lanePalette {
		shades := make([]string, steps+1)
		for i := range shades {
			shades[i] = shade(p, base, float64(i)/float64(steps+1))
		}
		f.styles = append(f.styles, shades)
	}
	return f
}

// shade is the SGR prefix for base faded by t (0 bright … 1 gone). Without
// colour, bold then normal then faint carries the same idea.
func shade(p colorprofile.Profile, base color.RGBA, t float64) string {
	if p <= colorprofile.ASCII {
		switch {
		case p == colorprofile.NoTTY:
			return ""
		case t == 0:
			return ansi.Style{}.Bold().String()
		case t < 0.5:
			return ""
		default:
			return ansi.Style{}.Faint().String()
		}
	}
	if p == colorprofile.ANSI256 && t > 0 {
		// The 256-colour cube has too few shades between a colour and grey
		// for a smooth fade; the grey ramp has one per step.
		return ansi.Style{}.ForegroundColor(ansi.IndexedColor(252 - int(t*16))).String()
	}
	mix := func(a, b uint8) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t) }
	c := color.RGBA{mix(base.R, faded.R), mix(base.G, faded.G), mix(base.B, faded.B), 0xff}
	st := ansi.Style{}.ForegroundColor(p.Convert(c))
	if t == 0 {
		st = st.Bold()
	}
	return st.String()
}

// step returns the shade index for a character typed at `at`, or -1 once
// it has vanished.
func (f *fader) step(at, now time.Time) int {
	age := now.Sub(at)
	switch {
	case age >= f.linger:
		return -1
	case age < f.bright:
		return 0
	}
	return min(1+int((age-f.bright)/f.stepDur), f.steps)
}

// next returns when a character typed at `at` next changes how it looks.
func (f *fader) next(at, now time.Time) time.Time {
	age := now.Sub(at)
	switch {
	case age < f.bright:
		return at.Add(f.bright)
	case age >= f.linger:
		return time.Time{}
	}
	n := at.Add(f.bright + f.stepDur*time.Duration(1+int((age-f.bright)/f.stepDur)))
	if end := at.Add(f.linger); n.After(end) {
		return end
	}
	return n
}

func (f *fader) style(colorIdx, step int) string {
	return f.styles[colorIdx%len(f.styles)][step]
}
