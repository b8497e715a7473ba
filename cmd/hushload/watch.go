package main

import (
	"fmt"
	"image/color"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/vt"
)

// alphabet is what typists type, in turn: every printable ASCII character
// but space, so the newest visible character on the peer's screen says
// which keystroke arrived (as long as fewer than len(alphabet) are in
// flight, which is checked).
const alphabet = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

var alphaIndex = func() (idx [256]int) {
	for i := range idx {
		idx[i] = -1
	}
	for i := range len(alphabet) {
		idx[alphabet[i]] = i
	}
	return idx
}()

// region is the rows of b's screen where a's typing shows: hush draws the
// other person's lane under its label, above your own label ("· you"); the
// relay writes raw text from row 2 down.
func region(kind string, b *term) (top, bottom int, err error) {
	if kind == "relay" {
		return 2, b.emu.Height(), nil
	}
	if _, err := b.waitText("· you", -1); err != nil {
		return 0, 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	top, bottom = -1, -1
	for y := range b.emu.Height() {
		line := rowText(b.emu, y)
		if top < 0 && strings.Contains(line, "●") {
			top = y + 1
		}
		if strings.Contains(line, "· you") {
			bottom = y
		}
	}
	if top < 0 || bottom <= top {
		return 0, 0, fmt.Errorf("no lane for the other person on screen:\n%s", b.emu.String())
	}
	return top, bottom, nil
}

// tracker matches keystrokes typed in one room with their arrival on the
// peer's decoded screen.
type tracker struct {
	mu      sync.Mutex
	sent    []time.Time
	recv    int // keystrokes [0, recv) have been seen
	lat     []time.Duration
	overrun int
}

// next returns the character for the next keystroke and notes when it left.
func (tr *tracker) next() byte {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	i := len(tr.sent)
	if i-tr.recv >= len(alphabet)-1 {
		tr.overrun++
	}
	tr.sent = append(tr.sent, time.Now())
	return alphabet[i%len(alphabet)]
}

// saw is told the newest character on the peer's screen at time now.
func (tr *tracker) saw(c byte, now time.Time) {
	k := alphaIndex[c]
	if k < 0 {
		return
	}
	K := len(alphabet)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.recv > 0 && (tr.recv-1)%K == k {
		return // still the last one seen
	}
	i := tr.recv + (k-tr.recv%K+K)%K
	if i >= len(tr.sent) {
		return // not typed yet: something else on screen
	}
	for j := tr.recv; j <= i; j++ {
		tr.lat = append(tr.lat, now.Sub(tr.sent[j]))
	}
	tr.recv = i + 1
}

func (tr *tracker) pending() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.sent) - tr.recv
}

// fadeWatch records every change to one cell of a screen: its character and
// colour, to count the shades a fading character goes through.
type fadeWatch struct {
	x, y    int
	last    string
	changes []fadeChange
}

type fadeChange struct {
	at      time.Time
	content string
}

func colorKey(c color.Color) string {
	if c == nil {
		return "-"
	}
	r, g, b, a := c.RGBA()
	return fmt.Sprintf("%04x%04x%04x%04x", r, g, b, a)
}

func (fw *fadeWatch) see(e *vt.Emulator, now time.Time) {
	c := e.CellAt(fw.x, fw.y)
	key, content := "", ""
	if c != nil {
		content = strings.TrimSpace(c.Content)
		if content != "" {
			key = content + "/" + colorKey(c.Style.Fg)
		}
	}
	if key != fw.last {
		fw.last = key
		fw.changes = append(fw.changes, fadeChange{at: now, content: content})
	}
}

// steps returns shade changes per second once the character began to fade
// (counting its disappearance), how many there were, and the longest gap.
func (fw *fadeWatch) steps() (perSec float64, n int, maxGap time.Duration, done bool) {
	ch := fw.changes
	// ch[0] is the arrival; the fade is everything after it.
	if len(ch) < 3 {
		return 0, max(0, len(ch)-1), 0, false
	}
	fade := ch[1:]
	for i := 1; i < len(fade); i++ {
		maxGap = max(maxGap, fade[i].at.Sub(fade[i-1].at))
	}
	span := fade[len(fade)-1].at.Sub(fade[0].at)
	done = fade[len(fade)-1].content == ""
	return round(float64(len(fade)-1)/span.Seconds(), 2), len(fade), maxGap, done
}
