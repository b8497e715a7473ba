package roomstest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hush-chat/hush/rooms"
)

// endsWith waits for s to end and checks Ended came last, once, and Err
// says cause.
func endsWith(t *testing.T, s rooms.Seat, cause error) {
	t.Helper()
	got := until(t, s, "Ended", has(is(rooms.Ended)))
	if n := countOf(got, is(rooms.Ended)); n != 1 || got[len(got)-1].Kind != rooms.Ended {
		t.Errorf("%s got%s, want one Ended, last", s.Self().Name, show(got))
	}
	if more := s.Drain(nil); len(more) != 0 {
		t.Errorf("%s got%s after Ended", s.Self().Name, show(more))
	}
	if err := s.Err(); !errors.Is(err, cause) {
		t.Errorf("%s: Err() = %v, want %v", s.Self().Name, err, cause)
	}
	if err := s.Type("after the end"); err == nil {
		t.Errorf("%s: Type after the seat ended returned nil", s.Self().Name)
	}
	s.Leave() // after the end: does nothing
	if err := s.Err(); !errors.Is(err, cause) {
		t.Errorf("%s: Err() after Leave on an ended seat = %v, want still %v", s.Self().Name, err, cause)
	}
}

func testClose(t *testing.T, reg rooms.Registry) {
	pair := fill(t, reg, 3, 2)
	solo := mustOpen(t, reg, 2, member("solo"))
	gone := mustOpen(t, reg, 2, member("gone"))
	gone.Leave()
	// Queue something unread so Ended has to come after it.
	if err := pair[1].Type("unread"); err != nil {
		t.Fatal(err)
	}
	until(t, pair[0], "unread", has(typed("unread")))
	if err := pair[1].Type("unread"); err != nil {
		t.Fatal(err)
	}

	cause := fmt.Errorf("maintenance: %w", errors.New("node draining"))
	reg.Close(cause)
	for _, s := range append(pair, solo) {
		endsWith(t, s, cause)
	}
	if err := gone.Err(); !errors.Is(err, rooms.ErrLeft) {
		t.Errorf("a seat left before Close: Err() = %v, want still ErrLeft", err)
	}
	if s, err := reg.Open(t.Context(), 2, member("late")); !errors.Is(err, rooms.ErrClosed) {
		t.Errorf("Open after Close: %v (seat %v), want ErrClosed", err, s)
	}
	for _, code := range []string{pair[0].Code(), solo.Code(), gone.Code()} {
		if s, err := reg.Join(t.Context(), code, member("late")); !errors.Is(err, rooms.ErrClosed) {
			t.Errorf("Join(%q) after Close: %v (seat %v), want ErrClosed", code, err, s)
		}
	}
	reg.Close(errors.New("second close")) // harmless, changes nothing
	for _, s := range append(pair, solo) {
		if err := s.Err(); !errors.Is(err, cause) {
			t.Errorf("after a second Close, Err() = %v, want still %v", err, cause)
		}
	}
	if _, err := reg.Open(t.Context(), 2, member("late")); !errors.Is(err, rooms.ErrClosed) {
		t.Errorf("Open after the second Close: %v, want ErrClosed", err)
	}
	wantStats(t, reg, 0, 0)
}

func testCloseNil(t *testing.T, reg rooms.Registry) {
	all := fill(t, reg, 2, 2)
	reg.Close(nil)
	for _, s := range all {
		endsWith(t, s, rooms.ErrClosed)
	}
	if _, err := reg.Join(t.Context(), all[0].Code(), member("late")); !errors.Is(err, rooms.ErrClosed) {
		t.Errorf("Join after Close: %v, want ErrClosed", err)
	}
}

// testCloseWhileBusy closes the registry while rooms are being opened and
// joined: every seat handed out, however close to Close, must end.
func testCloseWhileBusy(t *testing.T, reg rooms.Registry) {
	const workers = 8
	cause := errors.New("closing under load")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		seats   []rooms.Seat
		opened  atomic.Int64
		enough  = make(chan struct{})
		tell    sync.Once
		badErrs []error
	)
	keep := func(s rooms.Seat, err error, allowed ...error) bool {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			seats = append(seats, s)
			return true
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				return false
			}
		}
		badErrs = append(badErrs, err)
		return false
	}
	for w := range workers {
		wg.Go(func() {
			for {
				s, err := reg.Open(t.Context(), 3, member("o"+strconv.Itoa(w)))
				if !keep(s, err, rooms.ErrClosed) {
					return
				}
				if opened.Add(1) == 200 {
					tell.Do(func() { close(enough) })
				}
				// The room may end under us (Close ended its opener): ErrNoRoom.
				j, err := reg.Join(t.Context(), s.Code(), member("j"+strconv.Itoa(w)))
				if !keep(j, err, rooms.ErrClosed, rooms.ErrNoRoom) {
					return
				}
				j.Type("x")
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(Wait):
		t.Errorf("only %d rooms opened in %v", opened.Load(), Wait)
	}
	reg.Close(cause)
	wg.Wait()
	if len(badErrs) > 0 {
		t.Errorf("Open/Join racing Close failed with %v, want only ErrClosed or ErrNoRoom", badErrs[:min(len(badErrs), 5)])
	}
	// One deadline for all: a registry that loses seats fails in Wait, not
	// in Wait per seat.
	deadline := time.Now().Add(Wait)
	var stuck []string
	for _, s := range seats {
		got, ok := await(s, nil, time.Until(deadline), has(is(rooms.Ended)))
		if !ok {
			stuck = append(stuck, fmt.Sprintf("%s in %s (Err %v, got%s)", s.Self().Name, s.Code(), s.Err(), show(got)))
			continue
		}
		checkEndedLast(t, s, got)
		if err := s.Err(); !errors.Is(err, cause) {
			t.Errorf("%s: Err() = %v, want %v", s.Self().Name, err, cause)
		}
	}
	if len(stuck) > 0 {
		t.Fatalf("%d of %d seats never ended, e.g. %v", len(stuck), len(seats), stuck[:min(len(stuck), 3)])
	}
	t.Logf("%d seats handed out before Close took effect; all ended", len(seats))
	wantStats(t, reg, 0, 0)
}

func testContext(t *testing.T, reg rooms.Registry) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()
	for name, ctx := range map[string]context.Context{"cancelled": cancelled, "expired": expired} {
		if s, err := reg.Open(ctx, 2, member("x")); err == nil {
			t.Errorf("Open with a %s context: got seat %s, want an error", name, s.Code())
		}
	}
	wantStats(t, reg, 0, 0)
	a := mustOpen(t, reg, 2, member("alice"))
	for name, ctx := range map[string]context.Context{"cancelled": cancelled, "expired": expired} {
		if s, err := reg.Join(ctx, a.Code(), member("x")); err == nil {
			t.Errorf("Join with a %s context: got seat %v, want an error", name, s.Self())
		}
	}
	// Nobody was seated: the room still has its free seat.
	mustJoin(t, reg, a.Code(), member("bob"))
	got := until(t, a, "Joined bob", has(is(rooms.Joined)))
	if len(got) != 1 || got[0].Peer.Name != "bob" {
		t.Errorf("alice got%s, want only Joined bob", show(got))
	}
	wantStats(t, reg, 1, 2, 2, 1)
}
