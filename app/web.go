package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hush-chat/hush/certs"
	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/talk"
	"github.com/hush-chat/hush/web"
)

// webFront is the optional browser front end. A nil one is off.
type webFront struct {
	srv    *web.Server
	ln     net.Listener
	url    string       // --web-url
	domain string       // the first --web-domain, "" without
	files  *certs.Files // nil unless --web-tls-cert
	acme   *certs.ACME  // nil unless --web-domain

	// The plain HTTP listener (--web-http): ACME's HTTP-01 answers and
	// redirects to HTTPS. nil without.
	http     *http.Server
	httpLn   net.Listener
	redirect http.Handler
}

// checkWeb refuses settings that would serve the page in a way nobody
// meant: plain HTTP to the network, half a TLS pair, a URL that is not one.
func checkWeb(c Config) error {
	if (c.WebTLSCert == "") != (c.WebTLSKey == "") {
		return errors.New("--web-tls-cert and --web-tls-key go together")
	}
	if c.WebURL != "" {
		u, err := url.Parse(c.WebURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--web-url %q: want http(s)://host[:port]", c.WebURL)
		}
	}
	if _, err := parsePrefixes(c.WebTrustedProxies); err != nil {
		return fmt.Errorf("--web-trusted-proxies: %w", err)
	}
	if err := checkACME(c); err != nil {
		return err
	}
	if c.Web == "" {
		if c.WebDomain != "" || c.WebHTTP != "" {
			return errors.New("--web-domain and --web-http serve the page: they need --web")
		}
		return nil
	}
	host, _, err := net.SplitHostPort(c.Web)
	if err != nil {
		return fmt.Errorf("--web %q: want host:port, e.g. 127.0.0.1:8080", c.Web)
	}
	tls := c.WebTLSCert != "" || c.WebDomain != ""
	if !tls && !c.WebInsecure && !loopbackHost(host) {
		return fmt.Errorf("--web %s would serve plain HTTP beyond this machine: give --web-domain (hush gets a certificate itself), --web-tls-cert and --web-tls-key, or --web-insecure when a TLS-terminating proxy is in front", c.Web)
	}
	if c.WebHTTP != "" {
		if !tls {
			return errors.New("--web-http sends people to HTTPS: it needs --web-domain or --web-tls-cert")
		}
		if _, _, err := net.SplitHostPort(c.WebHTTP); err != nil {
			return fmt.Errorf("--web-http %q: want host:port, e.g. :80", c.WebHTTP)
		}
	}
	return nil
}

// checkACME refuses --web-domain settings that cannot work: a name that is
// not one, a second source of certificates, ACME settings with no domain.
func checkACME(c Config) error {
	domains := c.WebDomains()
	if len(domains) == 0 {
		if c.ACMECA != "" || c.ACMEEmail != "" || c.ACMECARoot != "" {
			return errors.New("--acme-ca, --acme-ca-root and --acme-email are for --web-domain, which is not set")
		}
		return nil
	}
	if c.WebTLSCert != "" {
		return errors.New("--web-domain gets certificates itself: give it or --web-tls-cert/--web-tls-key, not both")
	}
	for _, d := range domains {
		if !domainName(d) {
			return fmt.Errorf("--web-domain %q: want a DNS name such as chat.example.org (no scheme, port or wildcard)", d)
		}
	}
	if c.ACMECA != "" {
		u, err := url.Parse(c.ACMECA)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("--acme-ca %q: want the https:// URL of an ACME directory", c.ACMECA)
		}
	}
	return nil
}

// domainName says whether d is a DNS name a public CA could certify: dot-
// separated labels of letters, digits and inner hyphens, not an address.
func domainName(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// loopbackHost says whether a listen host reaches this machine only.
func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// listenWeb listens for browsers when --web is set, with TLS from
// certificate files or ACME (store keeps ACME's certificates; nil: the
// data directory); build makes the server once the conversation layer,
// which needs the listener's links, exists; App.serve serves them.
func listenWeb(cfg Config, store certs.Storage, log *slog.Logger) (w *webFront, err error) {
	if cfg.Web == "" {
		return nil, nil
	}
	if err := checkWeb(cfg); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Web)
	if err != nil {
		return nil, fmt.Errorf("web: listen: %w", err)
	}
	w = &webFront{ln: ln, url: cfg.WebURL}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if cfg.WebHTTP != "" {
		if w.httpLn, err = net.Listen("tcp", cfg.WebHTTP); err != nil {
			return nil, fmt.Errorf("web: listen (--web-http): %w", err)
		}
	}
	switch {
	case cfg.WebTLSCert != "":
		if w.files, err = certs.LoadFiles(cfg.WebTLSCert, cfg.WebTLSKey, cfg.WebTLSCheck, log); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		w.ln = tls.NewListener(ln, &tls.Config{GetCertificate: w.files.GetCertificate, MinVersion: tls.VersionTLS12})
		w.redirect = certs.Redirect(nil, httpsPort(cfg, ln))
	case cfg.WebDomain != "":
		if w.acme, err = newACME(cfg, ln, w.httpLn, store, log); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		w.domain = cfg.WebDomains()[0]
		w.ln = tls.NewListener(ln, w.acme.TLSConfig())
		w.redirect = w.acme.HTTPHandler()
	}
	return w, nil
}

// webHosts are the names the page is served under (--web-url's host is
// added by package web): the SSH invite's --host, --web's own host when it
// is a name, and every --web-domain.
func webHosts(cfg Config) []string {
	var hosts []string
	for _, h := range []string{cfg.Host, cfg.Web} {
		if name, _, err := net.SplitHostPort(h); err == nil {
			h = name
		}
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	return append(hosts, cfg.WebDomains()...)
}

// build makes the server for the page and its sockets, and the plain HTTP
// one for --web-http. files is the process's open-files limit (0:
// unknown), half of which the web may use.
func (w *webFront) build(cfg Config, hub *talk.Hub, files int, mx *metrics.Metrics, log *slog.Logger) error {
	if w == nil {
		return nil
	}
	trusted, _ := parsePrefixes(cfg.WebTrustedProxies)
	wc := web.Config{
		Hub:            hub,
		Log:            log,
		URL:            cfg.WebURL,
		TLS:            w.tls(),
		TrustedProxies: trusted,
		StallTimeout:   cfg.Stall,
		HelloTimeout:   cfg.HandshakeTimeout,
		Hosts:          webHosts(cfg),
		// A browser keeps a few connections for the page besides its
		// sockets, which the gate bounds at --max-conns-per-ip.
		ConnsPerAddress: 2 * cfg.ConnsPerIP,
		MaxConns:        webShare(files),
	}
	if mx != nil {
		wc.Metrics = mx
	}
	srv, err := web.New(wc)
	if err != nil {
		return err
	}
	w.srv = srv
	if w.httpLn != nil {
		w.http = &http.Server{Handler: w.redirect, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	}
	return nil
}

// serveHTTP serves --web-http on l until Shutdown.
func (w *webFront) serveHTTP(l net.Listener) error {
	if err := w.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startACME starts getting certificates, once the listeners are served:
// the CA's checks come to them.
func (w *webFront) startACME() error {
	if w == nil || w.acme == nil {
		return nil
	}
	return w.acme.Start()
}

// newACME prepares certificates for --web-domain, kept in store or, when
// that is nil, in the data directory.
func newACME(cfg Config, ln, httpLn net.Listener, store certs.Storage, log *slog.Logger) (*certs.ACME, error) {
	ac := certs.ACMEConfig{
		Domains:    cfg.WebDomains(),
		CA:         cfg.ACMECA,
		Email:      cfg.ACMEEmail,
		Storage:    store,
		Dir:        filepath.Join(cfg.Data, "certificates"),
		TLSAddr:    ln.Addr().String(),
		HTTPSPort:  httpsPort(cfg, ln),
		RenewCheck: cfg.ACMERenewCheck,
		Log:        log,
	}
	if httpLn != nil {
		ac.HTTPAddr = httpLn.Addr().String()
	}
	if cfg.ACMECARoot != "" {
		pem, err := os.ReadFile(cfg.ACMECARoot)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-root: %w", err)
		}
		ac.Roots = x509.NewCertPool()
		if !ac.Roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-ca-root %s: no PEM certificate in it", cfg.ACMECARoot)
		}
	}
	return certs.NewACME(ac)
}

// httpsPort is where people reach the page over HTTPS: --web-url's port
// when it is an https:// URL, else the listener's.
func httpsPort(cfg Config, ln net.Listener) int {
	if u, err := url.Parse(cfg.WebURL); err == nil && u.Scheme == "https" {
		if p, err := strconv.Atoi(u.Port()); err == nil {
			return p
		}
		return 443
	}
	return ln.Addr().(*net.TCPAddr).Port
}

// certificate is the page's certificate as metrics and health see it,
// nil when hush does not serve TLS itself.
func (w *webFront) certificate() metrics.Certificate {
	switch {
	case w == nil:
		return nil
	case w.files != nil:
		return w.files
	case w.acme != nil:
		return w.acme
	}
	return nil
}

// link makes the page address for a room, as the SSH side shows it:
// https:// whenever the page is served over TLS here.
func (w *webFront) link(host string) func(code string) string {
	if w == nil {
		return nil
	}
	port := w.ln.Addr().(*net.TCPAddr).Port
	base := w.url
	if w.domain != "" {
		host = w.domain
	}
	if base == "" && w.tls() {
		base = httpsBase(host, port)
	}
	return func(code string) string { return web.Link(base, host, port, code) }
}

// tls says the page is served over TLS by hush itself.
func (w *webFront) tls() bool { return w.files != nil || w.acme != nil }

// httpsBase is the page's https:// address on host (a name, maybe with a
// port that is dropped) and port, which 443 leaves out.
func httpsBase(host string, port int) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == 443 {
		return "https://" + host
	}
	return fmt.Sprintf("https://%s:%d", host, port)
}

// reload reads the certificate files again, at once (SIGHUP).
func (w *webFront) reload(log *slog.Logger) {
	if w == nil || w.files == nil {
		log.Info("reload: no certificate files to read (--web-tls-cert)")
		return
	}
	changed, err := w.files.Reload()
	switch {
	case err != nil: // Reload logged why, once per broken pair
	case !changed:
		log.Info("reload: TLS certificate files unchanged", "expires", w.files.Expiry())
	}
}

func (w *webFront) addr() string {
	if w == nil {
		return ""
	}
	return w.ln.Addr().String()
}

func (w *webFront) shutdown(ctx context.Context) error {
	if w == nil {
		return nil
	}
	err := w.srv.Shutdown(ctx)
	if w.http != nil {
		err = errors.Join(err, w.http.Shutdown(ctx))
	}
	if w.acme != nil {
		w.acme.Stop()
	}
	return err
}

// close undoes listenWeb and build when Start fails later: nothing was
// served yet.
func (w *webFront) close() {
	if w == nil {
		return
	}
	if w.srv != nil {
		_ = w.srv.Shutdown(context.Background())
	}
	if w.acme != nil {
		w.acme.Stop()
	}
	w.ln.Close()
	if w.httpLn != nil {
		w.httpLn.Close()
	}
}
