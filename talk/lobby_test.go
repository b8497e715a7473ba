package talk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/talk"
)

// listen collects what a conversation gives, from the room and from its
// own notes, as a front end does.
type listener struct {
	c     *talk.Conv
	heard []talk.Event
}

// until waits for an event matching f and returns it; the events before
// it are dropped.
func (l *listener) until(t *testing.T, what string, f func(talk.Event) bool) talk.Event {
	t.Helper()
	deadline := time.After(bound)
	for {
		for i, ev := range l.heard {
			if f(ev) {
				l.heard = l.heard[i+1:]
				return ev
			}
		}
		l.heard = l.heard[:0]
		select {
		case <-l.c.Ready():
			l.heard = l.c.Drain(l.heard)
		case ev := <-l.c.Notes():
			l.heard = append(l.heard, *ev)
		case <-deadline:
			t.Fatalf("%s: waited %v for %s", l.c.Self().Name, bound, what)
		}
	}
}

// hears reports whether the events heard so far (and any waiting now)
// hold one matching f, without waiting.
func (l *listener) hears(f func(talk.Event) bool) bool {
	l.heard = l.c.Drain(l.heard)
	for _, ev := range l.heard {
		if f(ev) {
			return true
		}
	}
	return false
}

func kind(k talk.Kind) func(talk.Event) bool {
	return func(ev talk.Event) bool { return ev.Kind == k }
}

func about(k talk.Kind, p talk.Peer) func(talk.Event) bool {
	return func(ev talk.Event) bool { return ev.Kind == k && ev.Peer.ID == p.ID }
}

func has(evs []talk.Event, k talk.Kind) (talk.Event, bool) {
	for _, ev := range evs {
		if ev.Kind == k {
			return ev, true
		}
	}
	return talk.Event{}, false
}

func quick(tc *talk.Config, _ *admit.Config) {
	tc.AskFor, tc.KnockFor = 300*time.Millisecond, 300*time.Millisecond
}

// Two people meet in the lobby, one reads the other's public text, one
// asks, the other accepts, and both are in a new room for two; a third
// sees them leave and never where to.
func TestLobbyAskAccepted(t *testing.T) {
	h := hub(t, nil)
	a := enter(t, h, "192.0.2.1", talk.Lobby)
	b := enter(t, h, "192.0.2.2", talk.Lobby)
	c := enter(t, h, "192.0.2.3", talk.Lobby)
	if !a.InLobby() || a.Code() != "" || a.Invite() != "" || len(c.Others()) != 2 {
		t.Fatalf("in the lobby: %v, code %q, invite %q; c sees %d", a.InLobby(), a.Code(), a.Invite(), len(c.Others()))
	}
	la, lb, lc := &listener{c: a}, &listener{c: b}, &listener{c: c}
	aInLobby, bInLobby := a.Self(), b.Self() // their ids change with the room
	la.until(t, "b and c", func(ev talk.Event) bool { return ev.Kind == talk.Joined && ev.Peer.ID == c.Self().ID })
	a.Type("hi \x1b[2Jthere", time.Now())
	if ev := lb.until(t, "a's text", kind(talk.Typed)); ev.Text != "hi there" {
		t.Fatalf("b read %q", ev.Text)
	}
	evs := a.Ask(t.Context(), b.Self())
	if ev, ok := has(evs, talk.Asking); !ok || ev.Text != "asking "+b.Self().Name+"…" || ev.Wait != talk.AskFor {
		t.Fatalf("a asking: %+v", evs)
	}
	ev := lb.until(t, "the ask", kind(talk.Asked))
	if ev.Peer.ID != a.Self().ID || ev.Text != a.Self().Name+" asks you for a private room" {
		t.Fatalf("b was asked: %+v", ev)
	}
	evs = b.Answer(t.Context(), ev.Peer, true)
	moved, ok := has(evs, talk.Moved)
	if !ok || b.InLobby() || b.Code() == "" || b.Seats() != 2 {
		t.Fatalf("b accepting: %+v; in the lobby %v, code %q", evs, b.InLobby(), b.Code())
	}
	if !strings.Contains(moved.Text, a.Self().Name) {
		t.Fatalf("b moved: %q", moved.Text)
	}
	la.until(t, "the move", kind(talk.Moved))
	if a.Code() != b.Code() || a.InLobby() {
		t.Fatalf("a is in %q, b in %q", a.Code(), b.Code())
	}
	lb.until(t, "a arriving", about(talk.Joined, a.Self()))
	a.Type("x", time.Now())
	if ev := lb.until(t, "a's text in the room", kind(talk.Typed)); ev.Text != "x" {
		t.Fatalf("b read %q in the room", ev.Text)
	}
	gone := map[int]bool{}
	for len(gone) < 2 {
		gone[lc.until(t, "a and b leaving", kind(talk.Left)).Peer.ID] = true
	}
	if !gone[aInLobby.ID] || !gone[bInLobby.ID] {
		t.Fatalf("c saw %v leave, want a (%d) and b (%d)", gone, aInLobby.ID, bInLobby.ID)
	}
	if lc.hears(kind(talk.Typed)) {
		t.Fatal("c read something from the room")
	}
}

// Declined, cancelled, timed out or gone: the asker reads the same.
func TestLobbyNoAnswerReadsTheSame(t *testing.T) {
	h := hub(t, quick)
	a := enter(t, h, "192.0.2.1", talk.Lobby)
	b := enter(t, h, "192.0.2.2", talk.Lobby)
	la, lb := &listener{c: a}, &listener{c: b}
	la.until(t, "b", kind(talk.Joined))
	want := "No answer from " + b.Self().Name + "."
	var got []string

	a.Ask(t.Context(), b.Self()) // declined
	b.Answer(t.Context(), lb.until(t, "ask 1", kind(talk.Asked)).Peer, false)
	got = append(got, la.until(t, "decline", kind(talk.NoAnswer)).Text)

	// The same person again at once is refused, with its sentence.
	evs := a.Ask(t.Context(), b.Self())
	if ev, ok := has(evs, talk.Notice); !ok || ev.Text != "You asked "+b.Self().Name+" a moment ago; try again in a few minutes." {
		t.Fatalf("asking again: %+v", evs)
	}

	c := enter(t, h, "192.0.2.3", talk.Lobby)
	lc := &listener{c: c}
	la.until(t, "c", about(talk.Joined, c.Self()))
	a.Ask(t.Context(), c.Self()) // cancelled
	lc.until(t, "ask 2", kind(talk.Asked))
	if ev, ok := has(a.Cancel(), talk.NoAnswer); ok {
		got = append(got, ev.Text[:0]+strings.Replace(ev.Text, c.Self().Name, b.Self().Name, 1))
	}
	lc.until(t, "the ask withdrawn", kind(talk.AskEnded))

	d := enter(t, h, "192.0.2.4", talk.Lobby)
	ld := &listener{c: d}
	la.until(t, "d", about(talk.Joined, d.Self()))
	a.Ask(t.Context(), d.Self()) // timed out
	ld.until(t, "ask 3", kind(talk.Asked))
	ev := la.until(t, "the timeout", kind(talk.NoAnswer))
	got = append(got, strings.Replace(ev.Text, d.Self().Name, b.Self().Name, 1))
	ld.until(t, "the ask timed out", kind(talk.AskEnded))

	e := enter(t, h, "192.0.2.5", talk.Lobby)
	le := &listener{c: e}
	la.until(t, "e", about(talk.Joined, e.Self()))
	a.Ask(t.Context(), e.Self()) // gone
	le.until(t, "ask 4", kind(talk.Asked))
	e.Leave()
	ev = la.until(t, "e leaving", kind(talk.NoAnswer))
	got = append(got, strings.Replace(ev.Text, e.Self().Name, b.Self().Name, 1))

	if len(got) != 4 {
		t.Fatalf("heard %d endings, want 4: %q", len(got), got)
	}
	for _, g := range got {
		if g != want {
			t.Fatalf("endings %q, want each %q", got, want)
		}
	}
}

// Ignoring hides a person's lobby text and drops their asks unheard.
func TestLobbyIgnore(t *testing.T) {
	h := hub(t, quick)
	a := enter(t, h, "192.0.2.1", talk.Lobby)
	b := enter(t, h, "192.0.2.2", talk.Lobby)
	c := enter(t, h, "192.0.2.3", talk.Lobby)
	la, lb := &listener{c: a}, &listener{c: b}
	lb.until(t, "c", about(talk.Joined, c.Self()))
	la.until(t, "c", about(talk.Joined, c.Self()))
	b.Ignore(a.Self())
	if !b.Ignored(a.Self()) {
		t.Fatal("not ignored")
	}
	a.Type("spam", time.Now())
	c.Type("ok", time.Now())
	if ev := lb.until(t, "c's text", kind(talk.Typed)); ev.Text != "ok" {
		t.Fatalf("b read %q: a's text came through", ev.Text)
	}
	a.Ask(t.Context(), b.Self())
	la.until(t, "no answer", kind(talk.NoAnswer))
	if lb.hears(kind(talk.Asked)) {
		t.Fatal("b was asked by someone ignored")
	}
}

// A person with asks waiting from AsksWaiting others cannot take more.
func TestLobbyAskBusy(t *testing.T) {
	h := hub(t, nil)
	z := enter(t, h, "192.0.2.100", talk.Lobby)
	lz := &listener{c: z}
	for i := range talk.AsksWaiting {
		p := enter(t, h, fmt.Sprintf("192.0.2.%d", i+1), talk.Lobby)
		p.Ask(t.Context(), z.Self())
		lz.until(t, "an ask", kind(talk.Asked))
	}
	late := enter(t, h, "192.0.2.50", talk.Lobby)
	ll := &listener{c: late}
	// z's screen reads on, as a front end does: asks are answered there.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-z.Ready():
				z.Drain(nil)
			case <-done:
				return
			}
		}
	}()
	late.Ask(t.Context(), z.Self())
	if ev := ll.until(t, "the refusal", kind(talk.Notice)); ev.Text != z.Self().Name+" can't take asks right now." {
		t.Fatalf("refused with %q", ev.Text)
	}
}

// A group member locks the room; a newcomer knocks and is let in, another
// is turned away, a third waits unanswered.
func TestLockAndKnock(t *testing.T) {
	h := hub(t, func(tc *talk.Config, gc *admit.Config) { quick(tc, gc); gc.MaxGroup = 4 })
	a := enter(t, h, "192.0.2.1", talk.Group)
	b := enter(t, h, "192.0.2.2", talk.Join(a.Code()))
	la, lb := &listener{c: a}, &listener{c: b}
	la.until(t, "b", kind(talk.Joined))
	evs := a.Lock(true)
	if ev, ok := has(evs, talk.Locked); !ok || ev.Text != a.Self().Name+" locked the room" || !a.Locked() {
		t.Fatalf("locking: %+v", evs)
	}
	if ev := lb.until(t, "the lock", kind(talk.Locked)); ev.Text != a.Self().Name+" locked the room" {
		t.Fatalf("b saw %q", ev.Text)
	}

	conn := h.Connect(addr("192.0.2.3"))
	t.Cleanup(conn.Close)
	_, err := conn.Enter(t.Context(), talk.Join(a.Code()), nil, "test")
	var r *talk.Refusal
	if !errors.As(err, &r) || !r.Knock || r.Code != a.Code() {
		t.Fatalf("joining the locked room: %v", err)
	}
	k, err := conn.Knock(t.Context(), r.Code, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	if !k.Knocking() || len(k.Others()) != 0 {
		t.Fatalf("knocking %v, sees %d", k.Knocking(), len(k.Others()))
	}
	if said, _ := k.Type("psst", time.Now()); said != "" {
		t.Fatal("a knock typed into the room")
	}
	ev := la.until(t, "the knock", kind(talk.Knocked))
	if ev.Text != k.Self().Name+" knocks" {
		t.Fatalf("knock reads %q", ev.Text)
	}
	b.LetIn(ev.Peer, true)
	lk := &listener{c: k}
	lk.until(t, "being let in", kind(talk.LetIn))
	if k.Knocking() || len(k.Others()) != 0 || !k.Locked() {
		t.Fatalf("let in: knocking %v, locked %v", k.Knocking(), k.Locked())
	}
	la.until(t, "the knock answered", kind(talk.KnockEnded))
	la.until(t, "k arriving", about(talk.Joined, k.Self()))
	k.Type("hello", time.Now())
	if ev := lb.until(t, "k's text", kind(talk.Typed)); ev.Text != "hello" {
		t.Fatalf("b read %q", ev.Text)
	}

	// Turned away.
	conn2 := h.Connect(addr("192.0.2.4"))
	t.Cleanup(conn2.Close)
	k2, err := conn2.Knock(t.Context(), a.Code(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k2.Close)
	a.LetIn(la.until(t, "knock 2", kind(talk.Knocked)).Peer, false)
	if ev := (&listener{c: k2}).until(t, "the end", kind(talk.Ended)); ev.Text != "Nobody let you in." {
		t.Fatalf("turned away: %q", ev.Text)
	}

	// Nobody answers.
	conn3 := h.Connect(addr("192.0.2.5"))
	t.Cleanup(conn3.Close)
	k3, err := conn3.Knock(t.Context(), a.Code(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k3.Close)
	if ev := (&listener{c: k3}).until(t, "the end", kind(talk.Ended)); ev.Text != "Nobody let you in." {
		t.Fatalf("unanswered: %q", ev.Text)
	}
	la.until(t, "knock 3 gone", about(talk.KnockEnded, k3.Self()))

	// A room for two never locks.
	two := enter(t, h, "192.0.2.9", talk.New)
	if evs := two.Lock(true); len(evs) != 0 || two.Group() {
		t.Fatalf("a room for two locked: %+v", evs)
	}
}

// An accepted ask whose room has gone by the time the asker takes their
// seat reads as no answer, and costs the asker no wrong-code strike: they
// typed no code.
func TestLobbyAcceptedRoomGoneIsNoWrongCode(t *testing.T) {
	h := hub(t, func(_ *talk.Config, gc *admit.Config) { gc.PerAddress.WrongCodes = 1 })
	a := enter(t, h, "192.0.2.1", talk.Lobby)
	b := enter(t, h, "192.0.2.2", talk.Lobby)
	la, lb := &listener{c: a}, &listener{c: b}
	la.until(t, "b", about(talk.Joined, b.Self()))
	a.Ask(t.Context(), b.Self())
	ev := lb.until(t, "the ask", kind(talk.Asked))
	if _, ok := has(b.Answer(t.Context(), ev.Peer, true), talk.Moved); !ok {
		t.Fatal("b did not move")
	}
	b.Close() // gone before a takes the seat: the room ends
	la.until(t, "no answer", kind(talk.NoAnswer))
	c := enter(t, h, "192.0.2.3", talk.New)
	other := h.Connect(addr("192.0.2.1"))
	t.Cleanup(other.Close)
	d, err := other.Enter(t.Context(), talk.Join(c.Code()), nil, "test")
	if err != nil {
		t.Fatalf("a's address, joining a room by its code afterwards: %v", err)
	}
	d.Close()
}

// An ask that may not be made leaves the ask already open alone: a
// refusal withdraws nothing.
func TestLobbyRefusedAskKeepsTheOpenOne(t *testing.T) {
	h := hub(t, nil)
	a := enter(t, h, "192.0.2.1", talk.Lobby)
	b := enter(t, h, "192.0.2.2", talk.Lobby)
	c := enter(t, h, "192.0.2.3", talk.Lobby)
	la, lb, lc := &listener{c: a}, &listener{c: b}, &listener{c: c}
	la.until(t, "c", about(talk.Joined, c.Self()))
	a.Ask(t.Context(), c.Self())
	c.Answer(t.Context(), lc.until(t, "the ask", kind(talk.Asked)).Peer, false)
	la.until(t, "the decline", kind(talk.NoAnswer))

	a.Ask(t.Context(), b.Self())
	lb.until(t, "a's ask", kind(talk.Asked))
	evs := a.Ask(t.Context(), c.Self()) // c again at once: refused
	if _, ok := has(evs, talk.Notice); !ok {
		t.Fatalf("asking c again at once: %+v", evs)
	}
	if _, ok := has(evs, talk.NoAnswer); ok {
		t.Fatalf("the refused ask withdrew the open one: %+v", evs)
	}
	if lb.hears(kind(talk.AskEnded)) {
		t.Fatal("b's ask from a ended")
	}
	if _, ok := has(b.Answer(t.Context(), a.Self(), true), talk.Moved); !ok {
		t.Fatal("b could not accept a's ask")
	}
	la.until(t, "the move", kind(talk.Moved))
}

// Someone knocking with their key is never found to send a picture as,
// however soon after the knock the picture comes: the knock is fully made
// before anything else can find it.
func TestKnockingSendsNoPicture(t *testing.T) {
	h := hub(t, func(tc *talk.Config, gc *admit.Config) { tc.Pictures = true; gc.MaxGroup = 4 })
	a := enter(t, h, "192.0.2.1", talk.Group)
	if evs := a.Lock(true); len(evs) == 0 {
		t.Fatal("not locked")
	}
	key := []byte("the knocker's key")
	sender := h.Connect(addr("192.0.2.200"))
	t.Cleanup(sender.Close)
	picture := pngBytes(t)
	var tries atomic.Int64
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				sent <- nil
				return
			default:
			}
			if _, err := sender.SendPicture(context.Background(), a.Code(), key, "", bytes.NewReader(picture)); err == nil {
				sent <- errors.New("a picture was sent as someone knocking")
				return
			}
			tries.Add(1)
		}
	}()
	conn := h.Connect(addr("192.0.2.10"))
	t.Cleanup(conn.Close)
	k, err := conn.Knock(t.Context(), a.Code(), key, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Let the sender look a few times while the knock waits.
	for from, deadline := tries.Load(), time.Now().Add(bound); tries.Load() < from+3; {
		if time.Now().After(deadline) {
			t.Fatal("the sender made no tries")
		}
		runtime.Gosched()
	}
	close(stop)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	k.Close()
}

// One knock waits per address and room, however the code is spelt.
func TestOneKnockPerAddressHoweverSpelt(t *testing.T) {
	h := hub(t, func(_ *talk.Config, gc *admit.Config) { gc.MaxGroup = 4 })
	a := enter(t, h, "192.0.2.1", talk.Group)
	if evs := a.Lock(true); len(evs) == 0 {
		t.Fatal("not locked")
	}
	conn := h.Connect(addr("192.0.2.7"))
	t.Cleanup(conn.Close)
	k, err := conn.Knock(t.Context(), a.Code(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	for _, spelt := range []string{strings.ToUpper(a.Code()), strings.ReplaceAll(a.Code(), "-", "")} {
		k2, err := conn.Knock(t.Context(), spelt, nil, "test")
		if err == nil {
			k2.Close()
			t.Fatalf("a second knock from the address, at %q, waits too", spelt)
		}
		if r, ok := errors.AsType[*talk.Refusal](err); !ok || r.Reason != admit.KnockWaiting {
			t.Fatalf("a second knock at %q: %v", spelt, err)
		}
	}
}
