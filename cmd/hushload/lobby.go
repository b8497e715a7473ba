package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/vt"
)

// defaultKeyRate is hush's --key-rate when -server-args does not set one;
// the lobby's budget is half of it (talk.Hub.place).
const defaultKeyRate = 30

// LobbyRun is one lobby under typing load: -lobby people in it, -typists
// of them typing, each timed on one silent person's decoded screen.
type LobbyRun struct {
	People     int     `json:"people"`
	Typists    int     `json:"typists"`
	Measured   int     `json:"measured_typists"`
	ScreenRows int     `json:"timed_screen_rows"` // the timed screens' height: every typist's lane fits
	Rate       float64 `json:"keys_per_sec_per_typist"`
	// Typed's screen figures are per key typed by anyone: every lobby
	// screen shows every typist, where a room's peer shows one.
	Typed
}

// LobbyCompare is the lobby scenario: the lobby, the same typists in rooms
// of two on hush, and on the relay, all in one run, with the ratios.
type LobbyCompare struct {
	Lobby *LobbyRun   `json:"lobby"`
	Room  *LatencyRun `json:"room"`
	Relay *LatencyRun `json:"relay,omitempty"`
	// p99 and CPU per key, lobby against rooms, and each against the relay.
	P99LobbyToRoom  float64 `json:"p99_lobby_to_room"`
	P99LobbyToRelay float64 `json:"p99_lobby_to_relay,omitempty"`
	P99RoomToRelay  float64 `json:"p99_room_to_relay,omitempty"`
	CPULobbyToRoom  float64 `json:"cpu_per_key_lobby_to_room"`
	CPULobbyToRelay float64 `json:"cpu_per_key_lobby_to_relay,omitempty"`
	CPURoomToRelay  float64 `json:"cpu_per_key_room_to_relay,omitempty"`
}

// lobbyKeyBudget is the keys a second one person may type in the lobby:
// half of the server's --key-rate, from -server-args or hush's default.
func lobbyKeyBudget(serverArgs string) float64 {
	rate := float64(defaultKeyRate)
	f := strings.Fields(serverArgs)
	for i, a := range f {
		name, val, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "key-rate" || !strings.HasPrefix(a, "-") {
			continue
		}
		if !ok && i+1 < len(f) {
			val = f[i+1]
		}
		if r, err := strconv.ParseFloat(val, 64); err == nil && r > 0 {
			rate = r
		}
	}
	return rate / 2
}

// lobbyRows is the height of a timed lobby screen: tall enough that the
// list (half the body at most) leaves every typist's lane and yours a
// label and two rows of text, so no lane is cut off the screen.
func lobbyRows(o *opts) int { return max(o.height, 4*o.typists+14) }

// compareLobby runs the relay (with -baseline) and hush with the typists
// in rooms of two, then hush with them in the lobby, and sets the ratios.
func compareLobby(rep *Report, hush, relay launcher, o *opts) error {
	ro := *o
	ro.rooms, ro.measure = o.typists, min(o.measure, o.typists)
	c := &LobbyCompare{}
	rep.Lobby = c
	var err error
	if o.baseline {
		if c.Relay, err = runLatency(relay, &ro); err != nil {
			return fmt.Errorf("lobby, relay: %w", err)
		}
	}
	if c.Room, err = runLatency(hush, &ro); err != nil {
		return fmt.Errorf("lobby, rooms: %w", err)
	}
	if c.Lobby, err = runLobby(hush, o); err != nil {
		return fmt.Errorf("lobby: %w", err)
	}
	c.P99LobbyToRoom = ratio(c.Lobby.Latency.P99, c.Room.Latency.P99)
	c.CPULobbyToRoom = ratio(c.Lobby.CPUPerKeyUS, c.Room.CPUPerKeyUS)
	if r := c.Relay; r != nil {
		c.P99LobbyToRelay = ratio(c.Lobby.Latency.P99, r.Latency.P99)
		c.P99RoomToRelay = ratio(c.Room.Latency.P99, r.Latency.P99)
		c.CPULobbyToRelay = ratio(c.Lobby.CPUPerKeyUS, r.CPUPerKeyUS)
		c.CPURoomToRelay = ratio(c.Room.CPUPerKeyUS, r.CPUPerKeyUS)
	}
	return nil
}

// runLobby fills a fresh server's lobby with o.lobby people, has o.typists
// of them type at o.rate for o.duration, and times each typist's keys on
// one silent person's decoded screen.
func runLobby(l launcher, o *opts) (*LobbyRun, error) {
	l.extra = append(append([]string(nil), l.extra...), "--lobby-size", strconv.Itoa(max(o.lobby, 200)))
	srv, err := l.start(o.linger)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	base := mustSample(srv.pid)
	setup := time.Now()
	lr, err := openLobby(srv, o)
	if err != nil {
		return nil, err
	}
	defer closeAll(lr.all)
	setupSeconds := round(time.Since(setup).Seconds(), 2)
	after := mustSample(srv.pid)

	// The rig types on each pair's a (the typists, timed ones first) and
	// reads the timed ones' b.
	rig := &latencyRig{trackers: lr.trackers}
	for i, t := range lr.typists {
		p := &pair{a: t, b: t}
		if i < len(lr.watchers) {
			p.b = lr.watchers[i]
		}
		rig.pairs = append(rig.pairs, p)
	}
	to := *o
	to.rooms = o.typists // typeAll's count, in its progress line
	to.profile = ""      // profiled here, under the lobby's own names
	if o.profile != "" {
		srv.control("heap lobby-before")
		srv.control("cpu lobby")
	}
	all0, w0, r0 := received(lr.all), received(lr.watchers), reads(lr.watchers)
	ty := rig.typeAll(srv, "hush lobby", &to)
	if o.profile != "" {
		srv.control("stop")
		srv.control("heap lobby-after")
	}
	rig.settle()
	var lat LatencyRun
	rig.record(&lat, ty)
	all1, w1, r1 := received(lr.all), received(lr.watchers), reads(lr.watchers)

	run := &LobbyRun{
		People: o.lobby, Typists: o.typists, Measured: len(lr.trackers), ScreenRows: lobbyRows(o), Rate: o.rate,
		Typed: lat.Typed, // what rooms' typing measures, measured the same way
	}
	run.SetupSeconds = setupSeconds
	run.RSSKB, run.RSSPerSessionKB = after.rssKB, round(float64(after.rssKB-base.rssKB)/float64(o.lobby), 1)
	if lat.Keys > 0 {
		perScreen := float64(lat.Keys) * float64(len(lr.watchers))
		run.PeerBytesPerKey = round(float64(w1-w0)/perScreen, 1)
		run.PeerReadsPerKey = round(float64(r1-r0)/perScreen, 2)
		run.AllBytesPerKey = round(float64(all1-all0)/float64(lat.Keys), 1)
	}
	return run, nil
}

func received(terms []*term) (n int64) {
	for _, t := range terms {
		n += t.received.Load()
	}
	return n
}

func reads(terms []*term) (n int64) {
	for _, t := range terms {
		n += t.reads.Load()
	}
	return n
}

// lobbyRig is everyone in the lobby: the typists (timed ones first), the
// silent people watching them (watchers[i] times typists[i]), and all.
type lobbyRig struct {
	typists  []*term
	watchers []*term
	trackers []*tracker
	all      []*term
}

// openLobby seats o.lobby people in the lobby: o.typists who read their
// names off their screens and then only count bytes, the watchers with
// tall decoded screens, and the rest counting bytes. Everyone waits until
// the watchers see the whole lobby. A typist whose name another typist
// also has is typed with but not timed (its lane could not be told
// apart). On error, nothing is left open.
func openLobby(srv *server, o *opts) (_ *lobbyRig, err error) {
	silent := o.lobby - o.typists
	watch := min(o.measure, o.typists, silent)
	rows := lobbyRows(o)
	progress("hush: seating %d people in the lobby (%d typing, %d screens of %d rows decoded)", o.lobby, o.typists, watch, rows)
	terms := make([]*term, o.lobby)
	names := make([]string, o.typists)
	defer func() {
		if err != nil {
			closeAll(terms)
		}
	}()
	err = forEach(o.lobby, o.dialConc, func(i int) error {
		var emu *vt.Emulator
		h := o.height
		switch {
		case i < o.typists:
			emu = newEmulator(o.width, h)
		case i < o.typists+watch:
			h = rows
			emu = newEmulator(o.width, h)
		}
		t, err := dial(srv.addr, "lobby", o.width, h, emu)
		if err != nil {
			return fmt.Errorf("dial lobby@: %w", err)
		}
		terms[i] = t
		if _, err := t.waitText(" · lobby · ", 0); err != nil {
			return err
		}
		if i < o.typists {
			if names[i], err = ownName(t); err != nil {
				return err
			}
			t.mu.Lock()
			t.emu = nil // from now on only count bytes, as background typists do
			t.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	here := fmt.Sprintf(" · lobby · %d here", o.lobby)
	for _, t := range terms[o.typists : o.typists+watch] {
		if _, err := t.waitText(here, 0); err != nil {
			return nil, err
		}
	}

	// Timed typists first: those whose names are theirs alone.
	count := make(map[string]int)
	for _, n := range names {
		count[n]++
	}
	lr := &lobbyRig{all: terms}
	var untimed []*term
	for i, t := range terms[:o.typists] {
		if count[names[i]] > 1 || len(lr.watchers) == watch {
			untimed = append(untimed, t)
			continue
		}
		w := terms[o.typists+len(lr.watchers)]
		tr := &tracker{}
		lw := &laneWatch{name: names[i], top: -1}
		w.setWatch(func(now time.Time) {
			if top, bottom := lw.find(w.emu); top >= 0 {
				tr.saw(lastChar(w.emu, top, bottom), now)
			}
		})
		lr.typists = append(lr.typists, t)
		lr.watchers = append(lr.watchers, w)
		lr.trackers = append(lr.trackers, tr)
	}
	if len(lr.trackers) == 0 {
		return nil, errors.New("no typist has a name of its own to be timed by")
	}
	lr.typists = append(lr.typists, untimed...)
	return lr, nil
}

// ownName reads the name off your own lane's label in the lobby:
// "● NAME · guest, no key · you".
func ownName(t *term) (string, error) {
	if _, err := t.waitText("· you", -1); err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for y := range t.emu.Height() {
		line := rowText(t.emu, y)
		if rest, ok := strings.CutPrefix(line, "● "); ok && strings.Contains(line, "· you") {
			name, _, _ := strings.Cut(rest, " ")
			if name != "" {
				return name, nil
			}
		}
	}
	return "", fmt.Errorf("no name on the lobby screen:\n%s", t.emu.String())
}

// laneWatch finds one person's lane on a lobby screen: its label starts
// the row ("● NAME ·", where the list indents its rows), its text runs
// down to the next label. The row it was last found on is tried first.
type laneWatch struct {
	name string
	top  int // the label's row; -1: not seen yet
}

// find returns the rows [top, bottom) of the lane's text, or -1.
func (lw *laneWatch) find(e *vt.Emulator) (top, bottom int) {
	h := e.Height()
	if lw.top < 0 || !lw.isLabel(e, lw.top) {
		lw.top = -1
		for y := range h {
			if lw.isLabel(e, y) {
				lw.top = y
				break
			}
		}
		if lw.top < 0 {
			return -1, -1
		}
	}
	bottom = lw.top + 1
	for bottom < h-1 && !labelAt(e, bottom) {
		bottom++
	}
	return lw.top + 1, bottom
}

func (lw *laneWatch) isLabel(e *vt.Emulator, y int) bool {
	if !labelAt(e, y) {
		return false
	}
	line := rowText(e, y)
	return strings.HasPrefix(line, "● "+lw.name+" ") && !strings.Contains(line, "· you")
}

// labelAt reports whether row y starts with a lane's label.
func labelAt(e *vt.Emulator, y int) bool {
	c := e.CellAt(0, y)
	return c != nil && c.Content == "●"
}

// lobbyFlags checks the lobby scenario's flags: bounded counts, screens an
// emulator can hold, and typing within the lobby's key budget (past it
// keys are dropped, and that is not what is measured).
func lobbyFlags(o *opts) error {
	switch budget := lobbyKeyBudget(o.serverArgs); {
	case o.lobby < 2 || o.lobby > 2000:
		return fmt.Errorf("-lobby %d: want 2..2000", o.lobby)
	case o.typists < 1 || o.typists > 40 || o.typists >= o.lobby:
		return fmt.Errorf("-typists %d: want 1..40, and fewer than -lobby (the silent ones watch)", o.typists)
	case o.typing != typingSteady:
		return fmt.Errorf("-typing %s: the lobby scenario types steadily (bursts exceed the lobby's key budget)", o.typing)
	case o.rate > budget:
		return fmt.Errorf("-rate %v: the lobby's key budget is %v keys/s (half of --key-rate)", o.rate, budget)
	}
	return nil
}

// lobby writes the lobby scenario's section: lobby, rooms and relay side
// by side, then the ratios.
func (t *table) lobby(c *LobbyCompare) {
	l, r := c.Lobby, c.Room
	b := c.Relay
	if b == nil {
		b = &LatencyRun{}
	}
	relay := func(v any) any {
		if c.Relay == nil {
			return "-"
		}
		return v
	}
	t.row(fmt.Sprintf("LOBBY (%d people, %d typing × %g keys/s, %d timed on %d-row screens; rooms: %d of two)", l.People, l.Typists, l.Rate, l.Measured, l.ScreenRows, r.Rooms), "lobby", "rooms", "relay")
	t.row("keystroke→screen p50 (ms)", l.Latency.P50, r.Latency.P50, relay(b.Latency.P50))
	t.row("keystroke→screen p90 (ms)", l.Latency.P90, r.Latency.P90, relay(b.Latency.P90))
	t.row("keystroke→screen p99 (ms)", l.Latency.P99, r.Latency.P99, relay(b.Latency.P99))
	t.row("keystroke→screen max (ms)", l.Latency.Max, r.Latency.Max, relay(b.Latency.Max))
	t.row("samples / lost", fmt.Sprintf("%d / %d", l.Latency.N, l.Lost), fmt.Sprintf("%d / %d", r.Latency.N, r.Lost), relay(fmt.Sprintf("%d / %d", b.Latency.N, b.Lost)))
	t.row("keys/s typed", l.KeysPerSec, r.KeysPerSec, relay(b.KeysPerSec))
	t.row("server CPU (% of one core)", l.ServerCPUPct, r.ServerCPUPct, relay(b.ServerCPUPct))
	t.row("server CPU per key (µs)", l.CPUPerKeyUS, r.CPUPerKeyUS, relay(b.CPUPerKeyUS))
	t.row("bytes to a timed screen per key (lobby: any typist's)", l.PeerBytesPerKey, r.PeerBytesPerKey, relay(b.PeerBytesPerKey))
	t.row("screen updates (reads) there per key", l.PeerReadsPerKey, r.PeerReadsPerKey, relay(b.PeerReadsPerKey))
	t.row("bytes to all clients per key", l.AllBytesPerKey, r.AllBytesPerKey, relay(b.AllBytesPerKey))
	t.row("server RSS per session (KB)", l.RSSPerSessionKB, r.RSSPerSessionKB, relay(b.RSSPerSessionKB))
	t.row("load tool CPU (% of one core)", l.ClientCPUPct, r.ClientCPUPct, relay(b.ClientCPUPct))
	t.row(fmt.Sprintf("whole machine busy (%% of one core, %d cores)", t.cpus), l.MachineBusyPct, r.MachineBusyPct, relay(b.MachineBusyPct))
	t.row("… of which other work (noise)", l.OtherBusyPct, r.OtherBusyPct, relay(b.OtherBusyPct))
	x := func(v float64) string { return fmt.Sprintf("%.2f×", v) }
	t.row("p99: lobby / rooms, lobby / relay, rooms / relay", x(c.P99LobbyToRoom), relay(x(c.P99LobbyToRelay)), relay(x(c.P99RoomToRelay)))
	t.row("CPU per key: lobby / rooms, lobby / relay, rooms / relay", x(c.CPULobbyToRoom), relay(x(c.CPULobbyToRelay)), relay(x(c.CPURoomToRelay)))
	t.row("", "", "", "")
}
