package certs

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hush-chat/hush/internal/logtest"
	"github.com/hush-chat/hush/internal/pebbletest"
)

// natsStorage runs an embedded NATS server with JetStream and returns a
// fresh connection's storage each time it is called.
func natsStorage(t *testing.T) func() *NATS {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(s.Shutdown)
	return func() *NATS {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		n, err := NewNATS(t.Context(), js, 1)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func TestNATSStorage(t *testing.T) {
	n := natsStorage(t)()
	ctx := t.Context()
	if _, err := n.Load(ctx, "certificates/ca/x/x.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of nothing: %v", err)
	}
	for _, k := range []string{"certificates/127.0.0.1:1-dir/chat.test/chat.test.crt", "certificates/127.0.0.1:1-dir/chat.test/chat.test.key", "certificates/127.0.0.1:1-dir/other.test/other.test.crt", "acme/account.json"} {
		if err := n.Store(ctx, k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := n.Load(ctx, "acme/account.json"); err != nil || string(b) != "v:acme/account.json" {
		t.Fatalf("Load: %q %v", b, err)
	}
	got, err := n.List(ctx, "certificates", false)
	if err != nil || !slices.Equal(got, []string{"certificates/127.0.0.1:1-dir"}) {
		t.Fatalf("List certificates: %q %v", got, err)
	}
	got, err = n.List(ctx, "certificates/127.0.0.1:1-dir", true)
	slices.Sort(got)
	if err != nil || len(got) != 3 {
		t.Fatalf("List recursive: %q %v", got, err)
	}
	if info, err := n.Stat(ctx, "certificates/127.0.0.1:1-dir/chat.test"); err != nil || info.IsTerminal {
		t.Fatalf("Stat of a directory: %+v %v", info, err)
	}
	if info, err := n.Stat(ctx, "acme/account.json"); err != nil || !info.IsTerminal || info.Size != int64(len("v:acme/account.json")) {
		t.Fatalf("Stat of a key: %+v %v", info, err)
	}
	if err := n.Delete(ctx, "certificates/127.0.0.1:1-dir/chat.test"); err != nil {
		t.Fatal(err)
	}
	if n.Exists(ctx, "certificates/127.0.0.1:1-dir/chat.test/chat.test.key") || !n.Exists(ctx, "certificates/127.0.0.1:1-dir/other.test") {
		t.Fatal("Delete of a directory took the wrong keys")
	}
}

// One holder at a time, across connections (nodes); waiting ends with
// the context.
func TestNATSLock(t *testing.T) {
	open := natsStorage(t)
	a, b := open(), open()
	ctx := t.Context()
	if err := a.Lock(ctx, "issue_cert_chat.test"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "issue_cert_chat.test"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second holder: %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_chat.test") }()
	select {
	case err := <-got:
		t.Fatalf("b took a held lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := a.Unlock(ctx, "issue_cert_chat.test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b did not get the lock once a let go")
	}
	if err := b.Unlock(ctx, "issue_cert_chat.test"); err != nil {
		t.Fatal(err)
	}
}

// Nodes sharing NATS: started at once, one orders and all serve that
// certificate; one started later takes it from NATS. Pebble reaches only
// the first node, as when DNS names one machine: the others' challenges
// are answered there through the shared storage.
func TestACMEThroughNATSOrdersOnce(t *testing.T) {
	open := natsStorage(t)
	first := listen(t)
	ca := pebbletest.Start(t, pebbletest.Options{TLSPort: port(first), HTTPPort: pebbletest.FreePort(t)})
	node := func(ln net.Listener) (*ACME, *logtest.Buffer) {
		log := &logtest.Buffer{}
		a, err := NewACME(ACMEConfig{Domains: []string{domain}, CA: ca.Dir, Roots: ca.Roots, Storage: open(), TLSAddr: ln.Addr().String(),
			Log: slog.New(slog.NewTextHandler(log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		serveTLSOn(t, ln, a.TLSConfig())
		t.Cleanup(a.Stop)
		return a, log
	}
	lns := []net.Listener{first, listen(t), listen(t)}
	logs := make([]*logtest.Buffer, 3)
	var nodes []*ACME
	for i, ln := range lns[:2] {
		var a *ACME
		a, logs[i] = node(ln)
		nodes = append(nodes, a)
	}
	var wg sync.WaitGroup
	for _, a := range nodes {
		wg.Go(func() {
			if err := a.Start(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	want := waitVerified(t, ca, lns[0].Addr().String(), logs[0], anyCert)
	for i, ln := range lns[:2] {
		got := waitVerified(t, ca, ln.Addr().String(), logs[i], anyCert)
		if got.SerialNumber.Cmp(want.SerialNumber) != 0 {
			t.Fatalf("node %d serves %v, node 0 %v", i, got.SerialNumber, want.SerialNumber)
		}
	}
	if n := ca.Orders(); n != 1 {
		t.Fatalf("%d orders from two nodes, want 1", n)
	}

	late, log := node(lns[2])
	if err := late.Start(); err != nil {
		t.Fatal(err)
	}
	got := waitVerified(t, ca, lns[2].Addr().String(), log, anyCert)
	if got.SerialNumber.Cmp(want.SerialNumber) != 0 || ca.Orders() != 1 {
		t.Fatalf("the late node serves %v (want %v) after %d orders", got.SerialNumber, want.SerialNumber, ca.Orders())
	}
}
