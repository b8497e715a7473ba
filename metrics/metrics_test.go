package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
)

func newRooms(t testing.TB) *rooms.Memory {
	t.Helper()
	codes, err := rooms.NewCodes("metrics test salt 0123456789")
	if err != nil {
		t.Fatal(err)
	}
	return rooms.NewMemory(codes)
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
	reg := newRooms(t)
	m := New(reg, Build{Version: "v1", Commit: "abc", GoVersion: "go1.26"})
	h := m.Handler()
	measured := m.Rooms(reg)
	ctx := t.Context()

	// One pair talking and one person alone.
	a, err := measured.Open(ctx, 2, rooms.Member{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := measured.Join(ctx, a.Code(), rooms.Member{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := measured.Open(ctx, 8, rooms.Member{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Type("x"); err != nil {
		t.Fatal(err)
	}
	_ = b.Type("") // nothing sent: timed, not counted
	m.SessionStarted()
	m.SessionStarted()
	m.SessionEnded()
	m.Seated(admit.OpNew)
	m.Seated(admit.Op(200)) // not a series
	m.Refused(admit.Full)
	m.Refused(admit.TooManyConns)
	m.Refused(admit.Reason(200))
	m.SlowDropped()
	m.HandshakeFailed()

	f := scrape(t, h)
	for _, c := range []struct {
		name, label, val string
		want             float64
	}{
		{"hush_sessions", "", "", 1},
		{"hush_members", "", "", 3},
		{"hush_rooms", "size", "1", 1},
		{"hush_rooms", "size", "2", 1},
		{"hush_events_dropped_total", "", "", 0},
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
	if n := len(f["hush_joins_total"].GetMetric()); n != len(admit.Ops()) {
		t.Errorf("%d join series, want %d", n, len(admit.Ops()))
	}
	if n := len(f["hush_rejections_total"].GetMetric()); n != len(admit.Reasons()) {
		t.Errorf("%d rejection series, want %d", n, len(admit.Reasons()))
	}
	for _, r := range admit.Reasons() {
		if help := f["hush_rejections_total"].GetHelp(); !strings.Contains(help, " "+r.String()+",") && !strings.HasSuffix(help, " "+r.String()+".") {
			t.Errorf("the rejections help does not name %s: %q", r, help)
		}
	}

	// A size once seen stays, at zero, when no room has that many.
	a.Leave()
	b.Leave()
	alone.Leave()
	f = scrape(t, h)
	if got := value(t, f, "hush_rooms", "size", "2"); got != 0 {
		t.Errorf("hush_rooms{size=2} = %v after the rooms ended", got)
	}
}

func TestHealthz(t *testing.T) {
	m := New(newRooms(t), Build{})
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
	reg := newRooms(t)
	m := New(reg, Build{})
	h := m.Handler()
	measured := m.Rooms(reg)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			a, err := measured.Open(t.Context(), 2, rooms.Member{Name: "a"})
			if err != nil {
				t.Error(err)
				return
			}
			defer a.Leave()
			for range 200 {
				m.SessionStarted()
				_ = a.Type("k")
				m.Refused(admit.Unknown)
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
