package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// fingerprint stands for a secret or a key in NATS without revealing it:
// a SHA-256 of a domain-separated input, compared, never reversed.
func fingerprint(what string, b []byte) string {
	h := sha256.New()
	h.Write([]byte("hush cluster fingerprint v1\x00" + what + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// shared is one thing every node of a cluster must have alike, as stored
// in the rooms bucket under check.<what>.
type shared struct {
	what  string // key suffix, and the name in errors
	value string // stored and compared
	show  func(mine, theirs string) string
}

// sharedItems lists what this node must share with the cluster: the code
// salt (through the secret derived from it) and the host key, stored as
// fingerprints; the lease and the replica count, stored as they are. The
// first node to start sets them.
func (r *Registry) sharedItems() []shared {
	var items []shared
	for _, it := range []struct {
		what string
		b    []byte
	}{{"secret", r.cfg.Secret}, {"hostkey", r.cfg.HostKey}} {
		if len(it.b) == 0 {
			continue
		}
		items = append(items, shared{what: it.what, value: fingerprint(it.what, it.b), show: func(mine, theirs string) string {
			return fmt.Sprintf("this node's %s (fingerprint %.12s) differs from the cluster's (%.12s): every node must use the same data directory", it.what, mine, theirs)
		}})
	}
	setting := func(what, flag, value string) shared {
		return shared{what: what, value: value, show: func(mine, theirs string) string {
			return fmt.Sprintf("this node's %s (%s) is %s, the cluster's is %s: every node must use the same", what, flag, mine, theirs)
		}}
	}
	return append(items,
		setting("lease", "--nats-lease", r.cfg.Lease.String()),
		setting("replicas", "--nats-replicas", strconv.Itoa(r.cfg.Replicas)))
}

// check makes sure this node shares the cluster's data directory and
// settings, storing them in kv (the rooms bucket) if it is the first.
// New calls it before it changes any bucket, so a node that differs
// changes nothing on its way out.
func (r *Registry) check(ctx context.Context, kv jetstream.KeyValue) error {
	for _, it := range r.sharedItems() {
		key := "check." + it.what
		_, err := kv.Create(ctx, key, []byte(it.value))
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("cluster: store %s: %w", it.what, err)
		}
		e, err := kv.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("cluster: read %s: %w", it.what, err)
		}
		if got := string(e.Value()); got != it.value {
			return fmt.Errorf("%w: %s", errMismatch, it.show(it.value, got))
		}
	}
	return nil
}

// checkFirst runs check against the rooms bucket if it exists already,
// before ensureBuckets would set its replicas and the leases bucket's TTL
// to this node's values.
func (r *Registry) checkFirst(ctx context.Context) error {
	kv, err := r.js.KeyValue(ctx, roomsBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("cluster: rooms bucket: %w", err)
	}
	return r.check(ctx, kv)
}
