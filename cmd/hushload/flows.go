package main

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// flow is one kind of room in a scenario that compares kinds in the same
// run (SSH against browser, one node against two): its typists, the
// trackers of its timed rooms (the first len(trackers) typists), and the
// bytes its timed receivers have been sent so far.
type flow struct {
	typists   []sender
	trackers  []*tracker
	peerBytes func() int64
	bytes0    int64
	keys      atomic.Int64 // typed by all its typists in the last typeFlows
}

// Direction is what one kind of room measured: keystroke to the peer's
// screen (or frame), in its timed rooms.
type Direction struct {
	Latency         Dist    `json:"latency"`
	TimedKeys       int     `json:"timed_keys"`
	Lost            int     `json:"lost"`
	Overrun         int     `json:"overrun"`
	PeerBytesPerKey float64 `json:"peer_bytes_per_key"`
}

// typing is the CPU and the keys of one typing period.
type typing struct {
	elapsed        time.Duration
	keys, errs     int64
	clientCPU      time.Duration
	machineBusyPct float64
}

// typeFlows makes every typist of every flow type at o.rate for
// o.duration (the timed ones with o.typing, seeded by their index, so
// each kind of room types the same pattern), then lets the keystrokes in
// flight land for a bounded time. during runs once typing has started and
// once it has ended (with true), to sample the servers.
func typeFlows(flows []*flow, o *opts, during func(end bool)) typing {
	for _, f := range flows {
		f.bytes0 = f.peerBytes()
		f.keys.Store(0)
	}
	var errs atomic.Int64
	c0 := mustSample(os.Getpid())
	mb0, mt0 := machineBusy()
	during(false)
	start := time.Now()
	deadline := start.Add(o.duration)
	period := time.Duration(float64(time.Second) / o.rate)
	var wg sync.WaitGroup
	for _, f := range flows {
		for i, t := range f.typists {
			var tr *tracker
			gap := gaps(typingSteady, period, 0)
			if i < len(f.trackers) {
				tr = f.trackers[i]
				gap = gaps(o.typing, period, uint64(i))
			}
			wg.Go(func() { typeLoop(t, tr, gap, start, deadline, &f.keys, &errs) })
		}
	}
	wg.Wait()
	during(true)
	c1 := mustSample(os.Getpid())
	mb1, mt1 := machineBusy()
	ty := typing{elapsed: c1.at.Sub(c0.at), errs: errs.Load(),
		clientCPU: c1.cpu - c0.cpu, machineBusyPct: busyPct(mb0, mt0, mb1, mt1)}
	for _, f := range flows {
		ty.keys += f.keys.Load()
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, f := range flows {
			for _, tr := range f.trackers {
				n += tr.pending()
			}
		}
		if n == 0 {
			break
		}
	}
	return ty
}

// direction sums up a flow once typing is over.
func (f *flow) direction() Direction {
	var d Direction
	var lat []time.Duration
	for _, tr := range f.trackers {
		tr.mu.Lock()
		lat = append(lat, tr.lat...)
		d.TimedKeys += len(tr.sent)
		d.Lost += len(tr.sent) - tr.recv
		d.Overrun += tr.overrun
		tr.mu.Unlock()
	}
	d.Latency = dist(lat)
	if d.TimedKeys > 0 {
		d.PeerBytesPerKey = round(float64(f.peerBytes()-f.bytes0)/float64(d.TimedKeys), 1)
	}
	return d
}

// watchScreen times a room's keystrokes on its receiver's decoded screen,
// in the lane where the other person's typing shows.
func watchScreen(kind string, recv *term) (*tracker, error) {
	top, bottom, err := region(kind, recv)
	if err != nil {
		return nil, err
	}
	tr := &tracker{}
	recv.setWatch(func(now time.Time) { tr.saw(lastChar(recv.emu, top, bottom), now) })
	return tr, nil
}

// pairFlow is a flow of rooms of two: every creator types, and the first
// m joiners are timed on their decoded screens.
func pairFlow(kind string, pairs []*pair, m int) (*flow, error) {
	f := &flow{}
	var recv []*term
	for i, p := range pairs {
		f.typists = append(f.typists, p.a)
		if i < m {
			tr, err := watchScreen(kind, p.b)
			if err != nil {
				return nil, err
			}
			f.trackers = append(f.trackers, tr)
			recv = append(recv, p.b)
		}
	}
	f.peerBytes = termBytes(recv)
	return f, nil
}

// termBytes counts what the server sent to terms.
func termBytes(terms []*term) func() int64 {
	return func() (n int64) {
		for _, t := range terms {
			n += t.received.Load()
		}
		return n
	}
}
