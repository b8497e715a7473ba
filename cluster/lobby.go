package cluster

import (
	"context"
	"fmt"

	"github.com/hush-chat/hush/rooms"
)

// The lobby is a room like any other to the cluster, under a key no code
// hashes to: one record for all nodes (who is there, on which node), so
// a node that dies takes its people out of the list with its lease, and
// text crosses NATS once per key, only when people wait on another node.
// It has no code, is never locked, and is counted apart (Stats.Lobby).

// Lobby implements rooms.Registry.
func (r *Registry) Lobby(ctx context.Context, size int, m rooms.Member) (rooms.Seat, error) {
	if size < 1 {
		return nil, fmt.Errorf("cluster: lobby of %d", size)
	}
	ctx, cancel, err := r.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	rm := r.acquire(r.lobby)
	defer r.release(rm)
	return rm.enter(ctx, size, m)
}

// enter seats m in the lobby, writing its record first if nobody is
// there; size is how many it holds, as this call says.
func (rm *room) enter(ctx context.Context, size int, m rooms.Member) (rooms.Seat, error) {
	rm.writes.Lock()
	defer rm.writes.Unlock()
	rec, me, gone, err := rm.take(ctx, m, false, func(rec *record, _ bool) error {
		if len(rec.Members) >= size {
			return rooms.ErrFull
		}
		rec.Seats = size
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rm.seat(ctx, rooms.LobbyCode, rec, me, gone)
}
