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

	lobbyMu sync.Mutex
	lobby   *room // made on first use; lives as long as the registry
}

// NewMemory returns an empty registry issuing codes from codes.
func NewMemory(codes *Codes) *Memory {
	return &Memory{codes: codes, table: NewTable[*room]()}
}

type room struct {
	reg   *Memory
	code  string
	seats int
	lobby bool // the lobby: never ends, counted apart

	mu      sync.Mutex
	members []*seat
	door    []*seat // knocks waiting, oldest first
	nextID  int
	closed  bool
	locked  bool
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
	rm, err := r.find(ctx, code)
	if err != nil {
		return nil, err
	}
	return rm.sit(m)
}

// find is the open room code (as typed) names.
func (r *Memory) find(ctx context.Context, code string) (*room, error) {
	code, err := r.codes.Parse(code)
	if err != nil {
		return nil, err
	}
	if err := r.taking(ctx); err != nil {
		return nil, err
	}
	rm, ok := r.table.Get(code)
	if !ok {
		return nil, ErrNoRoom
	}
	return rm, nil
}

// taking reports why nobody may take a seat now: ctx ended, or the
// registry closed.
func (r *Memory) taking(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.table.Closed() != nil {
		return ErrClosed
	}
	return nil
}

// Lobby implements Registry.
func (r *Memory) Lobby(ctx context.Context, size int, m Member) (Seat, error) {
	if err := r.taking(ctx); err != nil {
		return nil, err
	}
	r.lobbyMu.Lock()
	if r.lobby == nil {
		r.lobby = &room{reg: r, code: LobbyCode, seats: size, lobby: true}
	}
	lobby := r.lobby
	r.lobbyMu.Unlock()
	return lobby.sit(m)
}

// Knock implements Registry.
func (r *Memory) Knock(ctx context.Context, code string, m Member) (Seat, error) {
	rm, err := r.find(ctx, code)
	if err != nil {
		return nil, err
	}
	return rm.knock(m)
}

// Stats implements Registry.
func (r *Memory) Stats() Stats { return r.counts.Stats() }

// Close implements Registry.
func (r *Memory) Close(cause error) {
	r.table.Close(cause, func(rm *room, cause error) {
		rm.mu.Lock()
		members := append(append([]*seat(nil), rm.members...), rm.door...)
		rm.mu.Unlock()
		for _, s := range members {
			s.end(cause)
		}
	})
	r.lobbyMu.Lock()
	lobby := r.lobby
	r.lobbyMu.Unlock()
	if lobby != nil {
		lobby.mu.Lock()
		members := append([]*seat(nil), lobby.members...)
		lobby.mu.Unlock()
		for _, s := range members {
			s.end(r.table.Closed())
		}
	}
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
	case rm.locked:
		return nil, ErrLocked
	case len(rm.members) >= rm.seats:
		return nil, ErrFull
	}
	rm.nextID++
	self := Peer{Member: m, ID: rm.nextID, Color: FreeColor(rm.members, (*seat).color, rm.nextID)}
	s := &seat{room: rm}
	s.Place = NewPlace(rm.code, rm.seats, self, rm.seat(self), s, &rm.reg.counts)
	rm.members = append(rm.members, s)
	rm.resized(len(rm.members) - 1)
	return s, nil
}

// seat tells the members self arrived and lists them for it. rm.mu held.
func (rm *room) seat(self Peer) []Peer {
	others := make([]Peer, 0, len(rm.members))
	for _, o := range rm.members {
		others = append(others, o.Self())
		o.Deliver(Event{Kind: Joined, Peer: self})
	}
	return others
}

// resized counts the room as grown or shrunk from members. rm.mu held.
func (rm *room) resized(from int) {
	if rm.lobby {
		rm.reg.counts.Lobby(len(rm.members) - from)
		return
	}
	rm.reg.counts.Resize(from, len(rm.members))
}

// knock puts m at the door of a locked room.
func (rm *room) knock(m Member) (Seat, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	switch {
	case rm.reg.table.Closed() != nil:
		return nil, ErrClosed
	case rm.closed:
		return nil, ErrNoRoom
	case !rm.locked:
		return nil, ErrNotLocked
	case len(rm.door) >= DoorLimit:
		return nil, ErrDoorFull
	}
	rm.nextID++
	self := Peer{Member: m, ID: rm.nextID}
	s := &seat{room: rm}
	s.Place = NewPlace(rm.code, rm.seats, self, nil, s, &rm.reg.counts)
	rm.door = append(rm.door, s)
	for _, o := range rm.members {
		o.Deliver(Event{Kind: Knocked, Peer: self})
	}
	return s, nil
}

// CarryTo implements Carrier.
func (s *seat) CarryTo(to int, ev Event) {
	rm := s.room
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !rm.member(s) {
		return
	}
	for _, o := range rm.members {
		if o.Self().ID == to {
			o.Deliver(ev)
			return
		}
	}
}

// SetLocked implements Carrier.
func (s *seat) SetLocked(on bool) error {
	rm := s.room
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !rm.member(s) {
		return ErrLocked // a knock cannot lock the door it waits at
	}
	if rm.lobby {
		return ErrNeverLocked
	}
	if rm.locked == on {
		return nil
	}
	rm.locked = on
	kind := Unlocked
	if on {
		kind = Locked
	}
	for _, o := range rm.members {
		if o != s {
			o.Deliver(Event{Kind: kind, Peer: s.Self()})
		}
	}
	return nil
}

// member reports whether s is seated in rm (not at its door). rm.mu held.
func (rm *room) member(s *seat) bool {
	for _, o := range rm.members {
		if o == s {
			return true
		}
	}
	return false
}

// Decide implements Carrier.
func (s *seat) Decide(id int, let bool) error {
	rm := s.room
	rm.mu.Lock()
	if !rm.member(s) {
		rm.mu.Unlock()
		return ErrLocked
	}
	var k *seat
	for i, o := range rm.door {
		if o.Self().ID == id {
			k = o
			rm.door = append(rm.door[:i], rm.door[i+1:]...)
			break
		}
	}
	if k == nil {
		rm.mu.Unlock()
		return nil // answered already, or gone
	}
	for _, o := range rm.members {
		o.Deliver(Event{Kind: KnockEnded, Peer: k.Self()})
	}
	var cause error = ErrTurnedAway
	if let {
		cause = ErrFull
		if len(rm.members) < rm.seats {
			self := k.Self()
			self.Color = FreeColor(rm.members, (*seat).color, self.ID)
			k.Place.self = self
			k.Let(rm.seat(self), rm.locked)
			rm.members = append(rm.members, k)
			rm.resized(len(rm.members) - 1)
			cause = nil
		}
	}
	rm.mu.Unlock()
	if cause != nil {
		k.End(cause, k.Self())
	}
	return nil
}

// send fans ev out to everyone but from. It holds the room lock only for the
// appends: no member's reader can slow it.
func (rm *room) send(from *seat, ev Event) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !rm.member(from) {
		return // a knock says nothing to the room
	}
	for _, o := range rm.members {
		if o != from {
			o.Deliver(ev)
		}
	}
}

// remove takes s out of the room and tells the others it left.
func (rm *room) remove(s *seat) {
	rm.mu.Lock()
	for i, o := range rm.door {
		if o == s {
			rm.door = append(rm.door[:i], rm.door[i+1:]...)
			for _, m := range rm.members {
				m.Deliver(Event{Kind: KnockEnded, Peer: s.Self()})
			}
			rm.mu.Unlock()
			return
		}
	}
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
	rm.resized(len(rm.members) + 1)
	for _, o := range rm.members {
		o.Deliver(Event{Kind: Left, Peer: s.Self()})
	}
	var door []*seat
	empty := len(rm.members) == 0 && !rm.lobby
	if empty {
		rm.closed = true
		door, rm.door = rm.door, nil
	}
	rm.mu.Unlock()
	if empty {
		rm.reg.table.Do(func(open map[string]*room, _ error) { delete(open, rm.code) })
		for _, k := range door {
			k.End(ErrTurnedAway, k.Self())
		}
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
