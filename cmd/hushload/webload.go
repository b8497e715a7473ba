package main

import (
	"fmt"
	"time"
)

// WebRun is terminals and browsers typing at each other through one hush
// server: SSH↔SSH rooms (the baseline) and rooms an SSH session opened and
// a browser's WebSocket joined, typed at in one direction or the other.
type WebRun struct {
	Server string `json:"server"`
	TypingRun
	// SSHToSSH is the baseline: an SSH typist, an SSH peer's decoded screen.
	SSHToSSH Direction `json:"ssh_to_ssh"`
	// SSHToWeb: an SSH typist (the room's creator), a browser's typed frames.
	SSHToWeb Direction `json:"ssh_to_web"`
	// WebToSSH: a browser typist (the joiner), its SSH creator's decoded screen.
	WebToSSH Direction `json:"web_to_ssh"`
	// Ratios to the baseline's percentiles.
	WebToSSHP50Ratio float64 `json:"web_to_ssh_p50_ratio"`
	WebToSSHP99Ratio float64 `json:"web_to_ssh_p99_ratio"`
	SSHToWebP50Ratio float64 `json:"ssh_to_web_p50_ratio"`
	SSHToWebP99Ratio float64 `json:"ssh_to_web_p99_ratio"`

	SSHSessions int   `json:"ssh_sessions"`
	WebSessions int   `json:"web_sessions"`
	RSSKB       int64 `json:"server_rss_kb"`
	// RSSPerSSHSessionKB is the growth while the SSH↔SSH rooms opened, per
	// session; RSSPerWebSessionKB the growth while the browsers joined rooms
	// their SSH creators had already opened, per browser.
	RSSPerSSHSessionKB float64 `json:"rss_per_ssh_session_kb"`
	RSSPerWebSessionKB float64 `json:"rss_per_web_session_kb"`
	ServerCPUPct       float64 `json:"server_cpu_pct_of_core"`
	CPUPerKeyUS        float64 `json:"server_cpu_us_per_key"`
}

// runWeb opens o.rooms rooms of each kind on one server, all typed at
// once, one typist a room:
//
//   - ssh→ssh: new@ types, an SSH joiner watches (openPair, as latency);
//   - ssh→web: new@ types, a browser that joined with the code watches its
//     typed frames;
//   - web→ssh: a browser that joined types, the SSH creator watches.
//
// The first o.measure rooms of each kind are timed.
func runWeb(l launcher, o *opts) (*WebRun, error) {
	l.web = true
	srv, err := l.start(o.linger)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	R, m := o.rooms, min(o.measure, o.rooms)
	run := &WebRun{Server: l.kind, TypingRun: TypingRun{Rooms: R, Measured: m, Rate: o.rate, Typing: o.typing},
		SSHSessions: 2*R + 2*R, WebSessions: 2 * R}
	base := mustSample(srv.pid)
	setup := time.Now()
	w := &webRooms{}
	defer w.close()
	if err := w.open(srv, o, run, base); err != nil {
		return nil, err
	}
	sshssh, err := pairFlow(l.kind, w.pairs, m)
	if err != nil {
		return nil, err
	}
	sshweb := w.sshToWeb(R, m)
	webssh, err := w.webToSSH(l.kind, R, m)
	if err != nil {
		return nil, err
	}
	run.SetupSeconds = round(time.Since(setup).Seconds(), 2)

	progress("web: typing %.1f keys/s in each of %d rooms (%d of each kind) for %v", o.rate, 3*R, R, o.duration)
	var s0, sEnd usage
	ty := typeFlows([]*flow{sshssh, sshweb, webssh}, o, func(end bool) {
		if !end {
			if o.profile != "" {
				srv.control("heap web-before")
				srv.control("cpu web")
			}
			s0 = mustSample(srv.pid)
			return
		}
		sEnd = mustSample(srv.pid)
		if o.profile != "" {
			srv.control("stop")
			srv.control("heap web-after")
		}
	})
	run.SSHToSSH, run.SSHToWeb, run.WebToSSH = sshssh.direction(), sshweb.direction(), webssh.direction()
	run.record(ty, s0, sEnd)
	return run, nil
}

// webRooms is what the web scenario opens: R SSH↔SSH pairs, and 2R rooms
// opened over SSH that browsers joined (tabs[i] in creators[i]'s room).
// creators[:R] type to their browser; creators[R:] watch theirs (the first
// m of those decode their screens).
type webRooms struct {
	pairs    []*pair
	creators []*term
	tabs     []*tab
}

// open opens every room, R = run.Rooms of each kind, and sets run's
// memory figures from samples taken between the steps. What it opened,
// even on error, close closes.
func (w *webRooms) open(srv *server, o *opts, run *WebRun, base usage) error {
	R, m := run.Rooms, run.Measured
	progress("web: opening %d SSH↔SSH rooms (%d decoded)", R, m)
	var err error
	if w.pairs, err = openPairs(srv, o, R, func(i int) bool { return i < m }); err != nil {
		return err
	}
	s1 := mustSample(srv.pid)
	run.RSSPerSSHSessionKB = round(float64(s1.rssKB-base.rssKB)/float64(2*R), 1)

	progress("web: opening %d rooms over SSH for browsers to join", 2*R)
	w.creators = make([]*term, 2*R)
	codes := make([]string, 2*R)
	err = forEach(2*R, o.dialConc, func(i int) error {
		a, code, err := openCreator(srv, o, i >= R && i-R < m)
		w.creators[i], codes[i] = a, code
		return err
	})
	if err != nil {
		return err
	}
	s2 := mustSample(srv.pid)
	if err := w.join(srv.found[1], codes, o); err != nil {
		return err
	}
	for _, a := range w.creators[R : R+m] {
		if _, err := a.waitText("2 of 2 here", 0); err != nil {
			return err
		}
	}
	s3 := mustSample(srv.pid)
	run.RSSKB = s3.rssKB
	run.RSSPerWebSessionKB = round(float64(s3.rssKB-s2.rssKB)/float64(2*R), 1)
	return nil
}

// join has a browser join each room by its code, over WebSocket at webAddr.
func (w *webRooms) join(webAddr string, codes []string, o *opts) error {
	progress("web: %d browsers joining them over WebSocket", len(codes))
	w.tabs = make([]*tab, len(codes))
	return forEach(len(codes), o.dialConc, func(i int) error {
		t, err := dialWeb(webAddr, "join", codes[i])
		if err != nil {
			return fmt.Errorf("browser joining %s: %w", codes[i], err)
		}
		w.tabs[i] = t
		if len(t.others) != 1 {
			return fmt.Errorf("browser joined %s with %d others, want 1", codes[i], len(t.others))
		}
		return nil
	})
}

// close hangs up the browsers, then the SSH sessions.
func (w *webRooms) close() {
	closeTabs(w.tabs)
	closeAll(w.creators)
	closePairs(w.pairs)
}

// sshToWeb is the flow of creators[:R], typing to browsers; the first m
// browsers are timed on their typed frames.
func (w *webRooms) sshToWeb(R, m int) *flow {
	fl := &flow{}
	for i, a := range w.creators[:R] {
		fl.typists = append(fl.typists, a)
		if i < m {
			tr, peer := &tracker{}, w.tabs[i].others[0]
			w.tabs[i].setWatch(func(f *wsFrame, now time.Time) {
				// Frames come in order: the newest character of each says
				// which keystrokes it brought.
				if f.T == "typed" && f.ID == peer && f.S != "" {
					tr.saw(f.S[len(f.S)-1], now)
				}
			})
			fl.trackers = append(fl.trackers, tr)
		}
	}
	tabs := w.tabs
	fl.peerBytes = func() (n int64) {
		for _, t := range tabs[:m] {
			n += t.received.Load()
		}
		return n
	}
	return fl
}

// webToSSH is the flow of the browsers in creators[R:]'s rooms, typing to
// them; the first m creators are timed on their decoded screens.
func (w *webRooms) webToSSH(kind string, R, m int) (*flow, error) {
	f := &flow{peerBytes: termBytes(w.creators[R : R+m])}
	for i, t := range w.tabs[R:] {
		f.typists = append(f.typists, t)
		if i < m {
			tr, err := watchScreen(kind, w.creators[R+i])
			if err != nil {
				return nil, err
			}
			f.trackers = append(f.trackers, tr)
		}
	}
	return f, nil
}

// record sets run's load and CPU figures from a typing period, s0 and s1
// being the server's samples on either side of it, and the ratios of its
// directions (already set) to the SSH↔SSH baseline.
func (run *WebRun) record(ty typing, s0, s1 usage) {
	elapsed := s1.at.Sub(s0.at)
	run.Seconds = round(elapsed.Seconds(), 2)
	run.Keys, run.SendErrors = ty.keys, ty.errs
	run.KeysPerSec = round(float64(ty.keys)/elapsed.Seconds(), 1)
	b := run.SSHToSSH.Latency
	run.WebToSSHP50Ratio = ratio(run.WebToSSH.Latency.P50, b.P50)
	run.WebToSSHP99Ratio = ratio(run.WebToSSH.Latency.P99, b.P99)
	run.SSHToWebP50Ratio = ratio(run.SSHToWeb.Latency.P50, b.P50)
	run.SSHToWebP99Ratio = ratio(run.SSHToWeb.Latency.P99, b.P99)
	run.ServerCPUPct = round(100*float64(s1.cpu-s0.cpu)/float64(elapsed), 1)
	run.ClientCPUPct = round(100*float64(ty.clientCPU)/float64(ty.elapsed), 1)
	run.MachineBusyPct = ty.machineBusyPct
	run.OtherBusyPct = round(max(0, run.MachineBusyPct-run.ServerCPUPct-run.ClientCPUPct), 1)
	if ty.keys > 0 {
		run.CPUPerKeyUS = round(float64((s1.cpu-s0.cpu).Microseconds())/float64(ty.keys), 1)
	}
}
