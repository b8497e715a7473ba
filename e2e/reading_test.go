package e2e

import (
	"bytes"
	"fmt"
	"image/color"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

// A terminal that says its background is white sees text fade toward
// white; one that never answers gets its first frame without waiting.
func TestFadeTowardTheTerminalsBackground(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 3 * time.Second })
	alice, bob, _ := openPair(t, s.Addr())
	// Bob never answers the question, yet has his room on screen.
	bob.WaitText("2 of 2 here")
	// The question goes out beside the first frame, from a command that
	// runs off the model's loop: it may follow the frame by a moment.
	wait.Until(t, "bob's terminal to be asked for its background", func() (bool, string) {
		raw := bob.Raw()
		return bytes.Contains(raw, []byte(ansi.RequestBackgroundColor)) && bytes.Contains(raw, []byte("hush")), fmt.Sprintf("%q", raw)
	})
	alice.Type("\x1b]11;rgb:ffff/ffff/ffff\x1b\\") // what a light terminal answers
	bob.Type("Q")
	alice.WaitText("Q")
	first, _ := alice.CellFg("Q")
	var last color.Color
	alice.WaitFor("Q to fade toward white", func(string) bool {
		if c, ok := alice.CellFg("Q"); ok {
			last = c
		}
		return last != nil && luminance(last) > 0.75
	})
	if luminance(first) > 0.6 {
		t.Errorf("bright text on white starts out pale: %v", first)
	}
	alice.WaitGone("Q")
}

// Earlier words vanish where they stand: a later word keeps its column
// (it may only move up a row when a whole row has gone), and no word is
// ever split over two rows.
func TestTextStaysPutAndWrapsAtWords(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 2 * time.Second })
	alice, bob, _ := openPair(t, s.Addr())
	alice.Resize(40, 16)
	alice.WaitText("2 of 2")
	sentence := "so what I wanted to say is that the meeting moved to thursday"
	for _, w := range strings.SplitAfter(sentence, " ") {
		bob.Type(w)
		time.Sleep(40 * time.Millisecond) // pacing the typist, as a person types
	}
	alice.WaitText("thursday")
	for _, l := range alice.Lines() {
		if strings.HasPrefix(l, "  ") {
			for _, w := range strings.Fields(l) {
				if !strings.Contains(sentence, " "+w+" ") && !strings.HasPrefix(sentence, w+" ") && !strings.HasSuffix(sentence, " "+w) {
					t.Errorf("%q is half a word:\n%s", w, alice.Screen())
				}
			}
		}
	}
	locate := func() (int, int) {
		for i, l := range alice.Lines() {
			if c := strings.Index(l, "thursday"); c >= 0 {
				return i, c
			}
		}
		return -1, -1
	}
	row, col := locate()
	alice.WaitFor("the first words to vanish while thursday stays put", func(screen string) bool {
		r, c := locate()
		if r >= 0 && (c != col || r > row || r < row-1) {
			t.Fatalf("thursday moved from %d,%d to %d,%d:\n%s", row, col, r, c, screen)
		}
		if r >= 0 {
			row = r
		}
		return !strings.Contains(screen, "so what") && strings.Contains(screen, "thursday")
	})
}

// Someone who types nothing is warned before the idle timeout lets them go.
func TestIdleWarningComesFirst(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.IdleTimeout = 3 * time.Second })
	alice, _ := openRoom(t, s.Addr(), "new", sshtest.Options{})
	alice.WaitText("lets you go in")
	select {
	case <-alice.Done():
		t.Fatal("let go before the warning was read")
	default:
	}
	if got := alice.Exit(); got != 0 || !strings.Contains(alice.Screen(), "You typed nothing for 3s") {
		t.Fatalf("exit %d:\n%s", got, alice.Screen())
	}
}

// In a room of five, a long paste stays readable: silent members shrink
// to their name line instead of holding empty rows.
func TestFiveMembersKeepALongPasteVisible(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.MaxGroup = 5; c.Linger = 30 * time.Second })
	ann, code := openRoom(t, s.Addr(), "group", sshtest.Options{})
	others := []*sshtest.Term{ann}
	for range 4 {
		others = append(others, sshtest.Dial(t, s.Addr(), code, sshtest.Options{}))
	}
	ann.WaitText("5 of 5 here")
	var lines []string
	for i := range 10 {
		lines = append(lines, "paste line "+strconv.Itoa(i))
	}
	others[1].Paste(strings.Join(lines, "\n"))
	for _, l := range lines {
		ann.WaitText(l)
	}
}
