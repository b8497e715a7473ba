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
	wrongCodesBucket = "hush_wrong_codes"
	// wrongCodesTimeout bounds one call: a join never waits long on it,
	// and the node's own counts apply meanwhile.
	wrongCodesTimeout = time.Second
)

// WrongCodes keeps every address's wrong room codes in NATS, so the
// allowance holds across the cluster: a guesser spreading attempts over
// nodes gains nothing. Addresses are stored under a keyed hash, never in
// the clear. It satisfies admit.SharedWrongCodes.
type WrongCodes struct {
	r   *Registry
	kv  jetstream.KeyValue
	cfg limits.Config
}

// WrongCodes makes (or finds) the bucket of wrong codes. cfg is the
// per-address allowance; every node must use the same.
func (r *Registry) WrongCodes(ctx context.Context, cfg limits.Config) (*WrongCodes, error) {
	l := &WrongCodes{r: r, cfg: cfg}
	var err error
	if l.kv, err = l.ensure(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// ensure makes the bucket, again if NATS lost it (its memory is all
// there is). A record lives as long as it can matter: the lockout and a
// full refill, after the last wrong code. The handle WrongCodes keeps
// addresses the bucket by name, so it works with one made again (and
// calls under way never see it change).
func (l *WrongCodes) ensure(ctx context.Context) (jetstream.KeyValue, error) {
	ttl := l.cfg.Lockout
	if l.cfg.WrongCodesPerHour > 0 {
		ttl += time.Duration(float64(l.cfg.WrongCodes) / l.cfg.WrongCodesPerHour * float64(time.Hour))
	}
	ttl = max(ttl.Round(time.Second), time.Minute)
	kv, err := l.r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      wrongCodesBucket,
		Description: "hush: wrong room codes per address (keyed by a hash of the address)",
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.MemoryStorage,
		Replicas:    l.r.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: wrong codes bucket: %w", err)
	}
	return kv, nil
}

// name is the key an address is kept under.
func (l *WrongCodes) name(addr string) string {
	m := hmac.New(sha256.New, l.r.cfg.Secret)
	m.Write([]byte("wrong codes\x00" + addr))
	return "a." + hex.EncodeToString(m.Sum(nil))[:keyLen]
}

// Wait is how long addr's joining is paused across the cluster.
func (l *WrongCodes) Wait(ctx context.Context, addr string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, wrongCodesTimeout)
	defer cancel()
	s, _, err := l.get(ctx, l.name(addr))
	if err != nil {
		return 0, err
	}
	return l.cfg.Wait(s, time.Now()), nil
}

// Wrong counts one wrong code from addr, for every node to see.
func (l *WrongCodes) Wrong(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, wrongCodesTimeout)
	defer cancel()
	key := l.name(addr)
	return retryRaces(ctx, func() error {
		s, rev, err := l.get(ctx, key)
		if err != nil {
			return err
		}
		s, _ = l.cfg.Wrong(s, time.Now())
		b, _ := json.Marshal(s)
		if rev == 0 {
			_, err = l.kv.Create(ctx, key, b)
		} else {
			_, err = l.kv.Update(ctx, key, b, rev)
		}
		if err != nil && !lostRace(err) {
			l.r.totals.kvErrors.Add(1)
			return fmt.Errorf("%w: wrong code: %w", rooms.ErrUnavailable, err)
		}
		return err
	})
}

// get reads a record; a missing one is a fresh record at revision 0.
func (l *WrongCodes) get(ctx context.Context, key string) (limits.WrongCodeRecord, uint64, error) {
	e, err := l.kv.Get(ctx, key)
	if vanished(err) {
		if _, err = l.ensure(ctx); err == nil {
			e, err = l.kv.Get(ctx, key)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return limits.WrongCodeRecord{}, 0, nil
	case err != nil:
		l.r.totals.kvErrors.Add(1)
		return limits.WrongCodeRecord{}, 0, fmt.Errorf("%w: wrong codes: %w", rooms.ErrUnavailable, err)
	}
	var s limits.WrongCodeRecord
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return limits.WrongCodeRecord{}, e.Revision(), nil // unreadable: start over
	}
	return s, e.Revision(), nil
}
