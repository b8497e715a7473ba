package speak_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
)

// pair opens a real room for two and returns the speaker's seat and what
// the listener's seat hears.
func pair(t *testing.T) (rooms.Seat, func() string) {
	t.Helper()
	codes, err := rooms.NewCodes("speak test salt 0123456789")
	if err != nil {
		t.Fatal(err)
	}
	reg := rooms.NewMemory(codes)
	me, err := reg.Open(t.Context(), 2, rooms.Member{Name: "me"})
	if err != nil {
		t.Fatal(err)
	}
	them, err := reg.Join(t.Context(), me.Code(), rooms.Member{Name: "them"})
	if err != nil {
		t.Fatal(err)
	}
	heard := func() string {
		var b strings.Builder
		for _, ev := range them.Drain(nil) {
			switch ev.Kind {
			case rooms.Typed:
				b.WriteString(ev.Text)
			case rooms.Newline:
				b.WriteString("⏎")
			}
		}
		return b.String()
	}
	return me, heard
}

var t0 = time.Unix(1e9, 0)

func TestTypeCleansBeforeTheRoom(t *testing.T) {
	seat, heard := pair(t)
	s := speak.New(seat, speak.Config{})
	for _, key := range []string{"h", "\x1b[2J", "i", "\u202e", "\x07", "!"} {
		s.Type(key, t0)
	}
	said, _ := s.Type("\u0301", t0) // a mark with nothing before it in a fresh line…
	if ok, _ := s.Newline(t0); !ok {
		t.Fatal("newline refused with no budget set")
	}
	after, _ := s.Type("\u0301", t0) // …is dropped after a newline, too
	if got := heard(); got != "hi!\u0301⏎" {
		t.Fatalf("the room heard %q", got)
	}
	if said != "\u0301" || after != "" {
		t.Fatalf("said %q then %q", said, after)
	}
}

func TestKeyBudget(t *testing.T) {
	seat, heard := pair(t)
	s := speak.New(seat, speak.Config{KeysPerSecond: 10, KeyBurst: 5})
	said, h := s.Type("abcdefgh", t0)
	if said != "abcde" || h != speak.SlowDown {
		t.Fatalf("over the burst: said %q, hint %v", said, h)
	}
	if _, h := s.Type("x", t0); h != speak.None {
		t.Fatal("slow down repeated on every dropped key")
	}
	if ok, _ := s.Newline(t0); ok {
		t.Fatal("a newline got through an empty budget")
	}
	said, _ = s.Type("z", t0.Add(time.Second))
	if said != "z" {
		t.Fatalf("after a second: said %q", said)
	}
	if got := heard(); got != "abcdez" {
		t.Fatalf("the room heard %q", got)
	}
	if speak.SlowDown.String() == "" || speak.PasteCut.String() == "" {
		t.Fatal("a hint without words")
	}
}

func TestPaste(t *testing.T) {
	seat, heard := pair(t)
	s := speak.New(seat, speak.Config{MaxPaste: 12})
	said, h := s.Paste("one\r\ntwo\nthree\rfour", t0)
	if h != speak.PasteCut || said != "one\ntwo\nthr" {
		t.Fatalf("said %q, hint %v", said, h)
	}
	if got := heard(); got != "one⏎two⏎thr" {
		t.Fatalf("the room heard %q", got)
	}
	s = speak.New(seat, speak.Config{MaxPaste: 100})
	if said, h := s.Paste("\x1b]52;c;aGk=\x07ok", t0); said != "ok" || h != speak.None {
		t.Fatalf("hostile paste: said %q, hint %v", said, h)
	}
}

func TestAfterTheSeatEnded(t *testing.T) {
	seat, _ := pair(t)
	s := speak.New(seat, speak.Config{})
	seat.Leave()
	if said, _ := s.Type("x", t0); said != "" {
		t.Fatalf("an ended seat still says %q", said)
	}
	if ok, _ := s.Newline(t0); ok {
		t.Fatal("an ended seat still breaks lines")
	}
}

func BenchmarkType(b *testing.B) {
	codes, _ := rooms.NewCodes("speak test salt 0123456789")
	reg := rooms.NewMemory(codes)
	me, _ := reg.Open(b.Context(), 2, rooms.Member{Name: "me"})
	them, _ := reg.Join(b.Context(), me.Code(), rooms.Member{Name: "them"})
	s := speak.New(me, speak.Config{KeysPerSecond: 1e9, KeyBurst: 1e9})
	var buf []rooms.Event
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		s.Type("k", now)
		if i%64 == 0 {
			buf = them.Drain(buf[:0])
		}
	}
}

// A paste that arrives in pieces is one paste: nothing reaches the room
// before the last piece, and no more than MaxPaste runes are held or sent.
func TestPieces(t *testing.T) {
	seat, heard := pair(t)
	s := speak.New(seat, speak.Config{MaxPaste: 8})
	for _, p := range []string{"one\n", "two", "three", "four"} {
		if said, _ := s.Piece(p, true, t0); said != "" {
			t.Fatalf("piece %q was sent before the last", p)
		}
	}
	said, h := s.Piece("", false, t0)
	if said != "one\ntwot" || h != speak.PasteCut {
		t.Fatalf("said %q, hint %v", said, h)
	}
	if got := heard(); got != "one⏎twot" {
		t.Fatalf("the room heard %q", got)
	}
	if said, h := s.Piece("again", false, t0); said != "again" || h != speak.None {
		t.Fatalf("the next paste starts afresh: said %q, hint %v", said, h)
	}
}
