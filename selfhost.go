package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/session"
)

// subcommand runs what is not the server: --version, and health (for a
// container healthcheck in an image with no shell or curl). done reports
// whether args named one.
func subcommand(args []string) (done bool, err error) {
	if len(args) == 0 {
		return false, nil
	}
	switch args[0] {
	case "--version", "-version", "version":
		printVersion(os.Stdout)
		return true, nil
	case "health":
		return true, health(args[1:], os.Getenv, os.Stderr)
	}
	return false, nil
}

// health checks a server configured by the same flags and HUSH_* variables:
// GET /healthz on --metrics when that is set, else a TCP dial to --listen.
// It returns nil (exit 0) only if the server answered.
func health(args []string, getenv func(string) string, out io.Writer) error {
	cfg, err := parseConfig(args, getenv, out)
	if err != nil {
		return err
	}
	const timeout = 3 * time.Second
	if cfg.Metrics != "" {
		url := "http://" + dialable(cfg.Metrics) + "/healthz"
		client := &http.Client{Timeout: timeout}
		resp, err := client.Get(url)
		if err != nil {
			return fmt.Errorf("health: %w", err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1024))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s answered %s", url, resp.Status)
		}
		return nil
	}
	conn, err := net.DialTimeout("tcp", dialable(cfg.Listen), timeout)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return conn.Close()
}

// dialable turns a listen address (":2222", "0.0.0.0:2222") into one to
// dial on this machine.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// proxyListener wraps ln to read PROXY protocol (v1 or v2) headers when
// --proxy-protocol is on. A connection from a trusted proxy must carry a
// header (its address is then the client's, which is what every per-IP rule
// sees); a connection from anywhere else must not (it is closed if it
// does, before the SSH banner). Headers are read on the connection's own
// goroutine, never in Accept.
// On error ln is closed.
func proxyListener(ln net.Listener, cfg config) (_ net.Listener, err error) {
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	if !cfg.ProxyProtocol {
		if cfg.TrustedProxies != "" {
			return nil, errors.New("--trusted-proxies is set but --proxy-protocol is off")
		}
		return ln, nil
	}
	trusted, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if len(trusted) == 0 {
		return nil, errors.New("--proxy-protocol needs --trusted-proxies (the load balancer's addresses, e.g. 10.0.0.0/8)")
	}
	return &proxyproto.Listener{
		Listener: ln,
		// The header must come as promptly as the handshake (default 10s).
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			// Never return an error here: any but ErrInvalidUpstream stops Accept.
			ap, err := netip.ParseAddrPort(o.Upstream.String())
			if err != nil {
				return proxyproto.REJECT, nil
			}
			ip := ap.Addr().Unmap()
			for _, p := range trusted {
				if p.Contains(ip) {
					return proxyproto.REQUIRE, nil
				}
			}
			return proxyproto.REJECT, nil
		},
	}, nil
}

// parsePrefixes reads comma-separated CIDRs or single addresses.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// metricsServer is the optional --metrics HTTP listener. A nil one is off;
// its methods then do nothing.
type metricsServer struct {
	m   *metrics.Metrics
	ln  net.Listener
	srv *http.Server
}

// newMetrics prepares metrics for mem when --metrics is set; listen starts
// serving them.
func newMetrics(cfg config, mem *rooms.Memory) *metricsServer {
	if cfg.Metrics == "" {
		return nil
	}
	ver, rev, goVersion := buildInfo()
	m := metrics.New(mem, metrics.Build{Version: ver, Commit: rev, GoVersion: goVersion})
	mem.OnFanOut = m.FanOut
	return &metricsServer{m: m}
}

// hooks is what the session is told through (nil when off).
func (ms *metricsServer) hooks() session.Metrics {
	if ms == nil {
		return nil
	}
	return ms.m
}

func (ms *metricsServer) listen(cfg config, log *slog.Logger) error {
	if ms == nil {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	ms.ln = ln
	ms.srv = &http.Server{Handler: ms.m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ms.srv.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

func (ms *metricsServer) setHealthy(ok bool) {
	if ms != nil {
		ms.m.SetHealthy(ok)
	}
}

// addr is where metrics are served ("" when off).
func (ms *metricsServer) addr() string {
	if ms == nil || ms.ln == nil {
		return ""
	}
	return ms.ln.Addr().String()
}

func (ms *metricsServer) close() {
	if ms == nil || ms.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = ms.srv.Shutdown(ctx)
}
