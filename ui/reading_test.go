package ui

import (
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/talk"
)

var cuf = regexp.MustCompile(`\x1b\[(\d+)C`)

// plain is the frame as a reader sees it: no styles, cursor moves over an
// erased row as the blanks they leave.
func plain(f Frame) []string {
	out := make([]string, len(f.Lines()))
	for i, l := range f.Lines() {
		l = cuf.ReplaceAllStringFunc(l, func(m string) string {
			n, _ := strconv.Atoi(cuf.FindStringSubmatch(m)[1])
			return strings.Repeat(" ", n)
		})
		out[i] = ansi.Strip(l)
	}
	return out
}

// find returns the row and column where s first appears.
func find(lines []string, s string) (int, int) {
	for r, l := range lines {
		if c := strings.Index(l, s); c >= 0 {
			return r, c
		}
	}
	return -1, -1
}

// typeAt has the peer type text one key at a time, step apart, from t.
func typeAt(m *Model, c *clock, text string, step time.Duration) {
	for _, r := range text {
		c.t = c.t.Add(step)
		m.Update(Events{{Kind: talk.Typed, Peer: rooms.Peer{ID: 2, Color: 1}, Text: string(r)}})
	}
}

func TestTextFadesInPlace(t *testing.T) {
	m, _, c := newTestModel(t, 40, 12)
	typeAt(m, c, "so what I wanted to say is that the meeting moved to thursday and", 100*time.Millisecond)
	before := plain(m.Frame())
	r, col := find(before, "thursday")
	if r < 0 {
		t.Fatalf("no thursday:\n%s", strings.Join(before, "\n"))
	}
	// Let the first words vanish, a little at a time: nothing still
	// showing may move, until a whole row has gone.
	for range 30 {
		c.t = c.t.Add(100 * time.Millisecond)
		m.Update(tick{})
		now := plain(m.Frame())
		if !strings.Contains(strings.Join(now, "\n"), "thursday") {
			break
		}
		r2, col2 := find(now, "thursday")
		if col2 != col || (r2 != r && r2 != r-1) {
			t.Fatalf("thursday moved from %d,%d to %d,%d:\n%s", r, col, r2, col2, strings.Join(now, "\n"))
		}
		r = r2
	}
}

func TestWrapsAtWords(t *testing.T) {
	m, _, c := newTestModel(t, 30, 20)
	text := "the quick brown fox jumps over the lazy dog and then some more words follow here"
	typeAt(m, c, text, 10*time.Millisecond)
	lines := plain(m.Frame())
	words := map[string]bool{}
	for _, w := range strings.Fields(text) {
		words[w] = true
	}
	rows := 0
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, "  ") {
			continue // the header, a label, the status line
		}
		rows++
		for _, w := range strings.Fields(l) {
			if !words[w] {
				t.Errorf("%q on screen is half a word:\n%s", w, strings.Join(lines, "\n"))
			}
		}
	}
	if rows < 3 {
		t.Fatalf("the text took %d rows at width 30:\n%s", rows, strings.Join(lines, "\n"))
	}
}

var fg = regexp.MustCompile(`38;2;(\d+);(\d+);(\d+)`)

// lastShade is the foreground of a lane colour just before it vanishes.
func lastShade(t *testing.T, m *Model) color.RGBA {
	t.Helper()
	s := m.fade.style(1, m.fade.steps)
	g := fg.FindStringSubmatch(s)
	if g == nil {
		t.Fatalf("no truecolor foreground in %q", s)
	}
	n := func(i int) uint8 { v, _ := strconv.Atoi(g[i]); return uint8(v) }
	return color.RGBA{n(1), n(2), n(3), 0xff}
}

func TestFadesTowardTheBackground(t *testing.T) {
	m, _, _ := newTestModel(t, 80, 24)
	if cmd := m.Init(); runCmd(cmd) != (AskBackground{}) {
		t.Fatal("the model does not ask for the background")
	}
	unknown := lastShade(t, m)
	m.Update(Background{color.White})
	light := lastShade(t, m)
	if luminance(light) < 0.8 {
		t.Errorf("on white, text fades to %v, not toward white", light)
	}
	m.Update(Background{color.RGBA{0x10, 0x10, 0x10, 0xff}})
	dark := lastShade(t, m)
	if luminance(dark) > 0.05 {
		t.Errorf("on near-black, text fades to %v, not toward it", dark)
	}
	if luminance(unknown) < luminance(dark) || luminance(unknown) > luminance(light) {
		t.Errorf("with no answer, text fades to %v: should sit between", unknown)
	}
	// Bright colours read on the background they were picked for.
	contrast := func(a, b color.RGBA) float64 {
		la, lb := luminance(a), luminance(b)
		return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
	}
	for i := range talk.Palette {
		if c := contrast(onLight[i], color.RGBA{0xff, 0xff, 0xff, 0xff}); c < 4.5 {
			t.Errorf("light palette %d: %.1f:1 on white", i, c)
		}
		if c := contrast(onDark[i], color.RGBA{0x1e, 0x1e, 0x1e, 0xff}); c < 7 {
			t.Errorf("dark palette %d: %.1f:1 on #1e1e1e", i, c)
		}
		for _, bg := range []color.RGBA{{0, 0, 0, 0xff}, {0xff, 0xff, 0xff, 0xff}} {
			if c := contrast(unsure[i], bg); c < 4.5 {
				t.Errorf("unsure palette %d: %.1f:1 on %v", i, c, bg)
			}
		}
	}
}

// The 256-colour fade takes small steps: no step jumps further than a
// third of the way from the bright colour to the background.
func TestSmooth256Fade(t *testing.T) {
	f := newFader(5*time.Second, colorprofile.ANSI256, color.Black)
	prev := -1
	jumps := 0
	for s := 0; s <= f.steps; s++ {
		st := f.style(0, s)
		g := regexp.MustCompile(`38;5;(\d+)`).FindStringSubmatch(st)
		if g == nil {
			t.Fatalf("step %d: %q", s, st)
		}
		idx, _ := strconv.Atoi(g[1])
		if prev >= 0 && idx != prev {
			jumps++
		}
		prev = idx
	}
	if jumps < 4 {
		t.Errorf("only %d distinct shades in a 256-colour fade", jumps+1)
	}
}

func TestGroupLanesSizedByWhatTheyHold(t *testing.T) {
	m, seat, c := newTestModel(t, 80, 24)
	for id := 3; id <= 5; id++ {
		seat.others = append(seat.others, rooms.Peer{ID: id})
		m.Update(Events{{Kind: talk.Joined, Peer: rooms.Peer{ID: id, Member: rooms.Member{Name: "silent-" + strconv.Itoa(id)}}}})
	}
	var paste strings.Builder
	for i := range 12 {
		paste.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	c.t = c.t.Add(time.Millisecond)
	m.Update(Events{{Kind: talk.Typed, Peer: rooms.Peer{ID: 2}, Text: "start"}})
	for _, l := range strings.Split(strings.TrimSpace(paste.String()), "\n") {
		m.Update(Events{{Kind: talk.Newline, Peer: rooms.Peer{ID: 2}}, {Kind: talk.Typed, Peer: rooms.Peer{ID: 2}, Text: l}})
	}
	lines := plain(m.Frame())
	shown := 0
	for i := range 12 {
		if r, _ := find(lines, "line "+strconv.Itoa(i)); r >= 0 {
			shown++
		}
	}
	if shown < 12 {
		t.Fatalf("a 13-line paste in a room of five kept %d of its last 12 lines:\n%s", shown, strings.Join(lines, "\n"))
	}
	for id := 3; id <= 5; id++ {
		if r, _ := find(lines, "silent-"+strconv.Itoa(id)); r < 0 {
			t.Fatalf("silent-%d not shown:\n%s", id, strings.Join(lines, "\n"))
		}
	}
}

func TestFooterKeepsTheInviteWhole(t *testing.T) {
	for _, w := range []int{30, 45, 60, 100} {
		m, seat, _ := newTestModel(t, w, 24)
		seat.others = append(seat.others, rooms.Peer{ID: 3})
		m.Update(Events{{Kind: talk.Joined, Peer: rooms.Peer{ID: 3, Member: rooms.Member{Name: "x"}}}})
		m.notice = notice{}
		status := ansi.Strip(m.Frame().Lines()[23])
		if strings.Contains(status, "ssh") && !strings.Contains(status, "ssh k7dm-2q9x-wpq@host") {
			t.Errorf("width %d: invite cut: %q", w, status)
		}
		if strings.Contains(status, "…") {
			t.Errorf("width %d: a hint cut: %q", w, status)
		}
	}
	// A full room offers nobody an invite.
	m, _, _ := newTestModel(t, 100, 24)
	m.lanes = m.lanes[:0]
	for i := range 8 {
		m.lanes = append(m.lanes, newLane(rooms.Peer{ID: 10 + i}, false))
	}
	m.lanes = append(m.lanes[:7], m.you)
	if s := ansi.Strip(m.status(100)); strings.Contains(s, "invite") {
		t.Errorf("a full room offers the invite: %q", s)
	}
}

func TestIdleWarningAndOwnPace(t *testing.T) {
	m, _, c := newTestModel(t, 80, 24)
	m.Update(Events{{Kind: talk.Warned, Text: "You have typed nothing for a while: hush lets you go in 1m0s unless you type.", Wait: time.Minute}})
	if !strings.Contains(strings.Join(plain(m.Frame()), "\n"), "lets you go in 1m0s") {
		t.Fatalf("no idle warning:\n%s", strings.Join(plain(m.Frame()), "\n"))
	}
	m.Update(keyPress("a"))
	if strings.Contains(strings.Join(plain(m.Frame()), "\n"), "lets you go") {
		t.Fatal("typing did not take the idle warning back")
	}
	linger := m.fade.linger
	m.Update(keyCtrl('f'))
	if m.fade.linger != 2*linger {
		t.Fatalf("ctrl+f: linger %v, want %v", m.fade.linger, 2*linger)
	}
	m.Update(keyCtrl('g'))
	if _, cmd := m.Update(Events{{Kind: talk.Joined, Peer: rooms.Peer{ID: 9}}}); cmd != nil {
		t.Fatal("the bell rang after ctrl+g turned it off")
	}
	m.Update(keyF1())
	if !strings.Contains(strings.Join(plain(m.Frame()), "\n"), "ctrl+f") {
		t.Fatal("f1 shows no help")
	}
	c.t = c.t.Add(time.Second)
	m.Update(keyPress("z")) // closes the help, types nothing
	if strings.Contains(strings.Join(plain(m.Frame()), "\n"), "ctrl+f      fades") {
		t.Fatal("help still showing")
	}
	if strings.Contains(string(m.you.cells[len(m.you.cells)-1].g), "z") {
		t.Fatal("the key that closed the help was typed")
	}
}
