package pictures

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

// Pictures made by the tests themselves, in every accepted format, and
// the hostile ones: bombs, truncations, corruptions.

// solid is a w×h picture of one colour.
func solid(w, h int, c color.Color) image.Image {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	return m
}

// noise is a w×h picture of deterministic random colours: the worst case
// for compression and for the bytes a terminal is sent.
func noise(w, h int) image.Image {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	s := uint64(1)
	for i := 0; i < len(m.Pix); i += 4 {
		s = splitmix(s)
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = byte(s), byte(s>>8), byte(s>>16), 255
	}
	return m
}

// quadrants is a w×h picture whose top left is red, top right green,
// bottom left blue and bottom right white.
func quadrants(w, h int) image.Image {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, quadrant(x*2/w, y*2/h))
		}
	}
	return m
}

func quadrant(qx, qy int) color.NRGBA {
	return [2][2]color.NRGBA{
		{{255, 0, 0, 255}, {0, 255, 0, 255}},
		{{0, 0, 255, 255}, {255, 255, 255, 255}},
	}[qy][qx]
}

func pngOf(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifOf(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bits writes a bit stream least significant bit first, as VP8L wants.
type bits struct {
	out []byte
	n   uint
}

func (b *bits) put(v uint32, n uint) {
	for i := range n {
		if b.n%8 == 0 {
			b.out = append(b.out, 0)
		}
		b.out[len(b.out)-1] |= byte(v>>i&1) << (b.n % 8)
		b.n++
	}
}

// webpOf is a lossless WebP of w×h pixels of one colour: every prefix
// code has a single symbol, so the pixels take no bits at all.
func webpOf(w, h int, c color.NRGBA) []byte {
	var b bits
	b.put(0x2f, 8)
	b.put(uint32(w-1), 14)
	b.put(uint32(h-1), 14)
	b.put(1, 1) // alpha used
	b.put(0, 3) // version
	b.put(0, 1) // no transform
	b.put(0, 1) // no colour cache
	b.put(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		b.put(1, 1) // simple code
		b.put(0, 1) // one symbol
		b.put(1, 1) // of 8 bits
		b.put(uint32(sym), 8)
	}
	return riff(chunk("VP8L", b.out))
}

func chunk(id string, data []byte) []byte {
	c := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func riff(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// webpBomb claims w×h in a VP8X header before a 1×1 lossless image.
func webpBomb(w, h int) []byte {
	x := make([]byte, 10)
	x[0] = 1 << 4 // alpha
	put24 := func(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }
	put24(x[4:], w-1)
	put24(x[7:], h-1)
	one := webpOf(1, 1, color.NRGBA{1, 2, 3, 255})
	return riff(chunk("VP8X", x), one[12:])
}

// pngBomb is a 1×1 PNG whose header claims w×h, with a valid checksum.
func pngBomb(t testing.TB, w, h uint32) []byte {
	b := pngOf(t, solid(1, 1, color.White))
	ihdr := b[8+8 : 8+8+13] // after the signature, length and type
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[8+4:8+8+13]))
	return b
}

// jpegBomb is an 8×8 JPEG whose frame header claims w×h.
func jpegBomb(t testing.TB, w, h uint16) []byte {
	b := jpegOf(t, solid(8, 8, color.White))
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 in the JPEG encoder's output")
	}
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// gifBomb is a 1×1 GIF whose screen claims w×h.
func gifBomb(t testing.TB, w, h uint16) []byte {
	b := gifOf(t, solid(1, 1, color.White))
	binary.LittleEndian.PutUint16(b[6:], w)
	binary.LittleEndian.PutUint16(b[8:], h)
	return b
}

// withOrientation puts an APP1 Exif segment saying orientation o right
// after the SOI of jpg, in byte order bo ("II" or "MM").
func withOrientation(jpg []byte, o uint16, bo string) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	tiff := []byte("II*\x00")
	if bo == "MM" {
		order, tiff = binary.BigEndian, []byte("MM\x00*")
	}
	tiff = order.AppendUint32(tiff, 8) // IFD0 right after the header
	tiff = order.AppendUint16(tiff, 2) // two entries
	// An unrelated tag first (ImageWidth, LONG), then the orientation.
	tiff = order.AppendUint16(tiff, 0x0100)
	tiff = order.AppendUint16(tiff, 4)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint32(tiff, 64)
	tiff = order.AppendUint16(tiff, 0x0112)
	tiff = order.AppendUint16(tiff, 3)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint16(tiff, o)
	tiff = order.AppendUint16(tiff, 0)
	tiff = order.AppendUint32(tiff, 0) // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xff, 0xe1}, binary.BigEndian.AppendUint16(nil, uint16(len(seg)+2))...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// progressive is a valid w×h greyscale progressive JPEG with n AC scans,
// each one EOB run over every block.
func progressive(w, h, n int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8})
	b.Write([]byte{0xff, 0xdb, 0, 67, 0})
	b.Write(bytes.Repeat([]byte{1}, 64))
	b.Write([]byte{0xff, 0xc2, 0, 11, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})
	dht := func(class byte, sym byte) {
		b.Write([]byte{0xff, 0xc4, 0, 20, class << 4, 1})
		b.Write(make([]byte, 15))
		b.WriteByte(sym)
	}
	dht(0, 0)
	dht(1, 0xe0)
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	b.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 0, 0})
	b.Write(make([]byte, (blocks+7)/8))
	var acs bytes.Buffer
	{ // one AC scan's entropy data: EOB runs of 32767 until every block is covered
		var acc uint64
		nb := 0
		put := func(v uint64, n int) {
			acc = acc<<n | v
			nb += n
			for nb >= 8 {
				c := byte(acc >> (nb - 8))
				acs.WriteByte(c)
				if c == 0xff {
					acs.WriteByte(0)
				}
				nb -= 8
			}
		}
		for left := blocks; left > 0; left -= 32767 {
			put(0, 1)
			put(1<<14-1, 14)
		}
		if nb > 0 {
			put(1<<(8-nb)-1, 8-nb)
		}
	}
	for range n {
		b.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0})
		b.Write(acs.Bytes())
	}
	b.Write([]byte{0xff, 0xd9})
	return b.Bytes()
}
