package main

import (
	"cmp"
	"fmt"
	"slices"
)

// targets is the goals of the performance issue this run measured: what
// it got against each, and whether that meets it.
func targets(rep *Report, o *opts) []Target {
	var ts []Target
	if l := rep.Latency; l != nil && l.Relay != nil {
		ts = append(ts, latencyTarget(l.P99Ratio, l.Hush, l.Relay, o))
	}
	if i := rep.Idle; i != nil {
		ts = append(ts, idleTargets(i.Hush)...)
	} else if l := rep.Latency; l != nil {
		ts = append(ts, Target{
			Name:   "server RSS per connected session",
			Goal:   "≤ 200 KB",
			Got:    fmt.Sprintf("%.1f KB (%d sessions, before typing)", l.Hush.RSSPerSessionKB, 2*l.Hush.Rooms),
			Met:    l.Hush.RSSPerSessionKB <= 200,
			Caveat: "from the latency scenario",
		})
	}
	if c := rep.Connect; c != nil {
		ts = append(ts, connectTargets(c.Hush)...)
	}
	if v := rep.Web; v != nil {
		ts = append(ts, Target{
			Name:   "server RSS per connected session, browsers",
			Goal:   "≤ 200 KB",
			Got:    fmt.Sprintf("%.1f KB (%d browser sessions; SSH: %.1f KB)", v.RSSPerWebSessionKB, v.WebSessions, v.RSSPerSSHSessionKB),
			Met:    v.RSSPerWebSessionKB <= 200,
			Caveat: "the goal written for SSH sessions, applied to browsers; from a typing scenario",
		})
	}
	if c := rep.Cluster; c != nil && c.Latency != nil {
		l := c.Latency
		ts = append(ts, Target{
			Name: "cross-node keystroke→peer p99 vs same-node",
			Goal: "≤ 1.5× same-node p99",
			Got: fmt.Sprintf("%.2f× (cross %.2f ms, same %.2f ms; %d rooms of each × %g keys/s)",
				l.P99Ratio, l.Cross.Latency.P99, l.Same.Latency.P99, l.Rooms, l.Rate),
			Met: l.P99Ratio > 0 && l.P99Ratio <= 1.5,
		})
	}
	if c := rep.Cluster; c != nil && c.Idle != nil {
		ts = append(ts, clusterIdleTargets(c.Idle)...)
	}
	if l := rep.Latency; l != nil && l.Hush.FadeSteps > 0 {
		ts = append(ts, Target{
			Name: "fading under load",
			Goal: "≥ 8 steps/s",
			Got:  fmt.Sprintf("%.1f steps/s (%d steps, longest gap %.0f ms, while %d rooms type)", l.Hush.FadeStepsPerSec, l.Hush.FadeSteps, l.Hush.FadeMaxGapMS, o.rooms),
			Met:  l.Hush.FadeStepsPerSec >= 8,
		})
	}
	return ts
}

// latencyTarget is keystroke→peer p99 against the bare relay's, p99Ratio
// being hush's over the relay's; the goal's load depends on -typing.
func latencyTarget(p99Ratio float64, h, b *LatencyRun, o *opts) Target {
	t := Target{
		Name: "keystroke→peer p99 vs bare relay",
		Goal: "≤ 3× relay p99, 1,000 rooms × 5 keys/s",
		Got: fmt.Sprintf("%.2f× (hush %.2f ms, relay %.2f ms; %d rooms × %g keys/s)",
			p99Ratio, h.Latency.P99, b.Latency.P99, o.rooms, o.rate),
		Met: p99Ratio > 0 && p99Ratio <= 3,
	}
	if o.rooms < 1000 || o.rate < 5 {
		t.Caveat = "lighter load than the target's"
	}
	if o.typing == typingBursts {
		t.Name = "keystroke→peer p99 vs bare relay, timed typists in bursts"
		t.Goal = "≤ 3× relay p99, 200 rooms, timed typists in bursts"
		t.Got = fmt.Sprintf("%.2f× (hush %.2f ms, relay %.2f ms; %d rooms, %g keys/s in the others)",
			p99Ratio, h.Latency.P99, b.Latency.P99, o.rooms, o.rate)
		t.Caveat = ""
		if o.rooms < 200 || o.rate < 5 {
			t.Caveat = "lighter load than the target's"
		}
	}
	return t
}

// idleTargets is memory per session and CPU at rest, scaled to 10,000
// sessions.
func idleTargets(h *IdleRun) []Target {
	rss := Target{
		Name: "server RSS per connected session",
		Goal: "≤ 200 KB",
		Got:  fmt.Sprintf("%.1f KB (%d idle sessions)", h.RSSPerSessionKB, h.Sessions),
		Met:  h.RSSPerSessionKB <= 200,
	}
	cpu := Target{
		Name: "idle CPU, 10,000 sessions",
		Goal: "< 2% of one core",
		Got:  fmt.Sprintf("%.3f%% (%d sessions measured: %.3f%%, resolution %.3f%%)", h.CPUPctAt10k, h.Sessions, h.CPUPct, h.CPUResolutionPct),
		Met:  h.CPUPctAt10k < 2,
	}
	if h.Sessions < 10000 {
		cpu.Caveat = "scaled linearly from the sessions measured, which overstates it (timer wake-ups batch as sessions grow): measure with -idle 10000"
	}
	return []Target{rss, cpu}
}

// connectTargets is the first frame one at a time, and sessions opened per
// second many at a time.
func connectTargets(h *ConnectRun) []Target {
	return []Target{{
		Name: "connect→first frame p50",
		Goal: "< 5 ms",
		Got:  fmt.Sprintf("%.2f ms (one at a time, %d sessions)", h.Serial.P50, h.Serial.N),
		Met:  h.Serial.N > 0 && h.Serial.P50 < 5,
	}, {
		Name: "new SSH sessions per second",
		Goal: "≥ 500/s sustained",
		Got:  fmt.Sprintf("%.0f/s (%d sessions, %d at a time, %d errors)", h.PerSec, h.Sessions, h.Concurrency, h.Errors),
		Met:  h.PerSec >= 500 && h.Errors == 0,
	}}
}

// clusterIdleTargets is JetStream writes at rest, and memory per session
// on the node that holds more.
func clusterIdleTargets(i *ClusterIdle) []Target {
	kv := Target{
		Name: "JetStream KV writes at rest, 10,000 sessions on 2 nodes",
		Goal: "< 100/s",
		Got:  fmt.Sprintf("%.2f/s (%d sessions over %.0fs)", i.KVWritesPerSec, i.Sessions, i.Seconds),
		Met:  i.KVWritesPerSec < 100,
	}
	if i.Sessions < 10000 {
		kv.Caveat = "fewer sessions than the target's: measure with -idle 10000"
	}
	worst := slices.MaxFunc(i.Nodes, func(a, b NodeIdle) int { return cmp.Compare(a.RSSPerSessionKB, b.RSSPerSessionKB) })
	rss := Target{
		Name: "server RSS per connected session, NATS registry",
		Goal: "≤ 200 KB",
		Got:  fmt.Sprintf("%.1f KB on node %s, the higher (a %.1f, b %.1f; %d sessions)", worst.RSSPerSessionKB, worst.Name, i.Nodes[0].RSSPerSessionKB, i.Nodes[1].RSSPerSessionKB, i.Sessions),
		Met:  worst.RSSPerSessionKB <= 200,
	}
	return []Target{kv, rss}
}
