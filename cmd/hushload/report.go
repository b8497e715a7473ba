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
	Web     *WebRun     `json:"web,omitempty"`
	Cluster *ClusterRun `json:"cluster,omitempty"`
	Targets []Target    `json:"targets"`
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

func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s, Linux %s\n", r.Machine.CPUs, r.Machine.Model, r.Machine.Go, r.Machine.Kernel)
	fmt.Fprintf(w, "command: %s\n\n", r.Command)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...any) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			switch v := c.(type) {
			case float64:
				fmt.Fprint(tw, fmtNum(v))
			default:
				fmt.Fprint(tw, v)
			}
		}
		fmt.Fprintln(tw)
	}
	// spent closes a typing table: the load, and what the machine spent.
	spent := func(t TypingRun) {
		row("keys/s typed (all rooms)", t.KeysPerSec, "", "")
		row("load tool CPU (% of one core)", t.ClientCPUPct, "", "")
		row(fmt.Sprintf("whole machine busy (%% of one core, %d cores)", r.Machine.CPUs), t.MachineBusyPct, "", "")
		row("… of which other work (noise)", t.OtherBusyPct, "", "")
		row("", "", "", "")
	}
	noRelay := false
	pair := func(name string, h, b float64, withRatio bool) {
		switch {
		case noRelay:
			row(name, h, "-", "")
		case withRatio:
			row(name, h, b, fmt.Sprintf("%.2f×", ratio(h, b)))
		default:
			row(name, h, b, "")
		}
	}
	if c := r.Connect; c != nil {
		b := c.Relay
		noRelay = b == nil
		if b == nil {
			b = &ConnectRun{}
		}
		row("CONNECT", "hush", "relay", "ratio")
		pair("first frame p50, one at a time (ms)", c.Hush.Serial.P50, b.Serial.P50, true)
		pair("first frame p99, one at a time (ms)", c.Hush.Serial.P99, b.Serial.P99, true)
		pair(fmt.Sprintf("sessions/s, %d at a time", c.Hush.Concurrency), c.Hush.PerSec, b.PerSec, true)
		pair("first frame p50 under that load (ms)", c.Hush.Loaded.P50, b.Loaded.P50, true)
		pair("first frame p99 under that load (ms)", c.Hush.Loaded.P99, b.Loaded.P99, true)
		pair("server CPU per session (ms)", c.Hush.CPUPerSessionMS, b.CPUPerSessionMS, true)
		row("errors", c.Hush.Errors, b.Errors, "")
		row("", "", "", "")
	}
	if l := r.Latency; l != nil {
		b := l.Relay
		noRelay = b == nil
		if b == nil {
			b = &LatencyRun{}
		}
		row(fmt.Sprintf("LATENCY (%d rooms × %g keys/s, %d timed, typing %s)", l.Hush.Rooms, l.Hush.Rate, l.Hush.Measured, l.Hush.Typing), "hush", "relay", "ratio")
		pair("keystroke→peer p50 (ms)", l.Hush.Latency.P50, b.Latency.P50, true)
		pair("keystroke→peer p90 (ms)", l.Hush.Latency.P90, b.Latency.P90, true)
		pair("keystroke→peer p99 (ms)", l.Hush.Latency.P99, b.Latency.P99, true)
		pair("keystroke→peer max (ms)", l.Hush.Latency.Max, b.Latency.Max, true)
		row("samples / lost", fmt.Sprintf("%d / %d", l.Hush.Latency.N, l.Hush.Lost), fmt.Sprintf("%d / %d", b.Latency.N, b.Lost), "")
		pair("keys/s typed (all rooms)", l.Hush.KeysPerSec, b.KeysPerSec, false)
		pair("server CPU (% of one core)", l.Hush.ServerCPUPct, b.ServerCPUPct, true)
		pair("server CPU per key (µs)", l.Hush.CPUPerKeyUS, b.CPUPerKeyUS, true)
		pair("bytes to the peer per key", l.Hush.PeerBytesPerKey, b.PeerBytesPerKey, true)
		pair("screen updates (reads) at the peer per key", l.Hush.PeerReadsPerKey, b.PeerReadsPerKey, true)
		pair("bytes to all clients per key", l.Hush.AllBytesPerKey, b.AllBytesPerKey, true)
		pair("server RSS per session (KB)", l.Hush.RSSPerSessionKB, b.RSSPerSessionKB, true)
		pair("load tool CPU (% of one core)", l.Hush.ClientCPUPct, b.ClientCPUPct, false)
		pair(fmt.Sprintf("whole machine busy (%% of one core, %d cores)", r.Machine.CPUs), l.Hush.MachineBusyPct, b.MachineBusyPct, false)
		pair("… of which other work (noise)", l.Hush.OtherBusyPct, b.OtherBusyPct, false)
		if l.Hush.FadeSteps > 0 {
			row("fade steps/s on the peer (longest gap ms)", fmt.Sprintf("%s (%s)", fmtNum(l.Hush.FadeStepsPerSec), fmtNum(l.Hush.FadeMaxGapMS)), "-", "")
		}
		row("", "", "", "")
	}
	if i := r.Idle; i != nil {
		b := i.Relay
		noRelay = b == nil
		if b == nil {
			b = &IdleRun{}
		}
		row(fmt.Sprintf("IDLE (%d sessions)", i.Hush.Sessions), "hush", "relay", "ratio")
		pair("server RSS (MB)", float64(i.Hush.RSSKB)/1024, float64(b.RSSKB)/1024, true)
		pair("server RSS per session (KB)", i.Hush.RSSPerSessionKB, b.RSSPerSessionKB, true)
		pair("server CPU idle (% of one core)", i.Hush.CPUPct, b.CPUPct, false)
		pair("… per 1,000 sessions (%)", i.Hush.CPUPctPer1000, b.CPUPctPer1000, false)
		pair("bytes sent while idle", float64(i.Hush.BytesSent), float64(b.BytesSent), false)
		pair("setup (s)", i.Hush.SetupSeconds, b.SetupSeconds, false)
		row("", "", "", "")
	}
	if v := r.Web; v != nil {
		dir := func(name string, f func(d Direction) any) {
			row(name, f(v.SSHToSSH), f(v.SSHToWeb), f(v.WebToSSH))
		}
		row(fmt.Sprintf("WEB (%d rooms of each kind × %g keys/s, %d timed each, typing %s)", v.Rooms, v.Rate, v.Measured, v.Typing), "ssh→ssh", "ssh→web", "web→ssh")
		dir("keystroke→peer p50 (ms)", func(d Direction) any { return d.Latency.P50 })
		dir("keystroke→peer p90 (ms)", func(d Direction) any { return d.Latency.P90 })
		dir("keystroke→peer p99 (ms)", func(d Direction) any { return d.Latency.P99 })
		dir("keystroke→peer max (ms)", func(d Direction) any { return d.Latency.Max })
		row("p50 / ssh→ssh p50", "1×", fmt.Sprintf("%.2f×", v.SSHToWebP50Ratio), fmt.Sprintf("%.2f×", v.WebToSSHP50Ratio))
		row("p99 / ssh→ssh p99", "1×", fmt.Sprintf("%.2f×", v.SSHToWebP99Ratio), fmt.Sprintf("%.2f×", v.WebToSSHP99Ratio))
		dir("samples / lost", func(d Direction) any { return fmt.Sprintf("%d / %d", d.Latency.N, d.Lost) })
		dir("bytes to the peer per key (web: frame payload)", func(d Direction) any { return d.PeerBytesPerKey })
		row("server RSS per SSH / browser session (KB)", v.RSSPerSSHSessionKB, v.RSSPerWebSessionKB, "")
		row("server CPU (% of one core, all rooms)", v.ServerCPUPct, "", "")
		row("server CPU per key (µs, all rooms)", v.CPUPerKeyUS, "", "")
		spent(v.TypingRun)
	}
	if c := r.Cluster; c != nil && c.Latency != nil {
		l := c.Latency
		dir := func(name string, f func(d Direction) float64) {
			row(name, f(l.Same), f(l.Cross), fmt.Sprintf("%.2f×", ratio(f(l.Cross), f(l.Same))))
		}
		row(fmt.Sprintf("CLUSTER, TYPING (%d rooms of each kind × %g keys/s, %d timed each, typing %s)", l.Rooms, l.Rate, l.Measured, l.Typing), "same node", "cross node", "ratio")
		dir("keystroke→peer p50 (ms)", func(d Direction) float64 { return d.Latency.P50 })
		dir("keystroke→peer p90 (ms)", func(d Direction) float64 { return d.Latency.P90 })
		dir("keystroke→peer p99 (ms)", func(d Direction) float64 { return d.Latency.P99 })
		dir("keystroke→peer max (ms)", func(d Direction) float64 { return d.Latency.Max })
		row("samples / lost", fmt.Sprintf("%d / %d", l.Same.Latency.N, l.Same.Lost), fmt.Sprintf("%d / %d", l.Cross.Latency.N, l.Cross.Lost), "")
		dir("bytes to the peer per key", func(d Direction) float64 { return d.PeerBytesPerKey })
		row("", "node a", "node b", "nats")
		row("CPU (% of one core)", l.NodeACPUPct, l.NodeBCPUPct, l.NATSCPUPct)
		row("CPU per key, all three (µs)", l.CPUPerKeyUS, "", "")
		row("NATS messages in per cross-node key", l.NATSMsgsInPerCrossKey, "", "")
		row("JetStream KV writes/s while typing", l.KVWritesPerSec, "", "")
		spent(l.TypingRun)
	}
	if c := r.Cluster; c != nil && c.Idle != nil {
		i := c.Idle
		nodes := func(name string, f func(n NodeIdle) any) {
			row(name, f(i.Nodes[0]), f(i.Nodes[1]), f(i.NATS))
		}
		row(fmt.Sprintf("CLUSTER, AT REST (%d sessions, %d of %d rooms across nodes, %.0fs)", i.Sessions, i.CrossRooms, i.SameRooms+i.CrossRooms, i.Seconds), "node a", "node b", "nats")
		nodes("sessions", func(n NodeIdle) any { return n.Sessions })
		nodes("RSS (MB)", func(n NodeIdle) any { return float64(n.RSSKB) / 1024 })
		nodes("RSS per session (KB; nats: per session of both)", func(n NodeIdle) any { return n.RSSPerSessionKB })
		nodes(fmt.Sprintf("CPU at rest (%% of one core, resolution %.3f%%)", i.CPUResolutionPct), func(n NodeIdle) any { return n.CPUPct })
		row("JetStream KV writes/s", i.KVWritesPerSec, "", "")
		for _, name := range kvStreams {
			row("… "+name+" (writes)", float64(i.KVWrites[name]), "", "")
		}
		row("bytes sent to clients at rest", float64(i.BytesSent), "", "")
		row("setup (s)", i.SetupSeconds, "", "")
		row("", "", "", "")
	}
	tw.Flush()
	fmt.Fprintln(w, "TARGETS")
	for _, t := range r.Targets {
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
