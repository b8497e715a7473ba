package e2e

// Attacks on the browser front end, round three, each against the real
// binary while a pair talks over SSH on other addresses.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hush-chat/hush/internal/sshtest"
)

// webBinary is hush with its web front end, started from bin (through
// prlimit when files > 0, to bound its open files).
type webBinary struct {
	*binary
	web string
	pid int
}

func startWebBinary(t *testing.T, bin string, files int, args ...string) *webBinary {
	t.Helper()
	args = append([]string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--host", "chat.test"}, args...)
	var b *binary
	if files > 0 {
		b = startBinary(t, "prlimit", "", append([]string{fmt.Sprintf("--nofile=%d:%d", files, files), bin}, args...)...)
	} else {
		b = startBinary(t, bin, "", args...)
	}
	b.listening(t)
	return &webBinary{binary: b, web: webAddr(t, b), pid: b.cmd.Process.Pid}
}

// cpu is the process's CPU time so far (user and system).
func cpu(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is the 3rd
	// field of the line, utime the 14th and stime the 15th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// openFiles is how many file descriptors the process holds.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// wsFrame is one masked client frame (mask 0: the payload as is).
func wsFrame(fin bool, op byte, payload string) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0, 0x80 | byte(len(payload)), 0, 0, 0, 0}
	return append(f, payload...)
}

// rawSocket upgrades conn to a WebSocket by hand, with host and origin
// as given ("" leaves Origin out), and returns the status and a reader
// of what follows.
func rawSocket(conn net.Conn, host, origin string) (int, *bufio.Reader, error) {
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
	if origin != "" {
		b.WriteString("Origin: " + origin + "\r\n")
	}
	b.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(sshtest.Timeout))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	_ = conn.SetDeadline(time.Time{})
	return resp.StatusCode, br, nil
}

// rawRequest sends one GET by hand from from, and returns the status (0
// if the connection was closed without an answer).
func rawRequest(t *testing.T, addr, from, path, host string, header map[string]string) int {
	t.Helper()
	conn := dialSocket(t, addr, from, 0, 0)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(sshtest.Timeout))
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for k, v := range header {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// webSeat opens a socket from from as the page does and says hello; it
// returns the first answer's type.
func webSeat(t *testing.T, web, from string, hello map[string]string) (*websocket.Conn, string) {
	t.Helper()
	d := net.Dialer{Timeout: sshtest.Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), sshtest.Timeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+web+"/ws", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("socket from %s: %v", from, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	b, _ := json.Marshal(hello)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	_, b, err = c.Read(ctx)
	if err != nil {
		t.Fatalf("no answer to hello from %s: %v", from, err)
	}
	var f struct{ T string }
	_ = json.Unmarshal(b, &f)
	return c, f.T
}

func TestAttackWebFront(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildHush(t)
	t.Run("frame flood", func(t *testing.T) { webFrameFlood(t, bin) })
	t.Run("refusals spend no budget", func(t *testing.T) { webBurn(t, bin) })
	t.Run("keep-alives under 1024 files", func(t *testing.T) { webKeepAlives(t, bin) })
	t.Run("rebinding", func(t *testing.T) { webRebinding(t, bin) })
	t.Run("blind pongs", func(t *testing.T) { webBlindPongs(t, bin) })
}

// 20 sockets from one address, each seated in a room of its own, send
// type, newline, paste and ping frames and one-byte fragments as fast as
// their sockets take them. The server reads each at its budget (see
// web/listen.go); the excess waits in the attacker's buffers. A pair
// talking over SSH keeps its latency and the server stays under a core.
func webFrameFlood(t *testing.T, bin string) {
	b := startWebBinary(t, bin, 0, "--linger", "30s")
	v := newVictim(t, b.addr)
	quiet := v.talk(t, 30)

	var batch []byte
	for range 8 {
		batch = append(batch, wsFrame(true, 1, `{"t":"type","s":"a"}`)...)
		batch = append(batch, wsFrame(true, 1, `{"t":"nl"}`)...)
		batch = append(batch, wsFrame(true, 1, `{"t":"paste","s":"b","more":true}`)...)
		batch = append(batch, wsFrame(true, 9, "")...)
		frag := `{"t":"nl"}`
		for i := range len(frag) {
			op := byte(0)
			if i == 0 {
				op = 1
			}
			batch = append(batch, wsFrame(i == len(frag)-1, op, frag[i:i+1])...)
		}
	}
	const sockets = 20
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, ended atomic.Int64
	defer func() { close(stop); wg.Wait() }()
	for range sockets {
		// A small send buffer: what waits, waits in the kernel, not in
		// megabytes of the test process's memory.
		conn := dialSocket(t, b.web, "127.0.0.9", 0, 16<<10)
		t.Cleanup(func() { conn.Close() })
		st, br, err := rawSocket(conn, b.web, "")
		if err != nil || st != http.StatusSwitchingProtocols {
			t.Fatalf("flooder's upgrade: %d %v", st, err)
		}
		if _, err := conn.Write(wsFrame(true, 1, `{"t":"hello","op":"new"}`)); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			_, _ = io.Copy(io.Discard, br)
			select {
			case <-stop:
			default:
				ended.Add(1) // the server hung up during the flood
			}
		})
		wg.Go(func() {
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					conn.Close()
					return
				default:
				}
				_ = conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				n, err := conn.Write(batch)
				sent.Add(int64(n))
				if err != nil && !os.IsTimeout(err) {
					return
				}
			}
		})
	}
	cpu0, start := cpu(t, b.pid), time.Now()
	flooded := v.talk(t, 100)
	used := cpu(t, b.pid) - cpu0
	took := time.Since(start)
	cores := used.Seconds() / took.Seconds()
	join := time.Now()
	sshtest.Dial(t, b.addr, "new", sshtest.Options{From: "127.0.0.4"}).WaitText("Waiting for someone to join")
	joined := time.Since(join)
	t.Logf("victim keystroke to screen: quiet p99 %v; under a flood of %d sockets (%.1f MB sent in %v) p50 %v p99 %v max %v; server CPU %.0f%% of a core; an SSH room elsewhere took %v",
		percentile(quiet, .99), sockets, float64(sent.Load())/(1<<20), took.Round(time.Millisecond),
		percentile(flooded, .5), percentile(flooded, .99), slices.Max(flooded), cores*100, joined.Round(time.Millisecond))
	if n := ended.Load(); n > 0 {
		t.Errorf("%d flooders were hung up on: the excess should only wait unread", n)
	}
	if cores > 1 {
		t.Errorf("the server used %.0f%% of a core under the flood, want at most one core", cores*100)
	}
	// The aim is a p99 of 20 ms, which runs on a quiet machine meet (12
	// to 15 ms). On two shared cores a neighbour's burst adds tens of ms
	// to a few keys whatever the server does (it used 2% of a core), so
	// what is asserted is the median at 20 ms and the p99 at 100 ms: the
	// flood this replaces made it 386 to 553 ms.
	if p50, p99 := percentile(flooded, .5), percentile(flooded, .99); p50 > 20*time.Millisecond || p99 > 100*time.Millisecond {
		t.Errorf("victim p50 %v p99 %v under the flood, want at most 20 ms and 100 ms", p50, p99)
	}
}

// One address's browser is made to send what the server refuses: 120
// upgrades with a foreign Origin and 120 plain GET /ws, as fast as they
// go (a page elsewhere can do this with <img src=…/ws>). None of it is
// counted against the address, which shares its budget with SSH: the
// visitor still gets a room over SSH and over the web.
func webBurn(t *testing.T, bin string) {
	b := startWebBinary(t, bin, 0, "--linger", "30s")
	v := newVictim(t, b.addr)
	const visitor = "127.0.0.12"
	start := time.Now()
	for range 120 {
		if st := rawRequest(t, b.web, visitor, "/ws", b.web, map[string]string{
			"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "https://evil.example",
		}); st != http.StatusForbidden {
			t.Fatalf("foreign Origin: %d, want 403", st)
		}
		if st := rawRequest(t, b.web, visitor, "/ws", b.web, nil); st != http.StatusUpgradeRequired {
			t.Fatalf("plain GET /ws: %d, want 426", st)
		}
	}
	burned := time.Since(start)
	lat := v.talk(t, 30)
	sshtest.Dial(t, b.addr, "new", sshtest.Options{From: visitor}).WaitText("Waiting for someone to join")
	if _, first := webSeat(t, b.web, visitor, map[string]string{"t": "hello", "op": "new"}); first != "seated" {
		t.Fatalf("the visitor's own socket after the burn: %q, want seated", first)
	}
	t.Logf("240 refused requests in %v; the visitor then got a room over SSH and the web; victim p99 %v", burned.Round(time.Millisecond), percentile(lat, .99))
}

// Under a 1,024-file limit, one address opens 1,500 keep-alive
// connections to the web port and 24 more addresses 40 each, all kept
// open. One address keeps at most 80 (twice --max-conns-per-ip), the web
// port at most half the files, and idle keep-alives make room for
// newcomers: another address still gets a room over SSH and the web,
// and the pair keeps talking.
func webKeepAlives(t *testing.T, bin string) {
	const files = 1024
	b := startWebBinary(t, bin, files, "--linger", "30s", "--max-conns-per-ip", "40")
	if !strings.Contains(b.stderr.String(), `msg="open files limit" soft=1024 hard=1024 web_share=512`) {
		t.Fatalf("the open files limit was not logged as set:\n%s", b.stderr)
	}
	v := newVictim(t, b.addr)
	var kept, closed atomic.Int64
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	hold := func(from string, n int) {
		for range n {
			d := net.Dialer{Timeout: sshtest.Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
			c, err := d.Dial("tcp", b.web)
			if err != nil {
				closed.Add(1)
				continue
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			_ = c.SetDeadline(time.Now().Add(sshtest.Timeout))
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+b.web+"\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				closed.Add(1)
				c.Close()
				continue
			}
			resp.Body.Close()
			kept.Add(1)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { hold("127.0.0.30", 1500) })
	for i := range 24 {
		wg.Go(func() { hold(fmt.Sprintf("127.0.0.%d", 31+i), 40) })
	}
	lat := v.talk(t, 60)
	wg.Wait()
	held := openFiles(t, b.pid)
	t.Logf("%d connections answered and kept by the clients, %d closed at accept, in %v; the server holds %d files (limit %d); victim p99 %v",
		kept.Load(), closed.Load(), time.Since(start).Round(time.Millisecond), held, files, percentile(lat, .99))
	if held >= files-64 {
		t.Errorf("the server holds %d files of its %d", held, files)
	}
	const other = "127.0.0.90"
	sshtest.Dial(t, b.addr, "new", sshtest.Options{From: other}).WaitText("Waiting for someone to join")
	if st := rawRequest(t, b.web, other, "/", b.web, nil); st != http.StatusOK {
		t.Fatalf("the page for another address: %d", st)
	}
	if _, first := webSeat(t, b.web, other, map[string]string{"t": "hello", "op": "new"}); first != "seated" {
		t.Fatalf("a socket from another address: %q, want seated", first)
	}
}

// DNS rebinding: a page on evil.example, resolved to this server, asks
// for it by that name. Every request for a name the server is not gets
// 421 and spends nothing; an Origin with another scheme is refused too.
func webRebinding(t *testing.T, bin string) {
	b := startWebBinary(t, bin, 0, "--linger", "30s")
	v := newVictim(t, b.addr)
	_, port, _ := net.SplitHostPort(b.web)
	evil := "evil.example:" + port
	up := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	with := func(k, val string) map[string]string {
		m := map[string]string{k: val}
		for k, v := range up {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		what, path, host string
		header           map[string]string
		want             int
	}{
		{"the page by a foreign name", "/", evil, nil, http.StatusMisdirectedRequest},
		{"a socket by a foreign name and Origin", "/ws", evil, with("Origin", "http://"+evil), http.StatusMisdirectedRequest},
		{"a socket with the right host and an https Origin", "/ws", b.web, with("Origin", "https://"+b.web), http.StatusForbidden},
		{"the page by --host", "/", "chat.test:" + port, nil, http.StatusOK},
		{"the page by its address", "/", b.web, nil, http.StatusOK},
		{"a socket from the page's own origin", "/ws", "localhost:" + port, with("Origin", "http://localhost:"+port), http.StatusSwitchingProtocols},
	} {
		if got := rawRequest(t, b.web, "127.0.0.13", tc.path, tc.host, tc.header); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.what, got, tc.want)
		}
	}
	lat := v.talk(t, 20)
	t.Logf("victim p99 %v", percentile(lat, .99))
}

// A tab that stops reading and answers the pings of coder/websocket
// blind (their payloads count 1, 2, 3…) is still dropped within the
// stall timeout: the question it must answer carries a random nonce.
func webBlindPongs(t *testing.T, bin string) {
	const stall = 2 * time.Second
	b := startWebBinary(t, bin, 0, "--linger", "30s", "--stall-timeout", stall.String())
	v := newVictim(t, b.addr)
	alice, code := openRoom(t, b.addr, "new", sshtest.Options{From: "127.0.0.14"})
	conn := dialSocket(t, b.web, "127.0.0.15", 4<<10, 0)
	t.Cleanup(func() { conn.Close() })
	st, _, err := rawSocket(conn, b.web, "")
	if err != nil || st != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d %v", st, err)
	}
	if _, err := conn.Write(wsFrame(true, 1, `{"t":"hello","op":"join","code":"`+code+`"}`)); err != nil {
		t.Fatal(err)
	}
	alice.WaitText("joined")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write(wsFrame(true, 0xa, strconv.Itoa(i))); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for i := 0; i < 1000 && !strings.Contains(alice.Screen(), "1 of 2 here"); i++ {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("a tab answering pings blind was still seated after %v; screen:\n%s", time.Since(start), alice.Screen())
		}
		alice.Type("hello there ")
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	lat := v.talk(t, 20)
	t.Logf("a tab that stopped reading, answering pings blind, was dropped %v after its peer began typing (--stall-timeout %v); victim p99 %v", took.Round(time.Millisecond), stall, percentile(lat, .99))
	// The question goes out at most half a stall timeout after output and
	// is awaited a stall timeout; 2 s more for a loaded machine.
	if bound := stall*3/2 + 2*time.Second; took > bound {
		t.Fatalf("dropped after %v, want within %v", took, bound)
	}
}
