package ui

import (
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/hush-chat/hush/pictures"
	"github.com/hush-chat/hush/talk"
)

// noise is the costliest picture to draw: every pixel its own colour.
func noise(w, h int) *pictures.Picture {
	r := rand.New(rand.NewPCG(1, 2))
	p := &pictures.Picture{W: w, H: h, Pix: make([]byte, w*h*3)}
	for i := range p.Pix {
		p.Pix[i] = byte(r.IntN(256))
	}
	return p
}

// One picture's whole life on one 80×24 true-colour terminal — veiled,
// shown, every fade step, gone — costs the terminal at most 250 KB, as the
// Screen writes it.
func TestPictureLifeByteBudget(t *testing.T) {
	m, seat, c := newTestModel(t, 80, 24)
	m.cfg.Profile = colorprofile.TrueColor
	scr := &Screen{w: io.Discard}
	drawAndPaint(scr, m, c.t) // the room before the picture
	m.Update(Events{{Kind: talk.Pictured, Peer: seat.others[0], Picture: noise(128, 128)}})
	sent := drawAndPaint(scr, m, c.t)
	if !strings.Contains(strings.Join(plain(m.Frame()), "\n"), "sent a picture · tab enter shows it") {
		t.Fatalf("no veil:\n%s", strings.Join(plain(m.Frame()), "\n"))
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if m.lanes[0].pic == nil || m.lanes[0].pic.revealed == 0 {
		t.Fatal("tab enter did not show the picture")
	}
	sent += drawAndPaint(scr, m, c.t)
	frames := 0
	for !m.wake.IsZero() {
		c.t = m.wake
		m.Update(tick{})
		sent += drawAndPaint(scr, m, c.t)
		frames++
		if frames > 100 {
			t.Fatal("the picture never faded")
		}
	}
	if m.you.pic != nil || m.lanes[0].pic != nil {
		t.Fatal("a picture is still held after its fade")
	}
	t.Logf("veil, picture and %d more frames: %d bytes", frames, sent)
	if sent > 250<<10 {
		t.Fatalf("one picture's life cost %d bytes, more than 250 KB", sent)
	}
}
