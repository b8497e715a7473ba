package session

import (
	"context"
	"io"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"github.com/charmbracelet/colorprofile"

	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/ui"
)

// runRoom runs one person's UI until they leave, the connection drops or
// the server shuts down.
func (s *Server) runRoom(sess ssh.Session, seat rooms.Seat) {
	pty, windows, _ := sess.Pty()
	env := append(sess.Environ(), "TERM="+pty.Term)
	profile := colorprofile.Env(env)
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()

	screen := ui.NewScreen(sess, s.cfg.StallTimeout, func() {
		s.log.Warn("client stopped reading, hanging up", "remote", remoteIP(sess), "room", roomTag(seat.Code()))
		s.cfg.Metrics.SlowDropped()
		cancel()
		hangUp(sess)
	})
	model := ui.New(ui.Config{
		Seat:    seat,
		Invite:  s.invite(seat.Code()),
		Linger:  s.cfg.Linger,
		Profile: profile,
		Width:   pty.Window.Width,
		Height:  pty.Window.Height,
		Screen:  screen,

		MaxPaste:      s.cfg.Limits.MaxPaste,
		KeysPerSecond: s.cfg.Limits.KeysPerSecond,
		KeyBurst:      s.cfg.Limits.KeyBurst,
	})
	idle := newIdleWatch(sess)
	p := tea.NewProgram(model,
		tea.WithContext(ctx),
		tea.WithInput(nil),         // ui.ReadInput below reads keys without a per-program key table
		tea.WithOutput(io.Discard), // the Screen draws; Bubble Tea only reads keys and runs Update
		tea.WithoutRenderer(),
		tea.WithoutSignalHandler(),
		tea.WithFPS(1),
		tea.WithEnvironment(env),
		tea.WithColorProfile(profile),
		tea.WithWindowSize(pty.Window.Width, pty.Window.Height),
	)
	go func() { _ = ui.ReadInput(idle, p.Send) }()
	idle.start(s.cfg.Limits.IdleTimeout, func() { p.Send(ui.Idle(s.cfg.Limits.IdleTimeout)) })
	defer idle.stop()
	if !s.register(p) {
		screen.Close("The hush server is restarting. Try again in a moment.\r\n", time.Second)
		return
	}
	defer s.unregister(p)

	// Room events and window changes reach the program only through Send,
	// from goroutines of their own: nothing here waits on anyone else.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-seat.Ready():
				p.Send(ui.Events(seat.Drain(nil)))
			}
		}
	}()
	go func() {
		// Drained until the session's requests end, even after the program
		// has: an unread window change would block that connection's SSH
		// packet loop. Send returns at once once the program is gone.
		for w := range windows {
			p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
		}
	}()
	_, _ = p.Run()
	cancel()
	model.Close()
	screen.Close(model.Farewell(), time.Second)
}
