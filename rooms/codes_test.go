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

func TestCodesUniqueAfterCounterWidens(t *testing.T) {
	c, _ := NewCodes(testSalt)
	c.next.Store(1<<(63-RandomBits) - 2)
	a, _ := c.New()
	b, _ := c.New()
	for _, code := range []string{a, b} {
		if _, err := c.Parse(code); err != nil {
			t.Fatalf("Parse(%q): %v", code, err)
		}
	}
	if a == b {
		t.Fatal("codes repeat across the counter boundary")
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
