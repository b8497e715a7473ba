package rooms

import (
	"strings"
	"testing"
)

const testSalt = "test-salt-0123456789abcdef"

func TestCodesRoundTrip(t *testing.T) {
	c, err := NewCodes(testSalt)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 2000 {
		code, err := c.New()
		if err != nil {
			t.Fatal(err)
		}
		if seen[code] {
			t.Fatalf("code %q issued twice", code)
		}
		seen[code] = true
		for _, r := range code {
			if !strings.ContainsRune(Alphabet, r) {
				t.Fatalf("code %q has %q outside the alphabet", code, r)
			}
		}
		got, err := c.Parse(strings.ToUpper(code))
		if err != nil || got != code {
			t.Fatalf("Parse(upper %q) = %q, %v", code, got, err)
		}
	}
}

func TestCodesRejectsJunk(t *testing.T) {
	c, _ := NewCodes(testSalt)
	for _, s := range []string{"", "new", "aaaaaaaaaa", "0o1li", "ssh", strings.Repeat("a", 200), "k7dm2q9x\x1b[2J", "ab cd"} {
		if got, err := c.Parse(s); err == nil {
			t.Errorf("Parse(%q) = %q, want error", s, got)
		}
	}
}

// The whole code is random: New draws randomBits bits and nothing else, so
// the smallest and largest values must round-trip like any other.
func TestCodesExtremes(t *testing.T) {
	c, _ := NewCodes(testSalt)
	for _, n := range []int64{0, 1, 1<<randomBits - 1} {
		code, err := c.h.EncodeInt64([]int64{n})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Parse(code); err != nil || got != code {
			t.Errorf("Parse(%q) (the code for %d) = %q, %v", code, n, got, err)
		}
	}
}

// Code length: the doc comment on randomBits promises what is checked here.
// hashids writes a number in base 21 (what is left of Alphabet after
// separators and guards) after a one-letter lottery, and pads only up to
// MinLength (10). 48 bits need up to 11 base-21 digits, so a code is 12
// characters for most values, 11 below 21^10 (about 1 in 16) and 10 below
// 21^9 (about 1 in 350): codes do not all have the same length.
func TestCodesLength(t *testing.T) {
	c, _ := NewCodes(testSalt)
	longest, _ := c.h.EncodeInt64([]int64{1<<randomBits - 1})
	if len(longest) != codeLen {
		t.Fatalf("the largest %d-bit value encodes in %d characters, codeLen is %d", randomBits, len(longest), codeLen)
	}
	for _, n := range []int64{0, 1, 1 << 20, 1<<randomBits - 1} {
		if code, _ := c.h.EncodeInt64([]int64{n}); len(code) != codeLen {
			t.Fatalf("%d encodes as %q", n, code)
		}
	}
	for range 2000 {
		code, err := c.New()
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != codeLen {
			t.Fatalf("code %q has %d characters, want %d", code, len(code), codeLen)
		}
	}
}

func FuzzParse(f *testing.F) {
	c, _ := NewCodes(testSalt)
	good, _ := c.New()
	for _, s := range []string{"", good, strings.ToUpper(good), "new", "\xff\xfe", "a\x00b", "zzzzzzzzzzzzzzzzzz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := c.Parse(s)
		if err != nil {
			return
		}
		if code != strings.ToLower(s) {
			t.Fatalf("Parse(%q) = %q", s, code)
		}
		if again, err := c.Parse(code); err != nil || again != code {
			t.Fatalf("re-Parse(%q) = %q, %v", code, again, err)
		}
	})
}

func TestGroupedCodesParseBack(t *testing.T) {
	c, _ := NewCodes(testSalt)
	code, err := c.New()
	if err != nil {
		t.Fatal(err)
	}
	g := Grouped(code)
	if len(g) != codeLen+codeLen/groupOf-1 || strings.Count(g, "-") != codeLen/groupOf-1 {
		t.Fatalf("Grouped(%q) = %q", code, g)
	}
	for _, typed := range []string{g, strings.ToUpper(g), code, strings.ToUpper(code), strings.ReplaceAll(g, "-", "--")} {
		if got, err := c.Parse(typed); err != nil || got != code {
			t.Errorf("Parse(%q) = %q, %v", typed, got, err)
		}
	}
}
