package pictures

import (
	"fmt"
	"image/color"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// TestTerminalShowsCells draws frames in a terminal emulator and reads
// every cell back: ▀ in the top colour over the bottom one, a space in
// one colour, or the terminal's own background where a cell is blank.
func TestTerminalShowsCells(t *testing.T) {
	f, _ := Fit(noisePicture(128, 102), 80, 24)
	flat := Frame{Cols: 2, Rows: 1, Cells: []Cell{{Top: RGB{9, 9, 9}, Bottom: RGB{9, 9, 9}}, {Blank: true}}}
	for _, prof := range []Profile{TrueColor, Colors256} {
		for name, fr := range map[string]Frame{
			"picture": f, "veil": f.Veil(), "fade": f.Fade(5, Steps, RGB{3, 4, 5}),
			"dissolve": f.Dissolve(5, Steps), "flat": flat,
		} {
			e := vt.NewEmulator(80, 24) // nothing drawn asks it a question: no reader needed
			for r, l := range fr.Lines(prof) {
				fmt.Fprintf(e, "\x1b[%d;3H%sx", r+2, l) // from row 2, column 3
			}
			for r := range fr.Rows {
				for c := range fr.Cols {
					want := fr.Cells[r*fr.Cols+c]
					got := e.CellAt(c+2, r+1)
					where := fmt.Sprintf("profile %d %s cell %d,%d", prof, name, c, r)
					switch {
					case want.Blank:
						if got.Content != " " || got.Style.Bg != nil {
							t.Fatalf("%s: %q on %v, want a blank", where, got.Content, got.Style.Bg)
						}
					case inkOf(want.Top, prof) == inkOf(want.Bottom, prof):
						if got.Content != " " || !same(got.Style.Bg, want.Bottom, prof) {
							t.Fatalf("%s: %q on %v, want a space on %v", where, got.Content, got.Style.Bg, want.Bottom)
						}
					default:
						if got.Content != "▀" || !same(got.Style.Fg, want.Top, prof) || !same(got.Style.Bg, want.Bottom, prof) {
							t.Fatalf("%s: %q in %v on %v, want ▀ in %v on %v", where, got.Content, got.Style.Fg, got.Style.Bg, want.Top, want.Bottom)
						}
					}
				}
				if after := e.CellAt(fr.Cols+2, r+1); after.Content != "x" || after.Style.Bg != nil || after.Style.Fg != nil {
					t.Fatalf("profile %d %s: colours left on after row %d", prof, name, r)
				}
			}
		}
	}
}

// same reports whether the terminal's colour got is c as prof sends it.
func same(got color.Color, c RGB, prof Profile) bool {
	if got == nil {
		return false
	}
	if prof == Colors256 {
		i, ok := got.(ansi.IndexedColor)
		return ok && int(i) == xterm256(c)
	}
	r, g, b, _ := got.RGBA()
	return uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(b>>8) == c.B
}
