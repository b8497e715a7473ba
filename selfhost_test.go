package main

// Tests for running hush yourself: the real binary across a restart,
// metrics and /healthz, PROXY protocol, and the container files.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	gossh "golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/hush-chat/hush/internal/sshtest"
)

// shBuffer collects output written from other goroutines.
type shBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *shBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *shBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// shWait polls cond until it holds, failing after sshtest.Timeout with the
// last detail it gave.
func shWait(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(sshtest.Timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shStart runs the server in-process on loopback with its log captured.
// stop shuts it down (once) and returns what Serve returned.
func shStart(t *testing.T, tweak func(*config)) (a *app, log *shBuffer, stop func() error) {
	t.Helper()
	log = &shBuffer{}
	a = startLogged(t, log, func(c *config) {
		c.Host = "selfhost.test"
		if tweak != nil {
			tweak(c)
		}
	})
	var (
		once   sync.Once
		served error
	)
	stop = func() error {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = a.srv.Shutdown(ctx)
			select {
			case served = <-a.served:
			case <-time.After(sshtest.Timeout):
				served = errors.New("Serve did not return")
			}
		})
		return served
	}
	t.Cleanup(func() {
		_ = stop()
		a.metrics.close()
	})
	return a, log, stop
}

var shInviteRE = regexp.MustCompile(`ssh -p \d+ ([a-z0-9]+)@selfhost\.test`)

// shCode waits for term to show its invite and returns the room code.
func shCode(t *testing.T, term *sshtest.Term) string {
	t.Helper()
	term.WaitFor("an invite", func(s string) bool { return shInviteRE.MatchString(s) })
	return shInviteRE.FindStringSubmatch(term.Screen())[1]
}

// shScrape fetches and parses /metrics.
func shScrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams, string(body)
}

// shValue finds one sample: labels are name=value pairs it must carry.
// Histograms give their sample count.
func shValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	fam := fams[name]
	if fam == nil {
		return 0, false
	}
next:
	for _, m := range fam.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// shExpect is one metric the scrape must show.
type shExpect struct {
	name    string
	labels  []string
	want    float64
	atLeast bool
}

func shWaitMetrics(t *testing.T, addr string, want ...shExpect) {
	t.Helper()
	shWait(t, "metrics", func() (bool, string) {
		fams, _ := shScrape(t, addr)
		for _, w := range want {
			got, ok := shValue(fams, w.name, w.labels...)
			if !ok || got != w.want && !(w.atLeast && got > w.want) {
				return false, fmt.Sprintf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.want)
			}
		}
		return true, ""
	})
}

func shGetStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestSelfHostMetrics(t *testing.T) {
	a, _, stop := shStart(t, func(c *config) { c.Metrics = "127.0.0.1:0" })
	maddr := a.metrics.addr()
	if got := shGetStatus(t, "http://"+maddr+"/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz while serving: %d", got)
	}
	shWaitMetrics(t, maddr,
		shExpect{name: "hush_sessions", want: 0},
		shExpect{name: "hush_members", want: 0},
		shExpect{name: "hush_rejections_total", labels: []string{"reason", "rate-limited"}, want: 0},
		shExpect{name: "hush_build_info", want: 1},
	)

	alice := sshtest.Dial(t, a.Addr(), "new", sshtest.Options{})
	code := shCode(t, alice)
	shWaitMetrics(t, maddr,
		shExpect{name: "hush_sessions", want: 1},
		shExpect{name: "hush_rooms", labels: []string{"size", "1"}, want: 1},
		shExpect{name: "hush_members", want: 1},
		shExpect{name: "hush_joins_total", labels: []string{"op", "new"}, want: 1},
	)

	bob := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	alice.WaitText("joined")
	shWaitMetrics(t, maddr,
		shExpect{name: "hush_sessions", want: 2},
		shExpect{name: "hush_rooms", labels: []string{"size", "2"}, want: 1},
		shExpect{name: "hush_rooms", labels: []string{"size", "1"}, want: 0},
		shExpect{name: "hush_joins_total", labels: []string{"op", "join"}, want: 1},
	)
	alice.Type("hi")
	bob.WaitText("hi")
	shWaitMetrics(t, maddr,
		shExpect{name: "hush_keystrokes_relayed_total", want: 1, atLeast: true},
		shExpect{name: "hush_fanout_seconds", want: 1, atLeast: true},
	)

	// Refusals, each by its reason.
	for _, c := range []struct {
		user   string
		o      sshtest.Options
		reason string
	}{
		{"k7dm2q9xw0", sshtest.Options{}, "malformed"},
		{"new", sshtest.Options{NoPTY: true}, "bad-request"},
		{"new", sshtest.Options{Command: "ls"}, "bad-request"},
	} {
		term := sshtest.Dial(t, a.Addr(), c.user, c.o)
		if st := term.Exit(); st == 0 {
			t.Fatalf("%s %+v: exit 0, want a refusal", c.user, c.o)
		}
	}
	full := sshtest.Dial(t, a.Addr(), code, sshtest.Options{})
	full.Exit()
	shWaitMetrics(t, maddr,
		shExpect{name: "hush_rejections_total", labels: []string{"reason", "malformed"}, want: 1},
		shExpect{name: "hush_rejections_total", labels: []string{"reason", "bad-request"}, want: 2},
		shExpect{name: "hush_rejections_total", labels: []string{"reason", "full"}, want: 1},
	)

	// A connection that never speaks SSH.
	conn, err := net.Dial("tcp", a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	shWaitMetrics(t, maddr, shExpect{name: "hush_handshake_failures_total", want: 1, atLeast: true})

	alice.Close()
	bob.Close()
	shWaitMetrics(t, maddr,
		shExpect{name: "hush_sessions", want: 0},
		shExpect{name: "hush_members", want: 0},
		shExpect{name: "hush_rooms", labels: []string{"size", "1"}, want: 0},
		shExpect{name: "hush_rooms", labels: []string{"size", "2"}, want: 0},
	)

	// Nothing names a room or a person.
	_, body := shScrape(t, maddr)
	for _, secret := range []string{code, "127.0.0.1"} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics mentions %q", secret)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if got := shGetStatus(t, "http://"+maddr+"/healthz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/healthz after shutdown: %d, want 503", got)
	}
}

// shProxyDial opens an SSH session with a PTY as user "new" through a
// connection that starts with header.
func shProxyDial(t *testing.T, addr string, header *proxyproto.Header) error {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, sshtest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := header.WriteTo(conn); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(sshtest.Timeout))
	cc, chans, reqs, err := gossh.NewClientConn(conn, addr, &gossh.ClientConfig{
		User:            "new",
		Auth:            []gossh.AuthMethod{gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil })},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	client := gossh.NewClient(cc, chans, reqs)
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		return err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return sess.Shell()
}

// shRefused sends raw bytes and expects the server to close without a
// single byte (no SSH banner).
func shRefused(t *testing.T, addr string, send []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, sshtest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(send); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(sshtest.Timeout))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection left open (read %q)", got)
	}
	if len(got) != 0 {
		t.Fatalf("server answered %q, want the connection closed unanswered", got)
	}
}

func shLogWait(t *testing.T, log *shBuffer, line string) {
	t.Helper()
	shWait(t, fmt.Sprintf("log line %q", line), func() (bool, string) {
		return strings.Contains(log.String(), line), log.String()
	})
}

func TestSelfHostProxyProtocol(t *testing.T) {
	clientBanner := []byte("SSH-2.0-Go\r\n")

	t.Run("trusted proxy header is used", func(t *testing.T) {
		a, log, _ := shStart(t, func(c *config) {
			c.ProxyProtocol = true
			c.TrustedProxies = "10.0.0.0/8, 127.0.0.0/8,::1"
		})
		dst := a.ln.Addr()
		for _, c := range []struct {
			version byte
			src     *net.TCPAddr
		}{
			{1, &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000}},
			{2, &net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 40001}},
		} {
			if err := shProxyDial(t, a.Addr(), proxyproto.HeaderProxyFromAddrs(c.version, c.src, dst)); err != nil {
				t.Fatalf("v%d: %v", c.version, err)
			}
			shLogWait(t, log, `msg="session start" remote=`+c.src.IP.String())
			shLogWait(t, log, `msg=seated remote=`+c.src.IP.String())
		}
		if strings.Contains(log.String(), "remote=127.0.0.1") {
			t.Errorf("the proxy's own address reached the log:\n%s", log)
		}
		// From a trusted proxy, a connection without a header is refused.
		shRefused(t, a.Addr(), clientBanner)
		if _, err := sshtest.TryDial(t, a.Addr(), "new", sshtest.Options{}); err == nil {
			t.Fatal("plain SSH from a trusted proxy address was let in")
		}
	})

	t.Run("header from an untrusted address is refused", func(t *testing.T) {
		a, log, _ := shStart(t, func(c *config) {
			c.ProxyProtocol = true
			c.TrustedProxies = "10.0.0.0/8"
			c.Metrics = "127.0.0.1:0"
		})
		src := &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000}
		for _, v := range []byte{1, 2} {
			header, err := proxyproto.HeaderProxyFromAddrs(v, src, a.ln.Addr()).Format()
			if err != nil {
				t.Fatal(err)
			}
			shRefused(t, a.Addr(), append(header, clientBanner...))
		}
		shWaitMetrics(t, a.metrics.addr(), shExpect{name: "hush_handshake_failures_total", want: 2})
		// Without a header, an untrusted client is an ordinary client.
		term := sshtest.Dial(t, a.Addr(), "new", sshtest.Options{})
		shCode(t, term)
		shLogWait(t, log, `msg="session start" remote=127.0.0.1`)
		if strings.Contains(log.String(), "203.0.113.7") {
			t.Errorf("a refused header's address reached the log:\n%s", log)
		}
	})
}

func TestSelfHostConfigErrors(t *testing.T) {
	for _, c := range []struct {
		proxy   bool
		trusted string
		want    string
	}{
		{true, "", "--proxy-protocol needs --trusted-proxies"},
		{false, "10.0.0.0/8", "--proxy-protocol is off"},
		{true, "10.0.0.0/8,bogus", `"bogus"`},
	} {
		cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Data = t.TempDir()
		cfg.Listen = "127.0.0.1:0"
		cfg.ProxyProtocol, cfg.TrustedProxies = c.proxy, c.trusted
		if _, err := start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("proxy=%v trusted=%q: error %v, want it to mention %s", c.proxy, c.trusted, err, c.want)
		}
	}
	// Flags and environment both reach the settings.
	env := map[string]string{"HUSH_PROXY_PROTOCOL": "true", "HUSH_TRUSTED_PROXIES": "192.0.2.0/24"}
	cfg, err := parseConfig([]string{"--metrics", "127.0.0.1:9222"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ProxyProtocol || cfg.TrustedProxies != "192.0.2.0/24" || cfg.Metrics != "127.0.0.1:9222" {
		t.Fatalf("config %+v", cfg)
	}
	ps, err := parsePrefixes(" 10.0.0.0/8 ,192.0.2.1,::ffff:198.51.100.1, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(ps)
	if want := "[10.0.0.0/8 192.0.2.1/32 198.51.100.1/32 2001:db8::/32]"; got != want {
		t.Fatalf("prefixes %s, want %s", got, want)
	}
	for in, want := range map[string]string{":2222": "127.0.0.1:2222", "0.0.0.0:9222": "127.0.0.1:9222", "[::]:22": "[::1]:22", "10.1.2.3:9": "10.1.2.3:9"} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}

// shBinary is a hush process.
type shBinary struct {
	cmd    *exec.Cmd
	stderr *shBuffer
	done   chan struct{}
	addr   string // SSH
	maddr  string // metrics
}

var (
	shListenRE  = regexp.MustCompile(`msg=listening addr=(\S+)`)
	shMetricsRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
)

func shEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HUSH_") })
}

func shRunBinary(t *testing.T, bin, data string) *shBinary {
	t.Helper()
	b := &shBinary{stderr: &shBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(bin, "--data", data, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	b.cmd.Env = shEnv()
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.done
	})
	shWait(t, "the server to listen", func() (bool, string) {
		out := b.stderr.String()
		l, m := shListenRE.FindStringSubmatch(out), shMetricsRE.FindStringSubmatch(out)
		if l == nil || m == nil {
			return false, out
		}
		b.addr, b.maddr = l[1], m[1]
		return true, ""
	})
	return b
}

// stop sends SIGTERM and returns the exit code.
func (b *shBinary) stop(t *testing.T) int {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.done:
	case <-time.After(sshtest.Timeout):
		t.Fatalf("no exit after SIGTERM:\n%s", b.stderr)
	}
	return b.cmd.ProcessState.ExitCode()
}

func shHealth(t *testing.T, bin string, args ...string) error {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"health"}, args...)...)
	cmd.Env = shEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func TestSelfHostBinaryRestartKeepsHostKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "hush")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-X main.version=v9.9.9-test -X main.commit=abc1234", "-o", bin, ".")
	build.Env = append(shEnv(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^hush v9\.9\.9-test \(commit abc1234, go1\.\d+`).Match(out) {
		t.Fatalf("--version: %q", out)
	}

	data := t.TempDir()
	var fingerprints []string
	for i := range 2 {
		b := shRunBinary(t, bin, data)
		if err := shHealth(t, bin, "--metrics", b.maddr); err != nil {
			t.Fatalf("health via /healthz: %v", err)
		}
		if err := shHealth(t, bin, "--listen", b.addr); err != nil {
			t.Fatalf("health via the SSH port: %v", err)
		}
		term := sshtest.Dial(t, b.addr, "new", sshtest.Options{})
		term.WaitFor("an invite", func(s string) bool { return strings.Contains(s, "ssh -p") })
		fingerprints = append(fingerprints, gossh.FingerprintSHA256(term.HostKey))
		term.Close()
		if code := b.stop(t); code != 0 {
			t.Fatalf("run %d: exit %d after SIGTERM:\n%s", i, code, b.stderr)
		}
		if err := shHealth(t, bin, "--metrics", b.maddr); err == nil {
			t.Fatal("health passed with the server stopped")
		}
	}
	if fingerprints[0] != fingerprints[1] {
		t.Fatalf("host key changed across a restart: %s then %s", fingerprints[0], fingerprints[1])
	}
	for _, f := range []string{"host_ed25519", "salt"} {
		st, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", f, st.Mode())
		}
	}
}

// shFlags lists every flag name, read from the usage text.
func shFlags(t *testing.T) []string {
	t.Helper()
	var usage bytes.Buffer
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(usage.String(), -1) {
		names = append(names, m[1])
	}
	if len(names) < 5 {
		t.Fatalf("found flags %v in:\n%s", names, usage.String())
	}
	return names
}

func TestSelfHostComposeFile(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Restart     string            `yaml:"restart"`
			Ports       []string          `yaml:"ports"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Healthcheck struct {
				Test        []string `yaml:"test"`
				Interval    string   `yaml:"interval"`
				Timeout     string   `yaml:"timeout"`
				StartPeriod string   `yaml:"start_period"`
				Retries     int      `yaml:"retries"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(doc.Services) != 1 {
		t.Fatalf("want one service, got %d", len(doc.Services))
	}
	s, ok := doc.Services["hush"]
	if !ok {
		t.Fatal("no service named hush")
	}
	if s.Restart != "unless-stopped" {
		t.Errorf("restart: %q", s.Restart)
	}
	if !slices.Contains(s.Volumes, "hush-data:/data") {
		t.Errorf("volumes %v: want hush-data:/data", s.Volumes)
	}
	if _, ok := doc.Volumes["hush-data"]; !ok {
		t.Errorf("top-level volumes %v: want hush-data", doc.Volumes)
	}
	if !slices.Contains(s.Ports, "2222:2222") {
		t.Errorf("ports %v: want 2222:2222", s.Ports)
	}
	if !strings.Contains(string(raw), `- "22:2222"`) {
		t.Error("the port-22 mapping is not documented")
	}
	if want := []string{"CMD", "/hush", "health"}; !slices.Equal(s.Healthcheck.Test, want) {
		t.Errorf("healthcheck %v, want %v", s.Healthcheck.Test, want)
	}
	for _, f := range shFlags(t) {
		env := "HUSH_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
		if _, ok := s.Environment[env]; !ok {
			t.Errorf("environment lacks %s (flag --%s)", env, f)
		}
	}
	// What the compose file sets must be a valid configuration.
	if _, err := parseConfig(nil, func(k string) string { return s.Environment[k] }, io.Discard); err != nil {
		t.Errorf("compose environment: %v", err)
	}
}

func TestSelfHostDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	has := func(re string) bool {
		r := regexp.MustCompile(re)
		return slices.ContainsFunc(lines, r.MatchString)
	}
	var froms int
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			froms++
		}
	}
	for _, c := range []struct{ what, re string }{
		{"a golang build stage", `^FROM golang:\S+ AS build$`},
		{"a static build", `^RUN CGO_ENABLED=0 go build .*-X main\.version=\$\{VERSION\} -X main\.commit=\$\{COMMIT\}`},
		{"version build args", `^ARG VERSION`},
		{"commit build args", `^ARG COMMIT`},
		{"a minimal runtime", `^FROM gcr\.io/distroless/static\S*:nonroot`},
		{"the binary copied from the build stage", `^COPY --from=build /out/hush /hush$`},
		{"a non-root user", `^USER 65532:65532$`},
		{"a /data volume", `^VOLUME \["/data"\]$`},
		{"the SSH port", `^EXPOSE 2222$`},
		{"a healthcheck", `^HEALTHCHECK .*CMD \["/hush", "health"\]$`},
		{"the entrypoint", `^ENTRYPOINT \["/hush"\]$`},
		{"the default command", `^CMD \["--data", "/data", "--listen", ":2222"\]$`},
	} {
		if !has(c.re) {
			t.Errorf("Dockerfile lacks %s (%s)", c.what, c.re)
		}
	}
	if froms != 2 {
		t.Errorf("%d stages, want 2", froms)
	}
	if has(`^USER (root|0)\b`) {
		t.Error("Dockerfile runs as root")
	}
}
