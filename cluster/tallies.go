package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hush-chat/hush/limits"
)

// talliesBucket holds the cluster's tallies.
const talliesBucket = "hush_tallies"

// Tallies keeps tallies (limits.Tally: when something happened lately,
// such as an address's asks and knocks) in NATS, so an allowance holds
// across the cluster. Keys are stored as a keyed hash, never in the
// clear. It satisfies admit.SharedTallies.
type Tallies struct {
	*records[limits.Tally]
}

// Tallies makes (or finds) the bucket of tallies. keep is the longest
// period any caller counts over: a tally left alone that long is
// forgotten. Every node must use the same.
func (r *Registry) Tallies(ctx context.Context, keep time.Duration) (*Tallies, error) {
	t := &Tallies{&records[limits.Tally]{
		r: r,
		bucket: jetstream.KeyValueConfig{
			Bucket:      talliesBucket,
			Description: "hush: recent asks and knocks per address (keyed by a hash)",
			TTL:         max(keep, time.Second).Round(time.Second),
		},
		salt: "tallies", prefix: "t.", what: "tallies",
		timeout: time.Second, // an ask or a knock never waits long on it
		valid:   func(t limits.Tally) bool { return len(t.At) <= limits.MaxTally },
	}}
	if err := t.open(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Take counts one under key if fewer than max fell within per, for
// every node to see.
func (t *Tallies) Take(ctx context.Context, key string, max int, per time.Duration) (bool, error) {
	return t.change(ctx, key, func(tally limits.Tally) (limits.Tally, bool) {
		return tally.Take(time.Now(), max, per)
	})
}

// Count is how many were counted under key within per, on any node.
func (t *Tallies) Count(ctx context.Context, key string, per time.Duration) (int, error) {
	tally, err := t.read(ctx, key)
	if err != nil {
		return 0, err
	}
	return tally.Count(time.Now(), per), nil
}
