package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go/jetstream"
)

// record is a room's entry in the rooms bucket. It holds names, never
// anything typed, and never the code.
type record struct {
	Seats   int      `json:"seats"`
	Last    int      `json:"last"` // the last ID handed out, to members and knocks: IDs are never reused
	Members []member `json:"members"`
	Locked  bool     `json:"locked,omitempty"` // Join seats nobody; Knock waits at the door
	By      int      `json:"by,omitempty"`     // the member who last locked or unlocked it
	Door    []member `json:"door,omitempty"`   // knocks waiting, oldest first, at most rooms.DoorLimit
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

func (m member) color() int { return m.Color }

func asMember(p rooms.Peer, node string) member {
	return member{ID: p.ID, Name: p.Name, Badge: p.Badge, Guest: p.Guest, Color: p.Color, Node: node}
}

func (rm *room) get(ctx context.Context) (record, uint64, error) {
	e, err := rm.reg.rooms.Get(ctx, rm.key)
	if err != nil {
		return record{}, 0, err
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return record{}, 0, fmt.Errorf("cluster: room %s: %w", logKey(rm.key), err)
	}
	return rec, e.Revision(), nil
}

// update changes the room's record by compare-and-set: it reads the
// record, lets f change it, and writes it back at the revision it read,
// starting again from the read when another writer came first, until a
// write sticks, f asks for none, or f fails (see retryRaces). f learns
// whether the record exists (if not, rec starts empty) and says whether
// to write; a record left with no members is deleted. update returns the
// record as f left it. Called with rm.writes held; what NATS fails, and a
// room too busy to write, wrap rooms.ErrUnavailable.
func (rm *room) update(ctx context.Context, f func(rec *record, exists bool) (bool, error)) (record, error) {
	r := rm.reg
	var out record
	err := retryRaces(ctx, func() error {
		rec, rev, err := rm.get(ctx)
		exists := err == nil
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return r.unavailable(err)
		}
		write, err := f(&rec, exists)
		out = rec
		if err != nil || !write {
			return err
		}
		if err = rm.write(ctx, rec, rev, exists); err != nil && !lostRace(err) {
			return r.unavailable(err)
		}
		return err
	})
	return out, err
}

// retryRaces runs try, one compare-and-set (read, change, write at the
// revision read), again after a short pause each time it lost a race to
// another writer, at most casTries times in all.
func retryRaces(ctx context.Context, try func() error) error {
	for range casTries {
		if err := try(); !lostRace(err) {
			return err
		}
		pause(ctx)
	}
	return fmt.Errorf("%w: too many writers at once", rooms.ErrUnavailable)
}

// lostRace says err is a write refused because another writer came
// first: a revision that moved on, or a key created meanwhile.
func lostRace(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// write makes the record rec: created if it did not exist, else replaced
// at revision rev, or deleted when nobody is left (its marker expires
// soon after).
func (rm *room) write(ctx context.Context, rec record, rev uint64, exists bool) error {
	kv := rm.reg.rooms
	if exists && len(rec.Members) == 0 {
		return kv.Purge(ctx, rm.key, jetstream.LastRevision(rev), jetstream.PurgeTTL(markerTTL))
	}
	data, _ := json.Marshal(rec)
	var err error
	if exists {
		_, err = kv.Update(ctx, rm.key, data, rev)
	} else {
		_, err = kv.Create(ctx, rm.key, data)
	}
	return err
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

// tidyLocked removes from the record the members and knocks this
// process seated and no longer holds; the last member out deletes the
// record, which turns away the knocks at its door. Called with rm.writes
// held.
func (rm *room) tidyLocked(ctx context.Context) error {
	r := rm.reg
	return rm.strike(ctx, func(m member) bool { return r.own(m.Node) && !rm.holds(m.ID, m.Node) })
}

// strike deletes the members and knocks gone says are gone from the record,
// and lets the room go if nobody is left in it. Called with rm.writes held.
func (rm *room) strike(ctx context.Context, gone func(member) bool) error {
	wrote := false
	rec, err := rm.update(ctx, func(rec *record, exists bool) (bool, error) {
		n := len(rec.Members) + len(rec.Door)
		rec.Members = slices.DeleteFunc(rec.Members, gone)
		rec.Door = slices.DeleteFunc(rec.Door, gone)
		wrote = exists && len(rec.Members)+len(rec.Door) != n
		return wrote, nil
	})
	if err == nil && wrote && len(rec.Members) == 0 {
		rm.emptied()
	}
	return err
}

// strip takes gone out of the record's members and door.
func (rec *record) strip(gone []member) {
	out := func(m member) bool { return slices.Contains(gone, m) }
	rec.Members = slices.DeleteFunc(rec.Members, out)
	rec.Door = slices.DeleteFunc(rec.Door, out)
}

func sameMembers(a, b []member) bool {
	if len(a) != len(b) {
		return false
	}
	for _, m := range b {
		if !slices.Contains(a, m) {
			return false
		}
	}
	return true
}
