package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// room is this node's part of one room: the members seated here, and
// what it knows of the members seated elsewhere.
type room struct {
	reg   *Registry
	key   string
	lobby bool // the cluster's lobby: never locked, counted apart

	refs int                // guarded by reg.table: seats here plus calls under way
	sub  *nats.Subscription // guarded by reg.table

	// writes serialises this node's changes to the room's record, and
	// holds across their round trips: a member seated here is in the
	// record and in local together, as far as this node can tell.
	writes sync.Mutex

	mu       sync.Mutex
	seats    int
	local    []*seat
	remote   map[int]member          // members seated on other nodes
	departed map[int]bool            // IDs that left: a late word of them changes nothing
	doubt    map[int]rooms.EventKind // what the last check found the record says otherwise (see reconcile)
	unheard  map[int]bool            // local IDs whose arrival some node did not confirm
	locked   bool                    // as the record said when this node last wrote, heard or checked
	lockOdd  bool                    // the last check found the record's lock otherwise
	door     []*seat                 // knocks waiting here, oldest first
	knocks   map[int]member          // knocks waiting on other nodes, as members here were told
	doorOdd  map[int]rooms.EventKind // what the last check found the record's door says otherwise (see checkDoor)
}

// seat is one member's place, held by this node.
type seat struct {
	rooms.Place // Code, Seats, Others, Type, Newline, Picture, Leave; Ready, Drain, Err
	room        *room
	knows       map[int]bool               // guarded by room.mu: who this member knows is here
	let         atomic.Pointer[rooms.Peer] // a knock let in: itself with the colour it got then
}

// Self implements rooms.Seat. A knock has a colour only once let in.
func (s *seat) Self() rooms.Peer {
	if p := s.let.Load(); p != nil {
		return *p
	}
	return s.Place.Self()
}

// subscribe listens to the room's subject; the subscription is registered
// at the server before any record write that follows on the connection.
func (rm *room) subscribe() error {
	r := rm.reg
	has := false
	r.table.Do(func(map[string]*room, error) { has = rm.sub != nil })
	if has {
		return nil
	}
	sub, err := r.nc.ChanSubscribe(subjectPrefix+rm.key, r.inbox)
	if err != nil {
		r.totals.kvErrors.Add(1)
		return fmt.Errorf("%w: subscribe: %w", rooms.ErrUnavailable, err)
	}
	r.table.Do(func(map[string]*room, error) { rm.sub = sub })
	return nil
}

func (rm *room) open(ctx context.Context, code string, seats int, m rooms.Member) (rooms.Seat, error) {
	rm.writes.Lock()
	defer rm.writes.Unlock()
	if err := rm.subscribe(); err != nil {
		return nil, err
	}
	me := asMember(rooms.Peer{Member: m, ID: 1}, rm.reg.leaseKey())
	rec := record{Seats: seats, Last: 1, Members: []member{me}}
	data, _ := json.Marshal(rec)
	if _, err := rm.reg.rooms.Create(ctx, rm.key, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, rooms.ErrCodeTaken
		}
		return nil, rm.reg.unavailable(err)
	}
	return rm.seat(ctx, code, rec, me, nil)
}

func (rm *room) join(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	rm.writes.Lock()
	defer rm.writes.Unlock()
	rec, me, gone, err := rm.take(ctx, m, false, func(rec *record, exists bool) error {
		switch {
		case !exists:
			return rooms.ErrNoRoom
		case rec.Locked:
			return rooms.ErrLocked
		case len(rec.Members) >= rec.Seats:
			return rooms.ErrFull
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rm.seat(ctx, code, rec, me, gone)
}

// take writes m into the room's record, once the record's ghosts are
// stripped and check lets it: as a member, with a free colour, or at the
// door (atDoor). It returns the record written, m as written there, and
// the ghosts it stripped. It subscribes to the room's subject first, so
// nothing said once m is written is missed. Called with rm.writes held.
func (rm *room) take(ctx context.Context, m rooms.Member, atDoor bool, check func(rec *record, exists bool) error) (record, member, []member, error) {
	r := rm.reg
	if err := rm.subscribe(); err != nil {
		return record{}, member{}, nil, err
	}
	var (
		me   member
		gone []member
	)
	rec, err := rm.update(ctx, func(rec *record, exists bool) (bool, error) {
		if exists {
			var err error
			if gone, err = rm.ghosts(ctx, *rec); err != nil {
				return false, r.unavailable(err)
			}
			rec.strip(gone)
		}
		if err := check(rec, exists); err != nil {
			return false, err
		}
		rec.Last++
		p := rooms.Peer{Member: m, ID: rec.Last}
		if atDoor {
			me = asMember(p, r.leaseKey())
			rec.Door = append(rec.Door, me)
			return true, nil
		}
		p.Color = rooms.FreeColor(rec.Members, member.color, rec.Last)
		me = asMember(p, r.leaseKey())
		rec.Members = append(rec.Members, me)
		return true, nil
	})
	return rec, me, gone, err
}

// ghosts lists the record's members and knocks nobody holds: seats this
// process gave up but could not write back, and those of nodes whose
// lease is gone. Called with rm.writes held, so every seat of this
// process is in local or door.
func (rm *room) ghosts(ctx context.Context, rec record) ([]member, error) {
	r := rm.reg
	var gone []member
	alive := map[string]bool{}
	for _, m := range slices.Concat(rec.Members, rec.Door) {
		if r.own(m.Node) {
			if !rm.holds(m.ID, m.Node) {
				gone = append(gone, m)
			}
			continue
		}
		ok, seen := alive[m.Node]
		if !seen {
			var err error
			if ok, err = r.alive(ctx, m.Node); err != nil {
				return nil, err
			}
			alive[m.Node] = ok
		}
		if !ok {
			gone = append(gone, m)
		}
	}
	return gone, nil
}

// holds says whether seat id (a member's or a knock's) is one of this
// node's, under lease key node.
func (rm *room) holds(id int, node string) bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	is := func(s *seat) bool { return s.Self().ID == id }
	return node == rm.reg.leaseKey() && (slices.ContainsFunc(rm.local, is) || slices.ContainsFunc(rm.door, is))
}

// seat seats me, whom rec (just written) holds, here. gone are members
// the write dropped as ghosts. If Close came first, or the node lost its
// lease meanwhile (the others will drop me), the write is undone.
func (rm *room) seat(ctx context.Context, code string, rec record, me member, gone []member) (rooms.Seat, error) {
	r := rm.reg
	rm.mu.Lock()
	if closed, lost := r.table.Closed() != nil, me.Node != r.leaseKey(); closed || lost {
		rm.mu.Unlock()
		rm.tidyLocked(ctx)
		if closed {
			return nil, rooms.ErrClosed
		}
		return nil, fmt.Errorf("%w: lease lost", rooms.ErrUnavailable)
	}
	rm.seats, rm.locked = rec.Seats, rec.Locked
	for _, g := range gone {
		rm.forget(g)
	}
	rm.learn(rec)
	others := make([]rooms.Peer, 0, len(rm.local)+len(rm.remote))
	for _, o := range rm.local {
		others = append(others, o.Self())
	}
	for _, o := range rm.remote {
		others = append(others, o.peer())
	}
	slices.SortFunc(others, func(a, b rooms.Peer) int { return a.ID - b.ID })
	s := &seat{room: rm, knows: make(map[int]bool, len(others))}
	s.Place = rooms.NewPlace(code, rec.Seats, me.peer(), others, s, &r.counts)
	for _, o := range others {
		s.knows[o.ID] = true
	}
	for _, o := range rm.local {
		o.arrived(s.Self())
	}
	rm.local = append(rm.local, s)
	r.table.Do(func(map[string]*room, error) { rm.refs++ }) // the seat's own hold, let go in drop
	rm.resized(len(rm.local) - 1)
	arrival := rm.announce(me)
	rm.mu.Unlock()
	if !rm.awaitAcks(ctx, arrival, 3) {
		rm.mu.Lock()
		rm.unheard[me.ID] = true // the sweep says it again
		rm.mu.Unlock()
	}
	return s, nil
}

// seated lists the seats held here now, members' and knocks'.
func (rm *room) seated() []*seat {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return slices.Concat(rm.local, rm.door)
}

// resized counts the members here as grown or shrunk from from. Called
// with rm.mu held.
func (rm *room) resized(from int) {
	if rm.lobby {
		rm.reg.counts.Lobby(len(rm.local) - from)
		return
	}
	rm.reg.counts.Resize(from, len(rm.local))
}

// send gives ev from s to everyone else in the room.
func (rm *room) send(s *seat, ev rooms.Event) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !slices.Contains(rm.local, s) {
		return // a knock says nothing to the room
	}
	ev.Peer = s.Self()
	for _, o := range rm.local {
		if o != s {
			o.Deliver(ev)
		}
	}
	rm.publish(ev.Kind, asMember(s.Self(), rm.reg.leaseKey()), ev.Text)
}

// drop takes s, a member or a knock, out of the room here, tells the
// others, and, if write, gives its seat back in the record before
// returning. Whoever takes a seat out of local or door lets go of its
// hold: here, or settle for a knock answered.
func (rm *room) drop(s *seat, write bool) {
	r := rm.reg
	kind := rooms.Left
	rm.mu.Lock()
	if i := slices.Index(rm.local, s); i >= 0 {
		rm.local = slices.Delete(rm.local, i, i+1)
		rm.resized(len(rm.local) + 1)
		for _, o := range rm.local {
			o.left(s.Self())
		}
	} else if i := slices.Index(rm.door, s); i >= 0 {
		kind = rooms.KnockEnded
		rm.door = slices.Delete(rm.door, i, i+1)
		for _, o := range rm.local {
			o.Deliver(rooms.Event{Kind: rooms.KnockEnded, Peer: s.Self()})
		}
	} else {
		rm.mu.Unlock()
		return
	}
	rm.mu.Unlock()

	if write {
		rm.writes.Lock()
		ctx, cancel := context.WithTimeout(r.life, leaveTimeout)
		err := rm.tidyLocked(ctx)
		cancel()
		rm.writes.Unlock()
		if err != nil {
			r.tidyLater(rm.key)
		}
	} else {
		r.tidyLater(rm.key)
	}
	// After the write: a node that reads the record before it has
	// subscribed before, and hears this.
	rm.mu.Lock()
	if kind == rooms.Left {
		rm.publish(rooms.Left, asMember(s.Self(), r.leaseKey()), "")
	} else {
		rm.publishWire(wire{Kind: kind, Peer: asMember(s.Self(), r.leaseKey()), Out: outGone}, true)
	}
	rm.mu.Unlock()
	r.release(rm)
}

// arrived tells s of p, unless it already knows. Called with room.mu held.
func (s *seat) arrived(p rooms.Peer) {
	if !s.knows[p.ID] {
		s.knows[p.ID] = true
		s.Deliver(rooms.Event{Kind: rooms.Joined, Peer: p})
	}
}

// left tells s p went, if it knew p was here. Called with room.mu held.
func (s *seat) left(p rooms.Peer) {
	if s.knows[p.ID] {
		delete(s.knows, p.ID)
		s.Deliver(rooms.Event{Kind: rooms.Left, Peer: p})
	}
}

// end ends s with cause. With write, the seat is given back in the record
// now; without, later (a node cut off cannot, and Close does it in bulk).
func (s *seat) end(cause error, write bool) {
	if s.End(cause, s.Self()) {
		s.room.drop(s, write)
	}
}

// Carry implements rooms.Carrier.
func (s *seat) Carry(ev rooms.Event) { s.room.send(s, ev) }

// Vacate implements rooms.Carrier.
func (s *seat) Vacate() { s.room.drop(s, true) }
