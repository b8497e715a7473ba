package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

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

// check makes sure this node shares the cluster's data directory: the
// same code salt (through the secret derived from it) and the same host
// key. The first node to start sets them.
func (r *Registry) check(ctx context.Context) error {
	items := []struct {
		what string
		b    []byte
	}{{"secret", r.cfg.Secret}, {"hostkey", r.cfg.HostKey}}
	for _, it := range items {
		if len(it.b) == 0 {
			continue
		}
		key, fp := "check."+it.what, fingerprint(it.what, it.b)
		_, err := r.rooms.Create(ctx, key, []byte(fp))
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("cluster: store %s fingerprint: %w", it.what, err)
		}
		e, err := r.rooms.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("cluster: read %s fingerprint: %w", it.what, err)
		}
		if got := string(e.Value()); got != fp {
			return fmt.Errorf("%w: this node's %s (fingerprint %.12s) differs from the cluster's (%.12s): every node must use the same data directory",
				errMismatch, it.what, fp, got)
		}
	}
	return nil
}
