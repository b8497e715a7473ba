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
	"github.com/hush-chat/hush/talk"
)

// picturesPerMinute bounds the pictures one address sends, over every way in.
const picturesPerMinute = 10

// App is a running server.
type App struct {
	hub     *talk.Hub
	ssh     *session.Server
	web     *webFront    // nil without --web
	nats    *natsCluster // nil without --nats
	ln      net.Listener
	metrics *metricsServer // nil without --metrics
	serving *listeners
}

// Start prepares the data directory, listens and serves in the background.
// build says which binary this is, for the metrics. If any step fails,
// what the steps before it set up is undone.
func Start(cfg Config, log *slog.Logger, build metrics.Build) (a *App, err error) {
	var undo cleanup
	defer func() {
		if err != nil {
			undo.run()
		}
	}()
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
	raw, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ln, err := proxyListener(raw, cfg) // closes raw if it fails
	if err != nil {
		return nil, err
	}
	undo.add(func() { ln.Close() })
	var reg rooms.Registry = rooms.NewMemory(codes)
	var nc *natsCluster
	if cfg.NATS != "" {
		hostKey, err := hostPublicKey(filepath.Join(cfg.Data, "host_ed25519"))
		if err == nil {
			nc, err = joinCluster(cfg, codes, salt, hostKey, log)
		}
		if err != nil {
			return nil, err
		}
		undo.add(nc.close)
		reg = nc.reg
	}
	undo.add(func() { reg.Close(nil) })
	mx := newMetricsServer(cfg, reg, build)
	if mx != nil && nc != nil {
		mx.m.WatchCluster(nc)
	}
	gate, err := newGate(cfg, reg, nc, mx)
	if err != nil {
		return nil, err
	}
	undo.add(gate.Shutdown)
	sshPort := ln.Addr().(*net.TCPAddr).Port
	wf, err := listenWebWith(cfg, nc, log)
	if err != nil {
		return nil, err
	}
	undo.add(wf.close)
	hub := newHub(cfg, gate, sshPort, wf, log)
	if err := wf.build(cfg, hub, openFiles(log), mx.metrics(), log); err != nil {
		return nil, err
	}
	srv, err := newSSH(cfg, hub, mx, log)
	if err != nil {
		return nil, err
	}
	if c := wf.certificate(); c != nil && mx != nil {
		mx.m.WatchCertificate(c)
	}
	if err := mx.listen(cfg, log); err != nil {
		return nil, err
	}
	a = &App{hub: hub, ssh: srv, web: wf, nats: nc, ln: ln, metrics: mx}
	a.serve(log)
	if err := wf.startACME(); err != nil {
		a.serving.stop()
		return nil, err
	}
	return a, nil
}

// listenWebWith listens for browsers, keeping ACME's certificates in NATS
// with a cluster and in the data directory without.
func listenWebWith(cfg Config, nc *natsCluster, log *slog.Logger) (*webFront, error) {
	var store certs.Storage // nil: in the data directory
	if nc != nil && cfg.WebDomain != "" {
		var err error
		if store, err = nc.certStorage(cfg.NATSReplicas); err != nil {
			return nil, err
		}
	}
	return listenWeb(cfg, store, log)
}

// newHub is the conversation layer both front ends stand on, its invites
// naming sshPort and, with --web, the page.
func newHub(cfg Config, gate *admit.Gate, sshPort int, wf *webFront, log *slog.Logger) *talk.Hub {
	return talk.NewHub(talk.Config{
		Gate:        gate,
		Speak:       speak.Config{KeysPerSecond: cfg.KeyRate, KeyBurst: cfg.KeyBurst, MaxPaste: cfg.MaxPaste},
		Linger:      cfg.Linger,
		IdleTimeout: cfg.IdleTimeout,
		Invite:      func(user string) string { return session.Invite(cfg.Host, sshPort, user) },
		Link:        wf.link(cfg.Host),
		Log:         log,
		Pictures:    bool(cfg.Pictures),
	})
}

// newSSH is the SSH front end.
func newSSH(cfg Config, hub *talk.Hub, mx *metricsServer, log *slog.Logger) (*session.Server, error) {
	return session.New(session.Config{
		HostKeyPath:      filepath.Join(cfg.Data, "host_ed25519"),
		Hub:              hub,
		MaxGroup:         cfg.MaxGroup,
		Log:              log,
		StallTimeout:     cfg.Stall,
		HandshakeTimeout: cfg.HandshakeTimeout,
		Metrics:          mx.hooks(),
	})
}

// newGate is the gate every way in shares, its wrong codes, asks and
// knocks kept in NATS when there is a cluster, its refusals counted when
// there are metrics.
func newGate(cfg Config, reg rooms.Registry, nc *natsCluster, mx *metricsServer) (*admit.Gate, error) {
	var observer admit.Observer
	if mx != nil {
		reg = mx.m.Rooms(reg)
		observer = mx.m
	}
	perAddress := limits.Config{
		Conns:             cfg.ConnsPerIP,
		ConnsPerMinute:    cfg.ConnsPerMinute,
		Sessions:          cfg.SessionsPerIP,
		WrongCodes:        cfg.WrongCodes,
		WrongCodesPerHour: cfg.WrongCodesPerHour,
		Lockout:           cfg.Lockout,
		PicturesPerMinute: picturesPerMinute,
	}
	var (
		shared  admit.SharedWrongCodes
		tallies admit.SharedTallies
	)
	if nc != nil {
		var err error
		if shared, err = nc.shared(perAddress); err != nil {
			return nil, err
		}
		if tallies, err = nc.tallies(); err != nil {
			return nil, err
		}
	}
	return admit.New(reg, admit.Config{
		PerAddress:          perAddress,
		MaxSessions:         cfg.MaxSessions,
		MaxGroup:            cfg.MaxGroup,
		LobbySize:           cfg.LobbySize,
		WrongCodesPerMinute: cfg.ServerWrongCodes,
		Shared:              shared,
		Tallies:             tallies,
	}, observer), nil
}

// serve starts every listener, watched as one: the first to fail makes
// the server unhealthy and is delivered on Served.
func (a *App) serve(log *slog.Logger) {
	a.serving = newListeners(log, func() { a.metrics.setHealthy(false) })
	a.metrics.setHealthy(true)
	a.serving.serve("ssh", a.ln, a.ssh.Serve)
	if a.web != nil {
		a.serving.serve("web", a.web.ln, a.web.srv.Serve)
		if a.web.http != nil {
			a.serving.serve("web-http", a.web.httpLn, a.web.serveHTTP)
		}
	}
	if a.metrics != nil {
		a.serving.serve("metrics", a.metrics.ln, a.metrics.serve)
	}
}

// Addr is where SSH is served.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Sessions is how many sessions (SSH and web) are admitted now.
func (a *App) Sessions() int { return a.hub.Sessions() }

// WebAddr is where the browser page is served, "" without --web.
func (a *App) WebAddr() string { return a.web.addr() }

// MetricsAddr is where metrics are served, "" without --metrics.
func (a *App) MetricsAddr() string { return a.metrics.addr() }

// Served delivers what ended serving: nil after Shutdown, else the first
// listener's failure, naming the listener and its address.
func (a *App) Served() <-chan error { return a.serving.ended }

// Shutdown stops taking people in, tells everyone in a room that the
// server is going away, lets their screens say so, and closes every
// connection by the time ctx ends.
func (a *App) Shutdown(ctx context.Context) error {
	a.metrics.setHealthy(false) // stop sending new people here while the rest say goodbye
	a.serving.stop()
	a.hub.Shutdown()
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
