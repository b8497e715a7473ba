package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// tab is one browser tab's WebSocket, speaking the page's protocol (package
// web): a hello frame, then one frame per key; JSON text frames both ways.
// There is nothing to draw, so a tab that is watched decodes every frame;
// the others only count bytes.
type tab struct {
	c      *websocket.Conn
	ctx    context.Context // ends the socket when cancelled
	cancel context.CancelFunc
	self   int   // this tab's person in the room
	others []int // who was already there when it was seated

	received atomic.Int64 // payload bytes of the frames the server sent
	frames   atomic.Int64

	mu    sync.Mutex
	watch func(f *wsFrame, now time.Time) // called under mu for every frame, kept

	done chan struct{}
}

// wsFrame is what this tool reads of a frame from the server.
type wsFrame struct {
	T      string `json:"t"`
	ID     int    `json:"id"`
	S      string `json:"s"`
	Code   string `json:"code"`
	P      *wsMe  `json:"p"`
	Others []wsMe `json:"others"`
}

type wsMe struct {
	ID int `json:"id"`
}

// typeFrames are the frames for one key of the alphabet, made once.
var typeFrames = func() (f [256][]byte) {
	for i := range len(alphabet) {
		f[alphabet[i]] = wsTypeFrame(alphabet[i : i+1])
	}
	return f
}()

func wsTypeFrame(s string) []byte {
	b, _ := json.Marshal(struct {
		T string `json:"t"`
		S string `json:"s"`
	}{"type", s})
	return b
}

// dialWeb opens a socket to the web front end at addr and says hello: op
// "new" opens a room, "join" takes a seat in code's. It returns once the
// server has seated it.
func dialWeb(addr, op, code string) (*tab, error) {
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, waitLimit)
	defer dcancel()
	// No Origin header: the server checks it only when a browser sends one.
	c, _, err := websocket.Dial(dctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("websocket: %w", err)
	}
	t := &tab{c: c, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	fail := func(err error) (*tab, error) {
		cancel()
		_ = c.CloseNow()
		return nil, err
	}
	hello, _ := json.Marshal(struct {
		T    string `json:"t"`
		Op   string `json:"op"`
		Code string `json:"code,omitempty"`
	}{"hello", op, code})
	if err := c.Write(dctx, websocket.MessageText, hello); err != nil {
		return fail(fmt.Errorf("hello: %w", err))
	}
	for {
		typ, b, err := c.Read(dctx)
		if err != nil {
			return fail(fmt.Errorf("waiting to be seated: %w", err))
		}
		t.received.Add(int64(len(b)))
		t.frames.Add(1)
		if bytes.HasPrefix(b, []byte(`{"t":"ping"`)) {
			t.answer(b)
			continue
		}
		var f wsFrame
		if typ != websocket.MessageText || json.Unmarshal(b, &f) != nil {
			return fail(fmt.Errorf("not a JSON text frame: %q", b))
		}
		switch f.T {
		case "seated":
			if f.P == nil {
				return fail(fmt.Errorf("seated without a person: %s", b))
			}
			t.self = f.P.ID
			for _, o := range f.Others {
				t.others = append(t.others, o.ID)
			}
			go t.pump()
			return t, nil
		case "refused", "ended":
			return fail(fmt.Errorf("%s: %s", f.T, f.S))
		}
		// Anything else before the seat (none today) is skipped.
	}
}

func (t *tab) pump() {
	defer close(t.done)
	for {
		_, b, err := t.c.Read(t.ctx)
		if err != nil {
			return
		}
		t.received.Add(int64(len(b)))
		t.frames.Add(1)
		if bytes.HasPrefix(b, []byte(`{"t":"ping"`)) {
			t.answer(b)
			continue
		}
		t.mu.Lock()
		if t.watch != nil {
			var f wsFrame
			if json.Unmarshal(b, &f) == nil {
				t.watch(&f, time.Now())
			}
		}
		t.mu.Unlock()
	}
}

// answer sends back the nonce of the server's liveness question, as the
// page does.
func (t *tab) answer(b []byte) {
	var f wsFrame
	if json.Unmarshal(b, &f) != nil {
		return
	}
	pong, _ := json.Marshal(map[string]string{"t": "pong", "s": f.S})
	_ = t.c.Write(t.ctx, websocket.MessageText, pong)
}

// setWatch installs f to run for every frame from now on (under t.mu).
func (t *tab) setWatch(f func(f *wsFrame, now time.Time)) {
	t.mu.Lock()
	t.watch = f
	t.mu.Unlock()
}

var errTabClosed = errors.New("tab closed")

// send types s as one key frame, as the page does for each key.
func (t *tab) send(s string) error {
	b := []byte(nil)
	if len(s) == 1 {
		b = typeFrames[s[0]]
	}
	if b == nil {
		b = wsTypeFrame(s)
	}
	select {
	case <-t.done:
		return errTabClosed
	default:
	}
	ctx, cancel := context.WithTimeout(t.ctx, waitLimit)
	defer cancel()
	return t.c.Write(ctx, websocket.MessageText, b)
}

func (t *tab) close() {
	t.cancel()
	_ = t.c.CloseNow()
}

// closeTabs closes every socket, a few at a time.
func closeTabs(tabs []*tab) {
	_ = forEach(len(tabs), 64, func(i int) error {
		if tabs[i] != nil {
			tabs[i].close()
		}
		return nil
	})
}
