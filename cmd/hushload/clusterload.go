package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// kvStreams are the streams behind hush's JetStream key-value buckets
// (package cluster): a write to a bucket is a message in its stream.
var kvStreams = []string{"KV_hush_rooms", "KV_hush_leases", "KV_hush_wrong_codes"}

var (
	natsClientRE  = regexp.MustCompile(`Listening for client connections on (127\.0\.0\.1:\d+)`)
	natsMonitorRE = regexp.MustCompile(`Starting http monitor on (127\.0\.0\.1:\d+)`)
)

// buildNATS builds nats-server, the version go.mod names, into dir (as
// e2e/cluster_test.go does).
func buildNATS(repo, dir string) (string, error) {
	out := filepath.Join(dir, "nats-server")
	cmd := exec.Command("go", "build", "-o", out, "github.com/nats-io/nats-server/v2")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build nats-server: %w", err)
	}
	return out, nil
}

// startNATS runs nats-server with JetStream on free loopback ports, its
// monitoring endpoint too; s.found is the client address, then the
// monitoring one.
func startNATS(bin string) (*server, error) {
	data, err := os.MkdirTemp("", "hushload-nats-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-js", "-sd", data)
	s, err := startServer("nats", cmd, data, false, natsClientRE, natsMonitorRE)
	if err != nil {
		os.RemoveAll(data)
	}
	return s, err
}

// jsz is what this tool reads of nats-server's /jsz?accounts=true&streams=true.
type jsz struct {
	Accounts []struct {
		Streams []struct {
			Name  string `json:"name"`
			State struct {
				LastSeq uint64 `json:"last_seq"`
			} `json:"state"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

var monitorClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(url string, v any) error {
	resp, err := monitorClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// kvSeqs returns the last sequence number of each of kvStreams: how many
// writes the bucket has taken since it was made (a stream not made yet
// is 0).
func kvSeqs(monitor string) (map[string]uint64, error) {
	var j jsz
	if err := getJSON("http://"+monitor+"/jsz?accounts=true&streams=true", &j); err != nil {
		return nil, err
	}
	return j.kvSeqs(), nil
}

func (j *jsz) kvSeqs() map[string]uint64 {
	seqs := make(map[string]uint64, len(kvStreams))
	for _, name := range kvStreams {
		seqs[name] = 0
	}
	for _, a := range j.Accounts {
		for _, st := range a.Streams {
			if _, ok := seqs[st.Name]; ok {
				seqs[st.Name] += st.State.LastSeq
			}
		}
	}
	return seqs
}

// kvWrites is the writes to each bucket between two kvSeqs, and their sum.
func kvWrites(before, after map[string]uint64) (map[string]uint64, uint64) {
	d := make(map[string]uint64, len(after))
	var sum uint64
	for name, n := range after {
		if n >= before[name] {
			d[name] = n - before[name]
		} else {
			d[name] = n // the bucket was made again (NATS lost its memory)
		}
		sum += d[name]
	}
	return d, sum
}

// varz is what this tool reads of nats-server's /varz: messages in and out.
type varz struct {
	InMsgs  int64 `json:"in_msgs"`
	OutMsgs int64 `json:"out_msgs"`
}

func natsMsgs(monitor string) (varz, error) {
	var v varz
	err := getJSON("http://"+monitor+"/varz", &v)
	return v, err
}

// ClusterRun is two hush nodes sharing rooms through one nats-server.
type ClusterRun struct {
	Nodes   int             `json:"nodes"`
	Latency *ClusterLatency `json:"latency"`
	Idle    *ClusterIdle    `json:"idle"`
}

// ClusterLatency is rooms on one node against rooms across both, typed at
// in the same run.
type ClusterLatency struct {
	TypingRun
	// Same: creator and joiner on node a. Cross: creator on a, joiner
	// (who watches) on b.
	Same     Direction `json:"same_node"`
	Cross    Direction `json:"cross_node"`
	P50Ratio float64   `json:"p50_ratio"` // cross / same
	P99Ratio float64   `json:"p99_ratio"`

	NodeACPUPct float64 `json:"node_a_cpu_pct_of_core"`
	NodeBCPUPct float64 `json:"node_b_cpu_pct_of_core"`
	NATSCPUPct  float64 `json:"nats_cpu_pct_of_core"`
	// CPUPerKeyUS is both nodes and nats-server together, per key typed.
	CPUPerKeyUS float64 `json:"cpu_us_per_key"`
	// NATSMsgsInPerCrossKey is the messages nats-server took in per key
	// typed in the cross-node rooms (keys in same-node rooms should add
	// none).
	NATSMsgsInPerCrossKey float64 `json:"nats_msgs_in_per_cross_key"`
	KVWritesPerSec        float64 `json:"kv_writes_per_sec"`
}

// TypingRun is what every scenario that types in rooms of several kinds
// reports besides its latencies: the load, and what the machine spent on it.
type TypingRun struct {
	Rooms          int     `json:"rooms_per_kind"`
	Measured       int     `json:"measured_rooms_per_kind"`
	Rate           float64 `json:"keys_per_sec_per_room"`
	Typing         string  `json:"timed_typing"`
	Seconds        float64 `json:"seconds"`
	Keys           int64   `json:"keys"`
	KeysPerSec     float64 `json:"keys_per_sec"`
	SendErrors     int64   `json:"send_errors"`
	ClientCPUPct   float64 `json:"client_cpu_pct_of_core"`
	MachineBusyPct float64 `json:"machine_busy_pct_of_core"`
	OtherBusyPct   float64 `json:"other_busy_pct_of_core"`
	SetupSeconds   float64 `json:"setup_seconds"`
}

// ClusterIdle is the cost at rest: sessions in rooms of two over both
// nodes, nobody typing.
type ClusterIdle struct {
	Sessions     int     `json:"sessions"`
	SameRooms    int     `json:"same_node_rooms"`
	CrossRooms   int     `json:"cross_node_rooms"`
	SetupSeconds float64 `json:"setup_seconds"`
	Seconds      float64 `json:"seconds"`
	// KVWrites are the messages each bucket's stream took over Seconds
	// (the increase of its last sequence number).
	KVWrites         map[string]uint64 `json:"kv_writes"`
	KVWritesPerSec   float64           `json:"kv_writes_per_sec"`
	Nodes            []NodeIdle        `json:"nodes"`
	NATS             NodeIdle          `json:"nats"`
	CPUResolutionPct float64           `json:"cpu_resolution_pct"`
	BytesSent        int64             `json:"bytes_sent_while_idle"`
}

// NodeIdle is one process at rest.
type NodeIdle struct {
	Name            string  `json:"name"`
	Sessions        int     `json:"sessions"`
	RSSBeforeKB     int64   `json:"rss_before_kb"`
	RSSKB           int64   `json:"rss_kb"`
	RSSPerSessionKB float64 `json:"rss_per_session_kb"`
	CPUPct          float64 `json:"cpu_pct_of_core"`
}

// runCluster starts nats-server and two hush nodes on it (b with a's data
// directory files), measures them at rest with o.idle sessions, then
// under typing in same-node and cross-node rooms. At rest comes first, on
// fresh nodes, so that memory per session is not hidden in heap the typing
// phase left free.
func runCluster(hush launcher, natsBin string, o *opts) (*ClusterRun, error) {
	if quietWait > 0 {
		waitQuiet()
	}
	ns, err := startNATS(natsBin)
	if err != nil {
		return nil, err
	}
	defer ns.stop()
	natsURL, monitor := "nats://"+ns.found[0], ns.found[1]
	node := func(name, like string) (*server, error) {
		l := hush
		l.prof = ""
		l.extra = append(slices.Clone(hush.extra), "--nats", natsURL, "--node", name)
		s, err := l.startNode(o.linger, like)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", name, err)
		}
		return s, nil
	}
	progress("cluster: nats-server on %s (monitor %s); starting nodes a and b", natsURL, monitor)
	a, err := node("a", "")
	if err != nil {
		return nil, err
	}
	defer a.stop()
	b, err := node("b", a.data)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	if _, err := kvSeqs(monitor); err != nil {
		return nil, fmt.Errorf("nats-server monitoring: %w", err)
	}
	run := &ClusterRun{Nodes: 2}
	if run.Idle, err = clusterIdle(a, b, ns, monitor, o); err != nil {
		return nil, err
	}
	if run.Latency, err = clusterLatency(a, b, ns, monitor, o); err != nil {
		return nil, err
	}
	return run, nil
}

// idleLayout says where room i of the idle phase lives: in turn both on
// a, both on b, a to b, b to a; so half the rooms span the nodes and each
// node holds half the sessions.
func idleLayout(i int) (creator, joiner int) {
	switch i % 4 {
	case 0:
		return 0, 0
	case 1:
		return 1, 1
	case 2:
		return 0, 1
	}
	return 1, 0
}

func clusterIdle(a, b, ns *server, monitor string, o *opts) (*ClusterIdle, error) {
	nodes := []*server{a, b}
	rooms := max(1, o.idle/2)
	run := &ClusterIdle{Sessions: 2 * rooms}
	run.Nodes = []NodeIdle{{Name: "a"}, {Name: "b"}}
	run.NATS = NodeIdle{Name: "nats", Sessions: 2 * rooms} // RSS per session: per session of the cluster
	for i := range rooms {
		x, y := idleLayout(i)
		run.Nodes[x].Sessions++
		run.Nodes[y].Sessions++
		if x == y {
			run.SameRooms++
		} else {
			run.CrossRooms++
		}
	}
	base := []usage{mustSample(a.pid), mustSample(b.pid), mustSample(ns.pid)}
	progress("cluster: connecting %d idle sessions (%d rooms across the nodes)", run.Sessions, run.CrossRooms)
	start := time.Now()
	pairs := make([]*pair, rooms)
	err := forEach(rooms, o.dialConc, func(i int) error {
		x, y := idleLayout(i)
		p, err := openPairOn(nodes[x], nodes[y], o, false)
		pairs[i] = p
		return err
	})
	defer func() {
		closePairs(pairs)
		waitKVQuiet(monitor, 30*time.Second)
	}()
	if err != nil {
		return nil, err
	}
	run.SetupSeconds = round(time.Since(start).Seconds(), 2)
	progress("cluster: %d sessions up in %.1fs; settling %v", run.Sessions, run.SetupSeconds, o.settle)
	time.Sleep(o.settle)
	sent := func() (n int64) {
		for _, p := range pairs {
			n += p.a.received.Load() + p.b.received.Load()
		}
		return n
	}
	b0 := sent()
	seq0, err := kvSeqs(monitor)
	if err != nil {
		return nil, err
	}
	s0 := []usage{mustSample(a.pid), mustSample(b.pid), mustSample(ns.pid)}
	time.Sleep(o.idleFor)
	s1 := []usage{mustSample(a.pid), mustSample(b.pid), mustSample(ns.pid)}
	seq1, err := kvSeqs(monitor)
	if err != nil {
		return nil, err
	}
	elapsed := s1[0].at.Sub(s0[0].at)
	run.Seconds = round(elapsed.Seconds(), 2)
	var sum uint64
	run.KVWrites, sum = kvWrites(seq0, seq1)
	run.KVWritesPerSec = round(float64(sum)/elapsed.Seconds(), 2)
	run.BytesSent = sent() - b0
	run.CPUResolutionPct = round(100*float64(clockTick)/float64(elapsed), 3)
	for i, n := range append(slices.Clone(run.Nodes), run.NATS) {
		n.RSSBeforeKB, n.RSSKB = base[i].rssKB, s0[i].rssKB
		if n.Sessions > 0 {
			n.RSSPerSessionKB = round(float64(s0[i].rssKB-base[i].rssKB)/float64(n.Sessions), 1)
		}
		n.CPUPct = round(100*float64(s1[i].cpu-s0[i].cpu)/float64(elapsed), 3)
		if i < len(run.Nodes) {
			run.Nodes[i] = n
		} else {
			run.NATS = n
		}
	}
	return run, nil
}

// waitKVQuiet waits, at most limit, until the buckets take no more than
// the odd lease renewal in a second: rooms closing are written away
// before the next phase starts.
func waitKVQuiet(monitor string, limit time.Duration) {
	end := time.Now().Add(limit)
	prev, err := kvSeqs(monitor)
	for err == nil && time.Now().Before(end) {
		time.Sleep(time.Second)
		var cur map[string]uint64
		if cur, err = kvSeqs(monitor); err != nil {
			return
		}
		if _, n := kvWrites(prev, cur); n <= 2 {
			return
		}
		prev = cur
	}
}

func clusterLatency(a, b, ns *server, monitor string, o *opts) (*ClusterLatency, error) {
	R, m := o.rooms, min(o.measure, o.rooms)
	run := &ClusterLatency{TypingRun: TypingRun{Rooms: R, Measured: m, Rate: o.rate, Typing: o.typing}}
	setup := time.Now()
	progress("cluster: opening %d rooms on node a and %d from a to b (%d of each decoded)", R, R, m)
	decode := func(i int) bool { return i < m }
	same, err := openPairsOn(a, a, o, R, decode)
	if err != nil {
		return nil, err
	}
	defer closePairs(same)
	cross, err := openPairsOn(a, b, o, R, decode)
	if err != nil {
		return nil, err
	}
	defer closePairs(cross)
	flows := make([]*flow, 2)
	for k, pairs := range [][]*pair{same, cross} { // flows[0] same, [1] cross
		if flows[k], err = pairFlow("hush", pairs, m); err != nil {
			return nil, err
		}
	}
	run.SetupSeconds = round(time.Since(setup).Seconds(), 2)

	progress("cluster: typing %.1f keys/s in each of %d rooms (%d on one node, %d across) for %v", o.rate, 2*R, R, R, o.duration)
	var (
		s0, s1     []usage
		seq0, seq1 map[string]uint64
		v0, v1     varz
		monErr     error
	)
	ty := typeFlows(flows, o, func(end bool) {
		u := []usage{mustSample(a.pid), mustSample(b.pid), mustSample(ns.pid)}
		seq, err := kvSeqs(monitor)
		v, verr := natsMsgs(monitor)
		if monErr == nil {
			monErr = firstErr(err, verr)
		}
		if !end {
			s0, seq0, v0 = u, seq, v
		} else {
			s1, seq1, v1 = u, seq, v
		}
	})
	if monErr != nil {
		return nil, fmt.Errorf("nats-server monitoring: %w", monErr)
	}
	elapsed := s1[0].at.Sub(s0[0].at)
	run.Seconds = round(elapsed.Seconds(), 2)
	run.Keys, run.SendErrors = ty.keys, ty.errs
	run.KeysPerSec = round(float64(ty.keys)/elapsed.Seconds(), 1)
	run.Same, run.Cross = flows[0].direction(), flows[1].direction()
	run.P50Ratio = ratio(run.Cross.Latency.P50, run.Same.Latency.P50)
	run.P99Ratio = ratio(run.Cross.Latency.P99, run.Same.Latency.P99)
	pct := func(i int) float64 { return round(100*float64(s1[i].cpu-s0[i].cpu)/float64(elapsed), 1) }
	run.NodeACPUPct, run.NodeBCPUPct, run.NATSCPUPct = pct(0), pct(1), pct(2)
	var cpu time.Duration
	for i := range s0 {
		cpu += s1[i].cpu - s0[i].cpu
	}
	if ty.keys > 0 {
		run.CPUPerKeyUS = round(float64(cpu.Microseconds())/float64(ty.keys), 1)
	}
	if n := flows[1].keys.Load(); n > 0 {
		run.NATSMsgsInPerCrossKey = round(float64(v1.InMsgs-v0.InMsgs)/float64(n), 2)
	}
	_, writes := kvWrites(seq0, seq1)
	run.KVWritesPerSec = round(float64(writes)/elapsed.Seconds(), 2)
	run.ClientCPUPct = round(100*float64(ty.clientCPU)/float64(ty.elapsed), 1)
	run.MachineBusyPct = ty.machineBusyPct
	run.OtherBusyPct = round(max(0, run.MachineBusyPct-run.ClientCPUPct-run.NodeACPUPct-run.NodeBCPUPct-run.NATSCPUPct), 1)
	return run, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
