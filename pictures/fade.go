package pictures

// Steps is how many steps a picture fades in.
const Steps = 8

// Fade returns f at step k of n on its way to bg, the terminal's own
// background: each colour blended k/n of the way. From step n on every
// cell is blank.
func (f Frame) Fade(k, n int, bg RGB) Frame {
	if k <= 0 {
		return f
	}
	g := Frame{Cols: f.Cols, Rows: f.Rows, Cells: make([]Cell, len(f.Cells))}
	for i, c := range f.Cells {
		if k >= n || c.Blank {
			g.Cells[i].Blank = true
			continue
		}
		g.Cells[i] = Cell{Top: blend(c.Top, bg, k, n), Bottom: blend(c.Bottom, bg, k, n)}
	}
	return g
}

func blend(c, bg RGB, k, n int) RGB {
	mix := func(a, b uint8) uint8 { return uint8((int(a)*(n-k) + int(b)*k + n/2) / n) }
	return RGB{mix(c.R, bg.R), mix(c.G, bg.G), mix(c.B, bg.B)}
}

// Dissolve returns f at step k of n when the background is unknown: k/n
// of its cells blank, the same ones at every call, and a cell blank at
// one step stays blank at every later one.
func (f Frame) Dissolve(k, n int) Frame {
	if k <= 0 {
		return f
	}
	g := Frame{Cols: f.Cols, Rows: f.Rows, Cells: make([]Cell, len(f.Cells))}
	blank := len(f.Cells)
	if k < n {
		blank = len(f.Cells) * k / n
	}
	for i, r := range order(len(f.Cells)) {
		g.Cells[i] = f.Cells[i]
		if r < blank {
			g.Cells[i].Blank = true
		}
	}
	return g
}

// order gives each of n cells its turn to vanish: a shuffle of 0..n-1
// from a fixed seed, so every viewer sees the same dissolve.
func order(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	s := uint64(0x9e3779b97f4a7c15)
	for i := n - 1; i > 0; i-- {
		s = splitmix(s)
		j := int(s % uint64(i+1))
		o[i], o[j] = o[j], o[i]
	}
	return o
}

func splitmix(s uint64) uint64 {
	s += 0x9e3779b97f4a7c15
	z := s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// The veil splits a picture into this many blocks across and down, each
// one flat colour: enough to see that a picture is there and roughly its
// colours, too little to see what it shows.
const (
	VeilCols = 4
	VeilRows = 2
)

// Veil returns f smeared into VeilCols×VeilRows blocks of its average
// colours, the same size as f, for showing before a viewer chooses to
// see the picture.
func (f Frame) Veil() Frame {
	g := Frame{Cols: f.Cols, Rows: f.Rows, Cells: make([]Cell, len(f.Cells))}
	for by := range VeilRows {
		r0, r1 := by*f.Rows/VeilRows, (by+1)*f.Rows/VeilRows
		for bx := range VeilCols {
			c0, c1 := bx*f.Cols/VeilCols, (bx+1)*f.Cols/VeilCols
			var sum [3]int
			n := 0
			for r := r0; r < r1; r++ {
				for _, c := range f.Cells[r*f.Cols+c0 : r*f.Cols+c1] {
					for _, p := range [2]RGB{c.Top, c.Bottom} {
						sum[0], sum[1], sum[2] = sum[0]+int(p.R), sum[1]+int(p.G), sum[2]+int(p.B)
						n++
					}
				}
			}
			if n == 0 {
				continue
			}
			avg := RGB{uint8(sum[0] / n), uint8(sum[1] / n), uint8(sum[2] / n)}
			for r := r0; r < r1; r++ {
				for c := c0; c < c1; c++ {
					g.Cells[r*f.Cols+c] = Cell{Top: avg, Bottom: avg}
				}
			}
		}
	}
	return g
}
