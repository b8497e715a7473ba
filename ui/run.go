package ui

import (
	"context"
	"encoding/base64"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/rooms"
)

// maxBatch bounds the messages Run takes, already waiting, before it
// draws the frame they changed.
const maxBatch = 32

// Run drives the model on screen until it quits or ctx ends. It keeps
// tea.Program's contract — messages in, Update, commands run off the loop
// and their messages fed back, tea.Quit ends it — without its
// frame clock: Bubble Tea ticks every program at least once a second even
// with rendering off, which made 10,000 idle sessions cost 7.6% of a core.
// Here a session waits on four things only: a message from in (keys,
// pastes, window sizes, Idle), the room, a command's result, and one timer
// armed only while something fades. It draws after a message that changed
// the frame, never on a clock.
func (m *Model) Run(ctx context.Context, in <-chan tea.Msg, screen *Screen) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var armed time.Time
	var events []rooms.Event
	ready := m.cfg.Seat.Ready()
	// roomEvents hands the room's events straight to the model: wrapped in
	// a message, every drain would allocate.
	roomEvents := func() tea.Cmd {
		events = m.cfg.Seat.Drain(events[:0])
		cmd := m.events(events, m.now())
		clear(events) // let what was typed go
		return cmd
	}
	// Commands run off the loop, one after another in the order Update
	// returned them, so an effect (the clipboard) is never overtaken by a
	// later one (quitting). The goroutine that runs them lives only while
	// there are some: a session at rest has none.
	results := make(chan tea.Msg)
	var mu sync.Mutex
	var queue []tea.Cmd
	running := false
	drain := func() {
		for {
			mu.Lock()
			if len(queue) == 0 {
				running = false
				mu.Unlock()
				return
			}
			cmd := queue[0]
			queue = queue[1:]
			mu.Unlock()
			select {
			case results <- cmd():
			case <-ctx.Done():
				return
			}
		}
	}
	run := func(cmd tea.Cmd) {
		mu.Lock()
		queue = append(queue, cmd)
		start := !running
		running = true
		mu.Unlock()
		if start {
			go drain()
		}
	}
	if cmd := m.Init(); cmd != nil {
		run(cmd)
	}
	batch := 0 // messages taken since the last frame
	for {
		var msg tea.Msg
		var cmd tea.Cmd
		if m.dirty {
			// What is already waiting goes first, then one frame for all
			// of it: a key never waits behind the frame of the one before
			// it (for its echo, or to reach the room), and a burst costs
			// one frame, not one a key. At most maxBatch messages are
			// taken before a frame, so a flood cannot starve the screen.
			got := batch < maxBatch
			if got {
				select {
				case <-ctx.Done():
					return
				case msg = <-in:
				case <-ready:
					cmd = roomEvents()
				default:
					got = false
				}
			}
			if !got {
				m.dirty, batch = false, 0
				f := screen.Blank()
				m.draw(f, m.drawAt(m.now()))
				screen.Show(f)
				continue
			}
			batch++
		} else {
			select {
			case <-ctx.Done():
				return
			case msg = <-in:
			case <-ready:
				cmd = roomEvents()
			case <-timer.C:
				armed = time.Time{}
				msg = tick{}
			case msg = <-results:
				switch msg := msg.(type) {
				case tea.QuitMsg:
					return
				case tea.BatchMsg:
					for _, c := range msg {
						if c != nil {
							run(c)
						}
					}
					continue
				case Bell:
					screen.Raw("\a")
					continue
				case Clipboard:
					screen.Raw("\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(msg)) + "\a")
					continue
				case AskBackground:
					screen.Raw(ansi.RequestBackgroundColor)
					continue
				}
			}
		}
		if msg != nil {
			_, cmd = m.Update(msg)
		}
		if cmd != nil {
			run(cmd)
		}
		if !m.wake.Equal(armed) {
			timer.Stop()
			if armed = m.wake; !armed.IsZero() {
				timer.Reset(time.Until(armed))
			}
		}
	}
}
