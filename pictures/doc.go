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
//     nothing; a decoder panic is a refusal; a Decoder runs at most two
//     decodes at once.
//   - Nothing kept: a Picture holds only RGB pixels at most 128 on the long
//     side, with the EXIF orientation applied and transparency flattened.
//     The original bytes, metadata and full-size pixels are dropped before
//     Decode returns. The package has no state, touches no disk or network
//     and logs nothing.
//   - Every refusal is an error whose text is the sentence to show the
//     sender.
package pictures
