package ui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/hush-chat/hush/rooms"
)

// Run drives the model until it quits or ctx ends. It takes the place of
// tea.Program's loop, keeping its contract (messages in, Update, tea.Quit
// out) without its frame clock: Bubble Tea ticks every program at least
// once a second even with rendering off, which made 10,000 idle sessions
// cost 7.6% of a core. Here a session waits on three things only: a
// message from in (keys, pastes, window sizes, Idle, Shutdown), the room,
// and one timer armed only while something fades.
func (m *Model) Run(ctx context.Context, in <-chan tea.Msg) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var armed time.Time
	var events []rooms.Event
	ready := m.cfg.Seat.Ready()
	for {
		var msg tea.Msg
		select {
		case <-ctx.Done():
			return
		case msg = <-in:
		case <-ready:
			events = m.cfg.Seat.Drain(events[:0])
			msg = Events(events)
		case <-timer.C:
			armed = time.Time{}
			msg = tick{}
		}
		if _, cmd := m.Update(msg); cmd != nil {
			if _, quit := cmd().(tea.QuitMsg); quit {
				return
			}
		}
		if !m.wake.Equal(armed) {
			timer.Stop()
			if armed = m.wake; !armed.IsZero() {
				timer.Reset(time.Until(armed))
			}
		}
	}
}
