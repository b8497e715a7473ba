// Package pictures turns the bytes of a picture someone sent into a few
// small pixels, and those pixels into terminal cells that fade.
//
// What it promises:
//   - Only PNG, JPEG, GIF (its first frame) and still WebP are read, chosen
//     from the first bytes, never from a name; no other format is
//     registered or reachable.
//   - Bounded cost: the input is read up to a limit the caller gives; the
//     dimensions are checked (at most 8192 pixels a side and 25 megapixels)
//     before a single pixel is allocated, so a decompression bomb costs
//     nothing; a JPEG of more than 100 scans, whose every scan walks the
//     whole picture, is refused unread; a decoder panic is a refusal; a
//     Decoder runs at most two decodes at once.
//   - Nothing kept: a Picture holds only RGB pixels at most 128 on the long
//     side, with the EXIF orientation applied and transparency flattened.
//     The original bytes, metadata and full-size pixels are dropped before
//     Decode returns. The package has no state of its own, touches no
//     disk or network and logs nothing.
//   - Cheap to show: a picture takes at most 40×20 terminal cells and
//     two-thirds of the window; its whole life in true colour at 80×24
//     (veil, picture, eight fade steps) is under 250 KB.
//   - Every refusal is an error whose text is the sentence to show the
//     sender.
package pictures
