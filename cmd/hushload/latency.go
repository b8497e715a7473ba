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

// Typed is what a run of typing measured, whatever was typed into: keys
// timed on screens, and what they cost the server.
type Typed struct {
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
	// Bytes and reads to one timed screen per key, and bytes to everyone.
	PeerBytesPerKey float64 `json:"peer_bytes_per_key"`
	PeerReadsPerKey float64 `json:"peer_reads_per_key"`
	AllBytesPerKey  float64 `json:"all_bytes_per_key"`
}

// LatencyRun is one server under typing load.
type LatencyRun struct {
	Server   string  `json:"server"`
	Rooms    int     `json:"rooms"`
	Measured int     `json:"measured_rooms"`
	Rate     float64 `json:"keys_per_sec_per_room"`
	Typing   string  `json:"timed_typing"` // steady, or bursts (timed typists only)
	Typed
	// WritesPerKey is the server's write system calls over the typing
	// window per key typed (/proc/PID/io syscw): frames to both screens,
	// liveness questions, and the Go runtime's own wake-ups of its network
	// poller (an eventfd write each), so hand-offs between goroutines
	// show in it too. It hardly depends on how busy the machine is.
	WritesPerKey    float64 `json:"server_writes_per_key"`
	FadeStepsPerSec float64 `json:"fade_steps_per_sec,omitempty"`
	FadeSteps       int     `json:"fade_steps,omitempty"`
	FadeMaxGapMS    float64 `json:"fade_max_gap_ms,omitempty"`
}

// runLatency opens o.rooms rooms on a fresh server, types in all of them
// for o.duration and times the first o.measure on their peers' screens;
// on hush, one more room's burst is watched fading meanwhile.
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
	rig, err := openLatencyRooms(srv, l.kind, o, measured)
	if err != nil {
		return nil, err
	}
	defer rig.close()
	run.SetupSeconds = round(time.Since(setup).Seconds(), 2)
	after := mustSample(srv.pid)
	run.RSSKB = after.rssKB
	run.RSSPerSessionKB = round(float64(after.rssKB-base.rssKB)/float64(2*o.rooms), 1)

	ty := rig.typeAll(srv, l.kind, o)
	rig.settle()
	rig.record(run, ty)
	if rig.fw != nil {
		// Wait for the burst to fade out entirely (linger after it was typed).
		rig.watchFade(run, ty.start.Add(o.linger+3*time.Second))
	}
	return run, nil
}

// latencyRig is the rooms of one latency run: every pair, the trackers of
// the timed ones (the first len(trackers) pairs), and on hush the room
// whose burst is watched fading.
type latencyRig struct {
	pairs    []*pair
	trackers []*tracker
	fade     *pair
	fw       *fadeWatch
}

// openLatencyRooms opens o.rooms rooms, the first measured decoded and
// tracked, and (hush only, with a linger short enough to wait out) the
// fading room. On error, nothing is left open.
func openLatencyRooms(srv *server, kind string, o *opts, measured int) (_ *latencyRig, err error) {
	progress("%s: opening %d rooms (%d decoded)", kind, o.rooms, measured)
	pairs, err := openPairs(srv, o, o.rooms, func(i int) bool { return i < measured })
	if err != nil {
		return nil, err
	}
	rig := &latencyRig{pairs: pairs}
	defer func() {
		if err != nil {
			rig.close()
		}
	}()

	// One more room, hush only: a short burst, then nothing, to watch it fade
	// on the peer's screen while the others type.
	if kind == "hush" && o.linger <= maxFadeWatch {
		// COLORTERM=truecolor: with xterm-256color alone, neighbouring shades
		// map to one palette entry and fewer steps are visible.
		p, err := openPair(srv, o, true, "COLORTERM", o.colorterm)
		if err != nil {
			return nil, err
		}
		rig.fade = p
		top, _, err := region(kind, rig.fade.b)
		if err != nil {
			return nil, err
		}
		rig.fw = &fadeWatch{x: 2, y: top}
	}
	rig.trackers = make([]*tracker, measured)
	for i := range measured {
		b := pairs[i].b
		top, bottom, err := region(kind, b)
		if err != nil {
			return nil, err
		}
		tr := &tracker{}
		rig.trackers[i] = tr
		b.setWatch(func(now time.Time) { tr.saw(lastChar(b.emu, top, bottom), now) })
	}
	return rig, nil
}

// close hangs up the fading room, then all the others.
func (rig *latencyRig) close() {
	if rig.fade != nil {
		closePairs([]*pair{rig.fade})
	}
	closePairs(rig.pairs)
}

// latencyBytes is what the server has sent so far: to the timed peers
// (bytes, and reads, each a screen update), and to every client.
type latencyBytes struct {
	peer, peerReads, all int64
}

func (rig *latencyRig) bytes() (n latencyBytes) {
	for _, p := range rig.pairs[:len(rig.trackers)] {
		n.peer += p.b.received.Load()
		n.peerReads += p.b.reads.Load()
	}
	for _, p := range rig.pairs {
		n.all += p.a.received.Load() + p.b.received.Load()
	}
	return n
}

// latencyTyping is one typing period of the latency scenario: when it
// began, what was typed, and samples of the server and the load tool on
// either side of it.
type latencyTyping struct {
	start          time.Time
	keys, errs     int64
	srv0, srv1     usage
	own0, own1     usage
	machineBusyPct float64
	bytes0         latencyBytes
}

// typeAll makes every room type at o.rate until o.duration is up (the
// timed ones as o.typing says), and the fading room type its burst.
func (rig *latencyRig) typeAll(srv *server, kind string, o *opts) latencyTyping {
	var keys, errs atomic.Int64
	if o.profile != "" {
		srv.control("heap latency-before")
		srv.control("cpu latency")
	}
	progress("%s: typing %.1f keys/s in each of %d rooms for %v", kind, o.rate, o.rooms, o.duration)
	ty := latencyTyping{bytes0: rig.bytes()}
	ty.srv0, ty.own0 = mustSample(srv.pid), mustSample(os.Getpid())
	mb0, mt0 := machineBusy()
	start := time.Now()
	ty.start = start
	deadline := start.Add(o.duration)
	var wg sync.WaitGroup
	period := time.Duration(float64(time.Second) / o.rate)
	for i, p := range rig.pairs {
		var tr *tracker
		gap := gaps(typingSteady, period, 0)
		if i < len(rig.trackers) {
			tr = rig.trackers[i]
			gap = gaps(o.typing, period, uint64(i))
		}
		wg.Go(func() { typeLoop(p.a, tr, gap, start, deadline, &keys, &errs) })
	}
	if fade := rig.fade; fade != nil {
		wg.Go(func() {
			fade.b.setWatch(func(now time.Time) { rig.fw.see(fade.b.emu, now) })
			if err := fade.a.send("FADE"); err != nil {
				errs.Add(1)
			}
		})
	}
	wg.Wait()
	ty.srv1, ty.own1 = mustSample(srv.pid), mustSample(os.Getpid())
	mb1, mt1 := machineBusy()
	ty.machineBusyPct = busyPct(mb0, mt0, mb1, mt1)
	if o.profile != "" {
		srv.control("stop")
		srv.control("heap latency-after")
	}
	ty.keys, ty.errs = keys.Load(), errs.Load()
	return ty
}

// settle lets keystrokes in flight land, for a bounded time.
func (rig *latencyRig) settle() {
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, tr := range rig.trackers {
			n += tr.pending()
		}
		if n == 0 {
			break
		}
	}
}

// record sets run's figures from a typing period and the trackers.
func (rig *latencyRig) record(run *LatencyRun, ty latencyTyping) {
	run.MachineBusyPct = ty.machineBusyPct
	elapsed := ty.srv1.at.Sub(ty.srv0.at)
	run.Seconds = round(elapsed.Seconds(), 2)
	run.Keys = ty.keys
	run.KeysPerSec = round(float64(run.Keys)/elapsed.Seconds(), 1)
	run.SendErrors = ty.errs
	var lat []time.Duration
	for _, tr := range rig.trackers {
		tr.mu.Lock()
		lat = append(lat, tr.lat...)
		run.Lost += len(tr.sent) - tr.recv
		run.Overrun += tr.overrun
		tr.mu.Unlock()
	}
	run.Latency = dist(lat)
	run.ServerCPUPct = round(100*float64(ty.srv1.cpu-ty.srv0.cpu)/float64(elapsed), 1)
	run.ClientCPUPct = round(100*float64(ty.own1.cpu-ty.own0.cpu)/float64(elapsed), 1)
	run.OtherBusyPct = round(max(0, run.MachineBusyPct-run.ServerCPUPct-run.ClientCPUPct), 1)
	if run.Keys > 0 {
		run.CPUPerKeyUS = round(float64((ty.srv1.cpu-ty.srv0.cpu).Microseconds())/float64(run.Keys), 1)
		run.WritesPerKey = round(float64(ty.srv1.writes-ty.srv0.writes)/float64(run.Keys), 2)
		var measuredKeys int
		for _, tr := range rig.trackers {
			tr.mu.Lock()
			measuredKeys += len(tr.sent)
			tr.mu.Unlock()
		}
		b := rig.bytes()
		if measuredKeys > 0 {
			run.PeerBytesPerKey = round(float64(b.peer-ty.bytes0.peer)/float64(measuredKeys), 1)
			run.PeerReadsPerKey = round(float64(b.peerReads-ty.bytes0.peerReads)/float64(measuredKeys), 2)
		}
		run.AllBytesPerKey = round(float64(b.all-ty.bytes0.all)/float64(run.Keys), 1)
	}
}

// watchFade waits, until end at most, for the burst to fade out entirely,
// and sets run's fade figures.
func (rig *latencyRig) watchFade(run *LatencyRun, end time.Time) {
	fade, fw := rig.fade, rig.fw
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
