package talk

import "time"

// FadeStep is how often a fading character changes shade: ten steps a
// second looks smooth and costs nothing while nothing fades.
const FadeStep = 100 * time.Millisecond

// BrightShare is the part of the linger text spends at full brightness;
// the rest is the fade. The original app spent 2.5 s bright and 1 s fading.
const BrightShare = 0.7

// Fade is when typed text fades, the same on every screen: bright for
// Bright, then fading in steps of at least Step until Linger, when it has
// vanished. A terminal draws the steps; a page animates the same curve.
type Fade struct {
	Linger time.Duration
	Bright time.Duration
	Step   time.Duration
}

// Schedule is the fade for text that lingers this long (at least two
// steps: text never vanishes before it could be seen).
func Schedule(linger time.Duration) Fade {
	linger = max(linger, 2*FadeStep)
	return Fade{Linger: linger, Bright: time.Duration(float64(linger) * BrightShare), Step: FadeStep}
}
