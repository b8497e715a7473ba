// Package picturetest makes small pictures whose colours a test can check
// on a screen: known halves, a gradient.
package picturetest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
)

// Halves is a w×h PNG, its left half red and its right half blue.
func Halves(w, h int) []byte {
	return encode(w, h, func(x int) color.RGBA {
		if x >= w/2 {
			return color.RGBA{0, 0, 0xff, 0xff}
		}
		return color.RGBA{0xff, 0, 0, 0xff}
	})
}

// Gradient is a w×h PNG running from red on the left to blue on the
// right: every column differs, so a veil (blocks of one colour) shows.
func Gradient(w, h int) []byte {
	return encode(w, h, func(x int) color.RGBA {
		v := uint8(x * 255 / max(w-1, 1))
		return color.RGBA{255 - v, 0, v, 0xff}
	})
}

func encode(w, h int, column func(x int) color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, column(x))
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // an in-memory RGBA always encodes
	}
	return b.Bytes()
}
