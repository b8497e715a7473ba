package clean

import (
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Name cleans a display name: same removal rules as a lane, no line breaks,
// runs of spaces squeezed to one, trimmed, and at most max runes, cut between
// grapheme clusters so a flag or a family emoji is never split in half.
func Name(s string, max int) string {
	if max <= 0 {
		return ""
	}
	var l Stream
	t := l.Text(s)
	// Dropping a leading space also orphans the marks that sat on it, and
	// dropping those can expose another space; repeat until nothing moves so
	// that Name(Name(s)) == Name(s).
	for {
		var l Stream
		u := l.Text(squeeze(t))
		if u == t {
			break
		}
		t = u
	}
	return cut(t, max)
}

// squeeze removes leading and trailing spaces and keeps one of each run, so a
// name cannot pad itself to look like someone else or like empty space.
func squeeze(s string) string {
	t := strings.Trim(s, " ")
	if !strings.Contains(t, "  ") {
		return t
	}
	var b strings.Builder
	b.Grow(len(t))
	for i := 0; i < len(t); i++ {
		if t[i] == ' ' && i > 0 && t[i-1] == ' ' {
			continue
		}
		b.WriteByte(t[i])
	}
	return b.String()
}

// cut shortens s to at most max runes on a grapheme boundary. If even the
// first cluster is longer (a base carrying marks), it falls back to runes:
// every prefix of a cleaned string is still clean.
func cut(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	end, runes, state := 0, 0, -1
	for rest := s; rest != ""; {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		runes += utf8.RuneCountInString(c)
		if runes > max {
			break
		}
		end += len(c)
	}
	if end == 0 {
		for i := range s {
			if max == 0 {
				end = i
				break
			}
			max--
		}
	}
	return strings.TrimRight(s[:end], " ")
}
