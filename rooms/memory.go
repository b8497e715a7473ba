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

// codeTries bounds how often Open draws a new code after a collision. With
// 48 random bits one collision is already rare; eight in a row means the
// code space is broken, not busy.
const codeTries = 8

// Memory is a Registry held in this process. Rooms vanish when the process
// does, which is the point.
type Memory struct {
	codes  *Codes
	counts Counts

	// mu guards rooms and closed. It may be taken inside a room's lock
	// (sit checks closed there), never the other way round.
	mu     sync.Mutex
	rooms  map[string]*room
	closed error // non-nil once Close was called
}

// NewMemory returns an empty registry issuing codes from codes.
func NewMemory(codes *Codes) *Memory {
	return &Memory{codes: codes, rooms: make(map[string]*room)}
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
	*Queue // Ready, Drain and Err come from here
	room   *room
	self   Peer
	others []Peer
}

// Open implements Registry.
func (r *Memory) Open(ctx context.Context, seats int, m Member) (Seat, error) {
	if seats < 1 {
		return nil, fmt.Errorf("rooms: %d seats", seats)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for range codeTries {
		code, err := r.codes.New()
		if err != nil {
			return nil, err
		}
		rm := &room{reg: r, code: code, seats: seats}
		r.mu.Lock()
		closed, taken := r.closed, r.rooms[code] != nil
		if closed == nil && !taken {
			r.rooms[code] = rm
		}
		r.mu.Unlock()
		switch {
		case closed != nil:
			return nil, ErrClosed
		case !taken:
			return rm.sit(m)
		}
	}
	return nil, fmt.Errorf("rooms: no free code after %d tries", codeTries)
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
	r.mu.Lock()
	rm, closed := r.rooms[code], r.closed
	r.mu.Unlock()
	switch {
	case closed != nil:
		return nil, ErrClosed
	case rm == nil:
		return nil, ErrNoRoom
	}
	return rm.sit(m)
}

// Stats implements Registry.
func (r *Memory) Stats() Stats { return r.counts.Stats() }

// Close implements Registry.
func (r *Memory) Close(cause error) {
	if cause == nil {
		cause = ErrClosed
	}
	r.mu.Lock()
	if r.closed != nil {
		r.mu.Unlock()
		return
	}
	r.closed = cause
	open := make([]*room, 0, len(r.rooms))
	for _, rm := range r.rooms {
		open = append(open, rm)
	}
	r.mu.Unlock()
	for _, rm := range open {
		rm.mu.Lock()
		members := append([]*seat(nil), rm.members...)
		rm.mu.Unlock()
		for _, s := range members {
			s.end(cause)
		}
	}
}

func (rm *room) sit(m Member) (Seat, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	// Close may have run since Open or Join looked: checked under the room
	// lock, a seat is either refused here or seated before Close lists this
	// room's members, so Close always ends it.
	rm.reg.mu.Lock()
	closed := rm.reg.closed != nil
	rm.reg.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case rm.closed:
		return nil, ErrNoRoom
	case len(rm.members) >= rm.seats:
		return nil, ErrFull
	}
	rm.nextID++
	s := &seat{
		Queue: NewQueue(),
		room:  rm,
		self:  Peer{Member: m, ID: rm.nextID, Color: rm.freeColor()},
	}
	for _, o := range rm.members {
		s.others = append(s.others, o.self)
		o.push(Event{Kind: Joined, Peer: s.self})
	}
	rm.members = append(rm.members, s)
	rm.reg.counts.Resize(len(rm.members)-1, len(rm.members))
	return s, nil
}

func (rm *room) freeColor() int {
	var used [Palette]bool
	for _, o := range rm.members {
		used[o.self.Color%Palette] = true
	}
	for c, u := range used {
		if !u {
			return c
		}
	}
	return rm.nextID % Palette
}

// send fans ev out to everyone but from. It holds the room lock only for the
// appends: no member's reader can slow it.
func (rm *room) send(from *seat, ev Event) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, o := range rm.members {
		if o != from {
			o.push(ev)
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
		o.push(Event{Kind: Left, Peer: s.self})
	}
	empty := len(rm.members) == 0
	if empty {
		rm.closed = true
	}
	rm.mu.Unlock()
	if empty {
		rm.reg.mu.Lock()
		delete(rm.reg.rooms, rm.code)
		rm.reg.mu.Unlock()
	}
}

func (s *seat) push(ev Event) {
	if !s.Push(ev) {
		s.room.reg.counts.Dropped()
	}
}

// end closes the seat with cause; the member learns it from an Ended
// event, the others see it leave.
func (s *seat) end(cause error) {
	if s.End(cause, s.self) {
		s.room.remove(s)
	}
}

func (s *seat) Code() string   { return s.room.code }
func (s *seat) Seats() int     { return s.room.seats }
func (s *seat) Self() Peer     { return s.self }
func (s *seat) Others() []Peer { return s.others }

func (s *seat) Type(text string) error {
	if err := s.Err(); err != nil {
		return err
	}
	if text != "" {
		s.room.send(s, Event{Kind: Typed, Peer: s.self, Text: text})
	}
	return nil
}

func (s *seat) Newline() error {
	if err := s.Err(); err != nil {
		return err
	}
	s.room.send(s, Event{Kind: Newline, Peer: s.self})
	return nil
}

func (s *seat) Picture(encoded string) error {
	if err := s.Err(); err != nil {
		return err
	}
	s.room.send(s, Event{Kind: Pictured, Peer: s.self, Text: encoded})
	return nil
}

func (s *seat) Leave() {
	if s.Queue.Leave() {
		s.room.remove(s)
	}
}
