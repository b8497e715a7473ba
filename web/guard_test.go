package web_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
	"github.com/hush-chat/hush/talk"
	"github.com/hush-chat/hush/web"
)

// rawGet sends one request by hand, so Host and any header can be forged,
// and returns the status.
func rawGet(t *testing.T, addr, path, host string, h http.Header) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, bound)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(bound))
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func upgradeHeaders(origin string) http.Header {
	h := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return h
}

// DNS rebinding: a name that is not this server's gets 421, for the page
// and for the socket, whatever Origin comes with it; an Origin with
// another scheme is another origin.
func TestUnknownHostIsMisdirected(t *testing.T) {
	s := serve(t, func(c *web.Config) { c.Hosts = []string{"chat.test"} })
	addr := strings.TrimPrefix(s.url, "http://")
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		path, host, origin string
		want               int
	}{
		{"/", "evil.example:" + port, "", http.StatusMisdirectedRequest},
		{"/ws", "evil.example:" + port, "http://evil.example:" + port, http.StatusMisdirectedRequest},
		{"/ws", "", "", http.StatusMisdirectedRequest},
		{"/", "chat.test:" + port, "", http.StatusOK},
		{"/", "localhost:" + port, "", http.StatusOK},
		{"/ws", "chat.test:" + port, "https://chat.test:" + port, http.StatusForbidden},
		{"/ws", "chat.test:" + port, "http://chat.test:" + port, http.StatusSwitchingProtocols},
		{"/ws", addr, "http://" + addr, http.StatusSwitchingProtocols},
	} {
		h := http.Header{}
		if tc.path == "/ws" {
			h = upgradeHeaders(tc.origin)
		}
		if got := rawGet(t, addr, tc.path, tc.host, h); got != tc.want {
			t.Errorf("GET %s Host %q Origin %q: %d, want %d", tc.path, tc.host, tc.origin, got, tc.want)
		}
	}
}

// With --web-url, the Origin must be exactly its scheme and host.
func TestOriginMustBeTheURL(t *testing.T) {
	s := serve(t, func(c *web.Config) { c.URL = "https://chat.test" })
	addr := strings.TrimPrefix(s.url, "http://")
	for origin, want := range map[string]int{
		"https://chat.test":     http.StatusSwitchingProtocols,
		"http://chat.test":      http.StatusForbidden,
		"https://chat.test:444": http.StatusForbidden,
		"https://evil.example":  http.StatusForbidden,
	} {
		if got := rawGet(t, addr, "/ws", "chat.test", upgradeHeaders(origin)); got != want {
			t.Errorf("Origin %q: %d, want %d", origin, got, want)
		}
	}
	resp, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src wss://chat.test;") {
		t.Errorf("CSP %q does not name the configured URL's socket", csp)
	}
}

// A foreign page (or an <img> pointed at /ws) makes a visitor's browser
// send refused requests; they spend nothing of the visitor's budget.
func TestRefusedSocketsSpendNoBudget(t *testing.T) {
	codes, err := rooms.NewCodes("a test salt, long enough")
	if err != nil {
		t.Fatal(err)
	}
	gate := admit.New(rooms.NewMemory(codes), admit.Config{PerAddress: limits.Config{Conns: 2, ConnsPerMinute: 3, Sessions: 2}}, nil)
	s := serveTalk(t, func(c *talk.Config) { c.Gate = gate })
	addr := strings.TrimPrefix(s.url, "http://")
	for range 40 {
		if got := rawGet(t, addr, "/ws", addr, upgradeHeaders("https://evil.example")); got != http.StatusForbidden {
			t.Fatalf("foreign origin: %d, want 403", got)
		}
		if got := rawGet(t, addr, "/ws", addr, nil); got != http.StatusUpgradeRequired {
			t.Fatalf("plain GET /ws: %d, want 426", got)
		}
	}
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	a.next("seated")
}

// One socket floods ping frames: they are read, and answered, no faster
// than the socket's budget (256 frames at once, 64 a second).
func TestPingFloodIsPaced(t *testing.T) {
	s := serve(t)
	addr := strings.TrimPrefix(s.url, "http://")
	c, err := net.DialTimeout("tcp", addr, bound)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var key [16]byte
	_, _ = rand.Read(key[:])
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\n")
	_ = upgradeHeaders("").Write(&b)
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	// A masked, empty ping is 6 bytes.
	ping := []byte{0x89, 0x80, 1, 2, 3, 4}
	batch := make([]byte, 0, 6*512)
	for range 512 {
		batch = append(batch, ping...)
	}
	const flood = 2 * time.Second
	start := time.Now()
	go func() {
		for time.Since(start) < flood {
			if _, err := c.Write(batch); err != nil {
				return
			}
		}
	}()
	// Count pongs (2-byte frames: 0x8a 0x00) for the flood's duration.
	pongs := 0
	_ = c.SetReadDeadline(start.Add(flood))
	var hdr [2]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			break
		}
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			var ext [2]byte
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				break
			}
			n = int(binary.BigEndian.Uint16(ext[:]))
		}
		if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
			break
		}
		if hdr[0]&0x0f == 0xa {
			pongs++
		}
	}
	took := time.Since(start)
	most := 64<<10/262 + int(took.Seconds()*(16<<10)/262) + 8
	t.Logf("%d pings answered in %v (the budget allows %d)", pongs, took.Round(time.Millisecond), most)
	if pongs > most {
		t.Fatalf("%d pings answered in %v, the budget allows %d", pongs, took, most)
	}
	if pongs == 0 {
		t.Fatal("no ping was answered at all")
	}
	// The server is still there for everyone else.
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	other, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	other.CloseNow()
}

// keepAlive opens n connections to addr and asks each for the page: each
// is answered, and stays open (keep-alive) until the test ends.
func keepAlive(t *testing.T, addr string, n int) {
	t.Helper()
	for range n {
		c, err := net.DialTimeout("tcp", addr, bound)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(bound))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// The web port holds at most ConnsPerAddress connections from one address;
// more are closed at accept, and another address is still served.
func TestConnectionsPerAddressAtAccept(t *testing.T) {
	s := serve(t, func(c *web.Config) { c.ConnsPerAddress = 5 })
	addr := strings.TrimPrefix(s.url, "http://")
	keepAlive(t, addr, 5)
	extra, err := net.DialTimeout("tcp", addr, bound)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetDeadline(time.Now().Add(bound))
	_, _ = io.WriteString(extra, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	if n, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a sixth connection from one address was served (%d bytes)", n)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	resp, err := hc.Get(s.url + "/")
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	resp.Body.Close()
}

// A tab that stops reading but answers coder/websocket's pings blind (its
// payloads count up from 1) is dropped within the stall timeout: the
// question it must answer is a random nonce it has not read.
func TestBlindPongsDoNotKeepASeat(t *testing.T) {
	s := serve(t)
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	seated := a.next("seated")
	addr := strings.TrimPrefix(s.url, "http://")
	c, err := net.DialTimeout("tcp", addr, bound)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: " + addr + "\r\n")
	_ = upgradeHeaders("").Write(&b)
	b.WriteString("\r\n")
	_, _ = io.WriteString(c, b.String())
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	frame := func(op byte, payload []byte) []byte {
		f := []byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0} // mask 0: payload as is
		return append(f, payload...)
	}
	hello := []byte(`{"t":"hello","op":"join","code":"` + seated.Code + `"}`)
	if _, err := c.Write(frame(1, hello)); err != nil {
		t.Fatal(err)
	}
	a.next("joined")
	// From now on it reads nothing, and answers pings 1, 2, 3… every
	// 100 ms, as a blind client would, while a types.
	start := time.Now()
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
			if _, err := c.Write(frame(0xa, []byte(strconv.Itoa(i)))); err != nil {
				return
			}
		}
	}()
	for deadline := start.Add(bound); ; {
		a.send(map[string]any{"t": "type", "s": "x"})
		if f := a.next("own", "left"); f.T == "left" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a tab answering pings blind kept its seat")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The probe goes out at most half a stall timeout after output and
	// waits a stall timeout (2s here); 2s more for a loaded machine.
	took := time.Since(start)
	t.Logf("a blind tab was dropped %v after it stopped reading (--stall-timeout 2s)", took.Round(time.Millisecond))
	if bound := 3*time.Second + 2*time.Second; took > bound {
		t.Fatalf("dropped after %v, want within %v", took, bound)
	}
}

// At the server-wide bound, a connection kept alive with nothing to do
// makes room for a newcomer: hoarding keep-alives locks nobody out.
func TestIdleKeepAliveMakesRoom(t *testing.T) {
	s := serve(t, func(c *web.Config) { c.MaxConns = 4 })
	addr := strings.TrimPrefix(s.url, "http://")
	keepAlive(t, addr, 4)
	for i := range 3 {
		if got := rawGet(t, addr, "/", addr, nil); got != http.StatusOK {
			t.Fatalf("newcomer %d: %d", i+1, got)
		}
	}
}

// Served over TLS (the listener's, as app sets it up), the page's own
// https Origin is welcome, an http one is another origin, and the paced
// connection beneath still carries the socket.
func TestOverTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	codes, _ := rooms.NewCodes("a test salt, long enough")
	gate := admit.New(rooms.NewMemory(codes), admit.Config{}, nil)
	hub := talk.NewHub(talk.Config{Gate: gate, Speak: speak.Config{KeysPerSecond: 10, KeyBurst: 10, MaxPaste: 10}})
	srv, err := web.New(web.Config{Hub: hub, StallTimeout: 2 * time.Second, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(raw, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		gate.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
	}()
	addr := raw.Addr().String()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	dial := func(origin string) (*websocket.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {origin}}})
		return c, err
	}
	if _, err := dial("http://" + addr); err == nil {
		t.Fatal("an http Origin was accepted on an https page")
	}
	c, err := dial("https://" + addr)
	if err != nil {
		t.Fatalf("the page's own https Origin: %v", err)
	}
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"t":"hello","op":"new"}`)); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"t":"seated"`) || !strings.Contains(string(b), `"link":"https://`) {
		t.Fatalf("first frame over TLS: %s %v", b, err)
	}
	resp, err := hc.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src wss://"+addr) {
		t.Fatalf("CSP over TLS: %q", csp)
	}
}

// A socket over its address's connection limit is told so at once, before
// its hello, and closed: it holds no place while it says nothing.
func TestOverLimitSocketIsToldAtOnce(t *testing.T) {
	codes, _ := rooms.NewCodes("a test salt, long enough")
	gate := admit.New(rooms.NewMemory(codes), admit.Config{PerAddress: limits.Config{Conns: 1}}, nil)
	s := serveTalk(t, func(c *talk.Config) { c.Gate = gate }, func(c *web.Config) { c.HelloTimeout = time.Minute })
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	a.next("seated")
	over, _, err := s.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f := over.next("refused")
	if f.Reason != "rate-limited" {
		t.Fatalf("over the limit: %+v", f)
	}
	if err := over.closed(); err == nil {
		t.Fatal("the socket over the limit was not closed")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("told after %v", took)
	}
}
