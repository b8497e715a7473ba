package pictures

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"
)

const sshMax = 8 << 20

func decodeBytes(t testing.TB, b []byte) (Picture, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return New().Decode(ctx, bytes.NewReader(b), sshMax, RGB{})
}

// near reports whether two colours differ by at most tol in each channel
// (JPEG is lossy).
func near(a, b RGB, tol int) bool {
	d := func(x, y uint8) bool { return max(int(x)-int(y), int(y)-int(x)) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func TestDecodeEachFormat(t *testing.T) {
	c := color.NRGBA{200, 40, 90, 255}
	want := RGB{200, 40, 90}
	big := solid(300, 200, c)
	for _, tc := range []struct {
		name string
		data []byte
		tol  int
	}{
		{"png", pngOf(t, big), 0},
		{"jpeg", jpegOf(t, big), 6},
		{"gif", gifOf(t, big), 8},
		{"webp", webpOf(300, 200, c), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := decodeBytes(t, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if p.W != 128 || p.H != 85 || len(p.Pix) != 3*128*85 {
				t.Fatalf("got %d×%d with %d bytes, want 128×85", p.W, p.H, len(p.Pix))
			}
			for _, pt := range []image.Point{{0, 0}, {127, 84}, {64, 40}} {
				if got := p.At(pt.X, pt.Y); !near(got, want, tc.tol) {
					t.Errorf("pixel %v is %v, want %v", pt, got, want)
				}
			}
		})
	}
}

func TestSmallPictureKeepsItsSize(t *testing.T) {
	p, err := decodeBytes(t, pngOf(t, quadrants(6, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if p.W != 6 || p.H != 4 {
		t.Fatalf("got %d×%d, want 6×4", p.W, p.H)
	}
	if got := p.At(5, 3); got != (RGB{255, 255, 255}) {
		t.Errorf("bottom right is %v, want white", got)
	}
}

func TestTransparencyFlattened(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	m.Set(0, 0, color.NRGBA{255, 255, 255, 0})   // clear
	m.Set(1, 0, color.NRGBA{255, 255, 255, 128}) // half
	for _, tc := range []struct {
		matte      RGB
		clear, mid RGB
	}{
		{RGB{}, RGB{}, RGB{128, 128, 128}},
		{RGB{0, 0, 200}, RGB{0, 0, 200}, RGB{128, 128, 228}},
	} {
		p, err := New().Decode(context.Background(), bytes.NewReader(pngOf(t, m)), sshMax, tc.matte)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.At(0, 0); got != tc.clear {
			t.Errorf("matte %v: clear pixel is %v, want %v", tc.matte, got, tc.clear)
		}
		if got := p.At(1, 0); !near(got, tc.mid, 1) {
			t.Errorf("matte %v: half pixel is %v, want %v", tc.matte, got, tc.mid)
		}
	}
}

func TestRefusals(t *testing.T) {
	png := pngOf(t, solid(40, 30, color.White))
	for _, tc := range []struct {
		name string
		data []byte
		is   error
		text string
	}{
		{"empty", nil, ErrFormat, "Only PNG, JPEG, GIF or WebP pictures."},
		{"text", []byte("hello, this is not a picture"), ErrFormat, ""},
		{"bmp", append([]byte("BM"), make([]byte, 60)...), ErrFormat, ""},
		{"tiff", append([]byte("II*\x00"), make([]byte, 60)...), ErrFormat, ""},
		{"riff not webp", []byte("RIFF\x04\x00\x00\x00WAVE"), ErrFormat, ""},
		{"png bomb", pngBomb(t, 100000, 100000), ErrHuge, "That picture is too large (8192 pixels a side and 25 megapixels at most)."},
		{"png wide", pngBomb(t, 8193, 1), ErrHuge, ""},
		{"png 25MP+", pngBomb(t, 5000, 5001), ErrHuge, ""},
		{"png overflow", pngBomb(t, 1<<31-1, 1<<31-1), ErrBroken, ""}, // png refuses it itself
		{"jpeg bomb", jpegBomb(t, 65535, 65535), ErrHuge, ""},
		{"gif bomb", gifBomb(t, 65535, 65535), ErrHuge, ""},
		{"webp bomb", webpBomb(20000, 20000), ErrHuge, ""},
		{"webp lossless bomb", webpOf(16384, 16384, color.NRGBA{1, 2, 3, 255}), ErrHuge, ""},
		{"truncated png", png[:len(png)/2], ErrBroken, "That picture could not be read."},
		{"png header only", png[:8], ErrBroken, ""},
		{"truncated jpeg", jpegOf(t, solid(40, 30, color.White))[:200], ErrBroken, ""},
		{"truncated gif", gifOf(t, solid(40, 30, color.White))[:20], ErrBroken, ""},
		{"truncated webp", webpOf(40, 30, color.NRGBA{1, 2, 3, 255})[:20], ErrBroken, ""},
		{"corrupt png", corrupt(png), ErrBroken, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeBytes(t, tc.data)
			if !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("says %q, want %q", err, tc.text)
			}
		})
	}
}

// corrupt flips bytes in the middle of b, leaving its first bytes.
func corrupt(b []byte) []byte {
	c := bytes.Clone(b)
	for i := len(c) / 2; i < len(c)/2+8 && i < len(c); i++ {
		c[i] ^= 0x5a
	}
	return c
}

func TestTooBig(t *testing.T) {
	data := pngOf(t, noise(64, 64))
	for _, tc := range []struct {
		max  int64
		text string
	}{
		{8 << 20, ""},
		{int64(len(data)), ""},
		{int64(len(data)) - 1, ""},
		{512 << 10, ""},
		{100, "That picture is too big (100 bytes at most)."},
		{1 << 10, "That picture is too big (1 KB at most)."},
	} {
		_, err := New().Decode(context.Background(), bytes.NewReader(data), tc.max, RGB{})
		fits := int64(len(data)) <= tc.max
		if fits && err != nil {
			t.Errorf("max %d: %v", tc.max, err)
		}
		if !fits && !errors.Is(err, ErrTooBig) {
			t.Errorf("max %d: got %v, want too big", tc.max, err)
		}
		if tc.text != "" && (err == nil || err.Error() != tc.text) {
			t.Errorf("max %d: got %v, want %q", tc.max, err, tc.text)
		}
	}
	for max, want := range map[int64]string{8 << 20: "8 MB", 512 << 10: "512 KB", 1000: "1000 bytes"} {
		if got := TooBig(max).Error(); got != "That picture is too big ("+want+" at most)." {
			t.Errorf("TooBig(%d) = %q", max, got)
		}
	}
}

// TestBombCostsNothing decodes pictures whose headers claim billions of
// pixels and checks that next to nothing was allocated.
func TestBombCostsNothing(t *testing.T) {
	d := New()
	for _, b := range [][]byte{
		pngBomb(t, 100000, 100000), jpegBomb(t, 65535, 65535),
		gifBomb(t, 65535, 65535), webpBomb(20000, 20000),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := d.Decode(context.Background(), bytes.NewReader(b), sshMax, RGB{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrHuge) {
			t.Fatalf("got %v, want ErrHuge", err)
		}
		// The JPEG decoder's own state is the largest part.
		n := after.TotalAlloc - before.TotalAlloc
		t.Logf("%q…: %d bytes allocated", b[:4], n)
		if n > 64<<10 {
			t.Errorf("%q…: refusing allocated %d bytes", b[:4], n)
		}
	}
}

func TestPanicIsRefusal(t *testing.T) {
	f, _ := sniff([]byte("\x89PNG\r\n\x1a\n"))
	f.decode = func(io.Reader) (image.Image, error) { panic("a decoder bug") }
	_, err := decode(f, pngOf(t, solid(2, 2, color.White)), RGB{})
	if !errors.Is(err, ErrBroken) || err.Error() != ErrBroken.Error() {
		t.Fatalf("got %v, want ErrBroken", err)
	}
}

// TestTwoAtOnce holds both slots and checks that a third decode waits
// for one, then gives up with its context.
func TestTwoAtOnce(t *testing.T) {
	d := New()
	d.slots <- struct{}{}
	d.slots <- struct{}{}
	data := pngOf(t, solid(4, 4, color.White))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := d.Decode(ctx, bytes.NewReader(data), sshMax, RGB{})
		done <- err
	}()
	<-d.slots // one slot frees: the waiting decode takes it and finishes
	if err := <-done; err != nil {
		t.Fatalf("decode after a slot freed: %v", err)
	}
	d.slots <- struct{}{} // both busy again
	cancel()
	if _, err := d.Decode(ctx, bytes.NewReader(data), sshMax, RGB{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("got %v, want ErrBusy", err)
	}
}

func TestManyAtOnce(t *testing.T) {
	d := New()
	data := jpegOf(t, quadrants(200, 100))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := d.Decode(context.Background(), bytes.NewReader(data), sshMax, RGB{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
