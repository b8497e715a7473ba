// Command hush serves ephemeral chat rooms over SSH. It parses the command
// line and runs package app until a signal says stop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/hush-chat/hush/app"
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
	if len(args) > 0 {
		switch args[0] {
		case "--version", "-version", "version":
			printVersion(os.Stdout)
			return nil
		case "health":
			return app.Health(args[1:], os.Getenv, os.Stderr)
		}
	}
	cfg, err := app.ParseConfig(args, os.Getenv, os.Stderr)
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
	a, err := app.Start(cfg, log, build())
	if err != nil {
		return err
	}
	log.Info("listening", "addr", a.Addr())
	select {
	case err := <-a.Served():
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	return a.Shutdown(shutdownCtx)
}
