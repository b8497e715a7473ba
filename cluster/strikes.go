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
	strikesBucket = "hush_strikes"
	// strikeTimeout bounds one ledger call: a join never waits long on it,
	// and the node's own counts apply meanwhile.
	strikeTimeout = time.Second
)

// Ledger keeps every address's wrong room codes in NATS, so the
// allowance holds across the cluster: a guesser spreading attempts over
// nodes gains nothing. Addresses are stored under a keyed hash, never in
// the clear. It satisfies admit.Ledger.
type Ledger struct {
	r   *Registry
	kv  jetstream.KeyValue
	cfg limits.Config
}

// Ledger makes (or finds) the bucket of wrong codes. cfg is the
// per-address allowance; every node must use the same.
func (r *Registry) Ledger(ctx context.Context, cfg limits.Config) (*Ledger, error) {
	l := &Ledger{r: r, cfg: cfg}
	if err := l.ensure(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// ensure makes the bucket, again if NATS lost it (its memory is all
// there is). A record lives as long as it can matter: the lockout and a
// full refill, after the last wrong code.
func (l *Ledger) ensure(ctx context.Context) error {
	ttl := l.cfg.Lockout
	if l.cfg.FailsPerHour > 0 {
		ttl += time.Duration(float64(l.cfg.Fails) / l.cfg.FailsPerHour * float64(time.Hour))
	}
	ttl = max(ttl.Round(time.Second), time.Minute)
	kv, err := l.r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      strikesBucket,
		Description: "hush: wrong room codes per address (keyed by a hash of the address)",
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.MemoryStorage,
		Replicas:    l.r.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("cluster: strikes bucket: %w", err)
	}
	l.kv = kv
	return nil
}

// name is the key an address is kept under.
func (l *Ledger) name(addr string) string {
	m := hmac.New(sha256.New, l.r.cfg.Secret)
	m.Write([]byte("strikes\x00" + addr))
	return "a." + hex.EncodeToString(m.Sum(nil))[:keyLen]
}

// Wait is how long addr's joining is paused across the cluster.
func (l *Ledger) Wait(ctx context.Context, addr string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, strikeTimeout)
	defer cancel()
	s, _, err := l.get(ctx, l.name(addr))
	if err != nil {
		return 0, err
	}
	return l.cfg.Wait(s, time.Now()), nil
}

// Strike counts one wrong code from addr, for every node to see.
func (l *Ledger) Strike(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, strikeTimeout)
	defer cancel()
	key := l.name(addr)
	return retryRaces(ctx, func() error {
		s, rev, err := l.get(ctx, key)
		if err != nil {
			return err
		}
		s, _ = l.cfg.Strike(s, time.Now())
		b, _ := json.Marshal(s)
		if rev == 0 {
			_, err = l.kv.Create(ctx, key, b)
		} else {
			_, err = l.kv.Update(ctx, key, b, rev)
		}
		if err != nil && !lostRace(err) {
			l.r.totals.kvErrors.Add(1)
			return fmt.Errorf("%w: strike: %w", rooms.ErrUnavailable, err)
		}
		return err
	})
}

// get reads a record; a missing one is a fresh record at revision 0.
func (l *Ledger) get(ctx context.Context, key string) (limits.Strikes, uint64, error) {
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		if err = l.ensure(ctx); err == nil {
			e, err = l.kv.Get(ctx, key)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return limits.Strikes{}, 0, nil
	case err != nil:
		l.r.totals.kvErrors.Add(1)
		return limits.Strikes{}, 0, fmt.Errorf("%w: strikes: %w", rooms.ErrUnavailable, err)
	}
	var s limits.Strikes
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return limits.Strikes{}, e.Revision(), nil // unreadable: start over
	}
	return s, e.Revision(), nil
}
