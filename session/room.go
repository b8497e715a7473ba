package session

import (
	"context"
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
	// Everything reaches the model through one inbox, from goroutines of
	// their own; the model's loop waits on nobody else.
	inbox := make(chan tea.Msg, 16)
	deliver := func(msg tea.Msg) {
		select {
		case inbox <- msg:
		case <-ctx.Done():
		}
	}
	if !s.register(inbox) {
		screen.Close("The hush server is restarting. Try again in a moment.\r\n", time.Second)
		return
	}
	defer s.unregister(inbox)
	idle := newIdleWatch(sess)
	idle.start(s.cfg.Limits.IdleTimeout, func() { deliver(ui.Idle(s.cfg.Limits.IdleTimeout)) })
	defer idle.stop()
	go func() { _ = ui.ReadInput(idle, deliver) }()
	go func() {
		// Drained until the session's requests end, even after the model
		// has: an unread window change would block that connection's SSH
		// packet loop.
		for w := range windows {
			deliver(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
		}
	}()
	model.Run(ctx, inbox)
	cancel()
	screen.Close(model.Farewell(), time.Second)
}
