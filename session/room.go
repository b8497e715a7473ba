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
		_ = sess.Close()
	})
	model := ui.New(ui.Config{
		Seat:    seat,
		Invite:  s.invite(seat.Code()),
		Linger:  s.cfg.Linger,
		Profile: profile,
		Width:   pty.Window.Width,
		Height:  pty.Window.Height,
		Screen:  screen,
	})
	p := tea.NewProgram(model,
		tea.WithContext(ctx),
		tea.WithInput(sess),
		tea.WithOutput(io.Discard), // the Screen draws; Bubble Tea only reads keys and runs Update
		tea.WithoutRenderer(),
		tea.WithoutSignalHandler(),
		tea.WithFPS(1),
		tea.WithEnvironment(env),
		tea.WithColorProfile(profile),
		tea.WithWindowSize(pty.Window.Width, pty.Window.Height),
	)
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
		for {
			select {
			case <-ctx.Done():
				return
			case w, ok := <-windows:
				if !ok {
					return
				}
				p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
			}
		}
	}()
	_, _ = p.Run()
	cancel()
	screen.Close(model.Farewell(), time.Second)
}
