package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; it is
// 100 on every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// server is a server under test running as a child process.
type server struct {
	kind   string // "hush", "relay" or "nats"
	cmd    *exec.Cmd
	addr   string // the first address its log named (see startServer)
	found  []string
	pid    int
	data   string
	ctl    io.WriteCloser // stdin of a -profile build; nil otherwise
	acks   chan struct{}  // its answers
	exited chan struct{}
}

// serverLog, if set (-server-log), collects every server's stderr.
var serverLog string

var (
	listenRE    = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	webListenRE = regexp.MustCompile(`msg="web listening" addr=(127\.0\.0\.1:\d+)`)
)

// startServer runs cmd and waits until its stderr has matched every one of
// wants, in any order (by default listenRE: `msg=listening
// addr=127.0.0.1:PORT`). The first submatch of each is kept in s.found, in
// the order of wants; s.addr is the first.
func startServer(kind string, cmd *exec.Cmd, data string, profiled bool, wants ...*regexp.Regexp) (*server, error) {
	if len(wants) == 0 {
		wants = []*regexp.Regexp{listenRE}
	}
	var ctl io.WriteCloser
	if profiled {
		var err error
		if ctl, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	s := &server{kind: kind, cmd: cmd, pid: cmd.Process.Pid, data: data, ctl: ctl,
		acks: make(chan struct{}, 16), exited: make(chan struct{})}
	track(s)
	found := make(chan []string, 1)
	go func() {
		// Keep reading stderr for the life of the server: a server blocked
		// on a full log pipe would measure the pipe, not itself.
		var logw io.Writer = io.Discard
		if serverLog != "" {
			if f, err := os.OpenFile(serverLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
				defer f.Close()
				logw = f
			}
		}
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var head []string
		got := make([]string, len(wants))
		left := len(wants)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(logw, "%s %s\n", kind, line)
			if strings.HasPrefix(line, ackPrefix) {
				s.acks <- struct{}{}
				continue
			}
			if !sent {
				if len(head) < 20 {
					head = append(head, line)
				}
				for i, re := range wants {
					if m := re.FindStringSubmatch(line); m != nil && got[i] == "" {
						got[i] = m[1]
						left--
					}
				}
				if left == 0 {
					found <- got
					sent = true
				}
			}
		}
		if !sent {
			found <- []string{"\x00" + strings.Join(head, "\n")}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.exited) }()
	select {
	case a := <-found:
		if strings.HasPrefix(a[0], "\x00") {
			s.stop()
			return nil, fmt.Errorf("%s exited before listening:\n%s", kind, a[0][1:])
		}
		s.found, s.addr = a, a[0]
	case <-time.After(waitLimit):
		s.stop()
		return nil, fmt.Errorf("%s did not log its addresses within %v", kind, waitLimit)
	}
	return s, nil
}

// stop ends the server by its own PID: SIGTERM, then SIGKILL after 10 s.
// A profile still being taken is finished first.
func (s *server) stop() {
	untrack(s)
	if s.ctl != nil {
		s.control("stop")
		_ = s.ctl.Close()
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if s.data != "" {
		_ = os.RemoveAll(s.data)
	}
}

// running lists live servers so a fatal error can stop them.
var running = struct {
	sync.Mutex
	m map[*server]bool
}{m: make(map[*server]bool)}

func track(s *server)   { running.Lock(); running.m[s] = true; running.Unlock() }
func untrack(s *server) { running.Lock(); delete(running.m, s); running.Unlock() }

// killAll ends every server still running, by PID.
func killAll() {
	running.Lock()
	defer running.Unlock()
	for s := range running.m {
		_ = s.cmd.Process.Kill()
		if s.data != "" {
			_ = os.RemoveAll(s.data)
		}
	}
}

// usage is CPU time and resident memory of one process at one moment.
type usage struct {
	at    time.Time
	cpu   time.Duration // utime + stime
	rssKB int64
	// wrote is every byte the process handed to write system calls
	// (/proc/PID/io wchar): on a server at rest, what it sent on the wire,
	// SSH framing, liveness questions and its own log lines included.
	wrote int64
	// writes counts those system calls (/proc/PID/io syscw).
	writes int64
}

func sample(pid int) (usage, error) {
	u := usage{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// The command name is in parentheses and may hold spaces: fields start
	// after the last ')'. utime and stime are fields 14 and 15.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return u, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return u, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	u.cpu = time.Duration(ut+st) * clockTick
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				u.rssKB, _ = strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for line := range strings.Lines(string(io)) {
			if rest, ok := strings.CutPrefix(line, "wchar:"); ok {
				u.wrote, _ = strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			}
			if rest, ok := strings.CutPrefix(line, "syscw:"); ok {
				u.writes, _ = strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			}
		}
	}
	return u, nil
}

// machineBusy returns the busy and total jiffies of all CPUs, from /proc/stat.
func machineBusy() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// busyPct is the share of all CPUs that was busy between two machineBusy
// readings, in percent of one core (so 200 is two cores flat out).
func busyPct(b0, t0, b1, t1 int64) float64 {
	if t1 <= t0 {
		return 0
	}
	return round(100*float64(runtime.NumCPU())*float64(b1-b0)/float64(t1-t0), 1)
}

func mustSample(pid int) usage {
	u, err := sample(pid)
	if err != nil {
		fatalf("sample pid %d: %v", pid, err)
	}
	return u
}

// findRepo walks up from the working directory to the hush module root.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/hush-chat/hush\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the hush repository: pass -server PATH or run from the repo")
		}
		dir = parent
	}
}

// buildHush builds the server binary into dir and returns its path; with
// profile, the profiling hook is added through an overlay.
func buildHush(repo, dir string, profile bool) (string, error) {
	out := filepath.Join(dir, "hush")
	args := []string{"build", "-o", out}
	if profile {
		overlay, err := writeOverlay(repo, dir)
		if err != nil {
			return "", err
		}
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return out, nil
}

// unlimit lists the server's per-address and server-wide limits that would
// stop one load generator on 127.0.0.1; they are turned off (0) when the
// binary has them. The per-person key rate is left alone: typists stay under it.
var unlimit = []string{"max-conns-per-ip", "max-sessions-per-ip", "conns-per-minute", "wrong-codes-per-minute", "wrong-codes", "server-wrong-codes-per-minute", "max-sessions"}

// serverArgs returns the flags to start bin with: loopback, a fresh data
// directory, the linger, every limit in unlimit that bin knows, and the
// browser front end on a free loopback port when bin has one (its default,
// 127.0.0.1:8080, would clash between two servers on one machine).
func serverArgs(bin, data string, linger time.Duration) []string {
	args := []string{"--listen", "127.0.0.1:0", "--data", data, "--host", "127.0.0.1", "--linger", linger.String()}
	help, _ := exec.Command(bin, "-h").CombinedOutput()
	for _, name := range unlimit {
		if hasFlag(string(help), name) {
			args = append(args, "--"+name, "0")
		}
	}
	if hasFlag(string(help), "web") {
		args = append(args, "--web", "127.0.0.1:0")
	}
	return args
}

// hasFlag reports whether a flag package's help text lists flag name, by
// its whole name: "-wrong-codes-per-minute" is not in
// "-server-wrong-codes-per-minute".
func hasFlag(help, name string) bool {
	for line := range strings.Lines(help) {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "-"+name || f[0] == "--"+name) {
			return true
		}
	}
	return false
}

// launcher starts fresh servers of one kind.
type launcher struct {
	kind  string
	bin   string // the hush binary; empty for the relay
	prof  string // -profile directory, hush only
	extra []string
	env   []string // extra environment, e.g. GOGC=400
	web   bool     // wait for hush's browser front end too
}

// quietWait is how long start waits for other work on the machine to calm
// down (-quiet-wait); quietBusy is what counts as calm, in % of one core.
var (
	quietWait = 30 * time.Second
	quietBusy = 20.0
)

// waitQuiet waits, at most quietWait, until the machine is less busy than
// quietBusy over half a second, and says so if it never is: on a shared
// machine someone else's build skews every figure.
func waitQuiet() {
	deadline := time.Now().Add(quietWait)
	for {
		b0, t0 := machineBusy()
		time.Sleep(500 * time.Millisecond)
		b1, t1 := machineBusy()
		busy := busyPct(b0, t0, b1, t1)
		if busy < quietBusy {
			return
		}
		if time.Now().After(deadline) {
			progress("warning: the machine is %.0f%% busy with other work; figures will be noisy", busy)
			return
		}
	}
}

// start runs a fresh server once the machine is quiet; linger only applies
// to hush.
func (l launcher) start(linger time.Duration) (*server, error) {
	if quietWait > 0 {
		waitQuiet()
	}
	return l.startNode(linger, "")
}

// dataFiles are what every node of a cluster must share (README, "Run
// several nodes"): copied from the first node's data directory.
var dataFiles = []string{"salt", "host_ed25519", "host_ed25519.pub"}

// startNode runs a fresh server at once. For hush, like names the data
// directory of a running node to copy dataFiles from (empty: a fresh one);
// with l.web it also waits for the browser front end's address
// (s.found[1]).
func (l launcher) startNode(linger time.Duration, like string) (*server, error) {
	data, err := os.MkdirTemp("", "hushload-")
	if err != nil {
		return nil, err
	}
	if like != "" {
		for _, f := range dataFiles {
			b, err := os.ReadFile(filepath.Join(like, f))
			if err == nil {
				err = os.WriteFile(filepath.Join(data, f), b, 0o600)
			}
			if err != nil {
				os.RemoveAll(data)
				return nil, fmt.Errorf("copying the data directory: %w", err)
			}
		}
	}
	var cmd *exec.Cmd
	if l.kind == "relay" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(self)
		cmd.Env = append(os.Environ(), childEnv+"=relay")
	} else {
		cmd = exec.Command(l.bin, append(serverArgs(l.bin, data, linger), l.extra...)...)
		cmd.Env = os.Environ()
		if l.prof != "" {
			cmd.Env = append(cmd.Env, profileEnv+"="+l.prof)
		}
	}
	cmd.Env = append(cmd.Env, l.env...)
	wants := []*regexp.Regexp{listenRE}
	if l.web {
		wants = append(wants, webListenRE)
	}
	s, err := startServer(l.kind, cmd, data, l.prof != "", wants...)
	if err != nil {
		os.RemoveAll(data)
	}
	return s, err
}
