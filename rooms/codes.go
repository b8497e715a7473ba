package rooms

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/speps/go-hashids/v2"
)

// Alphabet has no look-alikes (0/o, 1/l/i) and one case, so a code can be
// read aloud and typed on a phone.
const Alphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// RandomBits is how much of every code comes from crypto/rand: the part a
// guesser has to find.
const RandomBits = 40

// maxCodeLen bounds input before hashids ever sees it.
const maxCodeLen = 32

// ErrBadCode means the text cannot be a code this server issued.
var ErrBadCode = errors.New("not a room code")

// Codes issues room codes: hashids over a per-run counter joined to 40
// random bits. The counter makes a code unique for the life of the process;
// the random bits make it unguessable; the secret salt hides the structure.
type Codes struct {
	h    *hashids.HashID
	next atomic.Int64
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
	d.MinLength = 10
	h, err := hashids.NewWithData(d)
	if err != nil {
		return nil, fmt.Errorf("rooms: hashids: %w", err)
	}
	return &Codes{h: h}, nil
}

// New returns a fresh code.
func (c *Codes) New() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rooms: random: %w", err)
	}
	random := int64(binary.BigEndian.Uint64(b[:]) >> (64 - RandomBits))
	n := c.next.Add(1)
	nums := []int64{n<<RandomBits | random}
	if n >= 1<<(63-RandomBits) {
		nums = []int64{random, n} // past 8M rooms in one run: longer codes, still unique
	}
	return c.h.EncodeInt64(nums)
}

// Parse normalises what a person typed and checks it is a code this server
// could have issued (decode, re-encode, compare), before any lookup.
func (c *Codes) Parse(s string) (string, error) {
	if len(s) == 0 || len(s) > maxCodeLen {
		return "", ErrBadCode
	}
	s = strings.ToLower(s)
	for _, r := range s {
		if !strings.ContainsRune(Alphabet, r) {
			return "", ErrBadCode
		}
	}
	nums, err := c.h.DecodeInt64WithError(s)
	if err != nil || len(nums) == 0 || len(nums) > 2 {
		return "", ErrBadCode
	}
	again, err := c.h.EncodeInt64(nums)
	if err != nil || again != s {
		return "", ErrBadCode
	}
	return s, nil
}
