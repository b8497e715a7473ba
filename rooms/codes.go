package rooms

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/speps/go-hashids/v2"
)

// Alphabet has no look-alikes (0/o, 1/l/i) and one case, so a code can be
// read aloud and typed on a phone.
const Alphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// randomBits is how much of every code comes from crypto/rand: all of it,
// and all a guesser has to find. 48 bits take up to codeLen characters.
const randomBits = 48

// codeLen is the length of every code: the longest 48-bit value, and the
// padding for the rest, so every code looks alike.
const codeLen = 12

// maxCodeLen bounds input before hashids ever sees it.
const maxCodeLen = 32

// ErrBadCode means the text cannot be a code this server issued.
var ErrBadCode = errors.New("not a room code")

// ErrCodeTaken is what a registry's open gives Draw for a code an open
// room already has: Draw tries another.
var ErrCodeTaken = errors.New("code taken")

// codeTries bounds how often Draw draws a new code after a collision. With
// 48 random bits one collision is already rare; eight in a row means the
// code space is broken, not busy.
const codeTries = 8

// Codes makes room codes: hashids over random bits under a secret salt.
// Random bits make a code unguessable; the salt hides the structure, so
// only a server holding it can tell a real code from junk. Uniqueness is
// the registry's job (it creates a code only if no open room has it), so
// codes stay unique across restarts and across nodes sharing the salt.
type Codes struct {
	h *hashids.HashID
}

// NewCodes returns a code issuer keyed by salt, which should be secret and
// stable across restarts.
func NewCodes(salt string) (*Codes, error) {
	if len(salt) < 16 {
		return nil, errors.New("rooms: salt must be at least 16 characters")
	}
	d := hashids.NewData()
	d.Salt = salt
	d.Alphabet = Alphabet
	d.MinLength = codeLen
	h, err := hashids.NewWithData(d)
	if err != nil {
		return nil, fmt.Errorf("rooms: hashids: %w", err)
	}
	return &Codes{h: h}, nil
}

// New returns a random code. It may, rarely, equal one already in use:
// the registry draws again.
func (c *Codes) New() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rooms: random: %w", err)
	}
	random := int64(binary.BigEndian.Uint64(b[:]) >> (64 - randomBits))
	return c.h.EncodeInt64([]int64{random})
}

// Draw opens a room under a fresh code: it calls open with new codes
// until open returns anything but ErrCodeTaken, at most codeTries times.
func (c *Codes) Draw(open func(code string) (Seat, error)) (Seat, error) {
	for range codeTries {
		code, err := c.New()
		if err != nil {
			return nil, err
		}
		if s, err := open(code); !errors.Is(err, ErrCodeTaken) {
			return s, err
		}
	}
	return nil, fmt.Errorf("rooms: no free code after %d tries", codeTries)
}

// Parse normalises what a person typed — any case, with or without the
// dashes Grouped puts in — and checks it is a code this server could have
// issued (decode, re-encode, compare), before any lookup.
func (c *Codes) Parse(s string) (string, error) {
	if len(s) == 0 || len(s) > maxCodeLen {
		return "", ErrBadCode
	}
	s = strings.ToLower(strings.ReplaceAll(s, "-", ""))
	for _, r := range s {
		if !strings.ContainsRune(Alphabet, r) {
			return "", ErrBadCode
		}
	}
	nums, err := c.h.DecodeInt64WithError(s)
	if err != nil || len(nums) != 1 {
		return "", ErrBadCode
	}
	again, err := c.h.EncodeInt64(nums)
	if err != nil || again != s {
		return "", ErrBadCode
	}
	return s, nil
}

// groupOf is how many characters go between dashes when a code is shown.
const groupOf = 4

// Grouped shows a code in short groups, easy to read aloud and to copy
// by eye: k7dm-2q9x-wpq3. Parse takes it back with or without the dashes.
func Grouped(code string) string {
	if len(code) <= groupOf {
		return code
	}
	var b strings.Builder
	for i := 0; i < len(code); i += groupOf {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(code[i:min(i+groupOf, len(code))])
	}
	return b.String()
}

// LooksLikeCode tells a mistyped code (worth a precise "no such room")
// from text that is plainly something else (a login name like "root", a
// path): the right length, made of code characters and their look-alikes.
func LooksLikeCode(s string) bool {
	if len(s) < 8 || len(s) > maxCodeLen {
		return false
	}
	for _, r := range strings.ToLower(s) {
		if !strings.ContainsRune(Alphabet+"01ilo-", r) {
			return false
		}
	}
	return true
}

// Tag names a room in logs and metrics without revealing its code: a
// short hash, which cannot be turned back into a code.
func Tag(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:4])
}
