package talk

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
)

// AskFor is how long an ask for a private room waits for an answer.
const AskFor = 30 * time.Second

// AsksWaiting is how many asks may wait on one person at once.
const AsksWaiting = 3

// What one conversation in the lobby tells another (rooms.Seat.Tell).
// Anything else is ignored.
const (
	tellAsk     = "ask"
	tellCancel  = "cancel"
	tellDecline = "decline"
	tellBusy    = "busy"
	tellAccept  = "accept " // and the room's code
)

// lobby is one person's asks, made and waiting, and whom they ignore.
// Asks are kept where they are made and where they wait: nothing about
// them is stored anywhere else.
type lobby struct {
	mu      sync.Mutex
	asking  *ask            // this person's open ask, if any
	asked   []*ask          // asks waiting on this person, oldest first
	ignored map[string]bool // by who(): hidden text, dropped asks
	stopped bool
}

type ask struct {
	peer  Peer
	timer *time.Timer
}

// who names a person for as long as they keep their key: their handle and
// badge (a guest's handle is new each visit).
func who(p Peer) string { return p.Name + "\x00" + p.Badge }

// ignores reports whether the person ignores p.
func (l *lobby) ignores(p Peer) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ignored[who(p)]
}

// Ask asks p for a private room. The events say what the person sees now:
// Asking, or a Notice when the ask may not be made.
func (c *Conv) Ask(ctx context.Context, p Peer) []Event {
	l := c.lobby.Load()
	if l == nil || p.ID == c.Self().ID {
		return nil
	}
	p = cleanPeer(p)
	l.mu.Lock()
	if l.asking != nil && l.asking.peer.ID == p.ID {
		l.mu.Unlock()
		return nil // asking them already
	}
	l.mu.Unlock()
	if c.conn != nil {
		if err := c.conn.Ask(ctx, who(p), p.Name); err != nil {
			// Refused: the ask already open, if any, stays open.
			return []Event{{Kind: Notice, Text: err.Error()}}
		}
	}
	evs := c.Cancel() // one open ask at a time: a new one replaces it
	if err := c.place().seat.Tell(p.ID, tellAsk); err != nil {
		return evs
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return evs
	}
	a := &ask{peer: p}
	a.timer = time.AfterFunc(c.h.cfg.AskFor, func() {
		if l.end(c, a, true) {
			c.unanswered(a)
			c.note(Event{Kind: NoAnswer, Peer: p, Text: noAnswerText(p.Name)})
		}
	})
	l.asking = a
	return append(evs, Event{Kind: Asking, Peer: p, Text: askingText(p.Name), Wait: c.h.cfg.AskFor})
}

// Cancel withdraws this person's open ask, if any: it reads as no answer.
func (c *Conv) Cancel() []Event {
	l := c.lobby.Load()
	if l == nil {
		return nil
	}
	l.mu.Lock()
	a := l.asking
	l.mu.Unlock()
	if a == nil || !l.end(c, a, true) {
		return nil
	}
	c.unanswered(a)
	return []Event{{Kind: NoAnswer, Peer: a.peer, Text: noAnswerText(a.peer.Name)}}
}

// end closes the ask a of c's person, if still open, telling the person
// asked (tell) that it waits no more. It reports whether it closed it.
func (l *lobby) end(c *Conv, a *ask, tell bool) bool {
	l.mu.Lock()
	if l.asking != a {
		l.mu.Unlock()
		return false
	}
	l.asking = nil
	a.timer.Stop()
	l.mu.Unlock()
	if tell {
		_ = c.place().seat.Tell(a.peer.ID, tellCancel)
	}
	return true
}

// unanswered counts a that got no answer: asking the same person again
// waits a while.
func (c *Conv) unanswered(a *ask) {
	if c.conn != nil {
		c.conn.NoAnswer(context.Background(), who(a.peer))
	}
}

// Answer accepts or declines p's ask. Accepted, both go to a room for two
// of their own, and the events say so (Moved); declined, the ask ends.
func (c *Conv) Answer(ctx context.Context, p Peer, accept bool) []Event {
	l := c.lobby.Load()
	if l == nil {
		return nil
	}
	a := l.take(p.ID)
	if a == nil {
		return nil // it has gone already
	}
	evs := []Event{{Kind: AskEnded, Peer: a.peer}}
	lobbySeat := c.place().seat
	if !accept || c.pass == nil {
		_ = lobbySeat.Tell(p.ID, tellDecline)
		return evs
	}
	seat, err := c.pass.Open(ctx, admit.OpNew, c.who)
	if err != nil {
		_ = lobbySeat.Tell(p.ID, tellDecline)
		return append(evs, Event{Kind: Notice, Text: c.h.refused(err, "lobby", c.conn).Text})
	}
	_ = lobbySeat.Tell(p.ID, tellAccept+seat.Code())
	return append(evs, c.move(seat, a.peer))
}

// take removes and returns the ask waiting from id, if any.
func (l *lobby) take(id int) *ask {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, a := range l.asked {
		if a.peer.ID == id {
			a.timer.Stop()
			l.asked = append(l.asked[:i], l.asked[i+1:]...)
			return a
		}
	}
	return nil
}

// Ignore hides p's lobby text from this person and drops p's asks, for
// the rest of the session.
func (c *Conv) Ignore(p Peer) []Event {
	l := c.lobby.Load()
	if l == nil || p.ID == c.Self().ID {
		return nil
	}
	l.mu.Lock()
	l.ignored[who(cleanPeer(p))] = true
	l.mu.Unlock()
	var evs []Event
	if a := l.take(p.ID); a != nil {
		evs = append(evs, Event{Kind: AskEnded, Peer: a.peer})
	}
	return evs
}

// Ignored reports whether this person ignores p.
func (c *Conv) Ignored(p Peer) bool { l := c.lobby.Load(); return l != nil && l.ignores(p) }

// move leaves the lobby for seat, a room for two with p.
func (c *Conv) move(seat rooms.Seat, p Peer) Event {
	if l := c.lobby.Swap(nil); l != nil {
		l.stop(c)
	}
	old := c.place()
	np := c.h.place(seat)
	c.at.Store(np)
	old.seat.Leave()
	c.h.log.Info("moved", "room", rooms.Tag(seat.Code()), "from", "lobby")
	return Event{Kind: Moved, Peer: p, Text: movedText(p.Name)}
}

// told handles what another conversation in the lobby told this one. moved
// reports that the person left the lobby for a room: what else the lobby
// had waiting is dropped.
func (l *lobby) told(c *Conv, from Peer, text string, buf []Event) (_ []Event, moved bool) {
	switch {
	case text == tellAsk:
		return l.asked1(c, from, buf), false
	case text == tellCancel:
		if a := l.take(from.ID); a != nil {
			buf = append(buf, Event{Kind: AskEnded, Peer: a.peer})
		}
	case text == tellDecline, text == tellBusy:
		l.mu.Lock()
		a := l.asking
		l.mu.Unlock()
		if a == nil || a.peer.ID != from.ID || !l.end(c, a, false) {
			break
		}
		if text == tellBusy {
			c.h.Refused(admit.AskBusy)
			r := &admit.Refusal{Reason: admit.AskBusy, Name: a.peer.Name}
			return append(buf, Event{Kind: Notice, Peer: a.peer, Text: r.Error()}), false
		}
		c.unanswered(a)
		buf = append(buf, Event{Kind: NoAnswer, Peer: a.peer, Text: noAnswerText(a.peer.Name)})
	case strings.HasPrefix(text, tellAccept):
		l.mu.Lock()
		a := l.asking
		ok := a != nil && a.peer.ID == from.ID
		if ok {
			l.asking = nil
			a.timer.Stop()
		}
		l.mu.Unlock()
		if !ok {
			break // withdrawn meanwhile: the other sits alone, with the code
		}
		code := strings.TrimPrefix(text, tellAccept)
		seat, err := c.join(code)
		if err != nil {
			c.unanswered(a)
			return append(buf, Event{Kind: NoAnswer, Peer: a.peer, Text: noAnswerText(a.peer.Name)}), false
		}
		if c.conn != nil {
			c.conn.Accepted()
		}
		return append(buf, c.move(seat, a.peer)), true
	}
	return buf, false
}

// join takes the seat an accepted ask opened.
func (c *Conv) join(code string) (rooms.Seat, error) {
	if c.pass == nil {
		return nil, rooms.ErrNoRoom
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinFor)
	defer cancel()
	return c.pass.Meet(ctx, code, c.who)
}

// joinFor bounds joining the room an accepted ask opened.
const joinFor = 10 * time.Second

// asked1 takes an ask from p, unless p is ignored (dropped without a
// word: it reads as no answer) or too many wait already.
func (l *lobby) asked1(c *Conv, p Peer, buf []Event) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || l.ignored[who(p)] {
		return buf
	}
	for _, a := range l.asked {
		if a.peer.ID == p.ID {
			return buf
		}
	}
	if len(l.asked) >= AsksWaiting {
		_ = c.place().seat.Tell(p.ID, tellBusy)
		return buf
	}
	a := &ask{peer: p}
	a.timer = time.AfterFunc(c.h.cfg.AskFor, func() {
		if l.take(p.ID) != nil {
			c.note(Event{Kind: AskEnded, Peer: p})
		}
	})
	l.asked = append(l.asked, a)
	return append(buf, Event{Kind: Asked, Peer: p, Text: askedText(p.Name), Wait: c.h.cfg.AskFor})
}

// left handles p leaving the lobby: their ask to this person ends, and
// this person's ask to them reads as no answer.
func (l *lobby) left(c *Conv, p Peer, buf []Event) []Event {
	if a := l.take(p.ID); a != nil {
		buf = append(buf, Event{Kind: AskEnded, Peer: a.peer})
	}
	l.mu.Lock()
	a := l.asking
	l.mu.Unlock()
	if a != nil && a.peer.ID == p.ID && l.end(c, a, false) {
		c.unanswered(a)
		buf = append(buf, Event{Kind: NoAnswer, Peer: a.peer, Text: noAnswerText(a.peer.Name)})
	}
	return buf
}

// stop ends every ask: the person is leaving the lobby. Their own ask is
// withdrawn; asks waiting on them are declined.
func (l *lobby) stop(c *Conv) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	mine, waiting := l.asking, l.asked
	l.asking, l.asked = nil, nil
	l.mu.Unlock()
	seat := c.place().seat
	if mine != nil {
		mine.timer.Stop()
		_ = seat.Tell(mine.peer.ID, tellCancel)
	}
	for _, a := range waiting {
		a.timer.Stop()
		_ = seat.Tell(a.peer.ID, tellDecline)
	}
}
