package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

// webHello opens a socket as the page does, says hello and returns the
// server's first answer.
func webHello(t *testing.T, s *server, hello map[string]string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sshtest.Timeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.WebAddr()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	b, _ := json.Marshal(hello)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
	_, b, err = c.Read(ctx)
	if err != nil {
		t.Fatalf("no answer to %v: %v", hello, err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// An address has one budget of sessions, over SSH and the web together.
func TestWebSharesSessionBudgetWithSSH(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.SessionsPerIP = 2; c.Metrics = "127.0.0.1:0" })
	openPair(t, s.Addr())
	f := webHello(t, s, map[string]string{"t": "hello", "op": "new"})
	if f["t"] != "refused" || f["reason"] != "too-many-sessions" || !strings.Contains(f["s"].(string), "Too many sessions") {
		t.Fatalf("third session, from a browser: %v", f)
	}
	waitMetrics(t, s.MetricsAddr(),
		metric{name: "hush_rejections_total", labels: []string{"reason", "too-many-sessions"}, want: 1},
		metric{name: "hush_web_sessions", want: 0},
		metric{name: "hush_sessions", want: 2})
}

// Wrong codes typed in a browser count against the address over SSH too.
func TestWebWrongCodesLockOutSSH(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.WrongCodes = 2 })
	_, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	for range 2 {
		if f := webHello(t, s, map[string]string{"t": "hello", "op": "join", "code": "2y53-ndv6-wjy6"}); f["t"] != "refused" {
			t.Fatalf("a wrong code: %v", f)
		}
	}
	late := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	if got := late.Exit(); got != 1 || !strings.Contains(late.Stderr(), "Too many wrong room codes") {
		t.Fatalf("the right code over SSH after two wrong ones in a browser: exit %d, %q", got, late.Stderr())
	}
}
