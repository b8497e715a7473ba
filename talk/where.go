package talk

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
)

// Where is a place a person asked to go.
type Where struct {
	Op    admit.Op
	Code  string // Join: the code as typed
	knock bool   // Join: at a locked room's door (Conn.Knock)
}

// Places someone can ask for by name.
var (
	New   = Where{Op: admit.OpNew}   // a room for two
	Group = Where{Op: admit.OpGroup} // a room for a group
	Lobby = Where{Op: admit.OpLobby} // the lobby, where people find each other
)

// Join is the room someone shared, by its code as typed.
func Join(code string) Where { return Where{Op: admit.OpJoin, Code: code} }

func (w Where) String() string { return w.Op.String() }

// Route reads where a name asks to go: "new", "group", "lobby", or
// something shaped like a code. ok is false for anything else: show the
// welcome.
func Route(name string) (w Where, ok bool) {
	switch name = strings.ToLower(name); name {
	case "new":
		return New, true
	case "group":
		return Group, true
	case "lobby":
		return Lobby, true
	}
	if rooms.LooksLikeCode(name) {
		return Join(name), true
	}
	return Where{}, false
}

// LooksLikeCode reports whether s is shaped like a room code (it may still
// name no room).
func LooksLikeCode(s string) bool { return rooms.LooksLikeCode(s) }

// Enter takes one session on c through the gate to where, as the person
// with key (its bytes; nil for a guest). via names the front end in logs
// ("ssh", "web"). The error, if any, is a *Refusal: show its Text.
func (c *Conn) Enter(ctx context.Context, where Where, key []byte, via string) (*Conv, error) {
	h := c.h
	if where.Op == admit.OpJoin && !rooms.LooksLikeCode(where.Code) {
		// Plainly not a code: refused as over SSH, where such a name gets
		// the welcome, and no wrong code counted.
		h.Refused(admit.Malformed)
		return nil, h.refused(&admit.Refusal{Reason: admit.Malformed}, via, c.c)
	}
	who := identify(key)
	pass, err := c.c.Enter()
	if err != nil {
		return nil, h.refused(err, via, c.c)
	}
	var seat rooms.Seat
	var done func() // a knock's: it waits no more
	switch where.Op {
	case admit.OpNew, admit.OpGroup:
		seat, err = pass.Open(ctx, where.Op, who)
	case admit.OpJoin:
		if where.knock {
			seat, done, err = pass.Knock(ctx, where.Code, who)
		}
		if !where.knock || errors.Is(err, rooms.ErrNotLocked) {
			done = nil // unlocked meanwhile: simply seated
			seat, err = pass.Join(ctx, where.Code, who)
		}
	case admit.OpLobby:
		seat, err = pass.Lobby(ctx, who)
	default:
		err = &admit.Refusal{Reason: admit.BadRequest}
	}
	if err != nil {
		pass.Done()
		return nil, h.refused(err, via, c.c)
	}
	conv := h.newConv(seat, pass.Done)
	conv.budget = c.c.Picture
	conv.pass, conv.conn, conv.who = pass, c.c, who
	if where.Op == admit.OpLobby {
		conv.lobby.Store(&lobby{ignored: make(map[string]bool)})
	}
	if key != nil {
		conv.key = sha256.Sum256(key)
	}
	if done != nil {
		conv.wait(done)
	}
	h.keep(conv)
	if conv.door != nil {
		h.log.Info("knocking", "remote", c.c.Key(), "room", rooms.Tag(seat.Code()), "via", via)
		return conv, nil
	}
	h.log.Info("seated", "remote", c.c.Key(), "room", rooms.Tag(seat.Code()), "op", where.String(), "via", via)
	return conv, nil
}

// Refusal is why someone cannot get in, in the words to show them.
type Refusal struct {
	Text   string
	Reason admit.Reason
	// StartOwn: starting a room of one's own would help; the front end
	// says how (h.Invite("new"), or a button).
	StartOwn bool
	// Knock: the room is locked; the front end offers to knock
	// (Conn.Knock) or leave.
	Knock bool
	Code  string // Knock: the room's code, as typed
}

func (r *Refusal) Error() string { return r.Text }

// refused turns the gate's or the registry's error into a Refusal, and
// logs it (never with what was typed).
func (h *Hub) refused(err error, via string, c *admit.Conn) *Refusal {
	r := &Refusal{Text: admit.Unexpected, Reason: admit.Other}
	if ar, ok := errors.AsType[*admit.Refusal](err); ok {
		r.Text, r.Reason, r.StartOwn = ar.Error(), ar.Reason, ar.StartOwn()
		if ar.Reason == admit.Locked {
			r.Knock, r.Code = true, ar.Code
		}
	}
	h.log.Info("refused", "remote", c.Key(), "reason", r.Reason.String(), "via", via)
	return r
}

// Refusal is why this connection may go nowhere at all (it is over its
// address's limits), nil if it may ask. A front end asks before showing
// even a welcome.
func (c *Conn) Refusal(via string) error {
	if r := c.c.Over(); r != nil {
		return c.h.refused(r, via, c.c)
	}
	return nil
}

// Over reports whether the connection is over its address's limits: it is
// to be told why (Refusal) and let go, whatever it asks for.
func (c *Conn) Over() bool { return c.c.Refused() }

// Refuse words a refusal a front end makes before any session exists:
// shutting down, or too many connections.
func Refuse(r admit.Reason) *Refusal {
	ar := &admit.Refusal{Reason: r}
	return &Refusal{Text: ar.Error(), Reason: r}
}

// Reasons a front end may meet before Enter, or when all else fails.
const (
	ShuttingDown = admit.ShuttingDown
	TooManyConns = admit.TooManyConns
	Other        = admit.Other
)
