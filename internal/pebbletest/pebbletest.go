// Package pebbletest runs Let's Encrypt's test CA, pebble, for tests: the
// real ACME server, built from the module proxy (go.mod names it as a
// tool), validating against the test's own listeners on 127.0.0.1, with
// a DNS server of its own that sends every name there.
package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hush-chat/hush/internal/logtest"
)

// Options says where pebble checks challenges and how long its
// certificates last.
type Options struct {
	HTTPPort, TLSPort int           // on 127.0.0.1: the server under test
	Validity          time.Duration // 0: pebble's 90 days
}

// CA is a running pebble.
type CA struct {
	// Dir is the ACME directory URL.
	Dir string
	// Roots trusts pebble's own HTTPS (its test root, minica), which
	// RootsFile holds as PEM.
	Roots     *x509.CertPool
	RootsFile string

	mgmt string
	cmd  *exec.Cmd
	out  *buffer
	done chan struct{}
}

type buffer = logtest.Buffer

// binary is pebble's executable, built (and cached by the go command)
// from the version go.mod names.
func binary(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "pebble").Output()
	if err != nil {
		t.Fatalf("building pebble (go tool -n pebble): %v", err)
	}
	return strings.TrimSpace(string(out))
}

// moduleDir is where pebble's module sits in the module cache: its test
// certificates are there.
func moduleDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil {
		t.Fatalf("go list pebble: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// FreePort is a TCP port on 127.0.0.1 nobody listened on a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs pebble until the test ends (or Stop).
func Start(t testing.TB, o Options) *CA {
	t.Helper()
	bin, mod := binary(t), moduleDir(t)
	dnsAddr := serveDNS(t)
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	mgmt := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	profile := map[string]any{"description": "test"}
	if o.Validity > 0 {
		profile["validityPeriod"] = int(o.Validity.Seconds())
	}
	conf, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": mgmt,
		"certificate":             filepath.Join(mod, "test/certs/localhost/cert.pem"),
		"privateKey":              filepath.Join(mod, "test/certs/localhost/key.pem"),
		"httpPort":                o.HTTPPort,
		"tlsPort":                 o.TLSPort,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"profiles":                map[string]any{"default": profile},
	}})
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	minicaFile := filepath.Join(mod, "test/certs/pebble.minica.pem")
	minica, err := os.ReadFile(minicaFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(minica)

	c := &CA{Dir: "https://" + listen + "/dir", Roots: roots, RootsFile: minicaFile, mgmt: mgmt, out: &buffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, "-config", confPath, "-dnsserver", dnsAddr)
	c.cmd.Env = append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",      // no random pause before validating
		"PEBBLE_WFE_NONCEREJECT=0", // no nonces refused at random
		"PEBBLE_AUTHZREUSE=0",      // every order is validated
	)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(c.Stop)
	client := c.client()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(c.Dir)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		select {
		case <-c.done:
			t.Fatalf("pebble exited:\n%s", c.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not answer at %s: %v\n%s", c.Dir, err, c.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *CA) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Roots}}}
}

// Stop ends pebble (by its PID) and waits for it: the CA is gone.
func (c *CA) Stop() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Orders is how many orders pebble has taken.
func (c *CA) Orders() int { return strings.Count(c.out.String(), "Added order") }

// Log is what pebble printed.
func (c *CA) Log() string { return c.out.String() }

// IssuerRoot is the root pebble's certificates chain to, fresh for each
// run: what a client must trust.
func (c *CA) IssuerRoot(t testing.TB) *x509.Certificate {
	t.Helper()
	resp, err := c.client().Get("https://" + c.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("no PEM at /roots/0: %q", b)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// serveDNS answers every A question with 127.0.0.1 (and AAAA with
// nothing) on a port of 127.0.0.1, over TCP (what pebble asks with) and
// UDP, until the test ends.
func serveDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})
	for _, srv := range []*dns.Server{{Listener: ln, Handler: handler}, {PacketConn: pc, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return ln.Addr().String()
}
