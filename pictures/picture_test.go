package pictures

import (
	"bytes"
	"context"
	"image/color"
	"testing"
)

func TestEncoding(t *testing.T) {
	p := noisePicture(128, 128)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxEncoded || MaxEncoded != 49155 {
		t.Fatalf("128×128 encodes to %d bytes, MaxEncoded %d; want 49155", len(b), MaxEncoded)
	}
	var q Picture
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if q.W != p.W || q.H != p.H || !bytes.Equal(q.Pix, p.Pix) {
		t.Fatal("round trip changed the picture")
	}
	b[header] ^= 0xff
	if q.Pix[0] == b[header] {
		t.Fatal("the decoded picture shares its bytes with the message")
	}
	for name, bad := range map[string][]byte{
		"empty":         nil,
		"header only":   {1, 1, 1},
		"version":       {2, 1, 1, 0, 0, 0},
		"zero width":    {1, 0, 1},
		"too wide":      append([]byte{1, 129, 1}, make([]byte, 3*129)...),
		"short pixels":  {1, 2, 2, 0, 0, 0},
		"extra pixels":  {1, 1, 1, 0, 0, 0, 0},
		"over the size": make([]byte, MaxEncoded+1),
	} {
		if err := q.UnmarshalBinary(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := (Picture{W: 200, H: 1, Pix: make([]byte, 600)}).MarshalBinary(); err == nil {
		t.Error("encoded a picture wider than MaxSize")
	}
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := known().MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 128, 128})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Picture
		if p.UnmarshalBinary(b) != nil {
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzDecode feeds the whole decode path every format, truncations,
// bombs and corruptions; whatever comes in, the answer is a valid small
// Picture or one of the sentences, never a panic.
func FuzzDecode(f *testing.F) {
	c := color.NRGBA{10, 200, 30, 255}
	seeds := [][]byte{
		pngOf(f, quadrants(20, 10)), jpegOf(f, quadrants(20, 10)), gifOf(f, quadrants(20, 10)),
		webpOf(20, 10, c), webpOf(300, 2, c), pngOf(f, noise(6, 6)),
		withOrientation(jpegOf(f, quadrants(16, 8)), 6, "MM"),
		pngBomb(f, 100000, 100000), jpegBomb(f, 65535, 65535), gifBomb(f, 65535, 65535),
		webpBomb(100000, 100000), webpBomb(20000, 20000), webpOf(16384, 16384, c),
		progressive(64, 48, 3), progressive(5000, 5000, maxScans),
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(s[:min(len(s), 16)])
		f.Add(corrupt(s))
	}
	d := New()
	shown := map[string]bool{ErrFormat.Error(): true, ErrHuge.Error(): true, ErrBroken.Error(): true, TooBig(1 << 20).Error(): true}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := d.Decode(context.Background(), bytes.NewReader(b), 1<<20, RGB{})
		if err != nil {
			if !shown[err.Error()] {
				t.Fatalf("refused with %q", err)
			}
			return
		}
		if !p.valid() || max(p.W, p.H) > MaxSize {
			t.Fatalf("invalid picture %d×%d with %d bytes", p.W, p.H, len(p.Pix))
		}
		fr, ok := Fit(p, 80, 24)
		if !ok || fr.Cols > MaxCols || fr.Rows > 16 {
			t.Fatalf("Fit at 80×24: %d×%d %v", fr.Cols, fr.Rows, ok)
		}
		fr.Veil().Lines(TrueColor)
		fr.Dissolve(3, Steps).Lines(Colors256)
	})
}
