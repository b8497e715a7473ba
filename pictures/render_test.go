package pictures

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// known is a 4×4 picture of known colours; as cells it is 4×2.
func known() Picture {
	rows := [4][4]RGB{
		{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}},
		{{255, 0, 0}, {0, 255, 0}, {0, 0, 0}, {255, 255, 255}},
		{{255, 255, 0}, {0, 255, 255}, {255, 0, 255}, {128, 128, 128}},
		{{0, 0, 0}, {0, 0, 0}, {255, 0, 255}, {30, 60, 90}},
	}
	p := Picture{W: 4, H: 4}
	for _, r := range rows {
		for _, c := range r {
			p.Pix = append(p.Pix, c.R, c.G, c.B)
		}
	}
	return p
}

func TestGolden(t *testing.T) {
	f, ok := Fit(known(), 80, 24)
	if !ok || f.Cols != 4 || f.Rows != 2 {
		t.Fatalf("Fit: %d×%d %v, want 4×2", f.Cols, f.Rows, ok)
	}
	var out strings.Builder
	section := func(name string, lines []string) {
		fmt.Fprintf(&out, "# %s\n", name)
		for _, l := range lines {
			fmt.Fprintf(&out, "%s\n", strconv.Quote(l))
		}
	}
	bg := RGB{20, 20, 20}
	for _, prof := range []struct {
		name string
		p    Profile
	}{{"truecolor", TrueColor}, {"256", Colors256}} {
		section(prof.name, f.Lines(prof.p))
		section(prof.name+" veil", f.Veil().Lines(prof.p))
		section(prof.name+" fade 4 of 8 toward 20,20,20", f.Fade(4, 8, bg).Lines(prof.p))
		section(prof.name+" dissolve 4 of 8", f.Dissolve(4, 8).Lines(prof.p))
	}
	golden := filepath.Join("testdata", "halfblock.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pictures -run TestGolden -update to write it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("output differs from %s:\n%s", golden, out.String())
	}
}

func TestPlain(t *testing.T) {
	f, _ := Fit(known(), 80, 24)
	if l := f.Lines(Plain); l != nil {
		t.Errorf("Plain drew %q", l)
	}
	if got := Caption("ana"); got != "[picture from ana]" {
		t.Errorf("Caption = %q", got)
	}
}

func TestFit(t *testing.T) {
	square := Picture{W: 128, H: 128, Pix: make([]byte, 3*128*128)}
	wide := Picture{W: 128, H: 32, Pix: make([]byte, 3*128*32)}
	tall := Picture{W: 10, H: 128, Pix: make([]byte, 3*10*128)}
	tiny := Picture{W: 1, H: 1, Pix: []byte{1, 2, 3}}
	for _, tc := range []struct {
		name       string
		p          Picture
		cols, rows int
		wc, wr     int
		ok         bool
	}{
		{"square 80×24", square, 80, 24, 32, 16, true},    // two-thirds of 24 rows
		{"square 200×60", square, 200, 60, 40, 20, true},  // 40×20 at most
		{"wide 200×60", wide, 200, 60, 40, 5, true},       // 40×10 pixels
		{"wide 30×24", wide, 30, 24, 20, 3, true},         // 20×5 pixels, rounded up
		{"tall 80×24", tall, 80, 24, 3, 16, true},         // 10×128 into 40×32 pixels
		{"tiny", tiny, 80, 24, 1, 1, true},                // never enlarged
		{"window too small", square, 1, 1, 0, 0, false},   // no room
		{"empty picture", Picture{}, 80, 24, 0, 0, false}, // nothing to draw
		{"bad picture", Picture{W: 2, H: 2}, 80, 24, 0, 0, false},
	} {
		f, ok := Fit(tc.p, tc.cols, tc.rows)
		if ok != tc.ok || f.Cols != tc.wc || f.Rows != tc.wr || len(f.Cells) != f.Cols*f.Rows {
			t.Errorf("%s: %d×%d (%d cells) %v, want %d×%d %v", tc.name, f.Cols, f.Rows, len(f.Cells), ok, tc.wc, tc.wr, tc.ok)
		}
	}
}

func TestXterm256(t *testing.T) {
	for c, want := range map[RGB]int{
		{0, 0, 0}: 16, {255, 255, 255}: 231, {255, 0, 0}: 196, {0, 255, 0}: 46,
		{0, 0, 255}: 21, {128, 128, 128}: 244, {95, 135, 175}: 67, {8, 8, 8}: 232,
	} {
		if got := xterm256(c); got != want {
			t.Errorf("xterm256(%v) = %d, want %d", c, got, want)
		}
	}
}

// TestNoRepeatedSGR renders noise, fades and a veil, and checks that
// every SGR changes a colour the terminal is not already using.
func TestNoRepeatedSGR(t *testing.T) {
	f, _ := Fit(noisePicture(128, 128), 200, 60)
	var frames []Frame
	frames = append(frames, f, f.Veil(), f.Dissolve(3, Steps))
	for k := 1; k <= Steps; k++ {
		frames = append(frames, f.Fade(k, Steps, RGB{10, 10, 10}))
	}
	for _, prof := range []Profile{TrueColor, Colors256} {
		for _, fr := range frames {
			for _, l := range fr.Lines(prof) {
				checkSGR(t, l)
			}
		}
	}
}

func checkSGR(t *testing.T, line string) {
	t.Helper()
	fg, bg := "39", "49"
	for rest := line; ; {
		i := strings.Index(rest, "\x1b[")
		if i < 0 {
			return
		}
		j := strings.IndexByte(rest[i:], 'm')
		params := strings.Split(rest[i+2:i+j], ";")
		rest = rest[i+j+1:]
		if len(params) == 1 && params[0] == "" {
			if rest != "" {
				t.Fatalf("reset before the end of %q", line)
			}
			return
		}
		for len(params) > 0 {
			n := 1
			switch params[0] {
			case "38", "48":
				n = 5
				if params[1] == "5" {
					n = 3
				}
			}
			v := strings.Join(params[:n], ";")
			layer := &fg
			if params[0][0] == '4' {
				layer = &bg
			}
			if *layer == v {
				t.Fatalf("SGR %s repeats the colour in use in %q", v, line)
			}
			*layer = v
			params = params[n:]
		}
		if strings.HasPrefix(rest, "\x1b[") {
			t.Fatalf("two SGRs in a row in %q", line)
		}
	}
}

func noisePicture(w, h int) Picture {
	p := Picture{W: w, H: h, Pix: make([]byte, 3*w*h)}
	s := uint64(7)
	for i := range p.Pix {
		s = splitmix(s)
		p.Pix[i] = byte(s)
	}
	return p
}

// TestByteBudget draws one picture's whole life at 80×24 in true colour
// (veil, picture, every fade step) and bounds the bytes sent. Noise is
// the worst case: every cell needs both colours set; 128×102 fills the
// most cells (40×16) two-thirds of the window allows.
func TestByteBudget(t *testing.T) {
	f, _ := Fit(noisePicture(128, 102), 80, 24)
	if f.Cols != 40 || f.Rows != 16 {
		t.Fatalf("Fit: %d×%d, want 40×16", f.Cols, f.Rows)
	}
	size := func(fr Frame) int {
		n := 0
		for _, l := range fr.Lines(TrueColor) {
			n += len(l) + 2 // and a line break
		}
		return n
	}
	blend, dissolve := size(f.Veil())+size(f), size(f.Veil())+size(f)
	for k := 1; k <= Steps; k++ {
		blend += size(f.Fade(k, Steps, RGB{0, 0, 0}))
		dissolve += size(f.Dissolve(k, Steps))
	}
	t.Logf("%d×%d cells: %d bytes fading, %d dissolving", f.Cols, f.Rows, blend, dissolve)
	if blend > 250_000 || dissolve > 250_000 {
		t.Errorf("a picture's life costs %d bytes fading, %d dissolving; at most 250000", blend, dissolve)
	}
}

func TestFadeAndDissolve(t *testing.T) {
	f, _ := Fit(noisePicture(128, 128), 80, 24)
	bg := RGB{40, 50, 60}
	if g := f.Fade(0, Steps, bg); &g.Cells[0] != &f.Cells[0] {
		t.Error("step 0 is not the picture")
	}
	half := f.Fade(Steps/2, Steps, bg)
	c, h := f.Cells[0].Top, half.Cells[0].Top
	if want := blend(c, bg, 1, 2); !near(h, want, 1) {
		t.Errorf("half way: %v from %v, want %v", h, c, want)
	}
	prev := 0
	for k := 0; k <= Steps; k++ {
		d := f.Dissolve(k, Steps)
		blank := 0
		for i, c := range d.Cells {
			if c.Blank {
				blank++
			} else if c != f.Cells[i] {
				t.Fatalf("step %d: a cell changed colour", k)
			}
			if k > 0 && f.Dissolve(k-1, Steps).Cells[i].Blank && !c.Blank {
				t.Fatalf("step %d: a blank cell came back", k)
			}
		}
		if want := len(f.Cells) * k / Steps; blank != want || blank < prev {
			t.Fatalf("step %d: %d blank, want %d", k, blank, want)
		}
		prev = blank
	}
	for _, g := range []Frame{f.Fade(Steps, Steps, bg), f.Dissolve(Steps, Steps), f.Fade(1, 0, bg), f.Dissolve(1, 0)} {
		for _, c := range g.Cells {
			if !c.Blank {
				t.Fatal("a cell remains after the last step")
			}
		}
		for _, l := range g.Lines(TrueColor) {
			if strings.Trim(l, " ") != "" && !strings.Contains(l, "49m") {
				t.Fatalf("last step draws %q", l)
			}
		}
	}
}

func TestVeilHidesDetail(t *testing.T) {
	f, _ := Fit(noisePicture(128, 128), 80, 24)
	colours := map[RGB]bool{}
	for _, c := range f.Veil().Cells {
		if c.Top != c.Bottom {
			t.Fatal("a veiled cell has two colours")
		}
		colours[c.Top] = true
	}
	if len(colours) > VeilCols*VeilRows {
		t.Errorf("the veil shows %d colours, want at most %d", len(colours), VeilCols*VeilRows)
	}
}
