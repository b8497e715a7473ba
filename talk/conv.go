package talk

import (
	"github.com/hush-chat/hush/admit"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hush-chat/hush/clean"
	"github.com/hush-chat/hush/pictures"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
)

// Kind says what a front end is to render.
type Kind uint8

const (
	Joined     Kind = iota + 1 // Peer arrived (one bell, unless the person turned it off)
	Left                       // Peer went away
	Typed                      // Peer typed Text
	Newline                    // Peer started a new line
	Pictured                   // Peer sent Picture (this person's own, when Peer is Self)
	Warned                     // the idle warning: Text, with Wait left before Ended
	Ended                      // the conversation is over; Text says why. The last event.
	Notice                     // Text to show this person for a moment (an ask or knock refused)
	Moved                      // the conversation moved to another room: read Code, Self, Others and Seats again; Text says where
	Asking                     // this person asks Peer for a private room; Text, for Wait
	NoAnswer                   // Peer did not take this person's ask (declined, timed out, cancelled, left): Text
	Asked                      // Peer asks this person for a private room; Text, for Wait. Answer with Conv.Answer
	AskEnded                   // Peer's ask waits no more (answered, withdrawn, timed out, or Peer left)
	Locked                     // Peer locked the room: Text
	Unlocked                   // Peer unlocked the room: Text
	Knocked                    // Peer knocks at the locked room; answer with Conv.LetIn
	KnockEnded                 // Peer's knock waits no more (answered by someone, or gone)
	LetIn                      // this person, knocking, was let in: the room is theirs now (Joined events came first)
)

// Event is one thing a front end shows. Text from others was cleaned before
// it entered the room; names are cleaned here.
type Event struct {
	Kind    Kind
	Peer    Peer
	Text    string
	Wait    time.Duration
	Picture *pictures.Picture // Pictured: the picture, already shrunk
}

// MaxName bounds a name on any screen, in runes.
const MaxName = 40

// Conv is one person's side of a conversation: in a room, in the lobby,
// or knocking at a locked room's door. A front end reads the person on
// one goroutine (Type, Newline, Paste) and writes to them on another
// (Ready, Drain, Leave, and the choices: Ask, Cancel, Answer, Ignore,
// Lock, LetIn, which change what Drain gives next); Touch, Notes and
// Picture are safe from any goroutine (a picture may arrive on a
// connection of its own).
//
// A conversation can move: from the lobby into a room for two (an ask
// accepted), or from the door into the room (let in). Drain then gives
// Moved or LetIn, and Code, Self, Others, Seats and Ready change with it.
type Conv struct {
	h      *Hub
	at     atomic.Pointer[place] // where the person is now
	done   func()                // gives the gate's places back
	pass   *admit.Pass           // the session's pass, to open or join a room from the lobby; nil from Sit
	conn   *admit.Conn           // the connection, whose address's allowances asks spend; nil from Sit
	who    rooms.Member          // this person, as rooms know them
	lobby  atomic.Pointer[lobby] // the lobby's asks and choices; nil elsewhere
	door   *door                 // the knock's wait; nil elsewhere
	idle   *idle
	notes  chan *Event
	room   []rooms.Event // drained from the seat; reused
	closed sync.Once
	budget func() bool // spends one picture from the address's allowance; nil: none
	key    [32]byte    // SHA-256 of the key the person connected with; zero for a guest
	token  string      // this person's one-time picture line, if one is live (h.mu)

	pmu         sync.Mutex                // guards the pictures' record: senders and readers differ
	lastPicture time.Time                 // when this person last sent one
	pictures    [picturesAtOnce]time.Time // when the last pictures entered the room
	nextPicture int
}

// place is one seat the conversation holds and what it shows of it.
// Only here changes once made, and only on the draining goroutine.
type place struct {
	seat   rooms.Seat
	speak  *speak.Speaker
	code   string // as shown: grouped; "" in the lobby
	invite string // the ssh command that joins the room
	link   string // the web page that joins it; "" without one
	self   Peer
	others []Peer
	here   int  // people in the room, this one included, as events tell
	locked bool // the room is locked, as events tell (draining goroutine's)
}

func (c *Conv) place() *place { return c.at.Load() }

// Sit starts a conversation on a seat already taken: Enter does, after the
// gate; tests do with seats of their own.
func (h *Hub) Sit(seat rooms.Seat) *Conv { return h.sit(seat, func() {}, nil) }

func (h *Hub) sit(seat rooms.Seat, done func(), budget func() bool) *Conv {
	c := h.newConv(seat, done)
	c.budget = budget
	h.keep(c)
	return c
}

// keep lists c where a picture sent from elsewhere finds it: only once it
// is fully made, since the finder reads it from another goroutine.
func (h *Hub) keep(c *Conv) {
	h.mu.Lock()
	h.convs[c] = struct{}{}
	h.mu.Unlock()
}

func (h *Hub) newConv(seat rooms.Seat, done func()) *Conv {
	c := &Conv{
		h:     h,
		done:  done,
		notes: make(chan *Event, notesRoom),
	}
	c.at.Store(h.place(seat))
	timeout := h.cfg.IdleTimeout
	c.idle = startIdle(timeout,
		func(left time.Duration) { c.note(Event{Kind: Warned, Text: idleWarningText(left), Wait: left}) },
		func() { c.note(Event{Kind: Ended, Text: idleEndText(timeout)}) })
	return c
}

// place makes the place of a seat just taken.
func (h *Hub) place(seat rooms.Seat) *place {
	p := &place{seat: seat, self: cleanPeer(seat.Self())}
	cfg := h.cfg.Speak
	if seat.Code() == rooms.LobbyCode {
		cfg.KeysPerSecond /= 2 // the lobby's text is everyone's: a smaller budget
		cfg.KeyBurst = max(cfg.KeyBurst/2, 1)
	} else {
		p.code = rooms.Grouped(seat.Code())
		p.invite = h.cfg.Invite(p.code)
		if h.cfg.Link != nil {
			p.link = h.cfg.Link(p.code)
		}
	}
	p.speak = speak.New(seat, cfg)
	for _, o := range seat.Others() {
		p.others = append(p.others, cleanPeer(o))
	}
	p.here = 1 + len(p.others)
	return p
}

func cleanPeer(p Peer) Peer {
	p.Name = clean.Name(p.Name, MaxName)
	p.Badge = clean.Name(p.Badge, MaxName)
	return p
}

// notesRoom is what Notes holds: a warning, an end, and what the asks'
// and a knock's timers say always fit, whatever pictures of one's own
// wait beside them. They wait as pointers: notes are rare, and every
// session holds the queue.
const notesRoom = 16

func (c *Conv) note(ev Event) {
	if ev.Kind == Pictured && len(c.notes) >= notesRoom/2 {
		return // the echo of one's own picture is what gives way
	}
	select {
	case c.notes <- &ev:
	default: // one of each kind is already waiting
	}
}

// Code is the room's code as people are shown it; "" in the lobby.
func (c *Conv) Code() string { return c.place().code }

// Tag names the room in logs without naming its code.
func (c *Conv) Tag() string { return rooms.Tag(c.place().seat.Code()) }

// Seats is how many the room holds (the lobby: how many it may).
func (c *Conv) Seats() int { return c.place().seat.Seats() }

// Self is this person as the others see them.
func (c *Conv) Self() Peer { return c.place().self }

// Others lists who was here when this person arrived (or moved); later
// arrivals and departures come as events.
func (c *Conv) Others() []Peer { return c.place().others }

// Open reports whether the room has a free seat, as far as events tell.
func (c *Conv) Open() bool { p := c.place(); return p.here < p.seat.Seats() }

// Invite is the ssh command that joins this room.
func (c *Conv) Invite() string { return c.place().invite }

// Link is the web page that joins this room; "" without one.
func (c *Conv) Link() string { return c.place().link }

// InLobby reports whether the person is in the lobby.
func (c *Conv) InLobby() bool { return c.place().code == "" }

// Knocking reports whether the person waits at a locked room's door.
func (c *Conv) Knocking() bool { return c.door != nil && c.door.waiting.Load() }

// Group reports whether the room is a group's (it can be locked).
func (c *Conv) Group() bool { p := c.place(); return p.code != "" && p.seat.Seats() > 2 }

// Fade is the fade schedule for this conversation's text.
func (c *Conv) Fade() Fade { return c.h.Fade() }

// Ready is signalled when Drain has something from the room. After Moved,
// it is another channel: ask for it again.
func (c *Conv) Ready() <-chan struct{} { return c.place().seat.Ready() }

// Notes delivers what the conversation itself says: the idle warning, the
// end when idleness lets the person go, and pictures this person sent
// (from wherever they sent them).
func (c *Conv) Notes() <-chan *Event { return c.notes }

// Drain appends what happened in the room since the last Drain to buf.
// An Ended event is the last it ever gives.
func (c *Conv) Drain(buf []Event) []Event {
	p := c.place()
	c.room = p.seat.Drain(c.room[:0])
	for i, ev := range c.room {
		e := Event{Peer: ev.Peer, Text: ev.Text}
		switch ev.Kind {
		case rooms.Joined:
			e.Kind, e.Peer = Joined, cleanPeer(ev.Peer)
			p.here++
		case rooms.Left:
			e.Kind, e.Peer = Left, cleanPeer(ev.Peer)
			p.here--
			if l := c.lobby.Load(); l != nil {
				buf = l.left(c, e.Peer, buf)
			}
		case rooms.Typed, rooms.Newline:
			if l := c.lobby.Load(); l != nil && l.ignores(ev.Peer) {
				continue
			}
			e.Kind = Typed
			if ev.Kind == rooms.Newline {
				e.Kind = Newline
			}
		case rooms.Ended:
			e.Kind, e.Text = Ended, goodbye(p.seat.Err())
		case rooms.Pictured:
			if !c.picture(&e, ev.Text) {
				continue
			}
		case rooms.Told:
			l := c.lobby.Load()
			if l == nil {
				continue
			}
			var moved bool
			if buf, moved = l.told(c, cleanPeer(ev.Peer), ev.Text, buf); moved {
				// The rest was the lobby's, left behind.
				clear(c.room[i:])
				return buf
			}
			continue
		case rooms.Locked, rooms.Unlocked:
			p.locked = ev.Kind == rooms.Locked
			e.Kind, e.Peer = Locked, cleanPeer(ev.Peer)
			if !p.locked {
				e.Kind = Unlocked
			}
			e.Text = lockText(e.Peer.Name, p.locked)
		case rooms.Knocked:
			e.Kind, e.Peer = Knocked, cleanPeer(ev.Peer)
			e.Text = knockText(e.Peer.Name)
		case rooms.KnockEnded:
			e.Kind, e.Peer = KnockEnded, cleanPeer(ev.Peer)
		case rooms.Let:
			if c.door == nil || !c.door.in() {
				continue // it gave up as it was let in: it has left
			}
			e.Kind, e.Peer = LetIn, cleanPeer(p.seat.Self())
			// The seat is a member's now, with its colour.
			moved := *p
			moved.self = e.Peer
			moved.locked = ev.Text == rooms.LetLocked
			c.at.Store(&moved)
			p = &moved
		default:
			continue
		}
		buf = append(buf, e)
	}
	clear(c.room) // let what was typed go
	return buf
}

// Touch says the person did something: the idle count starts again.
func (c *Conv) Touch(now time.Time) { c.idle.touch(now) }

// Type sends what one key press typed, through the typing rules. said is
// what entered the room (what the person's own screen shows); hint, if not
// "", is to be shown to them.
func (c *Conv) Type(text string, now time.Time) (said, hint string) {
	if c.Knocking() {
		return "", ""
	}
	said, h := c.place().speak.Type(text, now)
	return said, h.String()
}

// Newline starts a new line; ok is false when the rules held it back.
func (c *Conv) Newline(now time.Time) (ok bool, hint string) {
	if c.Knocking() {
		return false, ""
	}
	ok, h := c.place().speak.Newline(now)
	return ok, h.String()
}

// Paste sends a paste, or one piece of it when more follow (a page sends
// a long paste in pieces); the pieces count as one paste. said has "\n"
// where a line break was sent.
func (c *Conv) Paste(text string, more bool, now time.Time) (said, hint string) {
	if c.Knocking() {
		return "", ""
	}
	said, h := c.place().speak.Piece(text, more, now)
	return said, h.String()
}

// Leave gives up the seat because the person asked to, and returns the
// goodbye to show them: a line, or two ("\n" between) when the room is
// still open.
func (c *Conv) Leave() string {
	p := c.place()
	p.seat.Leave()
	switch {
	case p.code == "":
		return LeftLobbyText
	case c.Knocking():
		return LeftDoorText
	case p.here > 1:
		return LeftText + "\n" + stillOpenText + p.invite
	}
	return LeftText
}

// Close ends the conversation and gives back every place it held. The
// front end calls it once it has shown its goodbye.
func (c *Conv) Close() {
	c.closed.Do(func() {
		c.idle.stop()
		if l := c.lobby.Load(); l != nil {
			l.stop(c)
		}
		if c.door != nil {
			c.door.stop()
		}
		c.place().seat.Leave()
		c.h.mu.Lock()
		delete(c.h.convs, c)
		if c.token != "" {
			delete(c.h.tokens, c.token)
		}
		c.h.mu.Unlock()
		c.done()
	})
}
