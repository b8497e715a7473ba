package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hush-chat/hush/internal/wait"
)

func TestTrackerMatchesNewestCharacter(t *testing.T) {
	tr := &tracker{}
	t0 := time.Now()
	for range 3 {
		tr.next()
	}
	// The screen shows keystrokes 0 and 1 at once: both arrive then.
	tr.saw(alphabet[1], t0.Add(time.Millisecond))
	if tr.recv != 2 || len(tr.lat) != 2 {
		t.Fatalf("recv %d, %d latencies; want 2, 2", tr.recv, len(tr.lat))
	}
	// The same newest character again changes nothing.
	tr.saw(alphabet[1], t0.Add(2*time.Millisecond))
	if tr.recv != 2 {
		t.Fatalf("recv %d after a repeat, want 2", tr.recv)
	}
	// A character nobody typed yet (something else on screen) is ignored.
	tr.saw(alphabet[10], t0.Add(3*time.Millisecond))
	if tr.recv != 2 {
		t.Fatalf("recv %d after a stray character, want 2", tr.recv)
	}
	// A character outside the alphabet is ignored too.
	tr.saw(' ', t0)
	tr.saw(alphabet[2], t0.Add(4*time.Millisecond))
	if tr.recv != 3 || tr.pending() != 0 {
		t.Fatalf("recv %d pending %d, want 3 and 0", tr.recv, tr.pending())
	}
}

func TestTrackerWrapsAroundTheAlphabet(t *testing.T) {
	tr := &tracker{}
	n := len(alphabet) + 5
	for i := range n {
		c := tr.next()
		tr.saw(c, time.Now())
		if tr.recv != i+1 {
			t.Fatalf("keystroke %d (%q): recv %d", i, c, tr.recv)
		}
	}
	if tr.overrun != 0 || len(tr.lat) != n {
		t.Fatalf("overrun %d, %d latencies", tr.overrun, len(tr.lat))
	}
}

func TestDist(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := dist(d)
	if got.N != 100 || got.P50 != 50 || got.P90 != 90 || got.P99 != 99 || got.Max != 100 {
		t.Fatalf("dist = %+v", got)
	}
	if z := dist(nil); z.N != 0 {
		t.Fatalf("empty dist = %+v", z)
	}
}

func TestFlagsRefuseUnboundedRuns(t *testing.T) {
	for _, args := range [][]string{
		{"-scenario", "forever"},
		{"-rooms", "0"},
		{"-rate", "0"},
		{"-duration", "1h"},
		{"-idle", "1000000"},
		{"-conc", "0"},
		{"-typing", "fast"},
	} {
		if _, err := parseFlags(args, discard{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	o, err := parseFlags(nil, discard{})
	if err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if o.typing != typingSteady {
		t.Fatalf("default typing %q, want steady", o.typing)
	}
	if o, err := parseFlags([]string{"-typing", "bursts"}, discard{}); err != nil || o.typing != typingBursts {
		t.Fatalf("-typing bursts: %+v, %v", o, err)
	}
}

// Steady typing waits one period before every key.
func TestSteadyGaps(t *testing.T) {
	next := gaps(typingSteady, 200*time.Millisecond, 7)
	for range 100 {
		if d := next(); d != 200*time.Millisecond {
			t.Fatalf("steady gap %v", d)
		}
	}
}

// Bursts are words of 2–5 keys a few ms apart with pauses of 20–60 ms
// between them, the same for the same seed.
func TestBurstGaps(t *testing.T) {
	next := gaps(typingBursts, 200*time.Millisecond, 7)
	var ds []time.Duration
	words, keys := 0, 0
	word := 0
	for i := range 10000 {
		d := next()
		ds = append(ds, d)
		switch {
		case d >= burstPauseMin && d <= burstPauseMax:
			if i > 0 && (word < burstMinWord || word > burstMaxWord) {
				t.Fatalf("a word of %d keys", word)
			}
			words++
			word = 1
		case d >= burstKeyGapMin && d <= burstKeyGapMax:
			if i == 0 {
				t.Fatal("the first key is not after a pause")
			}
			word++
		default:
			t.Fatalf("gap %v is neither a key gap nor a pause", d)
		}
		keys++
	}
	if per := float64(keys) / float64(words); per < 3 || per > 4 {
		t.Fatalf("%.2f keys a word on average, want about 3.5", per)
	}
	again := gaps(typingBursts, 200*time.Millisecond, 7)
	for i, d := range ds {
		if got := again(); got != d {
			t.Fatalf("gap %d: %v, then %v with the same seed", i, d, got)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// A server flag is found by its whole name, never inside a longer one.
func TestHasFlagWholeNames(t *testing.T) {
	help := "Usage of hush:\n  -server-wrong-codes-per-minute int\n    \twrong room codes a minute\n  -wrong-codes int\n    \tcodes one address may try\n"
	for name, want := range map[string]bool{
		"server-wrong-codes-per-minute": true,
		"wrong-codes":                   true,
		"wrong-codes-per-minute":        false,
		"codes":                         false,
	} {
		if got := hasFlag(help, name); got != want {
			t.Errorf("hasFlag(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFlagsNewScenarios(t *testing.T) {
	for _, sc := range []string{"web", "cluster"} {
		o, err := parseFlags([]string{"-scenario", sc, "-nats-server", "/x/nats-server"}, discard{})
		if err != nil || o.scenario != sc || o.natsServer != "/x/nats-server" {
			t.Fatalf("-scenario %s: %+v, %v", sc, o, err)
		}
	}
	if o, _ := parseFlags(nil, discard{}); o.scenario != "all" {
		t.Fatalf("default scenario %q, want all", o.scenario)
	}
}

// JetStream writes are read off /jsz: the last sequence of each bucket's
// stream, summed over accounts; other streams do not count.
func TestKVWritesFromJsz(t *testing.T) {
	const before = `{"server_id":"X","streams":3,"account_details":[{"name":"$G","id":"$G",
		"stream_detail":[
			{"name":"KV_hush_rooms","state":{"messages":4,"last_seq":10}},
			{"name":"KV_hush_leases","state":{"messages":2,"last_seq":7}},
			{"name":"ORDERS","state":{"messages":9,"last_seq":900}}]}]}`
	const after = `{"server_id":"X","streams":4,"account_details":[{"name":"$G","id":"$G",
		"stream_detail":[
			{"name":"KV_hush_rooms","state":{"messages":4,"last_seq":13}},
			{"name":"KV_hush_leases","state":{"messages":2,"last_seq":9}},
			{"name":"KV_hush_wrong_codes","state":{"messages":1,"last_seq":1}},
			{"name":"ORDERS","state":{"messages":9,"last_seq":1900}}]}]}`
	var j0, j1 jsz
	if err := json.Unmarshal([]byte(before), &j0); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(after), &j1); err != nil {
		t.Fatal(err)
	}
	d, sum := kvWrites(j0.kvSeqs(), j1.kvSeqs())
	want := map[string]uint64{"KV_hush_rooms": 3, "KV_hush_leases": 2, "KV_hush_wrong_codes": 1}
	if sum != 6 || len(d) != len(want) {
		t.Fatalf("writes %v, sum %d; want %v, 6", d, sum, want)
	}
	for k, v := range want {
		if d[k] != v {
			t.Fatalf("writes %v, want %v", d, want)
		}
	}
}

// At rest, half the rooms span the nodes and each node holds half the
// sessions.
func TestIdleLayoutSpreadsRooms(t *testing.T) {
	var sessions [2]int
	cross := 0
	const rooms = 5000
	for i := range rooms {
		x, y := idleLayout(i)
		sessions[x]++
		sessions[y]++
		if x != y {
			cross++
		}
	}
	if cross != rooms/2 || sessions[0] != rooms || sessions[1] != rooms {
		t.Fatalf("%d cross rooms, sessions %v", cross, sessions)
	}
}

// A tab says hello, is seated, types one frame per key, and matches the
// peer's typed frames with its tracker, against a stand-in for hush's web
// front end.
func TestTabSpeaksTheProtocol(t *testing.T) {
	hellos := make(chan map[string]string, 1)
	got := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			http.NotFound(w, r)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		var hello map[string]string
		_, b, err := c.Read(ctx)
		if err != nil || json.Unmarshal(b, &hello) != nil {
			return
		}
		hellos <- hello
		seated := `{"t":"seated","code":"abcd-efgh-ijkl","seats":2,"p":{"id":2,"name":"x"},"others":[{"id":1,"name":"y"}]}`
		if c.Write(ctx, websocket.MessageText, []byte(seated)) != nil {
			return
		}
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var f struct{ T, S string }
			if json.Unmarshal(b, &f) != nil || f.T != "type" {
				return
			}
			got <- f.S
			// Its own echo, and the peer typing the same key back.
			typed, _ := json.Marshal(map[string]any{"t": "typed", "id": 1, "s": f.S})
			if c.Write(ctx, websocket.MessageText, []byte(`{"t":"own","s":"?"}`)) != nil ||
				c.Write(ctx, websocket.MessageText, typed) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	tb, err := dialWeb(strings.TrimPrefix(srv.URL, "http://"), "join", "abcd-efgh-ijkl")
	if err != nil {
		t.Fatal(err)
	}
	defer tb.close()
	if hello := <-hellos; hello["t"] != "hello" || hello["op"] != "join" || hello["code"] != "abcd-efgh-ijkl" {
		t.Fatalf("hello %v", hello)
	}
	if tb.self != 2 || len(tb.others) != 1 || tb.others[0] != 1 {
		t.Fatalf("seated as %d with %v", tb.self, tb.others)
	}
	tr := &tracker{}
	tb.setWatch(func(f *wsFrame, now time.Time) {
		if f.T == "typed" && f.ID == 1 && f.S != "" {
			tr.saw(f.S[len(f.S)-1], now)
		}
	})
	const n = 100 // more than the alphabet: it wraps
	for range n {
		if err := tb.send(string(tr.next())); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if s := <-got; s != alphabet[i%len(alphabet):i%len(alphabet)+1] {
			t.Fatalf("key %d arrived as %q", i, s)
		}
	}
	wait.Poll(5*time.Second, func() bool { return tr.pending() == 0 })
	if tr.pending() != 0 || len(tr.lat) != n {
		t.Fatalf("%d pending, %d timed", tr.pending(), len(tr.lat))
	}
}

// Binaries for the smoke tests, built once (linking takes seconds on two
// cores).
var smokeBin struct {
	once        sync.Once
	dir         string
	hush, natsd string
	err         error
}

func smokeBinaries(t *testing.T) (hush, natsd string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds hush and nats-server and runs them")
	}
	smokeBin.once.Do(func() {
		repo, err := findRepo()
		if err != nil {
			smokeBin.err = err
			return
		}
		if smokeBin.dir, smokeBin.err = os.MkdirTemp("", "hushload-test-bin-"); smokeBin.err != nil {
			return
		}
		if smokeBin.hush, smokeBin.err = buildHush(repo, smokeBin.dir, false); smokeBin.err != nil {
			return
		}
		smokeBin.natsd, smokeBin.err = buildNATS(repo, smokeBin.dir)
	})
	if smokeBin.err != nil {
		t.Fatal(smokeBin.err)
	}
	return smokeBin.hush, smokeBin.natsd
}

func TestMain(m *testing.M) {
	code := m.Run()
	if smokeBin.dir != "" {
		os.RemoveAll(smokeBin.dir)
	}
	os.Exit(code)
}

// smoke runs one scenario briefly with real servers and returns its report.
func smoke(t *testing.T, args ...string) *Report {
	t.Helper()
	hush, natsd := smokeBinaries(t)
	args = append([]string{"-server", hush, "-nats-server", natsd, "-quiet-wait", "0", "-q",
		"-rooms", "2", "-measure", "2", "-rate", "20", "-duration", "1s"}, args...)
	o, err := parseFlags(args, discard{})
	if err != nil {
		t.Fatal(err)
	}
	quiet.Store(true)
	defer func() { quietWait = 30 * time.Second }()
	rep, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printReport(&b, rep)
	t.Log("\n" + b.String())
	return rep
}

// Browsers and terminals type at each other through one real server; every
// direction has its samples and nothing is lost.
func TestSmokeWeb(t *testing.T) {
	rep := smoke(t, "-scenario", "web")
	v := rep.Web
	for name, d := range map[string]Direction{"ssh→ssh": v.SSHToSSH, "ssh→web": v.SSHToWeb, "web→ssh": v.WebToSSH} {
		if d.Latency.N < 20 || d.Lost != 0 || d.PeerBytesPerKey <= 0 {
			t.Errorf("%s: %+v", name, d)
		}
	}
	if v.WebToSSHP99Ratio <= 0 || v.SSHToWebP99Ratio <= 0 || v.SendErrors != 0 {
		t.Errorf("ratios %v %v, %d send errors", v.WebToSSHP99Ratio, v.SSHToWebP99Ratio, v.SendErrors)
	}
}

// Two real nodes on a real nats-server: rooms on one node and across both
// are timed, and at rest the buckets take the lease renewals and little
// else.
func TestSmokeCluster(t *testing.T) {
	rep := smoke(t, "-scenario", "cluster", "-idle", "8", "-settle", "0s", "-idle-for", "1s")
	c := rep.Cluster
	for name, d := range map[string]Direction{"same": c.Latency.Same, "cross": c.Latency.Cross} {
		if d.Latency.N < 20 || d.Lost != 0 {
			t.Errorf("%s node: %+v", name, d)
		}
	}
	if c.Latency.NATSMsgsInPerCrossKey < 1 {
		t.Errorf("%.2f NATS messages per cross-node key, want at least one", c.Latency.NATSMsgsInPerCrossKey)
	}
	i := c.Idle
	if i.Sessions != 8 || i.CrossRooms != 2 || i.Nodes[0].Sessions != 4 || i.Nodes[1].Sessions != 4 {
		t.Errorf("idle layout: %+v", i)
	}
	if i.KVWritesPerSec >= 100 {
		t.Errorf("%.1f KV writes/s at rest", i.KVWritesPerSec)
	}
}

// A small lobby on a real server: every timed typist's keys are seen on
// its watcher's screen, the lobby's bytes reach everyone in it, and the
// same typists in rooms give the ratios (the relay is this binary
// re-executed, so it is left out).
func TestSmokeLobby(t *testing.T) {
	rep := smoke(t, "-scenario", "lobby", "-baseline=false", "-lobby", "6", "-typists", "2", "-rate", "10", "-linger", "1s")
	c := rep.Lobby
	if c == nil || c.Lobby == nil || c.Room == nil || c.Relay != nil {
		t.Fatalf("lobby report: %+v", c)
	}
	l := c.Lobby
	// Two typists share a guest name once in thousands of runs; then only
	// one of them is timed.
	if l.People != 6 || l.Typists != 2 || l.Measured < 1 || l.ScreenRows < 22 {
		t.Errorf("lobby layout: %+v", l)
	}
	if l.Latency.N < 5*l.Measured || l.Lost != 0 || l.SendErrors != 0 || l.PeerBytesPerKey <= 0 {
		t.Errorf("lobby: %+v", l)
	}
	// Everyone in the lobby sees every key: more bytes go out per key than
	// to one screen.
	if l.AllBytesPerKey <= l.PeerBytesPerKey {
		t.Errorf("lobby: %.1f bytes per key to all, %.1f to one screen", l.AllBytesPerKey, l.PeerBytesPerKey)
	}
	if r := c.Room; r.Rooms != 2 || r.Latency.N < 10 || r.Lost != 0 {
		t.Errorf("rooms: %+v", r)
	}
	if c.P99LobbyToRoom <= 0 {
		t.Errorf("p99 lobby / rooms = %v", c.P99LobbyToRoom)
	}
}

// A lane is found by its label at the start of a row, not by the list's
// indented rows or your own label, wherever it has moved to; its text
// runs to the next label.
func TestLaneWatchFindsTheLane(t *testing.T) {
	e := newEmulator(40, 12)
	draw := func(rows ...string) {
		_, _ = e.WriteString("\x1b[2J\x1b[H" + strings.Join(rows, "\r\n"))
	}
	draw("hush · lobby · 3 here",
		"  ● guest-calm-owl · guest, no key",
		"  ● guest-calm-ox · guest, no key",
		"● guest-calm-ox · guest, no key",
		"  abc",
		"● guest-calm-owl · guest, no key",
		"  xyz",
		"  ABC",
		"● guest-calm-owl · guest, no key · you")
	owl := &laneWatch{name: "guest-calm-owl", top: -1}
	if top, bottom := owl.find(e); top != 6 || bottom != 8 || lastChar(e, top, bottom) != 'C' {
		t.Fatalf("owl's lane: rows %d..%d", top, bottom)
	}
	ox := &laneWatch{name: "guest-calm-ox", top: -1}
	if top, bottom := ox.find(e); top != 4 || bottom != 5 || lastChar(e, top, bottom) != 'c' {
		t.Fatalf("ox's lane: rows %d..%d", top, bottom)
	}
	if top, _ := (&laneWatch{name: "guest-calm", top: -1}).find(e); top != -1 {
		t.Fatalf("a prefix of a name found a lane at row %d", top)
	}
	// The owl's lane moves up when the ox's text fades.
	draw("hush · lobby · 3 here",
		"  ● guest-calm-owl · guest, no key",
		"  ● guest-calm-ox · guest, no key",
		"● guest-calm-owl · guest, no key",
		"  xyz!",
		"",
		"● guest-calm-owl · guest, no key · you")
	if top, bottom := owl.find(e); top != 4 || lastChar(e, top, bottom) != '!' {
		t.Fatalf("owl's lane after the move: rows %d..%d", top, bottom)
	}
	if top, _ := ox.find(e); top != -1 {
		t.Fatalf("ox's faded lane found at row %d", top)
	}
}

func TestLobbyFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-lobby", "1"},
		{"-lobby", "3000"},
		{"-typists", "0"},
		{"-typists", "41"},
		{"-lobby", "5", "-typists", "5"},
		{"-typing", "bursts"},
		{"-rate", "16"},                                 // over half of hush's default --key-rate 30
		{"-rate", "6", "-server-args", "--key-rate 10"}, // over half of 10
	} {
		if _, err := parseFlags(append([]string{"-scenario", "lobby"}, args...), discard{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	o, err := parseFlags([]string{"-scenario", "lobby", "-rate", "20", "-server-args", "--key-rate=40"}, discard{})
	if err != nil || o.lobby != 200 || o.typists != 20 {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
}

// Connect, latency (with the fading room) and idle, briefly, with a real
// server (the relay is this binary re-executed, so it is left out:
// -baseline=false): every figure the table shows for hush is there.
func TestSmokeConnectLatencyIdle(t *testing.T) {
	rep := smoke(t, "-scenario", "connect", "-baseline=false", "-connect", "40", "-conc", "2", "-first", "20")
	if c := rep.Connect.Hush; c.Serial.N != 20 || c.Loaded.N != 40 || c.Errors != 0 {
		t.Errorf("connect: %+v", c)
	}
	rep = smoke(t, "-scenario", "latency", "-baseline=false", "-linger", "1s")
	l := rep.Latency.Hush
	if l.Latency.N < 20 || l.Lost != 0 || l.SendErrors != 0 || l.PeerBytesPerKey <= 0 {
		t.Errorf("latency: %+v", l)
	}
	if l.FadeSteps == 0 {
		t.Errorf("latency: no fade steps seen: %+v", l)
	}
	rep = smoke(t, "-scenario", "idle", "-baseline=false", "-idle", "4", "-settle", "0s", "-idle-for", "1s")
	if i := rep.Idle.Hush; i.Sessions != 4 || i.RSSKB <= 0 {
		t.Errorf("idle: %+v", i)
	}
}
