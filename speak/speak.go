// Package speak is the only way text enters a room. A Speaker wraps one
// person's seat: it cleans what they type, spends their key budget, cuts
// long pastes and sends line breaks, and tells the front end what to say
// when it held something back. Every front end speaks through it, so none
// can skip a rule.
package speak

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hush-chat/hush/clean"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
)

// Config bounds one person's typing. Zero values mean no bound.
type Config struct {
	// KeysPerSecond and KeyBurst bound typing: a paste spends the burst, a
	// flood beyond it is dropped with a hint, and nobody is kicked.
	KeysPerSecond float64
	KeyBurst      int
	MaxPaste      int // runes kept from one paste
}

// Hint is something a person should be told about what they typed.
type Hint uint8

const (
	None     Hint = iota
	SlowDown      // some keys were dropped: over the key budget
	PasteCut      // a paste was longer than MaxPaste
)

// String is the hint in words, the same on every front end.
func (h Hint) String() string {
	switch h {
	case SlowDown:
		return "Slow down: some keys were dropped."
	case PasteCut:
		return "Paste cut short: only so much can be said at once."
	}
	return ""
}

// hintEvery keeps "slow down" from being repeated on every dropped key.
const hintEvery = 4 * time.Second

// Speaker speaks for one person in one room. It is not safe for
// concurrent use: each session calls it from one goroutine.
type Speaker struct {
	seat     rooms.Seat
	maxPaste int
	keys     limits.Bucket
	filter   clean.Stream // the text filter, which remembers the line so far
	slowed   time.Time    // when SlowDown was last given
	// A paste that arrives in pieces (a page sends them below its frame
	// limit) is held here until its last piece, never past MaxPaste.
	piece    strings.Builder
	pieces   int // runes held
	pieceCut bool
}

// New returns a Speaker for seat.
func New(seat rooms.Seat, cfg Config) *Speaker {
	s := &Speaker{seat: seat, maxPaste: cfg.MaxPaste}
	if cfg.KeysPerSecond > 0 {
		s.keys = limits.NewBucket(cfg.KeysPerSecond, float64(max(cfg.KeyBurst, 1)))
	}
	return s
}

// Type sends what one key press typed. It returns what entered the room —
// what the person's own screen should show — and a hint, if any.
func (s *Speaker) Type(text string, now time.Time) (said string, h Hint) {
	if n := utf8.RuneCountInString(text); n > 0 {
		if got := s.allow(n, now, &h); got < n {
			text = string([]rune(text)[:got])
		}
	}
	text = s.filter.Text(text)
	if text == "" || s.seat.Type(text) != nil {
		return "", h // a seat that ended says why through its Ended event
	}
	return text, h
}

// Newline starts a new line. ok is false when the key budget or the seat
// did not allow it.
func (s *Speaker) Newline(now time.Time) (ok bool, h Hint) {
	if s.allow(1, now, &h) < 1 {
		return false, h
	}
	s.filter.Newline()
	return s.seat.Newline() == nil, h
}

// Piece takes one piece of a paste that arrives in several; more says
// another follows. The pieces count as one paste: nothing is sent until
// the last, and no more than MaxPaste runes are ever held.
func (s *Speaker) Piece(text string, more bool, now time.Time) (said string, h Hint) {
	if n := utf8.RuneCountInString(text); s.maxPaste > 0 && s.pieces+n > s.maxPaste {
		text = string([]rune(text)[:max(s.maxPaste-s.pieces, 0)])
		s.pieceCut = true
	}
	s.pieces += utf8.RuneCountInString(text)
	s.piece.WriteString(text)
	if more {
		return "", None
	}
	content, cut := s.piece.String(), s.pieceCut
	s.piece.Reset()
	s.pieces, s.pieceCut = 0, false
	said, h = s.Paste(content, now)
	if cut {
		h = max(h, PasteCut)
	}
	return said, h
}

// Paste sends pasted text: cut to MaxPaste runes, lines broken where the
// paste broke them. said has "\n" where a line break was sent.
func (s *Speaker) Paste(content string, now time.Time) (said string, h Hint) {
	if s.maxPaste > 0 && utf8.RuneCountInString(content) > s.maxPaste {
		content = string([]rune(content)[:s.maxPaste])
		h = PasteCut
	}
	var out []byte
	for content != "" {
		i := 0
		for i < len(content) && content[i] != '\n' && content[i] != '\r' {
			i++
		}
		if i > 0 {
			kept, hh := s.Type(content[:i], now)
			out = append(out, kept...)
			h = max(h, hh)
		}
		if i == len(content) {
			break
		}
		if content[i] == '\r' && i+1 < len(content) && content[i+1] == '\n' {
			i++
		}
		content = content[i+1:]
		if ok, hh := s.Newline(now); ok {
			out = append(out, '\n')
		} else {
			h = max(h, hh)
		}
	}
	return string(out), h
}

// allow spends n keys from the budget and returns how many may be used,
// setting h (not too often) when some were dropped.
func (s *Speaker) allow(n int, now time.Time, h *Hint) int {
	if s.keys.Rate == 0 {
		return n
	}
	got := s.keys.Take(n, now)
	if got < n && now.Sub(s.slowed) > hintEvery {
		s.slowed = now
		*h = SlowDown
	}
	return got
}
