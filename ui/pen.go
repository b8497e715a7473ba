package ui

import (
	"image/color"
	"strconv"

	"github.com/charmbracelet/x/ansi"
)

// Nothing else is ever set, so a blank looks the same in any pen.
type pen struct {
	attr uint8
	kind uint8 // fgDefault, fgBasic (c[0] is 0–15), fgIndexed (c[0]), fgRGB
	c    [3]uint8
}

const (
	penBold uint8 = 1 << iota
	penFaint
)

const (
	fgDefault uint8 = iota
	fgBasic
	fgIndexed
	fgRGB
)

// penOf is the pen for attributes attr and foreground c, as the colour
// profile converted it (nil: the terminal's own).
func penOf(attr uint8, c color.Color) pen {
	p := pen{attr: attr}
	switch c := c.(type) {
	case nil:
	case ansi.BasicColor:
		if c < 16 {
			p.kind, p.c[0] = fgBasic, uint8(c)
		}
	case ansi.IndexedColor:
		p.kind, p.c[0] = fgIndexed, uint8(c)
	default:
		r, g, b, _ := c.RGBA()
		p.kind, p.c = fgRGB, [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
	}
	return p
}

// appendFg appends the SGR parameters that set p's foreground, as
// ansi.Style writes them.
func (p pen) appendFg(b []byte) []byte {
	switch p.kind {
	case fgBasic:
		if p.c[0] < 8 {
			return strconv.AppendUint(b, 30+uint64(p.c[0]), 10)
		}
		return strconv.AppendUint(b, 90+uint64(p.c[0]-8), 10)
	case fgIndexed:
		b = append(b, "38;5;"...)
		return strconv.AppendUint(b, uint64(p.c[0]), 10)
	case fgRGB:
		b = append(b, "38;2;"...)
		b = strconv.AppendUint(b, uint64(p.c[0]), 10)
		b = append(b, ';')
		b = strconv.AppendUint(b, uint64(p.c[1]), 10)
		b = append(b, ';')
		return strconv.AppendUint(b, uint64(p.c[2]), 10)
	}
	return append(b, "39"...)
}

// appendSGR sets pen p on a terminal whose pen is cur (known) or unknown
// (!known), with as few parameters as it takes. It appends nothing when
// the pen is already p.
func appendSGR(b []byte, cur pen, known bool, p pen) []byte {
	if known && cur == p {
		return b
	}
	b = append(b, "\x1b["...)
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ';')
		}
	}
	switch {
	case !known:
		b = append(b, '0')
		cur = pen{}
	case cur.attr&^p.attr != 0: // bold or faint to drop: 22 drops both
		b = append(b, "22"...)
		cur.attr = 0
	}
	if add := p.attr &^ cur.attr; add != 0 {
		if add&penBold != 0 {
			sep()
			b = append(b, '1')
		}
		if add&penFaint != 0 {
			sep()
			b = append(b, '2')
		}
	}
	if p.kind != cur.kind || p.c != cur.c {
		sep()
		b = p.appendFg(b)
	}
	return append(b, 'm')
}
