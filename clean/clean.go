// Package clean filters text typed by one stranger before it is drawn in
// other people's terminals. Anything that could move the cursor, talk to the
// terminal, hide itself, reorder text or pile up over neighbouring cells is
// removed; ordinary writing in any script, and emoji, pass through untouched.
package clean

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	zwnj     = '\u200C'
	zwj      = '\u200D'
	blackFlg = '\U0001F3F4'
	tagFirst = '\U000E0020'
	tagLast  = '\U000E007F' // CANCEL TAG ends a tag sequence

	// maxMarks keeps real text (Vietnamese, Hebrew points, Devanagari,
	// keycaps) while stopping "zalgo" towers that spill into other lines.
	maxMarks = 4
	// maxTags fits every subdivision flag (two letters + up to three more).
	maxTags = 6
	// maxJoins fits the longest emoji ZWJ sequences (a family of four has
	// three) and stops a character that grows one joiner at a time, forever.
	maxJoins = 4
)

// Stream filters what one person types, in order: whether a joiner or a
// combining mark is kept depends on what came before it. The zero value is
// a stream at the start of a line.
type Stream struct {
	prev  rune  // last rune kept since the start or Newline; 0 if none
	marks uint8 // combining marks stacked on the current base
	tags  uint8 // tag characters since the black flag
	joins uint8 // joiners in the current character
}

// Newline tells the stream a new line started: a combining mark or joiner
// after it has nothing to attach to.
func (l *Stream) Newline() { *l = Stream{} }

// kind is what a rune is to the filter.
type kind uint8

const (
	drop     kind = iota
	base          // visible on its own
	space         // any Zs; always drawn as U+0020 so widths agree
	mark          // Mn/Me (includes variation selectors): needs a base, capped
	joiner        // ZWJ/ZWNJ: needs a base, never doubled
	tag           // emoji tag: only inside a black-flag sequence
	modifier      // emoji skin tone: needs a base
)

func classify(r rune) kind {
	switch {
	case r < utf8.RuneSelf:
		if r == ' ' {
			return space
		}
		if r > ' ' && r < 0x7F {
			return base
		}
		return drop
	case r == zwj || r == zwnj:
		return joiner
	case r >= tagFirst && r <= tagLast:
		return tag
	case r >= 0x1F3FB && r <= 0x1F3FF:
		return modifier
	// Hangul fillers are letters that draw as nothing: invisible name tricks.
	case r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0:
		return drop
	case unicode.In(r, unicode.Mn, unicode.Me):
		return mark
	case unicode.Is(unicode.Zs, r):
		return space
	// IsGraphic leaves out Cc, Cf (bidi, zero-width, BOM, soft hyphen, ...),
	// Zl/Zp, private use, surrogates, noncharacters and unassigned code points.
	case unicode.IsGraphic(r):
		return base
	}
	return drop
}

// Safe reports whether r may ever reach another terminal. It is the stateless
// part of the rules, so it admits joiners, marks and tags that Stream only keeps
// in context. Spaces other than U+0020 are not Safe: Stream rewrites them.
func Safe(r rune) bool {
	if r == ' ' {
		return true
	}
	k := classify(r)
	return k != drop && k != space
}

// keep decides, and records, whether a rune of kind k may follow what the lane
// already holds. State only moves on kept runes, so cleaning twice changes
// nothing the second time.
func (l *Stream) keep(r rune, k kind) bool {
	switch k {
	case base, space:
		l.marks = 0
		if l.prev != zwj {
			l.joins = 0
		}
	case mark:
		if l.prev == 0 || l.marks >= maxMarks {
			return false
		}
		l.marks++
	case joiner:
		if l.prev == 0 || l.prev == zwj || l.prev == zwnj || l.joins >= maxJoins {
			return false
		}
		l.joins++
	case modifier:
		// One skin tone, straight after what it colours: a run of them
		// would stack on one character without end.
		if l.prev == 0 || classify(l.prev) != base {
			return false
		}
	case tag:
		switch {
		case l.prev == blackFlg:
			l.tags = 0
		case l.prev < tagFirst || l.prev >= tagLast:
			return false
		case r != tagLast && l.tags >= maxTags:
			return false
		}
		l.tags++
	default:
		return false
	}
	l.prev = r
	return true
}

// Text returns s with everything unsafe removed, remembering context across
// calls, so a combining mark typed as its own keystroke attaches to the
// character before it. A clean s is returned as is, without allocating.
func (l *Stream) Text(s string) string {
	var o out
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c < 0x7F { // fast path: printable ASCII
			l.prev, l.marks, l.joins = rune(c), 0, 0
			if o.dirty {
				o.b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		next := i + n
		switch {
		case r == utf8.RuneError && n == 1:
			// Invalid byte: dropped, never turned into U+FFFD.
		case r == 0x1B:
			next = skipEsc(s, next)
		case r >= 0x80 && r <= 0x9F:
			next = skipC1(s, r, next)
		default:
			k := classify(r)
			if k == space {
				r = ' '
			}
			if !l.keep(r, k) {
				break
			}
			if k == space {
				o.change(s, i)
				o.b.WriteByte(' ')
			} else if o.dirty {
				o.b.WriteString(s[i:next])
			}
			i = next
			continue
		}
		o.change(s, i) // whatever reaches here is dropped
		i = next
	}
	if !o.dirty {
		return s
	}
	return o.b.String()
}

// out builds the result only once the input turns out to need changes.
type out struct {
	b     strings.Builder
	dirty bool // b holds everything kept so far
}

// change is called before the first difference from s at byte i.
func (o *out) change(s string, i int) {
	if !o.dirty {
		o.dirty = true
		o.b.Grow(len(s))
		o.b.WriteString(s[:i])
	}
}

// skipEsc returns where the escape sequence whose ESC ends just before i
// stops. Dropping only ESC would leave its parameters on screen ("[2J").
func skipEsc(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X':
		return skipString(s, i+1)
	case c == 'N' || c == 'O': // SS2/SS3 take one more character
		return skipOne(s, i+1)
	case c >= 0x20 && c <= 0x2F: // nF: intermediates, then one final
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2F {
			i++
		}
		return skipOne(s, i)
	case c >= 0x30 && c <= 0x7E:
		return i + 1
	}
	// ESC before a control or non-ASCII: only ESC goes, the rest is judged alone.
	return i
}

// skipC1 does for the UTF-8 encoded C1 controls what skipEsc does for their
// 7-bit ESC forms.
func skipC1(s string, r rune, i int) int {
	switch r {
	case 0x9B: // CSI
		return skipCSI(s, i)
	case 0x90, 0x98, 0x9D, 0x9E, 0x9F: // DCS, SOS, OSC, PM, APC
		return skipString(s, i)
	case 0x8E, 0x8F: // SS2, SS3
		return skipOne(s, i)
	}
	return i
}

func skipOne(s string, i int) int {
	if i < len(s) && s[i] >= 0x20 && s[i] <= 0x7E {
		return i + 1
	}
	return i
}

// skipCSI skips parameters and intermediates up to and including the final
// byte. Like a terminal, it lets other C0 controls pass inside the sequence
// (they are dropped anyway) and gives up at ESC, CAN, SUB or non-ASCII.
func skipCSI(s string, i int) int {
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x40 && c <= 0x7E:
			return i + 1
		case c == 0x18 || c == 0x1A:
			return i + 1
		case c == 0x1B || c >= 0x80:
			return i
		}
	}
	return i
}

// skipString skips the body of OSC, DCS, APC, PM and SOS up to BEL, ST
// (ESC \ or U+009C), CAN or SUB, or the end of s. Another ESC ends it too
// and starts a new sequence, as in a terminal.
func skipString(s string, i int) int {
	for ; i < len(s); i++ {
		switch s[i] {
		case 0x07, 0x18, 0x1A:
			return i + 1
		case 0x1B:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i
		case 0xC2:
			if i+1 < len(s) && s[i+1] == 0x9C {
				return i + 2
			}
		}
	}
	return i
}
