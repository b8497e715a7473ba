package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
)

const (
	talliesBucket = "hush_tallies"
	// talliesTimeout bounds one call: an ask or a knock never waits long
	// on it, and the node's own counts apply meanwhile.
	talliesTimeout = time.Second
)

// Tallies keeps tallies (limits.Tally: when something happened lately,
// such as an address's asks and knocks) in NATS, so an allowance holds
// across the cluster. Keys are stored as a keyed hash, never in the
// clear. It satisfies admit.SharedTallies.
type Tallies struct {
	r    *Registry
	kv   jetstream.KeyValue
	keep time.Duration
}

// Tallies makes (or finds) the bucket of tallies. keep is the longest
// period any caller counts over: a tally left alone that long is
// forgotten. Every node must use the same.
func (r *Registry) Tallies(ctx context.Context, keep time.Duration) (*Tallies, error) {
	t := &Tallies{r: r, keep: max(keep, time.Second)}
	var err error
	if t.kv, err = t.ensure(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// ensure makes the bucket, again if NATS lost it (its memory is all
// there is). The handle Tallies keeps addresses the bucket by name, so it
// works with one made again.
func (t *Tallies) ensure(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      talliesBucket,
		Description: "hush: recent asks and knocks per address (keyed by a hash)",
		History:     1,
		TTL:         t.keep.Round(time.Second),
		Storage:     jetstream.MemoryStorage,
		Replicas:    t.r.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: tallies bucket: %w", err)
	}
	return kv, nil
}

// name is the NATS key a tally is kept under.
func (t *Tallies) name(key string) string {
	m := hmac.New(sha256.New, t.r.cfg.Secret)
	m.Write([]byte("tallies\x00" + key))
	return "t." + hex.EncodeToString(m.Sum(nil))[:keyLen]
}

// Take counts one under key if fewer than max fell within per, for
// every node to see; compare-and-set, so racing nodes lose no count.
func (t *Tallies) Take(ctx context.Context, key string, max int, per time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, talliesTimeout)
	defer cancel()
	name := t.name(key)
	var ok bool
	err := retryRaces(ctx, func() error {
		tally, rev, err := t.get(ctx, name)
		if err != nil {
			return err
		}
		if tally, ok = tally.Take(time.Now(), max, per); !ok {
			return nil
		}
		b, _ := json.Marshal(tally)
		if rev == 0 {
			_, err = t.kv.Create(ctx, name, b)
		} else {
			_, err = t.kv.Update(ctx, name, b, rev)
		}
		if err != nil && !lostRace(err) {
			t.r.totals.kvErrors.Add(1)
			return fmt.Errorf("%w: tally: %w", rooms.ErrUnavailable, err)
		}
		return err
	})
	return ok && err == nil, err
}

// Count is how many were counted under key within per, on any node.
func (t *Tallies) Count(ctx context.Context, key string, per time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, talliesTimeout)
	defer cancel()
	tally, _, err := t.get(ctx, t.name(key))
	if err != nil {
		return 0, err
	}
	return tally.Count(time.Now(), per), nil
}

// get reads a tally; a missing one is empty, at revision 0.
func (t *Tallies) get(ctx context.Context, name string) (limits.Tally, uint64, error) {
	e, err := t.kv.Get(ctx, name)
	if vanished(err) {
		if _, err = t.ensure(ctx); err == nil {
			e, err = t.kv.Get(ctx, name)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return limits.Tally{}, 0, nil
	case err != nil:
		t.r.totals.kvErrors.Add(1)
		return limits.Tally{}, 0, fmt.Errorf("%w: tallies: %w", rooms.ErrUnavailable, err)
	}
	var tally limits.Tally
	if err := json.Unmarshal(e.Value(), &tally); err != nil || len(tally.At) > limits.MaxTally {
		return limits.Tally{}, e.Revision(), nil // unreadable: start over
	}
	return tally, e.Revision(), nil
}
