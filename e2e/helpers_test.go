// Package e2e runs hush end to end: the real server (package app) on a
// loopback port, driven by real SSH clients with terminal emulators
// (internal/sshtest), the real binary and the real OpenSSH client.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/logtest"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/metrics"
)

// testLinger is short so fading can be watched to the end in a test.
const testLinger = 1500 * time.Millisecond

// server is the real server running in this process on a free loopback
// port.
type server struct {
	*app.App
	cfg app.Config      // as started: where its data directory is, its limits
	log *logtest.Buffer // everything it logged

	once   sync.Once
	closed error
}

// startServer starts a server with the defaults, a fresh data directory
// and host chat.test; tweak edits the config first. It is shut down when
// the test ends, if the test has not stopped it.
func startServer(t *testing.T, tweak ...func(*app.Config)) *server {
	t.Helper()
	cfg, err := app.ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Web = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Host = "chat.test"
	cfg.Linger = testLinger
	for _, f := range tweak {
		f(&cfg)
	}
	s := &server{cfg: cfg, log: &logtest.Buffer{}}
	build := metrics.Build{Version: "test", Commit: "test", GoVersion: runtime.Version()}
	if s.App, err = app.Start(cfg, slog.New(slog.NewTextHandler(s.log, nil)), build); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

// stop shuts the server down (once) and returns the first error of
// Shutdown and of serving.
func (s *server) stop() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdown := s.Shutdown(ctx)
		var served error
		select {
		case served = <-s.Served():
		case <-time.After(sshtest.Timeout):
			served = errors.New("serving did not end after Shutdown")
		}
		s.closed = errors.Join(shutdown, served)
	})
	return s.closed
}

// waitLog waits for the server's log to contain line.
func waitLog(t *testing.T, log *logtest.Buffer, line string) {
	t.Helper()
	wait.Until(t, fmt.Sprintf("log line %q", line), func() (bool, string) {
		return strings.Contains(log.String(), line), log.String()
	})
}

// openRoom connects as user ("new" or "group") and returns the terminal and
// the room code read off its screen.
func openRoom(t *testing.T, addr, user string, o sshtest.Options) (*sshtest.Term, string) {
	t.Helper()
	term := sshtest.Dial(t, addr, user, o)
	return term, sshtest.InviteCode(t, term, addr)
}

// openPair opens a room for two with default terminals and waits until
// both are in.
func openPair(t *testing.T, addr string) (alice, bob *sshtest.Term, code string) {
	t.Helper()
	alice, code = openRoom(t, addr, "new", sshtest.Options{})
	bob = sshtest.Dial(t, addr, code, sshtest.Options{})
	alice.WaitText("joined")
	return alice, bob, code
}

// lineOf returns the index of the first screen line containing s, or -1.
func lineOf(term *sshtest.Term, s string) int {
	for i, l := range term.Lines() {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// exitStatus is the status a bare client's session ended with, -1 if none.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*gossh.ExitError](err); ok {
		return e.ExitStatus()
	}
	return -1
}

// scrape fetches and parses /metrics from addr.
func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
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

// metricValue adds up the samples of name that carry labels (name=value
// pairs); a histogram counts its observations. ok is false if no sample
// matched.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (sum float64, ok bool) {
next:
	for _, m := range fams[name].GetMetric() {
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
			sum += m.GetGauge().GetValue()
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		default:
			continue
		}
		ok = true
	}
	return sum, ok
}

// metric is one value a scrape must show.
type metric struct {
	name    string
	labels  []string
	want    float64
	atLeast bool // want or more
}

// waitMetrics waits until a scrape of addr shows every value in want.
func waitMetrics(t *testing.T, addr string, want ...metric) {
	t.Helper()
	wait.Until(t, "metrics", func() (bool, string) {
		fams, _ := scrape(t, addr)
		for _, w := range want {
			got, ok := metricValue(fams, w.name, w.labels...)
			if !ok || got != w.want && !(w.atLeast && got > w.want) {
				return false, fmt.Sprintf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.want)
			}
		}
		return true, ""
	})
}

// httpStatus GETs url and returns the status code.
func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// serverGoroutines counts the goroutines running server code (SSH
// connections, programs, screens), leaving out the test's own clients.
func serverGoroutines() (int, string) {
	buf := make([]byte, 8<<20)
	dump := string(buf[:runtime.Stack(buf, true)])
	n := 0
	var kept []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, ".(*Server).Serve(") {
			continue // the accept loop lives as long as the server
		}
		for _, mark := range []string{"charm.land/ssh.", "charm.land/bubbletea/", "hush/ui.", "hush/session.", "hush/rooms.", "hush/admit.", "hush/speak."} {
			if strings.Contains(g, mark) {
				n++
				kept = append(kept, g)
				break
			}
		}
	}
	return n, strings.Join(kept, "\n\n")
}

// waitGoroutines waits for the server's goroutines to come back to
// baseline, failing with their stacks if they do not.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	wait.Until(t, fmt.Sprintf("server goroutines back to %d", baseline), func() (bool, string) {
		n, stacks := serverGoroutines()
		return n <= baseline, fmt.Sprintf("%d server goroutines:\n%s", n, stacks)
	})
}
