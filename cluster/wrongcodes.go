package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hush-chat/hush/limits"
)

// wrongCodesBucket holds every address's wrong room codes.
const wrongCodesBucket = "hush_wrong_codes"

// WrongCodes keeps every address's wrong room codes in NATS, so the
// allowance holds across the cluster: a guesser spreading attempts over
// nodes gains nothing. Addresses are stored under a keyed hash, never in
// the clear. It satisfies admit.SharedWrongCodes.
type WrongCodes struct {
	*records[limits.WrongCodeRecord]
	cfg limits.Config
}

// WrongCodes makes (or finds) the bucket of wrong codes. cfg is the
// per-address allowance; every node must use the same. A record lives as
// long as it can matter: the lockout and a full refill, after the last
// wrong code.
func (r *Registry) WrongCodes(ctx context.Context, cfg limits.Config) (*WrongCodes, error) {
	ttl := cfg.Lockout
	if cfg.WrongCodesPerHour > 0 {
		ttl += time.Duration(float64(cfg.WrongCodes) / cfg.WrongCodesPerHour * float64(time.Hour))
	}
	l := &WrongCodes{cfg: cfg, records: &records[limits.WrongCodeRecord]{
		r: r,
		bucket: jetstream.KeyValueConfig{
			Bucket:      wrongCodesBucket,
			Description: "hush: wrong room codes per address (keyed by a hash of the address)",
			TTL:         max(ttl.Round(time.Second), time.Minute),
		},
		salt: "wrong codes", prefix: "a.", what: "wrong codes",
		timeout: time.Second, // a join never waits long on it
	}}
	if err := l.open(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Wait is how long addr's joining is paused across the cluster.
func (l *WrongCodes) Wait(ctx context.Context, addr string) (time.Duration, error) {
	s, err := l.read(ctx, addr)
	if err != nil {
		return 0, err
	}
	return l.cfg.Wait(s, time.Now()), nil
}

// Wrong counts one wrong code from addr, for every node to see.
func (l *WrongCodes) Wrong(ctx context.Context, addr string) error {
	_, err := l.change(ctx, addr, func(s limits.WrongCodeRecord) (limits.WrongCodeRecord, bool) {
		s, _ = l.cfg.Wrong(s, time.Now())
		return s, true
	})
	return err
}
