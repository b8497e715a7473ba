package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hush-chat/hush/talk"
	"github.com/hush-chat/hush/web"
)

// lobbyTab enters the lobby and returns the tab with its seated frame.
func (s *site) lobbyTab(t *testing.T) (*tab, frame) {
	t.Helper()
	tb := s.open(t, map[string]any{"t": "hello", "op": "lobby"})
	f := tb.next("seated")
	if !f.Lobby || f.Code != "" || f.Link != "" || f.SSH != "" || f.P == nil {
		t.Fatalf("seated in the lobby: %+v", f)
	}
	return tb, f
}

// until reads frames until one of kind k about peer id arrives (its P or
// its ID), answering pings.
func (tb *tab) until(k string, id int) frame {
	tb.t.Helper()
	for {
		f := tb.next(k)
		if f.ID == id || f.P != nil && f.P.ID == id {
			return f
		}
	}
}

func peerIDs(t *testing.T, others []json.RawMessage) map[int]string {
	t.Helper()
	ids := make(map[int]string)
	for _, o := range others {
		var p struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(o, &p); err != nil {
			t.Fatal(err)
		}
		ids[p.ID] = p.Name
	}
	return ids
}

// Two tabs meet in the lobby, read each other's public text, one asks,
// the other accepts, and both are seated in the same new room for two,
// where they talk; a third sees them leave the lobby, never where to.
func TestLobbyAskAccepted(t *testing.T) {
	s := serve(t)
	a, as := s.lobbyTab(t)
	b, bs := s.lobbyTab(t)
	if ids := peerIDs(t, bs.Others); ids[as.P.ID] != as.P.Name || len(ids) != 1 {
		t.Fatalf("b sees %v in the lobby, want a (%d %s)", ids, as.P.ID, as.P.Name)
	}
	a.until("joined", bs.P.ID)
	c, cs := s.lobbyTab(t)
	a.until("joined", cs.P.ID)

	a.send(map[string]any{"t": "type", "s": "hi \x1b[2Jall"})
	if got := b.heard(as.P.ID, "hi all"); got != "hi all" {
		t.Fatalf("b read %q in the lobby", got)
	}
	if got := c.heard(as.P.ID, "hi all"); got != "hi all" {
		t.Fatalf("c read %q in the lobby", got)
	}

	a.send(map[string]any{"t": "ask", "id": bs.P.ID})
	if f := a.until("asking", bs.P.ID); f.S != "asking "+bs.P.Name+"…" || f.Wait != talk.AskFor.Milliseconds() {
		t.Fatalf("asking: %+v", f)
	}
	asked := b.until("asked", as.P.ID)
	if asked.S != as.P.Name+" asks you for a private room" || asked.Wait != talk.AskFor.Milliseconds() {
		t.Fatalf("asked: %+v", asked)
	}
	b.send(map[string]any{"t": "accept", "id": as.P.ID})
	bRoom := b.next("seated")
	if bRoom.Lobby || bRoom.Seats != 2 || bRoom.Group || len(bRoom.Code) != 14 || !strings.Contains(bRoom.S, as.P.Name) || bRoom.Link != s.url+"/"+bRoom.Code {
		t.Fatalf("b moved: %+v", bRoom)
	}
	aRoom := a.next("seated")
	if aRoom.Code != bRoom.Code || aRoom.Lobby || !strings.Contains(aRoom.S, bs.P.Name) {
		t.Fatalf("a moved to %+v, b to %q", aRoom, bRoom.Code)
	}
	// They talk in the room at once; the lobby hears nothing of it.
	a.send(map[string]any{"t": "type", "s": "just us"})
	if got := b.heard(aRoom.P.ID, "just us"); got != "just us" {
		t.Fatalf("b read %q in the new room", got)
	}
	b.send(map[string]any{"t": "type", "s": "yes"})
	if got := a.heard(bRoom.P.ID, "yes"); got != "yes" {
		t.Fatalf("a read %q in the new room", got)
	}
	for gone := map[int]bool{as.P.ID: true, bs.P.ID: true}; len(gone) > 0; {
		delete(gone, c.next("left").ID)
	}
	c.send(map[string]any{"t": "type", "s": "still here"})
	if f := c.next("own", "typed", "seated"); f.T != "own" {
		t.Fatalf("c, alone in the lobby, got %+v", f)
	}
}

// Declined or withdrawn, an ask ends the same way for each side.
func TestLobbyDeclineReadsAsNoAnswer(t *testing.T) {
	s := serve(t)
	a, as := s.lobbyTab(t)
	b, bs := s.lobbyTab(t)
	c, cs := s.lobbyTab(t)
	a.until("joined", cs.P.ID)

	a.send(map[string]any{"t": "ask", "id": bs.P.ID})
	b.until("asked", as.P.ID)
	b.send(map[string]any{"t": "decline", "id": as.P.ID})
	b.until("askended", as.P.ID)
	if f := a.until("noanswer", bs.P.ID); f.S != "No answer from "+bs.P.Name+"." {
		t.Fatalf("declined: %+v", f)
	}
	// The same person again at once: the rules' sentence.
	a.send(map[string]any{"t": "ask", "id": bs.P.ID})
	if f := a.next("note"); f.S != "You asked "+bs.P.Name+" a moment ago; try again in a few minutes." {
		t.Fatalf("asking again: %+v", f)
	}
	a.send(map[string]any{"t": "ask", "id": cs.P.ID})
	c.until("asked", as.P.ID)
	a.until("asking", cs.P.ID)
	a.send(map[string]any{"t": "cancel"})
	if f := a.until("noanswer", cs.P.ID); f.S != "No answer from "+cs.P.Name+"." {
		t.Fatalf("withdrawn: %+v", f)
	}
	c.until("askended", as.P.ID)
}

// Ignoring someone hides their lobby text and drops their asks unheard.
func TestLobbyIgnore(t *testing.T) {
	s := serve(t)
	a, as := s.lobbyTab(t)
	b, bs := s.lobbyTab(t)
	c, cs := s.lobbyTab(t)
	b.until("joined", cs.P.ID)
	a.until("joined", cs.P.ID)
	a.send(map[string]any{"t": "ask", "id": bs.P.ID})
	b.until("asked", as.P.ID)
	b.send(map[string]any{"t": "ignore", "id": as.P.ID})
	b.until("askended", as.P.ID) // the waiting ask goes with it
	a.send(map[string]any{"t": "type", "s": "spam"})
	a.next("own")
	c.heard(as.P.ID, "spam")
	c.send(map[string]any{"t": "type", "s": "ok"})
	for {
		f := b.next("typed", "asked")
		if f.ID == as.P.ID || f.P != nil {
			t.Fatalf("b ignores a, yet got %+v", f)
		}
		if f.ID == cs.P.ID && strings.Contains(f.S, "k") {
			break
		}
	}
}

// A group locks; a joiner is refused with the offer to knock, knocks,
// and is let in by a member; the next knocker is turned away. A room for
// two does not lock.
func TestLockKnockLetIn(t *testing.T) {
	s := serveTalk(t, func(c *talk.Config) { c.KnockFor = time.Minute })
	a := s.open(t, map[string]any{"t": "hello", "op": "group"})
	as := a.next("seated")
	if !as.Group || as.Locked {
		t.Fatalf("a group's seat: %+v", as)
	}
	b := s.open(t, map[string]any{"t": "hello", "op": "join", "code": as.Code})
	bs := b.next("seated")
	a.until("joined", bs.P.ID)

	a.send(map[string]any{"t": "lock"})
	if f := a.next("locked"); !f.Locked || f.ID != as.P.ID || f.S != as.P.Name+" locked the room" {
		t.Fatalf("a locking: %+v", f)
	}
	if f := b.next("locked"); !f.Locked || f.S != as.P.Name+" locked the room" {
		t.Fatalf("b saw: %+v", f)
	}
	// Locking a locked room again says nothing to anyone.
	b.send(map[string]any{"t": "lock"})
	b.send(map[string]any{"t": "type", "s": "y"})
	if f := b.next("own", "locked"); f.T != "own" {
		t.Fatalf("locking again: %+v", f)
	}
	if f := a.next("typed", "locked"); f.T != "typed" {
		t.Fatalf("a, after b locked again: %+v", f)
	}

	c := s.open(t, map[string]any{"t": "hello", "op": "join", "code": as.Code})
	if f := c.next("refused"); !f.Knock || f.Reason != "locked" {
		t.Fatalf("joining a locked room: %+v", f)
	}
	c = s.open(t, map[string]any{"t": "hello", "op": "knock", "code": as.Code})
	if f := c.next("knocking", "seated"); f.T != "knocking" || f.Code != as.Code || !strings.Contains(f.S, as.Code) {
		t.Fatalf("knocking: %+v", f)
	}
	knock := b.next("knocked")
	if f := a.next("knocked"); f.P.ID != knock.P.ID || f.S != knock.P.Name+" knocks" {
		t.Fatalf("knocks: a %+v, b %+v", f, knock)
	}
	a.send(map[string]any{"t": "letin", "id": knock.P.ID})
	cs := c.next("seated", "joined", "left") // the members come in the seated frame, not before it
	if cs.T != "seated" || cs.Code != as.Code || !cs.Group || !cs.Locked || len(cs.Others) != 2 {
		t.Fatalf("c let in: %+v", cs)
	}
	b.until("knockended", knock.P.ID)
	b.until("joined", cs.P.ID)
	c.send(map[string]any{"t": "type", "s": "thanks"})
	if got := b.heard(cs.P.ID, "thanks"); got != "thanks" {
		t.Fatalf("b heard %q from c", got)
	}

	d := s.open(t, map[string]any{"t": "hello", "op": "knock", "code": as.Code})
	d.next("knocking")
	k := c.next("knocked") // a member let in answers like any other
	c.send(map[string]any{"t": "turnaway", "id": k.P.ID})
	if f := d.next("ended"); f.S != "Nobody let you in." {
		t.Fatalf("turned away: %+v", f)
	}
	a.until("knockended", k.P.ID)

	b.send(map[string]any{"t": "unlock"})
	if f := a.next("locked"); f.Locked || f.S != bs.P.Name+" unlocked the room" {
		t.Fatalf("unlocked: %+v", f)
	}
	s.open(t, map[string]any{"t": "hello", "op": "join", "code": as.Code}).next("seated")

	// A room for two never locks: nothing is said, typing goes on.
	p := s.open(t, map[string]any{"t": "hello", "op": "new"})
	if f := p.next("seated"); f.Group {
		t.Fatalf("a room for two as a group: %+v", f)
	}
	p.send(map[string]any{"t": "lock"})
	p.send(map[string]any{"t": "type", "s": "x"})
	if f := p.next("own", "locked", "note"); f.T != "own" {
		t.Fatalf("locking a room for two: %+v", f)
	}
}

// Choices that name nobody, or make no sense where the tab is, cost a
// map look-up; a flood of asks reaches its target once, and the tab that
// sent it goes on as before.
func TestLobbyHostileChoices(t *testing.T) {
	s := serve(t)
	// In a room: every lobby choice does nothing.
	r := s.open(t, map[string]any{"t": "hello", "op": "new"})
	rs := r.next("seated")
	q := s.open(t, map[string]any{"t": "hello", "op": "join", "code": rs.Code})
	qs := q.next("seated")
	for _, k := range []string{"ask", "accept", "decline", "ignore", "cancel", "letin", "turnaway", "lock", "unlock"} {
		for _, id := range []int{qs.P.ID, rs.P.ID, -1, 1 << 40} {
			r.send(map[string]any{"t": k, "id": id})
		}
	}
	r.send(map[string]any{"t": "type", "s": "fine"})
	if got := q.heard(rs.P.ID, "fine"); got != "fine" {
		t.Fatalf("after stray choices q heard %q", got)
	}

	a, as := s.lobbyTab(t)
	b, bs := s.lobbyTab(t)
	c, cs := s.lobbyTab(t)
	d, ds := s.lobbyTab(t)
	a.until("joined", ds.P.ID)
	// The flood is written while a reads (and answers the liveness
	// questions), as a page would. (Past a burst of 256 frames the
	// socket is read at 64 frames a second, whatever they say: this one
	// stays within the burst.)
	flood := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		write := func(f map[string]any) error {
			b, _ := json.Marshal(f)
			return a.c.Write(ctx, websocket.MessageText, b)
		}
		for i := range 150 {
			if err := write(map[string]any{"t": "ask", "id": 1000 + i}); err != nil {
				flood <- err
				return
			}
		}
		for i := range 20 {
			id := bs.P.ID
			if i%2 == 1 {
				id = cs.P.ID
			}
			if err := write(map[string]any{"t": "ask", "id": id}); err != nil {
				flood <- err
				return
			}
			if err := write(map[string]any{"t": "accept", "id": id}); err != nil {
				flood <- err
				return
			}
		}
		// Choices are made in order: once the ask to d is seen, the
		// flood before it has been dealt with.
		flood <- write(map[string]any{"t": "ask", "id": ds.P.ID})
	}()
	a.until("asking", ds.P.ID)
	if err := <-flood; err != nil {
		t.Fatal(err)
	}
	d.until("asked", as.P.ID)
	a.send(map[string]any{"t": "type", "s": "done"})
	for _, x := range []*tab{b, c} {
		asked := 0
		for {
			f := x.next("asked", "typed", "seated")
			if f.T == "seated" {
				t.Fatalf("the flood moved someone: %+v", f)
			}
			if f.T == "asked" {
				asked++
			}
			if f.T == "typed" && f.ID == as.P.ID && strings.Contains(f.S, "e") {
				break
			}
		}
		if asked != 1 {
			t.Errorf("a's flood reached a target %d times, want once", asked)
		}
	}
	if n := s.hub.Sessions(); n != 6 {
		t.Fatalf("%d sessions after the flood, want 6", n)
	}
}

// Knocks from several addresses wait side by side, each answered on its
// own; past three waiting the door is full, in the rules' words.
func TestKnocksFromSeveralAddresses(t *testing.T) {
	s := serve(t, func(c *web.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	from := func(ip string, hello map[string]any) *tab {
		tb, _, err := s.dial(t, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {ip}}})
		if err != nil {
			t.Fatal(err)
		}
		tb.send(hello)
		return tb
	}
	a := from("192.0.2.1", map[string]any{"t": "hello", "op": "group"})
	as := a.next("seated")
	a.send(map[string]any{"t": "lock"})
	a.next("locked")
	knock := map[string]any{"t": "hello", "op": "knock", "code": as.Code}
	var knockers []*tab
	ids := map[int]bool{}
	for i := range 3 {
		k := from(fmt.Sprintf("192.0.2.%d", 10+i), knock)
		k.next("knocking")
		knockers = append(knockers, k)
		ids[a.next("knocked").P.ID] = true
		if i == 0 { // one knock waiting per address and room
			if f := from("192.0.2.10", knock).next("refused"); f.Reason != "knock-waiting" {
				t.Fatalf("a second knock from one address: %+v", f)
			}
		}
	}
	if len(ids) != 3 {
		t.Fatalf("three knocks came as %v", ids)
	}
	if f := from("192.0.2.20", knock).next("refused"); f.Reason != "door-full" {
		t.Fatalf("a fourth knock: %+v", f)
	}
	// The first is turned away, the others let in, each on its own.
	var order []int
	for id := range ids {
		order = append(order, id)
	}
	slices.Sort(order)
	a.send(map[string]any{"t": "turnaway", "id": order[0]})
	a.until("knockended", order[0])
	for _, id := range order[1:] {
		a.send(map[string]any{"t": "letin", "id": id})
		a.until("knockended", id)
	}
	got := map[string]int{}
	for _, k := range knockers {
		got[k.next("seated", "ended").T]++
	}
	if got["seated"] != 2 || got["ended"] != 1 {
		t.Fatalf("knockers: %v, want 2 seated and 1 ended", got)
	}
}

// An ask nobody answers ends for both after its wait, and reads to the
// asker as a decline does.
func TestLobbyAskTimesOut(t *testing.T) {
	s := serveTalk(t, func(c *talk.Config) { c.AskFor = 300 * time.Millisecond })
	a, as := s.lobbyTab(t)
	b, bs := s.lobbyTab(t)
	a.until("joined", bs.P.ID)
	a.send(map[string]any{"t": "ask", "id": bs.P.ID})
	if f := b.until("asked", as.P.ID); f.Wait != 300 {
		t.Fatalf("asked: %+v", f)
	}
	b.until("askended", as.P.ID)
	if f := a.until("noanswer", bs.P.ID); f.S != "No answer from "+bs.P.Name+"." {
		t.Fatalf("timed out: %+v", f)
	}
}

// Knocking at a code that names no room is a wrong code like joining
// one: the page may send a knock for any code, so it must not be a way
// around the lockout.
func TestKnockAtWrongCodeCounts(t *testing.T) {
	s := serve(t)
	code := s.open(t, map[string]any{"t": "hello", "op": "group"}).next("seated").Code
	for range 3 {
		if f := s.open(t, map[string]any{"t": "hello", "op": "knock", "code": "zzzz-zzzz-zzzz"}).next("refused"); f.Reason == "locked-out" {
			t.Fatalf("locked out before the allowance was spent: %+v", f)
		}
	}
	if f := s.open(t, map[string]any{"t": "hello", "op": "join", "code": code}).next("refused", "seated"); f.T != "refused" || f.Reason != "locked-out" {
		t.Fatalf("joining after three knocks at wrong codes: %+v", f)
	}
	if f := s.open(t, map[string]any{"t": "hello", "op": "knock", "code": code}).next("refused", "seated"); f.T != "refused" || f.Reason != "locked-out" {
		t.Fatalf("knocking while locked out: %+v", f)
	}
}
