package pictures

import (
	"image"

	"golang.org/x/image/draw"
)

// A picture in a terminal is at most this many cells, and at most
// two-thirds of the window either way.
const (
	MaxCols = 40
	MaxRows = 20
)

// Cell is one terminal cell: its upper pixel is the foreground of ▀, its
// lower pixel the background. A blank cell shows the terminal's own
// background.
type Cell struct {
	Top, Bottom RGB
	Blank       bool
}

// Frame is a picture as cells, row by row.
type Frame struct {
	Cols, Rows int
	Cells      []Cell
}

// Fit shrinks p to the cells it takes in a window of cols×rows, keeping
// its proportions (a cell is two pixels high), never enlarging it. It
// reports false when the window has no room for even one cell.
func Fit(p Picture, cols, rows int) (Frame, bool) {
	maxCols, maxRows := min(MaxCols, cols*2/3), min(MaxRows, rows*2/3)
	if !p.valid() || maxCols < 1 || maxRows < 1 {
		return Frame{}, false
	}
	w, h := fit(p.W, p.H, maxCols, 2*maxRows)
	f := Frame{Cols: w, Rows: (h + 1) / 2}
	px := resize(p, f.Cols, 2*f.Rows)
	f.Cells = make([]Cell, f.Cols*f.Rows)
	for r := range f.Rows {
		for c := range f.Cols {
			f.Cells[r*f.Cols+c] = Cell{Top: px.At(c, 2*r), Bottom: px.At(c, 2*r+1)}
		}
	}
	return f, true
}

// resize returns p at w×h pixels.
func resize(p Picture, w, h int) Picture {
	if p.W == w && p.H == h {
		return p
	}
	src := image.NewRGBA(image.Rect(0, 0, p.W, p.H))
	for i := range p.W * p.H {
		copy(src.Pix[4*i:], p.Pix[3*i:3*i+3])
		src.Pix[4*i+3] = 0xff
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	q := Picture{W: w, H: h, Pix: make([]byte, 3*w*h)}
	for i := range w * h {
		copy(q.Pix[3*i:3*i+3], dst.Pix[4*i:])
	}
	return q
}
