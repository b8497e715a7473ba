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

	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/talk"
	"github.com/hush-chat/hush/web"
)

// webFront is the optional browser front end. A nil one is off.
type webFront struct {
	srv *web.Server
	ln  net.Listener
	url string // --web-url
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

// listenWeb listens for browsers when --web is set; build makes the
// server once the conversation layer, which needs the listener's links,
// exists; App.serve serves them.
func listenWeb(cfg Config) (*webFront, error) {
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
	if cfg.WebTLSCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.WebTLSCert, cfg.WebTLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("web: TLS: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	}
	return &webFront{ln: ln, url: cfg.WebURL}, nil
}

// webHosts are the names the page is served under (--web-url's host is
// added by package web): the SSH invite's --host and --web's own host
// when it is a name.
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
	return hosts
}

// build makes the server for the page and its sockets. files is the
// process's open-files limit (0: unknown), half of which the web may use.
func (w *webFront) build(cfg Config, hub *talk.Hub, files int, mx *metrics.Metrics, log *slog.Logger) error {
	if w == nil {
		return nil
	}
	trusted, _ := parsePrefixes(cfg.WebTrustedProxies)
	wc := web.Config{
		Hub:            hub,
		Log:            log,
		URL:            cfg.WebURL,
		TLS:            cfg.WebTLSCert != "",
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
	return nil
}

// link makes the page address for a room, as the SSH side shows it.
func (w *webFront) link(host string) func(code string) string {
	if w == nil {
		return nil
	}
	port := w.ln.Addr().(*net.TCPAddr).Port
	return func(code string) string { return web.Link(w.url, host, port, code) }
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
	return w.srv.Shutdown(ctx)
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
	w.ln.Close()
}
