package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go/jetstream"
)

// sweepLoop drops members of nodes whose lease expired, writes local
// rooms again after NATS lost them, retries seats not yet given back, and
// reconciles what this node shows with the records. It wakes every
// Lease/4 and when a watcher saw a lease go: watchers stop silently after
// reconnects, so the clock is what counts.
func (r *Registry) sweepLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.Lease / 4)
	defer t.Stop()
	var checked time.Time // the last reconcile of every shared room
	for {
		select {
		case <-r.life.Done():
			return
		case <-t.C:
		case <-r.sweepNow:
		}
		if !r.leaseOK.Load() {
			continue
		}
		if r.resync.Swap(false) {
			if err := r.resyncAll(); err != nil {
				r.resync.Store(true)
				r.log.Warn("cluster: rooms not written again yet", "err", err)
			}
		}
		r.reap()
		r.tidyPending()
		// Every shared room twice a lease; rooms in doubt at every tick.
		all := time.Since(checked) >= r.cfg.Lease*3/8
		if all {
			checked = time.Now()
		}
		r.reconcileAll(all)
	}
}

// watchLeases wakes the sweep when a lease expires or is dropped. It is a
// shortcut only: the sweep runs on its clock anyway.
func (r *Registry) watchLeases() {
	defer r.wg.Done()
	for r.life.Err() == nil {
		if w, err := r.leases.WatchAll(r.life, jetstream.UpdatesOnly()); err == nil {
			r.watch(w)
		}
		select { // the watch ended (reconnect, restart): try again soon
		case <-r.life.Done():
		case <-time.After(r.cfg.Lease / 4):
		}
	}
}

// watch reads w until it ends or the registry closes. The updates channel
// is not to be trusted to close (a connection closed under it may never
// say so), so Close does not wait on it.
func (r *Registry) watch(w jetstream.KeyWatcher) {
	defer w.Stop()
	for {
		select {
		case <-r.life.Done():
			// The watcher's callback may be sending: let it finish, for a while.
			go func() {
				t := time.NewTimer(time.Second)
				defer t.Stop()
				for {
					select {
					case _, ok := <-w.Updates():
						if !ok {
							return
						}
					case <-t.C:
						return
					}
				}
			}()
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil && e.Operation() != jetstream.KeyValuePut {
				wake(r.sweepNow)
			}
		}
	}
}

// reap drops the members of nodes whose lease is gone from the rooms
// seated here: those here see them leave, and the records free their
// seats.
func (r *Registry) reap() {
	open := r.table.All()
	nodes := map[string][]*room{}
	for _, rm := range open {
		rm.mu.Lock()
		for _, m := range slices.Concat(slices.Collect(maps.Values(rm.remote)), slices.Collect(maps.Values(rm.knocks))) {
			if rs := nodes[m.Node]; !slices.Contains(rs, rm) {
				nodes[m.Node] = append(rs, rm)
			}
		}
		rm.mu.Unlock()
	}
	for node, rs := range nodes {
		ctx, cancel := context.WithTimeout(r.life, r.cfg.Lease/4)
		ok, err := r.alive(ctx, node)
		cancel()
		if ok || err != nil {
			continue
		}
		r.totals.nodesLost.Add(1)
		r.log.Info("cluster: node gone, dropping its members", "gone", node, "rooms", len(rs))
		for _, rm := range rs {
			if !r.hold(rm) {
				continue
			}
			rm.reap(node)
			r.release(rm)
		}
	}
}

// reap drops node's members and knocks from rm, here and in the record.
func (rm *room) reap(node string) {
	rm.mu.Lock()
	for _, m := range slices.Concat(slices.Collect(maps.Values(rm.remote)), slices.Collect(maps.Values(rm.knocks))) {
		if m.Node == node {
			rm.forget(m)
		}
	}
	rm.mu.Unlock()
	rm.writes.Lock()
	defer rm.writes.Unlock()
	ctx, cancel := context.WithTimeout(rm.reg.life, leaveTimeout)
	defer cancel()
	if err := rm.strike(ctx, func(m member) bool { return m.Node == node }); err != nil {
		// counted; a Join finds what is left as ghosts
		rm.reg.log.Debug("cluster: reap not written", "room", logKey(rm.key), "err", err)
	}
}

// tidyLater remembers a room whose record may still hold a seat given up here.
func (r *Registry) tidyLater(key string) {
	r.mu.Lock()
	r.untidy[key] = struct{}{}
	r.mu.Unlock()
}

func (r *Registry) tidyPending() {
	r.mu.Lock()
	keys := make([]string, 0, len(r.untidy))
	for k := range r.untidy {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(r.life, leaveTimeout)
		err := r.tidy(ctx, k)
		cancel()
		if err != nil {
			return // NATS is not answering: next sweep
		}
		r.mu.Lock()
		delete(r.untidy, k)
		r.mu.Unlock()
	}
}

// tidy gives back, in the record of room key, the seats this process no
// longer holds.
func (r *Registry) tidy(ctx context.Context, key string) error {
	rm := r.acquire(key)
	defer r.release(rm)
	rm.writes.Lock()
	defer rm.writes.Unlock()
	return rm.tidyLocked(ctx)
}

// resyncAll writes every room seated here into its record again.
func (r *Registry) resyncAll() error {
	open := r.table.All()
	var errs []error
	for _, rm := range open {
		if !r.hold(rm) {
			continue
		}
		ctx, cancel := context.WithTimeout(r.life, leaveTimeout)
		if err := rm.resync(ctx); err != nil {
			errs = append(errs, fmt.Errorf("room %s: %w", logKey(rm.key), err))
		}
		cancel()
		r.release(rm)
	}
	return errors.Join(errs...)
}

// resync makes the record agree with this node: its seats there under its
// lease key now (the record is made again if NATS lost it), seats it gave
// up gone; and this node learns of members the record holds that it did
// not know.
func (rm *room) resync(ctx context.Context) error {
	r := rm.reg
	rm.writes.Lock()
	defer rm.writes.Unlock()
	if err := rm.subscribe(); err != nil {
		return err
	}
	var (
		mine    []member
		changed bool
	)
	rec, err := rm.update(ctx, func(rec *record, exists bool) (bool, error) {
		var knocks []member
		mine, knocks = rm.mine()
		if len(mine) == 0 && (!exists || len(knocks) == 0) {
			return false, nil // knocks alone make no room
		}
		if !exists {
			rec.Seats, rec.Locked = rm.state()
		}
		theirs := func(m member) bool { return r.own(m.Node) }
		want := append(slices.DeleteFunc(slices.Clone(rec.Members), theirs), mine...)
		door := append(slices.DeleteFunc(slices.Clone(rec.Door), theirs), knocks...)
		for _, m := range slices.Concat(want, door) {
			rec.Last = max(rec.Last, m.ID)
		}
		changed = !exists || !sameMembers(rec.Members, want) || !sameMembers(rec.Door, door)
		rec.Members, rec.Door = want, door
		return changed, nil
	})
	if err != nil || len(mine) == 0 {
		return err
	}
	// Members the record lacks are not taken to have left: NATS may have
	// lost the record, and their nodes may not have written it back yet.
	// Reconciling, a lease later, drops those who really left.
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.learn(rec)
	if changed {
		for _, m := range mine {
			rm.publish(rooms.Joined, m, "")
		}
	}
	return nil
}

// mine lists the members seated here and the knocks waiting here,
// under this process's lease key now.
func (rm *room) mine() (members, knocks []member) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	key := rm.reg.leaseKey()
	for _, s := range rm.local {
		members = append(members, asMember(s.Self(), key))
	}
	for _, s := range rm.door {
		knocks = append(knocks, asMember(s.Self(), key))
	}
	return members, knocks
}

// state is how many the room holds and whether it is locked, as this
// node knows.
func (rm *room) state() (int, bool) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.seats, rm.locked
}

// reconcileAll checks, against their records, the rooms seated here that
// span nodes or are locked, and those where knocks wait (all, or only
// those in doubt), so that a Join, a Leave, a knock or its answer core
// NATS lost (it is at most once) shows within a lease: one read per such
// room every Lease/2, and nothing at all for open rooms seated only
// here.
//
// After the lease was taken again (NATS may have lost every record),
// records are being written again by each node in turn: until every node
// has had a lease to do so, the records are not the truth and nobody is
// reconciled.
func (r *Registry) reconcileAll(all bool) {
	if time.Since(time.Unix(0, r.retaken.Load())) < r.cfg.Lease {
		return
	}
	open := r.table.All()
	for _, rm := range open {
		rm.mu.Lock()
		// A locked room is read even seated only here: knocks may come
		// from any node, and a word of them may be lost.
		doubt := len(rm.doubt) > 0 || len(rm.unheard) > 0 || len(rm.doorOdd) > 0 || rm.lockOdd
		shared := len(rm.remote) > 0 || len(rm.knocks) > 0 || rm.locked
		due := len(rm.local) > 0 && (doubt || all && shared) ||
			len(rm.door) > 0 && (all || doubt)
		rm.mu.Unlock()
		if !due || !r.hold(rm) {
			continue
		}
		ctx, cancel := context.WithTimeout(r.life, r.cfg.Lease/4)
		rm.reconcile(ctx)
		rm.reannounce(ctx)
		cancel()
		r.release(rm)
	}
}

// reconcile makes this node's view of the others agree with the record:
// members it holds that this node never heard of arrive, members it no
// longer holds leave. A difference counts only when two checks in a row
// see it: a Join or Leave still on its way, or a record read from a
// replica a moment behind, is not a difference.
func (rm *room) reconcile(ctx context.Context) {
	r := rm.reg
	rec, _, err := rm.get(ctx)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			r.totals.kvErrors.Add(1)
			return
		}
		// Gone: members here are resync's business; knocks here wait at
		// a room that ended.
		rm.mu.Lock()
		after := rm.checkDoor(nil)
		rm.mu.Unlock()
		after()
		return
	}
	held := map[int]member{}
	for _, m := range rec.Members {
		if !r.own(m.Node) {
			held[m.ID] = m
		}
	}
	sure := rm.differ(held)
	// An arrival whose node's lease is gone is no arrival: the sweep drops
	// such members (reap, or the next Join), and nobody should see them come.
	alive := map[string]bool{}
	for id, kind := range sure {
		if kind != rooms.Joined {
			continue
		}
		node := held[id].Node
		if _, asked := alive[node]; !asked {
			ok, err := r.alive(ctx, node)
			alive[node] = ok || err != nil
		}
		if !alive[node] {
			delete(sure, id)
		}
	}
	after := func() {} // what the door leaves to do unlocked
	rm.mu.Lock()
	defer func() {
		rm.mu.Unlock()
		after()
	}()
	rm.checkLock(rec)
	defer func() { after = rm.checkDoor(&rec) }() // after the members: one let in knows them
	var joined, left int
	for id, kind := range sure {
		m, known := rm.remote[id]
		switch {
		case kind == rooms.Left && known:
			left++
			rm.depart(m.peer())
		case kind == rooms.Joined && !known && !rm.departed[id]:
			joined++
			rm.remote[id] = held[id]
			for _, o := range rm.local {
				o.arrived(held[id].peer())
			}
		}
	}
	if joined+left > 0 {
		r.log.Info("cluster: membership reconciled", "room", logKey(rm.key), "joined", joined, "left", left)
	}
}

// differ compares what this node shows with held, the record's members
// of other nodes, and returns the differences the last check saw too
// (ID → Left for one the record no longer holds, Joined for one this node
// never heard of); the others wait in rm.doubt for the next check.
func (rm *room) differ(held map[int]member) map[int]rooms.EventKind {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	seen := map[int]rooms.EventKind{}
	for id, m := range rm.remote {
		h, ok := held[id]
		switch {
		case !ok:
			seen[id] = rooms.Left
		case h.Node != m.Node:
			rm.remote[id] = h // came back under a new lease: the same person
		}
	}
	for id := range held {
		if _, ok := rm.remote[id]; !ok && !rm.departed[id] {
			seen[id] = rooms.Joined
		}
	}
	sure := map[int]rooms.EventKind{}
	for id, kind := range seen {
		if rm.doubt[id] == kind {
			sure[id] = kind
			delete(seen, id)
		}
	}
	rm.doubt = seen
	return sure
}

// reannounce repeats the arrivals of members seated here that some node
// did not confirm, once per check, until every node in the room has.
func (rm *room) reannounce(ctx context.Context) {
	rm.mu.Lock()
	var todo []member
	for _, s := range rm.local {
		if rm.unheard[s.Self().ID] {
			todo = append(todo, asMember(s.Self(), rm.reg.leaseKey()))
		}
	}
	clear(rm.unheard)
	rm.mu.Unlock()
	for _, me := range todo {
		rm.mu.Lock()
		a := rm.announce(me)
		rm.mu.Unlock()
		if !rm.awaitAcks(ctx, a, 1) {
			rm.mu.Lock()
			rm.unheard[me.ID] = true
			rm.mu.Unlock()
		}
	}
}
