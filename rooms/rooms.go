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
	// ErrLocked means the room is locked: Join seats nobody; Knock asks
	// its members to let someone in.
	ErrLocked = errors.New("room is locked")
	// ErrNotLocked means Knock found the room open: Join instead.
	ErrNotLocked = errors.New("room is not locked")
	// ErrDoorFull means DoorLimit knocks already wait at the room.
	ErrDoorFull = errors.New("too many knocks waiting")
	// ErrTurnedAway is a knock's Err when nobody let it in: a member
	// turned it away, or the room ended.
	ErrTurnedAway = errors.New("turned away")
	// ErrNeverLocked means a room for two, or the lobby, was asked to
	// lock: a room for two is full at two, and the lobby is open to all.
	ErrNeverLocked = errors.New("a room for two is never locked")
)

// DoorLimit is how many knocks may wait at one room.
const DoorLimit = 3

// LobbyCode is the lobby's name in logs; it is no room code, and Join
// never finds it.
const LobbyCode = "lobby"

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
	Joined     EventKind = iota + 1 // Peer arrived
	Left                            // Peer went away
	Typed                           // Peer typed Text
	Newline                         // Peer started a new line
	Ended                           // this seat ended; Seat.Err says why
	Pictured                        // Peer sent a picture; Text holds its bytes (package pictures encodes them)
	Told                            // Peer told this member alone Text (see Seat.Tell)
	Locked                          // Peer locked the room
	Unlocked                        // Peer unlocked the room
	Knocked                         // Peer knocks at the locked room (members only)
	KnockEnded                      // Peer's knock waits no more: let in (a Joined follows), turned away, or gone
	Let                             // to a knock: this member was let in; Joined events for the members came first
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
	// Lobby seats m in the lobby: one room with no code, where people
	// who chose to be listed see each other. It holds size people; past
	// that, ErrFull. It never ends while the registry is open.
	Lobby(ctx context.Context, size int, m Member) (Seat, error)
	// Knock puts m at the door of the locked room named by code: the
	// seat returned is no member's yet. Members get a Knocked event and
	// answer it (Seat.Answer); the knock then gets Let, with the
	// members as Joined events before it, or ends with ErrTurnedAway
	// (or ErrFull, let in with no seat free). It sees nothing else of
	// the room. Errors: ErrNotLocked, ErrDoorFull, and Join's.
	Knock(ctx context.Context, code string, m Member) (Seat, error)
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
	// Tell gives the member with ID to, alone, a Told event with text
	// (cleaned, as for Type). Nobody by that ID: nothing happens.
	Tell(to int, text string) error
	// Lock locks the room (on) or unlocks it; the others get Locked or
	// Unlocked. A room of two seats, and the lobby, refuse with
	// ErrNeverLocked.
	Lock(on bool) error
	// Answer answers the knock of id: let it in, or turn it away. The
	// first answer decides; later ones, or a knock that has gone, do
	// nothing. Every member then gets KnockEnded.
	Answer(id int, let bool) error
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
	Lobby   int         // people in the lobby (not counted in Members)
}
