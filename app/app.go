// Package app wires hush together: the room registry, the gate every way
// in shares, the SSH and web front ends and the metrics listener, started and
// stopped as one. Package main only parses the command line and calls it;
// tests start it the same way.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/certs"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/metrics"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/session"
	"github.com/hush-chat/hush/speak"
)

// App is a running server.
type App struct {
	gate    *admit.Gate
	ssh     *session.Server
	web     *webFront    // nil without --web
	nats    *natsCluster // nil without --nats
	ln      net.Listener
	metrics *metricsServer // nil without --metrics
	served  chan error
}

// Start prepares the data directory, listens and serves in the background.
// build says which binary this is, for the metrics.
func Start(cfg Config, log *slog.Logger, build metrics.Build) (*App, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	salt, err := loadSalt(filepath.Join(cfg.Data, "salt"))
	if err != nil {
		return nil, err
	}
	codes, err := rooms.NewCodes(salt)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if ln, err = proxyListener(ln, cfg); err != nil {
		return nil, err
	}
	var reg rooms.Registry = rooms.NewMemory(codes)
	var nc *natsCluster
	if cfg.NATS != "" {
		hostKey, err := hostPublicKey(filepath.Join(cfg.Data, "host_ed25519"))
		if err == nil {
			nc, err = joinCluster(cfg, codes, salt, hostKey, log)
		}
		if err != nil {
			ln.Close()
			return nil, err
		}
		reg = nc.reg
	}
	mx := newMetricsServer(cfg, reg, build)
	if mx != nil && nc != nil {
		mx.m.WatchCluster(nc)
	}
	var observer admit.Observer
	if mx != nil {
		reg = mx.m.Rooms(reg)
		observer = mx.m
	}
	perAddress := limits.Config{
		Conns:          cfg.ConnsPerIP,
		ConnsPerMinute: cfg.ConnsPerMinute,
		Sessions:       cfg.SessionsPerIP,
		Fails:          cfg.WrongCodes,
		FailsPerHour:   cfg.WrongCodesPerHour,
		Lockout:        cfg.Lockout,
	}
	var ledger admit.Ledger
	if nc != nil {
		if ledger, err = nc.ledger(perAddress); err != nil {
			ln.Close()
			nc.reg.Close(nil)
			nc.close()
			return nil, err
		}
	}
	gate := admit.New(reg, admit.Config{
		PerAddress:          perAddress,
		MaxSessions:         cfg.MaxSessions,
		MaxGroup:            cfg.MaxGroup,
		WrongCodesPerMinute: cfg.ServerWrongCodes,
		Ledger:              ledger,
	}, observer)
	sshPort := ln.Addr().(*net.TCPAddr).Port
	var mm *metrics.Metrics
	if mx != nil {
		mm = mx.m
	}
	var store certs.Storage // nil: in the data directory
	if nc != nil && cfg.WebDomain != "" {
		store, err = nc.certStorage(cfg.NATSReplicas)
	}
	var wf *webFront
	if err == nil {
		wf, err = startWeb(cfg, gate, sshPort, mm, log, store)
	}
	if err != nil {
		ln.Close()
		gate.Shutdown()
		nc.close()
		return nil, err
	}
	srv, err := session.New(session.Config{
		HostKeyPath:      filepath.Join(cfg.Data, "host_ed25519"),
		Host:             cfg.Host,
		Port:             sshPort,
		Link:             wf.link(cfg.Host),
		Linger:           cfg.Linger,
		MaxGroup:         cfg.MaxGroup,
		Gate:             gate,
		Speak:            speak.Config{KeysPerSecond: cfg.KeyRate, KeyBurst: cfg.KeyBurst, MaxPaste: cfg.MaxPaste},
		Log:              log,
		StallTimeout:     cfg.Stall,
		HandshakeTimeout: cfg.HandshakeTimeout,
		IdleTimeout:      cfg.IdleTimeout,
		Metrics:          mx.hooks(),
	})
	if err == nil {
		if c := wf.certificate(); c != nil && mx != nil {
			mx.m.WatchCertificate(c)
		}
		err = mx.listen(cfg, log)
	}
	if err != nil {
		ln.Close()
		_ = wf.shutdown(context.Background())
		gate.Shutdown()
		nc.close()
		return nil, err
	}
	a := &App{gate: gate, ssh: srv, web: wf, nats: nc, ln: ln, served: make(chan error, 1), metrics: mx}
	mx.setHealthy(true)
	go func() {
		err := srv.Serve(ln)
		mx.setHealthy(false)
		a.served <- err
	}()
	return a, nil
}

// Addr is where SSH is served.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Sessions is how many sessions (SSH and web) are admitted now.
func (a *App) Sessions() int { return a.gate.Sessions() }

// WebAddr is where the browser page is served, "" without --web.
func (a *App) WebAddr() string { return a.web.addr() }

// MetricsAddr is where metrics are served, "" without --metrics.
func (a *App) MetricsAddr() string { return a.metrics.addr() }

// Served delivers what ended serving: nil after Shutdown, else the error.
func (a *App) Served() <-chan error { return a.served }

// Shutdown stops taking people in, tells everyone in a room that the
// server is going away, lets their screens say so, and closes every
// connection by the time ctx ends.
func (a *App) Shutdown(ctx context.Context) error {
	a.metrics.setHealthy(false) // stop sending new people here while the rest say goodbye
	a.gate.Shutdown()
	webDone := make(chan error, 1)
	go func() { webDone <- a.web.shutdown(ctx) }()
	err := errors.Join(a.ssh.Shutdown(ctx), <-webDone)
	a.nats.close()
	a.metrics.close()
	return err
}

// loadSalt reads the secret that keys room codes, creating it on first start.
func loadSalt(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("salt: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	salt := hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(salt+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	return salt, nil
}

// Reload reads again what may change under a running server without a
// restart: the web certificate files. main calls it on SIGHUP.
func (a *App) Reload(log *slog.Logger) { a.web.reload(log) }
