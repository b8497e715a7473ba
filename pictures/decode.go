package pictures

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Bounds on what is decoded at all, checked from the header alone.
const (
	MaxSide   = 8192       // pixels on either side
	MaxPixels = 25_000_000 // width × height
	// decodes is how many pictures one Decoder decodes at once. Each
	// holds its full-size image while it lasts: at MaxPixels, 100 MB of
	// RGBA, 200 MB for a 16-bit PNG, and a progressive JPEG adds 4 bytes
	// a pixel per colour component (about 400 MB for colour, 520 MB for
	// CMYK); the shrinking adds 20 MB.
	decodes = 2
)

// Refusals whose text is shown to the sender as it is.
var (
	ErrFormat = errors.New("Only PNG, JPEG, GIF or WebP pictures.")
	ErrHuge   = errors.New("That picture is too large (8192 pixels a side and 25 megapixels at most).")
	ErrBroken = errors.New("That picture could not be read.")
	ErrBusy   = errors.New("Too many pictures at once; try again in a moment.")
	// ErrTooBig matches every refusal made by TooBig, whose text says the
	// limit.
	ErrTooBig = errors.New("That picture is too big.")
)

// refusal is a sentence to show with the cause behind it, for errors.Is
// and for logs that must not carry the picture itself.
type refusal struct {
	shown error
	cause error
}

func (r refusal) Error() string   { return r.shown.Error() }
func (r refusal) Unwrap() []error { return []error{r.shown, r.cause} }

// TooBig is the refusal for input over max bytes.
func TooBig(max int64) error {
	return refusal{fmt.Errorf("That picture is too big (%s at most).", size(max)), ErrTooBig}
}

// size says max in the largest unit (of 1024) that divides it evenly.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Decoder decodes pictures, at most two at once; share one per process.
type Decoder struct {
	slots chan struct{}
}

// New returns a Decoder.
func New() *Decoder {
	return &Decoder{slots: make(chan struct{}, decodes)}
}

// format is the decoder of one accepted kind of file.
type format struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

const sniffLen = 12 // enough for every magic number in sniff

// sniff chooses the format from the first bytes.
func sniff(b []byte) (format, bool) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return format{png.DecodeConfig, png.Decode}, true
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return format{jpeg.DecodeConfig, jpeg.Decode}, true
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return format{gif.DecodeConfig, gif.Decode}, true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return format{webp.DecodeConfig, webp.Decode}, true
	}
	return format{}, false
}

// Decode reads one picture from r, at most maxBytes of it, and returns it
// shrunk to at most MaxSize on the long side, upright, flattened onto
// matte. r is read before a decoding slot is taken, so a slow sender
// holds none; the caller bounds the time r may take. If both slots are
// busy Decode waits for one until ctx is done.
func (d *Decoder) Decode(ctx context.Context, r io.Reader, maxBytes int64, matte RGB) (Picture, error) {
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Picture{}, refusal{ErrBroken, fmt.Errorf("read: %w", err)}
	}
	head = head[:n]
	f, ok := sniff(head)
	if !ok {
		return Picture{}, ErrFormat
	}
	if int64(n) > maxBytes {
		return Picture{}, TooBig(maxBytes)
	}
	buf := bytes.NewBuffer(head)
	if _, err := buf.ReadFrom(io.LimitReader(r, maxBytes-int64(n)+1)); err != nil {
		return Picture{}, refusal{ErrBroken, fmt.Errorf("read: %w", err)}
	}
	if int64(buf.Len()) > maxBytes {
		return Picture{}, TooBig(maxBytes)
	}
	data := buf.Bytes()

	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return Picture{}, refusal{ErrBusy, ctx.Err()}
	}
	defer func() { <-d.slots }()
	return decode(f, data, matte)
}

// decode checks the dimensions, then decodes, orients and shrinks. A
// panic in a decoder is a refusal, not a crash.
func decode(f format, data []byte, matte RGB) (p Picture, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = Picture{}, refusal{ErrBroken, fmt.Errorf("decoder panic: %v", v)}
		}
	}()
	c, err := f.config(bytes.NewReader(data))
	if err != nil {
		return Picture{}, refusal{ErrBroken, fmt.Errorf("config: %w", err)}
	}
	if err := checkSize(c.Width, c.Height); err != nil {
		return Picture{}, err
	}
	orient := 1
	if data[0] == 0xff { // JPEG
		if n := scans(data); n > maxScans {
			return Picture{}, refusal{ErrBroken, fmt.Errorf("%d scans", n)}
		}
		orient = orientation(data)
	}
	m, err := f.decode(bytes.NewReader(data))
	if err != nil {
		return Picture{}, refusal{ErrBroken, fmt.Errorf("decode: %w", err)}
	}
	b := m.Bounds()
	if err := checkSize(b.Dx(), b.Dy()); err != nil {
		return Picture{}, err
	}
	return shrink(m, orient, matte), nil
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return refusal{ErrBroken, fmt.Errorf("empty picture %d×%d", w, h)}
	}
	if w > MaxSide || h > MaxSide || int64(w)*int64(h) > MaxPixels {
		return refusal{ErrHuge, fmt.Errorf("%d×%d", w, h)}
	}
	return nil
}
