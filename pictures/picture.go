package pictures

import (
	"errors"
	"fmt"
	"image"
	"image/color"

	"golang.org/x/image/draw"
)

// MaxSize is the long side, in pixels, of every Picture.
const MaxSize = 128

// RGB is one opaque colour; its zero value is black, the matte to use
// when the viewers' backgrounds are unknown.
type RGB struct{ R, G, B uint8 }

// Picture is all that is kept of a picture: its upright RGB pixels, row
// by row, 3 bytes each, at most MaxSize on either side.
type Picture struct {
	W, H int
	Pix  []byte
}

// At returns the colour of pixel (x, y).
func (p Picture) At(x, y int) RGB {
	i := 3 * (y*p.W + x)
	return RGB{p.Pix[i], p.Pix[i+1], p.Pix[i+2]}
}

func (p Picture) valid() bool {
	return p.W >= 1 && p.H >= 1 && p.W <= MaxSize && p.H <= MaxSize && len(p.Pix) == 3*p.W*p.H
}

// shrink draws m at most MaxSize on its long side onto matte, then turns
// it upright. Orienting after shrinking touches only the small pixels.
func shrink(m image.Image, orient int, matte RGB) Picture {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if transposed(orient) {
		w, h = h, w
	}
	tw, th := fit(w, h, MaxSize, MaxSize)
	sw, sh := tw, th // the shrunk size still stored sideways
	if transposed(orient) {
		sw, sh = th, tw
	}
	dst := image.NewRGBA(image.Rect(0, 0, sw, sh))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.RGBA{matte.R, matte.G, matte.B, 0xff}), image.Point{}, draw.Src)
	if sw == b.Dx() && sh == b.Dy() {
		draw.Draw(dst, dst.Bounds(), m, b.Min, draw.Over)
	} else {
		draw.CatmullRom.Scale(dst, dst.Bounds(), m, b, draw.Over, nil)
	}
	p := Picture{W: tw, H: th, Pix: make([]byte, 3*tw*th)}
	for y := range th {
		for x := range tw {
			sx, sy := source(orient, x, y, sw, sh)
			s := dst.PixOffset(sx, sy)
			copy(p.Pix[3*(y*tw+x):], dst.Pix[s:s+3])
		}
	}
	return p
}

// fit scales w×h down, keeping its proportions, to at most maxW×maxH, and
// never to less than one pixel a side.
func fit(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	// Compare w/h with maxW/maxH without division.
	if int64(w)*int64(maxH) >= int64(h)*int64(maxW) {
		return maxW, max(1, int((int64(h)*int64(maxW)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(maxH)+int64(h)/2)/int64(h))), maxH
}

// The encoding for sending a Picture between nodes: a version byte, the
// width and the height in one byte each, then the pixels. Its size is at
// most MaxEncoded: 3 + 128×128×3 = 49155 bytes (48 KiB of pixels).
const (
	version    = 1
	header     = 3
	MaxEncoded = header + 3*MaxSize*MaxSize
)

// MarshalBinary encodes p for another node.
func (p Picture) MarshalBinary() ([]byte, error) {
	if !p.valid() {
		return nil, fmt.Errorf("encode picture: invalid %d×%d with %d bytes", p.W, p.H, len(p.Pix))
	}
	b := make([]byte, header, header+len(p.Pix))
	b[0], b[1], b[2] = version, byte(p.W), byte(p.H)
	return append(b, p.Pix...), nil
}

// UnmarshalBinary decodes what MarshalBinary made, checking every size;
// p keeps no reference to b.
func (p *Picture) UnmarshalBinary(b []byte) error {
	if len(b) < header || len(b) > MaxEncoded {
		return fmt.Errorf("decode picture: %d bytes", len(b))
	}
	if b[0] != version {
		return fmt.Errorf("decode picture: version %d", b[0])
	}
	q := Picture{W: int(b[1]), H: int(b[2])}
	q.Pix = append([]byte(nil), b[header:]...)
	if !q.valid() {
		return errors.New("decode picture: size does not match its pixels")
	}
	*p = q
	return nil
}
