package certs

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/nats-io/nats.go/jetstream"
)

// Buckets in NATS: certificates on disk (they must outlive a NATS restart,
// or every node would order again and run into the CA's rate limits), and
// locks in memory, each gone lockTTL after its holder stops renewing it.
const (
	certBucket = "hush_certs"
	lockBucket = "hush_cert_locks"
	lockTTL    = 30 * time.Second
)

// NATS keeps certificates in JetStream key-value buckets, so that every
// node serves the one certificate a single order brought, and a node
// started later finds it there. Its lock lets one node order at a time;
// a node that dies holding it lets go within 30 s.
type NATS struct {
	kv, locks jetstream.KeyValue
	id        string // this holder, in the lock's value

	mu    sync.Mutex
	holds map[string]*hold
}

// hold is a lock this node holds: keep renews it, and its revision is
// read by Unlock only once keep has ended.
type hold struct {
	stop chan struct{}
	done chan struct{}
	rev  uint64
}

var _ certmagic.Storage = (*NATS)(nil)

// NewNATS opens (or makes) the buckets, kept by replicas JetStream
// servers.
func NewNATS(ctx context.Context, js jetstream.JetStream, replicas int) (*NATS, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      certBucket,
		Description: "hush: ACME accounts, keys and certificates for the web page",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("certificates in NATS: %w", err)
	}
	locks, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      lockBucket,
		Description: "hush: who is ordering a certificate now",
		History:     1,
		TTL:         lockTTL,
		Storage:     jetstream.MemoryStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("certificate locks in NATS: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &NATS{kv: kv, locks: locks, id: hex.EncodeToString(id[:]), holds: make(map[string]*hold)}, nil
}

// Keys are certmagic's paths ("certificates/ca/name/name.crt"), which may
// hold characters NATS keys may not: each is stored base64url-encoded.
func encode(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decode(k string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(k)
	return string(b), err == nil
}

// Store writes value at key.
func (n *NATS) Store(ctx context.Context, key string, value []byte) error {
	_, err := n.kv.Put(ctx, encode(key), value)
	return err
}

// Load reads key; fs.ErrNotExist if there is none.
func (n *NATS) Load(ctx context.Context, key string) ([]byte, error) {
	e, err := n.kv.Get(ctx, encode(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

// keys is every key stored, decoded.
func (n *NATS) keys(ctx context.Context) ([]string, error) {
	lister, err := n.kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range lister.Keys() {
		if key, ok := decode(k); ok {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// under is the keys below the "directory" dir.
func (n *NATS) under(ctx context.Context, dir string) ([]string, error) {
	keys, err := n.keys(ctx)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	return slices.DeleteFunc(keys, func(k string) bool { return !strings.HasPrefix(k, prefix) }), nil
}

// Delete removes key, and everything below it as a directory.
func (n *NATS) Delete(ctx context.Context, key string) error {
	below, err := n.under(ctx, key)
	if err != nil {
		return err
	}
	for _, k := range append(below, key) {
		if err := n.kv.Delete(ctx, encode(k)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
	}
	return nil
}

// Exists says whether key is stored, or is a directory of stored keys.
func (n *NATS) Exists(ctx context.Context, key string) bool {
	_, err := n.Stat(ctx, key)
	return err == nil
}

// List names what is below path: every key when recursive, else the
// keys and directories right below it.
func (n *NATS) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	below, err := n.under(ctx, path)
	if err != nil {
		return nil, err
	}
	if len(below) == 0 {
		return nil, fs.ErrNotExist
	}
	if recursive {
		return below, nil
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	var names []string
	for _, k := range below {
		first, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "/")
		if name := prefix + first; !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// Stat describes key.
func (n *NATS) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	e, err := n.kv.Get(ctx, encode(key))
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: e.Created(), Size: int64(len(e.Value())), IsTerminal: true}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return certmagic.KeyInfo{}, err
	}
	below, err := n.under(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if len(below) == 0 {
		return certmagic.KeyInfo{}, fs.ErrNotExist
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// Lock waits until this node holds name, or ctx ends. The lock is kept
// alive until Unlock; if this process dies it lapses after lockTTL.
func (n *NATS) Lock(ctx context.Context, name string) error {
	key := encode(name)
	for {
		rev, err := n.locks.Create(ctx, key, []byte(n.id))
		if err == nil {
			h := &hold{stop: make(chan struct{}), done: make(chan struct{}), rev: rev}
			n.mu.Lock()
			n.holds[name] = h
			n.mu.Unlock()
			go n.keep(key, h)
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("certificate lock %s: %w", name, err)
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// keep renews a held lock until it is let go.
func (n *NATS) keep(key string, h *hold) {
	defer close(h.done)
	tick := time.NewTicker(lockTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), lockTTL/3)
			if rev, err := n.locks.Update(ctx, key, []byte(n.id), h.rev); err == nil {
				h.rev = rev
			}
			cancel()
		}
	}
}

// Unlock lets name go.
func (n *NATS) Unlock(ctx context.Context, name string) error {
	n.mu.Lock()
	h, ok := n.holds[name]
	delete(n.holds, name)
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("certificate lock %s: not held", name)
	}
	close(h.stop)
	<-h.done
	err := n.locks.Delete(ctx, encode(name), jetstream.LastRevision(h.rev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("certificate lock %s: %w", name, err)
	}
	return nil
}

// String names the storage in certmagic's logs.
func (n *NATS) String() string { return "NATS:" + certBucket }
