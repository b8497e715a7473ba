package e2e

// The web page over HTTPS from certificate files that renew under a
// running server: read again on a handshake once the check is due, or at
// once on SIGHUP, which never ends the process.

import (
	"crypto/tls"
	"math/big"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/testcert"
	"github.com/hush-chat/hush/internal/wait"
)

// servedSerial is the serial of the certificate the TLS server at addr
// serves, 0 if the handshake failed.
func servedSerial(addr string) *big.Int {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: sshtest.Timeout}, "tcp", addr, &tls.Config{
		InsecureSkipVerify: true, // which certificate is served is what is checked
	})
	if err != nil {
		return big.NewInt(0)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

func waitSerial(t *testing.T, addr string, want *big.Int) {
	t.Helper()
	wait.Until(t, "the new certificate to be served", func() (bool, string) {
		got := servedSerial(addr)
		return got.Cmp(want) == 0, "serving " + got.String() + ", want " + want.String()
	})
}

func TestWebTLSFilesRenewUnderARunningServer(t *testing.T) {
	dir := t.TempDir()
	first := testcert.Valid(t, "chat.test")
	certPath, keyPath := testcert.Write(t, dir, first.Cert, first.Key)
	s := startServer(t, func(c *app.Config) {
		c.WebTLSCert, c.WebTLSKey = certPath, keyPath
		c.WebTLSCheck = 100 * time.Millisecond
	})
	// The waiting screen's link says https: the page is served over TLS.
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	_, port, _ := net.SplitHostPort(s.WebAddr())
	alice.WaitText("https://chat.test:" + port + "/" + code)
	if servedSerial(s.WebAddr()).Cmp(first.Serial) != 0 {
		t.Fatal("not serving the first certificate")
	}

	second := testcert.Valid(t, "chat.test")
	testcert.Write(t, dir, second.Cert, second.Key)
	waitSerial(t, s.WebAddr(), second.Serial)
	waitLog(t, s.log, `msg="TLS certificate reloaded"`)

	// A broken pair (the new certificate, the old key) is refused with a
	// line saying why, and the pair serving stays.
	third := testcert.Valid(t, "chat.test")
	testcert.Write(t, dir, third.Cert, second.Key)
	wait.Until(t, "the refusal on a handshake", func() (bool, string) {
		if got := servedSerial(s.WebAddr()); got.Cmp(second.Serial) != 0 {
			t.Fatalf("serving %v after a broken pair, want %v", got, second.Serial)
		}
		return strings.Contains(s.log.String(), "private key does not match public key"), s.log.String()
	})
	alice.Close()
}

func TestSIGHUPReloadsCertificateFilesAndNeverExits(t *testing.T) {
	hush, _ := clusterBinaries(t)
	dir := t.TempDir()
	first := testcert.Valid(t, "chat.test")
	certPath, keyPath := testcert.Write(t, dir, first.Cert, first.Key)
	b := startBinary(t, hush, "", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
		"--host", "chat.test", "--web", "127.0.0.1:0", "--web-tls-cert", certPath, "--web-tls-key", keyPath)
	b.listening(t)
	var webAddr string
	wait.Until(t, "the web listener", func() (bool, string) {
		m := regexp.MustCompile(`msg="web listening" addr=(\S+) page=https://chat\.test:\d+`).FindStringSubmatch(b.stderr.String())
		if m == nil {
			return false, b.stderr.String()
		}
		webAddr = m[1]
		return true, ""
	})

	// Renewed files are picked up at once on SIGHUP, not a minute later.
	second := testcert.Valid(t, "chat.test")
	testcert.Write(t, dir, second.Cert, second.Key)
	if got := servedSerial(webAddr); got.Cmp(first.Serial) != 0 {
		t.Fatalf("the files were read before a minute or a SIGHUP")
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, "the reload line", func() (bool, string) {
		return strings.Contains(b.stderr.String(), `msg="TLS certificate reloaded"`), b.stderr.String()
	})
	waitSerial(t, webAddr, second.Serial)

	// Another SIGHUP with nothing changed says so; the process serves on.
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, "the unchanged line", func() (bool, string) {
		return strings.Contains(b.stderr.String(), "TLS certificate files unchanged"), b.stderr.String()
	})
	term := sshtest.Dial(t, b.addr, "new", sshtest.Options{})
	term.WaitText("Waiting for someone to join")
	term.Close()
	select {
	case <-b.done:
		t.Fatalf("hush exited after SIGHUP:\n%s", b.stderr)
	default:
	}
	if code := b.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, b.stderr)
	}
}
