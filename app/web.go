package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/certs"
	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/session"
	"github.com/hush-chat/hush/speak"
	"github.com/hush-chat/hush/web"
)

// webFront is the optional browser front end. A nil one is off.
type webFront struct {
	srv    *web.Server
	ln     net.Listener
	url    string       // --web-url
	files  *certs.Files // nil unless --web-tls-cert
	served chan error
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
	if c.Web == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(c.Web)
	if err != nil {
		return fmt.Errorf("--web %q: want host:port, e.g. 127.0.0.1:8080", c.Web)
	}
	if c.WebTLSCert == "" && !c.WebInsecure && !loopbackHost(host) {
		return fmt.Errorf("--web %s would serve plain HTTP beyond this machine: give --web-tls-cert and --web-tls-key, or --web-insecure when a TLS-terminating proxy is in front", c.Web)
	}
	return nil
}

// loopbackHost says whether a listen host reaches this machine only.
func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// startWeb listens for browsers when --web is set.
func startWeb(cfg Config, gate *admit.Gate, sshPort int, mx *metrics.Metrics, log *slog.Logger) (*webFront, error) {
	if cfg.Web == "" {
		return nil, nil
	}
	if err := checkWeb(cfg); err != nil {
		return nil, err
	}
	trusted, _ := parsePrefixes(cfg.WebTrustedProxies)
	wc := web.Config{
		Gate:           gate,
		Speak:          speak.Config{KeysPerSecond: cfg.KeyRate, KeyBurst: cfg.KeyBurst, MaxPaste: cfg.MaxPaste},
		Linger:         cfg.Linger,
		MaxGroup:       cfg.MaxGroup,
		Log:            log,
		URL:            cfg.WebURL,
		SSH:            func(code string) string { return session.Invite(cfg.Host, sshPort, code) },
		TLS:            cfg.WebTLSCert != "",
		TrustedProxies: trusted,
		StallTimeout:   cfg.Stall,
		HelloTimeout:   cfg.HandshakeTimeout,
		IdleTimeout:    cfg.IdleTimeout,
	}
	if mx != nil {
		wc.Metrics = mx
	}
	srv, err := web.New(wc)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Web)
	if err != nil {
		return nil, fmt.Errorf("web: listen: %w", err)
	}
	w := &webFront{srv: srv, ln: ln, url: cfg.WebURL, served: make(chan error, 1)}
	if cfg.WebTLSCert != "" {
		if w.files, err = certs.LoadFiles(cfg.WebTLSCert, cfg.WebTLSKey, cfg.WebTLSCheck, log); err != nil {
			ln.Close()
			return nil, fmt.Errorf("web: %w", err)
		}
		w.ln = tls.NewListener(ln, &tls.Config{GetCertificate: w.files.GetCertificate, MinVersion: tls.VersionTLS12})
	}
	go func() { w.served <- srv.Serve(w.ln) }()
	return w, nil
}

// link makes the page address for a room, as the SSH side shows it:
// https:// whenever the page is served over TLS here.
func (w *webFront) link(host string) func(code string) string {
	if w == nil {
		return nil
	}
	port := w.ln.Addr().(*net.TCPAddr).Port
	base := w.url
	if base == "" && w.tls() {
		base = httpsBase(host, port)
	}
	return func(code string) string { return web.Link(base, host, port, code) }
}

// tls says the page is served over TLS by hush itself.
func (w *webFront) tls() bool { return w.files != nil }

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
	if serr := <-w.served; serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}
