package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// config is every setting, each a flag and an environment variable
// HUSH_<NAME> (flags win).
type config struct {
	Listen   string
	Data     string
	Host     string
	Linger   time.Duration
	MaxGroup int
	Stall    time.Duration
}

func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("hush", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Listen, "listen", ":2222", "address to accept SSH connections on")
	fs.StringVar(&c.Data, "data", "./data", "directory for the host key and the code salt (keep it across upgrades)")
	fs.StringVar(&c.Host, "host", "localhost", "host name shown in invite lines, optionally with :port when clients reach a different port than --listen")
	fs.DurationVar(&c.Linger, "linger", 5*time.Second, "how long a typed character stays on screen before it has faded away")
	fs.IntVar(&c.MaxGroup, "max-group", 8, "seats in a room opened with ssh group@host")
	fs.DurationVar(&c.Stall, "stall-timeout", 5*time.Second, "hang up on a client whose connection has taken nothing for this long")
	fs.Usage = func() {
		fmt.Fprintf(out, "hush: ephemeral chat over SSH. Every keystroke is seen as typed, then fades.\n\nUsage: hush [flags]\n\nEach flag can also be set as an environment variable HUSH_<NAME>, e.g. HUSH_MAX_GROUP=4.\n\n")
		fs.PrintDefaults()
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "HUSH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.Linger < 500*time.Millisecond || c.Linger > 10*time.Minute:
		return c, fmt.Errorf("--linger %v: want between 500ms and 10m", c.Linger)
	case c.MaxGroup < 2 || c.MaxGroup > 64:
		return c, fmt.Errorf("--max-group %d: want between 2 and 64", c.MaxGroup)
	case c.Stall < time.Second:
		return c, fmt.Errorf("--stall-timeout %v: want at least 1s", c.Stall)
	}
	return c, nil
}
