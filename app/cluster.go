package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/certs"
	"github.com/hush-chat/hush/cluster"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/rooms"
)

// checkNATS refuses cluster settings nobody meant: credentials without a
// server, two kinds of credentials, or rooms' membership sent in the clear
// to another machine.
func checkNATS(c Config) error {
	if c.NATS == "" {
		if c.NATSCreds != "" || c.NATSNkey != "" || c.NATSCA != "" {
			return errors.New("--nats-creds, --nats-nkey and --nats-ca need --nats")
		}
		return nil
	}
	switch {
	case c.NATSCreds != "" && c.NATSNkey != "":
		return errors.New("--nats-creds and --nats-nkey: give one")
	case c.NATSLease < 2*time.Second || c.NATSLease%time.Second != 0:
		return fmt.Errorf("--nats-lease %v: want whole seconds, at least 2s", c.NATSLease)
	case c.NATSReplicas < 1 || c.NATSReplicas > 5:
		return fmt.Errorf("--nats-replicas %d: want 1 to 5", c.NATSReplicas)
	}
	for _, raw := range strings.Split(c.NATS, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Host == "" {
			return fmt.Errorf("--nats %q: want URLs like nats://host:4222 or tls://host:4222", redact(raw))
		}
		secure := u.Scheme == "tls" || u.Scheme == "wss" || c.NATSCA != ""
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("--nats %q: scheme %q, want nats, tls, ws or wss", redact(raw), u.Scheme)
		}
		if !secure && !c.NATSInsecure && !loopbackHost(u.Hostname()) {
			return fmt.Errorf("--nats %s is another machine and the connection has no TLS: use tls:// (with --nats-ca for a private CA), or --nats-insecure on a network you trust", redact(raw))
		}
	}
	return nil
}

// redact drops a password from a NATS URL before it is shown.
func redact(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return strings.TrimSpace(raw)
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// natsCluster is hush's part in a cluster: the connection and the
// registry shared with the other nodes.
type natsCluster struct {
	nc  *nats.Conn
	reg *cluster.Registry
}

// joinCluster connects to NATS and takes part in the cluster of hush
// nodes there. It fails, and hush does not start, when NATS cannot be
// reached or this node's data directory differs from the cluster's.
func joinCluster(cfg Config, codes *rooms.Codes, salt string, hostKey []byte, log *slog.Logger) (*natsCluster, error) {
	node := cfg.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	if node == "" {
		node = "hush"
	}
	log = log.With("node", node)
	opts := []nats.Option{
		nats.Name("hush " + node),
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// A server that vanished without closing the connection is noticed
		// in about ten seconds, not the default four minutes.
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("NATS disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", redact(nc.ConnectedUrl()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", "err", err)
		}),
	}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	if cfg.NATSNkey != "" {
		opt, err := nats.NkeyOptionFromSeed(cfg.NATSNkey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	if cfg.NATSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSCA))
	}
	nc, err := nats.Connect(cfg.NATS, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot reach NATS at %s: %w", redact(cfg.NATS), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := cluster.New(ctx, nc, cluster.Config{
		Node:     node,
		Codes:    codes,
		Secret:   clusterSecret(salt),
		HostKey:  hostKey,
		Lease:    cfg.NATSLease,
		Replicas: cfg.NATSReplicas,
		Logger:   log,
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	log.Info("rooms shared through NATS", "servers", redact(cfg.NATS), "lease", cfg.NATSLease)
	return &natsCluster{nc: nc, reg: reg}, nil
}

// clusterSecret keys the hash that names rooms in NATS: derived from the
// code salt, so every node with the same data directory has it, and NATS
// never sees the salt itself.
func clusterSecret(salt string) []byte {
	sum := sha256.Sum256([]byte("hush cluster secret v1\x00" + salt))
	return sum[:]
}

// shared keeps wrong codes per address across the cluster.
func (c *natsCluster) shared(cfg limits.Config) (admit.SharedWrongCodes, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := c.reg.WrongCodes(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// tallies keeps asks and knocks per address across the cluster, for as
// long as the longest period the gate counts them over.
func (c *natsCluster) tallies() (admit.SharedTallies, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t, err := c.reg.Tallies(ctx, max(admit.AsksPeriod, admit.KnocksPeriod, admit.AskAgainAfter))
	if err != nil {
		return nil, err
	}
	return t, nil
}

// certStorage keeps --web-domain certificates in NATS, shared by every
// node.
func (c *natsCluster) certStorage(replicas int) (certs.Storage, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, fmt.Errorf("certificates in NATS: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return certs.NewNATS(ctx, js, replicas)
}

// close lets the connection go once the registry has given its seats back.
func (c *natsCluster) close() {
	if c != nil {
		c.nc.Close()
	}
}

// Health is nil while this node is connected and holds its lease.
func (c *natsCluster) Health() error {
	if !c.nc.IsConnected() {
		return errors.New("NATS unreachable")
	}
	return c.reg.Health()
}

// ClusterCounts is what the metrics show of the cluster.
func (c *natsCluster) ClusterCounts() metrics.ClusterCounts {
	n := c.reg.Counters()
	return metrics.ClusterCounts{
		Connected:     c.nc.IsConnected(),
		PublishErrors: n.PublishErrors,
		KVErrors:      n.KVErrors,
		LeaseRenewals: n.LeaseRenewals,
		EventsIn:      n.EventsIn,
		EventsOut:     n.EventsOut,
		NodesLost:     n.NodesLost,
		Fenced:        n.Fenced,
	}
}

// hostPublicKey reads the SSH host key, creating it first if missing (as
// the SSH server would), and returns its public half in wire form: the
// cluster checks every node has the same.
func hostPublicKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if b, err = newHostKey(path); err != nil {
			return nil, fmt.Errorf("host key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return signer.PublicKey().Marshal(), nil
}

// newHostKey writes a new ed25519 host key (OpenSSH format) and its .pub.
func newHostKey(path string) ([]byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	b := pem.EncodeToMemory(block)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return b, os.WriteFile(path+".pub", gossh.MarshalAuthorizedKey(sshPub), 0o644)
}
