package clean

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func text(s string) string {
	var l Stream
	return l.Text(s)
}

func TestTextRemoves(t *testing.T) {
	var tests []struct{ name, in string }
	add := func(name string, rs ...rune) {
		for _, r := range rs {
			tests = append(tests, struct{ name, in string }{
				fmt.Sprintf("%s U+%04X", name, r), "a" + string(r) + "b",
			})
		}
	}
	for r := rune(0); r < 0x20; r++ {
		if r != 0x1B { // ESC eats the next byte; tested below
			add("C0", r)
		}
	}
	add("DEL", 0x7F)
	for r := rune(0x80); r <= 0x9F; r++ {
		switch r {
		case 0x8E, 0x8F, 0x90, 0x98, 0x9B, 0x9D, 0x9E, 0x9F: // sequences, below
		default:
			add("C1", r)
		}
	}
	add("bidi", 0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
		0x2066, 0x2067, 0x2068, 0x2069)
	add("zero width", 0x200B, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x00AD, 0x180E)
	add("line/para separator", 0x2028, 0x2029)
	add("other Cf", 0x0600, 0x06DD, 0x070F, 0x206A, 0x206F, 0xFFF9, 0xFFFA, 0xFFFB,
		0x13430, 0x1BCA0, 0x1D173, 0xE0001)
	add("unassigned", 0x0378, 0x0590, 0x2FFFD, 0xE0000, 0xE0080, 0xE01F0)
	add("private use", 0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD)
	add("noncharacter", 0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF, 0x1FFFE, 0x1FFFF, 0x10FFFE, 0x10FFFF)
	add("Hangul filler", 0x115F, 0x1160, 0x3164, 0xFFA0)
	add("tag without flag", 0xE0020, 0xE0067, 0xE007F)

	tests = append(tests, []struct{ name, in string }{
		{"invalid UTF-8", "a\xff\xfeb"},
		{"surrogate bytes", "a\xed\xa0\x80b"},
		{"truncated rune", "a\xe4\xb8b"},
		{"overlong", "a\xc0\xafb"},
	}...)

	for _, tc := range tests {
		if got := text(tc.in); got != "ab" {
			t.Errorf("%s: Text(%q) = %q, want %q", tc.name, tc.in, got, "ab")
		}
	}
}

func TestTextSequences(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\x1b]0;pwned\x07", ""},
		{"\x1b]0;pwned\x07ok", "ok"},
		{"\x1b]0;pwned\x1b\\ok", "ok"},
		{"\x1b]0;pwned\u009cok", "ok"},
		{"\x1b]0;pwned", ""},
		{"\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"\x1b[2J", ""},
		{"\x1b[31mred", "red"},
		{"\x1b[38;2;255;0;0mred\x1b[0m", "red"},
		{"\x1b[?1049h", ""},
		{"\x1b[>c", ""},
		{"\x1b[1;1H\x1b[Kx", "x"},
		{"\x1b[", ""},
		{"\x1b[12", ""},
		{"\x1b[3\n1mx", "x"},      // C0 inside CSI is passed over, as a terminal does
		{"\x1b[31\x18mx", "mx"},   // CAN aborts the sequence
		{"\x1b[31\x1b[32mx", "x"}, // ESC starts a new one
		{"\x1b[31é", "é"},
		{"\x1b]52;c;ZXZpbA==\x07", ""},
		{"\x1bP$q\"p\x1b\\", ""},
		{"\x1bPtmux;\x1b\x1b]0;x\x07\x1b\\z", "z"},
		{"\x1b_Gf=100;AAAA\x1b\\", ""},
		{"\x1b^privacy\x1b\\", ""},
		{"\x1bXsos\x1b\\", ""},
		{"\u009b2J", ""},
		{"\u009b31mred", "red"},
		{"\u009d0;pwned\u0007ok", "ok"},
		{"\u0090dcs\u009cok", "ok"},
		{"\u009fapc\u009cok", "ok"},
		{"\u009epm\u009cok", "ok"},
		{"\u0098sos\u009cok", "ok"},
		{"\u008fAx", "x"},
		{"\x1bOAx", "x"},
		{"\x1bNAx", "x"},
		{"\x1bc", ""},        // RIS
		{"\x1b7x\x1b8", "x"}, // save/restore cursor
		{"\x1b(0lqk", "lqk"}, // charset switch dropped, text is just text
		{"\x1b#8", ""},       // DECALN
		{"\x1b %G", ""},
		{"\x1b", ""},
		{"a\x1b", "a"},
		{"\x1b\x1b[2Jx", "x"},
		{"\x1b\nx", "x"},
		{"\x1béx", "éx"},
		{"\x1b\x7fx", "x"},
		{"\u202egnp.exe", "gnp.exe"},
		{"a\b\b\bb", "ab"},
		{"\xff\xfe", ""},
		{"\ufffd", "\ufffd"}, // typed on purpose, it is just a glyph
		{"a\r\nb\tc", "abc"},
	}
	for _, tc := range tests {
		if got := text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTextKeeps(t *testing.T) {
	for _, s := range []string{
		"hello, world! ~`{}|\\",
		" ",
		"漢字かなカナ",
		"한국어 텍스트",
		"مرحبا بالعالم",
		"שָׁלוֹם",
		"नमस्ते क्षत्रिय हिन्दी",
		"Tiếng Việt",
		"ཨོཾ་མ་ཎི་པདྨེ་ཧཱུྃ",
		"😀🎉",
		"👩\u200d💻",               // woman technologist
		"👨\u200d👩\u200d👧\u200d👦", // family
		"🏳️\u200d🌈",              // rainbow flag with VS16
		"🇯🇵🇺🇦",                   // regional indicators
		"👍🏽👋🏿",                   // skin tones
		"🧑🏾\u200d🚀",              // tone + ZWJ
		"🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", // Scotland
		"❤️",
		"1️⃣#️⃣",
		"e\u0301",
		"a\u200cb", // ZWNJ between letters (Persian)
		"ﷺ",        // wide Arabic ligature is a letter
	} {
		if got := text(s); got != s {
			t.Errorf("Text(%q) = %q, want unchanged", s, got)
		}
	}
}

func TestTextSpaces(t *testing.T) {
	for _, r := range []rune{0xA0, 0x1680, 0x2000, 0x2007, 0x200A, 0x202F, 0x205F, 0x3000} {
		in := "a" + string(r) + "b"
		if got := text(in); got != "a b" {
			t.Errorf("Text(%q) = %q, want %q", in, got, "a b")
		}
	}
	// A mark on a mapped space stays on it.
	if got := text("\u00a0\u0301"); got != " \u0301" {
		t.Errorf("got %q", got)
	}
}

func TestTextContext(t *testing.T) {
	zalgo := "Z" + strings.Repeat("\u0336", 20) + "a" + strings.Repeat("\u0489", 20)
	tests := []struct {
		name string
		in   []string // one Text call each; "" means Newline
		want string
	}{
		{"mark at start", []string{"\u0301a"}, "a"},
		{"marks at start", []string{"\u0301\u0302\u20dd"}, ""},
		{"mark after dropped", []string{"\x1b[2J\u0301a"}, "a"},
		{"mark after bidi only", []string{"\u202e\u0301"}, ""},
		{"mark after key", []string{"e", "\u0301"}, "e\u0301"},
		{"mark after break", []string{"e", "", "\u0301"}, "e"},
		{"20 marks cap 4", []string{"a" + strings.Repeat("\u0301", 20)}, "a" + strings.Repeat("\u0301", 4)},
		{"cap across calls", []string{"a", "\u0301\u0301\u0301", "\u0301\u0301\u0301"}, "a" + strings.Repeat("\u0301", 4)},
		{"cap resets on base", []string{zalgo}, "Z" + strings.Repeat("\u0336", 4) + "a" + strings.Repeat("\u0489", 4)},
		{"VS counts as mark", []string{"a\ufe0f\ufe0f\ufe0f\ufe0f\ufe0f"}, "a\ufe0f\ufe0f\ufe0f\ufe0f"},
		{"VS at start", []string{"\ufe0f\U000E0100x"}, "x"},
		{"ZWJ at start", []string{"\u200d\u200cx"}, "x"},
		{"ZWJ after break", []string{"👩", "", "\u200d💻"}, "👩💻"},
		{"ZWJ ZWJ", []string{"👩\u200d\u200d💻"}, "👩\u200d💻"},
		{"ZWJ ZWNJ", []string{"a\u200d\u200c\u200d\u200cb"}, "a\u200db"},
		{"ZWJ typed alone", []string{"👩", "\u200d", "💻"}, "👩\u200d💻"},
		{"tone at start", []string{"🏽👍"}, "👍"},
		{"tone as key", []string{"👍", "🏽"}, "👍🏽"},
		{"tones stacked", []string{"👍", "🏽", "🏽", "🏿"}, "👍🏽"},
		{"family of four", []string{"👨\u200d👩\u200d👧\u200d👦"}, "👨\u200d👩\u200d👧\u200d👦"},
		// An attacker growing one character a joiner at a time: after
		// maxJoins one joiner is dropped and a new character starts, which
		// fades on its own clock.
		{"joins capped", append([]string{"👩"}, slices.Repeat([]string{"\u200d👩"}, 8)...), "👩" + strings.Repeat("\u200d👩", maxJoins) + "👩" + strings.Repeat("\u200d👩", 3)},
		{"joins reset on a new character", []string{"👩" + strings.Repeat("\u200d👩", 4) + "a👩\u200d👩"}, "👩" + strings.Repeat("\u200d👩", 4) + "a👩\u200d👩"},
		{"tags after letter", []string{"a\U000E0067\U000E007F"}, "a"},
		{"tags after ZWJ", []string{"🏴\u200d\U000E0067"}, "🏴\u200d"},
		{"tags capped", []string{"🏴" + strings.Repeat("\U000E0061", 10) + "\U000E007F"}, "🏴" + strings.Repeat("\U000E0061", maxTags) + "\U000E007F"},
		{"nothing after cancel", []string{"🏴\U000E0061\U000E007F\U000E0061\U000E007F"}, "🏴\U000E0061\U000E007F"},
		{"tags typed one by one", []string{"🏴", "\U000E0067", "\U000E0062", "\U000E007F"}, "🏴\U000E0067\U000E0062\U000E007F"},
	}
	for _, tc := range tests {
		var l Stream
		var got strings.Builder
		for _, s := range tc.in {
			if s == "" {
				l.Newline()
				continue
			}
			got.WriteString(l.Text(s))
		}
		if got.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got.String(), tc.want)
		}
	}
}

func TestTextNoAllocWhenClean(t *testing.T) {
	var l Stream
	for _, s := range []string{"a", " ", "hello world", "漢字", "👩\u200d💻", "e\u0301"} {
		if got := l.Text(s); got != s {
			t.Fatalf("Text(%q) = %q", s, got)
		}
		if n := testing.AllocsPerRun(100, func() { l.Text(s) }); n != 0 {
			t.Errorf("Text(%q): %v allocs, want 0", s, n)
		}
	}
}

func TestSafe(t *testing.T) {
	for _, r := range []rune{'a', ' ', '~', 'é', '漢', '😀', 0x0301, 0x200D, 0x200C, 0xFE0F, 0x1F3FB, 0xE0067, 0xE007F, 0x1F1EF, 0xFFFD} {
		if !Safe(r) {
			t.Errorf("Safe(%U) = false", r)
		}
	}
	for _, r := range []rune{0, '\t', '\n', 0x1B, 0x7F, 0x80, 0x9B, 0x9F, 0xA0, 0x3000, 0x2028, 0x202E, 0x2066, 0x200B, 0xFEFF, 0xAD, 0x3164, 0xE000, 0xFDD0, 0xFFFE, 0x10FFFF, 0xD800, -1, 0x110000, utf8.MaxRune + 1} {
		if Safe(r) {
			t.Errorf("Safe(%U) = true", r)
		}
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"alice", 16, "alice"},
		{"  alice  ", 16, "alice"},
		{"al\u00a0\u3000 ice", 16, "al ice"},
		{"ali\nce\r\n", 16, "alice"},
		{"\x1b[31mred\x1b[0m", 16, "red"},
		{"\u202eecila", 16, "ecila"},
		{"\u0301alice", 16, "alice"},
		{" \u0301alice", 16, "alice"},
		{" \u0301 \u0302 x", 16, "x"},
		{"\u3164", 16, ""},
		{"\u200b\u200b", 16, ""},
		{"abcdefgh", 5, "abcde"},
		{"abc defgh", 4, "abc"},
		{"ab👩\u200d💻", 3, "ab"},
		{"ab👩\u200d💻", 5, "ab👩\u200d💻"},
		{"🇯🇵🇺🇦", 3, "🇯🇵"},
		{"ae\u0301", 2, "a"},
		{"e\u0301\u0301\u0301", 2, "e\u0301"},
		{"漢字かな", 2, "漢字"},
		{"alice", 0, ""},
		{"alice", -1, ""},
		{"", 5, ""},
	}
	for _, tc := range tests {
		got := Name(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("Name(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// attacks seed both fuzz targets.
var attacks = []string{
	"", "a", "hello world",
	"\x1b]0;pwned\x07", "\x1b[2J", "\x1b[31mred", "\x1b]52;c;ZXZpbA==\x07",
	"\x1bP$q\"p\x1b\\", "\x1b_Gf=100;AAAA\x1b\\", "\u009b2J", "\u009d0;x\u009c",
	"\u202egnp.exe", "a\b\b\bb", "\xff\xfe", "\u0301a", "e\u0301",
	"a" + strings.Repeat("\u0301", 20), "👩\u200d💻", "🇯🇵", "漢字", "👍🏽",
	"🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
	"\u00a0\u0301 \u200d\u200d", "\x1b", "\x1b[", "\x1b]", "\xc2", "\u3164\u115f",
	"\ufeff\u200b\u2060\u00ad\u2028", "\x1b[3\n1m", "\x1b\x1b\x1b", "  x  ",
}

func checkSafe(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("invalid UTF-8 %q from %q", out, in)
	}
	if len(out) > len(in) {
		t.Fatalf("grew: %q -> %q", in, out)
	}
	for _, r := range out {
		if r < 0x20 || (r >= 0x7F && r <= 0x9F) || !Safe(r) {
			t.Fatalf("unsafe %U in %q from %q", r, out, in)
		}
	}
}

func FuzzLaneText(f *testing.F) {
	for i, s := range attacks {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, in string, split uint8) {
		var l Stream
		out := l.Text(in)
		checkSafe(t, in, out)
		if r, _ := utf8.DecodeRuneInString(out); out != "" && classify(r) != base && r != ' ' {
			t.Fatalf("fresh lane starts with %U: %q from %q", r, out, in)
		}
		var l2 Stream
		if again := l2.Text(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}

		// The same bytes as two keystrokes are just as safe.
		k := 0
		if len(in) > 0 {
			k = int(split) % (len(in) + 1)
		}
		var l3 Stream
		two := l3.Text(in[:k]) + l3.Text(in[k:])
		checkSafe(t, in, two)
		l3.Newline()
		checkSafe(t, in, l3.Text(in))
	})
}

func FuzzName(f *testing.F) {
	for i, s := range attacks {
		f.Add(s, i%20)
	}
	f.Fuzz(func(t *testing.T, in string, limit int) {
		limit %= 64
		out := Name(in, limit)
		checkSafe(t, in, out)
		if utf8.RuneCountInString(out) > max(limit, 0) {
			t.Fatalf("Name(%q, %d) = %q: too long", in, limit, out)
		}
		if strings.TrimSpace(out) != out || strings.Contains(out, "  ") {
			t.Fatalf("Name(%q, %d) = %q: spaces", in, limit, out)
		}
		if again := Name(out, limit); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

func BenchmarkLaneText(b *testing.B) {
	var paste strings.Builder
	for paste.Len() < 1024 {
		paste.WriteString("hello wörld 漢字 👩\u200d💻 🇯🇵 e\u0301 \x1b[31mred\x1b[0m \u202e\u00a0")
	}
	var cleanPaste strings.Builder
	for cleanPaste.Len() < 1024 {
		cleanPaste.WriteString("hello wörld 漢字 👩\u200d💻 🇯🇵 e\u0301 red ")
	}
	for _, bc := range []struct{ name, in string }{
		{"key", "a"},
		{"paste-mixed-1KB", paste.String()},
		{"paste-clean-1KB", cleanPaste.String()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var l Stream
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				l.Text(bc.in)
			}
		})
	}
}
