// Command hushload measures a hush server the way people use it: real SSH
// clients (golang.org/x/crypto/ssh) with PTYs open rooms, type, and watch
// the other screen, decoded with an x/vt terminal emulator, until each
// keystroke shows. Every figure is also taken from a bare SSH relay (this
// same binary re-executed: PTY accepted, bytes copied from one member of a
// pair to the other, no UI) in the same run, as the baseline; the web and
// cluster scenarios compare kinds of room within one run instead.
//
// It builds the server from the repository (or takes -server), runs it on
// 127.0.0.1:0 with a temporary --data, reads its address from the log, and
// samples its CPU (/proc/PID/stat) and memory (/proc/PID/status VmRSS).
// Every loop is bounded in count and time; everything stays on loopback.
//
// Scenarios:
//
//   - connect: -first sessions one at a time (dial start until the room
//     header is on the decoded screen), then -connect sessions -conc at a
//     time, each closed once its first frame is seen: sessions/s.
//
//   - latency: -rooms pairs; each creator types -rate keys/s for -duration
//     (with -typing bursts the timed ones type short words fast instead:
//     2–5 keys 5–15 ms apart, pauses of 20–60 ms).
//     The first -measure joiners decode their screens and time every
//     keystroke until it is visible there (typists cycle through the 94
//     printable ASCII characters, so the newest one on screen says which
//     keystroke arrived); the rest only count bytes. Also server CPU per
//     key, bytes per key, RSS per session, and one extra room whose burst
//     of text is watched fading (shade changes per second).
//
//   - idle: -idle sessions in pairs, left alone for -settle, then server CPU
//     over -idle-for and RSS per session.
//
//   - all: connect, latency and idle, in that order.
//
// Two scenarios carry their baseline inside one server run instead of the
// relay (-baseline does not apply to them):
//
//   - web: browsers against terminals. The server also serves its browser
//     front end (--web 127.0.0.1:0); a browser here is one WebSocket
//     (github.com/coder/websocket) speaking the page's JSON frames. -rooms
//     rooms of each of three kinds type at once, one typist a room:
//     ssh→ssh (two SSH sessions, as latency: the baseline), ssh→web (the
//     SSH creator types, a browser that joined with the code watches its
//     "typed" frames) and web→ssh (the browser types, its SSH creator
//     watches the decoded screen). The first -measure rooms of each kind
//     are timed; the web figures are also given as ratios to ssh→ssh p50
//     and p99. Also server RSS per browser session (growth while the
//     browsers joined rooms already opened over SSH, divided by their
//     count) against per SSH session, and server CPU per key.
//
//   - cluster: two hush nodes sharing rooms through a nats-server with
//     JetStream (built from the module, or -nats-server), node b started
//     with node a's salt and host key. First at rest: -idle sessions in
//     rooms of two spread over both nodes (a–a, b–b, a–b, b–a in turn: half
//     the rooms across), nobody typing, for -idle-for after -settle:
//     JetStream key-value writes per second (the increase of last_seq of
//     the KV_hush_* streams, from nats-server's /jsz), RSS per session and
//     CPU of each node, and of nats-server. Then -rooms rooms on node a and
//     -rooms rooms from a to b typing at once: keystroke→peer on the same
//     node against across nodes, CPU per key of all three processes, and
//     NATS messages per cross-node key.
//
//   - lobby: -lobby people in the lobby (ssh lobby@), -typists of them
//     typing -rate keys/s (within the lobby's budget, half of --key-rate)
//     for -duration. Each of the first -measure typists is timed on one
//     silent person's decoded screen, tall enough that every typist's lane
//     shows; the rest count bytes. In the same run the same typists type
//     in rooms of two (as latency, -rooms = -typists), on hush and on the
//     relay: key→screen p99 and server CPU per key, lobby against rooms
//     and each against the relay.
//
// Examples (docs/PERFORMANCE.md has the figures they gave):
//
//	go run ./cmd/hushload -scenario all -rooms 20 -duration 5s
//	go run ./cmd/hushload -scenario latency -rooms 1000 -rate 5 -duration 20s -json
//	go run ./cmd/hushload -scenario latency -rooms 200 -typing bursts -duration 10s
//	go run ./cmd/hushload -scenario idle -idle 10000
//	go run ./cmd/hushload -scenario latency -rooms 300 -profile /tmp/prof
//	go run ./cmd/hushload -scenario web -rooms 200 -rate 5 -duration 20s
//	go run ./cmd/hushload -scenario lobby -lobby 200 -typists 20 -duration 20s
//	go run ./cmd/hushload -scenario cluster -rooms 200 -rate 5 -duration 20s -idle 10000 -idle-for 30s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type opts struct {
	scenario   string
	rooms      int
	measure    int
	rate       float64
	typing     string
	duration   time.Duration
	linger     time.Duration
	idle       int
	lobby      int
	typists    int
	idleFor    time.Duration
	idleLinger time.Duration
	settle     time.Duration
	connect    int
	conc       int
	first      int
	dialConc   int
	width      int
	colorterm  string
	height     int
	server     string
	natsServer string
	serverArgs string
	serverEnv  string
	profile    string
	baseline   bool
	jsonOut    bool
	quiet      bool
	timeout    time.Duration
}

var quiet atomic.Bool

func progress(format string, args ...any) {
	if !quiet.Load() {
		fmt.Fprintf(os.Stderr, "hushload: "+format+"\n", args...)
	}
}

func fatalf(format string, args ...any) {
	killAll()
	fmt.Fprintf(os.Stderr, "hushload: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if kind := os.Getenv(childEnv); kind != "" {
		if err := runChild(kind); err != nil {
			fmt.Fprintln(os.Stderr, "hushload child:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return
		}
		fmt.Fprintln(os.Stderr, "hushload:", err)
		os.Exit(2)
	}
	quiet.Store(o.quiet)
	// Stopped from outside, stop the servers too (they are our children).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { fatalf("stopped by %v", <-sigs) }()
	watchdog := time.AfterFunc(o.timeout, func() { fatalf("gave up after -timeout %v", o.timeout) })
	defer watchdog.Stop()
	rep, err := run(o)
	if err != nil {
		fatalf("%v", err)
	}
	if o.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return
	}
	printReport(os.Stdout, rep)
}

func parseFlags(args []string, out io.Writer) (*opts, error) {
	o := &opts{}
	fs := flag.NewFlagSet("hushload", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.scenario, "scenario", "all", "latency, idle, connect, all (those three), web, cluster or lobby")
	fs.IntVar(&o.rooms, "rooms", 20, "latency: rooms typing at once (two sessions each); web, cluster: rooms of each kind")
	fs.IntVar(&o.measure, "measure", 20, "latency/web/cluster: how many of the rooms (of each kind) are timed; an SSH receiver decodes its screen")
	fs.Float64Var(&o.rate, "rate", 5, "latency/web/cluster: keys per second typed in each room")
	fs.StringVar(&o.typing, "typing", typingSteady, "latency/web/cluster: how the timed typists type: steady (one key every 1/-rate s) or bursts (words of 2–5 keys 5–15 ms apart, pauses of 20–60 ms; seeded); the other rooms type steadily")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "latency/web/cluster: how long each server is typed at")
	fs.DurationVar(&o.linger, "linger", 5*time.Second, "latency/connect/web/cluster: the server's --linger")
	fs.IntVar(&o.idle, "idle", 1000, "idle: sessions to connect (in rooms of two) and leave idle; cluster: the same, spread over both nodes, half the rooms across them")
	fs.IntVar(&o.lobby, "lobby", 200, "lobby: people in the lobby")
	fs.IntVar(&o.typists, "typists", 20, "lobby: how many of them type (and, as rooms of two, in the same run); each timed typist is watched by one silent person")
	fs.DurationVar(&o.idleFor, "idle-for", 10*time.Second, "idle/cluster: how long to sample CPU (and, cluster, JetStream writes) over")
	fs.DurationVar(&o.idleLinger, "idle-linger", time.Second, "idle: the server's --linger, short so text is gone quickly")
	fs.DurationVar(&o.settle, "settle", 6*time.Second, "idle/cluster: wait after connecting for notices and text to fade (4s notice + linger)")
	fs.IntVar(&o.connect, "connect", 500, "connect: sessions to open as fast as possible")
	fs.IntVar(&o.conc, "conc", 8, "connect: sessions opening at once")
	fs.IntVar(&o.first, "first", 50, "connect: sessions opened one at a time to time the first frame")
	fs.IntVar(&o.dialConc, "dial-conc", 16, "latency/idle/web/cluster: sessions opening at once while setting up")
	fs.IntVar(&o.width, "width", 80, "terminal width")
	fs.StringVar(&o.colorterm, "fade-colorterm", "truecolor", "latency: COLORTERM the fading room's watcher sends (empty: none, so xterm-256color)")
	fs.IntVar(&o.height, "height", 24, "terminal height")
	fs.StringVar(&o.server, "server", "", "hush server binary (default: go build the repository into a temp dir)")
	fs.StringVar(&o.natsServer, "nats-server", "", "cluster: nats-server binary (default: go build github.com/nats-io/nats-server/v2, the version go.mod names, into a temp dir)")
	fs.DurationVar(&quietWait, "quiet-wait", 30*time.Second, "before starting each server, wait up to this long for the machine to be idle (other work skews figures); 0 skips")
	fs.StringVar(&serverLog, "server-log", "", "append the servers' stderr to this file (e.g. with GODEBUG=gctrace=1 in the environment)")
	fs.StringVar(&o.serverArgs, "server-args", "", "extra flags for the hush server, space-separated")
	fs.StringVar(&o.serverEnv, "server-env", "", "extra environment for both servers, space-separated (e.g. \"GOGC=400 GODEBUG=gctrace=1\")")
	fs.StringVar(&o.profile, "profile", "", "build hush with a profiling hook (go build -overlay; the repository is not touched) and write CPU and heap profiles of each scenario (not cluster) to this directory; with -server, that binary must already contain the hook")
	fs.BoolVar(&o.baseline, "baseline", true, "latency/idle/connect: also measure the bare relay (web and cluster have their baselines in the same run)")
	fs.BoolVar(&o.jsonOut, "json", false, "print JSON instead of a table")
	fs.BoolVar(&o.quiet, "q", false, "no progress on stderr")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up (and stop the servers) after this long")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case !strings.Contains(" latency idle connect all web cluster lobby ", " "+o.scenario+" "):
		return nil, fmt.Errorf("-scenario %q: want latency, idle, connect, all, web, cluster or lobby", o.scenario)
	case o.rooms < 1 || o.rooms > 20000:
		return nil, fmt.Errorf("-rooms %d: want 1..20000", o.rooms)
	case o.measure < 1 || o.measure > 200:
		return nil, fmt.Errorf("-measure %d: want 1..200 (each decoded screen costs the client)", o.measure)
	case o.rate <= 0 || o.rate > 100:
		return nil, fmt.Errorf("-rate %v: want (0, 100]", o.rate)
	case o.typing != typingSteady && o.typing != typingBursts:
		return nil, fmt.Errorf("-typing %q: want steady or bursts", o.typing)
	case o.duration < time.Second || o.duration > 10*time.Minute:
		return nil, fmt.Errorf("-duration %v: want 1s..10m", o.duration)
	case o.idle < 2 || o.idle > 20000:
		return nil, fmt.Errorf("-idle %d: want 2..20000", o.idle)
	case o.idleFor < time.Second || o.idleFor > 10*time.Minute:
		return nil, fmt.Errorf("-idle-for %v: want 1s..10m", o.idleFor)
	case o.connect < 1 || o.connect > 100000 || o.first < 1 || o.first > 10000:
		return nil, fmt.Errorf("-connect %d / -first %d: out of range", o.connect, o.first)
	case o.conc < 1 || o.conc > 256 || o.dialConc < 1 || o.dialConc > 256:
		return nil, fmt.Errorf("-conc %d / -dial-conc %d: want 1..256", o.conc, o.dialConc)
	case o.width < 20 || o.height < 10 || o.width > 500 || o.height > 200:
		return nil, fmt.Errorf("-width/-height %dx%d: out of range", o.width, o.height)
	case o.settle < 0 || o.settle > 5*time.Minute:
		return nil, fmt.Errorf("-settle %v: want 0..5m", o.settle)
	case o.timeout < time.Second:
		return nil, fmt.Errorf("-timeout %v: too short", o.timeout)
	}
	if o.scenario == "lobby" {
		if err := lobbyFlags(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// run builds what it needs and runs the scenario o names (all: connect,
// latency and idle, in that order).
func run(o *opts) (*Report, error) {
	rep := &Report{Machine: machine(), Command: "go run ./cmd/hushload " + strings.Join(os.Args[1:], " ")}
	env := strings.Fields(o.serverEnv)
	hush, cleanup, err := hushLauncher(o, env)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	relay := launcher{kind: "relay", env: env}
	want := func(s string) bool { return o.scenario == "all" || o.scenario == s }

	if o.scenario == "web" {
		if rep.Web, err = runWeb(hush, o); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
	}
	if o.scenario == "cluster" {
		if rep.Cluster, err = clusterScenario(hush, o); err != nil {
			return nil, err
		}
	}
	if o.scenario == "lobby" {
		if err := compareLobby(rep, hush, relay, o); err != nil {
			return nil, err
		}
	}
	if want("connect") {
		if err := compareConnect(rep, hush, relay, o); err != nil {
			return nil, err
		}
	}
	if want("latency") {
		if err := compareLatency(rep, hush, relay, o); err != nil {
			return nil, err
		}
	}
	if want("idle") {
		if err := compareIdle(rep, hush, relay, o); err != nil {
			return nil, err
		}
	}
	rep.Targets = targets(rep, o)
	return rep, nil
}

// hushLauncher starts hush servers from -server, or from the repository
// built into a temporary directory that cleanup removes (cleanup is never
// nil); with -profile, the profiles' directory is made absolute and
// created.
func hushLauncher(o *opts, env []string) (l launcher, cleanup func(), err error) {
	l = launcher{kind: "hush", bin: o.server, prof: o.profile, extra: strings.Fields(o.serverArgs), env: env}
	cleanup = func() {}
	if o.profile != "" {
		if o.profile, err = filepath.Abs(o.profile); err != nil {
			return l, cleanup, err
		}
		l.prof = o.profile
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return l, cleanup, err
		}
	}
	if l.bin == "" {
		repo, err := findRepo()
		if err != nil {
			return l, cleanup, err
		}
		dir, err := os.MkdirTemp("", "hushload-bin-")
		if err != nil {
			return l, cleanup, err
		}
		progress("building the server in %s", repo)
		if l.bin, err = buildHush(repo, dir, o.profile != ""); err != nil {
			os.RemoveAll(dir)
			return l, cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	return l, cleanup, nil
}

// clusterScenario runs the cluster scenario on nats-server from
// -nats-server, or built into a temporary directory for the run.
func clusterScenario(hush launcher, o *opts) (*ClusterRun, error) {
	natsd := o.natsServer
	if natsd == "" {
		repo, err := findRepo()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "hushload-nats-bin-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		progress("building nats-server")
		if natsd, err = buildNATS(repo, dir); err != nil {
			return nil, err
		}
	}
	if o.profile != "" {
		progress("-profile: the cluster scenario is not profiled")
	}
	c, err := runCluster(hush, natsd, o)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return c, nil
}

// compareConnect runs the connect scenario on hush, then (with -baseline)
// on the relay.
func compareConnect(rep *Report, hush, relay launcher, o *opts) error {
	rep.Connect = &struct {
		Hush  *ConnectRun `json:"hush"`
		Relay *ConnectRun `json:"relay,omitempty"`
	}{}
	var err error
	if rep.Connect.Hush, err = runConnect(hush, o); err != nil {
		return fmt.Errorf("connect, hush: %w", err)
	}
	if o.baseline {
		if rep.Connect.Relay, err = runConnect(relay, o); err != nil {
			return fmt.Errorf("connect, relay: %w", err)
		}
	}
	return nil
}

// compareLatency runs the latency scenario on the relay (with -baseline),
// then on hush, and sets their ratios.
func compareLatency(rep *Report, hush, relay launcher, o *opts) error {
	rep.Latency = &struct {
		Hush     *LatencyRun `json:"hush"`
		Relay    *LatencyRun `json:"relay,omitempty"`
		P50Ratio float64     `json:"p50_ratio,omitempty"`
		P99Ratio float64     `json:"p99_ratio,omitempty"`
	}{}
	var err error
	if o.baseline {
		if rep.Latency.Relay, err = runLatency(relay, o); err != nil {
			return fmt.Errorf("latency, relay: %w", err)
		}
	}
	if rep.Latency.Hush, err = runLatency(hush, o); err != nil {
		return fmt.Errorf("latency, hush: %w", err)
	}
	if r := rep.Latency.Relay; r != nil {
		rep.Latency.P50Ratio = ratio(rep.Latency.Hush.Latency.P50, r.Latency.P50)
		rep.Latency.P99Ratio = ratio(rep.Latency.Hush.Latency.P99, r.Latency.P99)
	}
	return nil
}

// compareIdle runs the idle scenario on hush, then (with -baseline) on the
// relay.
func compareIdle(rep *Report, hush, relay launcher, o *opts) error {
	rep.Idle = &struct {
		Hush  *IdleRun `json:"hush"`
		Relay *IdleRun `json:"relay,omitempty"`
	}{}
	var err error
	if rep.Idle.Hush, err = runIdle(hush, o); err != nil {
		return fmt.Errorf("idle, hush: %w", err)
	}
	if o.baseline {
		if rep.Idle.Relay, err = runIdle(relay, o); err != nil {
			return fmt.Errorf("idle, relay: %w", err)
		}
	}
	return nil
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
