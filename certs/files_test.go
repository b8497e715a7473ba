package certs

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/logtest"
	"github.com/hush-chat/hush/internal/testcert"
)

// serveTLS answers TLS handshakes on a loopback port with cfg until the
// test ends, and returns the address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveTLSOn(t, ln, cfg)
	return ln.Addr().String()
}

// serveTLSOn answers TLS handshakes on ln until the test ends.
func serveTLSOn(t *testing.T, plain net.Listener, cfg *tls.Config) {
	ln := tls.NewListener(plain, cfg)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			})
		}
	})
}

// servedSerial is the serial number of the certificate addr serves.
func servedSerial(t *testing.T, addr string) *big.Int {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{
		InsecureSkipVerify: true, // only which certificate is served matters here
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// waitServed waits, with a bound, until addr serves serial.
func waitServed(t *testing.T, addr string, serial *big.Int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := servedSerial(t, addr)
		if got.Cmp(serial) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serving serial %v, want %v", got, serial)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFilesPickUpARenewedPairOnAHandshake(t *testing.T) {
	dir := t.TempDir()
	first, second := testcert.Valid(t, "chat.test"), testcert.Valid(t, "chat.test")
	certPath, keyPath := testcert.Write(t, dir, first.Cert, first.Key)
	log := &logtest.Buffer{}
	f, err := LoadFiles(certPath, keyPath, 50*time.Millisecond, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, &tls.Config{GetCertificate: f.GetCertificate})
	if got := servedSerial(t, addr); got.Cmp(first.Serial) != 0 {
		t.Fatalf("serving %v, want the first pair %v", got, first.Serial)
	}

	testcert.Write(t, dir, second.Cert, second.Key)
	waitServed(t, addr, second.Serial)
	if !strings.Contains(log.String(), `msg="TLS certificate reloaded"`) || !strings.Contains(log.String(), "expires=") {
		t.Errorf("no reload line with the new expiry:\n%s", log)
	}
	if !f.Expiry().Equal(second.NotAfter.Truncate(time.Second)) {
		t.Errorf("Expiry %v, want %v", f.Expiry(), second.NotAfter)
	}
}

func TestFilesKeepServingWhenTheNewPairIsBroken(t *testing.T) {
	dir := t.TempDir()
	good := testcert.Valid(t, "chat.test")
	certPath, keyPath := testcert.Write(t, dir, good.Cert, good.Key)
	log := &logtest.Buffer{}
	f, err := LoadFiles(certPath, keyPath, time.Hour, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, &tls.Config{GetCertificate: f.GetCertificate})
	other := testcert.Valid(t, "chat.test")
	now := time.Now()
	expired := testcert.New(t, now.Add(-48*time.Hour), now.Add(-time.Hour), "chat.test")
	for _, c := range []struct {
		name      string
		cert, key []byte
		why       string
	}{
		{"a key that is not the certificate's", other.Cert, good.Key, "private key does not match public key"},
		{"half-written files", other.Cert[:len(other.Cert)/2], other.Key, "failed to find any PEM data in certificate input"},
		{"an expired certificate", expired.Cert, expired.Key, "certificate expired at"},
	} {
		testcert.Write(t, dir, c.cert, c.key)
		changed, err := f.Reload()
		if changed || err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: Reload = %v, %v; want refused with %q", c.name, changed, err, c.why)
		}
		if !errors.Is(f.LastError(), err) {
			t.Errorf("%s: LastError %v, want %v", c.name, f.LastError(), err)
		}
		if got := servedSerial(t, addr); got.Cmp(good.Serial) != 0 {
			t.Fatalf("%s: serving %v, want the good pair %v still", c.name, got, good.Serial)
		}
		if !strings.Contains(log.String(), c.why) {
			t.Errorf("%s: the log does not say why:\n%s", c.name, log)
		}
	}
	// A broken pair is logged once, not at every look.
	n := strings.Count(log.String(), "do not load")
	if _, err := f.Reload(); err == nil {
		t.Fatal("the expired pair loaded on a second look")
	}
	if strings.Count(log.String(), "do not load") != n {
		t.Errorf("the same broken pair was logged twice:\n%s", log)
	}

	// Within the check interval a handshake does not look; Reload does.
	testcert.Write(t, dir, other.Cert, other.Key)
	if got := servedSerial(t, addr); got.Cmp(good.Serial) != 0 {
		t.Fatalf("the files were read before their check was due")
	}
	if changed, err := f.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a good pair = %v, %v", changed, err)
	}
	if got := servedSerial(t, addr); got.Cmp(other.Serial) != 0 {
		t.Fatalf("serving %v after Reload, want %v", got, other.Serial)
	}
	if f.LastError() != nil {
		t.Errorf("LastError %v after a good pair loaded", f.LastError())
	}
}

func TestLoadFilesRefusesABrokenFirstPair(t *testing.T) {
	dir := t.TempDir()
	a, b := testcert.Valid(t, "chat.test"), testcert.Valid(t, "chat.test")
	certPath, keyPath := testcert.Write(t, dir, a.Cert, b.Key)
	if _, err := LoadFiles(certPath, keyPath, 0, nil); err == nil || !strings.Contains(err.Error(), "TLS certificate") {
		t.Fatalf("LoadFiles of a mismatched pair: %v", err)
	}
}
