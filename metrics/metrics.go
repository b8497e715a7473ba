// Package metrics counts what a hush server does, for Prometheus. It never
// labels anything with a room code, a name, a key or an address: the only
// labels are small fixed sets (room size, join kind, refusal reason).
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hush-chat/hush/rooms"
)

// Reasons a connection is refused. Anything else is counted as "other", so
// a typo can never grow a new series.
var Reasons = []string{"malformed", "unknown", "full", "rate-limited", "server-full", "bad-request", "other"}

// Ops are the ways into a room.
var Ops = []string{"new", "group", "join"}

// Build describes the running binary, exported as hush_build_info.
type Build struct {
	Version, Commit, GoVersion string
}

// Metrics holds every counter. Its methods are safe for concurrent use and
// cheap enough to call on every keystroke.
type Metrics struct {
	reg      rooms.Registry
	registry *prometheus.Registry

	sessions   prometheus.Gauge
	joins      *prometheus.CounterVec
	rejections *prometheus.CounterVec
	keystrokes prometheus.Counter
	slow       prometheus.Counter
	handshakes prometheus.Counter
	fanout     prometheus.Histogram

	// known maps each reason and op to its counter, resolved once.
	reasons map[string]prometheus.Counter
	ops     map[string]prometheus.Counter

	healthy atomic.Bool
}

// New returns metrics for a server whose rooms live in reg. Room and member
// gauges are read from reg.Stats() at scrape time.
func New(reg rooms.Registry, build Build) *Metrics {
	m := &Metrics{
		reg:      reg,
		registry: prometheus.NewRegistry(),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hush_sessions",
			Help: "SSH sessions being served now (in a room, being welcomed or being refused).",
		}),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_joins_total",
			Help: "People seated in a room, by how: new (room for two), group, join (by code).",
		}, []string{"op"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_rejections_total",
			Help: "Connections refused, by reason: malformed, unknown, full, rate-limited, server-full, bad-request, other.",
		}, []string{"reason"}),
		keystrokes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_keystrokes_relayed_total",
			Help: "Typed text relayed to at least one other member (one per key press; one per pasted line).",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_slow_members_dropped_total",
			Help: "Members hung up on because their connection stopped taking output.",
		}),
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_handshake_failures_total",
			Help: "Connections that never completed the SSH handshake (scanners, timeouts, refused PROXY headers).",
		}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hush_fanout_seconds",
			Help:    "Time to hand one piece of typed text to every other member's queue.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 9), // 1µs … 65ms
		}),
		reasons: make(map[string]prometheus.Counter),
		ops:     make(map[string]prometheus.Counter),
	}
	for _, r := range Reasons {
		m.reasons[r] = m.rejections.WithLabelValues(r)
	}
	for _, op := range Ops {
		m.ops[op] = m.joins.WithLabelValues(op)
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hush_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "goversion": build.GoVersion},
	})
	buildInfo.Set(1)
	m.registry.MustRegister(
		m.sessions, m.joins, m.rejections, m.keystrokes, m.slow, m.handshakes, m.fanout,
		buildInfo,
		&roomsCollector{reg: reg, seen: make(map[int]bool)},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// SessionStarted counts a session in.
func (m *Metrics) SessionStarted() { m.sessions.Inc() }

// SessionEnded counts a session out.
func (m *Metrics) SessionEnded() { m.sessions.Dec() }

// Joined counts someone seated; op is new, group or join.
func (m *Metrics) Joined(op string) {
	if c, ok := m.ops[op]; ok {
		c.Inc()
	}
}

// Rejected counts a refusal; unknown reasons count as "other".
func (m *Metrics) Rejected(reason string) {
	c, ok := m.reasons[reason]
	if !ok {
		c = m.reasons["other"]
	}
	c.Inc()
}

// SlowDropped counts a member hung up on for not reading.
func (m *Metrics) SlowDropped() { m.slow.Inc() }

// HandshakeFailed counts a connection that never became an SSH session.
func (m *Metrics) HandshakeFailed() { m.handshakes.Inc() }

// FanOut records one Seat.Type fan-out; it fits rooms.Memory.OnFanOut.
func (m *Metrics) FanOut(recipients int, d time.Duration) {
	m.fanout.Observe(d.Seconds())
	if recipients > 0 {
		m.keystrokes.Inc()
	}
}

// SetHealthy says whether the SSH listener is accepting; /healthz answers
// 200 only while it is.
func (m *Metrics) SetHealthy(ok bool) { m.healthy.Store(ok) }

// Handler serves /metrics (Prometheus text) and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !m.healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not accepting\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// roomsCollector reads the registry when scraped.
type roomsCollector struct {
	reg rooms.Registry

	mu   sync.Mutex
	seen map[int]bool // sizes reported before: they stay, at 0, once empty
}

var (
	roomsDesc   = prometheus.NewDesc("hush_rooms", "Open rooms, by how many members are in them now.", []string{"size"}, nil)
	membersDesc = prometheus.NewDesc("hush_members", "People seated in rooms now.", nil, nil)
	droppedDesc = prometheus.NewDesc("hush_events_dropped_total", "Typed text dropped because a member's queue was full.", nil, nil)
)

func (c *roomsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- roomsDesc
	ch <- membersDesc
	ch <- droppedDesc
}

func (c *roomsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.reg.Stats()
	c.mu.Lock()
	for size := range st.BySize {
		c.seen[size] = true
	}
	for size := range c.seen {
		ch <- prometheus.MustNewConstMetric(roomsDesc, prometheus.GaugeValue, float64(st.BySize[size]), strconv.Itoa(size))
	}
	c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(st.Members))
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(st.Dropped))
}
