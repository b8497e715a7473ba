package talk

import (
	"sync"
	"time"

	"github.com/hush-chat/hush/clean"
	"github.com/hush-chat/hush/pictures"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
)

// Kind says what a front end is to render.
type Kind uint8

const (
	Joined   Kind = iota + 1 // Peer arrived (one bell, unless the person turned it off)
	Left                     // Peer went away
	Typed                    // Peer typed Text
	Newline                  // Peer started a new line
	Pictured                 // Peer sent Picture (this person's own, when Peer is Self)
	Warned                   // the idle warning: Text, with Wait left before Ended
	Ended                    // the conversation is over; Text says why. The last event.
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

// Conv is one person's side of a conversation in a room. A front end reads
// the person on one goroutine (Type, Newline, Paste) and writes to them on
// another (Ready, Drain, Leave); Touch, Notes and Picture are safe from
// any goroutine (a picture may arrive on a connection of its own).
type Conv struct {
	h      *Hub
	seat   rooms.Seat
	speak  *speak.Speaker
	done   func() // gives the gate's places back
	code   string // as shown: grouped
	invite string // the ssh command that joins the room
	link   string // the web page that joins it; "" without one
	self   Peer
	others []Peer
	here   int // people in the room, this one included, as events tell
	idle   *idle
	notes  chan Event
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

// Sit starts a conversation on a seat already taken: Enter does, after the
// gate; tests do with seats of their own.
func (h *Hub) Sit(seat rooms.Seat) *Conv { return h.sit(seat, func() {}, nil) }

func (h *Hub) sit(seat rooms.Seat, done func(), budget func() bool) *Conv {
	c := h.newConv(seat, done)
	c.budget = budget
	h.mu.Lock()
	h.convs[c] = struct{}{}
	h.mu.Unlock()
	return c
}

func (h *Hub) newConv(seat rooms.Seat, done func()) *Conv {
	c := &Conv{
		h:     h,
		seat:  seat,
		speak: speak.New(seat, h.cfg.Speak),
		done:  done,
		code:  rooms.Grouped(seat.Code()),
		self:  cleanPeer(seat.Self()),
		notes: make(chan Event, notesRoom),
	}
	for _, p := range seat.Others() {
		c.others = append(c.others, cleanPeer(p))
	}
	c.here = 1 + len(c.others)
	c.invite = h.cfg.Invite(c.code)
	if h.cfg.Link != nil {
		c.link = h.cfg.Link(c.code)
	}
	timeout := h.cfg.IdleTimeout
	c.idle = startIdle(timeout,
		func(left time.Duration) { c.note(Event{Kind: Warned, Text: idleWarningText(left), Wait: left}) },
		func() { c.note(Event{Kind: Ended, Text: idleEndText(timeout)}) })
	return c
}

func cleanPeer(p Peer) Peer {
	p.Name = clean.Name(p.Name, MaxName)
	p.Badge = clean.Name(p.Badge, MaxName)
	return p
}

// notesRoom is what Notes holds: a warning and an end always fit, whatever
// pictures of one's own wait beside them.
const notesRoom = 8

func (c *Conv) note(ev Event) {
	if ev.Kind == Pictured && len(c.notes) >= notesRoom-2 {
		return // the echo of one's own picture is what gives way
	}
	select {
	case c.notes <- ev:
	default: // one of each kind is already waiting
	}
}

// Code is the room's code as people are shown it.
func (c *Conv) Code() string { return c.code }

// Tag names the room in logs without naming its code.
func (c *Conv) Tag() string { return rooms.Tag(c.seat.Code()) }

// Seats is how many the room holds.
func (c *Conv) Seats() int { return c.seat.Seats() }

// Self is this person as the others see them.
func (c *Conv) Self() Peer { return c.self }

// Others lists who was here when this person arrived; later arrivals and
// departures come as events.
func (c *Conv) Others() []Peer { return c.others }

// Open reports whether the room has a free seat, as far as events tell.
func (c *Conv) Open() bool { return c.here < c.seat.Seats() }

// Invite is the ssh command that joins this room.
func (c *Conv) Invite() string { return c.invite }

// Link is the web page that joins this room; "" without one.
func (c *Conv) Link() string { return c.link }

// Fade is the fade schedule for this conversation's text.
func (c *Conv) Fade() Fade { return c.h.Fade() }

// Ready is signalled when Drain has something from the room.
func (c *Conv) Ready() <-chan struct{} { return c.seat.Ready() }

// Notes delivers what the conversation itself says: the idle warning, the
// end when idleness lets the person go, and pictures this person sent
// (from wherever they sent them).
func (c *Conv) Notes() <-chan Event { return c.notes }

// Drain appends what happened in the room since the last Drain to buf.
// An Ended event is the last it ever gives.
func (c *Conv) Drain(buf []Event) []Event {
	c.room = c.seat.Drain(c.room[:0])
	for _, ev := range c.room {
		e := Event{Peer: ev.Peer, Text: ev.Text}
		switch ev.Kind {
		case rooms.Joined:
			e.Kind, e.Peer = Joined, cleanPeer(ev.Peer)
			c.here++
		case rooms.Left:
			e.Kind, e.Peer = Left, cleanPeer(ev.Peer)
			c.here--
		case rooms.Typed:
			e.Kind = Typed
		case rooms.Newline:
			e.Kind = Newline
		case rooms.Ended:
			e.Kind, e.Text = Ended, goodbye(c.seat.Err())
		case rooms.Pictured:
			if !c.picture(&e, ev.Text) {
				continue
			}
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
	said, h := c.speak.Type(text, now)
	return said, h.String()
}

// Newline starts a new line; ok is false when the rules held it back.
func (c *Conv) Newline(now time.Time) (ok bool, hint string) {
	ok, h := c.speak.Newline(now)
	return ok, h.String()
}

// Paste sends a paste, or one piece of it when more follow (a page sends
// a long paste in pieces); the pieces count as one paste. said has "\n"
// where a line break was sent.
func (c *Conv) Paste(text string, more bool, now time.Time) (said, hint string) {
	said, h := c.speak.Piece(text, more, now)
	return said, h.String()
}

// Leave gives up the seat because the person asked to, and returns the
// goodbye to show them: a line, or two ("\n" between) when the room is
// still open.
func (c *Conv) Leave() string {
	c.seat.Leave()
	if c.here > 1 {
		return LeftText + "\n" + stillOpenText + c.Invite()
	}
	return LeftText
}

// Close ends the conversation and gives back every place it held. The
// front end calls it once it has shown its goodbye.
func (c *Conv) Close() {
	c.closed.Do(func() {
		c.idle.stop()
		c.seat.Leave()
		c.h.mu.Lock()
		delete(c.h.convs, c)
		if c.token != "" {
			delete(c.h.tokens, c.token)
		}
		c.h.mu.Unlock()
		c.done()
	})
}
