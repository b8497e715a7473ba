package ui

import (
	"bytes"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
)

// maxPasteBytes bounds what one bracketed paste may buffer, whatever
// --max-paste keeps of it; the rest is read and thrown away.
const maxPasteBytes = 64 << 10

// escWait is how long a lone ESC, or the start of a sequence, waits for
// the rest before it counts as typed as it is: Esc alone leaves the room,
// so an arrow key split across two packets must not look like it.
const escWait = 50 * time.Millisecond

var (
	pasteStart = []byte("\x1b[200~")
	pasteEnd   = []byte("\x1b[201~")
)

// ReadInput decodes what a terminal sends into key presses and pastes and
// hands them to send, until r fails. It stands in for Bubble Tea's own
// reader, which builds a key table of about 138 KB for every program and
// runs two goroutines; this one needs neither. The answer to the
// background colour query becomes a Background; mouse reports, focus
// events and other replies are dropped: hush asks for none.
func ReadInput(r io.Reader, send func(tea.Msg)) error {
	in := &input{send: send}
	in.timer = time.AfterFunc(time.Hour, in.flush)
	in.timer.Stop()
	defer in.timer.Stop()
	// A key is a few bytes; a paste comes in chunks however big this is.
	// The chunk lives as long as the session, so it is small.
	var chunk [256]byte
	for {
		n, err := r.Read(chunk[:])
		in.mu.Lock()
		in.timer.Stop()
		in.buf = append(in.buf, chunk[:n]...)
		if in.decode(err != nil) {
			in.timer.Reset(escWait)
		}
		in.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// asciiKeys are the messages for the printable ASCII keys, ' ' to '~', as
// the decoder makes them, boxed once.
var asciiKeys = func() (keys [0x7f - ' ']tea.Msg) {
	var dec uv.EventDecoder
	for i := range keys {
		_, ev := dec.Decode([]byte{byte(' ' + i)})
		keys[i] = tea.KeyPressMsg(ev.(uv.KeyPressEvent))
	}
	return keys
}()

type input struct {
	send  func(tea.Msg)
	timer *time.Timer

	mu      sync.Mutex
	dec     uv.EventDecoder
	buf     []byte // read but not yet decoded
	paste   []byte
	pasting bool
}

// flush decodes a held sequence as it is, once nothing more came for it.
func (in *input) flush() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.decode(true)
}

// decode sends everything complete in buf and reports whether something
// is held back waiting for the rest.
func (in *input) decode(force bool) (held bool) {
	pending := in.buf
	defer func() { in.buf = in.buf[:copy(in.buf, pending)] }() // keep the rest, at the front
	for len(pending) > 0 {
		if in.pasting {
			end := bytes.Index(pending, pasteEnd)
			body := pending
			if end >= 0 {
				body = pending[:end]
			} else if k := len(pending) - (len(pasteEnd) - 1); k > 0 {
				body = pending[:k] // the tail may be the start of the end marker
			} else {
				return false
			}
			in.paste = append(in.paste, body[:min(len(body), maxPasteBytes-len(in.paste))]...)
			pending = pending[len(body):]
			if end < 0 {
				return false
			}
			pending = pending[len(pasteEnd):]
			in.send(tea.PasteMsg{Content: string(in.paste)})
			in.paste, in.pasting = in.paste[:0], false
			if cap(in.paste) > 4096 {
				in.paste = nil // give back a big paste's memory
			}
			continue
		}
		if c := pending[0]; c >= ' ' && c < 0x7f {
			// A printable ASCII key, nearly every key there is: its
			// message is made once, so typing allocates nothing here.
			in.send(asciiKeys[c-' '])
			pending = pending[1:]
			continue
		}
		if !force && incomplete(pending) {
			return true
		}
		k, ev := in.dec.Decode(pending)
		if k == 0 {
			return false
		}
		pending = pending[k:]
		switch ev := ev.(type) {
		case uv.PasteStartEvent:
			in.pasting = true
		case uv.KeyPressEvent:
			in.send(tea.KeyPressMsg(ev))
		case uv.BackgroundColorEvent:
			in.send(Background{ev.Color})
		}
	}
	return false
}

// incomplete reports whether buf ends in the middle of something the next
// read may finish: a UTF-8 character or an escape sequence split in two.
func incomplete(buf []byte) bool {
	switch {
	case len(buf) > 64:
		return false // nothing legitimate is this long; decode it as it is
	case buf[0] >= utf8.RuneSelf:
		return !utf8.FullRune(buf)
	case buf[0] != 0x1b:
		return false
	case len(buf) == 1:
		return true // Esc, or the start of a sequence
	case buf[1] == 'O':
		return len(buf) < 3
	case buf[1] != '[':
		return false
	}
	for _, b := range buf[2:] {
		if b >= 0x40 && b <= 0x7e {
			return false // the final byte is here
		}
	}
	return true
}
