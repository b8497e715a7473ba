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

	"github.com/hush-chat/hush/rooms"
)

// records keeps small JSON records per address in a bucket of NATS's
// memory, under a keyed hash of their key, never the key in the clear:
// what WrongCodes and Tallies share. A record missing, or unreadable, is
// the zero T.
type records[T any] struct {
	r       *Registry
	kv      jetstream.KeyValue // set once: it names the bucket, so works with one made again
	bucket  jetstream.KeyValueConfig
	salt    string        // what the hash is of, besides the key
	prefix  string        // the NATS key's first letters
	what    string        // in errors
	timeout time.Duration // bounds one call: the node's own counts apply meanwhile
	valid   func(T) bool  // nil: every record that decodes
}

// open makes (or finds) the bucket.
func (s *records[T]) open(ctx context.Context) error {
	s.bucket.History, s.bucket.Storage, s.bucket.Replicas = 1, jetstream.MemoryStorage, s.r.cfg.Replicas
	var err error
	s.kv, err = s.ensure(ctx)
	return err
}

// ensure makes the bucket, again if NATS lost it (its memory is all there
// is).
func (s *records[T]) ensure(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := s.r.js.CreateOrUpdateKeyValue(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s bucket: %w", s.what, err)
	}
	return kv, nil
}

// name is the NATS key a record is kept under.
func (s *records[T]) name(key string) string {
	m := hmac.New(sha256.New, s.r.cfg.Secret)
	m.Write([]byte(s.salt + "\x00" + key))
	return s.prefix + hex.EncodeToString(m.Sum(nil))[:keyLen]
}

// read is key's record, as every node sees it.
func (s *records[T]) read(ctx context.Context, key string) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rec, _, err := s.get(ctx, s.name(key))
	return rec, err
}

// change rewrites key's record with f, compare-and-set, so racing nodes
// lose no change; f reports whether to write what it returns.
func (s *records[T]) change(ctx context.Context, key string, f func(T) (T, bool)) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	name := s.name(key)
	var wrote bool
	err := retryRaces(ctx, func() error {
		rec, rev, err := s.get(ctx, name)
		if err != nil {
			return err
		}
		if rec, wrote = f(rec); !wrote {
			return nil
		}
		b, _ := json.Marshal(rec)
		if rev == 0 {
			_, err = s.kv.Create(ctx, name, b)
		} else {
			_, err = s.kv.Update(ctx, name, b, rev)
		}
		if err != nil && !lostRace(err) {
			s.r.totals.kvErrors.Add(1)
			return fmt.Errorf("%w: %s: %w", rooms.ErrUnavailable, s.what, err)
		}
		return err
	})
	return wrote && err == nil, err
}

// get reads a record; a missing one is the zero T at revision 0.
func (s *records[T]) get(ctx context.Context, name string) (T, uint64, error) {
	var zero T
	e, err := s.kv.Get(ctx, name)
	if vanished(err) {
		if _, err = s.ensure(ctx); err == nil {
			e, err = s.kv.Get(ctx, name)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return zero, 0, nil
	case err != nil:
		s.r.totals.kvErrors.Add(1)
		return zero, 0, fmt.Errorf("%w: %s: %w", rooms.ErrUnavailable, s.what, err)
	}
	var rec T
	if err := json.Unmarshal(e.Value(), &rec); err != nil || (s.valid != nil && !s.valid(rec)) {
		return zero, e.Revision(), nil // unreadable: start over
	}
	return rec, e.Revision(), nil
}
