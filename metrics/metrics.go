// Package metrics counts what a hush server does, for Prometheus. It never
// labels anything with a room code, a name, a key or an address: the only
// labels are small fixed sets (room size, join kind, refusal reason).
package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
)

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
	web        prometheus.Gauge
	joins      *prometheus.CounterVec
	rejections *prometheus.CounterVec
	keystrokes prometheus.Counter
	slow       prometheus.Counter
	handshakes prometheus.Counter
	idle       prometheus.Counter
	throttled  prometheus.Counter
	fanout     prometheus.Histogram
	knocks     prometheus.Counter
	asks       map[admit.AskOutcome]prometheus.Counter

	// known maps each reason and op to its counter, resolved once.
	reasons map[admit.Reason]prometheus.Counter
	ops     map[admit.Op]prometheus.Counter

	healthy atomic.Bool
	cluster atomic.Pointer[Cluster]     // nil: rooms are in this process only
	cert    atomic.Pointer[Certificate] // nil: the page is not served over TLS by hush
}

// Certificate is the web page's TLS certificate, as the metrics see it.
type Certificate interface {
	// Expiry is when the certificate serving now expires; zero while
	// there is none.
	Expiry() time.Time
	// LastError is why the last attempt at a new certificate (an ACME
	// order or renewal, a reload of the files) failed; nil once one
	// succeeded after it.
	LastError() error
}

// WatchCertificate adds the web certificate's expiry and last error to
// /healthz and /metrics. A failure there does not make /healthz fail:
// SSH and the certificate already held keep serving.
func (m *Metrics) WatchCertificate(c Certificate) {
	m.cert.Store(&c)
	m.registry.MustRegister(certCollector{c})
}

type certCollector struct{ c Certificate }

var certDescs = struct{ expiry, failing *prometheus.Desc }{
	expiry:  prometheus.NewDesc("hush_web_certificate_expiry_seconds", "When the web page's certificate expires, in Unix seconds (0 while there is none).", nil, nil),
	failing: prometheus.NewDesc("hush_web_certificate_failing", "1 while the last attempt at a new web certificate (ACME order or renewal, file reload) failed; /healthz says why.", nil, nil),
}

func (c certCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- certDescs.expiry
	ch <- certDescs.failing
}

func (c certCollector) Collect(ch chan<- prometheus.Metric) {
	exp, failing := 0.0, 0.0
	if t := c.c.Expiry(); !t.IsZero() {
		exp = float64(t.Unix())
	}
	if c.c.LastError() != nil {
		failing = 1
	}
	ch <- prometheus.MustNewConstMetric(certDescs.expiry, prometheus.GaugeValue, exp)
	ch <- prometheus.MustNewConstMetric(certDescs.failing, prometheus.GaugeValue, failing)
}

// Cluster is a registry shared with other nodes, as the metrics see it.
type Cluster interface {
	// Health is nil while this node can reach the others.
	Health() error
	ClusterCounts() ClusterCounts
}

// ClusterCounts are a cluster registry's totals since start.
type ClusterCounts struct {
	Connected                                                                      bool
	PublishErrors, KVErrors, LeaseRenewals, EventsIn, EventsOut, NodesLost, Fenced uint64
}

// WatchCluster adds the cluster's health to /healthz and its counts to
// /metrics.
func (m *Metrics) WatchCluster(c Cluster) {
	m.cluster.Store(&c)
	m.registry.MustRegister(clusterCollector{c})
}

type clusterCollector struct{ c Cluster }

var clusterDescs = struct {
	connected, publish, kv, renewals, events, lost, fenced *prometheus.Desc
}{
	connected: prometheus.NewDesc("hush_cluster_connected", "1 while this node is connected to NATS.", nil, nil),
	publish:   prometheus.NewDesc("hush_cluster_publish_errors_total", "Core NATS publishes (typed text for other nodes) that failed.", nil, nil),
	kv:        prometheus.NewDesc("hush_cluster_kv_errors_total", "Key-value calls to the room directory that failed.", nil, nil),
	renewals:  prometheus.NewDesc("hush_cluster_lease_renewals_total", "Lease writes that proved this node alive.", nil, nil),
	events:    prometheus.NewDesc("hush_cluster_events_total", "Events that crossed nodes, by direction.", []string{"direction"}, nil),
	lost:      prometheus.NewDesc("hush_cluster_nodes_lost_total", "Times another node's members were let go because its lease expired.", nil, nil),
	fenced:    prometheus.NewDesc("hush_cluster_fenced_total", "Times this node ended its shared seats for want of a lease.", nil, nil),
}

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	d := clusterDescs
	for _, x := range []*prometheus.Desc{d.connected, d.publish, d.kv, d.renewals, d.events, d.lost, d.fenced} {
		ch <- x
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	n, d := c.c.ClusterCounts(), clusterDescs
	connected := 0.0
	if n.Connected {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(d.connected, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(d.publish, prometheus.CounterValue, float64(n.PublishErrors))
	ch <- prometheus.MustNewConstMetric(d.kv, prometheus.CounterValue, float64(n.KVErrors))
	ch <- prometheus.MustNewConstMetric(d.renewals, prometheus.CounterValue, float64(n.LeaseRenewals))
	ch <- prometheus.MustNewConstMetric(d.events, prometheus.CounterValue, float64(n.EventsIn), "in")
	ch <- prometheus.MustNewConstMetric(d.events, prometheus.CounterValue, float64(n.EventsOut), "out")
	ch <- prometheus.MustNewConstMetric(d.lost, prometheus.CounterValue, float64(n.NodesLost))
	ch <- prometheus.MustNewConstMetric(d.fenced, prometheus.CounterValue, float64(n.Fenced))
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
		web: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hush_web_sessions",
			Help: "Browser tabs in a room now.",
		}),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_joins_total",
			Help: "People seated, by how: new (room for two), group, join (by code), lobby.",
		}, []string{"op"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_rejections_total",
			Help: rejectionsHelp(),
		}, []string{"reason"}),
		keystrokes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_keystrokes_relayed_total",
			Help: "Typed text sent into a room (one per key press; one per pasted line).",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_slow_members_dropped_total",
			Help: "Members hung up on because their connection stopped taking output.",
		}),
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_handshake_failures_total",
			Help: "Connections that never completed the SSH handshake (scanners, timeouts, refused PROXY headers).",
		}),
		idle: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_idle_connections_closed_total",
			Help: "Connections closed for holding their place with no session open.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_requests_throttled_total",
			Help: "Times a connection's requests were held back for coming too fast.",
		}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hush_fanout_seconds",
			Help:    "Time to hand one piece of typed text to every other member's queue.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 9), // 1µs … 65ms
		}),
		knocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_knocks_total",
			Help: "Knocks at locked rooms.",
		}),
		reasons: make(map[admit.Reason]prometheus.Counter),
		ops:     make(map[admit.Op]prometheus.Counter),
		asks:    make(map[admit.AskOutcome]prometheus.Counter),
	}
	asks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hush_asks_total",
		Help: "Asks for a private room from the lobby, by outcome: sent, accepted, no-answer (declined, timed out, cancelled, or the other left).",
	}, []string{"outcome"})
	for _, a := range admit.AskOutcomes() {
		m.asks[a] = asks.WithLabelValues(a.String())
	}
	for _, r := range admit.Reasons() {
		m.reasons[r] = m.rejections.WithLabelValues(r.String())
	}
	for _, op := range admit.Ops() {
		m.ops[op] = m.joins.WithLabelValues(op.String())
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hush_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "goversion": build.GoVersion},
	})
	buildInfo.Set(1)
	m.registry.MustRegister(
		m.sessions, m.web, m.joins, m.rejections, m.keystrokes, m.slow, m.handshakes, m.idle, m.throttled, m.fanout, m.knocks, asks,
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

// WebSessionStarted counts a browser tab into a room.
func (m *Metrics) WebSessionStarted() { m.web.Inc() }

// WebSessionEnded counts a browser tab out.
func (m *Metrics) WebSessionEnded() { m.web.Dec() }

// Seated counts someone seated (admit.Observer).
func (m *Metrics) Seated(op admit.Op) {
	if c, ok := m.ops[op]; ok {
		c.Inc()
	}
}

// Knocked counts a knock at a locked room (admit.Observer).
func (m *Metrics) Knocked() { m.knocks.Inc() }

// Asked counts what became of an ask (admit.Observer).
func (m *Metrics) Asked(a admit.AskOutcome) {
	if c, ok := m.asks[a]; ok {
		c.Inc()
	}
}

// rejectionsHelp names every refusal reason, from admit's own list, so the
// help cannot fall behind a new one.
func rejectionsHelp() string {
	var labels []string
	for _, r := range admit.Reasons() {
		labels = append(labels, r.String())
	}
	return "Sessions refused, by reason: " + strings.Join(labels, ", ") + "."
}

// Refused counts a refusal (admit.Observer); an unknown reason counts as
// "other", so a new reason can never grow an unlisted series.
func (m *Metrics) Refused(r admit.Reason) {
	c, ok := m.reasons[r]
	if !ok {
		c = m.reasons[admit.Other]
	}
	c.Inc()
}

// SlowDropped counts a member hung up on for not reading.
func (m *Metrics) SlowDropped() { m.slow.Inc() }

// HandshakeFailed counts a connection that never became an SSH session.
func (m *Metrics) HandshakeFailed() { m.handshakes.Inc() }

// IdleClosed counts a connection closed for holding a place with no session.
func (m *Metrics) IdleClosed() { m.idle.Inc() }

// Throttled counts a connection's requests held back for coming too fast.
func (m *Metrics) Throttled() { m.throttled.Inc() }

// SetHealthy says whether every listener is accepting; /healthz answers
// 200 only while they are.
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
		if c := m.cluster.Load(); c != nil {
			if err := (*c).Health(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintf(w, "cluster: %v\n", err)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
		if c := m.cert.Load(); c != nil {
			if exp := (*c).Expiry(); exp.IsZero() {
				_, _ = fmt.Fprintln(w, "web certificate: none yet")
			} else {
				_, _ = fmt.Fprintf(w, "web certificate: expires %s\n", exp.UTC().Format(time.RFC3339))
			}
			if err := (*c).LastError(); err != nil {
				_, _ = fmt.Fprintf(w, "web certificate: last attempt failed: %s\n", strings.Join(strings.Fields(err.Error()), " "))
			}
		}
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
	lobbyDesc   = prometheus.NewDesc("hush_lobby_people", "People in the lobby on this node now.", nil, nil)
)

func (c *roomsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- roomsDesc
	ch <- membersDesc
	ch <- droppedDesc
	ch <- lobbyDesc
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
	ch <- prometheus.MustNewConstMetric(lobbyDesc, prometheus.GaugeValue, float64(st.Lobby))
}
