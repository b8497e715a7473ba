package pictures

import (
	"errors"
	"image/color"
	"testing"
)

// TestOrientation sends a JPEG whose stored pixels are red top left and
// green top right, under each EXIF orientation, and checks where those
// colours end up once upright.
func TestOrientation(t *testing.T) {
	stored := jpegOf(t, quadrants(32, 16))
	const (
		tl = iota
		tr
		bl
		br
	)
	for _, tc := range []struct {
		o          uint16
		red, green int
		turned     bool // upright it is 16×32
	}{
		{1, tl, tr, false},
		{2, tr, tl, false}, // mirrored
		{3, br, bl, false}, // upside down
		{4, bl, br, false}, // mirrored upside down
		{5, tl, bl, true},  // mirrored, turned anticlockwise
		{6, tr, br, true},  // turned clockwise
		{7, br, tr, true},  // mirrored, turned clockwise
		{8, bl, tl, true},  // turned anticlockwise
	} {
		for _, bo := range []string{"II", "MM"} {
			p, err := decodeBytes(t, withOrientation(stored, tc.o, bo))
			if err != nil {
				t.Fatalf("orientation %d %s: %v", tc.o, bo, err)
			}
			w, h := 32, 16
			if tc.turned {
				w, h = h, w
			}
			if p.W != w || p.H != h {
				t.Fatalf("orientation %d %s: %d×%d, want %d×%d", tc.o, bo, p.W, p.H, w, h)
			}
			centre := func(q int) RGB { return p.At(w/4+q%2*w/2, h/4+q/2*h/2) }
			if got := centre(tc.red); !near(got, RGB{255, 0, 0}, 12) {
				t.Errorf("orientation %d %s: red corner %d is %v", tc.o, bo, tc.red, got)
			}
			if got := centre(tc.green); !near(got, RGB{0, 255, 0}, 12) {
				t.Errorf("orientation %d %s: green corner %d is %v", tc.o, bo, tc.green, got)
			}
		}
	}
}

// TestOrientationShrunk checks a turned picture is shrunk by its upright
// long side.
func TestOrientationShrunk(t *testing.T) {
	p, err := decodeBytes(t, withOrientation(jpegOf(t, solid(400, 100, color.White)), 6, "MM"))
	if err != nil {
		t.Fatal(err)
	}
	if p.W != 32 || p.H != 128 {
		t.Fatalf("got %d×%d, want 32×128", p.W, p.H)
	}
}

func TestOrientationIgnoresNonsense(t *testing.T) {
	jpg := jpegOf(t, solid(8, 8, color.White))
	for name, b := range map[string][]byte{
		"none":          jpg,
		"zero":          withOrientation(jpg, 0, "II"),
		"nine":          withOrientation(jpg, 9, "MM"),
		"not a jpeg":    []byte("\x89PNG"),
		"short segment": {0xff, 0xd8, 0xff, 0xe1, 0x00, 0x01},
		"long segment":  {0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x', 'i', 'f', 0, 0},
		"bad tiff":      {0xff, 0xd8, 0xff, 0xe1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', '*', 0, 0xff, 0xff, 0xff, 0x7f},
	} {
		if o := orientation(b); o != 1 {
			t.Errorf("%s: orientation %d, want 1", name, o)
		}
	}
	if o := orientation(withOrientation(jpg, 8, "II")); o != 8 {
		t.Errorf("orientation %d, want 8", o)
	}
}

func FuzzOrientation(f *testing.F) {
	jpg := jpegOf(f, solid(8, 8, color.White))
	for o := range uint16(10) {
		f.Add(withOrientation(jpg, o, "II"))
		f.Add(withOrientation(jpg, o, "MM")[:40])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := orientation(b); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

// TestManyScansRefused sends genuine progressive JPEGs: with a few scans
// they are read; with more than maxScans they are refused before
// decoding (2000 scans at 5000×5000, 137 KB, kept Go's decoder busy for
// 18 s when measured once on a shared 2-core machine).
func TestManyScansRefused(t *testing.T) {
	for _, n := range []int{1, 10, maxScans - 1} {
		p, err := decodeBytes(t, progressive(64, 48, n))
		if err != nil {
			t.Fatalf("%d scans: %v", n, err)
		}
		if p.W != 64 || p.H != 48 {
			t.Fatalf("%d scans: %d×%d, want 64×48", n, p.W, p.H)
		}
	}
	for _, n := range []int{maxScans, 2000} {
		if _, err := decodeBytes(t, progressive(5000, 5000, n)); !errors.Is(err, ErrBroken) {
			t.Fatalf("%d scans: got %v, want ErrBroken", n, err)
		}
	}
}
