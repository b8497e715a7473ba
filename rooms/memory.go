package rooms

import (
	"context"
	"fmt"
	"sync"
)

// QueueLimit bounds the events waiting for one member. A member whose program
// falls this far behind loses typed text and newlines, never anyone else's
// time; arrivals and departures still get through.
const QueueLimit = 4096

// Memory is a Registry held in this process. Rooms vanish when the process
// does, which is the point.
//
// Lock order: a room's mu, then the table's (sit checks closed there),
// never the other way round; Counts takes no other.
type Memory struct {
	codes  *Codes
	counts Counts
	table  *Table[*room]
}

// NewMemory returns an empty registry issuing codes from codes.
func NewMemory(codes *Codes) *Memory {
	return &Memory{codes: codes, table: NewTable[*room]()}
}

type room struct {
	reg   *Memory
	code  string
	seats int

	mu      sync.Mutex
	members []*seat
	nextID  int
	closed  bool
}

type seat struct {
	Place // Code, Seats, Self, Others, Type, Newline, Picture, Leave; Ready, Drain, Err
	room  *room
}

// Open implements Registry.
func (r *Memory) Open(ctx context.Context, seats int, m Member) (Seat, error) {
	if seats < 1 {
		return nil, fmt.Errorf("rooms: %d seats", seats)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r.codes.Draw(func(code string) (Seat, error) {
		rm := &room{reg: r, code: code, seats: seats}
		var err error
		r.table.Do(func(open map[string]*room, closed error) {
			switch {
			case closed != nil:
				err = ErrClosed
			case open[code] != nil:
				err = ErrCodeTaken
			default:
				open[code] = rm
			}
		})
		if err != nil {
			return nil, err
		}
		return rm.sit(m)
	})
}

// Join implements Registry.
func (r *Memory) Join(ctx context.Context, code string, m Member) (Seat, error) {
	code, err := r.codes.Parse(code)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.table.Closed() != nil {
		return nil, ErrClosed
	}
	rm, ok := r.table.Get(code)
	if !ok {
		return nil, ErrNoRoom
	}
	return rm.sit(m)
}

// Stats implements Registry.
func (r *Memory) Stats() Stats { return r.counts.Stats() }

// Close implements Registry.
func (r *Memory) Close(cause error) {
	r.table.Close(cause, func(rm *room, cause error) {
		rm.mu.Lock()
		members := append([]*seat(nil), rm.members...)
		rm.mu.Unlock()
		for _, s := range members {
			s.end(cause)
		}
	})
}

func (rm *room) sit(m Member) (Seat, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	// Close may have run since Open or Join looked: checked under the room
	// lock, a seat is either refused here or seated before Close lists this
	// room's members, so Close always ends it.
	switch {
	case rm.reg.table.Closed() != nil:
		return nil, ErrClosed
	case rm.closed:
		return nil, ErrNoRoom
	case len(rm.members) >= rm.seats:
		return nil, ErrFull
	}
	rm.nextID++
	self := Peer{Member: m, ID: rm.nextID, Color: FreeColor(rm.members, (*seat).color, rm.nextID)}
	others := make([]Peer, 0, len(rm.members))
	for _, o := range rm.members {
		others = append(others, o.Self())
		o.Deliver(Event{Kind: Joined, Peer: self})
	}
	s := &seat{room: rm}
	s.Place = NewPlace(rm.code, rm.seats, self, others, s, &rm.reg.counts)
	rm.members = append(rm.members, s)
	rm.reg.counts.Resize(len(rm.members)-1, len(rm.members))
	return s, nil
}

// send fans ev out to everyone but from. It holds the room lock only for the
// appends: no member's reader can slow it.
func (rm *room) send(from *seat, ev Event) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, o := range rm.members {
		if o != from {
			o.Deliver(ev)
		}
	}
}

// remove takes s out of the room and tells the others it left.
func (rm *room) remove(s *seat) {
	rm.mu.Lock()
	found := false
	for i, o := range rm.members {
		if o == s {
			rm.members = append(rm.members[:i], rm.members[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		rm.mu.Unlock()
		return
	}
	rm.reg.counts.Resize(len(rm.members)+1, len(rm.members))
	for _, o := range rm.members {
		o.Deliver(Event{Kind: Left, Peer: s.Self()})
	}
	empty := len(rm.members) == 0
	if empty {
		rm.closed = true
	}
	rm.mu.Unlock()
	if empty {
		rm.reg.table.Do(func(open map[string]*room, _ error) { delete(open, rm.code) })
	}
}

func (s *seat) color() int { return s.Self().Color }

// end closes the seat with cause; the member learns it from an Ended
// event, the others see it leave.
func (s *seat) end(cause error) {
	if s.End(cause, s.Self()) {
		s.room.remove(s)
	}
}

// Carry implements Carrier.
func (s *seat) Carry(ev Event) { s.room.send(s, ev) }

// Vacate implements Carrier.
func (s *seat) Vacate() { s.room.remove(s) }
