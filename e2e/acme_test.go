package e2e

// A public server with --web-domain against a real ACME CA, pebble (Let's
// Encrypt's test CA, built from the module proxy), which validates against
// hush's own TLS-ALPN-01 answers: the certificate comes, a browser trusts
// it and talks with an SSH client, it renews under the running server, and
// with the CA gone SSH goes on, /healthz says why, and the certificate in
// hand keeps serving.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/pebbletest"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

const acmeDomain = "chat.hush.test"

// servedChain is the chain addr serves for acmeDomain, verified against
// root as a browser would; nil until it verifies.
func servedChain(addr string, root *x509.Certificate) []*x509.Certificate {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: sshtest.Timeout}, "tcp", addr, &tls.Config{ServerName: acmeDomain, RootCAs: pool})
	if err != nil {
		return nil
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates
}

// waitChain waits, within d, for a verified chain that ok accepts.
func waitChain(t *testing.T, d time.Duration, addr string, root *x509.Certificate, ca *pebbletest.CA, s *server, ok func([]*x509.Certificate) bool) []*x509.Certificate {
	t.Helper()
	var chain []*x509.Certificate
	wait.Within(t, d, "a verified certificate for "+acmeDomain, func() (bool, string) {
		chain = servedChain(addr, root)
		return chain != nil && ok(chain), "hush:\n" + s.log.String() + "\npebble:\n" + ca.Log()
	})
	return chain
}

func healthBody(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestACMEPublicServer(t *testing.T) {
	needChromium(t)
	webPort, httpPort := pebbletest.FreePort(t), pebbletest.FreePort(t)
	// Certificates of 30 s: renewed after about 20 s (a third left).
	ca := pebbletest.Start(t, pebbletest.Options{TLSPort: webPort, HTTPPort: httpPort, Validity: 30 * time.Second})
	s := startServer(t, func(c *app.Config) {
		c.Web = fmt.Sprintf("127.0.0.1:%d", webPort)
		c.WebHTTP = fmt.Sprintf("127.0.0.1:%d", httpPort)
		c.WebDomain = acmeDomain
		c.ACMECA, c.ACMECARoot = ca.Dir, ca.RootsFile
		c.ACMERenewCheck = 200 * time.Millisecond
		c.Metrics = "127.0.0.1:0"
	})
	root := ca.IssuerRoot(t)
	first := waitChain(t, 30*time.Second, s.WebAddr(), root, ca, s, func([]*x509.Certificate) bool { return true })
	waitLog(t, s.log, `msg="certificate: obtained" domain=`+acmeDomain)
	waitMetrics(t, s.MetricsAddr(), metric{name: "hush_web_certificate_expiry_seconds", want: float64(first[0].NotAfter.Unix())},
		metric{name: "hush_web_certificate_failing", want: 0})

	// Plain HTTP (--web-http) sends people on to HTTPS.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/ab12-cd34-ef56", httpPort), nil)
	req.Host = acmeDomain
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := fmt.Sprintf("https://%s:%d/ab12-cd34-ef56", acmeDomain, webPort); resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP: %s to %q, want 308 to %s", resp.Status, resp.Header.Get("Location"), want)
	}

	// The SSH waiting screen links to https://DOMAIN with no more settings.
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	link := fmt.Sprintf("https://%s:%d/%s", acmeDomain, webPort, code)
	alice.WaitText(link)

	// Chromium, resolving the name to 127.0.0.1 and trusting pebble's
	// issuer (by the hash of its public key), opens the link: a secure
	// page, talking with the SSH client.
	spki := sha256.Sum256(first[1].RawSubjectPublicKeyInfo)
	bctx, stop, err := startChromium(
		chromedp.Flag("host-resolver-rules", "MAP "+acmeDomain+" 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
	)
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(stop)
	p := openPageIn(t, bctx, link)
	p.seatedCode()
	alice.WaitText("joined")
	if got := eval[string](p, "location.protocol + ' ' + window.isSecureContext"); got != "https: true" {
		t.Fatalf("the page is %s, want https: and a secure context", got)
	}
	p.typeKeys("over https")
	alice.WaitText("over https")
	alice.Type("back over ssh")
	p.waitLane(sshName(alice), "back over ssh")

	// Renewal: a new certificate is served by the same process, and the
	// page's socket lives on.
	renewed := waitChain(t, 40*time.Second, s.WebAddr(), root, ca, s, func(c []*x509.Certificate) bool {
		return c[0].SerialNumber.Cmp(first[0].SerialNumber) != 0
	})
	if !renewed[0].NotAfter.After(first[0].NotAfter) {
		t.Fatalf("renewed certificate expires %v, the first %v", renewed[0].NotAfter, first[0].NotAfter)
	}
	waitLog(t, s.log, "renewal=true")
	alice.Type(" still here")
	p.waitLane(sshName(alice), "still here")

	// The CA goes away: the next renewal fails, the log and /healthz say
	// why, SSH and the page go on with the certificate in hand.
	ca.Stop()
	wait.Within(t, 40*time.Second, "a failed renewal", func() (bool, string) {
		return strings.Contains(s.log.String(), `msg="certificate: renewal failed; the current one serves on" domain=`+acmeDomain+` reason=`) &&
			regexp.MustCompile(`renewal failed.* retry_at=\S+Z`).MatchString(s.log.String()), s.log.String()
	})
	if strings.Contains(s.log.String(), "level=WARN") {
		t.Errorf("warnings besides the one failure line:\n%s", s.log)
	}
	code2, body := healthBody(t, s.MetricsAddr())
	if code2 != http.StatusOK || !strings.Contains(body, "web certificate: last attempt failed: ") ||
		!strings.Contains(body, "web certificate: expires "+renewed[0].NotAfter.UTC().Format(time.RFC3339)) {
		t.Fatalf("/healthz with the CA gone: %d %q", code2, body)
	}
	waitMetrics(t, s.MetricsAddr(), metric{name: "hush_web_certificate_failing", want: 1})
	if still := servedChain(s.WebAddr(), root); still == nil || still[0].SerialNumber.Cmp(renewed[0].SerialNumber) != 0 {
		t.Fatal("the certificate in hand is not served with the CA gone")
	}
	bob := sshtest.Dial(t, s.Addr(), "new", sshtest.Options{})
	bob.WaitText("Waiting for someone to join")
	alice.Type(" and on")
	p.waitLane(sshName(alice), "and on")
}

// webAddr waits for b to say where its page is served.
func webAddr(t *testing.T, b *binary) string {
	t.Helper()
	var addr string
	wait.Until(t, "the web listener", func() (bool, string) {
		m := webListenRE.FindStringSubmatch(b.stderr.String())
		if m == nil {
			return false, b.stderr.String()
		}
		addr = m[1]
		return true, ""
	})
	return addr
}

var webListenRE = regexp.MustCompile(`msg="web listening" addr=(\S+)`)

// Nodes sharing rooms through NATS share the certificate too: two started
// at once make one order and serve the same certificate; a third started
// later takes it from NATS without asking the CA. Pebble reaches the
// first node only, as when DNS names one machine.
func TestACMETwoNodesThroughNATSOrderOnce(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	nats := startNATS(t, natsBin, 0)
	webPort := pebbletest.FreePort(t)
	ca := pebbletest.Start(t, pebbletest.Options{TLSPort: webPort, HTTPPort: pebbletest.FreePort(t)})
	root := ca.IssuerRoot(t)
	acme := []string{"--web-domain", acmeDomain, "--acme-ca", ca.Dir, "--acme-ca-root", ca.RootsFile}
	a := startNode(t, hush, t.TempDir(), nil, nats.url, append([]string{"--web", fmt.Sprintf("127.0.0.1:%d", webPort)}, acme...)...)
	b := startNode(t, hush, t.TempDir(), a, nats.url, append([]string{"--web", "127.0.0.1:0"}, acme...)...)
	var serial *big.Int
	for _, n := range []*binary{a, b} {
		addr := webAddr(t, n)
		var chain []*x509.Certificate
		wait.Within(t, 30*time.Second, "a certificate on "+addr, func() (bool, string) {
			chain = servedChain(addr, root)
			return chain != nil, n.stderr.String() + "\npebble:\n" + ca.Log()
		})
		if serial == nil {
			serial = chain[0].SerialNumber
		} else if chain[0].SerialNumber.Cmp(serial) != 0 {
			t.Fatalf("the nodes serve different certificates: %v and %v", serial, chain[0].SerialNumber)
		}
	}
	if n := ca.Orders(); n != 1 {
		t.Fatalf("%d orders from two nodes, want 1", n)
	}
	c := startNode(t, hush, t.TempDir(), a, nats.url, append([]string{"--web", "127.0.0.1:0"}, acme...)...)
	addr := webAddr(t, c)
	wait.Until(t, "the late node's certificate", func() (bool, string) {
		chain := servedChain(addr, root)
		return chain != nil && chain[0].SerialNumber.Cmp(serial) == 0, c.stderr.String()
	})
	if n := ca.Orders(); n != 1 {
		t.Fatalf("the late node ordered: %d orders", n)
	}
	if code, body := healthBody(t, c.maddr); code != http.StatusOK || !strings.Contains(body, "web certificate: expires ") {
		t.Fatalf("/healthz on the late node: %d %q", code, body)
	}
}
