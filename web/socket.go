package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/hush-chat/hush/talk"
)

// The protocol: small JSON frames, one per message. The browser's first
// frame says where it is going (the room code travels here, never in a
// URL); after that it sends what was typed, and the person's choices (an
// ask, an answer, a lock, letting a knocker in) by the ids the server
// gave. The server sends what others typed, already cleaned, what entered
// the room of one's own typing, and every sentence in talk's words.

// readLimit bounds one text frame from a browser; the page sends pastes in
// pieces below it. A binary frame is a picture, shrunk by the page first,
// of at most talk.PictureMaxPage.
const readLimit = 1024

// Frames from the browser.
type inFrame struct {
	T    string `json:"t"`              // hello, type, nl, paste, leave, pong; ask, cancel, accept, decline, ignore; lock, unlock; letin, turnaway
	Op   string `json:"op,omitempty"`   // hello: new, group, join, lobby, knock
	Code string `json:"code,omitempty"` // hello: the room to join or knock at
	ID   int    `json:"id,omitempty"`   // ask, accept, decline, ignore: whom; letin, turnaway: who knocks
	S    string `json:"s,omitempty"`    // type, paste: the text; pong: the nonce
	More bool   `json:"more,omitempty"` // paste: more pieces follow
}

// Frames to the browser.
type peer struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Color int    `json:"color"`
	Guest bool   `json:"guest,omitempty"`
	Badge string `json:"badge,omitempty"`
}

type outFrame struct {
	T      string `json:"t"`
	ID     int    `json:"id,omitempty"`
	S      string `json:"s,omitempty"`
	P      *peer  `json:"p,omitempty"`
	Reason string `json:"reason,omitempty"` // refused: the metric label
	Own    bool   `json:"own,omitempty"`    // refused: starting one's own room would help
	Knock  bool   `json:"knock,omitempty"`  // refused: the room is locked; a hello with op knock knocks
	// seated
	Code   string `json:"code,omitempty"`
	Seats  int    `json:"seats,omitempty"`
	Others []peer `json:"others,omitempty"`
	Linger int64  `json:"linger,omitempty"` // the fade schedule, in milliseconds
	Bright int64  `json:"bright,omitempty"`
	Step   int64  `json:"step,omitempty"`
	Link   string `json:"link,omitempty"`
	SSH    string `json:"ssh,omitempty"`
	Lobby  bool   `json:"lobby,omitempty"`  // seated in the lobby (no code)
	Group  bool   `json:"group,omitempty"`  // seated in a group's room, which can be locked
	Locked bool   `json:"locked,omitempty"` // seated, locked: the room is locked now
	Wait   int64  `json:"wait,omitempty"`   // asking, asked: how long the ask waits, in milliseconds
	// picture: its size and its RGB pixels, base64
	W  int    `json:"w,omitempty"`
	H  int    `json:"h,omitempty"`
	Px string `json:"px,omitempty"`
}

func peerOf(p talk.Peer) *peer {
	return &peer{ID: p.ID, Name: p.Name, Color: p.Color, Guest: p.Guest, Badge: p.Badge}
}

// socket serves one tab: admission, then the room until either side ends.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	release, ok := s.hub.Hold()
	if !ok {
		http.Error(w, talk.Refuse(talk.ShuttingDown).Text, http.StatusServiceUnavailable)
		return
	}
	defer release()
	addr := s.clientAddr(r)
	// What is not a WebSocket from this site is refused before the gate
	// counts it: a foreign page (even an <img> pointed here) must not
	// spend a visitor's budget, which SSH shares.
	if !upgrading(r) {
		s.hub.Refused(talk.BadRequest)
		http.Error(w, "This address is for the page's WebSocket.", http.StatusUpgradeRequired)
		return
	}
	if !s.sameOrigin(r) {
		s.hub.Refused(talk.BadRequest)
		s.log.Info("web refused", "remote", talk.Key(addr), "reason", "origin")
		http.Error(w, "Open the page from this server.", http.StatusForbidden)
		return
	}
	conn := s.hub.Connect(addr)
	if conn == nil {
		http.Error(w, talk.Refuse(talk.TooManyConns).Text, http.StatusTooManyRequests)
		return
	}
	defer conn.Close()
	// The Origin was checked above, against the configured URL or the
	// known host the request came by.
	c, err := websocket.Accept(hijackCounting{w}, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.hub.Refused(talk.BadRequest)
		s.log.Info("web refused", "remote", talk.Key(addr), "reason", "handshake")
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(readLimit) // a picture's frame only once seated (room)
	link := func(code string) string { return s.link(r, code) }
	// r.Context() must not be used after the upgrade.
	ctx, cancel := context.WithCancel(s.base)
	defer cancel()
	t := &tab{s: s, c: c, remote: talk.Key(addr), link: link}
	if err := conn.Refusal("web"); err != nil { // told at once, not after its hello
		t.refuse(ctx, err)
		return
	}
	t.serve(ctx, conn)
}

// upgrading says whether r asks for a WebSocket, as coder/websocket will
// check again.
func upgrading(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && headerHas(r.Header, "Upgrade", "websocket") &&
		r.Header.Get("Sec-WebSocket-Version") == "13" && r.Header.Get("Sec-WebSocket-Key") != ""
}

func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// tab is one browser tab's socket.
type tab struct {
	s      *Server
	c      *websocket.Conn
	remote string
	link   func(code string) string
	asks   asks         // liveness questions (see probe)
	asked  atomic.Int64 // when the last was asked, Unix nanoseconds
	slow   atomic.Bool  // dropped for not reading
}

// places are where a hello may ask to go.
var places = map[string]talk.Where{"new": talk.New, "group": talk.Group, "lobby": talk.Lobby}

func (t *tab) serve(ctx context.Context, conn *talk.Conn) {
	hctx, cancel := context.WithTimeout(ctx, t.s.cfg.HelloTimeout)
	hello, _, err := t.read(hctx)
	cancel()
	if err != nil || hello.T != "hello" {
		t.s.hub.Refused(talk.BadRequest)
		t.c.Close(websocket.StatusPolicyViolation, "say hello first")
		return
	}
	where, ok := places[hello.Op]
	if hello.Op == "join" || hello.Op == "knock" {
		where, ok = talk.Join(hello.Code), true
	}
	if !ok {
		t.s.hub.Refused(talk.BadRequest)
		t.c.Close(websocket.StatusPolicyViolation, "unknown op")
		return
	}
	var conv *talk.Conv
	if hello.Op == "knock" { // after a refusal that offered it
		conv, err = conn.Knock(ctx, hello.Code, nil, "web")
	} else {
		conv, err = conn.Enter(ctx, where, nil, "web") // a tab is a guest
	}
	if err != nil {
		t.refuse(ctx, err)
		return
	}
	defer conv.Close()
	t.s.cfg.Metrics.WebSessionStarted()
	defer t.s.cfg.Metrics.WebSessionEnded()
	start := time.Now()
	t.room(ctx, conv)
	t.s.log.Info("web session end", "remote", t.remote, "duration", time.Since(start).Round(time.Millisecond))
}

// refuse says why in the same words as SSH, then closes.
func (t *tab) refuse(ctx context.Context, err error) {
	r, ok := errors.AsType[*talk.Refusal](err)
	if !ok {
		r = &talk.Refusal{Text: talk.Unexpected, Reason: talk.Other}
	}
	f := outFrame{T: "refused", S: r.Text, Reason: r.Reason.String(), Own: r.StartOwn, Knock: r.Knock}
	wctx, cancel := context.WithTimeout(ctx, t.s.cfg.StallTimeout)
	defer cancel()
	_ = t.write(wctx, f)
	t.c.Close(websocket.StatusNormalClosure, "")
}

func (t *tab) read(ctx context.Context) (f inFrame, picture []byte, err error) {
	typ, b, err := t.c.Read(ctx)
	if err != nil {
		return f, nil, err
	}
	if typ == websocket.MessageBinary {
		return inFrame{T: "picture"}, b, nil
	}
	if len(b) > readLimit {
		t.c.Close(websocket.StatusMessageTooBig, "text frames are 1 KiB at most")
		return f, nil, errors.New("text frame too long")
	}
	if !utf8.Valid(b) {
		return f, nil, errors.New("not a frame the page sends")
	}
	return f, nil, json.Unmarshal(b, &f)
}

func (t *tab) write(ctx context.Context, f outFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return t.c.Write(ctx, websocket.MessageText, b)
}
