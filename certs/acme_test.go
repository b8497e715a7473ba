package certs

import (
	"crypto/tls"
	"crypto/x509"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/logtest"
	"github.com/hush-chat/hush/internal/pebbletest"
)

const domain = "chat.hush.test"

// verified dials addr as a browser would for domain, trusting only root,
// and returns the certificate it was served; nil until the handshake
// verifies.
func verified(addr string, root *x509.Certificate) *x509.Certificate {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: domain, RootCAs: pool})
	if err != nil {
		return nil
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// waitVerified waits, with a bound, until addr serves a certificate for
// domain that chains to the CA's root and ok accepts.
func waitVerified(t *testing.T, ca *pebbletest.CA, addr string, log *logtest.Buffer, ok func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	root := ca.IssuerRoot(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c := verified(addr, root); c != nil && ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s served in time\nhush:\n%s\npebble:\n%s", domain, log, ca.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func anyCert(*x509.Certificate) bool { return true }

// newACME starts an ACME for domain whose TLS-ALPN-01 answers are served
// on tlsLn, and (when httpLn is not nil) HTTP-01 on httpLn.
func newACME(t *testing.T, ca *pebbletest.CA, tlsLn, httpLn net.Listener, dir string, renew time.Duration) (*ACME, *logtest.Buffer) {
	t.Helper()
	log := &logtest.Buffer{}
	cfg := ACMEConfig{
		Domains:    []string{domain},
		CA:         ca.Dir,
		Roots:      ca.Roots,
		Dir:        dir,
		TLSAddr:    tlsLn.Addr().String(),
		RenewCheck: renew,
		Log:        slog.New(slog.NewTextHandler(log, nil)),
	}
	if httpLn != nil {
		cfg.HTTPAddr = httpLn.Addr().String()
	}
	a, err := NewACME(cfg)
	if err != nil {
		t.Fatal(err)
	}
	serveTLSOn(t, tlsLn, a.TLSConfig())
	if httpLn != nil {
		srv := &http.Server{Handler: a.HTTPHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(httpLn) }()
		t.Cleanup(func() { srv.Close() })
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	return a, log
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// TLS-ALPN-01 alone (pebble's HTTP port leads nowhere): the certificate
// comes, is kept 0600 in the directory, and a restart takes it from
// there without a new order.
func TestACMEOverTLSALPN(t *testing.T) {
	tlsLn := listen(t)
	ca := pebbletest.Start(t, pebbletest.Options{TLSPort: port(tlsLn), HTTPPort: pebbletest.FreePort(t)})
	dir := filepath.Join(t.TempDir(), "certificates")
	a, log := newACME(t, ca, tlsLn, nil, dir, 0)
	got := waitVerified(t, ca, tlsLn.Addr().String(), log, anyCert)
	if !strings.Contains(log.String(), `msg="certificate: obtained" domain=`+domain) {
		t.Errorf("no line saying the certificate came:\n%s", log)
	}
	if exp := a.Expiry(); !exp.Equal(got.NotAfter) {
		t.Errorf("Expiry %v, served certificate expires %v", exp, got.NotAfter)
	}
	if a.LastError() != nil {
		t.Errorf("LastError %v after success", a.LastError())
	}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 && !(strings.Contains(path, "/locks") && d.IsDir()) {
			t.Errorf("%s is open to others: %v", path, info.Mode())
		}
		if strings.HasSuffix(path, ".key") {
			files++
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walking %s: %v, %d keys", dir, err, files)
	}
	orders := ca.Orders()
	a.Stop()

	// Started again on the same directory: served from storage.
	tlsLn2 := listen(t)
	_, log2 := newACME(t, ca, tlsLn2, nil, dir, 0)
	again := waitVerified(t, ca, tlsLn2.Addr().String(), log2, anyCert)
	if again.SerialNumber.Cmp(got.SerialNumber) != 0 || ca.Orders() != orders {
		t.Fatalf("a restart ordered again: serial %v then %v, orders %d then %d", got.SerialNumber, again.SerialNumber, orders, ca.Orders())
	}
}

// HTTP-01 (pebble's TLS port leads nowhere): answered on the plain HTTP
// listener, which sends everything else to HTTPS.
func TestACMEOverHTTP(t *testing.T) {
	tlsLn, httpLn := listen(t), listen(t)
	ca := pebbletest.Start(t, pebbletest.Options{TLSPort: pebbletest.FreePort(t), HTTPPort: port(httpLn)})
	_, log := newACME(t, ca, tlsLn, httpLn, t.TempDir(), 0)
	waitVerified(t, ca, tlsLn.Addr().String(), log, anyCert)
	if !strings.Contains(ca.Log(), "Attempting to validate w/ HTTP") {
		t.Errorf("pebble validated no http-01 challenge:\n%s", ca.Log())
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+httpLn.Addr().String()+"/ab12-cd34?x=1", nil)
	req.Host = domain
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "https://" + domain + ":" + tlsPortString(tlsLn) + "/ab12-cd34?x=1"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP answered %s %q, want 308 to %s", resp.Status, resp.Header.Get("Location"), want)
	}
}

func tlsPortString(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// The CA refusing (here: it cannot reach us for either challenge) is
// logged with its reason and the time of the next try, and kept for
// LastError.
func TestACMEFailureSaysWhyAndWhen(t *testing.T) {
	tlsLn := listen(t)
	ca := pebbletest.Start(t, pebbletest.Options{TLSPort: pebbletest.FreePort(t), HTTPPort: pebbletest.FreePort(t)})
	a, log := newACME(t, ca, tlsLn, nil, t.TempDir(), 0)
	deadline := time.Now().Add(60 * time.Second)
	for a.LastError() == nil || !strings.Contains(log.String(), "certificate: order failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure seen:\n%s\npebble:\n%s", log, ca.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	line := ""
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "certificate: order failed") {
			line = l
		}
	}
	if !strings.Contains(line, "reason=") || !strings.Contains(line, "retry_at=") || !strings.Contains(line, "Failed to connect to 127.0.0.1") {
		t.Errorf("the failure line lacks the CA's reason or the retry time:\n%s", line)
	}
	if n := strings.Count(log.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one failure, want 1:\n%s", n, log)
	}
	if !a.Expiry().IsZero() {
		t.Errorf("Expiry %v with no certificate", a.Expiry())
	}
}
