package talk_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/internal/picturetest"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
	"github.com/hush-chat/hush/talk"
)

// bound is how long any wait here may take on a busy machine.
const bound = 10 * time.Second

// hub is a conversation layer over an in-memory registry, as app builds one.
func hub(t *testing.T, tweak func(*talk.Config, *admit.Config)) *talk.Hub {
	t.Helper()
	codes, err := rooms.NewCodes("talk test salt 0123456789")
	if err != nil {
		t.Fatal(err)
	}
	gc := admit.Config{MaxGroup: 3, PerAddress: limits.Config{WrongCodes: 5, WrongCodesPerHour: 10, Lockout: time.Minute}}
	tc := talk.Config{
		Speak:  speak.Config{MaxPaste: 10},
		Linger: 5 * time.Second,
		Invite: func(user string) string { return "ssh " + user + "@chat.test" },
		Link:   func(code string) string { return "https://chat.test/" + code },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tweak != nil {
		tweak(&tc, &gc)
	}
	tc.Gate = admit.New(rooms.NewMemory(codes), gc, nil)
	h := talk.NewHub(tc)
	t.Cleanup(h.Shutdown)
	return h
}

func addr(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1234} }

// enter takes a person from ip to where, failing the test on a refusal.
func enter(t *testing.T, h *talk.Hub, ip string, where talk.Where) *talk.Conv {
	t.Helper()
	c := h.Connect(addr(ip))
	t.Cleanup(c.Close)
	conv, err := c.Enter(t.Context(), where, nil, "test")
	if err != nil {
		t.Fatalf("enter %v: %v", where, err)
	}
	t.Cleanup(conv.Close)
	return conv
}

// ear hears one conversation's events in order.
type ear struct {
	c     *talk.Conv
	heard []talk.Event // drained, not yet looked at
}

// next waits for the conversation's next event from the room.
func (e *ear) next(t *testing.T) talk.Event {
	t.Helper()
	for deadline := time.After(bound); len(e.heard) == 0; {
		select {
		case <-e.c.Ready():
			e.heard = e.c.Drain(e.heard)
		case <-deadline:
			t.Fatal("no event")
		}
	}
	ev := e.heard[0]
	e.heard = e.heard[1:]
	return ev
}

func TestRoute(t *testing.T) {
	for name, want := range map[string]string{"new": "new", "NEW": "new", "group": "group", "k7dm-2q9x-wpq": "join"} {
		if w, ok := talk.Route(name); !ok || w.String() != want {
			t.Errorf("Route(%q) = %v, %v; want %s", name, w, ok, want)
		}
	}
	for _, name := range []string{"root", "", "git", "admin"} {
		if _, ok := talk.Route(name); ok {
			t.Errorf("Route(%q) goes somewhere; want the welcome", name)
		}
	}
}

// Two people meet, talk, and one leaves: everything a front end renders
// comes out of the conversation, cleaned and worded once.
func TestTwoPeopleTalk(t *testing.T) {
	h := hub(t, nil)
	a := enter(t, h, "192.0.2.1", talk.New)
	if a.Invite() != "ssh "+a.Code()+"@chat.test" || a.Link() != "https://chat.test/"+a.Code() || !strings.Contains(a.Code(), "-") {
		t.Fatalf("code %q, invite %q, link %q", a.Code(), a.Invite(), a.Link())
	}
	b := enter(t, h, "192.0.2.2", talk.Join(a.Code()))
	if len(b.Others()) != 1 || b.Others()[0].Name != a.Self().Name || b.Open() {
		t.Fatalf("b sees %v, open %v", b.Others(), b.Open())
	}
	ea := &ear{c: a}
	if ev := ea.next(t); ev.Kind != talk.Joined || ev.Peer.Name != b.Self().Name {
		t.Fatalf("a saw %+v", ev)
	}
	now := time.Now()
	if said, hint := b.Type("hi\x1b[2J", now); said != "hi" || hint != "" {
		t.Fatalf("typed %q, hint %q", said, hint)
	}
	if ev := ea.next(t); ev.Kind != talk.Typed || ev.Text != "hi" || ev.Peer.ID != b.Self().ID {
		t.Fatalf("a saw %+v", ev)
	}
	if ok, _ := b.Newline(now); !ok {
		t.Fatal("newline refused")
	}
	if ev := ea.next(t); ev.Kind != talk.Newline {
		t.Fatalf("a saw %+v", ev)
	}
	if bye := b.Leave(); !strings.Contains(bye, "Nothing was kept.\nIt is still open; to come back: ssh "+a.Code()) {
		t.Fatalf("b's goodbye: %q", bye)
	}
	if ev := ea.next(t); ev.Kind != talk.Left || ev.Peer.ID != b.Self().ID {
		t.Fatalf("a saw %+v", ev)
	}
	if bye := a.Leave(); bye != talk.LeftText {
		t.Fatalf("a, alone, is told %q", bye)
	}
}

// A paste that arrives in pieces counts as one paste, cut at the cap.
func TestPasteInPieces(t *testing.T) {
	h := hub(t, nil)
	a := enter(t, h, "192.0.2.1", talk.New)
	b := enter(t, h, "192.0.2.2", talk.Join(a.Code()))
	now := time.Now()
	if said, _ := b.Paste("abcdef", true, now); said != "" {
		t.Fatalf("a piece was sent before the last: %q", said)
	}
	said, hint := b.Paste("ghijkl", false, now)
	if said != "abcdefghij" || !strings.Contains(hint, "Paste cut short") {
		t.Fatalf("said %q, hint %q", said, hint)
	}
	ea := &ear{c: a}
	ea.next(t) // joined
	if ev := ea.next(t); ev.Text != "abcdefghij" {
		t.Fatalf("a heard %+v", ev)
	}
}

// Refusals come worded, with their reason, the same for every front end.
func TestRefusals(t *testing.T) {
	h := hub(t, nil)
	c := h.Connect(addr("192.0.2.9"))
	defer c.Close()
	_, err := c.Enter(t.Context(), talk.Join("k7dm-2q9x-wpq"), nil, "test")
	if r, ok := errors.AsType[*talk.Refusal](err); !ok || r.Reason != admit.Malformed || !r.StartOwn || !strings.Contains(r.Text, "not a room code") {
		t.Fatalf("not a code: %#v", err)
	}
	gone := enter(t, h, "192.0.2.3", talk.New)
	gone.Close()
	_, err = c.Enter(t.Context(), talk.Join(gone.Code()), nil, "test")
	if r, ok := errors.AsType[*talk.Refusal](err); !ok || r.Reason != admit.Unknown || !strings.Contains(r.Text, "is open here") {
		t.Fatalf("an ended room: %#v", err)
	}
	a := enter(t, h, "192.0.2.1", talk.New)
	enter(t, h, "192.0.2.2", talk.Join(a.Code()))
	_, err = c.Enter(t.Context(), talk.Join(a.Code()), nil, "test")
	if r, ok := errors.AsType[*talk.Refusal](err); !ok || r.Reason != admit.Full || !strings.Contains(r.Text, "is full") {
		t.Fatalf("full room: %#v", err)
	}
	h.Shutdown()
	if _, ok := h.Hold(); ok {
		t.Fatal("a session was held after shutdown")
	}
	if r := talk.Refuse(talk.ShuttingDown); !strings.Contains(r.Text, "restarting") {
		t.Fatalf("shutting down: %q", r.Text)
	}
}

// The server going away ends every conversation with words that say so,
// and Wait returns once every held session has ended.
func TestShutdownSaysGoodbye(t *testing.T) {
	h := hub(t, nil)
	release, ok := h.Hold()
	if !ok {
		t.Fatal("no hold")
	}
	a := enter(t, h, "192.0.2.1", talk.New)
	h.Shutdown()
	if ev := (&ear{c: a}).next(t); ev.Kind != talk.Ended || !strings.Contains(ev.Text, "restarting") {
		t.Fatalf("a saw %+v", ev)
	}
	waited := make(chan struct{})
	go func() { h.Wait(t.Context()); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while a session was held")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case <-waited:
	case <-time.After(bound):
		t.Fatal("Wait did not return once the session ended")
	}
}

// Someone who types nothing is warned, then let go; a key in between
// starts the count again.
func TestIdle(t *testing.T) {
	h := hub(t, func(c *talk.Config, _ *admit.Config) { c.IdleTimeout = 600 * time.Millisecond })
	a := enter(t, h, "192.0.2.1", talk.New)
	note := func() talk.Event {
		t.Helper()
		select {
		case ev := <-a.Notes():
			return *ev
		case <-time.After(bound):
			t.Fatal("no note")
		}
		return talk.Event{}
	}
	if ev := note(); ev.Kind != talk.Warned || !strings.Contains(ev.Text, "lets you go in") || ev.Wait <= 0 {
		t.Fatalf("warning: %+v", ev)
	}
	if ev := note(); ev.Kind != talk.Ended || !strings.Contains(ev.Text, "typed nothing for 600ms") {
		t.Fatalf("end: %+v", ev)
	}
}

func TestFadeSchedule(t *testing.T) {
	f := talk.Schedule(5 * time.Second)
	if f.Linger != 5*time.Second || f.Bright != 3500*time.Millisecond || f.Step != talk.FadeStep {
		t.Fatalf("%+v", f)
	}
	if f := talk.Schedule(0); f.Linger != 2*talk.FadeStep {
		t.Fatalf("a zero linger fades over %v", f.Linger)
	}
}

// pngBytes is a small picture, left half red, right half blue.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	return picturetest.Halves(16, 8)
}

// A picture goes through the rules once, whatever front end sent it: the
// others get it from the room, the sender as their own; one per sender
// every 20 s, two in a room at once, nothing but pictures.
func TestPictureRules(t *testing.T) {
	h := hub(t, func(c *talk.Config, g *admit.Config) { c.Pictures = true; g.MaxGroup = 3 })
	a := enter(t, h, "192.0.2.1", talk.Group)
	b := enter(t, h, "192.0.2.2", talk.Join(a.Code()))
	c := enter(t, h, "192.0.2.3", talk.Join(a.Code()))
	now := time.Now()
	if err := a.Picture(t.Context(), strings.NewReader("not a picture"), talk.PictureMaxPage, now); err == nil || err.Error() != "Only PNG, JPEG, GIF or WebP pictures." {
		t.Fatalf("text: %v", err)
	}
	if err := a.Picture(t.Context(), bytes.NewReader(pngBytes(t)), talk.PictureMaxPage, now); err != nil {
		t.Fatal(err)
	}
	eb := &ear{c: b}
	for {
		ev := eb.next(t)
		if ev.Kind != talk.Pictured {
			continue
		}
		if ev.Peer.ID != a.Self().ID || ev.Picture == nil || ev.Picture.W != 16 || ev.Picture.H != 8 {
			t.Fatalf("b got %+v", ev)
		}
		break
	}
	select {
	case ev := <-a.Notes():
		if ev.Kind != talk.Pictured || ev.Peer.ID != a.Self().ID {
			t.Fatalf("a's own: %+v", ev)
		}
	case <-time.After(bound):
		t.Fatal("the sender does not see their own picture")
	}
	if err := a.Picture(t.Context(), bytes.NewReader(pngBytes(t)), talk.PictureMaxPage, now.Add(time.Second)); err == nil || err.Error() != "One picture every 20 seconds." {
		t.Fatalf("a second at once: %v", err)
	}
	if err := b.Picture(t.Context(), bytes.NewReader(pngBytes(t)), talk.PictureMaxPage, now); err != nil {
		t.Fatalf("b's: %v", err)
	}
	(&ear{c: c}).next(t) // c has heard the two (joins first, then both)
	for deadline := time.Now().Add(bound); ; {
		err := c.Picture(t.Context(), bytes.NewReader(pngBytes(t)), talk.PictureMaxPage, now)
		if err != nil && strings.Contains(err.Error(), "already waiting") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a third picture in the room: %v", err)
		}
		c.Drain(nil) // what c has not heard of yet, it cannot count
	}
	big := append(pngBytes(t), make([]byte, talk.PictureMaxPage)...)
	if err := a.Picture(t.Context(), bytes.NewReader(big), talk.PictureMaxPage, now.Add(time.Minute)); err == nil || err.Error() != "That picture is too big (512 KB at most)." {
		t.Fatalf("too big: %v", err)
	}
}

func TestPicturesOff(t *testing.T) {
	h := hub(t, nil)
	a := enter(t, h, "192.0.2.1", talk.New)
	if err := a.Picture(t.Context(), bytes.NewReader(pngBytes(t)), talk.PictureMaxPage, time.Now()); err == nil || err.Error() != "Pictures are off on this server." {
		t.Fatalf("pictures off: %v", err)
	}
}

// A person has one live one-time line: a new ctrl+p replaces the old, so
// nobody can hoard lines; each works once.
func TestOneLinePerPerson(t *testing.T) {
	h := hub(t, func(c *talk.Config, _ *admit.Config) { c.Pictures = true })
	a := enter(t, h, "192.0.2.1", talk.New)
	now := time.Now()
	tokenOf := func(line string) string {
		f := strings.Fields(line)
		return f[len(f)-3] // … pic TOKEN < picture.png
	}
	old, fresh := tokenOf(a.PictureLine(now)), tokenOf(a.PictureLine(now))
	c := h.Connect(addr("192.0.2.9"))
	defer c.Close()
	if _, err := c.SendPicture(t.Context(), a.Code(), nil, old, bytes.NewReader(pngBytes(t))); err == nil || !strings.Contains(err.Error(), "has been used") {
		t.Fatalf("a replaced line: %v", err)
	}
	if said, err := c.SendPicture(t.Context(), a.Code(), nil, fresh, bytes.NewReader(pngBytes(t))); err != nil || said != "sent to room "+a.Code() {
		t.Fatalf("the live line: %q, %v", said, err)
	}
	if _, err := c.SendPicture(t.Context(), a.Code(), nil, fresh, bytes.NewReader(pngBytes(t))); err == nil {
		t.Fatal("a line worked twice")
	}
}

// Two pictures sent by one person at the same moment: the rules hold a
// place as soon as the first passes them, so the second is refused.
func TestPicturesAtOnceFromOnePerson(t *testing.T) {
	h := hub(t, func(c *talk.Config, _ *admit.Config) { c.Pictures = true })
	a := enter(t, h, "192.0.2.1", talk.New)
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() { first <- a.Picture(t.Context(), pr, talk.PictureMaxPage, time.Now()) }()
	// The first is being read (its place is taken) while the second comes.
	if _, err := pw.Write(pngBytes(t)[:8]); err != nil {
		t.Fatal(err)
	}
	if err := a.Picture(t.Context(), bytes.NewReader(pngBytes(t)), talk.PictureMaxPage, time.Now()); err == nil || err.Error() != "One picture every 20 seconds." {
		t.Fatalf("the second at once: %v", err)
	}
	pw.CloseWithError(errors.New("gone"))
	if err := <-first; err == nil {
		t.Fatal("a cut-off picture was sent")
	}
	// A refused picture gives its place back.
	if err := a.Picture(t.Context(), bytes.NewReader(pngBytes(t)), talk.PictureMaxPage, time.Now()); err != nil {
		t.Fatalf("after a refused one: %v", err)
	}
}
