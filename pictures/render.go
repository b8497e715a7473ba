package pictures

import (
	"strconv"
	"strings"
)

// Profile is what colours a terminal shows.
type Profile int

const (
	Plain     Profile = iota // 16 colours or NO_COLOR: only the Caption
	Colors256                // the xterm cube and greys
	TrueColor                // 24-bit colour
)

// Caption is the line shown instead of a picture where colours are too
// few; name must already be cleaned.
func Caption(name string) string { return "[picture from " + name + "]" }

// Lines renders f as one string per row, each starting from the default
// colours and ending with them restored, so a view can place the rows
// anywhere. An SGR is written only where a colour changes. For Plain
// there is nothing to draw: it returns nil.
func (f Frame) Lines(prof Profile) []string {
	if prof != TrueColor && prof != Colors256 {
		return nil
	}
	lines := make([]string, f.Rows)
	var b strings.Builder
	for r := range f.Rows {
		b.Reset()
		pen := pen{fg: none, bg: none}
		for _, c := range f.Cells[r*f.Cols : (r+1)*f.Cols] {
			top, bottom := inkOf(c.Top, prof), inkOf(c.Bottom, prof)
			switch {
			case c.Blank:
				pen.set(&b, pen.fg, none)
				b.WriteByte(' ')
			case top == bottom:
				pen.set(&b, pen.fg, bottom)
				b.WriteByte(' ')
			default:
				pen.set(&b, top, bottom)
				b.WriteString("▀")
			}
		}
		if pen.fg != none || pen.bg != none {
			b.WriteString("\x1b[m")
		}
		lines[r] = b.String()
	}
	return lines
}

// ink is a colour as a terminal of prof is told it: 1<<24|RGB for true
// colour, the palette index for 256 colours; none is the default colour.
type ink int32

const none ink = -1

func inkOf(c RGB, prof Profile) ink {
	if prof == Colors256 {
		return ink(xterm256(c))
	}
	return ink(1<<24 | int32(c.R)<<16 | int32(c.G)<<8 | int32(c.B))
}

// pen is the colours the terminal is drawing with now.
type pen struct{ fg, bg ink }

// set writes one SGR for whichever of fg and bg change.
func (p *pen) set(b *strings.Builder, fg, bg ink) {
	if fg == p.fg && bg == p.bg {
		return
	}
	b.WriteString("\x1b[")
	sep := false
	if fg != p.fg {
		param(b, 38, fg)
		sep = true
	}
	if bg != p.bg {
		if sep {
			b.WriteByte(';')
		}
		param(b, 48, bg)
	}
	b.WriteByte('m')
	p.fg, p.bg = fg, bg
}

// param writes the SGR parameters setting layer (38 foreground, 48
// background) to k.
func param(b *strings.Builder, layer int, k ink) {
	switch {
	case k == none:
		b.WriteString(strconv.Itoa(layer + 1)) // 39 or 49: default
	case k >= 1<<24:
		b.WriteString(strconv.Itoa(layer))
		b.WriteString(";2;")
		b.WriteString(strconv.Itoa(int(k>>16) & 0xff))
		b.WriteByte(';')
		b.WriteString(strconv.Itoa(int(k>>8) & 0xff))
		b.WriteByte(';')
		b.WriteString(strconv.Itoa(int(k) & 0xff))
	default:
		b.WriteString(strconv.Itoa(layer))
		b.WriteString(";5;")
		b.WriteString(strconv.Itoa(int(k)))
	}
}

// xterm256 is the nearest colour to c among the cube (16–231) and the
// greys (232–255), which hold every colour a 256-colour terminal has
// without depending on how it set its first 16.
func xterm256(c RGB) int {
	cube := [6]int{0, 95, 135, 175, 215, 255} // levels of each channel
	level := func(v uint8) int {
		switch {
		case v < 48:
			return 0
		case v < 115:
			return 1
		}
		return (int(v) - 35) / 40
	}
	r, g, b := level(c.R), level(c.G), level(c.B)
	cubeDist := dist(c, cube[r], cube[g], cube[b])
	avg := (int(c.R) + int(c.G) + int(c.B)) / 3
	grey := min(23, max(0, (avg-3)/10))
	v := 8 + 10*grey
	if dist(c, v, v, v) < cubeDist {
		return 232 + grey
	}
	return 16 + 36*r + 6*g + b
}

func dist(c RGB, r, g, b int) int {
	dr, dg, db := int(c.R)-r, int(c.G)-g, int(c.B)-b
	return dr*dr + dg*dg + db*db
}
