package rooms

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// QueueLimit bounds the events waiting for one member. A member whose program
// falls this far behind loses typed text, never anyone else's time.
const QueueLimit = 4096

// Palette is how many lane colours there are.
const Palette = 8

// Memory is a Registry held in this process. Rooms vanish when the process
// does, which is the point.
type Memory struct {
	codes   *Codes
	dropped atomic.Uint64

	// OnFanOut, if set before the registry is used, is told after each
	// Seat.Type how many others the text was queued for and how long that
	// took. Nil costs nothing.
	OnFanOut func(recipients int, d time.Duration)

	mu    sync.Mutex
	rooms map[string]*room
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
	room   *room
	self   Peer
	others []Peer
	ready  chan struct{}

	mu    sync.Mutex
	queue []Event
	left  bool
}

// Open implements Registry.
func (r *Memory) Open(seats int, m Member) (Seat, error) {
	if seats < 1 {
		return nil, fmt.Errorf("rooms: %d seats", seats)
	}
	code, err := r.codes.New()
	if err != nil {
		return nil, err
	}
	rm := &room{reg: r, code: code, seats: seats}
	r.mu.Lock()
	r.rooms[code] = rm
	r.mu.Unlock()
	return rm.sit(m)
}

// Join implements Registry.
func (r *Memory) Join(code string, m Member) (Seat, error) {
	code, err := r.codes.Parse(code)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	rm := r.rooms[code]
	r.mu.Unlock()
	if rm == nil {
		return nil, ErrNoRoom
	}
	return rm.sit(m)
}

// Stats implements Registry.
func (r *Memory) Stats() Stats {
	r.mu.Lock()
	rooms := make([]*room, 0, len(r.rooms))
	for _, rm := range r.rooms {
		rooms = append(rooms, rm)
	}
	r.mu.Unlock()
	s := Stats{BySize: make(map[int]int), Dropped: r.dropped.Load()}
	for _, rm := range rooms {
		rm.mu.Lock()
		n := len(rm.members)
		rm.mu.Unlock()
		if n == 0 {
			continue
		}
		s.Rooms++
		s.Members += n
		s.BySize[n]++
	}
	return s
}

func (rm *room) sit(m Member) (Seat, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	switch {
	case rm.closed:
		return nil, ErrNoRoom
	case len(rm.members) >= rm.seats:
		return nil, ErrFull
	}
	rm.nextID++
	s := &seat{
		room:  rm,
		self:  Peer{Member: m, ID: rm.nextID, Color: rm.freeColor()},
		ready: make(chan struct{}, 1),
	}
	for _, o := range rm.members {
		s.others = append(s.others, o.self)
		o.push(Event{Kind: Joined, Peer: s.self})
	}
	rm.members = append(rm.members, s)
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
func (rm *room) send(from *seat, ev Event) (recipients int) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, o := range rm.members {
		if o != from {
			o.push(ev)
			recipients++
		}
	}
	return recipients
}

func (rm *room) leave(s *seat) {
	rm.mu.Lock()
	for i, o := range rm.members {
		if o == s {
			rm.members = append(rm.members[:i], rm.members[i+1:]...)
			break
		}
	}
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
	s.mu.Lock()
	if s.left || (len(s.queue) >= QueueLimit && ev.Kind == Typed) {
		s.mu.Unlock()
		if !s.left {
			s.room.reg.dropped.Add(1)
		}
		return
	}
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *seat) Code() string           { return s.room.code }
func (s *seat) Seats() int             { return s.room.seats }
func (s *seat) Self() Peer             { return s.self }
func (s *seat) Others() []Peer         { return s.others }
func (s *seat) Ready() <-chan struct{} { return s.ready }

func (s *seat) Drain(buf []Event) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf = append(buf, s.queue...)
	clear(s.queue)
	if cap(s.queue) > 64 {
		s.queue = nil // give back a burst's memory
	} else {
		s.queue = s.queue[:0]
	}
	return buf
}

func (s *seat) Type(text string) {
	if text == "" {
		return
	}
	ev := Event{Kind: Typed, Peer: s.self, Text: text}
	if f := s.room.reg.OnFanOut; f != nil {
		start := time.Now()
		n := s.room.send(s, ev)
		f(n, time.Since(start))
		return
	}
	s.room.send(s, ev)
}

func (s *seat) Break() { s.room.send(s, Event{Kind: Broke, Peer: s.self}) }

func (s *seat) Leave() {
	s.mu.Lock()
	if s.left {
		s.mu.Unlock()
		return
	}
	s.left = true
	s.queue = nil
	s.mu.Unlock()
	s.room.leave(s)
}
