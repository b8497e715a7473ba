// Package rooms keeps who is talking to whom. It knows nothing of SSH or
// terminals: a member is a name, and what they type is text.
package rooms

import "errors"

var (
	// ErrNoRoom means the code names no open room: it never existed or has ended.
	ErrNoRoom = errors.New("no such room")
	// ErrFull means every seat in the room is taken.
	ErrFull = errors.New("room is full")
)

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
	Color int // palette index, lowest free when they joined
}

// EventKind says what happened in a room.
type EventKind uint8

const (
	Joined EventKind = iota + 1 // Peer arrived
	Left                        // Peer went away
	Typed                       // Peer typed Text
	Broke                       // Peer pressed Enter
)

// Event is one thing a member learns about the others.
type Event struct {
	Kind EventKind
	Peer Peer
	Text string
}

// Registry opens and finds rooms. The in-process Memory is one
// implementation; a networked one can sit behind the same face.
type Registry interface {
	// Open starts a room with the given number of seats and seats m in it.
	Open(seats int, m Member) (Seat, error)
	// Join seats m in the room named by code.
	Join(code string, m Member) (Seat, error)
	// Stats counts what is open now.
	Stats() Stats
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
	// Drain appends the waiting events to buf and returns it.
	Drain(buf []Event) []Event
	// Type sends text (already cleaned) to everyone else in the room.
	Type(text string)
	// Break sends a line break to everyone else.
	Break()
	// Leave gives up the seat. The room ends when its last member leaves.
	Leave()
}

// Stats describes the rooms open at one moment.
type Stats struct {
	Rooms   int
	Members int
	BySize  map[int]int // members in a room → how many rooms have that many
	Dropped uint64      // events dropped because a member's queue was full
}
