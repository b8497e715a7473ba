package ui

import (
	"io"
	"math/rand/v2"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/talk"
)

// These benchmarks time what the server does for one person's screen: lay
// out a frame after one lane changed, diff it against what is shown, and
// redraw one fade step. Run them with
//
//	go test ./ui -run '^$' -bench . -benchmem
//
// The fan-out is benchmarked in rooms, the sanitizer in clean.

type benchSeat struct {
	self   rooms.Peer
	others []rooms.Peer
}

func (s *benchSeat) Code() string                          { return "k7mn2pqrst" }
func (s *benchSeat) Seats() int                            { return 2 }
func (s *benchSeat) Self() rooms.Peer                      { return s.self }
func (s *benchSeat) Others() []rooms.Peer                  { return s.others }
func (s *benchSeat) Type(string) error                     { return nil }
func (s *benchSeat) Newline() error                        { return nil }
func (s *benchSeat) Picture(string) error                  { return nil }
func (s *benchSeat) Leave()                                {}
func (s *benchSeat) Err() error                            { return nil }
func (s *benchSeat) Tell(int, string) error                { return nil }
func (s *benchSeat) Lock(bool) error                       { return nil }
func (s *benchSeat) Answer(int, bool) error                { return nil }
func (s *benchSeat) Ready() <-chan struct{}                { return nil }
func (s *benchSeat) Drain(buf []rooms.Event) []rooms.Event { return buf }
func (s *benchSeat) peer() rooms.Peer                      { return s.others[0] }
func (s *benchSeat) typed(t string) Events {
	return Events{{Kind: talk.Typed, Peer: s.peer(), Text: t}}
}

const benchLinger = 5 * time.Second

// letters are one-letter strings made once, as the room hands them over:
// the benchmarks measure the UI, not making the text.
var letters = func() (l [26]string) {
	for i := range l {
		l[i] = string(rune('a' + i))
	}
	return l
}()

// benchConv is a conversation on seat, as a hub with the benchmarks'
// linger makes one.
func benchConv(seat rooms.Seat) *talk.Conv {
	hub := talk.NewHub(talk.Config{Linger: benchLinger, Invite: func(user string) string { return "ssh -p 2222 " + user + "@localhost" }})
	return hub.Sit(seat)
}

// benchRoom is a two-person room at 80×24 as an xterm-256color client sees
// it. Its Screen is not started: the benchmark lays out and paints frames
// itself, as Run and the Screen's writer would, so nothing runs behind the
// timer's back.
type benchRoom struct {
	m    *Model
	scr  *Screen
	seat *benchSeat
	now  time.Time
}

func newBenchRoom(b *testing.B, profile colorprofile.Profile) *benchRoom {
	b.Helper()
	r := &benchRoom{
		seat: &benchSeat{
			self:   rooms.Peer{Member: rooms.Member{Name: "amber-otter", Guest: true}, ID: 1, Color: 0},
			others: []rooms.Peer{{Member: rooms.Member{Name: "teal-heron", Badge: "SHA256:ab12"}, ID: 2, Color: 1}},
		},
		scr: &Screen{w: io.Discard},
		now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
	}
	r.m = New(Config{Conv: benchConv(r.seat), Profile: profile, Width: 80, Height: 24})
	r.m.now = func() time.Time { return r.now }
	r.flush()
	return r
}

// flush lays out a changed frame and paints it, as Run and the Screen's
// writer would (frames recycled through the Screen), and returns how many
// bytes it would have sent.
func (r *benchRoom) flush() int {
	if !r.m.dirty {
		return 0
	}
	r.m.dirty = false
	return drawAndPaint(r.scr, r.m, r.now)
}

// drawAndPaint is what Run and the Screen's writer do for a changed model,
// in one goroutine: fill a recycled frame, show it, take it as the writer
// does, paint the diff and recycle the frame it replaces. It returns the
// bytes the writer would send.
func drawAndPaint(scr *Screen, m *Model, now time.Time) int {
	f := scr.Blank()
	m.draw(f, m.drawAt(now))
	scr.Show(f)
	scr.mu.Lock()
	f, scr.next = scr.next, nil
	scr.mu.Unlock()
	if f == nil {
		return 0 // it looked like the frame shown: Show dropped it
	}
	scr.buf = scr.buf[:0]
	old := scr.paint(f)
	scr.mu.Lock()
	scr.recycle(old)
	scr.mu.Unlock()
	return len(scr.buf)
}

// peerLane is the other person's lane.
func (r *benchRoom) peerLane(b *testing.B) *lane {
	l := r.m.lane(r.seat.peer().ID)
	if l == nil {
		b.Fatal("no lane for the peer")
	}
	return l
}

// typing fills the peer's lane the way steady typing at 5 keys/s leaves it:
// 25 characters, one every 200 ms, the oldest about to vanish.
func (r *benchRoom) typing(b *testing.B) {
	l := r.peerLane(b)
	for i := 24; i >= 0; i-- {
		l.add(string(rune('a'+i%26)), r.m.clock(r.now.Add(-time.Duration(i)*200*time.Millisecond)))
	}
	r.m.dirty = true
	r.flush()
}

// BenchmarkFrameAfterKey is laying out the whole screen after the peer's
// lane gained one character (the lane stays at 25, as under steady typing).
func BenchmarkFrameAfterKey(b *testing.B) {
	for _, p := range []struct {
		name    string
		profile colorprofile.Profile
	}{{"256", colorprofile.ANSI256}, {"truecolor", colorprofile.TrueColor}} {
		b.Run(p.name, func(b *testing.B) {
			r := newBenchRoom(b, p.profile)
			r.typing(b)
			l := r.peerLane(b)
			var f Frame
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.now = r.now.Add(200 * time.Millisecond)
				l.add(letters[i%26], r.m.clock(r.now))
				l.compact(r.m.clock(r.now.Add(-benchLinger)), 78)
				r.m.draw(&f, r.now)
			}
		})
	}
}

// BenchmarkKeyToBytes is everything the UI does for one viewer when the peer
// types one key: Update (add, expire, frame, schedule) and the paint of the
// diff. bytes/key is what goes to the SSH channel.
func BenchmarkKeyToBytes(b *testing.B) {
	r := newBenchRoom(b, colorprofile.ANSI256)
	r.typing(b)
	msgs := make([]tea.Msg, 26)
	for i := range msgs {
		msgs[i] = r.seat.typed(string(rune('a' + i)))
	}
	r.keysToBytes(b, msgs)
}

// keysToBytes feeds msgs one by one, 200 ms apart (5 keys a second), and
// reports the bytes each one put on the wire.
func (r *benchRoom) keysToBytes(b *testing.B, msgs []tea.Msg) {
	var sent int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.now = r.now.Add(200 * time.Millisecond)
		r.m.Update(msgs[i%len(msgs)])
		sent += r.flush()
	}
	b.ReportMetric(float64(sent)/float64(b.N), "bytes/key")
}

// BenchmarkPeerPath is one key from the typist's seat to the bytes for the
// viewer's terminal, through the real room: the fan-out (rooms.Memory),
// the viewer draining its seat, the model taking the events as Run hands
// them over, the frame, and the Screen's diff.
func BenchmarkPeerPath(b *testing.B) {
	codes, err := rooms.NewCodes("bench salt 0123456789abcdef")
	if err != nil {
		b.Fatal(err)
	}
	reg := rooms.NewMemory(codes)
	typist, err := reg.Open(b.Context(), 2, rooms.Member{Name: "teal-heron"})
	if err != nil {
		b.Fatal(err)
	}
	viewer, err := reg.Join(b.Context(), typist.Code(), rooms.Member{Name: "amber-otter", Guest: true})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	conv := benchConv(viewer)
	m := New(Config{Conv: conv, Profile: colorprofile.ANSI256, Width: 80, Height: 24})
	m.now = func() time.Time { return now }
	scr := &Screen{w: io.Discard}
	events := conv.Drain(nil)
	m.events(events, now)
	drawAndPaint(scr, m, now)
	var sent int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(200 * time.Millisecond)
		if err := typist.Type(letters[i%26]); err != nil {
			b.Fatal(err)
		}
		events = conv.Drain(events[:0])
		m.events(events, now)
		clear(events)
		sent += drawAndPaint(scr, m, now)
	}
	b.ReportMetric(float64(sent)/float64(b.N), "bytes/key")
}

// BenchmarkDecodeKey is reading one typed key off the wire: the decoder
// turning a byte into a key press message for the model.
func BenchmarkDecodeKey(b *testing.B) {
	var got int
	in := &input{send: func(tea.Msg) { got++ }}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		in.buf = append(in.buf, byte('a'+i%26))
		in.decode(false)
	}
	if got != b.N {
		b.Fatalf("%d keys from %d bytes", got, b.N)
	}
}

// BenchmarkOwnKey is the typist's side of one keystroke: Update on a key
// press (echo into your own lane, hand it to the room) and the paint.
func BenchmarkOwnKey(b *testing.B) {
	r := newBenchRoom(b, colorprofile.ANSI256)
	r.typing(b)
	keys := make([]tea.Msg, 26)
	for i := range keys {
		keys[i] = tea.KeyPressMsg{Code: rune('a' + i), Text: string(rune('a' + i))}
	}
	r.keysToBytes(b, keys)
}

// BenchmarkPaintOneLine is the Screen's diff and paint when one row of 24
// changed: the peer's lane row gained a character.
func BenchmarkPaintOneLine(b *testing.B) {
	r := newBenchRoom(b, colorprofile.ANSI256)
	r.typing(b)
	before := r.m.frame(r.now)
	r.peerLane(b).add("z", r.m.clock(r.now))
	after := r.m.frame(r.now)
	changed := 0
	for i, line := range before.Lines() {
		if line != after.Lines()[i] {
			changed++
		}
	}
	if changed != 1 {
		b.Fatalf("%d rows changed, want 1", changed)
	}
	s := &Screen{w: io.Discard}
	s.paint(&before)
	frames := [2]*Frame{&after, &before}
	var sent int
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.buf = s.buf[:0]
		s.paint(frames[i%2])
		sent += len(s.buf)
	}
	b.ReportMetric(float64(sent)/float64(b.N), "bytes/paint")
}

// BenchmarkFadeStep is one tick of fading: Update on a tick and the paint,
// with every character on screen changing shade. "typing" is the lane as
// steady typing leaves it (25 characters); "full" is the peer's lane full to
// the last cell (10 rows of 78) and your own lane full too, the worst case.
func BenchmarkFadeStep(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := "typing"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			r := newBenchRoom(b, colorprofile.ANSI256)
			base := r.now
			// Every character is past its bright phase and spread over six
			// shades; ten steps from base, none has vanished yet.
			bright := time.Duration(float64(benchLinger) * talk.BrightShare)
			lanes := []*lane{r.peerLane(b)}
			n := 25
			if full {
				lanes = append(lanes, r.m.you)
				n = 10 * 78
			}
			for _, l := range lanes {
				for j := range n {
					l.add(string(rune('a'+j%26)), r.m.clock(base.Add(-bright-time.Duration(j%6)*talk.FadeStep)))
				}
			}
			r.m.dirty = true
			r.flush()
			var sent int
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.now = base.Add(time.Duration(i%10) * talk.FadeStep)
				r.m.Update(tick{})
				sent += r.flush()
			}
			b.ReportMetric(float64(sent)/float64(b.N), "bytes/step")
		})
	}
}

// typed is one key of the load tool's alphabet (cmd/hushload: every
// printable ASCII character but the space, in turn), as the room hands it
// to the viewer, wrapped once.
var typed = func() (msgs [94]Events) {
	for i := range msgs {
		msgs[i] = Events{{Kind: talk.Typed, Peer: rooms.Peer{ID: 2, Color: 1, Member: rooms.Member{Name: "teal-heron"}}, Text: string(rune('!' + i))}}
	}
	return msgs
}()

// BenchmarkKeyLife is the whole cost of one key on the peer's terminal:
// its own frame and every fade frame of its life, as Run would draw them
// (woken at the model's wake times on the fade grid), while the peer types
// the load tool's alphabet. bytes/key is everything written to the
// viewer's terminal divided by the keys typed, fading included — the
// figure cmd/hushload reports as "bytes to the peer per key", without SSH
// framing. "steady" is one key every 200 ms (5 keys/s); "bursts" is words
// of 2–5 keys 5–15 ms apart with pauses of 20–60 ms between them (seeded).
func BenchmarkKeyLife(b *testing.B) {
	for _, typing := range []string{"steady", "bursts"} {
		for _, p := range []struct {
			name    string
			profile colorprofile.Profile
		}{{"256", colorprofile.ANSI256}, {"truecolor", colorprofile.TrueColor}} {
			b.Run(typing+"/"+p.name, func(b *testing.B) {
				r := newBenchRoom(b, p.profile)
				r.m.phase = 0
				rng := rand.New(rand.NewPCG(12, 5))
				word := 0 // keys left in the word being typed
				gap := func() time.Duration {
					if typing == "steady" {
						return 200 * time.Millisecond
					}
					if word > 0 {
						word--
						return time.Duration(5+rng.IntN(11)) * time.Millisecond
					}
					word = 1 + rng.IntN(4)
					return time.Duration(20+rng.IntN(41)) * time.Millisecond
				}
				var sent, frames int
				fade := func(until time.Time) {
					for !r.m.wake.IsZero() && r.m.wake.Before(until) {
						r.now = r.m.wake
						r.m.Update(tick{})
						if n := r.flush(); n > 0 {
							sent += n
							frames++
						}
					}
				}
				next := r.now
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					next = next.Add(gap())
					fade(next)
					r.now = next
					r.m.Update(typed[i%len(typed)])
					sent += r.flush()
					frames++
				}
				fade(r.now.Add(time.Hour)) // the last keys fade out too
				b.ReportMetric(float64(sent)/float64(b.N), "bytes/key")
				b.ReportMetric(float64(frames)/float64(b.N), "frames/key")
			})
		}
	}
}

// BenchmarkFirstFrame is what a new session costs the UI before its first
// frame reaches the terminal: the model, its fader, and the first frame
// drawn and painted whole (alone in a room, 80×24, 256 colours).
func BenchmarkFirstFrame(b *testing.B) {
	seat := &benchSeat{self: rooms.Peer{Member: rooms.Member{Name: "amber-otter", Guest: true}, ID: 1}}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var sent int
	b.ReportAllocs()
	for b.Loop() {
		m := New(Config{Conv: benchConv(seat), Profile: colorprofile.ANSI256, Width: 80, Height: 24})
		m.now = func() time.Time { return now }
		sent += drawAndPaint(&Screen{w: io.Discard}, m, now)
	}
	b.ReportMetric(float64(sent)/float64(b.N), "bytes/frame")
}
