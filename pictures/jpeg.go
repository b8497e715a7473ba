package pictures

import (
	"bytes"
	"encoding/binary"
)

// What Go's JPEG decoder leaves to us: the EXIF orientation, and a bound
// on progressive scans. Each scan walks every block of the picture, and a
// valid file can hold hundreds of thousands of tiny scans (libjpeg-turbo's
// LJT-01-003): hours of work from 8 MB.

// maxScans is far above the ten or so scans of a real progressive JPEG.
const maxScans = 100

// scans counts the start-of-scan markers in jpg, or more: every FF DA
// pair, even inside a segment, so no scan the decoder could read is
// missed (entropy-coded data never holds FF DA: FF is followed by 00).
func scans(jpg []byte) int {
	return bytes.Count(jpg, []byte{0xff, 0xda})
}

// orientation reads the EXIF orientation (1 to 8) of a JPEG from its first
// APP1 Exif segment, or returns 1 (upright) when there is none or it makes
// no sense. Every offset is checked against the segment it lies in.
func orientation(jpg []byte) int {
	if len(jpg) < 4 || jpg[0] != 0xff || jpg[1] != 0xd8 {
		return 1
	}
	for i := 2; i+4 <= len(jpg); {
		if jpg[i] != 0xff {
			return 1
		}
		marker := jpg[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0xd8 || marker == 0x01 || marker >= 0xd0 && marker <= 0xd7:
			i += 2 // markers without a length
			continue
		case marker == 0xda || marker == 0xd9: // start of scan, end of image
			return 1
		}
		n := int(binary.BigEndian.Uint16(jpg[i+2:]))
		if n < 2 || i+2+n > len(jpg) {
			return 1
		}
		seg := jpg[i+4 : i+2+n]
		if marker == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation finds tag 0x0112 in the first IFD of a TIFF structure.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 1
	}
	count := int64(bo.Uint16(t[ifd:]))
	for e := ifd + 2; e+12 <= int64(len(t)) && e < ifd+2+12*count; e += 12 {
		tag, typ, n := bo.Uint16(t[e:]), bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if tag != 0x0112 {
			continue
		}
		if typ != 3 || n != 1 { // one SHORT, held in the entry itself
			return 1
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// transposed reports whether orientation o swaps width and height.
func transposed(o int) bool { return o >= 5 && o <= 8 }

// source maps pixel (x, y) of the upright picture to the stored pixel it
// shows, for a stored picture of w×h in orientation o.
func source(o, x, y, w, h int) (int, int) {
	switch o {
	case 2: // mirrored
		return w - 1 - x, y
	case 3: // upside down
		return w - 1 - x, h - 1 - y
	case 4: // mirrored upside down
		return x, h - 1 - y
	case 5: // mirrored, turned a quarter anticlockwise
		return y, x
	case 6: // to be turned a quarter clockwise
		return y, h - 1 - x
	case 7:
		return w - 1 - y, h - 1 - x
	case 8: // to be turned a quarter anticlockwise
		return w - 1 - y, x
	}
	return x, y
}
