package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
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
// cut off after the stall timeout. It alone drains the conversation, so
// the choices that change what Drain gives next (asks, answers, locks,
// letting in) are made here: the reader hands them over.
func (t *tab) room(ctx context.Context, conv *talk.Conv) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &relay{t: t, conv: conv, knocks: make(map[int]talk.Peer), door: conv.Knocking()}
	r.arrive()
	first := r.seated("")
	if r.door {
		first = outFrame{T: "knocking", Code: conv.Code(), S: conv.KnockingText()}
	}
	if err := t.send(ctx, first); err != nil {
		return
	}
	t.c.SetReadLimit(talk.PictureMaxPage) // a seated tab may send a picture
	out := make(chan outFrame, outbox)
	choices := make(chan choice, choicesWaiting)
	readDone := make(chan error, 1)
	go func() {
		defer func() {
			// A bug met reading one tab ends that tab, not the server
			// (the writer, on the handler's goroutine, is net/http's to
			// contain).
			if v := recover(); v != nil {
				t.s.log.Error("tab failed", "remote", t.remote, "panic", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
				readDone <- errors.New("tab failed")
			}
		}()
		readDone <- t.listen(ctx, conv, out, choices)
	}()
	// Like SSH's probe: while output flows, the tab is asked a question
	// it answers only once it has read what came before (see talk.Flow).
	// A tab nobody speaks to is asked now and then, so a phone that went
	// away does not hold a seat for ever.
	flow := talk.NewFlow(t.s.cfg.StallTimeout)
	wrote := func() {
		if flow.Wrote(time.Now()) {
			time.AfterFunc(flow.Delay(), func() { t.probe(ctx, cancel, flow) })
		}
	}
	rest := time.NewTicker(restPing)
	defer rest.Stop()
	events := make([]talk.Event, 0, 16)
	for {
		var evs []talk.Event
		select {
		case <-ctx.Done():
			return
		case err := <-readDone:
			if errors.Is(err, errLeave) {
				_ = t.send(ctx, outFrame{T: "ended", S: conv.Leave()})
				t.c.Close(websocket.StatusNormalClosure, "")
			}
			return
		case f := <-out:
			if t.send(ctx, f) != nil {
				return
			}
			wrote()
			continue
		case ch := <-choices:
			evs = r.choose(ctx, ch)
		case <-conv.Ready(): // another channel after a move: asked anew each time
			events = conv.Drain(events[:0])
			evs = events
		case ev := <-conv.Notes():
			evs = append(events[:0], *ev)
		case now := <-rest.C:
			if now.Sub(time.Unix(0, t.asked.Load())) >= restPing {
				go t.probe(ctx, cancel, nil)
			}
			continue
		}
		for _, e := range evs {
			if !r.show(ctx, e) {
				return
			}
		}
		if len(evs) > 0 {
			wrote()
		}
	}
}

// choice is something the person chose on the page: ask someone, answer
// an ask, lock the room, let a knocker in.
type choice struct {
	t  string
	id int
}

// choicesWaiting bounds the choices the reader hands the writer; past it
// the reader waits, which slows that browser alone.
const choicesWaiting = 8

// choiceFor bounds one choice's trip through the gate (an ask's
// allowance, the room an accepted ask opens).
const choiceFor = 10 * time.Second

// relay is what the writer knows of where the person is, to turn the
// page's ids back into people.
type relay struct {
	t      *tab
	conv   *talk.Conv
	people map[int]talk.Peer // the others here: in the lobby, or in the room
	knocks map[int]talk.Peer // who knocks at the room now
	// door: the person knocks. Kept here, not asked of the conversation:
	// the members' Joined events come before LetIn in the same Drain,
	// when the conversation already says it is in.
	door bool
}

// arrive starts over with the people of the conversation's place: at
// first, and after a move.
func (r *relay) arrive() {
	r.people = make(map[int]talk.Peer, len(r.conv.Others()))
	for _, p := range r.conv.Others() {
		r.people[p.ID] = p
	}
	clear(r.knocks)
}

// seated is the frame that shows the page where the person sits now;
// text, if not "", says how they came there.
func (r *relay) seated(text string) outFrame {
	conv := r.conv
	others := make([]peer, 0, len(r.people))
	for _, p := range r.people {
		others = append(others, *peerOf(p))
	}
	slices.SortFunc(others, func(a, b peer) int { return a.ID - b.ID })
	fade := conv.Fade()
	f := outFrame{
		T: "seated", Code: conv.Code(), Seats: conv.Seats(), P: peerOf(conv.Self()), Others: others,
		Linger: fade.Linger.Milliseconds(), Bright: fade.Bright.Milliseconds(), Step: fade.Step.Milliseconds(),
		S: text, Lobby: conv.InLobby(), Group: conv.Group(), Locked: conv.Locked(),
	}
	if !conv.InLobby() {
		f.Link, f.SSH = conv.Link(), conv.Invite()
		if f.Link == "" {
			f.Link = r.t.link(conv.Code())
		}
	}
	return f
}

// choose makes a choice the page sent and returns what to show at once.
// An id the page could not have seen does nothing.
func (r *relay) choose(ctx context.Context, ch choice) []talk.Event {
	ctx, cancel := context.WithTimeout(ctx, choiceFor)
	defer cancel()
	conv := r.conv
	p, known := r.people[ch.id]
	switch ch.t {
	case "ask":
		if known {
			return conv.Ask(ctx, p)
		}
	case "cancel":
		return conv.Cancel()
	case "accept", "decline":
		if known {
			return conv.Answer(ctx, p, ch.t == "accept")
		}
	case "ignore":
		if known {
			return conv.Ignore(p)
		}
	case "lock", "unlock":
		if on := ch.t == "lock"; on != conv.Locked() { // a repeat says nothing to anyone
			return conv.Lock(on)
		}
	case "letin", "turnaway":
		if k, ok := r.knocks[ch.id]; ok {
			conv.LetIn(k, ch.t == "letin")
		}
	}
	return nil
}

// show sends one event; false when the tab is done (the conversation
// ended, or the tab cannot be written to).
func (r *relay) show(ctx context.Context, e talk.Event) bool {
	t := r.t
	var f outFrame
	switch e.Kind {
	case talk.Joined:
		r.people[e.Peer.ID] = e.Peer
		if r.door {
			return true // the room's, shown once let in
		}
		f = outFrame{T: "joined", P: peerOf(e.Peer)}
	case talk.Left:
		delete(r.people, e.Peer.ID)
		if r.door {
			return true
		}
		f = outFrame{T: "left", ID: e.Peer.ID}
	case talk.Typed:
		f = outFrame{T: "typed", ID: e.Peer.ID, S: e.Text}
	case talk.Newline:
		f = outFrame{T: "nl", ID: e.Peer.ID}
	case talk.Warned, talk.Notice:
		f = outFrame{T: "note", S: e.Text}
	case talk.Pictured:
		f = outFrame{T: "picture", ID: e.Peer.ID, W: e.Picture.W, H: e.Picture.H, Px: base64.StdEncoding.EncodeToString(e.Picture.Pix)}
	case talk.Moved:
		r.arrive()
		f = r.seated(e.Text)
	case talk.LetIn:
		r.door = false
		clear(r.knocks)
		f = r.seated("")
	case talk.Asking:
		f = outFrame{T: "asking", P: peerOf(e.Peer), S: e.Text, Wait: e.Wait.Milliseconds()}
	case talk.NoAnswer:
		f = outFrame{T: "noanswer", ID: e.Peer.ID, S: e.Text}
	case talk.Asked:
		f = outFrame{T: "asked", P: peerOf(e.Peer), S: e.Text, Wait: e.Wait.Milliseconds()}
	case talk.AskEnded:
		f = outFrame{T: "askended", ID: e.Peer.ID}
	case talk.Locked, talk.Unlocked:
		f = outFrame{T: "locked", ID: e.Peer.ID, S: e.Text, Locked: e.Kind == talk.Locked}
	case talk.Knocked:
		r.knocks[e.Peer.ID] = e.Peer
		f = outFrame{T: "knocked", P: peerOf(e.Peer), S: e.Text}
	case talk.KnockEnded:
		delete(r.knocks, e.Peer.ID)
		f = outFrame{T: "knockended", ID: e.Peer.ID}
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
// answer does not come within the stall timeout; flow, if the question is
// about output that flows, is told of the answer. The page answers only
// once it has read everything sent before, so a tab that stopped reading
// cannot keep its seat by answering blind (as it could a WebSocket ping,
// whose payload coder/websocket counts up).
func (t *tab) probe(ctx context.Context, drop context.CancelFunc, flow *talk.Flow) {
	t.asked.Store(time.Now().UnixNano())
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
		if flow != nil {
			flow.Answered(time.Now())
		}
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

// stalled drops a tab that stopped reading. A probe and a blocked send
// often both see it, at about the same moment; it is logged and counted
// once.
func (t *tab) stalled(drop context.CancelFunc) {
	if !t.slow.Swap(true) {
		t.s.log.Warn("browser stopped reading, dropping it", "remote", t.remote)
		t.s.cfg.Metrics.SlowDropped()
	}
	if drop != nil {
		drop()
	}
	_ = t.c.CloseNow()
}

// errLeave is the tab asking to leave.
var errLeave = errors.New("left")

// listen reads the tab and speaks for it until it leaves or goes away.
// Everything it types goes through the conversation, exactly as for SSH.
func (t *tab) listen(ctx context.Context, conv *talk.Conv, out chan<- outFrame, choices chan<- choice) error {
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
		case "ask", "cancel", "accept", "decline", "ignore", "lock", "unlock", "letin", "turnaway":
			// Made by the writer, which drains: they change what comes next.
			select {
			case choices <- choice{t: f.T, id: f.ID}:
			case <-ctx.Done():
				err = ctx.Err()
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
