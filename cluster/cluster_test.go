package cluster

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/natstest"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/rooms/roomstest"
	"github.com/nats-io/nats.go"
)

const testSalt = "cluster-test-salt-0123456789"

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.Timeout(time.Second), nats.NoCallbacksAfterClientClose(),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // the tests cut connections on purpose
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func testCodes(t testing.TB) *rooms.Codes {
	c, err := rooms.NewCodes(testSalt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testConfig(t testing.TB, node string) Config {
	return Config{Node: node, Codes: testCodes(t), Secret: []byte("secret-from-the-salt-0123"), HostKey: []byte("host-key"), Lease: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
}

// newNode starts a registry on its own connection to url.
// mortalNode is newNode, with the connection it alone uses: closing it is
// the node dying without a word.
func mortalNode(t testing.TB, url, node string) (*Registry, *nats.Conn) {
	t.Helper()
	nc := connect(t, url)
	r, err := New(t.Context(), nc, testConfig(t, node))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(nil) })
	return r, nc
}

func newNode(t testing.TB, url, node string, edit ...func(*Config)) *Registry {
	t.Helper()
	cfg := testConfig(t, node)
	for _, e := range edit {
		e(&cfg)
	}
	r, err := New(t.Context(), connect(t, url), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(nil) })
	return r
}

func TestContract(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	open := func(t *testing.T) rooms.Registry { return newNode(t, s.ClientURL(), "solo") }
	roomstest.Run(t, open)
	roomstest.RunMeeting(t, open)
}

// TestContractTwoNodes runs the contract with every other Open and Join
// going to the other node, so most rooms span both.
func TestContractTwoNodes(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	open := func(t *testing.T) rooms.Registry {
		return &pair{nodes: [2]*Registry{newNode(t, s.ClientURL(), "left"), newNode(t, s.ClientURL(), "right")}}
	}
	roomstest.Run(t, open)
	roomstest.RunMeeting(t, open)
}

// pair is two nodes seen as one registry: calls alternate between them,
// Stats counts the rooms of both once each.
type pair struct {
	nodes [2]*Registry
	next  atomic.Uint32
}

func (p *pair) pick() *Registry { return p.nodes[p.next.Add(1)%2] }

func (p *pair) Open(ctx context.Context, seats int, m rooms.Member) (rooms.Seat, error) {
	return p.pick().Open(ctx, seats, m)
}

func (p *pair) Join(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	return p.pick().Join(ctx, code, m)
}

func (p *pair) Lobby(ctx context.Context, size int, m rooms.Member) (rooms.Seat, error) {
	return p.pick().Lobby(ctx, size, m)
}

func (p *pair) Knock(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	return p.pick().Knock(ctx, code, m)
}

func (p *pair) Close(cause error) {
	for _, n := range p.nodes {
		n.Close(cause)
	}
}

func (p *pair) Stats() rooms.Stats {
	sizes := map[string]int{}
	var s rooms.Stats
	for _, n := range p.nodes {
		for k, v := range n.localSizes() {
			sizes[k] += v
		}
		s.Dropped += n.Stats().Dropped
		s.Lobby += n.Stats().Lobby
	}
	s.BySize = map[int]int{}
	for _, v := range sizes {
		s.Rooms++
		s.Members += v
		s.BySize[v]++
	}
	return s
}

// localSizes counts the seats this node holds, by room key, the lobby's
// aside.
func (r *Registry) localSizes() map[string]int {
	open := r.table.All()
	out := map[string]int{}
	for _, rm := range open {
		rm.mu.Lock()
		if n := len(rm.local); n > 0 && !rm.lobby {
			out[rm.key] = n
		}
		rm.mu.Unlock()
	}
	return out
}
