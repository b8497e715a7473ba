package e2e

// What one person types must never reach into another's terminal.

import (
	"bytes"
	"fmt"
	"github.com/charmbracelet/x/ansi"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/app"
)

// attacks are what a hostile participant might type or paste to reach
// into someone else's terminal.
var attacks = []string{
	"\x1b]0;pwned\x07",                     // window title
	"\x1b]2;pwned\x1b\\",                   // title, ST-terminated
	"\x1b[2J\x1b[H",                        // clear screen, home
	"\x1b[10;10Hmoved",                     // cursor move
	"abc\b\b\bXYZ",                         // backspace run
	"\x7f\x7f\x7f",                         // DEL
	"\x1b]52;c;ZXZpbA==\x07",               // OSC 52 clipboard write
	"\x1b[?1000h\x1b[?1006h",               // mouse reporting
	"\x1b[?1049l",                          // leave the alternate screen
	"\x1bPq#0;2;0;0;0#1;2;100;100;0\x1b\\", // DCS (sixel)
	"\x1b_Gf=100;AAAA\x1b\\",               // APC (kitty graphics)
	"\u009b2J\u009d0;c1title\u009c",        // C1 CSI and OSC
	"\u202egnp.exe",                        // right-to-left override
	"\u2066\u2067\u2068\u2069\u200e\u200f", // bidi isolates and marks
	"\u0301\u0301\u0301",                   // combining marks with nothing to sit on
	"\xff\xfe\xc0\xaf",                     // invalid UTF-8
	"\x07\x07\x07",                         // bells
	"\x1b]8;;https://evil.test\x1b\\link\x1b]8;;\x1b\\", // hyperlink
	"e" + strings.Repeat("\u0301", 50),                  // zalgo
}

// junk is n bytes of seeded noise: every byte value, no structure.
func junk(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

func TestInjectionNeverReachesThePeer(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 30 * time.Second; c.KeyBurst = 100000 })
	alice, bob, _ := openPair(t, s.Addr())
	before := alice.State()
	header := alice.Lines()[0]

	for i, attack := range attacks {
		bob.Paste(attack)
		bob.Type("\r")
		// Typed, the same bytes arrive as keys; only the ones that would
		// end bob's own session are left out.
		bob.Type(strings.NewReplacer("\x1b", "", "\x03", "", "\x04", "").Replace(attack))
		bob.Type(fmt.Sprintf("\r#%d\r", i))
		alice.WaitText(fmt.Sprintf("#%d", i))
	}
	for seed := range uint64(3) {
		// An unterminated DCS or OSC in the noise (ESC P, or a bare C1 byte)
		// holds bob's own input parser until a terminator comes, which says
		// nothing about what reaches alice: so the noise ends with one.
		bob.Paste(strings.ReplaceAll(junk(10<<10, seed), "\x1b[201~", "") + "\x1b\\")
		bob.Type("\rEND" + fmt.Sprint(seed) + "\r")
		alice.WaitText("END" + fmt.Sprint(seed))
	}

	after := alice.State()
	if after.Title != "" {
		t.Errorf("title changed to %q", after.Title)
	}
	if after.Bells != before.Bells {
		t.Errorf("%d bells rang", after.Bells-before.Bells)
	}
	if !slices.Equal(after.Modes, before.Modes) {
		t.Errorf("terminal modes changed: %v → %v", before.Modes, after.Modes)
	}
	// The server's own question for the background colour (OSC 11) is the
	// one OSC alice's terminal may see; nothing the attacker sent is.
	raw := bytes.ReplaceAll(alice.Raw(), []byte(ansi.RequestBackgroundColor), nil)
	for _, bad := range []string{"\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\u009b", "\u009d", "\u202e", "\u2066", "\x08", "\x7f", "\x1b[?1000h", "\x1b[?1049l"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("alice's terminal was sent %q", bad)
		}
	}
	if n := bytes.Count(raw, []byte("\x07")); n != before.Bells {
		t.Errorf("alice's terminal was sent %d BEL bytes, want only the join bell", n)
	}
	lines := alice.Lines()
	if lines[0] != header {
		t.Errorf("header rewritten: %q → %q", header, lines[0])
	}
	you := lineOf(alice, "· you")
	if you < 0 || !strings.Contains(lines[len(lines)-1], "esc leaves") && !strings.Contains(lines[len(lines)-1], "joined") {
		t.Fatalf("alice's own lane or status line is gone:\n%s", alice.Screen())
	}
	for _, l := range lines[you+1 : len(lines)-1] {
		if strings.TrimSpace(l) != "" {
			t.Errorf("text appeared in alice's own lane: %q", l)
		}
	}
	if x, y := alice.Cursor(); y != you+1 || x != 2 {
		t.Errorf("cursor at %d,%d, want the start of alice's lane at 2,%d", x, y, you+1)
	}
	if bob.Screen() == "" {
		t.Fatal("bob's screen is empty")
	}
	select {
	case <-bob.Done():
		t.Fatal("bob was disconnected for pasting")
	default:
	}
}
