package app

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Config is every setting, each a flag and an environment variable
// HUSH_<NAME> (flags win). ParseConfig fills it; its defaults are written
// here and nowhere else.
type Config struct {
	Listen   string
	Data     string
	Host     string
	Linger   time.Duration
	MaxGroup int
	Stall    time.Duration

	MaxSessions       int
	SessionsPerIP     int
	ConnsPerIP        int
	ConnsPerMinute    int
	WrongCodes        int
	WrongCodesPerHour float64
	ServerWrongCodes  int
	Lockout           time.Duration
	HandshakeTimeout  time.Duration
	IdleTimeout       time.Duration
	KeyRate           float64
	KeyBurst          int
	MaxPaste          int

	Metrics        string
	ProxyProtocol  bool
	TrustedProxies string
}

// ParseConfig reads flags from args over HUSH_* variables from getenv.
// Usage goes to out.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("hush", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Listen, "listen", ":2222", "address to accept SSH connections on")
	fs.StringVar(&c.Data, "data", "./data", "directory for the host key and the code salt (keep it across upgrades)")
	fs.StringVar(&c.Host, "host", "localhost", "host name shown in invite lines, optionally with :port when clients reach a different port than --listen")
	fs.DurationVar(&c.Linger, "linger", 5*time.Second, "how long a typed character stays on screen before it has faded away")
	fs.IntVar(&c.MaxGroup, "max-group", 8, "seats in a room opened with ssh group@host")
	fs.DurationVar(&c.Stall, "stall-timeout", 5*time.Second, "hang up on a client whose connection has taken nothing for this long")
	fs.IntVar(&c.MaxSessions, "max-sessions", 5000, "sessions at once, server-wide; past it people are told the server is full")
	fs.IntVar(&c.SessionsPerIP, "max-sessions-per-ip", 20, "sessions at once from one address (an IPv6 /64 counts as one), over SSH and the web together")
	fs.IntVar(&c.ConnsPerIP, "max-conns-per-ip", 20, "open connections at once from one address")
	fs.IntVar(&c.ConnsPerMinute, "conns-per-minute", 60, "new connections a minute from one address")
	fs.IntVar(&c.WrongCodes, "wrong-codes", 10, "wrong room codes one address may try before joining is paused")
	fs.Float64Var(&c.WrongCodesPerHour, "wrong-codes-per-hour", 6, "how fast an address's allowance of wrong codes comes back")
	fs.DurationVar(&c.Lockout, "lockout", 10*time.Minute, "how long joining stays paused, at least, once an address has used its wrong codes")
	fs.IntVar(&c.ServerWrongCodes, "server-wrong-codes-per-minute", 60, "wrong room codes a minute from everyone together before every answer slows down (at most 0.5s for a right code)")
	fs.DurationVar(&c.HandshakeTimeout, "handshake-timeout", 10*time.Second, "time allowed to finish the SSH handshake")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 30*time.Minute, "let go of someone who has typed nothing for this long (0: never)")
	fs.Float64Var(&c.KeyRate, "key-rate", 30, "keys a second one person can keep up; more is dropped with a hint, never a disconnect")
	fs.IntVar(&c.KeyBurst, "key-burst", 3000, "keys one person may send at once above --key-rate (a paste spends these)")
	fs.IntVar(&c.MaxPaste, "max-paste", 1000, "characters kept from one paste; the rest is cut with a hint")
	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus /metrics and /healthz over HTTP on this address, e.g. 127.0.0.1:9222 (off if empty)")
	fs.BoolVar(&c.ProxyProtocol, "proxy-protocol", false, "read PROXY protocol v1/v2 headers from --trusted-proxies (behind a TCP load balancer)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs or addresses allowed (and required) to send PROXY headers")
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
	case c.KeyRate <= 0 || c.KeyBurst < 1 || c.MaxPaste < 1:
		return c, fmt.Errorf("--key-rate, --key-burst and --max-paste must be positive")
	case c.MaxSessions < 0 || c.SessionsPerIP < 0 || c.ConnsPerIP < 0 || c.ConnsPerMinute < 0 || c.WrongCodes < 0 || c.WrongCodesPerHour < 0 || c.ServerWrongCodes < 0 || c.IdleTimeout < 0:
		return c, fmt.Errorf("limits cannot be negative (0 turns one off)")
	}
	return c, nil
}
