package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
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

// bound is how long any wait here may take on a busy machine.
const bound = 10 * time.Second

type site struct {
	url  string // http://127.0.0.1:PORT
	hub  *talk.Hub
	srv  *web.Server
	drop chan struct{} // one value per browser dropped for not reading
}

type counter struct{ drop chan struct{} }

func (counter) WebSessionStarted() {}
func (counter) WebSessionEnded()   {}
func (c counter) SlowDropped()     { c.drop <- struct{}{} }

// serve runs the web front end over an in-memory registry on a loopback
// port, as app does, with tweak applied to its config.
func serve(t *testing.T, tweak ...func(*web.Config)) *site {
	t.Helper()
	return serveTalk(t, nil, tweak...)
}

// serveTalk is serve with the conversation's config tweaked too.
func serveTalk(t *testing.T, tweakTalk func(*talk.Config), tweak ...func(*web.Config)) *site {
	t.Helper()
	codes, err := rooms.NewCodes("a test salt, long enough")
	if err != nil {
		t.Fatal(err)
	}
	gate := admit.New(rooms.NewMemory(codes), admit.Config{PerAddress: limits.Config{WrongCodes: 3, WrongCodesPerHour: 6, Lockout: time.Minute}, MaxGroup: 4}, nil)
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))
	tc := talk.Config{
		Gate:   gate,
		Speak:  speak.Config{KeysPerSecond: 1000, KeyBurst: 1000, MaxPaste: 300},
		Linger: 2 * time.Second,
		Invite: func(code string) string { return "ssh " + code + "@chat.test" },
		Log:    log,
	}
	if tweakTalk != nil {
		tweakTalk(&tc)
	}
	hub := talk.NewHub(tc)
	s := &site{hub: hub, drop: make(chan struct{}, 16)}
	cfg := web.Config{
		Hub:          hub,
		Log:          log,
		StallTimeout: 2 * time.Second,
		HelloTimeout: time.Second,
		Metrics:      counter{s.drop},
	}
	for _, f := range tweak {
		f(&cfg)
	}
	if s.srv, err = web.New(cfg); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ln) }()
	t.Cleanup(func() {
		hub.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	s.url = "http://" + ln.Addr().String()
	return s
}

// tab is a WebSocket client speaking the page's protocol.
type tab struct {
	t *testing.T
	c *websocket.Conn
}

func (s *site) dial(t *testing.T, opts *websocket.DialOptions) (*tab, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/ws", opts)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &tab{t: t, c: c}, resp, nil
}

func (s *site) open(t *testing.T, hello map[string]any) *tab {
	t.Helper()
	tb, _, err := s.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb.send(hello)
	return tb
}

func (tb *tab) send(f map[string]any) {
	tb.t.Helper()
	b, _ := json.Marshal(f)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := tb.c.Write(ctx, websocket.MessageText, b); err != nil {
		tb.t.Fatalf("write: %v", err)
	}
}

type frame struct {
	T      string `json:"t"`
	ID     int    `json:"id"`
	S      string `json:"s"`
	Reason string `json:"reason"`
	Own    bool   `json:"own"`
	Code   string `json:"code"`
	Seats  int    `json:"seats"`
	Link   string `json:"link"`
	SSH    string `json:"ssh"`
	P      *struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		Guest bool   `json:"guest"`
	} `json:"p"`
	Others []json.RawMessage `json:"others"`
	Knock  bool              `json:"knock"`
	Lobby  bool              `json:"lobby"`
	Group  bool              `json:"group"`
	Locked bool              `json:"locked"`
	Wait   int64             `json:"wait"`
}

// next reads frames until one of kind t (or of any of more) arrives.
func (tb *tab) next(t string, more ...string) frame {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for {
		_, b, err := tb.c.Read(ctx)
		if err != nil {
			tb.t.Fatalf("waiting for %q: %v", t, err)
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			tb.t.Fatalf("frame %q: %v", b, err)
		}
		if f.T == "ping" && t != "ping" {
			tb.send(map[string]any{"t": "pong", "s": f.S})
			continue
		}
		if f.T == t || slices.Contains(more, f.T) {
			return f
		}
	}
}

// heard gathers typed text from peer id until it contains want.
func (tb *tab) heard(id int, want string) string {
	tb.t.Helper()
	var got strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for !strings.Contains(got.String(), want) {
		_, b, err := tb.c.Read(ctx)
		if err != nil {
			tb.t.Fatalf("waiting for %q, heard %q: %v", want, got.String(), err)
		}
		var f frame
		_ = json.Unmarshal(b, &f)
		switch {
		case f.T == "ping":
			tb.send(map[string]any{"t": "pong", "s": f.S})
		case f.T == "typed" && f.ID == id:
			got.WriteString(f.S)
		case f.T == "nl" && f.ID == id:
			got.WriteString("\n")
		}
	}
	return got.String()
}

// closed waits for the server to end the socket.
func (tb *tab) closed() error {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for {
		if _, _, err := tb.c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				tb.t.Fatal("the server kept the socket open")
			}
			return err
		}
	}
}

func TestPageAndHeaders(t *testing.T) {
	s := serve(t)
	for _, tc := range []struct {
		path, typ string
		status    int
	}{
		{"/", "text/html", 200},
		{"/2y53-ndv6-wjy6", "text/html", 200},
		{"/2Y53NDV6WJY6", "text/html", 200},
		{"/lobby", "text/html", 200},
		{"/LOBBY", "text/html", 200},
		{"/new", "text/plain", 404},
		{"/static/app.js", "text/javascript", 200},
		{"/static/app.css", "text/css", 200},
		{"/root", "text/plain", 404},
		{"/static/nope.js", "text/plain", 404},
		{"/a/b", "text/plain", 404},
	} {
		resp, err := http.Get(s.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.typ) {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.typ)
		}
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src ws://" + strings.TrimPrefix(s.url, "http://"), "frame-ancestors 'none'", "base-uri 'none'", "require-trusted-types-for 'script'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if h.Get(k) != v {
				t.Errorf("GET %s: %s = %q, want %q", tc.path, k, h.Get(k), v)
			}
		}
		if h.Get("Strict-Transport-Security") != "" || h.Get("Set-Cookie") != "" {
			t.Errorf("GET %s: HSTS without TLS, or a cookie: %v", tc.path, h)
		}
	}
	// Creating a room takes a socket and a frame: no GET opens one.
	if st := s.hub.Sessions(); st != 0 {
		t.Fatalf("pages opened %d sessions", st)
	}
}

func TestForeignOriginRefused(t *testing.T) {
	s := serve(t)
	_, resp, err := s.dial(t, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, response %v; want 403", err, resp)
	}
	// The page's own origin is welcome.
	_, _, err = s.dial(t, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {s.url}}})
	if err != nil {
		t.Fatalf("own origin refused: %v", err)
	}
}

func TestTalkBothWays(t *testing.T) {
	s := serve(t)
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	seated := a.next("seated")
	if seated.Seats != 2 || !seated.P.Guest || len(seated.Code) != 14 || seated.Link != s.url+"/"+seated.Code || seated.SSH != "ssh "+seated.Code+"@chat.test" {
		t.Fatalf("seated: %+v", seated)
	}
	b := s.open(t, map[string]any{"t": "hello", "op": "join", "code": strings.ToUpper(seated.Code)})
	bs := b.next("seated")
	if len(bs.Others) != 1 || bs.Code != seated.Code {
		t.Fatalf("joiner seated: %+v", bs)
	}
	if j := a.next("joined"); j.P.ID != bs.P.ID {
		t.Fatalf("joined: %+v", j)
	}
	// Hostile bytes are cleaned before they enter the room: the peer and
	// the typist's own echo get the same, inert text.
	for _, k := range []string{"h", "i", "\x1b[2J", "\u202e", " ", "y", "o"} {
		a.send(map[string]any{"t": "type", "s": k})
	}
	a.send(map[string]any{"t": "nl"})
	got := b.heard(seated.P.ID, "hi yo\n")
	if got != "hi yo\n" {
		t.Fatalf("peer heard %q", got)
	}
	if own := a.next("own"); own.S != "h" {
		t.Fatalf("own echo %q", own.S)
	}
	b.send(map[string]any{"t": "type", "s": "ok"})
	if got := a.heard(bs.P.ID, "ok"); got != "ok" {
		t.Fatalf("typist heard %q", got)
	}
	b.send(map[string]any{"t": "leave"})
	if l := a.next("left"); l.ID != bs.P.ID {
		t.Fatalf("left: %+v", l)
	}
}

func TestRefusalsSpeakLikeSSH(t *testing.T) {
	s := serve(t)
	a := s.open(t, map[string]any{"t": "hello", "op": "join", "code": "2y53-ndv6-wjy6"})
	f := a.next("refused")
	if f.Reason != "unknown" && f.Reason != "malformed" || !f.Own || !strings.Contains(f.S, "is open here") && !strings.Contains(f.S, "not a room code") {
		t.Fatalf("unknown code: %+v", f)
	}
	// A full room says so, in the gate's words.
	o := s.open(t, map[string]any{"t": "hello", "op": "new"})
	code := o.next("seated").Code
	s.open(t, map[string]any{"t": "hello", "op": "join", "code": code}).next("seated")
	f = s.open(t, map[string]any{"t": "hello", "op": "join", "code": code}).next("refused")
	if f.Reason != "full" || f.S != "Room "+strings.ReplaceAll(code, "-", "")+" is full." && f.S != "Room "+code+" is full." {
		t.Fatalf("full: %+v", f)
	}
	// Wrong codes count against the address, as for SSH: past the
	// allowance (3 here) joining is paused even with a right code.
	for range 3 {
		s.open(t, map[string]any{"t": "hello", "op": "join", "code": "zzzz-zzzz-zzzz"}).next("refused")
	}
	f = s.open(t, map[string]any{"t": "hello", "op": "join", "code": code}).next("refused")
	if f.Reason != "locked-out" {
		t.Fatalf("after wrong codes: %+v", f)
	}
}

func TestBadSocketsAreCut(t *testing.T) {
	s := serve(t)
	// No hello: closed after the hello timeout.
	quiet, _, err := s.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	quiet.closed()
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("silent socket closed after %v, before its hello timeout (1s)", took)
	}
	// A frame over the read limit closes the socket.
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	a.next("seated")
	a.send(map[string]any{"t": "type", "s": strings.Repeat("x", 2000)})
	if st := websocket.CloseStatus(a.closed()); st != websocket.StatusMessageTooBig {
		t.Errorf("big frame closed with %v", st)
	}
	// Unknown kinds end the session too.
	b := s.open(t, map[string]any{"t": "hello", "op": "new"})
	b.next("seated")
	b.send(map[string]any{"t": "exec", "s": "ls"})
	b.closed()
}

func TestPasteInPiecesIsCut(t *testing.T) {
	s := serve(t) // MaxPaste 300
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	seated := a.next("seated")
	b := s.open(t, map[string]any{"t": "hello", "op": "join", "code": seated.Code})
	b.next("seated")
	piece := strings.Repeat("abcdefgh", 16) // 128
	for i := range 8 {
		a.send(map[string]any{"t": "paste", "s": piece, "more": i < 7})
	}
	got := b.heard(seated.P.ID, strings.Repeat("abcdefgh", 37)+"abcd")
	if n := len(got); n != 300 {
		t.Fatalf("peer got %d characters of an 1024-character paste, want 300", n)
	}
	if h := a.next("hint"); !strings.Contains(h.S, "Paste cut short") {
		t.Fatalf("hint %q", h.S)
	}
}

// A browser that stops reading is dropped like a stalled SSH reader, and
// the person typing to it never waits.
func TestStalledBrowserIsDropped(t *testing.T) {
	s := serveTalk(t, func(c *talk.Config) { c.Speak.KeysPerSecond, c.Speak.KeyBurst = 1e6, 1e6 })
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	seated := a.next("seated")
	// The staller's socket takes at most a few KiB before the kernel
	// stops it, and it never reads.
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	staller, _, err := s.dial(t, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	staller.send(map[string]any{"t": "hello", "op": "join", "code": seated.Code})
	a.next("joined")
	// a types until the server gives up on the staller; every echo of
	// a's own typing keeps arriving meanwhile.
	deadline := time.Now().Add(bound)
	line := strings.Repeat("w", 100)
	for {
		a.send(map[string]any{"t": "type", "s": line})
		if f := a.next("own", "left"); f.T == "left" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled browser was never dropped")
		}
	}
	select {
	case <-s.drop:
	default:
		t.Fatal("the staller left without being counted as dropped")
	}
}

func TestShutdownSaysGoodbye(t *testing.T) {
	s := serve(t)
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	a.next("seated")
	s.hub.Shutdown()
	if f := a.next("ended"); !strings.Contains(f.S, "restarting") {
		t.Fatalf("ended: %q", f.S)
	}
	err := a.closed()
	if st := websocket.CloseStatus(err); st != websocket.StatusNormalClosure && !errors.Is(err, io.EOF) {
		t.Fatalf("closed with %v", err)
	}
}

func TestLink(t *testing.T) {
	for _, tc := range []struct {
		base, host string
		port       int
		want       string
	}{
		{"", "chat.example.org", 8080, "http://chat.example.org:8080/c"},
		{"", "chat.example.org:22", 80, "http://chat.example.org/c"},
		{"https://chat.example.org/", "x", 8080, "https://chat.example.org/c"},
		{"", "::1", 8080, "http://[::1]:8080/c"},
	} {
		if got := web.Link(tc.base, tc.host, tc.port, "c"); got != tc.want {
			t.Errorf("Link(%q, %q, %d) = %q, want %q", tc.base, tc.host, tc.port, got, tc.want)
		}
	}
}

// testLog sends the server's log to the test's.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// A tab whose person types nothing is warned, then let go, as on SSH.
func TestIdleTabIsLetGo(t *testing.T) {
	s := serveTalk(t, func(c *talk.Config) { c.IdleTimeout = time.Second })
	a := s.open(t, map[string]any{"t": "hello", "op": "new"})
	a.next("seated")
	if f := a.next("note"); !strings.Contains(f.S, "lets you go in") {
		t.Fatalf("warning: %q", f.S)
	}
	if f := a.next("ended"); !strings.Contains(f.S, "typed nothing for 1s") {
		t.Fatalf("ended: %q", f.S)
	}
}
