package metrics

import (
	"context"
	"time"

	"github.com/hush-chat/hush/rooms"
)

// Rooms wraps any registry so that typing into its rooms is counted and
// timed (hush_keystrokes_relayed_total, hush_fanout_seconds). Whatever
// registry sits behind it, in memory or networked, is measured the same.
func (m *Metrics) Rooms(reg rooms.Registry) rooms.Registry { return &measured{Registry: reg, m: m} }

type measured struct {
	rooms.Registry
	m *Metrics
}

func (r *measured) Open(ctx context.Context, seats int, who rooms.Member) (rooms.Seat, error) {
	return r.wrap(r.Registry.Open(ctx, seats, who))
}

func (r *measured) Join(ctx context.Context, code string, who rooms.Member) (rooms.Seat, error) {
	return r.wrap(r.Registry.Join(ctx, code, who))
}

func (r *measured) wrap(s rooms.Seat, err error) (rooms.Seat, error) {
	if err != nil {
		return nil, err
	}
	return &measuredSeat{Seat: s, m: r.m}, nil
}

type measuredSeat struct {
	rooms.Seat
	m *Metrics
}

func (s *measuredSeat) Type(text string) error {
	start := time.Now()
	err := s.Seat.Type(text)
	s.m.fanout.Observe(time.Since(start).Seconds())
	if err == nil && text != "" {
		s.m.keystrokes.Inc()
	}
	return err
}
