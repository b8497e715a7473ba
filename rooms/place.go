package rooms

// Carrier is how a seat's room carries what its member does. Each
// registry has its own: one room in memory, or a room spread over nodes.
type Carrier interface {
	// Carry gives ev, from this seat, to everyone else in the room.
	Carry(ev Event)
	// Vacate takes this seat out of the room once its member has left.
	Vacate()
	// CarryTo gives ev, from this seat, to the member with ID to alone.
	CarryTo(to int, ev Event)
	// SetLocked locks or unlocks the room, telling the others.
	SetLocked(on bool) error
	// Decide lets knock id in or turns it away.
	Decide(id int, let bool) error
}

// Place is the part of a Seat every registry shares: what the seat knows
// of itself, its queue, and the checks around typing and leaving. A
// registry embeds it in its seat and says, through a Carrier, how events
// leave the seat.
type Place struct {
	*queue  // Ready, Drain, Err and End
	code    string
	seats   int
	self    Peer
	others  []Peer
	carrier Carrier
	counts  *Counts
}

// NewPlace returns the place of self in the room code of seats seats,
// where others were already seated. Events others send it that its full
// queue drops are counted in counts.
func NewPlace(code string, seats int, self Peer, others []Peer, c Carrier, counts *Counts) Place {
	return Place{queue: newQueue(), code: code, seats: seats, self: self, others: others, carrier: c, counts: counts}
}

func (p *Place) Code() string   { return p.code }
func (p *Place) Seats() int     { return p.seats }
func (p *Place) Self() Peer     { return p.self }
func (p *Place) Others() []Peer { return p.others }

// Deliver queues ev for this seat's member, counting it if the queue was
// too full to take it.
func (p *Place) Deliver(ev Event) {
	if !p.push(ev) {
		p.counts.Dropped()
	}
}

// Type implements Seat.
func (p *Place) Type(text string) error {
	if err := p.Err(); err != nil {
		return err
	}
	if text != "" {
		p.carrier.Carry(Event{Kind: Typed, Peer: p.self, Text: text})
	}
	return nil
}

// Newline implements Seat.
func (p *Place) Newline() error {
	if err := p.Err(); err != nil {
		return err
	}
	p.carrier.Carry(Event{Kind: Newline, Peer: p.self})
	return nil
}

// Picture implements Seat.
func (p *Place) Picture(encoded string) error {
	if err := p.Err(); err != nil {
		return err
	}
	p.carrier.Carry(Event{Kind: Pictured, Peer: p.self, Text: encoded})
	return nil
}

// Tell implements Seat.
func (p *Place) Tell(to int, text string) error {
	if err := p.Err(); err != nil {
		return err
	}
	p.carrier.CarryTo(to, Event{Kind: Told, Peer: p.self, Text: text})
	return nil
}

// Lock implements Seat.
func (p *Place) Lock(on bool) error {
	if err := p.Err(); err != nil {
		return err
	}
	if p.seats <= 2 {
		return ErrNeverLocked
	}
	return p.carrier.SetLocked(on)
}

// Answer implements Seat.
func (p *Place) Answer(id int, let bool) error {
	if err := p.Err(); err != nil {
		return err
	}
	return p.carrier.Decide(id, let)
}

// Let tells a knock it was let in: members is who it joins, each as a
// Joined event, then Let (its Text "locked" while the room is).
func (p *Place) Let(members []Peer, locked bool) {
	for _, m := range members {
		p.Deliver(Event{Kind: Joined, Peer: m})
	}
	ev := Event{Kind: Let, Peer: p.self}
	if locked {
		ev.Text = LetLocked
	}
	p.Deliver(ev)
}

// LetLocked is a Let event's Text when the room is locked.
const LetLocked = "locked"

// Leave implements Seat.
func (p *Place) Leave() {
	if p.queue.leave() {
		p.carrier.Vacate()
	}
}

// FreeColor is the colour for a newcomer with ID id: the lowest palette
// index none of members has (color says a member's), or, when all are
// taken, one that follows the IDs round the palette.
func FreeColor[M any](members []M, color func(M) int, id int) int {
	var used [Palette]bool
	for _, m := range members {
		used[color(m)%Palette] = true
	}
	for c, u := range used {
		if !u {
			return c
		}
	}
	return id % Palette
}
