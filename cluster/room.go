package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// record is a room's entry in the rooms bucket. It holds names, never
// anything typed, and never the code.
type record struct {
	Seats   int      `json:"seats"`
	Last    int      `json:"last"` // the last ID handed out: IDs are never reused
	Members []member `json:"members"`
}

// member is a seated person and the node (lease key) that seats them.
type member struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Badge string `json:"badge,omitempty"`
	Guest bool   `json:"guest,omitempty"`
	Color int    `json:"color"`
	Node  string `json:"node"`
}

func (m member) peer() rooms.Peer {
	return rooms.Peer{Member: rooms.Member{Name: m.Name, Badge: m.Badge, Guest: m.Guest}, ID: m.ID, Color: m.Color}
}

func asMember(p rooms.Peer, node string) member {
	return member{ID: p.ID, Name: p.Name, Badge: p.Badge, Guest: p.Guest, Color: p.Color, Node: node}
}

// wire is one event on a room's subject, from the node that seats Peer.
type wire struct {
	Kind rooms.EventKind `json:"k"`
	Peer member          `json:"p"`
	Text string          `json:"t,omitempty"`
}

// room is this node's part of one room: the members seated here, and
// what it knows of the members seated elsewhere.
type room struct {
	reg *Registry
	key string

	refs int                // guarded by reg.mu: seats here plus calls under way
	sub  *nats.Subscription // guarded by reg.mu

	// kv serialises this node's writes to the room's record, and holds
	// across the round trips: a member seated here is in the record and in
	// local together, as far as this node can tell.
	kv sync.Mutex

	mu       sync.Mutex
	seats    int
	local    []*seat
	remote   map[int]member          // members seated on other nodes
	departed map[int]bool            // IDs that left: a late word of them changes nothing
	doubt    map[int]rooms.EventKind // what the last check found the record says otherwise (see reconcile)
	unheard  map[int]bool            // local IDs whose arrival some node did not confirm
}

// seat is one member's place, held by this node.
type seat struct {
	*rooms.Queue // Ready, Drain and Err
	room         *room
	code         string
	self         rooms.Peer
	seats        int
	others       []rooms.Peer
	knows        map[int]bool // guarded by room.mu: who this member knows is here
}

// subscribe listens to the room's subject; the subscription is registered
// at the server before any record write that follows on the connection.
func (rm *room) subscribe() error {
	r := rm.reg
	r.mu.Lock()
	has := rm.sub != nil
	r.mu.Unlock()
	if has {
		return nil
	}
	sub, err := r.nc.ChanSubscribe(subjectPrefix+rm.key, r.inbox)
	if err != nil {
		r.n.kvErrors.Add(1)
		return fmt.Errorf("%w: subscribe: %w", rooms.ErrUnavailable, err)
	}
	r.mu.Lock()
	rm.sub = sub
	r.mu.Unlock()
	return nil
}

func (rm *room) open(ctx context.Context, code string, seats int, m rooms.Member) (rooms.Seat, error) {
	rm.kv.Lock()
	defer rm.kv.Unlock()
	if err := rm.subscribe(); err != nil {
		return nil, err
	}
	me := asMember(rooms.Peer{Member: m, ID: 1}, rm.reg.inst())
	rec := record{Seats: seats, Last: 1, Members: []member{me}}
	data, _ := json.Marshal(rec)
	if _, err := rm.reg.rooms.Create(ctx, rm.key, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
		return nil, rm.reg.unavailable(err)
	}
	return rm.seat(ctx, code, rec, me, nil)
}

func (rm *room) join(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	r := rm.reg
	rm.kv.Lock()
	defer rm.kv.Unlock()
	if err := rm.subscribe(); err != nil {
		return nil, err
	}
	for range casTries {
		rec, rev, err := rm.get(ctx)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return nil, rooms.ErrNoRoom
		case err != nil:
			return nil, r.unavailable(err)
		}
		gone, err := rm.ghosts(ctx, rec)
		if err != nil {
			return nil, r.unavailable(err)
		}
		rec.Members = slices.DeleteFunc(rec.Members, func(m member) bool { return slices.Contains(gone, m) })
		if len(rec.Members) >= rec.Seats {
			return nil, rooms.ErrFull
		}
		rec.Last++
		me := asMember(rooms.Peer{Member: m, ID: rec.Last, Color: freeColor(rec)}, r.inst())
		rec.Members = append(rec.Members, me)
		data, _ := json.Marshal(rec)
		_, err = r.rooms.Update(ctx, rm.key, data, rev)
		switch {
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			pause(ctx)
			continue
		case err != nil:
			return nil, r.unavailable(err)
		}
		return rm.seat(ctx, code, rec, me, gone)
	}
	return nil, fmt.Errorf("%w: room too busy", rooms.ErrUnavailable)
}

// pause waits a moment before another try at a record someone else
// changed, so racing writers spread out.
func pause(ctx context.Context) {
	t := time.NewTimer(time.Duration(rand.N(2000)) * time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (rm *room) get(ctx context.Context) (record, uint64, error) {
	e, err := rm.reg.rooms.Get(ctx, rm.key)
	if err != nil {
		return record{}, 0, err
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return record{}, 0, fmt.Errorf("cluster: room %s: %w", short(rm.key), err)
	}
	return rec, e.Revision(), nil
}

// ghosts lists the record's members nobody holds: seats this process gave
// up but could not write back, and members of nodes whose lease is gone.
// Called with rm.kv held, so every seat of this process is in local.
func (rm *room) ghosts(ctx context.Context, rec record) ([]member, error) {
	r := rm.reg
	var gone []member
	alive := map[string]bool{}
	for _, m := range rec.Members {
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

// holds says whether seat id is one of this node's, under lease key node.
func (rm *room) holds(id int, node string) bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return node == rm.reg.inst() && slices.ContainsFunc(rm.local, func(s *seat) bool { return s.self.ID == id })
}

func freeColor(rec record) int {
	var used [rooms.Palette]bool
	for _, o := range rec.Members {
		used[o.Color%rooms.Palette] = true
	}
	for c, u := range used {
		if !u {
			return c
		}
	}
	return rec.Last % rooms.Palette
}

// seat seats me, whom rec (just written) holds, here. gone are members
// the write dropped as ghosts. If Close came first, or the node lost its
// lease meanwhile (the others will drop me), the write is undone.
func (rm *room) seat(ctx context.Context, code string, rec record, me member, gone []member) (rooms.Seat, error) {
	r := rm.reg
	rm.mu.Lock()
	if closed, lost := r.isClosed(), me.Node != r.inst(); closed || lost {
		rm.mu.Unlock()
		rm.tidyLocked(ctx)
		if closed {
			return nil, rooms.ErrClosed
		}
		return nil, fmt.Errorf("%w: lease lost", rooms.ErrUnavailable)
	}
	rm.seats = rec.Seats
	for _, g := range gone {
		rm.depart(g.peer())
	}
	rm.learn(rec)
	s := &seat{Queue: rooms.NewQueue(), room: rm, code: code, self: me.peer(), seats: rec.Seats, knows: map[int]bool{}}
	for _, o := range rm.local {
		s.others = append(s.others, o.self)
	}
	for _, o := range rm.remote {
		s.others = append(s.others, o.peer())
	}
	slices.SortFunc(s.others, func(a, b rooms.Peer) int { return a.ID - b.ID })
	for _, o := range s.others {
		s.knows[o.ID] = true
	}
	for _, o := range rm.local {
		o.arrived(s.self)
	}
	rm.local = append(rm.local, s)
	r.mu.Lock()
	rm.refs++ // the seat's own hold, let go in drop
	r.mu.Unlock()
	r.counts.Resize(len(rm.local)-1, len(rm.local))
	arrival := rm.announce(me)
	rm.mu.Unlock()
	if !rm.awaitAcks(ctx, arrival, 3) {
		rm.mu.Lock()
		rm.unheard[me.ID] = true // the sweep says it again
		rm.mu.Unlock()
	}
	return s, nil
}

// announce tells the other nodes in the room that me arrived, asking each
// to answer once it knows. Called with rm.mu held.
func (rm *room) announce(me member) *arrival {
	nodes := map[string]bool{}
	for _, m := range rm.remote {
		nodes[m.Node] = true
	}
	if len(nodes) == 0 {
		return nil
	}
	r := rm.reg
	a := &arrival{nodes: len(nodes)}
	a.msg.Subject = subjectPrefix + rm.key
	a.msg.Reply = r.nc.NewRespInbox()
	a.msg.Data, _ = json.Marshal(wire{Kind: rooms.Joined, Peer: me})
	var err error
	if a.acks, err = r.nc.SubscribeSync(a.msg.Reply); err != nil {
		r.n.publishErrors.Add(1)
		return nil
	}
	rm.send1(&a.msg)
	return a
}

// arrival is an announced Join waiting for the other nodes' answers.
type arrival struct {
	msg   nats.Msg
	acks  *nats.Subscription
	nodes int
}

// send1 publishes one message, counting it.
func (rm *room) send1(msg *nats.Msg) {
	if err := rm.reg.nc.PublishMsg(msg); err != nil {
		rm.reg.n.publishErrors.Add(1)
		return
	}
	rm.reg.n.out.Add(1)
}

// awaitAcks waits, briefly, until every other node in the room has heard
// of the arrival: then what either side types next reaches the other. It
// reports whether they all have. Core NATS may lose a message (a
// subscription still crossing a route), so the announcement is said tries
// times, each waiting ackWait/3; then Join returns anyway, and the first
// thing the newcomer types introduces them (see receive), or the sweep
// says it again (see reannounce).
func (rm *room) awaitAcks(ctx context.Context, a *arrival, tries int) bool {
	if a == nil {
		return true
	}
	defer a.acks.Unsubscribe()
	seen := map[string]bool{}
	for try := range tries {
		if try > 0 {
			rm.send1(&a.msg)
		}
		tctx, cancel := context.WithTimeout(ctx, ackWait/3)
		for len(seen) < a.nodes {
			msg, err := a.acks.NextMsgWithContext(tctx)
			if err != nil {
				break
			}
			seen[string(msg.Data)] = true
		}
		cancel()
		if len(seen) >= a.nodes {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
	return false
}

// learn takes in the record's members from other nodes. Called with
// rm.mu held.
func (rm *room) learn(rec record) {
	for _, m := range rec.Members {
		if rm.reg.own(m.Node) || rm.departed[m.ID] {
			continue
		}
		if _, ok := rm.remote[m.ID]; !ok {
			rm.remote[m.ID] = m
			for _, o := range rm.local {
				o.arrived(m.peer())
			}
		}
	}
}

// depart drops a member of another node and tells those here. Called
// with rm.mu held.
func (rm *room) depart(p rooms.Peer) {
	delete(rm.remote, p.ID)
	rm.departed[p.ID] = true
	for _, o := range rm.local {
		o.left(p)
	}
}

// publish sends an event of a member seated here to the other nodes, if
// the room has members there. Called with rm.mu held, so events leave in
// the order they happened.
func (rm *room) publish(kind rooms.EventKind, from member, text string) {
	if len(rm.remote) == 0 {
		return
	}
	r := rm.reg
	data, _ := json.Marshal(wire{Kind: kind, Peer: from, Text: text})
	if err := r.nc.Publish(subjectPrefix+rm.key, data); err != nil {
		r.n.publishErrors.Add(1)
		return
	}
	r.n.out.Add(1)
}

// receive takes an event from another node. It runs on the registry's
// dispatch goroutine and never blocks: events go into the members'
// bounded queues.
func (rm *room) receive(msg *nats.Msg) {
	var w wire
	if err := json.Unmarshal(msg.Data, &w); err != nil || rm.reg.own(w.Peer.Node) {
		return // garbled, or our own echo (the connection hears itself)
	}
	rm.reg.n.in.Add(1)
	p := w.Peer.peer()
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.departed[p.ID] {
		return
	}
	switch w.Kind {
	case rooms.Joined:
		rm.remote[p.ID] = w.Peer
		for _, o := range rm.local {
			o.arrived(p)
		}
		if msg.Reply != "" && len(rm.local) > 0 {
			msg.Respond([]byte(rm.reg.inst()))
		}
	case rooms.Left:
		rm.depart(p)
	case rooms.Typed, rooms.Newline:
		if _, known := rm.remote[p.ID]; !known {
			// Their Join was lost on the way: this is how we meet them.
			rm.remote[p.ID] = w.Peer
			for _, o := range rm.local {
				o.arrived(p)
			}
		}
		ev := rooms.Event{Kind: w.Kind, Peer: p, Text: w.Text}
		for _, o := range rm.local {
			o.push(ev)
		}
	}
}

// send gives ev from s to everyone else in the room.
func (rm *room) send(s *seat, ev rooms.Event) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, o := range rm.local {
		if o != s {
			o.push(ev)
		}
	}
	rm.publish(ev.Kind, asMember(s.self, rm.reg.inst()), ev.Text)
}

// drop takes s out of the room here, tells the others, and, if write,
// gives its seat back in the record before returning.
func (rm *room) drop(s *seat, write bool) {
	r := rm.reg
	rm.mu.Lock()
	i := slices.Index(rm.local, s)
	if i < 0 {
		rm.mu.Unlock()
		return
	}
	rm.local = slices.Delete(rm.local, i, i+1)
	r.counts.Resize(len(rm.local)+1, len(rm.local))
	for _, o := range rm.local {
		o.left(s.self)
	}
	rm.mu.Unlock()

	if write {
		rm.kv.Lock()
		ctx, cancel := context.WithTimeout(r.life, leaveTimeout)
		err := rm.tidyLocked(ctx)
		cancel()
		rm.kv.Unlock()
		if err != nil {
			r.later(rm.key)
		}
	} else {
		r.later(rm.key)
	}
	// After the write: a node that reads the record before it has
	// subscribed before, and hears this.
	rm.mu.Lock()
	rm.publish(rooms.Left, asMember(s.self, r.inst()), "")
	rm.mu.Unlock()
	r.release(rm)
}

// tidyLocked removes from the record the members this process seated
// and no longer holds; the last one out deletes the record. Called with
// rm.kv held.
func (rm *room) tidyLocked(ctx context.Context) error {
	r := rm.reg
	for range casTries {
		rec, rev, err := rm.get(ctx)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			r.n.kvErrors.Add(1)
			return err
		}
		n := len(rec.Members)
		rec.Members = slices.DeleteFunc(rec.Members, func(m member) bool {
			return r.own(m.Node) && !rm.holds(m.ID, m.Node)
		})
		if len(rec.Members) == n {
			return nil
		}
		if err = rm.write(ctx, rec, rev); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			pause(ctx)
			continue
		}
		if err != nil {
			r.n.kvErrors.Add(1)
		}
		return err
	}
	return errors.New("cluster: room too busy")
}

// write replaces the record at revision rev, or deletes it when nobody is
// left (its marker expires soon after).
func (rm *room) write(ctx context.Context, rec record, rev uint64) error {
	if len(rec.Members) == 0 {
		return rm.reg.rooms.Purge(ctx, rm.key, jetstream.LastRevision(rev), jetstream.PurgeTTL(markerTTL))
	}
	data, _ := json.Marshal(rec)
	_, err := rm.reg.rooms.Update(ctx, rm.key, data, rev)
	return err
}

func (s *seat) push(ev rooms.Event) {
	if !s.Push(ev) {
		s.room.reg.counts.Dropped()
	}
}

// arrived tells s of p, unless it already knows. Called with room.mu held.
func (s *seat) arrived(p rooms.Peer) {
	if !s.knows[p.ID] {
		s.knows[p.ID] = true
		s.push(rooms.Event{Kind: rooms.Joined, Peer: p})
	}
}

// left tells s p went, if it knew p was here. Called with room.mu held.
func (s *seat) left(p rooms.Peer) {
	if s.knows[p.ID] {
		delete(s.knows, p.ID)
		s.push(rooms.Event{Kind: rooms.Left, Peer: p})
	}
}

// end ends s with cause. With write, the seat is given back in the record
// now; without, later (a node cut off cannot, and Close does it in bulk).
func (s *seat) end(cause error, write bool) {
	if s.End(cause, s.self) {
		s.room.drop(s, write)
	}
}

func (s *seat) Code() string         { return s.code }
func (s *seat) Seats() int           { return s.seats }
func (s *seat) Self() rooms.Peer     { return s.self }
func (s *seat) Others() []rooms.Peer { return s.others }

func (s *seat) Type(text string) error {
	if err := s.Err(); err != nil {
		return err
	}
	if text != "" {
		s.room.send(s, rooms.Event{Kind: rooms.Typed, Peer: s.self, Text: text})
	}
	return nil
}

func (s *seat) Newline() error {
	if err := s.Err(); err != nil {
		return err
	}
	s.room.send(s, rooms.Event{Kind: rooms.Newline, Peer: s.self})
	return nil
}

func (s *seat) Leave() {
	if s.Queue.Leave() {
		s.room.drop(s, true)
	}
}
