package pictures_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"time"

	"github.com/hush-chat/hush/pictures"
)

// A picture's life: decoded once where it arrives, sent to other nodes
// as its small pixels, drawn veiled, shown when a viewer asks, faded.
func Example() {
	// A 300×200 PNG, as someone might send it.
	m := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for i := range m.Pix {
		m.Pix[i] = 0xc0
	}
	var sent bytes.Buffer
	_ = png.Encode(&sent, m)

	dec := pictures.New() // one per process
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := dec.Decode(ctx, &sent, 8<<20, pictures.RGB{})
	if err != nil {
		fmt.Println(err) // the sentence to show the sender
		return
	}
	fmt.Printf("kept %d×%d, %d bytes\n", p.W, p.H, len(p.Pix))

	wire, _ := p.MarshalBinary() // to another node
	var q pictures.Picture
	if err := q.UnmarshalBinary(wire); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("sent %d bytes\n", len(wire))

	f, ok := pictures.Fit(q, 80, 24) // an 80×24 terminal
	if !ok {
		fmt.Println(pictures.Caption("ana"))
		return
	}
	veiled := f.Veil().Lines(pictures.TrueColor)
	shown := f.Lines(pictures.TrueColor)
	fmt.Printf("%d×%d cells, veiled then shown: %d and %d lines\n", f.Cols, f.Rows, len(veiled), len(shown))
	bg := pictures.RGB{R: 30, G: 30, B: 30} // the terminal's own background
	for k := 1; k <= pictures.Steps; k++ {
		_ = f.Fade(k, pictures.Steps, bg).Lines(pictures.TrueColor)
	}
	fmt.Println(pictures.Caption("ana"), "where colours are too few")
	// Output:
	// kept 128×85, 32640 bytes
	// sent 32643 bytes
	// 40×14 cells, veiled then shown: 14 and 14 lines
	// [picture from ana] where colours are too few
}
