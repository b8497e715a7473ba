package main

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxFadeWatch is the longest linger the latency scenario waits out to watch
// a burst fade; with a longer one there is no fade figure.
const maxFadeWatch = 20 * time.Second

// LatencyRun is one server under typing load.
type LatencyRun struct {
	Server          string  `json:"server"`
	Rooms           int     `json:"rooms"`
	Measured        int     `json:"measured_rooms"`
	Rate            float64 `json:"keys_per_sec_per_room"`
	Typing          string  `json:"timed_typing"` // steady, or bursts (timed typists only)
	Seconds         float64 `json:"seconds"`
	Keys            int64   `json:"keys"`
	KeysPerSec      float64 `json:"keys_per_sec"`
	SendErrors      int64   `json:"send_errors"`
	Latency         Dist    `json:"latency"`
	Lost            int     `json:"lost"`
	Overrun         int     `json:"overrun"`
	SetupSeconds    float64 `json:"setup_seconds"`
	RSSKB           int64   `json:"server_rss_kb"`
	RSSPerSessionKB float64 `json:"rss_per_session_kb"`
	ServerCPUPct    float64 `json:"server_cpu_pct_of_core"`
	CPUPerKeyUS     float64 `json:"server_cpu_us_per_key"`
	ClientCPUPct    float64 `json:"client_cpu_pct_of_core"`
	MachineBusyPct  float64 `json:"machine_busy_pct_of_core"`
	OtherBusyPct    float64 `json:"other_busy_pct_of_core"` // neither server nor load tool: noise
	PeerBytesPerKey float64 `json:"peer_bytes_per_key"`
	PeerReadsPerKey float64 `json:"peer_reads_per_key"`
	AllBytesPerKey  float64 `json:"all_bytes_per_key"`
	FadeStepsPerSec float64 `json:"fade_steps_per_sec,omitempty"`
	FadeSteps       int     `json:"fade_steps,omitempty"`
	FadeMaxGapMS    float64 `json:"fade_max_gap_ms,omitempty"`
}

func runLatency(l launcher, o *opts) (*LatencyRun, error) {
	srv, err := l.start(o.linger)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	measured := min(o.measure, o.rooms)
	run := &LatencyRun{Server: l.kind, Rooms: o.rooms, Measured: measured, Rate: o.rate, Typing: o.typing}
	base := mustSample(srv.pid)
	setup := time.Now()
	progress("%s: opening %d rooms (%d decoded)", l.kind, o.rooms, measured)
	pairs, err := openPairs(srv, o, o.rooms, func(i int) bool { return i < measured })
	if err != nil {
		return nil, err
	}
	defer closePairs(pairs)

	// One more room, hush only: a short burst, then nothing, to watch it fade
	// on the peer's screen while the others type.
	var fade *pair
	var fw *fadeWatch
	if l.kind == "hush" && o.linger <= maxFadeWatch {
		// COLORTERM=truecolor: with xterm-256color alone, neighbouring shades
		// map to one palette entry and fewer steps are visible.
		p, err := openPair(srv, o, true, "COLORTERM", o.colorterm)
		if err != nil {
			return nil, err
		}
		fade = p
		defer closePairs([]*pair{p})
		top, _, err := region(l.kind, fade.b)
		if err != nil {
			return nil, err
		}
		fw = &fadeWatch{x: 2, y: top}
	}
	trackers := make([]*tracker, measured)
	for i := range measured {
		b := pairs[i].b
		top, bottom, err := region(l.kind, b)
		if err != nil {
			return nil, err
		}
		tr := &tracker{}
		trackers[i] = tr
		b.setWatch(func(now time.Time) { tr.saw(lastChar(b.emu, top, bottom), now) })
	}
	run.SetupSeconds = round(time.Since(setup).Seconds(), 2)
	after := mustSample(srv.pid)
	run.RSSKB = after.rssKB
	run.RSSPerSessionKB = round(float64(after.rssKB-base.rssKB)/float64(2*o.rooms), 1)

	var keys, errs atomic.Int64
	peerBytes := func() (n int64) {
		for _, p := range pairs[:measured] {
			n += p.b.received.Load()
		}
		return n
	}
	peerReads := func() (n int64) {
		for _, p := range pairs[:measured] {
			n += p.b.reads.Load()
		}
		return n
	}
	allBytes := func() (n int64) {
		for _, p := range pairs {
			n += p.a.received.Load() + p.b.received.Load()
		}
		return n
	}
	if o.profile != "" {
		srv.control("heap latency-before")
		srv.control("cpu latency")
	}
	progress("%s: typing %.1f keys/s in each of %d rooms for %v", l.kind, o.rate, o.rooms, o.duration)
	peer0, reads0, all0 := peerBytes(), peerReads(), allBytes()
	s0, c0 := mustSample(srv.pid), mustSample(os.Getpid())
	mb0, mt0 := machineBusy()
	start := time.Now()
	deadline := start.Add(o.duration)
	var wg sync.WaitGroup
	period := time.Duration(float64(time.Second) / o.rate)
	for i, p := range pairs {
		var tr *tracker
		gap := gaps(typingSteady, period, 0)
		if i < measured {
			tr = trackers[i]
			gap = gaps(o.typing, period, uint64(i))
		}
		wg.Go(func() { typeLoop(p.a, tr, gap, start, deadline, &keys, &errs) })
	}
	if fade != nil {
		wg.Go(func() {
			fade.b.setWatch(func(now time.Time) { fw.see(fade.b.emu, now) })
			if err := fade.a.send("FADE"); err != nil {
				errs.Add(1)
			}
		})
	}
	wg.Wait()
	s1, c1 := mustSample(srv.pid), mustSample(os.Getpid())
	mb1, mt1 := machineBusy()
	run.MachineBusyPct = busyPct(mb0, mt0, mb1, mt1)
	if o.profile != "" {
		srv.control("stop")
		srv.control("heap latency-after")
	}
	elapsed := s1.at.Sub(s0.at)
	// Let keystrokes in flight land, for a bounded time.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, tr := range trackers {
			n += tr.pending()
		}
		if n == 0 {
			break
		}
	}
	run.Seconds = round(elapsed.Seconds(), 2)
	run.Keys = keys.Load()
	run.KeysPerSec = round(float64(run.Keys)/elapsed.Seconds(), 1)
	run.SendErrors = errs.Load()
	var lat []time.Duration
	for _, tr := range trackers {
		tr.mu.Lock()
		lat = append(lat, tr.lat...)
		run.Lost += len(tr.sent) - tr.recv
		run.Overrun += tr.overrun
		tr.mu.Unlock()
	}
	run.Latency = dist(lat)
	run.ServerCPUPct = round(100*float64(s1.cpu-s0.cpu)/float64(elapsed), 1)
	run.ClientCPUPct = round(100*float64(c1.cpu-c0.cpu)/float64(elapsed), 1)
	run.OtherBusyPct = round(max(0, run.MachineBusyPct-run.ServerCPUPct-run.ClientCPUPct), 1)
	if run.Keys > 0 {
		run.CPUPerKeyUS = round(float64((s1.cpu-s0.cpu).Microseconds())/float64(run.Keys), 1)
		var measuredKeys int
		for _, tr := range trackers {
			tr.mu.Lock()
			measuredKeys += len(tr.sent)
			tr.mu.Unlock()
		}
		if measuredKeys > 0 {
			run.PeerBytesPerKey = round(float64(peerBytes()-peer0)/float64(measuredKeys), 1)
			run.PeerReadsPerKey = round(float64(peerReads()-reads0)/float64(measuredKeys), 2)
		}
		run.AllBytesPerKey = round(float64(allBytes()-all0)/float64(run.Keys), 1)
	}
	if fw != nil {
		// Wait for the burst to fade out entirely (linger after it was typed).
		end := start.Add(o.linger + 3*time.Second)
		for time.Now().Before(end) {
			fade.b.mu.Lock()
			_, _, _, done := fw.steps()
			fade.b.mu.Unlock()
			if done {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		fade.b.mu.Lock()
		rate, n, gap, _ := fw.steps()
		fade.b.mu.Unlock()
		run.FadeStepsPerSec, run.FadeSteps, run.FadeMaxGapMS = rate, n, ms(gap)
	}
	return run, nil
}
