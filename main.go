// Command hush serves ephemeral chat rooms over SSH. It parses the command
// line and runs package app until a signal says stop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hush-chat/hush/app"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// Exit statuses: a wrong command line is told apart from a failure.
const (
	exitOK     = 0
	exitFailed = 1 // could not serve, the health check failed, …
	exitUsage  = 2 // a wrong flag, value, word or HUSH_* variable
)

// run carries out the command line args and returns the exit status.
// Help and the version go to stdout; errors go to stderr, one line each.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd, rest := parseCommand(args)
	var err error
	switch cmd {
	case "help":
		app.WriteHelp(stdout)
		return exitOK
	case "version":
		if len(rest) > 0 {
			err = &app.UsageError{Err: fmt.Errorf("unexpected argument %q: version takes none", rest[0])}
			break
		}
		printVersion(stdout)
		return exitOK
	case "health":
		err = app.Health(rest, getenv, stdout)
	default:
		err = serve(rest, getenv, stdout, stderr)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // help was printed
		return exitOK
	case errors.As(err, new(*app.UsageError)):
		fmt.Fprintf(stderr, "hush: %s; see hush --help\n", oneLine(err))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "hush: %s\n", oneLine(err))
		return exitFailed
	}
}

// parseCommand says what args ask for — "help", "version", "health" or
// "serve" — and returns the arguments left for it. --help, -help, -h,
// --version and -version count wherever they are (up to a "--"), the
// first of them winning; a subcommand must come first.
func parseCommand(args []string) (cmd string, rest []string) {
	for _, a := range args {
		if a == "--" {
			break
		}
		switch a {
		case "-h", "--h", "-help", "--help":
			return "help", nil
		case "-version", "--version":
			return "version", nil
		}
	}
	if len(args) > 0 {
		switch args[0] {
		case "help", "version", "health":
			return args[0], args[1:]
		}
	}
	return "serve", args
}

// oneLine keeps an error message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// serve runs the server until SIGINT or SIGTERM, logging to stderr;
// SIGHUP reloads.
func serve(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := app.ParseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	for _, w := range cfg.Renamed {
		log.Warn(w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP asks for a reload, never an exit: caught from before Start
	// so that one arriving early does not end the process either.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := app.Start(cfg, log, build())
	if err != nil {
		return err
	}
	a.LogStartup(log, cfg)
	// A listener that fails ends the process with it (exit 1): the others
	// say goodbye first, as on a signal. SIGHUP reloads, never ends it.
	var failed error
wait:
	for {
		select {
		case failed = <-a.Served():
			log.Info("shutting down", "because", "a listener failed")
			break wait
		case <-hup:
			log.Info("SIGHUP: reloading")
			a.Reload(log)
		case <-ctx.Done():
			log.Info("shutting down")
			break wait
		}
	}
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	return errors.Join(failed, a.Shutdown(shutdownCtx))
}
