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
	webAddr := srv.found[1]
	R, m := o.rooms, min(o.measure, o.rooms)
	run := &WebRun{Server: l.kind, TypingRun: TypingRun{Rooms: R, Measured: m, Rate: o.rate, Typing: o.typing},
		SSHSessions: 2*R + 2*R, WebSessions: 2 * R}
	base := mustSample(srv.pid)
	setup := time.Now()

	progress("web: opening %d SSH↔SSH rooms (%d decoded)", R, m)
	pairs, err := openPairs(srv, o, R, func(i int) bool { return i < m })
	if err != nil {
		return nil, err
	}
	defer closePairs(pairs)
	s1 := mustSample(srv.pid)
	run.RSSPerSSHSessionKB = round(float64(s1.rssKB-base.rssKB)/float64(2*R), 1)

	// creators[:R] type to a browser; creators[R:] watch one (the first m
	// of those decode their screens).
	progress("web: opening %d rooms over SSH for browsers to join", 2*R)
	creators := make([]*term, 2*R)
	codes := make([]string, 2*R)
	err = forEach(2*R, o.dialConc, func(i int) error {
		a, code, err := openCreator(srv, o, i >= R && i-R < m)
		creators[i], codes[i] = a, code
		return err
	})
	defer closeAll(creators)
	if err != nil {
		return nil, err
	}
	s2 := mustSample(srv.pid)
	progress("web: %d browsers joining them over WebSocket", 2*R)
	tabs := make([]*tab, 2*R)
	err = forEach(2*R, o.dialConc, func(i int) error {
		t, err := dialWeb(webAddr, "join", codes[i])
		if err != nil {
			return fmt.Errorf("browser joining %s: %w", codes[i], err)
		}
		tabs[i] = t
		if len(t.others) != 1 {
			return fmt.Errorf("browser joined %s with %d others, want 1", codes[i], len(t.others))
		}
		return nil
	})
	defer closeTabs(tabs)
	if err != nil {
		return nil, err
	}
	for _, a := range creators[R : R+m] {
		if _, err := a.waitText("2 of 2 here", 0); err != nil {
			return nil, err
		}
	}
	s3 := mustSample(srv.pid)
	run.RSSKB = s3.rssKB
	run.RSSPerWebSessionKB = round(float64(s3.rssKB-s2.rssKB)/float64(2*R), 1)

	sshssh, err := pairFlow(l.kind, pairs, m)
	if err != nil {
		return nil, err
	}

	sshweb := &flow{}
	for i, a := range creators[:R] {
		sshweb.typists = append(sshweb.typists, a)
		if i < m {
			tr, peer := &tracker{}, tabs[i].others[0]
			tabs[i].setWatch(func(f *wsFrame, now time.Time) {
				// Frames come in order: the newest character of each says
				// which keystrokes it brought.
				if f.T == "typed" && f.ID == peer && f.S != "" {
					tr.saw(f.S[len(f.S)-1], now)
				}
			})
			sshweb.trackers = append(sshweb.trackers, tr)
		}
	}
	sshweb.peerBytes = func() (n int64) {
		for _, t := range tabs[:m] {
			n += t.received.Load()
		}
		return n
	}

	webssh := &flow{peerBytes: termBytes(creators[R : R+m])}
	for i, t := range tabs[R:] {
		webssh.typists = append(webssh.typists, t)
		if i < m {
			tr, err := watchScreen(l.kind, creators[R+i])
			if err != nil {
				return nil, err
			}
			webssh.trackers = append(webssh.trackers, tr)
		}
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
	elapsed := sEnd.at.Sub(s0.at)
	run.Seconds = round(elapsed.Seconds(), 2)
	run.Keys, run.SendErrors = ty.keys, ty.errs
	run.KeysPerSec = round(float64(ty.keys)/elapsed.Seconds(), 1)
	run.SSHToSSH, run.SSHToWeb, run.WebToSSH = sshssh.direction(), sshweb.direction(), webssh.direction()
	b := run.SSHToSSH.Latency
	run.WebToSSHP50Ratio = ratio(run.WebToSSH.Latency.P50, b.P50)
	run.WebToSSHP99Ratio = ratio(run.WebToSSH.Latency.P99, b.P99)
	run.SSHToWebP50Ratio = ratio(run.SSHToWeb.Latency.P50, b.P50)
	run.SSHToWebP99Ratio = ratio(run.SSHToWeb.Latency.P99, b.P99)
	run.ServerCPUPct = round(100*float64(sEnd.cpu-s0.cpu)/float64(elapsed), 1)
	run.ClientCPUPct = round(100*float64(ty.clientCPU)/float64(ty.elapsed), 1)
	run.MachineBusyPct = ty.machineBusyPct
	run.OtherBusyPct = round(max(0, run.MachineBusyPct-run.ServerCPUPct-run.ClientCPUPct), 1)
	if ty.keys > 0 {
		run.CPUPerKeyUS = round(float64((sEnd.cpu-s0.cpu).Microseconds())/float64(ty.keys), 1)
	}
	return run, nil
}
