package main

import (
	"time"
)

// IdleRun is many sessions sitting in rooms with nothing to show.
type IdleRun struct {
	Server           string  `json:"server"`
	Sessions         int     `json:"sessions"`
	SetupSeconds     float64 `json:"setup_seconds"`
	RSSBeforeKB      int64   `json:"rss_before_kb"`
	RSSKB            int64   `json:"rss_kb"`
	RSSPerSessionKB  float64 `json:"rss_per_session_kb"`
	Seconds          float64 `json:"seconds"`
	CPUPct           float64 `json:"cpu_pct_of_core"`
	CPUPctPer1000    float64 `json:"cpu_pct_per_1000_sessions"`
	CPUPctAt10k      float64 `json:"cpu_pct_at_10000_sessions_scaled"`
	CPUResolutionPct float64 `json:"cpu_resolution_pct"`
	BytesSent        int64   `json:"bytes_sent_while_idle"`         // channel data: what the screens received
	SessionWire      int64   `json:"session_wire_bytes_while_idle"` // what their connections received, SSH's own messages included
	WireBytes        int64   `json:"wire_bytes_while_idle"`         // what the server wrote (wchar): its poller's wake-ups and logs too
}

func runIdle(l launcher, o *opts) (*IdleRun, error) {
	srv, err := l.start(o.idleLinger)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rooms := max(1, o.idle/2)
	run := &IdleRun{Server: l.kind, Sessions: 2 * rooms}
	base := mustSample(srv.pid)
	run.RSSBeforeKB = base.rssKB
	progress("%s: connecting %d idle sessions", l.kind, run.Sessions)
	start := time.Now()
	pairs, err := openPairs(srv, o, rooms, func(int) bool { return false })
	if err != nil {
		return nil, err
	}
	defer closePairs(pairs)
	run.SetupSeconds = round(time.Since(start).Seconds(), 2)
	progress("%s: %d sessions up in %.1fs; settling %v", l.kind, run.Sessions, run.SetupSeconds, o.settle)
	time.Sleep(o.settle)
	if o.profile != "" {
		srv.control("heap idle")
		srv.control("goroutine idle")
		srv.control("mem idle")
		srv.control("cpu idle")
	}
	sent := func() (data, wire int64) {
		for _, p := range pairs {
			data += p.a.received.Load() + p.b.received.Load()
			wire += p.a.wire.Load() + p.b.wire.Load()
		}
		return data, wire
	}
	b0, w0 := sent()
	s0 := mustSample(srv.pid)
	time.Sleep(o.idleFor)
	s1 := mustSample(srv.pid)
	if o.profile != "" {
		srv.control("stop")
	}
	b1, w1 := sent()
	elapsed := s1.at.Sub(s0.at)
	run.RSSKB = s0.rssKB
	run.RSSPerSessionKB = round(float64(s0.rssKB-base.rssKB)/float64(run.Sessions), 1)
	run.Seconds = round(elapsed.Seconds(), 2)
	run.CPUPct = round(100*float64(s1.cpu-s0.cpu)/float64(elapsed), 3)
	run.CPUPctPer1000 = round(run.CPUPct*1000/float64(run.Sessions), 3)
	run.CPUPctAt10k = round(run.CPUPct*10000/float64(run.Sessions), 3)
	run.CPUResolutionPct = round(100*float64(clockTick)/float64(elapsed), 3)
	run.BytesSent = b1 - b0
	run.SessionWire = w1 - w0
	run.WireBytes = s1.wrote - s0.wrote
	return run, nil
}
