package admit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hush-chat/hush/rooms"
)

// Reason says why someone was turned away.
type Reason uint8

const (
	Other           Reason = iota // something went wrong on the server
	Malformed                     // not a room code
	Unknown                       // no room has that code
	Full                          // every seat is taken
	TooManyConns                  // the address is over its connection limits
	LockedOut                     // the address guessed wrong codes too often
	ServerFull                    // the server-wide session cap
	ShuttingDown                  // the server is going away
	Unavailable                   // rooms cannot be reached right now
	BadRequest                    // a front end refused a request it does not serve
	TooManySessions               // the address has as many sessions as it may
	TooManyChannels               // one connection asked for too many sessions
	LobbyFull                     // the lobby holds as many as it may
	Locked                        // the room is locked: knock instead
	DoorFull                      // too many knocks already wait at the room
	KnockWaiting                  // this address already knocks at the room
	TooManyKnocks                 // the address knocked too often lately
	AskBusy                       // the person asked has as many asks waiting as they may
	AskedRecently                 // the address asked the same person a moment ago
	TooManyAsks                   // the address asked too often lately
)

// Reasons lists every Reason, for metrics that want a series each.
func Reasons() []Reason {
	return []Reason{Other, Malformed, Unknown, Full, TooManyConns, LockedOut, ServerFull, ShuttingDown, Unavailable, BadRequest, TooManySessions, TooManyChannels,
		LobbyFull, Locked, DoorFull, KnockWaiting, TooManyKnocks, AskBusy, AskedRecently, TooManyAsks}
}

// String is the reason's metric label.
func (r Reason) String() string {
	switch r {
	case Malformed:
		return "malformed"
	case Unknown:
		return "unknown"
	case Full:
		return "full"
	case TooManyConns:
		return "rate-limited"
	case LockedOut:
		return "locked-out"
	case ServerFull:
		return "server-full"
	case ShuttingDown:
		return "shutting-down"
	case Unavailable:
		return "unavailable"
	case BadRequest:
		return "bad-request"
	case TooManySessions:
		return "too-many-sessions"
	case TooManyChannels:
		return "too-many-channels"
	case LobbyFull:
		return "lobby-full"
	case Locked:
		return "locked"
	case DoorFull:
		return "door-full"
	case KnockWaiting:
		return "knock-waiting"
	case TooManyKnocks:
		return "too-many-knocks"
	case AskBusy:
		return "ask-busy"
	case AskedRecently:
		return "asked-recently"
	case TooManyAsks:
		return "too-many-asks"
	}
	return "other"
}

// Refusal is why someone cannot get in, as an error whose text is the one
// sentence to show them.
type Refusal struct {
	Reason Reason
	Code   string        // the code tried (Unknown, Full); known to be made of code characters
	Wait   time.Duration // how long a lockout lasts still (LockedOut)
	Name   string        // the person asked (AskBusy, AskedRecently), cleaned
	Err    error         // what the registry said, if it said anything
}

func (r *Refusal) Error() string {
	switch r.Reason {
	case Malformed:
		return "That is not a room code: check it with the person who sent it."
	case Unknown:
		return fmt.Sprintf("No room %s is open here: it may have ended.", r.Code)
	case Full:
		return fmt.Sprintf("Room %s is full.", r.Code)
	case TooManyConns:
		return "Too many connections from your address. Wait a minute and try again."
	case LockedOut:
		return fmt.Sprintf("Too many wrong room codes from your address. Joining is paused for %d more minutes.", lockoutMinutes(r.Wait))
	case TooManySessions:
		return "Too many sessions from your address. Close one and try again."
	case TooManyChannels:
		return "Too many sessions on one connection."
	case ServerFull:
		return "The server is full right now. Try again in a few minutes."
	case ShuttingDown:
		return "The hush server is restarting. Try again in a moment."
	case Unavailable:
		return "Rooms cannot be reached right now. Try again in a moment."
	case LobbyFull:
		return "The lobby is full; try again in a little while."
	case Locked:
		return "This room is locked."
	case DoorFull:
		return "Too many people are knocking at this room already; try again in a little while."
	case KnockWaiting:
		return "You are knocking at this room already."
	case TooManyKnocks:
		return "Too many knocks from your address; try again later."
	case AskBusy:
		return fmt.Sprintf("%s can't take asks right now.", r.Name)
	case AskedRecently:
		return fmt.Sprintf("You asked %s a moment ago; try again in a few minutes.", r.Name)
	case TooManyAsks:
		return "Too many asks from your address; try again later."
	}
	return Unexpected
}

// Unexpected is what a person is told when something went wrong that has
// no sentence of its own.
const Unexpected = "Something went wrong on the server. Try again in a moment."

func (r *Refusal) Unwrap() error { return r.Err }

// StartOwn reports whether the person would do well to start a room of
// their own instead; front ends then add how.
func (r *Refusal) StartOwn() bool {
	return r.Reason == Malformed || r.Reason == Unknown || r.Reason == Full
}

// reasonOf names a registry error.
func reasonOf(err error) Reason {
	switch {
	case errors.Is(err, rooms.ErrBadCode):
		return Malformed
	case errors.Is(err, rooms.ErrNoRoom):
		return Unknown
	case errors.Is(err, rooms.ErrFull):
		return Full
	case errors.Is(err, rooms.ErrLocked):
		return Locked
	case errors.Is(err, rooms.ErrDoorFull):
		return DoorFull
	case errors.Is(err, rooms.ErrClosed):
		return ShuttingDown
	case errors.Is(err, rooms.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return Unavailable
	}
	return Other
}
