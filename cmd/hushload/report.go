package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Report is everything one run measured.
type Report struct {
	Machine Machine `json:"machine"`
	Command string  `json:"command"`
	Latency *struct {
		Hush     *LatencyRun `json:"hush"`
		Relay    *LatencyRun `json:"relay,omitempty"`
		P50Ratio float64     `json:"p50_ratio,omitempty"`
		P99Ratio float64     `json:"p99_ratio,omitempty"`
	} `json:"latency,omitempty"`
	Idle *struct {
		Hush  *IdleRun `json:"hush"`
		Relay *IdleRun `json:"relay,omitempty"`
	} `json:"idle,omitempty"`
	Connect *struct {
		Hush  *ConnectRun `json:"hush"`
		Relay *ConnectRun `json:"relay,omitempty"`
	} `json:"connect,omitempty"`
	Web     *WebRun       `json:"web,omitempty"`
	Cluster *ClusterRun   `json:"cluster,omitempty"`
	Lobby   *LobbyCompare `json:"lobby,omitempty"`
	Targets []Target      `json:"targets"`
}

// Machine is where the figures come from.
type Machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"cpu_model"`
	Go     string `json:"go"`
	Kernel string `json:"kernel"`
}

// Target is one goal from the performance issue and whether this run met it.
type Target struct {
	Name   string `json:"name"`
	Goal   string `json:"goal"`
	Got    string `json:"got"`
	Met    bool   `json:"met"`
	Caveat string `json:"caveat,omitempty"`
}

// printReport writes r as one table (every section shares its columns),
// then the targets, met or not.
func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s, Linux %s\n", r.Machine.CPUs, r.Machine.Model, r.Machine.Go, r.Machine.Kernel)
	fmt.Fprintf(w, "command: %s\n\n", r.Command)
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), cpus: r.Machine.CPUs}
	if c := r.Connect; c != nil {
		t.connect(c.Hush, c.Relay)
	}
	if l := r.Latency; l != nil {
		t.latency(l.Hush, l.Relay)
	}
	if i := r.Idle; i != nil {
		t.idle(i.Hush, i.Relay)
	}
	if v := r.Web; v != nil {
		t.web(v)
	}
	if c := r.Cluster; c != nil && c.Latency != nil {
		t.clusterTyping(c.Latency)
	}
	if c := r.Cluster; c != nil && c.Idle != nil {
		t.clusterIdle(c.Idle)
	}
	if l := r.Lobby; l != nil {
		t.lobby(l)
	}
	t.tw.Flush()
	printTargets(w, r.Targets)
}

// table is the report's table, written a section at a time.
type table struct {
	tw   *tabwriter.Writer
	cpus int // the machine's, named in the busy rows
	// noRelay: the section being written has no relay figures, so pair
	// writes "-" in their column.
	noRelay bool
}

// row writes one row; numbers go through fmtNum.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		switch v := c.(type) {
		case float64:
			fmt.Fprint(t.tw, fmtNum(v))
		default:
			fmt.Fprint(t.tw, v)
		}
	}
	fmt.Fprintln(t.tw)
}

// pair writes a hush figure beside the relay's, with their ratio if withRatio.
func (t *table) pair(name string, h, b float64, withRatio bool) {
	switch {
	case t.noRelay:
		t.row(name, h, "-", "")
	case withRatio:
		t.row(name, h, b, fmt.Sprintf("%.2f×", ratio(h, b)))
	default:
		t.row(name, h, b, "")
	}
}

// spent closes a typing table: the load, and what the machine spent.
func (t *table) spent(ty TypingRun) {
	t.row("keys/s typed (all rooms)", ty.KeysPerSec, "", "")
	t.row("load tool CPU (% of one core)", ty.ClientCPUPct, "", "")
	t.row(fmt.Sprintf("whole machine busy (%% of one core, %d cores)", t.cpus), ty.MachineBusyPct, "", "")
	t.row("… of which other work (noise)", ty.OtherBusyPct, "", "")
	t.row("", "", "", "")
}

func (t *table) connect(h, b *ConnectRun) {
	t.noRelay = b == nil
	if b == nil {
		b = &ConnectRun{}
	}
	t.row("CONNECT", "hush", "relay", "ratio")
	t.pair("first frame p50, one at a time (ms)", h.Serial.P50, b.Serial.P50, true)
	t.pair("first frame p99, one at a time (ms)", h.Serial.P99, b.Serial.P99, true)
	t.pair(fmt.Sprintf("sessions/s, %d at a time", h.Concurrency), h.PerSec, b.PerSec, true)
	t.pair("first frame p50 under that load (ms)", h.Loaded.P50, b.Loaded.P50, true)
	t.pair("first frame p99 under that load (ms)", h.Loaded.P99, b.Loaded.P99, true)
	t.pair("server CPU per session (ms)", h.CPUPerSessionMS, b.CPUPerSessionMS, true)
	t.row("errors", h.Errors, b.Errors, "")
	t.row("", "", "", "")
}

func (t *table) latency(h, b *LatencyRun) {
	t.noRelay = b == nil
	if b == nil {
		b = &LatencyRun{}
	}
	t.row(fmt.Sprintf("LATENCY (%d rooms × %g keys/s, %d timed, typing %s)", h.Rooms, h.Rate, h.Measured, h.Typing), "hush", "relay", "ratio")
	t.pair("keystroke→peer p50 (ms)", h.Latency.P50, b.Latency.P50, true)
	t.pair("keystroke→peer p90 (ms)", h.Latency.P90, b.Latency.P90, true)
	t.pair("keystroke→peer p99 (ms)", h.Latency.P99, b.Latency.P99, true)
	t.pair("keystroke→peer max (ms)", h.Latency.Max, b.Latency.Max, true)
	t.row("samples / lost", fmt.Sprintf("%d / %d", h.Latency.N, h.Lost), fmt.Sprintf("%d / %d", b.Latency.N, b.Lost), "")
	t.pair("keys/s typed (all rooms)", h.KeysPerSec, b.KeysPerSec, false)
	t.pair("server CPU (% of one core)", h.ServerCPUPct, b.ServerCPUPct, true)
	t.pair("server CPU per key (µs)", h.CPUPerKeyUS, b.CPUPerKeyUS, true)
	t.pair("server writes per key", h.WritesPerKey, b.WritesPerKey, true)
	t.pair("bytes to the peer per key", h.PeerBytesPerKey, b.PeerBytesPerKey, true)
	t.pair("screen updates (reads) at the peer per key", h.PeerReadsPerKey, b.PeerReadsPerKey, true)
	t.pair("bytes to all clients per key", h.AllBytesPerKey, b.AllBytesPerKey, true)
	t.pair("server RSS per session (KB)", h.RSSPerSessionKB, b.RSSPerSessionKB, true)
	t.pair("load tool CPU (% of one core)", h.ClientCPUPct, b.ClientCPUPct, false)
	t.pair(fmt.Sprintf("whole machine busy (%% of one core, %d cores)", t.cpus), h.MachineBusyPct, b.MachineBusyPct, false)
	t.pair("… of which other work (noise)", h.OtherBusyPct, b.OtherBusyPct, false)
	if h.FadeSteps > 0 {
		t.row("fade steps/s on the peer (longest gap ms)", fmt.Sprintf("%s (%s)", fmtNum(h.FadeStepsPerSec), fmtNum(h.FadeMaxGapMS)), "-", "")
	}
	t.row("", "", "", "")
}

func (t *table) idle(h, b *IdleRun) {
	t.noRelay = b == nil
	if b == nil {
		b = &IdleRun{}
	}
	t.row(fmt.Sprintf("IDLE (%d sessions)", h.Sessions), "hush", "relay", "ratio")
	t.pair("server RSS (MB)", float64(h.RSSKB)/1024, float64(b.RSSKB)/1024, true)
	t.pair("server RSS per session (KB)", h.RSSPerSessionKB, b.RSSPerSessionKB, true)
	t.pair("server CPU idle (% of one core)", h.CPUPct, b.CPUPct, false)
	t.pair("… per 1,000 sessions (%)", h.CPUPctPer1000, b.CPUPctPer1000, false)
	t.pair("bytes sent while idle", float64(h.BytesSent), float64(b.BytesSent), false)
	t.pair("… on their connections (SSH's own included)", float64(h.SessionWire), float64(b.SessionWire), false)
	t.pair("written by the server (wchar: wake-ups, logs)", float64(h.WireBytes), float64(b.WireBytes), false)
	t.pair("setup (s)", h.SetupSeconds, b.SetupSeconds, false)
	t.row("", "", "", "")
}

func (t *table) web(v *WebRun) {
	dir := func(name string, f func(d Direction) any) {
		t.row(name, f(v.SSHToSSH), f(v.SSHToWeb), f(v.WebToSSH))
	}
	t.row(fmt.Sprintf("WEB (%d rooms of each kind × %g keys/s, %d timed each, typing %s)", v.Rooms, v.Rate, v.Measured, v.Typing), "ssh→ssh", "ssh→web", "web→ssh")
	dir("keystroke→peer p50 (ms)", func(d Direction) any { return d.Latency.P50 })
	dir("keystroke→peer p90 (ms)", func(d Direction) any { return d.Latency.P90 })
	dir("keystroke→peer p99 (ms)", func(d Direction) any { return d.Latency.P99 })
	dir("keystroke→peer max (ms)", func(d Direction) any { return d.Latency.Max })
	t.row("p50 / ssh→ssh p50", "1×", fmt.Sprintf("%.2f×", v.SSHToWebP50Ratio), fmt.Sprintf("%.2f×", v.WebToSSHP50Ratio))
	t.row("p99 / ssh→ssh p99", "1×", fmt.Sprintf("%.2f×", v.SSHToWebP99Ratio), fmt.Sprintf("%.2f×", v.WebToSSHP99Ratio))
	dir("samples / lost", func(d Direction) any { return fmt.Sprintf("%d / %d", d.Latency.N, d.Lost) })
	dir("bytes to the peer per key (web: frame payload)", func(d Direction) any { return d.PeerBytesPerKey })
	t.row("server RSS per SSH / browser session (KB)", v.RSSPerSSHSessionKB, v.RSSPerWebSessionKB, "")
	t.row("server CPU (% of one core, all rooms)", v.ServerCPUPct, "", "")
	t.row("server CPU per key (µs, all rooms)", v.CPUPerKeyUS, "", "")
	t.spent(v.TypingRun)
}

func (t *table) clusterTyping(l *ClusterLatency) {
	dir := func(name string, f func(d Direction) float64) {
		t.row(name, f(l.Same), f(l.Cross), fmt.Sprintf("%.2f×", ratio(f(l.Cross), f(l.Same))))
	}
	t.row(fmt.Sprintf("CLUSTER, TYPING (%d rooms of each kind × %g keys/s, %d timed each, typing %s)", l.Rooms, l.Rate, l.Measured, l.Typing), "same node", "cross node", "ratio")
	dir("keystroke→peer p50 (ms)", func(d Direction) float64 { return d.Latency.P50 })
	dir("keystroke→peer p90 (ms)", func(d Direction) float64 { return d.Latency.P90 })
	dir("keystroke→peer p99 (ms)", func(d Direction) float64 { return d.Latency.P99 })
	dir("keystroke→peer max (ms)", func(d Direction) float64 { return d.Latency.Max })
	t.row("samples / lost", fmt.Sprintf("%d / %d", l.Same.Latency.N, l.Same.Lost), fmt.Sprintf("%d / %d", l.Cross.Latency.N, l.Cross.Lost), "")
	dir("bytes to the peer per key", func(d Direction) float64 { return d.PeerBytesPerKey })
	t.row("", "node a", "node b", "nats")
	t.row("CPU (% of one core)", l.NodeACPUPct, l.NodeBCPUPct, l.NATSCPUPct)
	t.row("CPU per key, all three (µs)", l.CPUPerKeyUS, "", "")
	t.row("NATS messages in per cross-node key", l.NATSMsgsInPerCrossKey, "", "")
	t.row("JetStream KV writes/s while typing", l.KVWritesPerSec, "", "")
	t.spent(l.TypingRun)
}

func (t *table) clusterIdle(i *ClusterIdle) {
	nodes := func(name string, f func(n NodeIdle) any) {
		t.row(name, f(i.Nodes[0]), f(i.Nodes[1]), f(i.NATS))
	}
	t.row(fmt.Sprintf("CLUSTER, AT REST (%d sessions, %d of %d rooms across nodes, %.0fs)", i.Sessions, i.CrossRooms, i.SameRooms+i.CrossRooms, i.Seconds), "node a", "node b", "nats")
	nodes("sessions", func(n NodeIdle) any { return n.Sessions })
	nodes("RSS (MB)", func(n NodeIdle) any { return float64(n.RSSKB) / 1024 })
	nodes("RSS per session (KB; nats: per session of both)", func(n NodeIdle) any { return n.RSSPerSessionKB })
	nodes(fmt.Sprintf("CPU at rest (%% of one core, resolution %.3f%%)", i.CPUResolutionPct), func(n NodeIdle) any { return n.CPUPct })
	t.row("JetStream KV writes/s", i.KVWritesPerSec, "", "")
	for _, name := range kvStreams {
		t.row("… "+name+" (writes)", float64(i.KVWrites[name]), "", "")
	}
	t.row("bytes sent to clients at rest", float64(i.BytesSent), "", "")
	t.row("setup (s)", i.SetupSeconds, "", "")
	t.row("", "", "", "")
}

// printTargets lists each goal, met or not, under the table.
func printTargets(w io.Writer, ts []Target) {
	fmt.Fprintln(w, "TARGETS")
	for _, t := range ts {
		mark := "MET    "
		if !t.Met {
			mark = "NOT MET"
		}
		fmt.Fprintf(w, "  %s  %s: %s — goal %s", mark, t.Name, t.Got, t.Goal)
		if t.Caveat != "" {
			fmt.Fprintf(w, " (%s)", t.Caveat)
		}
		fmt.Fprintln(w)
	}
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
