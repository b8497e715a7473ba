package cluster

import (
	"context"
	"slices"

	"github.com/hush-chat/hush/rooms"
)

// Locking and knocking. Whether a room is locked, and who knocks at its
// door, live in its record, so every node refuses a Join alike and the
// door holds at most rooms.DoorLimit across the cluster; the first answer
// to a knock is the compare-and-set that takes it out of the door. The
// news (locked, a knock, how it ended) crosses as events do; word of it
// lost on the way is made good from the record at the next checks
// (checkLock, checkDoor), as arrivals are.

// Knock implements rooms.Registry.
func (r *Registry) Knock(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	return r.at(ctx, code, func(ctx context.Context, rm *room, code string) (rooms.Seat, error) {
		return rm.knock(ctx, code, m)
	})
}

// knock writes m into the room's door and seats the knock here, outside
// the room: it hears nothing of it until let in.
func (rm *room) knock(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	r := rm.reg
	rm.writes.Lock()
	defer rm.writes.Unlock()
	rec, me, gone, err := rm.take(ctx, m, true, func(rec *record, exists bool) error {
		switch {
		case !exists, len(rec.Members) == 0:
			return rooms.ErrNoRoom
		case !rec.Locked:
			return rooms.ErrNotLocked
		case len(rec.Door) >= rooms.DoorLimit:
			return rooms.ErrDoorFull
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rm.mu.Lock()
	if closed, lost := r.table.Closed() != nil, me.Node != r.leaseKey(); closed || lost {
		rm.mu.Unlock()
		rm.tidyLocked(ctx)
		if closed {
			return nil, rooms.ErrClosed
		}
		return nil, rooms.ErrUnavailable
	}
	rm.seats, rm.locked = rec.Seats, rec.Locked
	for _, g := range gone {
		rm.forget(g)
	}
	rm.learn(rec)
	s := &seat{room: rm, knows: map[int]bool{}}
	s.Place = rooms.NewPlace(code, rec.Seats, me.peer(), nil, s, &r.counts)
	rm.door = append(rm.door, s)
	r.table.Do(func(map[string]*room, error) { rm.refs++ }) // the knock's own hold
	for _, o := range rm.local {
		o.Deliver(rooms.Event{Kind: rooms.Knocked, Peer: me.peer()})
	}
	rm.publishWire(wire{Kind: rooms.Knocked, Peer: me}, false)
	rm.mu.Unlock()
	return s, nil
}

// SetLocked implements rooms.Carrier: the record says it first, then
// the others hear it.
func (s *seat) SetLocked(on bool) error {
	rm := s.room
	r := rm.reg
	if rm.lobby {
		return rooms.ErrNeverLocked
	}
	if !rm.isMember(s) {
		return rooms.ErrLocked // a knock cannot lock the door it waits at
	}
	ctx, cancel, err := r.begin(r.life)
	if err != nil {
		return err
	}
	defer cancel()
	rm.writes.Lock()
	changed := false
	_, err = rm.update(ctx, func(rec *record, exists bool) (bool, error) {
		if !exists {
			return false, rooms.ErrUnavailable // lost with NATS's memory: written again soon
		}
		changed = rec.Locked != on
		rec.Locked, rec.By = on, s.Self().ID
		return changed, nil
	})
	rm.writes.Unlock()
	if err != nil || !changed {
		return err
	}
	kind := rooms.Unlocked
	if on {
		kind = rooms.Locked
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.locked = on
	for _, o := range rm.local {
		if o != s {
			o.Deliver(rooms.Event{Kind: kind, Peer: s.Self()})
		}
	}
	rm.publish(kind, asMember(s.Self(), r.leaseKey()), "")
	return nil
}

// isMember says whether s is seated in the room (not at its door).
func (rm *room) isMember(s *seat) bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return slices.Contains(rm.local, s)
}

// Decide implements rooms.Carrier. The write that takes the knock out of
// the record's door is the answer: a member on another node answering
// at the same time finds it gone, and does nothing.
func (s *seat) Decide(id int, let bool) error {
	rm := s.room
	r := rm.reg
	if !rm.isMember(s) {
		return rooms.ErrLocked
	}
	ctx, cancel, err := r.begin(r.life)
	if err != nil {
		return err
	}
	defer cancel()
	var (
		k     member
		found bool
		out   string
		gone  []member
	)
	rm.writes.Lock()
	_, err = rm.update(ctx, func(rec *record, exists bool) (bool, error) {
		found = false
		var err error
		if gone, err = rm.ghosts(ctx, *rec); err != nil {
			return false, r.unavailable(err)
		}
		rec.strip(gone)
		i := slices.IndexFunc(rec.Door, func(m member) bool { return m.ID == id })
		if !exists || i < 0 {
			return false, nil // answered already, or gone
		}
		found, k = true, rec.Door[i]
		rec.Door = slices.Delete(rec.Door, i, i+1)
		out = outTurned
		if let {
			out = outFull
			if len(rec.Members) < rec.Seats {
				out = outLet
				k.Color = rooms.FreeColor(rec.Members, member.color, k.ID)
				rec.Members = append(rec.Members, k)
			}
		}
		return true, nil
	})
	rm.writes.Unlock()
	if err != nil || !found {
		return err
	}
	rm.mu.Lock()
	for _, g := range gone {
		rm.forget(g)
	}
	rm.publishWire(wire{Kind: rooms.KnockEnded, Peer: k, Out: out}, true) // before settle forgets the knock's node
	after := rm.settle(k, out)
	rm.mu.Unlock()
	after()
	return nil
}

// settle ends knock k as out says, here: the members here hear the knock
// ended (and, let in, that it joined); a knock waiting here is let in or
// turned away. It returns what to do once rm.mu is let go. Called with
// rm.mu held, on the node that answered and on every node that hears it.
func (rm *room) settle(k member, out string) (after func()) {
	r := rm.reg
	after = func() {}
	p := k.peer()
	_, heard := rm.knocks[k.ID]
	delete(rm.knocks, k.ID)
	var waiting *seat
	if r.own(k.Node) {
		if i := slices.IndexFunc(rm.door, func(s *seat) bool { return s.Self().ID == k.ID }); i >= 0 {
			waiting = rm.door[i]
			rm.door = slices.Delete(rm.door, i, i+1)
		}
	}
	if heard || waiting != nil {
		for _, o := range rm.local {
			o.Deliver(rooms.Event{Kind: rooms.KnockEnded, Peer: p})
		}
	}
	if out != outLet {
		if _, ok := rm.remote[k.ID]; ok {
			rm.depart(p) // let in here as it gave up there
		}
		rm.departed[k.ID] = true
		if waiting != nil {
			cause := rooms.ErrTurnedAway
			if out == outFull {
				cause = rooms.ErrFull
			}
			after = func() {
				waiting.End(cause, waiting.Self())
				r.release(rm)
			}
		}
		return after
	}
	switch {
	case waiting != nil:
		waiting.let.Store(&p)
		others := make([]rooms.Peer, 0, len(rm.local)+len(rm.remote))
		for _, o := range rm.local {
			others = append(others, o.Self())
			o.arrived(p)
		}
		for _, o := range rm.remote {
			others = append(others, o.peer())
		}
		slices.SortFunc(others, func(a, b rooms.Peer) int { return a.ID - b.ID })
		for _, o := range others {
			waiting.knows[o.ID] = true
			waiting.Deliver(rooms.Event{Kind: rooms.Joined, Peer: o})
		}
		let := rooms.Event{Kind: rooms.Let, Peer: p}
		if rm.locked {
			let.Text = rooms.LetLocked
		}
		waiting.Deliver(let)
		rm.local = append(rm.local, waiting)
		rm.resized(len(rm.local) - 1)
	case r.own(k.Node):
		r.tidyLater(rm.key) // it gave up as it was let in: give its seat back
	case !rm.departed[k.ID]:
		rm.remote[k.ID] = k
		for _, o := range rm.local {
			o.arrived(p)
		}
	}
	return after
}

// forget drops a member or knock of a node whose lease is gone (see
// ghosts). Called with rm.mu held.
func (rm *room) forget(g member) {
	if _, ok := rm.knocks[g.ID]; ok {
		rm.settle(g, outGone)() // a knock of another node: nothing waits here
		return
	}
	rm.depart(g.peer())
}

// emptied turns away the knocks waiting here once the room's record is
// gone with its last member, and tells the nodes where others wait.
func (rm *room) emptied() {
	rm.mu.Lock()
	door := rm.door
	rm.door = nil
	rm.publishWire(wire{Kind: rooms.Ended}, true)
	clear(rm.knocks)
	rm.mu.Unlock()
	for _, k := range door {
		k.End(rooms.ErrTurnedAway, k.Self())
		rm.reg.release(rm)
	}
}

// heard takes news of the lock and the door from another node, and
// returns what to do once rm.mu is let go. Called with rm.mu held.
func (rm *room) heard(w wire) (after func()) {
	p := w.Peer.peer()
	switch w.Kind {
	case rooms.Locked, rooms.Unlocked:
		rm.locked = w.Kind == rooms.Locked
		for _, o := range rm.local {
			o.Deliver(rooms.Event{Kind: w.Kind, Peer: p})
		}
	case rooms.Knocked:
		if _, ok := rm.knocks[p.ID]; ok {
			break
		}
		rm.knocks[p.ID] = w.Peer
		for _, o := range rm.local {
			o.Deliver(rooms.Event{Kind: rooms.Knocked, Peer: p})
		}
	case rooms.KnockEnded:
		return rm.settle(w.Peer, w.Out)
	case rooms.Ended:
		if len(rm.local) > 0 {
			break // members here: the room goes on, whatever was said
		}
		door := rm.door
		rm.door = nil
		return func() {
			for _, k := range door {
				k.End(rooms.ErrTurnedAway, k.Self())
				rm.reg.release(rm)
			}
		}
	}
	return func() {}
}

// CarryTo implements rooms.Carrier: a member on another node gets the
// word sealed, so what one tells another never crosses NATS readable.
func (s *seat) CarryTo(to int, ev rooms.Event) {
	rm := s.room
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !slices.Contains(rm.local, s) {
		return
	}
	ev.Peer = s.Self()
	for _, o := range rm.local {
		if o.Self().ID == to {
			o.Deliver(ev)
			return
		}
	}
	if _, ok := rm.remote[to]; ok {
		rm.publishWire(wire{Kind: rooms.Told, Peer: asMember(ev.Peer, rm.reg.leaseKey()), Data: rm.reg.seal(ev.Text), To: to}, false)
	}
}

// checkDoor makes the door as this node shows it agree with the
// record's (rec nil: the record is gone), as reconcile does for members:
// a difference counts when two checks in a row see it. A knock waiting
// here that the door no longer holds was answered while the word was
// lost, and the record says how: a member now, or turned away. A knock
// of another node that members here never heard of is shown to them;
// one the door no longer holds ends. Called with rm.mu held.
func (rm *room) checkDoor(rec *record) (after func()) {
	r := rm.reg
	var door, members []member
	if rec != nil {
		door, members = rec.Door, rec.Members
	}
	find := func(ms []member, id int) (member, bool) {
		i := slices.IndexFunc(ms, func(m member) bool { return m.ID == id })
		if i < 0 {
			return member{}, false
		}
		return ms[i], true
	}
	seen := map[int]rooms.EventKind{}
	here := map[int]*seat{}
	for _, k := range rm.door {
		id := k.Self().ID
		here[id] = k
		if _, ok := find(door, id); !ok {
			seen[id] = rooms.KnockEnded
		}
	}
	if len(rm.local) > 0 {
		for id := range rm.knocks {
			if _, ok := find(door, id); !ok {
				seen[id] = rooms.KnockEnded
			}
		}
		for _, m := range door {
			if _, ok := rm.knocks[m.ID]; !ok && !r.own(m.Node) && !rm.departed[m.ID] {
				seen[m.ID] = rooms.Knocked
			}
		}
	}
	var todo []func()
	for id, kind := range seen {
		if rm.doorOdd[id] != kind {
			continue // once: maybe still on its way
		}
		delete(seen, id)
		if kind == rooms.Knocked {
			m, _ := find(door, id)
			rm.knocks[id] = m
			for _, o := range rm.local {
				o.Deliver(rooms.Event{Kind: rooms.Knocked, Peer: m.peer()})
			}
			continue
		}
		k, ok := rm.knocks[id]
		if !ok {
			k = asMember(here[id].Self(), r.leaseKey())
		}
		out := outTurned
		if m, ok := find(members, id); ok {
			k, out = m, outLet
		}
		todo = append(todo, rm.settle(k, out))
	}
	rm.doorOdd = seen
	return func() {
		for _, f := range todo {
			f()
		}
	}
}

// checkLock shows the record's lock when two checks in a row find this
// node showing otherwise: word of it was lost on the way. Called with
// rm.mu held.
func (rm *room) checkLock(rec record) {
	if rec.Locked == rm.locked {
		rm.lockOdd = false
		return
	}
	if !rm.lockOdd {
		rm.lockOdd = true
		return
	}
	rm.lockOdd, rm.locked = false, rec.Locked
	by := rooms.Peer{ID: rec.By}
	if m, ok := rm.remote[rec.By]; ok {
		by = m.peer()
	}
	kind := rooms.Unlocked
	if rec.Locked {
		kind = rooms.Locked
	}
	for _, o := range rm.local {
		o.Deliver(rooms.Event{Kind: kind, Peer: by})
	}
}
