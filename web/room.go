package web

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
)

// outbox bounds what the reader hands the writer (echoes of one's own
// typing, hints). It fills only when a browser sends faster than it
// reads; the reader then waits, which slows that browser alone.
const outbox = 64

// room relays between the seat and the tab until either ends. One
// goroutine reads the tab and speaks; this one writes everything the tab
// is sent, so a write that stalls holds up nobody but this tab, and is
// cut off after the stall timeout.
func (t *tab) room(ctx context.Context, seat rooms.Seat) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := t.s.cfg
	others := make([]peer, 0, len(seat.Others()))
	for _, p := range seat.Others() {
		others = append(others, *peerOf(p))
	}
	code := rooms.Grouped(seat.Code())
	first := outFrame{
		T: "seated", Code: code, Seats: seat.Seats(), P: peerOf(seat.Self()), Others: others,
		Linger: cfg.Linger.Milliseconds(), Link: t.link(code), SSH: cfg.SSH(code),
	}
	if err := t.send(ctx, first); err != nil {
		return
	}

	out := make(chan outFrame, outbox)
	typed := make(chan struct{}, 1) // the reader saw a key: idle starts over
	readDone := make(chan error, 1)
	go func() { readDone <- t.listen(ctx, seat, out, typed) }()

	idle := newIdle(cfg.IdleTimeout)
	defer idle.stop()
	ping := time.NewTicker(cfg.StallTimeout / 2)
	defer ping.Stop()
	flowed := false // output since the last ping
	var lastPing time.Time
	events := make([]rooms.Event, 0, 16)
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-readDone:
			if errors.Is(err, errLeave) {
				seat.Leave()
				t.c.Close(websocket.StatusNormalClosure, "")
			}
			return
		case f := <-out:
			if t.send(ctx, f) != nil {
				return
			}
			flowed = true
		case <-seat.Ready():
			events = seat.Drain(events[:0])
			for _, e := range events {
				if e.Kind == rooms.Ended {
					t.end(ctx, endWords(seat.Err()))
					return
				}
				if t.send(ctx, eventFrame(e)) != nil {
					return
				}
			}
			flowed = true
		case <-typed:
			idle.reset()
		case <-idle.warn:
			if t.send(ctx, outFrame{T: "note", S: idle.warning()}) != nil {
				return
			}
		case <-idle.done:
			t.end(ctx, fmt.Sprintf("You typed nothing for %v, so hush let you go. Nothing was kept.", cfg.IdleTimeout))
			return
		case now := <-ping.C:
			// Like SSH's probe: while output flows, ask for an answer, which
			// a browser gives only once it has read what came before. A tab
			// nobody speaks to is asked now and then, so a phone that went
			// away does not hold a seat for ever.
			if !flowed && now.Sub(lastPing) < restPing {
				continue
			}
			flowed, lastPing = false, now
			go t.probe(ctx, cancel)
		}
	}
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

// end says why the seat ended and closes.
func (t *tab) end(ctx context.Context, why string) {
	_ = t.send(ctx, outFrame{T: "ended", S: why})
	t.c.Close(websocket.StatusNormalClosure, "")
}

func endWords(err error) string {
	switch {
	case errors.Is(err, rooms.ErrClosed):
		return (&admit.Refusal{Reason: admit.ShuttingDown}).Error()
	case errors.Is(err, rooms.ErrLost):
		return "The room was lost: this server can no longer reach the others. Start a new one."
	}
	return "The room has ended. Nothing was kept."
}

func eventFrame(e rooms.Event) outFrame {
	switch e.Kind {
	case rooms.Joined:
		return outFrame{T: "joined", P: peerOf(e.Peer)}
	case rooms.Left:
		return outFrame{T: "left", ID: e.Peer.ID}
	case rooms.Typed:
		return outFrame{T: "typed", ID: e.Peer.ID, S: e.Text}
	case rooms.Newline:
		return outFrame{T: "nl", ID: e.Peer.ID}
	}
	return outFrame{T: "noop"}
}

// errLeave is the tab asking to leave.
var errLeave = errors.New("left")

// listen reads the tab and speaks for it until it leaves or goes away.
// Everything it types goes through a speak.Speaker: cleaned, within the
// key budget and the paste cap, exactly as for SSH.
func (t *tab) listen(ctx context.Context, seat rooms.Seat, out chan<- outFrame, typed chan<- struct{}) error {
	sp := speak.New(seat, t.s.cfg.Speak)
	var paste strings.Builder // pieces of one paste, at most MaxPaste runes
	pasted, cut := 0, false
	reply := func(said string, h speak.Hint) error {
		if said != "" {
			select {
			case out <- outFrame{T: "own", S: said}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if h != speak.None {
			select {
			case out <- outFrame{T: "hint", S: h.String()}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	for {
		f, err := t.read(ctx)
		if err != nil {
			return err
		}
		if f.T == "pong" { // an answer to probe, not typing
			t.asks.answer(f.S)
			continue
		}
		select {
		case typed <- struct{}{}:
		default:
		}
		now := time.Now()
		switch f.T {
		case "type":
			said, h := sp.Type(f.S, now)
			err = reply(said, h)
		case "nl":
			if ok, h := sp.Newline(now); ok {
				err = reply("\n", h)
			} else {
				err = reply("", h)
			}
		case "paste":
			// The page sends a paste in pieces; it counts as one paste,
			// and no more than the cap is ever held.
			limit := t.s.cfg.Speak.MaxPaste
			if n := utf8.RuneCountInString(f.S); limit > 0 && pasted+n > limit {
				f.S = string([]rune(f.S)[:max(limit-pasted, 0)])
				cut = true
			}
			pasted += utf8.RuneCountInString(f.S)
			paste.WriteString(f.S)
			if f.More {
				continue
			}
			said, h := sp.Paste(paste.String(), now)
			if cut {
				h = max(h, speak.PasteCut)
			}
			paste.Reset()
			pasted, cut = 0, false
			err = reply(said, h)
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
