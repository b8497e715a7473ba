package ui

import (
	"image/color"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
)

// Screens that fade alike share one table; a background no screen has
// claimed before gets its own; and however many backgrounds terminals
// claim, the tables kept stay bounded.
func TestFadesAreShared(t *testing.T) {
	fs := NewFades()
	const linger = 5 * time.Second
	black := color.RGBA{0, 0, 0, 0xff}
	a := fs.get(linger, colorprofile.ANSI256, nil)
	if b := fs.get(linger, colorprofile.ANSI256, nil); b != a {
		t.Error("two screens that fade alike got two tables")
	}
	dark := fs.get(linger, colorprofile.ANSI256, black)
	if dark == a {
		t.Error("a screen on black shares the table of one whose background is unknown")
	}
	if again := fs.get(linger, colorprofile.ANSI256, color.Gray{0}); again != dark {
		t.Error("the same background given as another colour type got another table")
	}
	if fs.get(2*linger, colorprofile.ANSI256, nil) == a || fs.get(linger, colorprofile.TrueColor, nil) == a {
		t.Error("another linger or profile shares a table")
	}
	// A private table fades as the shared one does.
	if own := newFader(linger, colorprofile.ANSI256, black); own.style(2, 3) != dark.style(2, 3) || own.steps != dark.steps {
		t.Error("a shared table differs from one built alone")
	}
	for i := range 1000 {
		f := fs.get(linger, colorprofile.TrueColor, color.RGBA{uint8(i), uint8(i >> 8), 7, 0xff})
		if f == nil || f.steps == 0 {
			t.Fatalf("background %d: no table", i)
		}
	}
	if n := len(fs.made); n > maxFades {
		t.Errorf("%d tables kept, want at most %d", n, maxFades)
	}
}
