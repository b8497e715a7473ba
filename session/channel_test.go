package session

import (
	"bytes"
	"testing"
)

func TestCRLF(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"one\n":           "one\r\n",
		"one\r\ntwo\n":    "one\r\ntwo\r\n",
		"\n\n":            "\r\n\r\n",
		"no line ending":  "no line ending",
		"\r\n\r\r\nthree": "\r\n\r\r\nthree",
	} {
		var b bytes.Buffer
		n, err := crlf{&b}.Write([]byte(in))
		if err != nil || n != len(in) || b.String() != want {
			t.Errorf("crlf(%q) = %q, %d, %v; want %q, %d", in, b.String(), n, err, want, len(in))
		}
	}
}
