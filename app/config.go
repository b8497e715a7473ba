package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/hush-chat/hush/certs"
)

// Config is every setting, each a flag and an environment variable
// HUSH_<NAME> (flags win). ParseConfig fills it; its defaults are written
// here and nowhere else.
type Config struct {
	Listen    string
	Data      string
	Host      string
	Linger    time.Duration
	MaxGroup  int
	LobbySize int
	Stall     time.Duration

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
	Pictures          onOff

	Metrics        string
	ProxyProtocol  bool
	TrustedProxies string

	Web               string
	WebURL            string
	WebTLSCert        string
	WebTLSKey         string
	WebInsecure       bool
	WebTrustedProxies string
	WebDomain         string // comma-separated; see WebDomains
	WebHTTP           string
	ACMECA            string
	ACMECARoot        string
	ACMEEmail         string
	// ACMERenewCheck is how often ACME certificates are looked at for
	// renewal (0: every 10 minutes). No flag: tests shorten it.
	ACMERenewCheck time.Duration
	// WebTLSCheck is how often, at most, a handshake looks for new
	// --web-tls-cert/--web-tls-key files (0: once a minute). No flag:
	// SIGHUP makes hush look at once; tests shorten it.
	WebTLSCheck time.Duration

	NATS         string
	NATSCreds    string
	NATSNkey     string
	NATSCA       string
	NATSInsecure bool
	Node         string
	NATSLease    time.Duration
	NATSReplicas int

	// Renamed has one warning for each setting given by its old name
	// (see renamed), for the caller to log.
	Renamed []string
}

// renamed lists settings that a release documented under another name.
// The old flag and HUSH_* variable keep working for one more release,
// with a warning naming the new one; then the line goes. README.md's
// "Renamed settings" table says the same.
var renamed = []struct{ old, new string }{
	{old: "wrong-codes-per-minute", new: "wrong-codes"},
}

// oldName is a renamed flag: setting it sets the new one and says so.
type oldName struct {
	old, new string
	target   flag.Value
	c        *Config
}

func (o oldName) String() string { return "" }

func (o oldName) Set(v string) error {
	o.c.Renamed = append(o.c.Renamed, fmt.Sprintf("--%s is now --%s (%s); the old name goes in the next release", o.old, o.new, envName(o.new)))
	return o.target.Set(v)
}

// UsageError is a mistake in the command line or in a HUSH_* variable, as
// opposed to something that went wrong while running. The command exits 2
// for it (1 for anything else).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// flags defines every setting on a new flag set that writes into c.
func flags(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("hush", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", ":2222", "address to accept SSH connections on")
	fs.StringVar(&c.Data, "data", "./data", "directory for the host key and the code salt (keep it across upgrades)")
	fs.StringVar(&c.Host, "host", "localhost", "host name shown in invite lines, optionally with :port when clients reach a different port than --listen (default: the first --web-domain, if given)")
	fs.DurationVar(&c.Linger, "linger", 5*time.Second, "how long a typed character stays on screen before it has faded away")
	fs.IntVar(&c.MaxGroup, "max-group", 8, "seats in a room opened with ssh group@host")
	fs.IntVar(&c.LobbySize, "lobby-size", 200, "people the lobby (ssh lobby@host) holds at once; past it they are told it is full")
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
	c.Pictures = true
	fs.Var(&c.Pictures, "pictures", "`on` lets people show each other pictures that fade (ssh CODE@HOST pic < file, or from the page); off turns them off")
	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus /metrics and /healthz over HTTP on this address, e.g. 127.0.0.1:9222 (off if empty)")
	fs.BoolVar(&c.ProxyProtocol, "proxy-protocol", false, "read PROXY protocol v1/v2 headers from --trusted-proxies (behind a TCP load balancer)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs or addresses allowed (and required) to send PROXY headers")
	fs.StringVar(&c.Web, "web", "127.0.0.1:8080", "address to serve the browser page on (empty: no web front end; :443 when --web-domain is given); plain HTTP beyond loopback needs --web-domain, --web-tls-cert/--web-tls-key or --web-insecure")
	fs.StringVar(&c.WebURL, "web-url", "", "public base URL of the page, used in links, e.g. https://chat.example.org (default http://HOST:PORT from --host and --web)")
	fs.StringVar(&c.WebTLSCert, "web-tls-cert", "", "TLS certificate file (PEM) to serve the page over HTTPS; read again when it changes (looked at on a handshake at most once a minute, or at once on SIGHUP)")
	fs.StringVar(&c.WebTLSKey, "web-tls-key", "", "TLS private key file (PEM) for --web-tls-cert")
	fs.BoolVar(&c.WebInsecure, "web-insecure", false, "allow plain HTTP on a non-loopback --web (only behind a TLS-terminating proxy)")
	fs.StringVar(&c.WebDomain, "web-domain", "", "domain name(s) of the page, comma-separated: hush gets and renews their certificates itself from --acme-ca, keeping them in --data (in NATS with --nats, shared by every node), and serves HTTPS on --web (then :443 by default)")
	fs.StringVar(&c.WebHTTP, "web-http", "", "also serve plain HTTP on this address, e.g. :80, answering ACME HTTP-01 checks and sending everything else to HTTPS (needs --web-domain or --web-tls-cert)")
	fs.StringVar(&c.ACMECA, "acme-ca", "", "ACME directory URL to get --web-domain certificates from (default Let's Encrypt: "+certs.LetsEncrypt+")")
	fs.StringVar(&c.ACMECARoot, "acme-ca-root", "", "CA certificate file (PEM) to verify the --acme-ca server by, for a private CA (default: the system's roots)")
	fs.StringVar(&c.ACMEEmail, "acme-email", "", "contact address given to the ACME CA, for its notices (optional)")
	fs.StringVar(&c.WebTrustedProxies, "web-trusted-proxies", "", "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For names the client")
	fs.StringVar(&c.NATS, "nats", "", "NATS server URLs, comma-separated, to share rooms with other hush nodes (empty: rooms in this process's memory)")
	fs.StringVar(&c.NATSCreds, "nats-creds", "", "NATS credentials file (JWT and seed), for servers that require one")
	fs.StringVar(&c.NATSNkey, "nats-nkey", "", "NATS nkey seed file, for servers that authenticate by nkey")
	fs.StringVar(&c.NATSCA, "nats-ca", "", "CA certificate file (PEM) to verify NATS servers by; turns TLS on")
	fs.BoolVar(&c.NATSInsecure, "nats-insecure", false, "allow a NATS URL beyond loopback without TLS (a private network you trust)")
	fs.StringVar(&c.Node, "node", "", "this node's name in the cluster, for logs (default: the host name)")
	fs.DurationVar(&c.NATSLease, "nats-lease", 15*time.Second, "how long a silent node keeps its members before the others let them go; the same on every node")
	fs.IntVar(&c.NATSReplicas, "nats-replicas", 1, "JetStream servers that keep hush's buckets (3 for a three-server NATS cluster)")
	// Errors are returned, and help is written by WriteHelp: the flag
	// package itself prints nothing.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// envName is the environment variable that sets the flag name.
func envName(flagName string) string {
	return "HUSH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// subcommands are the words hush takes before its flags.
var subcommands = []string{"health", "version", "help"}

// WriteHelp writes what `hush --help` prints: what hush is, how to call
// it, two examples, and every flag with its variable and default. Each
// flag's line starts "  -name" (tests and tools read the names from it).
func WriteHelp(w io.Writer) {
	var b strings.Builder
	b.WriteString(`hush: ephemeral chat over SSH. Every keystroke is seen as typed, then fades.

Usage:
  hush [flags]          serve chat rooms until interrupted (Ctrl+C, SIGTERM);
                        SIGHUP re-reads the --web-tls-cert/--web-tls-key files
  hush health [flags]   check that the server these flags describe answers:
                        exit 0 if it does, 1 if not (a container healthcheck)
  hush version          print the version, commit and Go version (or --version)
  hush help             print this help (or --help, -h)

Both --help and --version work anywhere on the line. Exit status: 0 on
success, 1 when something fails (the port is taken, the server does not
answer), 2 when the command line or a HUSH_* variable is wrong.

Examples:
  hush
      Rooms in memory, SSH on port 2222; the host key is created in ./data on
      first run. Try it from another terminal: ssh -p 2222 new@localhost
  hush --web-domain chat.example.org --listen :22 --data /var/lib/hush
      A public server: people type ssh new@chat.example.org or open
      https://chat.example.org/ (hush gets the certificate itself; port 22
      needs the machine's own sshd moved elsewhere first; see README.md)

Flags (one dash or two: -listen or --listen). Each can also be set as an
environment variable HUSH_<NAME>, e.g. HUSH_MAX_GROUP=4; a flag on the
command line wins over the variable.

`)
	flags(&Config{}).VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if typ != "" {
			line += " " + typ
		}
		def := f.DefValue
		if typ == "string" {
			def = fmt.Sprintf("%q", def)
		}
		fmt.Fprintf(&b, "%s    (%s, default %s)\n", line, envName(f.Name), def)
		for _, l := range wrap(usage, 72) {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	})
	_, _ = io.WriteString(w, b.String())
}

// wrap breaks s into lines of at most width characters, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			// A line that starts with a dash would read as a flag: take
			// the word before along.
			if i := strings.LastIndexByte(line, ' '); strings.HasPrefix(word, "-") && i > 0 {
				lines = append(lines, line[:i])
				line = line[i+1:] + " " + word
				continue
			}
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	return append(lines, line)
}

// ParseConfig reads flags from args over HUSH_* variables from getenv.
// It prints nothing, except the help to out for -h or --help (it then
// returns flag.ErrHelp). Every other error is a *UsageError, on one line.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flags(&c)
	var envErr error
	for _, r := range renamed {
		// The old variable counts only where the new one is not set.
		name := envName(r.old)
		v := getenv(name)
		switch {
		case v == "":
		case getenv(envName(r.new)) != "":
			c.Renamed = append(c.Renamed, fmt.Sprintf("%s is ignored: %s is set (the old name goes in the next release)", name, envName(r.new)))
		default:
			c.Renamed = append(c.Renamed, fmt.Sprintf("%s is now %s (--%s); the old name goes in the next release", name, envName(r.new), r.new))
			if err := fs.Lookup(r.new).Value.Set(v); err != nil && envErr == nil {
				envErr = usageErrorf("%s=%q: %w", name, v, err)
			}
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = usageErrorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	// Old flag names are defined after the variables are read, so that
	// they are no variables of their own, and never shown in the help.
	for _, r := range renamed {
		fs.Var(oldName{old: r.old, new: r.new, target: fs.Lookup(r.new).Value, c: &c}, r.old, "")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			WriteHelp(out)
			return c, flag.ErrHelp
		}
		return c, &UsageError{Err: flagError(err, args)}
	}
	// A domain says where the page is and what people type: unless told
	// otherwise, HTTPS on 443, and invites to the (first) domain.
	if c.WebDomain != "" && getenv(envName("web")) == "" && !flagSet(fs, "web") {
		c.Web = ":443"
	}
	if ds := c.WebDomains(); len(ds) > 0 && getenv(envName("host")) == "" && !flagSet(fs, "host") {
		c.Host = ds[0]
	}
	if fs.NArg() > 0 {
		word := fs.Arg(0)
		for _, sub := range subcommands {
			if word == sub {
				return c, usageErrorf("unexpected argument %q: a subcommand goes first, as in hush %s [flags]", word, word)
			}
		}
		return c, usageErrorf("unexpected argument %q", word)
	}
	return c, check(c)
}

// check refuses settings that cannot work together or are out of range,
// each as a *UsageError on one line.
func check(c Config) error {
	switch {
	case c.Linger < 500*time.Millisecond || c.Linger > 10*time.Minute:
		return usageErrorf("--linger %v: want between 500ms and 10m", c.Linger)
	case c.MaxGroup < 2 || c.MaxGroup > 64:
		return usageErrorf("--max-group %d: want between 2 and 64", c.MaxGroup)
	case c.LobbySize < 1 || c.LobbySize > 10000:
		return usageErrorf("--lobby-size %d: want between 1 and 10000", c.LobbySize)
	case c.Stall < time.Second:
		return usageErrorf("--stall-timeout %v: want at least 1s", c.Stall)
	case c.KeyRate <= 0 || c.KeyBurst < 1 || c.MaxPaste < 1:
		return usageErrorf("--key-rate, --key-burst and --max-paste must be positive")
	case c.MaxSessions < 0 || c.SessionsPerIP < 0 || c.ConnsPerIP < 0 || c.ConnsPerMinute < 0 || c.WrongCodes < 0 || c.WrongCodesPerHour < 0 || c.ServerWrongCodes < 0 || c.IdleTimeout < 0:
		return usageErrorf("limits cannot be negative (0 turns one off)")
	}
	if err := checkNATS(c); err != nil {
		return &UsageError{Err: err}
	}
	if err := checkWeb(c); err != nil {
		return &UsageError{Err: err}
	}
	// Start checks --proxy-protocol and --trusted-proxies as it wraps its
	// listener; the same check here makes a wrong pair a usage error too.
	if _, err := proxyListener(noListener{}, c); err != nil {
		return &UsageError{Err: err}
	}
	return nil
}

// onOff is a setting that is on or off (also true/false, yes/no, 1/0).
type onOff bool

func (o *onOff) String() string {
	if *o {
		return "on"
	}
	return "off"
}

func (o *onOff) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		*o = true
	case "off", "false", "no", "0":
		*o = false
	default:
		return fmt.Errorf("want on or off")
	}
	return nil
}

// flagSet says whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// WebDomains are the names given with --web-domain, lower case: the
// names hush gets certificates for, and the hosts the page is known by.
func (c Config) WebDomains() []string {
	var ds []string
	for d := range strings.SplitSeq(c.WebDomain, ",") {
		if d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), ".")); d != "" {
			ds = append(ds, d)
		}
	}
	return ds
}

// noListener stands in for a listener when only checking settings.
type noListener struct{}

func (noListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (noListener) Close() error              { return nil }
func (noListener) Addr() net.Addr            { return nil }

// flagError rewords the flag package's error for an unknown flag to name
// the word as it was typed.
func flagError(err error, args []string) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		bare := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		bare, _, _ = strings.Cut(bare, "=")
		if strings.HasPrefix(a, "-") && bare == name {
			return fmt.Errorf("unknown flag %q", a)
		}
	}
	return fmt.Errorf("unknown flag %q", "-"+name)
}
