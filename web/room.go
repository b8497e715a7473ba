package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/hush-chat/hush/talk"
)

// outbox bounds what the reader hands the writer (echoes of one's own
// typing, hints). It fills only when a browser sends faster than it
// reads; the reader then waits, which slows that browser alone.
const outbox = 64

// room relays between the conversation and the tab until either ends. One
// goroutine reads the tab and speaks; this one writes everything the tab
// is sent, so a write that stalls holds up nobody but this tab, and is
// cut off after the stall timeout.
func (t *tab) room(ctx context.Context, conv *talk.Conv) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	others := make([]peer, 0, len(conv.Others()))
	for _, p := range conv.Others() {
		others = append(others, *peerOf(p))
	}
	fade := conv.Fade()
	link := conv.Link()
	if link == "" {
		link = t.link(conv.Code())
	}
	first := outFrame{
		T: "seated", Code: conv.Code(), Seats: conv.Seats(), P: peerOf(conv.Self()), Others: others,
		Linger: fade.Linger.Milliseconds(), Bright: fade.Bright.Milliseconds(), Step: fade.Step.Milliseconds(),
		Link: link, SSH: conv.Invite(),
	}
	if err := t.send(ctx, first); err != nil {
		return
	}
	t.c.SetReadLimit(talk.PictureMaxPage) // a seated tab may send a picture
	out := make(chan outFrame, outbox)
	readDone := make(chan error, 1)
	go func() { readDone <- t.listen(ctx, conv, out) }()
	ping := time.NewTicker(t.s.cfg.StallTimeout / 2)
	defer ping.Stop()
	flowed := false // output since the last ping
	var lastPing time.Time
	events := make([]talk.Event, 0, 16)
	for {
		var ev talk.Event
		select {
		case <-ctx.Done():
			return
		case err := <-readDone:
			if errors.Is(err, errLeave) {
				conv.Leave()
				t.c.Close(websocket.StatusNormalClosure, "")
			}
			return
		case f := <-out:
			if t.send(ctx, f) != nil {
				return
			}
			flowed = true
			continue
		case <-conv.Ready():
			events = conv.Drain(events[:0])
			for _, e := range events {
				if !t.show(ctx, e) {
					return
				}
			}
			flowed = true
			continue
		case ev = <-conv.Notes():
		case now := <-ping.C:
			// Like SSH's probe: while output flows, ask for an answer, which
			// a browser gives only once it has read what came before. A tab
			// nobody speaks to is asked now and then, so a phone that went
			// away does not hold a seat for ever.
			if flowed || now.Sub(lastPing) >= restPing {
				flowed, lastPing = false, now
				go t.probe(ctx, cancel)
			}
			continue
		}
		if !t.show(ctx, ev) {
			return
		}
	}
}

// show sends one event; false when the tab is done (the conversation
// ended, or the tab cannot be written to).
func (t *tab) show(ctx context.Context, e talk.Event) bool {
	var f outFrame
	switch e.Kind {
	case talk.Joined:
		f = outFrame{T: "joined", P: peerOf(e.Peer)}
	case talk.Left:
		f = outFrame{T: "left", ID: e.Peer.ID}
	case talk.Typed:
		f = outFrame{T: "typed", ID: e.Peer.ID, S: e.Text}
	case talk.Newline:
		f = outFrame{T: "nl", ID: e.Peer.ID}
	case talk.Warned:
		f = outFrame{T: "note", S: e.Text}
	case talk.Pictured:
		f = outFrame{T: "picture", ID: e.Peer.ID, W: e.Picture.W, H: e.Picture.H, Px: base64.StdEncoding.EncodeToString(e.Picture.Pix)}
	case talk.Ended:
		_ = t.send(ctx, outFrame{T: "ended", S: e.Text})
		t.c.Close(websocket.StatusNormalClosure, "")
		return false
	default:
		return true
	}
	return t.send(ctx, f) == nil
}

// restPing is how often a quiet tab is asked whether it is still there.
const restPing = 30 * time.Second

// probe asks the tab a question with a random nonce and drops it if the
// answer does not come within the stall timeout. The page answers only
// once it has read everything sent before, so a tab that stopped reading
// cannot keep its seat by answering blind (as it could a WebSocket ping,
// whose payload coder/websocket counts up).
func (t *tab) probe(ctx context.Context, drop context.CancelFunc) {
	pctx, cancel := context.WithTimeout(ctx, t.s.cfg.StallTimeout)
	defer cancel()
	nonce, answered := t.asks.ask()
	defer t.asks.forget(nonce)
	if err := t.write(pctx, outFrame{T: "ping", S: nonce}); err != nil {
		if ctx.Err() == nil {
			t.stalled(drop)
		}
		return
	}
	select {
	case <-answered:
	case <-pctx.Done():
		if ctx.Err() == nil {
			t.stalled(drop)
		}
	}
}

// send writes one frame, giving up on a tab that takes nothing for the
// stall timeout.
func (t *tab) send(ctx context.Context, f outFrame) error {
	wctx, cancel := context.WithTimeout(ctx, t.s.cfg.StallTimeout)
	defer cancel()
	err := t.write(wctx, f)
	if err != nil && ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
		t.stalled(nil)
	}
	return err
}

func (t *tab) stalled(drop context.CancelFunc) {
	t.s.log.Warn("browser stopped reading, dropping it", "remote", t.remote)
	t.s.cfg.Metrics.SlowDropped()
	if drop != nil {
		drop()
	}
	_ = t.c.CloseNow()
}

// errLeave is the tab asking to leave.
var errLeave = errors.New("left")

// listen reads the tab and speaks for it until it leaves or goes away.
// Everything it types goes through the conversation, exactly as for SSH.
func (t *tab) listen(ctx context.Context, conv *talk.Conv, out chan<- outFrame) error {
	reply := func(said, hint string) error {
		for _, f := range [2]outFrame{{T: "own", S: said}, {T: "hint", S: hint}} {
			if f.S == "" {
				continue
			}
			select {
			case out <- f:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	for {
		f, picture, err := t.read(ctx)
		if err != nil {
			return err
		}
		if f.T == "pong" { // an answer to probe, not typing
			t.asks.answer(f.S)
			continue
		}
		now := time.Now()
		conv.Touch(now)
		switch f.T {
		case "type":
			err = reply(conv.Type(f.S, now))
		case "nl":
			ok, hint := conv.Newline(now)
			said := ""
			if ok {
				said = "\n"
			}
			err = reply(said, hint)
		case "paste":
			// The page sends a paste in pieces; they count as one paste.
			err = reply(conv.Paste(f.S, f.More, now))
		case "picture":
			// Checked again as if it came from anyone, whatever the page did.
			if perr := conv.Picture(ctx, bytes.NewReader(picture), talk.PictureMaxPage, now); perr != nil {
				err = reply("", perr.Error())
			}
		case "leave":
			return errLeave
		default:
			return fmt.Errorf("unknown frame %q", f.T)
		}
		if err != nil {
			return err
		}
	}
}
