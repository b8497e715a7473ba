// Command hush serves ephemeral chat rooms over SSH.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/session"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "hush:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if done, err := subcommand(args); done {
		return err
	}
	cfg, err := parseConfig(args, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if os.Getenv("GOGC") == "" {
		// Many small sessions make garbage in small bursts; at the default
		// GOGC=100 collection set the keystroke latency tail. 400 trades
		// some memory per session for it (docs/PERFORMANCE.md).
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := start(cfg, log)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", a.Addr())
	select {
	case err := <-a.served:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down")
	a.metrics.setHealthy(false) // stop sending new people here while the rest say goodbye
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	return a.srv.Shutdown(shutdownCtx)
}

// app is a running server: everything main wires together.
type app struct {
	cfg    config
	rooms  rooms.Registry
	srv    *session.Server
	ln     net.Listener
	served chan error

	metrics *metricsServer // nil without --metrics
}

// start prepares the data directory, listens and serves in the background.
func start(cfg config, log *slog.Logger) (*app, error) {
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
	mem := rooms.NewMemory(codes)
	mx := newMetrics(cfg, mem)
	srv, err := session.New(session.Config{
		HostKeyPath:  filepath.Join(cfg.Data, "host_ed25519"),
		Host:         cfg.Host,
		Port:         ln.Addr().(*net.TCPAddr).Port,
		Linger:       cfg.Linger,
		MaxGroup:     cfg.MaxGroup,
		Registry:     mem,
		Metrics:      mx.hooks(),
		Log:          log,
		StallTimeout: cfg.Stall,
		Limits: session.Limits{
			PerAddress: limits.Config{
				Conns:          cfg.ConnsPerIP,
				ConnsPerMinute: cfg.ConnsPerMinute,
				FailsPerMinute: cfg.WrongCodes,
				Lockout:        cfg.Lockout,
			},
			MaxSessions:      cfg.MaxSessions,
			HandshakeTimeout: cfg.HandshakeTimeout,
			IdleTimeout:      cfg.IdleTimeout,
			KeysPerSecond:    cfg.KeyRate,
			KeyBurst:         cfg.KeyBurst,
			MaxPaste:         cfg.MaxPaste,
		},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := mx.listen(cfg, log); err != nil {
		ln.Close()
		return nil, err
	}
	a := &app{cfg: cfg, rooms: mem, srv: srv, ln: ln, served: make(chan error, 1), metrics: mx}
	mx.setHealthy(true)
	go func() {
		err := srv.Serve(ln)
		mx.setHealthy(false)
		a.served <- err
	}()
	return a, nil
}

// Addr is where the server listens.
func (a *app) Addr() string { return a.ln.Addr().String() }

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
