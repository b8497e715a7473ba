package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// slowCount counts browsers dropped for not reading.
type slowCount struct {
	noMetrics
	n atomic.Int64
}

func (c *slowCount) SlowDropped() { c.n.Add(1) }

// A probe and a blocked send often see the same stalled tab at the same
// moment: it is dropped and counted once.
func TestStalledTabIsCountedOnce(t *testing.T) {
	accepted := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		accepted <- c
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	m := &slowCount{}
	tb := &tab{s: &Server{cfg: Config{Metrics: m}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, c: <-accepted, remote: "127.0.0.1"}
	var dropped atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { tb.stalled(func() { dropped.Add(1) }) })
	}
	wg.Wait()
	if n := m.n.Load(); n != 1 {
		t.Fatalf("a tab seen stalled twice was counted %d times, want once", n)
	}
	if dropped.Load() == 0 {
		t.Fatal("the stalled tab's conversation was not dropped")
	}
	// Dropped: the client's next read ends.
	if _, _, err := client.Read(ctx); err == nil {
		t.Fatal("the client read a message from a dropped tab")
	}
}
