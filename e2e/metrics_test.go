package e2e

// /metrics and /healthz, as a Prometheus and a load balancer see them.

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

func TestMetrics(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Metrics = "127.0.0.1:0" })
	maddr := s.MetricsAddr()
	if got := httpStatus(t, "http://"+maddr+"/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz while serving: %d", got)
	}
	waitMetrics(t, maddr,
		metric{name: "hush_sessions", want: 0},
		metric{name: "hush_members", want: 0},
		metric{name: "hush_rejections_total", labels: []string{"reason", "rate-limited"}, want: 0},
		metric{name: "hush_rejections_total", labels: []string{"reason", "locked-out"}, want: 0},
		metric{name: "hush_build_info", want: 1},
	)

	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	waitMetrics(t, maddr,
		metric{name: "hush_sessions", want: 1},
		metric{name: "hush_rooms", labels: []string{"size", "1"}, want: 1},
		metric{name: "hush_members", want: 1},
		metric{name: "hush_joins_total", labels: []string{"op", "new"}, want: 1},
	)

	bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	alice.WaitText("joined")
	waitMetrics(t, maddr,
		metric{name: "hush_sessions", want: 2},
		metric{name: "hush_rooms", labels: []string{"size", "2"}, want: 1},
		metric{name: "hush_rooms", labels: []string{"size", "1"}, want: 0},
		metric{name: "hush_joins_total", labels: []string{"op", "join"}, want: 1},
	)
	alice.Type("hi")
	bob.WaitText("hi")
	waitMetrics(t, maddr,
		metric{name: "hush_keystrokes_relayed_total", want: 1, atLeast: true},
		metric{name: "hush_fanout_seconds", want: 1, atLeast: true},
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
		{code, sshtest.Options{}, "full"},
	} {
		term := sshtest.Dial(t, s.Addr(), c.user, c.o)
		if st := term.Exit(); st == 0 {
			t.Fatalf("%s %+v: exit 0, want a refusal (%s)", c.user, c.o, c.reason)
		}
	}
	waitMetrics(t, maddr,
		metric{name: "hush_rejections_total", labels: []string{"reason", "malformed"}, want: 1},
		metric{name: "hush_rejections_total", labels: []string{"reason", "bad-request"}, want: 2},
		metric{name: "hush_rejections_total", labels: []string{"reason", "full"}, want: 1},
	)

	// A connection that never speaks SSH.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitMetrics(t, maddr, metric{name: "hush_handshake_failures_total", want: 1, atLeast: true})

	alice.Close()
	bob.Close()
	waitMetrics(t, maddr,
		metric{name: "hush_sessions", want: 0},
		metric{name: "hush_members", want: 0},
		metric{name: "hush_rooms", want: 0}, // of every size
	)

	// Nothing names a room or a person.
	_, body := scrape(t, maddr)
	for _, secret := range []string{code, "127.0.0.1"} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics mentions %q", secret)
		}
	}

	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// Shutdown reports unhealthy (503) as it starts and closes the metrics
	// listener as it ends: either way, nothing says healthy any more.
	if resp, err := http.Get("http://" + maddr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/healthz after shutdown: %s, want 503 or no answer", resp.Status)
		}
	}
}
