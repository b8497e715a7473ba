package ui

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
)

// collect runs ReadInput over the given reads and describes what it sent.
func collect(reads ...string) []string {
	var got []string
	r := &chunks{parts: append([]string(nil), reads...)}
	_ = ReadInput(r, func(m tea.Msg) {
		switch m := m.(type) {
		case tea.KeyPressMsg:
			got = append(got, "key:"+m.String())
		case tea.PasteMsg:
			got = append(got, fmt.Sprintf("paste:%q", m.Content))
		default:
			got = append(got, fmt.Sprintf("%T", m))
		}
	})
	return got
}

// chunks is a reader that returns each part in its own Read.
type chunks struct{ parts []string }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func TestReadInput(t *testing.T) {
	for _, tc := range []struct {
		reads []string
		want  string
	}{
		{[]string{"hi"}, "key:h key:i"},
		{[]string{"\x1b"}, "key:esc"}, // decoded once no more came (EOF flushes too)
		{[]string{"\x03", "\x19", "\r", "\x7f"}, "key:ctrl+c key:ctrl+y key:enter key:backspace"},
		{[]string{"\x1b[A\x1b[D"}, "key:up key:left"},
		{[]string{"\x1b[", "A"}, "key:up"},      // a sequence split across reads
		{[]string{"\xe6\x97", "\xa5"}, "key:日"}, // a character split across reads
		{[]string{"\x1b[200~a\nb\x1b[201~c"}, `paste:"a\nb" key:c`},
		{[]string{"\x1b[20", "0~pa", "ste\x1b[2", "01~"}, `paste:"paste"`}, // markers split too
		{[]string{"\x1b[200~\x1bP\x1b]0;x\x07\x1b[201~"}, `paste:"\x1bP\x1b]0;x\a"`},
		{[]string{"\x1b[<0;1;1M", "x"}, "key:x"}, // a mouse report is dropped
	} {
		if got := strings.Join(collect(tc.reads...), " "); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.reads, got, tc.want)
		}
	}
}

func TestReadInputBoundsPaste(t *testing.T) {
	huge := strings.Repeat("x", 3*maxPasteBytes)
	got := collect("\x1b[200~", huge, "\x1b[201~", "!")
	if len(got) != 2 || len(got[0]) != len(`paste:""`)+maxPasteBytes || got[1] != "key:!" {
		t.Fatalf("got %d events, first %d bytes", len(got), len(got[0]))
	}
}

func TestReadInputOneByteAtATime(t *testing.T) {
	var got []string
	in := "ab\x1b[Aé\x1b[200~p\x1b[201~\x1b"
	_ = ReadInput(iotest.OneByteReader(strings.NewReader(in)), func(m tea.Msg) { got = append(got, fmt.Sprint(m)) })
	if want := "a b up é p esc"; strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func FuzzReadInput(f *testing.F) {
	f.Add([]byte("\x1b[200~abc\x1b[201~\x1b[A日"))
	f.Add([]byte("\x1b[\x1b]\x1bP\xff\xfe"))
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = ReadInput(iotest.HalfReader(strings.NewReader(string(in))), func(m tea.Msg) {
			if p, ok := m.(tea.PasteMsg); ok && len(p.Content) > maxPasteBytes {
				t.Fatalf("paste of %d bytes", len(p.Content))
			}
		})
	})
}

// Printable ASCII takes a short cut past the decoder; it must come out as
// the decoder would have made it, alone or among other keys.
func TestASCIIKeysAsTheDecoderMakesThem(t *testing.T) {
	var dec uv.EventDecoder
	for c := byte(' '); c < 0x7f; c++ {
		_, ev := dec.Decode([]byte{c, 'x'})
		if want := tea.KeyPressMsg(ev.(uv.KeyPressEvent)); asciiKeys[c-' '] != want {
			t.Errorf("%q: %#v, the decoder makes %#v", c, asciiKeys[c-' '], want)
		}
	}
}
