// Package rooms keeps who is talking to whom. It knows nothing of SSH,
// terminals or browsers: a member is a name, and what they type is text.
// Rules about who may enter and what may be typed live in front of it
// (packages admit and speak); this package trusts its callers.
package rooms

import (
	"context"
	"errors"
)

var (
	// ErrNoRoom means the code names no open room: it never existed or has ended.
	ErrNoRoom = errors.New("no such room")
	// ErrFull means every seat in the room is taken.
	ErrFull = errors.New("room is full")
	// ErrClosed means the registry is shutting down: nothing can be opened
	// or joined, and every seat ends with it.
	ErrClosed = errors.New("rooms are closing")
	// ErrLost means a seat's room can no longer be reached (a networked
	// registry that lost its peers); the seat has ended.
	ErrLost = errors.New("room lost")
	// ErrUnavailable means the registry cannot answer right now (a
	// networked one cut off from its store). Trying again later may work.
	ErrUnavailable = errors.New("rooms unavailable")
	// ErrLeft is a seat's Err after its own Leave.
	ErrLeft = errors.New("left the room")
)

// Palette is how many lane colours a room hands out; front ends draw that
// many.
const Palette = 8

// Member is a person as others see them.
type Member struct {
	Name  string // handle, e.g. "amber-otter"
	Badge string // short key fingerprint others can check out of band; empty for guests
	Guest bool   // joined without a key
}

// Peer is a member seated in a room.
type Peer struct {
	Member
	ID    int // unique within the room, never reused there
	Color int // palette index below Palette, lowest free when they joined
}

// EventKind says what happened in a room.
type EventKind uint8

const (
	Joined   EventKind = iota + 1 // Peer arrived
	Left                          // Peer went away
	Typed                         // Peer typed Text
	Newline                       // Peer started a new line
	Ended                         // this seat ended; Seat.Err says why
	Pictured                      // Peer sent a picture; Text holds its bytes (package pictures encodes them)
)

// Event is one thing a member learns about the others.
type Event struct {
	Kind EventKind
	Peer Peer
	Text string
}

// Registry opens and finds rooms. Memory keeps them in this process; a
// networked registry can sit behind the same face, which is why calls that
// may cross a network take a context and return errors.
type Registry interface {
	// Open starts a room with the given number of seats and seats m in it.
	// The registry makes the code and guarantees no open room has it.
	Open(ctx context.Context, seats int, m Member) (Seat, error)
	// Join seats m in the room named by code (as typed: Join normalises it
	// and returns ErrBadCode for text that cannot be a code).
	Join(ctx context.Context, code string, m Member) (Seat, error)
	// Stats counts what is open now. It returns numbers the registry keeps
	// as rooms change and never waits on I/O, so a metrics scrape may call it.
	Stats() Stats
	// Close ends every seat with cause (ErrClosed if nil) and refuses any
	// Open or Join after it with ErrClosed.
	Close(cause error)
}

// Seat is one member's place in a room. Its methods never block on other
// members: what they are sent waits in a bounded queue of their own.
type Seat interface {
	Code() string
	// Seats is how many the room holds.
	Seats() int
	Self() Peer
	// Others lists who was already seated when this seat was taken; later
	// arrivals and departures come as events.
	Others() []Peer
	// Ready is signalled when Drain has something to return.
	Ready() <-chan struct{}
	// Drain appends the waiting events to buf and returns it. An Ended
	// event is the last a seat ever gives.
	Drain(buf []Event) []Event
	// Type sends text to everyone else in the room. The text must already
	// have been cleaned (see package speak).
	Type(text string) error
	// Newline starts a new line for everyone else.
	Newline() error
	// Picture shows everyone else a picture, already checked and shrunk
	// (see package pictures), as its encoded bytes.
	Picture(encoded string) error
	// Leave gives up the seat; the room ends when its last member leaves.
	// Leaving twice, or after the seat ended, does nothing.
	Leave()
	// Err is nil while the seat holds, then why it ended: ErrLeft after
	// Leave, or the registry's cause (ErrClosed, ErrLost).
	Err() error
}

// Stats describes the rooms open at one moment.
type Stats struct {
	Rooms   int
	Members int
	BySize  map[int]int // members in a room → how many rooms have that many
	Dropped uint64      // events dropped because a member's queue was full
}
