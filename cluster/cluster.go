// Package cluster keeps rooms that span servers: several hush nodes behind
// one address share one NATS system, so two people who reach different
// nodes can still sit in the same room.
//
// Who sits where lives in a memory-only JetStream key-value bucket, one
// record per room, changed by compare-and-set so two nodes racing for the
// last seat cannot both win. What members type never touches storage: it
// travels over core NATS publish/subscribe, and only when the room has
// members on another node. Room codes never reach NATS at all: keys and
// subjects carry a keyed hash of the code.
//
// Core NATS is at most once, so a Join or Leave can be lost on the way.
// Twice a lease each node reads the record of every room it seats that
// spans nodes and shows what the record says (a difference seen by two
// checks in a row); an arrival some node did not confirm is announced
// again at the next sweep. A lost message's ghost is gone within a lease.
//
// A node proves it is alive by renewing one lease key (one write every
// Lease/3, however many people it seats). When a node's lease expires the
// others drop its members from the rooms they share. A node that cannot
// renew for longer than it can prove it still holds its lease ends its
// seats in shared rooms with rooms.ErrLost: the others are about to see
// those members leave, and an honest end beats two diverging rooms.
//
// In NATS: bucket hush_rooms (memory, history 1) maps a room key, the
// first 32 hex digits of HMAC-SHA256(Secret, code), to a JSON record of
// seats, last ID and members (ID, name, badge, guest, colour, node),
// whether the room is locked and the knocks at its door; the lobby is one
// more record, under a key no code hashes to. The bucket also keeps what
// every node must share under check.secret and check.hostkey
// (fingerprints), check.lease and check.replicas. Bucket hush_leases
// (memory, TTL Lease) holds one key per live node process. Subject
// hush.room.<room key> carries joins, departures, keystrokes and
// newlines, news of the lock and the door, and words told to one member
// (sealed with AES-GCM under a key from Secret) between nodes. With the
// default 15 s lease a node renews every 5 s and fences itself 11.25 s
// after its last successful renewal; the others drop its members 15 s
// after that renewal (up to 3.75 s later if no watcher saw the expiry),
// so at most about 19 s after it went silent.
package cluster

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hush-chat/hush/rooms"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names in NATS. Every node of one hush cluster must use the same.
const (
	roomsBucket   = "hush_rooms"
	leasesBucket  = "hush_leases"
	subjectPrefix = "hush.room."
)

const (
	// DefaultLease is how long a silent node keeps its members.
	DefaultLease = 15 * time.Second
	// opTimeout bounds Open and Join whatever the caller's context says:
	// a person waiting at a prompt should hear "try later" rather than wait.
	opTimeout = 4 * time.Second
	// setupTimeout bounds New: making replicated buckets takes a while on
	// a JetStream cluster that has just formed.
	setupTimeout = 15 * time.Second
	// ackWait bounds how long Join waits for the room's other nodes to
	// learn of the arrival.
	ackWait = time.Second
	// leaveTimeout bounds the write that gives a seat back.
	leaveTimeout = 2 * time.Second
	// inboxLen bounds the messages from other nodes waiting for dispatch;
	// beyond it NATS drops them (and reports a slow consumer).
	inboxLen = 1 << 16
	// casTries bounds compare-and-set retries on one record. Each lost race
	// means another writer won, so this many in a row is a storm, not bad luck.
	casTries = 64
	// keyLen is how many hex characters of the keyed hash name a room.
	keyLen = 32
	// markerTTL is how long a deleted room's marker stays in the bucket.
	markerTTL = time.Second
)

// errMismatch means this node does not match the cluster as the first
// node started it: another data directory (salt or host key), or another
// lease or replica count.
var errMismatch = errors.New("cluster: node does not match the cluster")

// Config says who this node is and how it takes part.
type Config struct {
	// Node names this server; logs and lease keys carry it. Each process
	// adds a random suffix, so a restarted node is a new member.
	Node string
	// Codes issues and checks room codes; every node uses the same salt.
	Codes *rooms.Codes
	// Secret keys the hash that names rooms in NATS. Derive it from the
	// code salt: every node needs the same, at least 16 bytes.
	Secret []byte
	// HostKey is the SSH host public key (wire form). If set, New refuses
	// to join a cluster that was started with another.
	HostKey []byte
	// Lease is how long a silent node keeps its members (whole seconds,
	// at least 2 s; DefaultLease if zero). Every node must use the same:
	// New refuses one that differs from the cluster's.
	Lease time.Duration
	// Replicas is how many JetStream servers keep each bucket (1 if zero).
	// Every node must use the same: New refuses one that differs.
	Replicas int
	// Logger receives structured logs; slog.Default() if nil.
	Logger *slog.Logger

	// drop, if set, is asked about every message from other nodes before
	// it is dispatched; true loses it, as core NATS may. Tests set it.
	drop func(*nats.Msg) bool
}

// Counters are totals since New, for metrics.
type Counters struct {
	PublishErrors uint64 // core NATS publishes that failed
	KVErrors      uint64 // key-value calls that failed (lost races excluded)
	LeaseRenewals uint64 // successful lease writes
	EventsIn      uint64 // events received from other nodes
	EventsOut     uint64 // events published for other nodes
	NodesLost     uint64 // other nodes' members dropped because their lease expired
	Fenced        uint64 // times this node ended shared seats for want of a lease
}

// Registry is a rooms.Registry whose rooms span the nodes sharing a NATS
// system. Make one with New.
//
// Lock order, outermost first: a room's writes (held across the round
// trips of a change to its record), the room's mu, then either the
// table's lock or the registry's mu, which take no other lock. Nothing
// but a room's writes is held while waiting on NATS.
type Registry struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	rooms  jetstream.KeyValue
	leases jetstream.KeyValue
	margin time.Duration // the lease time this node does not count on
	lobby  string        // the lobby's key: a keyed hash no code has
	told   cipher.AEAD   // seals words told to one member (see seal)

	lease     atomic.Pointer[string] // this process's lease key now
	leaseOK   atomic.Bool            // the lease is held: Open and Join may write
	heldSince atomic.Int64           // unix nanoseconds since the lease is held without a gap
	retaken   atomic.Int64           // unix nanoseconds when the lease was last taken again (0: never)
	resync    atomic.Bool            // local rooms must be written again (records may be gone)

	// table holds the rooms this node takes part in, by key, and whether
	// Close was called; its lock also guards each room's refs and sub.
	table *rooms.Table[*room]

	mu       sync.Mutex
	pastKeys map[string]bool     // lease keys this process held before (fenced away)
	untidy   map[string]struct{} // rooms whose records may still list seats given up here

	counts rooms.Counts
	totals struct {
		publishErrors, kvErrors, renewals, in, out, nodesLost, fenced atomic.Uint64
	}

	life     context.Context // ends at Close
	stop     context.CancelFunc
	wg       sync.WaitGroup
	inbox    chan *nats.Msg // every room subscription of this node feeds it
	sweepNow chan struct{}  // wakes the sweep
	renewNow chan struct{}  // wakes the lease loop
}

// New joins the cluster on nc: it makes the buckets if they are missing,
// checks this node matches the cluster, takes a lease and starts renewing
// it. nc stays the caller's; Close does not close it.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Registry, error) {
	switch {
	case nc == nil:
		return nil, errors.New("cluster: no NATS connection")
	case cfg.Codes == nil:
		return nil, errors.New("cluster: no code issuer")
	case len(cfg.Secret) < 16:
		return nil, errors.New("cluster: secret must be at least 16 bytes")
	case cfg.Node == "":
		return nil, errors.New("cluster: no node name")
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	cfg.Lease = cfg.Lease.Round(time.Second)
	if cfg.Lease < 2*time.Second {
		return nil, fmt.Errorf("cluster: lease %v is shorter than 2s", cfg.Lease)
	}
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	r := &Registry{
		cfg:      cfg,
		nc:       nc,
		js:       js,
		margin:   cfg.Lease / 4,
		table:    rooms.NewTable[*room](),
		pastKeys: make(map[string]bool),
		untidy:   make(map[string]struct{}),
		life:     life,
		stop:     stop,
		inbox:    make(chan *nats.Msg, inboxLen),
		sweepNow: make(chan struct{}, 1),
		renewNow: make(chan struct{}, 1),
	}
	r.lobby = r.roomKey("\x00" + rooms.LobbyCode)
	block, err := aes.NewCipher(r.derive("told"))
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if r.told, err = cipher.NewGCM(block); err != nil {
		stop()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	key := newLeaseKey(cfg.Node)
	r.lease.Store(&key)
	r.log = cfg.Logger.With("node", key)
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := r.checkFirst(ctx); err != nil {
		stop()
		return nil, err
	}
	if r.rooms, r.leases, err = r.ensureBuckets(ctx); err != nil {
		stop()
		return nil, err
	}
	if err := r.check(ctx, r.rooms); err != nil {
		stop()
		return nil, err
	}
	sent := time.Now()
	rev, err := r.leases.Create(ctx, key, []byte(cfg.Node))
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster: take lease: %w", err)
	}
	r.totals.renewals.Add(1)
	r.leaseOK.Store(true)
	r.heldSince.Store(sent.UnixNano())
	r.wg.Add(4)
	go r.dispatch()
	go r.leaseLoop(rev, sent)
	go r.sweepLoop()
	go r.watchLeases()
	r.log.Info("cluster: joined", "lease", cfg.Lease, "replicas", cfg.Replicas)
	return r, nil
}

// leaseKey is this process's lease key now.
func (r *Registry) leaseKey() string { return *r.lease.Load() }

// roomKey names a room in NATS: a keyed hash of its code, never the code.
func (r *Registry) roomKey(code string) string {
	m := hmac.New(sha256.New, r.cfg.Secret)
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))[:keyLen]
}

// derive is a key of 32 bytes for what, from the secret.
func (r *Registry) derive(what string) []byte {
	m := hmac.New(sha256.New, r.cfg.Secret)
	m.Write([]byte("hush cluster key v1\x00" + what))
	return m.Sum(nil)
}

// writable says whether Open and Join may try at all.
func (r *Registry) writable() error {
	switch {
	case r.table.Closed() != nil:
		return rooms.ErrClosed
	case r.nc.Status() != nats.CONNECTED:
		return fmt.Errorf("%w: NATS %v", rooms.ErrUnavailable, r.nc.Status())
	case !r.leaseOK.Load():
		return fmt.Errorf("%w: no lease", rooms.ErrUnavailable)
	}
	return nil
}

// unavailable counts a failed key-value call and says what the caller
// should hear. A bucket that vanished (NATS restarted) wakes the lease
// loop to make it again.
func (r *Registry) unavailable(err error) error {
	r.totals.kvErrors.Add(1)
	if vanished(err) {
		wake(r.renewNow)
	}
	return fmt.Errorf("%w: %w", rooms.ErrUnavailable, err)
}

// vanished says err may mean the bucket is gone: NATS lost its memory
// (a missing stream answers a read with no responders).
func vanished(err error) bool {
	return errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Open implements rooms.Registry.
func (r *Registry) Open(ctx context.Context, seats int, m rooms.Member) (rooms.Seat, error) {
	if seats < 1 {
		return nil, fmt.Errorf("cluster: %d seats", seats)
	}
	ctx, cancel, err := r.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return r.cfg.Codes.Draw(func(code string) (rooms.Seat, error) {
		rm := r.acquire(r.roomKey(code))
		defer r.release(rm)
		return rm.open(ctx, code, seats, m)
	})
}

// Join implements rooms.Registry.
func (r *Registry) Join(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	return r.at(ctx, code, func(ctx context.Context, rm *room, code string) (rooms.Seat, error) {
		return rm.join(ctx, code, m)
	})
}

// at runs f on the room code (as typed) names, held for the call, once
// begin lets it.
func (r *Registry) at(ctx context.Context, code string, f func(ctx context.Context, rm *room, code string) (rooms.Seat, error)) (rooms.Seat, error) {
	code, err := r.cfg.Codes.Parse(code)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := r.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	rm := r.acquire(r.roomKey(code))
	defer r.release(rm)
	return f(ctx, rm, code)
}

// begin starts one Open or Join, unless the caller gave up or this node
// cannot write now, and bounds it: by the caller's context, by opTimeout,
// and by the connection: a call under way when NATS drops gives up at once
// instead of waiting out its time.
func (r *Registry) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := r.writable(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	changed := r.nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	if r.nc.Status() != nats.CONNECTED {
		cancel()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-changed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		<-done
		r.nc.RemoveStatusListener(changed)
	}, nil
}

// Stats implements rooms.Registry for this node's part of the cluster:
// Rooms counts rooms with at least one member seated here, Members the
// members seated here, BySize those rooms by how many sit here. Summing
// Members over nodes gives the cluster's members; summing Rooms counts a
// room once per node it spans.
func (r *Registry) Stats() rooms.Stats { return r.counts.Stats() }

// Counters returns totals for metrics; it never waits on I/O.
func (r *Registry) Counters() Counters {
	return Counters{
		PublishErrors: r.totals.publishErrors.Load(),
		KVErrors:      r.totals.kvErrors.Load(),
		LeaseRenewals: r.totals.renewals.Load(),
		EventsIn:      r.totals.in.Load(),
		EventsOut:     r.totals.out.Load(),
		NodesLost:     r.totals.nodesLost.Load(),
		Fenced:        r.totals.fenced.Load(),
	}
}

// Health is nil while this node is connected to NATS and holds its lease.
func (r *Registry) Health() error {
	if err := r.writable(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// Close implements rooms.Registry. It ends every seat here, gives the
// seats back in NATS as far as a short wait allows, and drops the lease.
func (r *Registry) Close(cause error) {
	var keys []string
	closed := r.table.Close(cause, func(rm *room, cause error) {
		for _, s := range rm.seated() {
			s.end(cause, false)
		}
		keys = append(keys, rm.key)
	})
	if !closed {
		return
	}
	r.stop()
	r.wg.Wait()

	// Best effort, in parallel, within one short wait: whatever is left
	// behind is dropped by the others when the lease expires. Cut off from
	// NATS, there is nothing to wait for.
	defer r.leaseOK.Store(false)
	if r.nc.Status() != nats.CONNECTED {
		r.log.Info("cluster: closed while cut off", "rooms", len(keys))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for key := range work {
				r.tidy(ctx, key)
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.leases.Purge(ctx, r.leaseKey()); err != nil {
		r.log.Debug("cluster: drop lease", "err", err)
	}
	r.log.Info("cluster: closed", "rooms", len(keys))
}

// acquire finds or makes the room for key and holds it until release.
func (r *Registry) acquire(key string) *room {
	var rm *room
	r.table.Do(func(open map[string]*room, _ error) {
		if rm = open[key]; rm == nil {
			rm = &room{reg: r, key: key, lobby: key == r.lobby, remote: map[int]member{}, departed: map[int]bool{}, unheard: map[int]bool{}, knocks: map[int]member{}}
			open[key] = rm
		}
		rm.refs++
	})
	return rm
}

// hold is acquire for a room already in hand; false if it is gone.
func (r *Registry) hold(rm *room) bool {
	held := false
	r.table.Do(func(open map[string]*room, _ error) {
		if held = open[rm.key] == rm; held {
			rm.refs++
		}
	})
	return held
}

// release lets go of rm; the last to let go of it unsubscribes.
func (r *Registry) release(rm *room) {
	var sub *nats.Subscription
	r.table.Do(func(open map[string]*room, _ error) {
		if rm.refs--; rm.refs == 0 {
			delete(open, rm.key)
			sub, rm.sub = rm.sub, nil
		}
	})
	if sub != nil {
		sub.Unsubscribe()
	}
}

// own says whether lease key node is this process's, now or before.
func (r *Registry) own(node string) bool {
	if node == r.leaseKey() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pastKeys[node]
}

// logKey is enough of a room key for logs.
func logKey(key string) string { return key[:8] }
