package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hush-chat/hush/rooms"
)

// fakeRegistry reports whatever stats it is given.
type fakeRegistry struct {
	mu sync.Mutex
	st rooms.Stats
}

func (f *fakeRegistry) Open(int, rooms.Member) (rooms.Seat, error)    { return nil, rooms.ErrNoRoom }
func (f *fakeRegistry) Join(string, rooms.Member) (rooms.Seat, error) { return nil, rooms.ErrNoRoom }
func (f *fakeRegistry) Stats() rooms.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeRegistry) set(st rooms.Stats) {
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
}

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the sample of name whose label (if given) has value.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name, label, val string) float64 {
	t.Helper()
	for _, m := range fams[name].GetMetric() {
		ok := label == ""
		for _, lp := range m.GetLabel() {
			ok = ok || lp.GetName() == label && lp.GetValue() == val
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, val)
	return 0
}

func TestCountsAndGauges(t *testing.T) {
	reg := &fakeRegistry{}
	m := New(reg, Build{Version: "v1", Commit: "abc", GoVersion: "go1.26"})
	h := m.Handler()

	reg.set(rooms.Stats{Rooms: 3, Members: 5, BySize: map[int]int{1: 1, 2: 2}, Dropped: 7})
	m.SessionStarted()
	m.SessionStarted()
	m.SessionEnded()
	m.Joined("new")
	m.Joined("nonsense") // not a series
	m.Rejected("full")
	m.Rejected("rate-limited")
	m.Rejected("made-up")
	m.SlowDropped()
	m.HandshakeFailed()
	m.FanOut(0, time.Microsecond) // nobody to relay to
	m.FanOut(3, 2*time.Microsecond)

	f := scrape(t, h)
	for _, c := range []struct {
		name, label, val string
		want             float64
	}{
		{"hush_sessions", "", "", 1},
		{"hush_members", "", "", 5},
		{"hush_rooms", "size", "1", 1},
		{"hush_rooms", "size", "2", 2},
		{"hush_events_dropped_total", "", "", 7},
		{"hush_joins_total", "op", "new", 1},
		{"hush_joins_total", "op", "join", 0},
		{"hush_rejections_total", "reason", "full", 1},
		{"hush_rejections_total", "reason", "rate-limited", 1},
		{"hush_rejections_total", "reason", "other", 1},
		{"hush_rejections_total", "reason", "bad-request", 0},
		{"hush_slow_members_dropped_total", "", "", 1},
		{"hush_handshake_failures_total", "", "", 1},
		{"hush_keystrokes_relayed_total", "", "", 1},
		{"hush_fanout_seconds", "", "", 2},
		{"hush_build_info", "version", "v1", 1},
	} {
		if got := value(t, f, c.name, c.label, c.val); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.val, got, c.want)
		}
	}
	if n := len(f["hush_joins_total"].GetMetric()); n != len(Ops) {
		t.Errorf("%d join series, want %d", n, len(Ops))
	}
	if n := len(f["hush_rejections_total"].GetMetric()); n != len(Reasons) {
		t.Errorf("%d rejection series, want %d", n, len(Reasons))
	}

	// A size once seen stays, at zero, when no room has that many.
	reg.set(rooms.Stats{BySize: map[int]int{}})
	f = scrape(t, h)
	if got := value(t, f, "hush_rooms", "size", "2"); got != 0 {
		t.Errorf("hush_rooms{size=2} = %v after the rooms ended", got)
	}
}

func TestHealthz(t *testing.T) {
	m := New(&fakeRegistry{}, Build{})
	h := m.Handler()
	get := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		return rec.Code
	}
	if got := get(); got != http.StatusServiceUnavailable {
		t.Fatalf("before SetHealthy: %d", got)
	}
	m.SetHealthy(true)
	if got := get(); got != http.StatusOK {
		t.Fatalf("healthy: %d", got)
	}
	m.SetHealthy(false)
	if got := get(); got != http.StatusServiceUnavailable {
		t.Fatalf("after SetHealthy(false): %d", got)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/metrics", strings.NewReader("")))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /metrics: %d", rec.Code)
	}
}

// Hooks are called from every session at once.
func TestConcurrentUse(t *testing.T) {
	m := New(&fakeRegistry{st: rooms.Stats{BySize: map[int]int{2: 1}}}, Build{})
	h := m.Handler()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				m.SessionStarted()
				m.FanOut(1, time.Microsecond)
				m.Rejected("unknown")
				m.SessionEnded()
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			scrape(t, h)
		}
	})
	wg.Wait()
	f := scrape(t, h)
	if got := value(t, f, "hush_keystrokes_relayed_total", "", ""); got != 1600 {
		t.Fatalf("keystrokes %v, want 1600", got)
	}
	if got := value(t, f, "hush_sessions", "", ""); got != 0 {
		t.Fatalf("sessions %v, want 0", got)
	}
}
