package e2e

// Several hush processes sharing rooms through a real nats-server process:
// a room across nodes, a node killed, NATS stopped and started again, a
// node cut off from NATS, a three-server NATS cluster losing a server.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

// Binaries built once for the package (linking takes seconds on two cores).
var built struct {
	once             sync.Once
	dir, hush, natsd string
	err              error
}

// clusterBinaries builds hush and nats-server (from the module proxy, the
// version go.mod names) once, into a directory TestMain removes.
func clusterBinaries(t *testing.T) (hush, natsd string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds hush and nats-server")
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "hush-e2e-bin-"); built.err != nil {
			return
		}
		built.hush, built.natsd = filepath.Join(built.dir, "hush"), filepath.Join(built.dir, "nats-server")
		for _, b := range [][2]string{{built.hush, "github.com/hush-chat/hush"}, {built.natsd, "github.com/nats-io/nats-server/v2"}} {
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.hush, built.natsd
}

func removeBinaries() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// natsd is a nats-server process with JetStream.
type natsd struct {
	*binary
	port int
	url  string
}

var natsListenRE = regexp.MustCompile(`Listening for client connections on 127\.0\.0\.1:(\d+)`)

// startNATS runs nats-server on 127.0.0.1:port (0: any free port).
func startNATS(t *testing.T, bin string, port int, extra ...string) *natsd {
	t.Helper()
	if port == 0 {
		port = -1
	}
	args := append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", t.TempDir()}, extra...)
	n := &natsd{binary: startBinary(t, bin, "", args...)}
	wait.Until(t, "nats-server to listen", func() (bool, string) {
		m := natsListenRE.FindStringSubmatch(n.stderr.String())
		if m == nil {
			return false, n.stderr.String()
		}
		fmt.Sscan(m[1], &n.port)
		return true, ""
	})
	n.url = fmt.Sprintf("nats://127.0.0.1:%d", n.port)
	return n
}

// startNode runs a hush node on data (copied from like, if given, as
// operators copy the data directory) with its rooms in NATS.
func startNode(t *testing.T, bin, data string, like *binary, nats string, extra ...string) *binary {
	t.Helper()
	if like != nil {
		copyData(t, like, data)
	}
	args := append([]string{"--data", data, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--host", "chat.test", "--nats", nats}, extra...)
	b := startBinary(t, bin, "", args...)
	b.data = data
	b.listening(t)
	return b
}

// copyData copies like's salt and host key into data, as an operator
// copies the data directory to another node.
func copyData(t *testing.T, like *binary, data string) {
	t.Helper()
	for _, f := range []string{"salt", "host_ed25519", "host_ed25519.pub"} {
		b, err := os.ReadFile(filepath.Join(like.data, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// refusedAtStart waits for b to exit by itself and checks it failed
// saying why.
func refusedAtStart(t *testing.T, b *binary, why string) {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(sshtest.Timeout):
		t.Fatalf("a node that should be refused started:\n%s", b.stderr)
	}
	if code := b.cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(b.stderr.String(), why) {
		t.Fatalf("refused node: exit %d, want non-zero saying %q:\n%s", code, why, b.stderr)
	}
}

func healthz(addr string) int {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestClusterRoomAcrossNodes(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	n := startNATS(t, natsBin, 0)
	a := startNode(t, hush, t.TempDir(), nil, n.url, "--node", "a")
	b := startNode(t, hush, t.TempDir(), a, n.url, "--node", "b")

	alice, code := openRoom(t, a.addr, "new", sshtest.Options{})
	bob := sshtest.Dial(t, b.addr, code, sshtest.Options{})
	alice.WaitText("joined")
	bob.Type("typed on node b")
	alice.WaitText("typed on node b")
	alice.Type("typed on node a")
	bob.WaitText("typed on node a")
	// The room for two is full across the cluster.
	third := sshtest.Dial(t, a.addr, code, sshtest.Options{})
	if got := third.Exit(); got != 1 || !strings.Contains(third.Stderr(), "is full") {
		t.Fatalf("a third person on node a: exit %d, %q", got, third.Stderr())
	}

	// A node with another data directory refuses to start, and says why.
	stranger := startBinary(t, hush, "", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--nats", n.url)
	refusedAtStart(t, stranger, "every node must use the same data directory")
	// So does one with the same directory and another lease.
	data := t.TempDir()
	copyData(t, a, data)
	impatient := startBinary(t, hush, "", "--data", data, "--listen", "127.0.0.1:0", "--nats", n.url, "--nats-lease", "20s")
	refusedAtStart(t, impatient, "lease (--nats-lease) is 20s, the cluster's is 15s")

	// Node b dies without a word: alice sees bob leave once b's lease runs
	// out (15 s by default), and his seat is free again.
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := wait.Within(t, 20*time.Second, "bob to leave after node b was killed", func() (bool, string) {
		return strings.Contains(alice.Screen(), "left"), alice.Screen()
	})
	t.Logf("node b killed: its member left alice's screen after %v", took.Round(100*time.Millisecond))
	carol := sshtest.Dial(t, a.addr, code, sshtest.Options{})
	alice.WaitText("joined")
	carol.Type("bob's seat")
	alice.WaitText("bob's seat")
}

func TestClusterNATSDownAndBack(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	n := startNATS(t, natsBin, 0)
	a := startNode(t, hush, t.TempDir(), nil, n.url, "--node", "a")
	b := startNode(t, hush, t.TempDir(), a, n.url, "--node", "b")
	alice, carol, _ := openPair(t, a.addr) // both on node a
	_ = b
	if code := healthz(a.maddr); code != http.StatusOK {
		t.Fatalf("healthz %d with NATS up", code)
	}
	waitMetrics(t, a.maddr, metric{name: "hush_cluster_connected", want: 1},
		metric{name: "hush_cluster_lease_renewals_total", want: 1, atLeast: true},
		metric{name: "hush_cluster_kv_errors_total", want: 0})

	n.cmd.Process.Signal(syscall.SIGTERM)
	<-n.done
	// Opening a room needs NATS: one clear sentence, exit 1, within 5 s.
	start := time.Now()
	late := sshtest.Dial(t, a.addr, "new", sshtest.Options{})
	if got := late.Exit(); got != 1 || !strings.Contains(late.Stderr(), "Rooms cannot be reached right now") {
		t.Fatalf("new room without NATS: exit %d, %q", got, late.Stderr())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the refusal took %v", took)
	}
	// A room whose members share a node keeps working.
	alice.Type("still here")
	carol.WaitText("still here")
	wait.Until(t, "healthz to say NATS is gone", func() (bool, string) {
		code := healthz(a.maddr)
		return code == http.StatusServiceUnavailable, fmt.Sprint(code)
	})
	waitMetrics(t, a.maddr, metric{name: "hush_cluster_connected", want: 0})

	// NATS comes back empty (its JetStream was in memory): new rooms work
	// again without restarting hush.
	startNATS(t, natsBin, n.port)
	wait.Within(t, 30*time.Second, "a new room on node a after NATS came back", func() (bool, string) { return opens(t, a.addr) })
	bob, code := openRoom(t, b.addr, "new", sshtest.Options{})
	dave := sshtest.Dial(t, a.addr, code, sshtest.Options{})
	bob.WaitText("joined")
	dave.Type("across again")
	bob.WaitText("across again")
	wait.Until(t, "healthz back to ok", func() (bool, string) {
		code := healthz(a.maddr)
		return code == http.StatusOK, fmt.Sprint(code)
	})
}

// A node that can no longer reach NATS (the network in between stops
// passing anything) fences itself: its people hear the room was lost,
// and the others see them leave.
func TestClusterNodeCutOff(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	n := startNATS(t, natsBin, 0)
	const lease = "4s"
	a := startNode(t, hush, t.TempDir(), nil, n.url, "--node", "a", "--nats-lease", lease)
	wire := blackholeTo(t, fmt.Sprintf("127.0.0.1:%d", n.port))
	b := startNode(t, hush, t.TempDir(), a, "nats://"+wire.addr, "--node", "b", "--nats-lease", lease)
	alice, code := openRoom(t, a.addr, "new", sshtest.Options{})
	bob := sshtest.Dial(t, b.addr, code, sshtest.Options{})
	alice.WaitText("joined")
	bob.Type("before the cut")
	alice.WaitText("before the cut")

	wire.cut()
	start := time.Now()
	wait.Within(t, 20*time.Second, "bob to hear the room was lost", func() (bool, string) {
		select {
		case <-bob.Done():
			return strings.Contains(bob.Screen()+bob.Stderr(), "The room was lost"), bob.Screen()
		default:
			return false, bob.Screen()
		}
	})
	t.Logf("node b fenced itself %v after the cut", time.Since(start).Round(100*time.Millisecond))
	wait.Within(t, 20*time.Second, "alice to see bob leave", func() (bool, string) {
		return strings.Contains(alice.Screen(), "left"), alice.Screen()
	})
	t.Logf("alice saw bob leave %v after the cut", time.Since(start).Round(100*time.Millisecond))
}

// Rooms keep working while one server of a three-server NATS cluster (its
// buckets kept on all three) is killed.
func TestClusterSurvivesANATSServer(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	ports := freePorts(t, 3)
	var servers []*natsd
	var urls []string
	for i := range 3 {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		s := startNATS(t, natsBin, 0, "--server_name", fmt.Sprintf("n%d", i), "--cluster_name", "hush",
			"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", ports[i]), "--routes", strings.Join(routes, ","))
		servers = append(servers, s)
		urls = append(urls, s.url)
	}
	all := strings.Join(urls, ",")
	var a *binary
	wait.Within(t, 30*time.Second, "node a to start on the NATS cluster", func() (bool, string) {
		// JetStream needs its cluster formed before buckets can be made.
		a = tryNode(t, hush, all, "--node", "a", "--nats-replicas", "3")
		return a != nil, ""
	})
	b := startNode(t, hush, t.TempDir(), a, strings.Join([]string{urls[2], urls[1], urls[0]}, ","), "--node", "b", "--nats-replicas", "3")
	alice, code := openRoom(t, a.addr, "new", sshtest.Options{})
	bob := sshtest.Dial(t, b.addr, code, sshtest.Options{})
	alice.WaitText("joined")

	servers[0].cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	<-servers[0].done
	// A node that was connected to the dead server reconnects to another;
	// what crosses nodes meanwhile is lost (core NATS delivers at most
	// once), so bob types until a word gets through, then once more.
	n := 0
	wait.Within(t, 30*time.Second, "typing to cross nodes again", func() (bool, string) {
		n++
		word := fmt.Sprintf("down%d ", n)
		bob.Type(word)
		crossed := wait.Poll(time.Second, func() bool { return strings.Contains(alice.Screen(), strings.TrimSpace(word)) })
		return crossed, alice.Screen()
	})
	t.Logf("typing crossed nodes again %v after a NATS server was killed (%d words typed)", time.Since(killed).Round(100*time.Millisecond), n)
	bob.Type("one server down")
	alice.WaitText("one server down")
	wait.Within(t, 30*time.Second, "a new room with one NATS server down", func() (bool, string) { return opens(t, b.addr) })
}

// opens reports whether new@addr gets a room now (and says why not).
func opens(t *testing.T, addr string) (bool, string) {
	// From an address of its own: polled, it may open many connections a
	// minute, which must not spend the budget of the address the test's
	// people connect from.
	term, err := sshtest.TryDial(t, addr, "new", sshtest.Options{From: "127.0.0.77"})
	if err != nil {
		return false, err.Error()
	}
	defer term.Close()
	ended := false
	wait.Poll(sshtest.Timeout, func() bool {
		select {
		case <-term.Done():
			ended = true
		default:
		}
		return ended || strings.Contains(term.Screen(), "Waiting for someone")
	})
	switch {
	case strings.Contains(term.Screen(), "Waiting for someone"):
		return true, ""
	case ended:
		return false, term.Stderr()
	}
	return false, term.Screen()
}

// tryNode starts a node and returns it once it listens, or nil if it
// exited (the NATS cluster not ready yet).
func tryNode(t *testing.T, bin, nats string, extra ...string) *binary {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"--data", data, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--host", "chat.test", "--nats", nats}, extra...)
	b := startBinary(t, bin, "", args...)
	b.data = data
	up, exited := false, false
	wait.Poll(3*sshtest.Timeout, func() bool {
		select {
		case <-b.done:
			exited = true
		default:
		}
		out := b.stderr.String()
		l, m := listenRE.FindStringSubmatch(out), metricsListenRE.FindStringSubmatch(out)
		if l != nil && m != nil {
			b.addr, b.maddr, up = l[1], m[1], true
		}
		return up || exited
	})
	switch {
	case up:
		return b
	case exited:
		t.Logf("node not up yet (%v): %s", b.cmd.ProcessState, lastLine(b.stderr.String()))
		return nil
	}
	t.Fatalf("node neither listened nor exited:\n%s", b.stderr)
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// freePorts finds n ports free on loopback now.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var held []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range held {
		l.Close()
	}
	return ports
}

// blackhole passes TCP to a server until cut; then it passes nothing,
// in either direction, and holds every connection open: a network that
// went silent, not one that said goodbye.
type blackhole struct {
	addr string
	mu   sync.Mutex
	dead bool
}

func blackholeTo(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bh := &blackhole{addr: ln.Addr().String()}
	var conns []net.Conn
	var cmu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
	})
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				dst.Close()
				return
			}
			if bh.isDead() {
				continue // swallowed
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			if bh.isDead() {
				continue // held open, never answered
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			cmu.Lock()
			conns = append(conns, up)
			cmu.Unlock()
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	return bh
}

func (bh *blackhole) cut() { bh.mu.Lock(); bh.dead = true; bh.mu.Unlock() }

func (bh *blackhole) isDead() bool { bh.mu.Lock(); defer bh.mu.Unlock(); return bh.dead }

// The wrong-code allowance is the cluster's, not each node's: guesses
// spread over two nodes lock the address out on both.
func TestClusterWrongCodesAcrossNodes(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	n := startNATS(t, natsBin, 0)
	a := startNode(t, hush, t.TempDir(), nil, n.url, "--node", "a", "--wrong-codes", "2")
	b := startNode(t, hush, t.TempDir(), a, n.url, "--node", "b", "--wrong-codes", "2")
	_, code := openRoom(t, a.addr, "new", sshtest.Options{})
	for _, node := range []*binary{a, b} {
		wrong := sshtest.Dial(t, node.addr, "2y53ndv6wjy6", sshtest.Options{})
		if got := wrong.Exit(); got != 1 || strings.Contains(wrong.Stderr(), "Too many wrong") {
			t.Fatalf("a wrong code: exit %d, %q", got, wrong.Stderr())
		}
	}
	for _, node := range []*binary{a, b} {
		right := sshtest.Dial(t, node.addr, code, sshtest.Options{})
		if got := right.Exit(); got != 1 || !strings.Contains(right.Stderr(), "Too many wrong room codes") {
			t.Fatalf("the right code after two wrong ones over two nodes: exit %d, %q", got, right.Stderr())
		}
	}
}
