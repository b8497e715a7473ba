package ui

import (
	"context"
	"encoding/base64"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/hush-chat/hush/talk"
)

// maxBatch bounds the messages Run takes, already waiting, before it
// draws the frame they changed.
const maxBatch = 32

// Run drives the model on screen until it quits or ctx ends. It keeps
// tea.Program's contract — messages in, Update, commands run off the loop
// and their messages fed back, tea.Quit ends it — without its
// frame clock: Bubble Tea ticks every program at least once a second even
// with rendering off, which made 10,000 idle sessions cost 7.6% of a core.
// Here a session waits on six things only: a message from in (keys,
// pastes, window sizes), the room, the conversation's own notes (idle), a command's
// result, one timer armed only while something fades, and an Aside (see
// RunAside). It draws after a message that changed the frame, never on a
// clock.
func (m *Model) Run(ctx context.Context, in <-chan tea.Msg, screen *Screen) {
	RunAside(ctx, m, in, screen, Aside[struct{}]{})
}

// Aside is a source of work Run serves besides the model's own, on the
// model's goroutine, so that no goroutine of a session at rest waits on it
// alone: a session channel's requests. Serve gets what came and returns a
// message for the model (or nil) and whether Run keeps reading C: false
// hands C back to whoever gave it, from the next thing on. A closed C is
// given back too.
type Aside[T any] struct {
	C     <-chan T
	Serve func(T) (tea.Msg, bool)
}

// RunAside is Run, serving aside too.
func RunAside[T any](ctx context.Context, m *Model, in <-chan tea.Msg, screen *Screen, aside Aside[T]) {
	var wake alarm
	defer wake.stop()
	var events []talk.Event
	conv := m.cfg.Conv
	notes := conv.Notes()
	// roomEvents hands the room's events straight to the model: wrapped in
	// a message, every drain would allocate.
	roomEvents := func() tea.Cmd {
		events = conv.Drain(events[:0])
		cmd := m.events(events, m.now())
		clear(events) // let what was typed go
		return cmd
	}
	cmds := newRunner(ctx)
	if cmd := m.Init(); cmd != nil {
		cmds.run(cmd)
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
				case <-conv.Ready(): // asked each time: a move changes it
					cmd = roomEvents()
				default:
					got = false
				}
			}
			if !got {
				m.dirty, batch = false, 0
				m.show(screen)
				continue
			}
			batch++
		} else {
			select {
			case <-ctx.Done():
				return
			case msg = <-in:
			case <-conv.Ready():
				cmd = roomEvents()
			case ev := <-notes:
				cmd = m.events([]talk.Event{*ev}, m.now())
			case <-wake.c():
				wake.rang()
				msg = tick{}
			case msg = <-cmds.waiting():
				cmds.pending--
				if !cmds.effect(msg, screen) {
					return
				}
				continue
			case got, ok := <-aside.C:
				keep := false
				if ok {
					msg, keep = aside.Serve(got)
				}
				if !keep {
					aside.C = nil
				}
			}
		}
		if msg != nil {
			_, cmd = m.Update(msg)
		}
		if cmd != nil {
			cmds.run(cmd)
		}
		wake.set(m.wake)
	}
}

// show draws the frame as it is now and hands it to the screen.
func (m *Model) show(screen *Screen) {
	f := screen.Blank()
	m.draw(f, m.drawAt(m.now()))
	screen.Show(f)
}

// alarm wakes the model when the screen next changes by itself. Its
// timer is made the first time something fades, and Run waits on it only
// while it is set: a goroutine waiting in a select holds a record for each
// channel it waits on.
type alarm struct {
	t  *time.Timer
	at time.Time // zero: not set
}

// set has the alarm ring at at (zero: never), if that moved.
func (a *alarm) set(at time.Time) {
	if at.Equal(a.at) {
		return
	}
	a.at = at
	switch {
	case at.IsZero():
		a.t.Stop()
	case a.t == nil:
		a.t = time.NewTimer(time.Until(at))
	default:
		a.t.Reset(time.Until(at))
	}
}

// c is the channel to wait on: nil, which never delivers, when not set.
func (a *alarm) c() <-chan time.Time {
	if a.at.IsZero() {
		return nil
	}
	return a.t.C
}

func (a *alarm) rang() { a.at = time.Time{} }

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
	}
}

// effect carries out what a command returned: an effect on the terminal,
// or more commands. It reports false when the program is to end.
func (r *runner) effect(msg tea.Msg, screen *Screen) bool {
	switch msg := msg.(type) {
	case tea.QuitMsg:
		return false
	case tea.BatchMsg:
		for _, c := range msg {
			if c != nil {
				r.run(c)
			}
		}
	case Bell:
		screen.Raw("\a")
	case Clipboard:
		screen.Raw("\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(msg)) + "\a")
	case AskBackground:
		screen.Raw(ansi.RequestBackgroundColor)
	}
	return true
}
