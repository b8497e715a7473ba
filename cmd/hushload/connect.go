package main

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/x/vt"
)

// ConnectRun is how fast sessions open: one at a time, then many at once.
type ConnectRun struct {
	Server          string  `json:"server"`
	Serial          Dist    `json:"first_frame_serial"`
	Sessions        int     `json:"sessions"`
	Concurrency     int     `json:"concurrency"`
	Errors          int     `json:"errors"`
	FirstError      string  `json:"first_error,omitempty"`
	Seconds         float64 `json:"seconds"`
	PerSec          float64 `json:"sessions_per_sec"`
	Loaded          Dist    `json:"first_frame_loaded"`
	CPUPerSessionMS float64 `json:"server_cpu_ms_per_session"`
	ServerCPUPct    float64 `json:"server_cpu_pct_of_core"`
}

// firstFrame dials user and returns how long until row 0 shows the room
// header. emu is reused by the next call, so it returns only once the
// session's reader has stopped writing to it.
func firstFrame(srv *server, o *opts, emu *vt.Emulator) (time.Duration, error) {
	start := time.Now()
	t, err := dial(srv.addr, "new", o.width, o.height, emu)
	if err != nil {
		return 0, err
	}
	defer func() {
		t.close()
		<-t.done
	}()
	at, err := t.waitText(srv.kind+" · room", 0)
	if err != nil {
		return 0, err
	}
	return at.Sub(start), nil
}

func runConnect(l launcher, o *opts) (*ConnectRun, error) {
	srv, err := l.start(o.linger)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	run := &ConnectRun{Server: l.kind, Sessions: o.connect, Concurrency: o.conc}
	progress("%s: %d sessions one at a time", l.kind, o.first)
	emu := newEmulator(o.width, o.height)
	var serial []time.Duration
	for range o.first {
		d, err := firstFrame(srv, o, emu)
		if err != nil {
			return nil, err
		}
		serial = append(serial, d)
	}
	run.Serial = dist(serial)

	progress("%s: %d sessions, %d at a time", l.kind, o.connect, o.conc)
	emus := make([]*vt.Emulator, o.conc)
	for i := range emus {
		emus[i] = newEmulator(o.width, o.height)
	}
	var (
		mu     sync.Mutex
		loaded []time.Duration
		errs   []error
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	if o.profile != "" {
		srv.control("cpu connect")
	}
	s0 := mustSample(srv.pid)
	for w := range o.conc {
		wg.Go(func() {
			for next.Add(1) <= int64(o.connect) {
				d, err := firstFrame(srv, o, emus[w])
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					loaded = append(loaded, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s1 := mustSample(srv.pid)
	if o.profile != "" {
		srv.control("stop")
	}
	elapsed := s1.at.Sub(s0.at)
	run.Seconds = round(elapsed.Seconds(), 2)
	run.PerSec = round(float64(len(loaded))/elapsed.Seconds(), 1)
	run.Loaded = dist(loaded)
	run.Errors = len(errs)
	if len(errs) > 0 {
		run.FirstError = firstLine(errs[0])
	}
	run.CPUPerSessionMS = round(float64((s1.cpu-s0.cpu).Microseconds())/1000/float64(max(1, o.connect)), 3)
	run.ServerCPUPct = round(100*float64(s1.cpu-s0.cpu)/float64(elapsed), 1)
	return run, nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
