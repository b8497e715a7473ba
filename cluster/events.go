package cluster

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"

	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go"
)

// wire is one event on a room's subject, from the node that seats Peer
// (or From, when another node speaks of Peer).
type wire struct {
	Kind rooms.EventKind `json:"k"`
	Peer member          `json:"p"`
	Text string          `json:"t,omitempty"`
	Data []byte          `json:"d,omitempty"`  // a picture's bytes, which are not text; a word told, sealed
	From string          `json:"f,omitempty"`  // the node that speaks, when it does not seat Peer
	Out  string          `json:"o,omitempty"`  // KnockEnded: what became of the knock
	To   int             `json:"to,omitempty"` // Told: the member it is for
}

// What became of a knock, on the wire.
const (
	outTurned = ""     // a member turned it away
	outLet    = "let"  // let in: a member now
	outFull   = "full" // let in with no seat free
	outGone   = "gone" // the knock gave up
)

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
		r.totals.publishErrors.Add(1)
		return nil
	}
	rm.publishMsg(&a.msg)
	return a
}

// arrival is an announced Join waiting for the other nodes' answers.
type arrival struct {
	msg   nats.Msg
	acks  *nats.Subscription
	nodes int
}

// publishMsg publishes one message, counting it.
func (rm *room) publishMsg(msg *nats.Msg) {
	if err := rm.reg.nc.PublishMsg(msg); err != nil {
		rm.reg.totals.publishErrors.Add(1)
		return
	}
	rm.reg.totals.out.Add(1)
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
			rm.publishMsg(&a.msg)
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
	w := wire{Kind: kind, Peer: from, Text: text}
	if kind == rooms.Pictured {
		w.Text, w.Data = "", []byte(text)
	}
	rm.publishWire(w, false)
}

// publishWire sends w to the other nodes in the room: those seating
// members, and, for news of the door, those where knocks wait. Called
// with rm.mu held.
func (rm *room) publishWire(w wire, door bool) {
	if len(rm.remote) == 0 && (!door || len(rm.knocks) == 0) {
		return
	}
	r := rm.reg
	if w.From == "" && !r.own(w.Peer.Node) {
		w.From = r.leaseKey()
	}
	data, _ := json.Marshal(w)
	if err := r.nc.Publish(subjectPrefix+rm.key, data); err != nil {
		r.totals.publishErrors.Add(1)
		return
	}
	r.totals.out.Add(1)
}

// receive takes an event from another node. It runs on the registry's
// dispatch goroutine and never blocks: events go into the members'
// bounded queues.
func (rm *room) receive(msg *nats.Msg) {
	var w wire
	if err := json.Unmarshal(msg.Data, &w); err != nil {
		return // garbled
	}
	if from := cmp.Or(w.From, w.Peer.Node); rm.reg.own(from) {
		return // our own echo (the connection hears itself)
	}
	rm.reg.totals.in.Add(1)
	p := w.Peer.peer()
	after := func() {} // what a knock's end leaves to do unlocked
	rm.mu.Lock()
	defer func() {
		rm.mu.Unlock()
		after()
	}()
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
			msg.Respond([]byte(rm.reg.leaseKey()))
		}
	case rooms.Left:
		rm.depart(p)
	case rooms.Typed, rooms.Newline, rooms.Pictured, rooms.Told:
		if _, known := rm.remote[p.ID]; !known {
			// Their Join was lost on the way: this is how we meet them.
			rm.remote[p.ID] = w.Peer
			for _, o := range rm.local {
				o.arrived(p)
			}
		}
		ev := rooms.Event{Kind: w.Kind, Peer: p, Text: w.Text}
		switch w.Kind {
		case rooms.Pictured:
			ev.Text = string(w.Data)
		case rooms.Told:
			text, ok := rm.reg.unseal(w.Data)
			if !ok {
				return
			}
			ev.Text = text
		}
		for _, o := range rm.local {
			if w.Kind != rooms.Told || o.Self().ID == w.To {
				o.Deliver(ev)
			}
		}
	default:
		after = rm.heard(w)
	}
}

// dispatch hands what other nodes send to the rooms here: one goroutine
// for all rooms (not one per subscription), in order per room.
func (r *Registry) dispatch() {
	defer r.wg.Done()
	for {
		select {
		case <-r.life.Done():
			return
		case msg := <-r.inbox:
			if r.cfg.drop != nil && r.cfg.drop(msg) {
				continue
			}
			if rm, ok := r.table.Get(strings.TrimPrefix(msg.Subject, subjectPrefix)); ok {
				rm.receive(msg)
			}
		}
	}
}

// seal hides a word told to one member from everyone else who can read
// the room's subject (AES-GCM under a key from the cluster's secret): it
// may carry a room code, and codes never cross NATS readable.
func (r *Registry) seal(text string) []byte {
	n := r.told.NonceSize()
	nonce := make([]byte, n, n+len(text)+r.told.Overhead())
	rand.Read(nonce)
	return r.told.Seal(nonce, nonce, []byte(text), nil)
}

// unseal opens what seal made; false for anything else.
func (r *Registry) unseal(b []byte) (string, bool) {
	n := r.told.NonceSize()
	if len(b) < n {
		return "", false
	}
	text, err := r.told.Open(nil, b[:n], b[n:], nil)
	return string(text), err == nil
}
