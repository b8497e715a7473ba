package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/internal/natstest"
	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/rooms"
)

// natsWithTLSAndNkey runs an embedded nats-server that takes only TLS
// connections (certificate from a CA of its own) and one nkey user; it
// returns its URL, the CA file and the user's seed file.
func natsWithTLSAndNkey(t *testing.T) (url, caFile, seedFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hush test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile = filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	s := natstest.StartServer(t, 0, filepath.Join(dir, "js"), func(o *server.Options) {
		o.TLS = true
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}, MinVersion: tls.VersionTLS12}
		o.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	})
	return "tls://" + s.Addr().String(), caFile, seedFile
}

// hush reaches a NATS that wants TLS and an nkey the way its operators
// would give them: --nats-ca and --nats-nkey. Without the key, or without
// the CA, it does not start, and says why.
func TestClusterOverTLSWithNkey(t *testing.T) {
	url, ca, seed := natsWithTLSAndNkey(t)
	start := func(args ...string) (*App, error) {
		cfg, err := ParseConfig(append([]string{"--listen", "127.0.0.1:0", "--web", "", "--data", t.TempDir(), "--nats", url, "--metrics", "127.0.0.1:0"}, args...), noEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Start(cfg, slog.New(slog.DiscardHandler), metrics.Build{Version: "test", GoVersion: runtime.Version()})
		if err == nil {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = a.Shutdown(ctx)
			})
		}
		return a, err
	}
	a, err := start("--nats-ca", ca, "--nats-nkey", seed)
	if err != nil {
		t.Fatalf("with CA and nkey: %v", err)
	}
	if err := a.nats.Health(); err != nil {
		t.Fatalf("health: %v", err)
	}
	if !a.nats.nc.TLSRequired() && !strings.HasPrefix(a.nats.nc.ConnectedUrl(), "tls://") {
		t.Fatalf("connected without TLS: %s", a.nats.nc.ConnectedUrl())
	}
	_, err = start("--nats-ca", ca)
	if err == nil || !strings.Contains(err.Error(), "cannot reach NATS") || !strings.Contains(err.Error(), "uthorization") {
		t.Fatalf("without the nkey: %v", err)
	}
	t.Logf("without the nkey: %v", err)
	_, err = start("--nats-nkey", seed)
	if err == nil || !strings.Contains(err.Error(), "cannot reach NATS") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v", err)
	}
	t.Logf("without the CA: %v", err)
}

// Two nodes' gates share one address's allowance of asks through NATS:
// spread over both, it runs out as it would on one.
func TestAsksCountedAcrossNodes(t *testing.T) {
	s := natstest.StartServer(t, 0, "")
	codes, err := rooms.NewCodes("app-test-salt-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	var gates []*admit.Gate
	for _, node := range []string{"a", "b"} {
		cfg, err := ParseConfig([]string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--nats", s.ClientURL(), "--node", node}, noEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := joinCluster(cfg, codes, "app-test-salt-0123456789", nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.close)
		t.Cleanup(func() { nc.reg.Close(nil) })
		g, err := newGate(cfg, nc.reg, nc, nil)
		if err != nil {
			t.Fatal(err)
		}
		gates = append(gates, g)
	}
	addr := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 2222}
	var conns []*admit.Conn
	for _, g := range gates {
		c := g.Connect(addr)
		t.Cleanup(c.Close)
		conns = append(conns, c)
	}
	for i := range admit.AsksAllowed {
		if err := conns[i%2].Ask(t.Context(), "who"+strconv.Itoa(i), "someone"); err != nil {
			t.Fatalf("ask %d: %v", i+1, err)
		}
	}
	for _, c := range conns {
		var r *admit.Refusal
		if err := c.Ask(t.Context(), "another", "someone"); !errors.As(err, &r) || r.Reason != admit.TooManyAsks {
			t.Fatalf("ask %d, over two nodes: %v, want too many asks", admit.AsksAllowed+1, err)
		}
	}
}
