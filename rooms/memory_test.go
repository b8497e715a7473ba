package rooms_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/rooms/roomstest"
)

const salt = "memory-test-salt-0123456789"

func newMemory(t testing.TB) *rooms.Memory {
	t.Helper()
	c, err := rooms.NewCodes(salt)
	if err != nil {
		t.Fatal(err)
	}
	return rooms.NewMemory(c)
}

func TestMemoryContract(t *testing.T) {
	roomstest.Run(t, func(t *testing.T) rooms.Registry { return newMemory(t) })
	roomstest.RunMeeting(t, func(t *testing.T) rooms.Registry { return newMemory(t) })
}

// Memory delivers while the sender's call runs: what the contract lets a
// networked registry deliver later is already waiting when Type returns.
func TestMemoryDeliversAtOnce(t *testing.T) {
	reg := newMemory(t)
	a, err := reg.Open(t.Context(), 2, rooms.Member{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.Join(t.Context(), a.Code(), rooms.Member{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Ready():
	default:
		t.Fatal("Ready not signalled when Join returned")
	}
	if got := a.Drain(nil); len(got) != 1 || got[0].Kind != rooms.Joined {
		t.Fatalf("a got %+v", got)
	}
	b.Type("h")
	b.Newline()
	want := []rooms.Event{{Kind: rooms.Typed, Peer: b.Self(), Text: "h"}, {Kind: rooms.Newline, Peer: b.Self()}}
	if got := a.Drain(nil); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("a got %+v, want %+v", got, want)
	}
	b.Leave()
	if got := a.Drain(nil); len(got) != 1 || got[0].Kind != rooms.Left {
		t.Fatalf("a got %+v, want Left", got)
	}
	reg.Close(nil)
	if got := a.Drain(nil); len(got) != 1 || got[0].Kind != rooms.Ended {
		t.Fatalf("a got %+v, want Ended", got)
	}
}

// A member who does not read keeps exactly QueueLimit pieces; every one
// beyond that is dropped and counted.
func TestMemoryQueueExact(t *testing.T) {
	const extra = 100
	reg := newMemory(t)
	a, _ := reg.Open(t.Context(), 2, rooms.Member{Name: "a"})
	b, _ := reg.Join(t.Context(), a.Code(), rooms.Member{Name: "b"})
	a.Drain(nil)
	for range rooms.QueueLimit + extra {
		b.Type("z")
	}
	if got := len(a.Drain(nil)); got != rooms.QueueLimit {
		t.Fatalf("queue held %d events, want %d", got, rooms.QueueLimit)
	}
	if d := reg.Stats().Dropped; d != extra {
		t.Fatalf("dropped %d, want %d", d, extra)
	}
	for range rooms.QueueLimit + extra {
		b.Newline()
	}
	if got := len(a.Drain(nil)); got != rooms.QueueLimit {
		t.Fatalf("queue held %d newlines, want %d", got, rooms.QueueLimit)
	}
	if d := reg.Stats().Dropped; d != 2*extra {
		t.Fatalf("dropped %d, want %d", d, 2*extra)
	}
}

// A code that could have been issued but names no room: ErrNoRoom, not
// ErrBadCode.
func TestMemoryUnopenedCode(t *testing.T) {
	reg := newMemory(t)
	c, _ := rooms.NewCodes(salt)
	code, err := c.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(t.Context(), code, rooms.Member{}); !errors.Is(err, rooms.ErrNoRoom) {
		t.Fatalf("got %v, want ErrNoRoom", err)
	}
	other, _ := rooms.NewCodes("some-other-salt-0123456789")
	code, _ = other.New()
	if _, err := reg.Join(t.Context(), code, rooms.Member{}); !errors.Is(err, rooms.ErrBadCode) && !errors.Is(err, rooms.ErrNoRoom) {
		t.Fatalf("code under another salt: %v", err)
	}
}

func BenchmarkFanOut(b *testing.B) {
	for _, size := range []int{2, 8} {
		b.Run(fmt.Sprint("room", size), func(b *testing.B) {
			reg := newMemory(b)
			first, err := reg.Open(b.Context(), size, rooms.Member{Name: "m0"})
			if err != nil {
				b.Fatal(err)
			}
			seats := []rooms.Seat{first}
			for i := 1; i < size; i++ {
				s, err := reg.Join(b.Context(), first.Code(), rooms.Member{Name: "m"})
				if err != nil {
					b.Fatal(err)
				}
				seats = append(seats, s)
			}
			bufs := make([][]rooms.Event, size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				first.Type("x")
				if i%64 == 0 {
					for j, s := range seats {
						bufs[j] = s.Drain(bufs[j][:0])
					}
				}
			}
		})
	}
}
