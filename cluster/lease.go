package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go/jetstream"
)

// leaseLoop renews this node's lease every Lease/3 and fences the node
// when it cannot: a renewal sent at t keeps the key until at least
// t+Lease at the server, so until t+Lease-margin this node knows the
// others still count its members. Past that it ends its shared seats and
// comes back, when it can, under a new lease key.
func (r *Registry) leaseLoop(rev uint64, sent time.Time) {
	defer r.wg.Done()
	every := r.cfg.Lease / 3
	fenceAt := sent.Add(r.cfg.Lease - r.margin)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-r.life.Done():
			return
		case <-t.C:
		case <-r.renewNow:
		}
		if r.leaseOK.Load() && !time.Now().Before(fenceAt) {
			r.fence()
			rev = 0
		}
		deadline := time.Now().Add(every)
		if r.leaseOK.Load() && fenceAt.Before(deadline) {
			deadline = fenceAt
		}
		ctx, cancel := context.WithDeadline(r.life, deadline)
		now := time.Now()
		newRev, fresh, err := r.renew(ctx, rev)
		cancel()
		wait := every
		switch {
		case err != nil:
			rev = 0 // next time, make sure the buckets and the key are there
			if r.life.Err() == nil {
				r.totals.kvErrors.Add(1)
				r.log.Warn("cluster: lease not renewed", "err", err)
			}
			wait = min(every, time.Second)
		default:
			rev, fenceAt = newRev, now.Add(r.cfg.Lease-r.margin)
			r.totals.renewals.Add(1)
			if fresh || !r.leaseOK.Load() {
				// The key was missing or this is a new lease key: records may
				// have gone with it (NATS restarted), so write ours again.
				r.heldSince.Store(now.UnixNano())
				r.retaken.Store(now.UnixNano())
				r.resync.Store(true)
				r.leaseOK.Store(true)
				wake(r.sweepNow)
				r.log.Info("cluster: lease taken again", "fresh", fresh)
			}
		}
		if r.leaseOK.Load() {
			wait = min(wait, max(time.Until(fenceAt), 0))
		}
		t.Reset(wait)
	}
}

// renew writes the lease. With rev 0 it first makes sure the buckets
// exist (NATS may have restarted empty) and creates the key; fresh says
// the key had to be created.
func (r *Registry) renew(ctx context.Context, rev uint64) (newRev uint64, fresh bool, err error) {
	key := r.leaseKey()
	val := []byte(r.cfg.Node)
	if rev != 0 {
		if newRev, err = r.leases.Update(ctx, key, val, rev); err == nil {
			return newRev, false, nil
		}
		if ctx.Err() != nil {
			return 0, false, err
		}
	}
	if _, _, err := r.ensureBuckets(ctx); err != nil {
		return 0, false, err
	}
	// The buckets may be new (NATS lost its memory): store again what
	// every node must share, for nodes that start later.
	if err := r.check(ctx, r.rooms); errors.Is(err, errMismatch) {
		r.log.Error("cluster: nodes disagree", "err", err)
	} else if err != nil {
		return 0, false, err
	}
	newRev, err = r.leases.Create(ctx, key, val)
	if errors.Is(err, jetstream.ErrKeyExists) {
		// Still ours; only the revision was lost (an answer that never came).
		var e jetstream.KeyValueEntry
		if e, err = r.leases.Get(ctx, key); err == nil {
			newRev, err = r.leases.Update(ctx, key, val, e.Revision())
		}
		return newRev, false, err
	}
	return newRev, err == nil, err
}

// fence ends this node's seats in rooms shared with other nodes: they are
// about to see those members leave. Rooms seated only here go on. The
// node comes back under a new lease key, so the old one surely expires.
func (r *Registry) fence() {
	r.leaseOK.Store(false)
	r.totals.fenced.Add(1)
	old, key := r.leaseKey(), newLeaseKey(r.cfg.Node)
	r.mu.Lock()
	r.pastKeys[old] = true
	r.mu.Unlock()
	r.lease.Store(&key)
	var shared []*seat
	for _, rm := range r.table.All() {
		rm.mu.Lock()
		if len(rm.remote) > 0 {
			shared = append(shared, rm.local...)
			shared = append(shared, rm.door...)
		}
		rm.mu.Unlock()
	}
	for _, s := range shared {
		s.end(rooms.ErrLost, false)
	}
	r.log.Warn("cluster: lease lost, shared seats ended", "seats", len(shared), "next", key)
}

// alive says whether lease key node is held. A lease bucket that came
// back empty (NATS restarted) shows nobody: until this node has held its
// own lease for a whole Lease, every node has had time to renew, and
// nobody is declared dead.
func (r *Registry) alive(ctx context.Context, node string) (bool, error) {
	if time.Since(time.Unix(0, r.heldSince.Load())) < r.cfg.Lease {
		return true, nil
	}
	_, err := r.leases.Get(ctx, node)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	}
	return true, err
}

// newLeaseKey names one process of node: the node's name made safe for a
// key, and random bits so a restarted process is a stranger to its past.
func newLeaseKey(node string) string {
	safe := strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return c
		}
		return '_'
	}, node)
	var b [4]byte
	rand.Read(b[:])
	return safe[:min(len(safe), 64)] + "-" + hex.EncodeToString(b[:])
}

// ensureBuckets makes the buckets, or makes them again after the NATS
// system lost its memory. The handles it returns address buckets by name,
// so those New keeps work with buckets made again.
func (r *Registry) ensureBuckets(ctx context.Context) (rooms, leases jetstream.KeyValue, err error) {
	rooms, err = r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         roomsBucket,
		Description:    "hush: who sits in which room (keyed by a hash of the code)",
		History:        1,
		Storage:        jetstream.MemoryStorage,
		Replicas:       r.cfg.Replicas,
		LimitMarkerTTL: markerTTL, // lets a deleted room's marker expire
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: rooms bucket: %w", err)
	}
	leases, err = r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         leasesBucket,
		Description:    "hush: one key per live node",
		History:        1,
		TTL:            r.cfg.Lease,
		Storage:        jetstream.MemoryStorage,
		Replicas:       r.cfg.Replicas,
		LimitMarkerTTL: r.cfg.Lease, // watchers see an expiry
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: leases bucket: %w", err)
	}
	return rooms, leases, nil
}
