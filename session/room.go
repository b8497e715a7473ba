package session

import (
	"context"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"github.com/charmbracelet/colorprofile"
	"github.com/hush-chat/hush/talk"
	"github.com/hush-chat/hush/ui"
	gossh "golang.org/x/crypto/ssh"
)

// runRoom runs one person's UI until they leave, the connection drops or
// their seat ends (the server shutting down ends every seat).
func (s *Server) runRoom(sess ssh.Session, conv *talk.Conv) {
	r := s.openRoom(sess, conv)
	defer r.cancel()
	r.run()
}

// roomUI is what a session in a room runs on. Setting it up is a call of
// its own, so that while the session lasts its stack holds little more
// than the model's loop: a garbage collection halves a stack that uses
// less than a quarter of it.
type roomUI struct {
	ctx      context.Context
	cancel   context.CancelFunc
	model    *ui.Model
	screen   *ui.Screen
	inbox    chan tea.Msg
	aside    ui.Aside[*gossh.Request]
	giveBack func()
	taken    bool
}

func (s *Server) openRoom(sess ssh.Session, conv *talk.Conv) *roomUI {
	r := &roomUI{}
	// The model's loop reads the channel's requests itself (a window
	// change is one), so no goroutine waits on them alone. Taken first,
	// before anything can fill the inbox the request loop hands window
	// changes to.
	ch := sess.(*channelSession)
	r.aside, r.giveBack, r.taken = ch.take()
	pty, _, _ := sess.Pty()
	env := append(sess.Environ(), "TERM="+pty.Term)
	ctx, cancel := context.WithCancel(sess.Context())
	r.ctx, r.cancel = ctx, cancel
	// The screen writes through the connection's guard, which asks the
	// client for an answer while output flows and hangs up on one that
	// stopped reading (kernel buffers can hide that from a blocked write
	// for minutes); a write blocked for the stall timeout hangs up too.
	g := guardOf(sess.Context())
	r.screen = ui.NewScreen(g.output(sess), s.cfg.StallTimeout, func() {
		cancel()
		g.hangUpSlow("room", conv.Tag())
		_ = sess.Close()
	})
	pace, quiet, pictures := preferences(env)
	r.model = ui.New(ui.Config{
		Conv:     conv,
		Profile:  colorprofile.Env(env),
		Width:    pty.Window.Width,
		Height:   pty.Window.Height,
		Pace:     pace,
		Quiet:    quiet,
		Pictures: pictures,
		Fades:    s.fades,
	})
	// Keys and window sizes reach the model through one inbox, from the
	// input's goroutine and the channel's request loop; the model's loop
	// waits on nobody else.
	inbox := make(chan tea.Msg, 16)
	r.inbox = inbox
	deliver := func(msg tea.Msg) {
		select {
		case inbox <- msg:
		case <-ctx.Done():
		}
	}
	in := newPacedReader(sess, conv.Touch)
	go func() {
		// Input ends when the client closes the session channel or sends
		// EOF on it: the session ends with it, whatever the connection
		// does next (an OpenSSH ControlMaster keeps it open).
		_ = ui.ReadInput(in, deliver)
		cancel()
	}()
	// Requests the model's loop gives back go to a request loop again,
	// which hands window changes over through the inbox, waiting while
	// the model is busy and no longer once it has ended.
	if w := ch.onResize(func(w ssh.Window) {
		deliver(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
	}); w != pty.Window {
		deliver(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
	}
	return r
}

// run runs the model until the session ends, then says goodbye on screen.
func (r *roomUI) run() {
	if r.taken {
		ui.RunAside(r.ctx, r.model, r.inbox, r.screen, r.aside)
		r.giveBack()
	} else {
		r.model.Run(r.ctx, r.inbox, r.screen)
	}
	r.cancel()
	r.screen.Close(r.model.Farewell(), time.Second)
}

// preferences reads what a person asked for with ssh -o SetEnv: HUSH_FADE
// (slower, slowest), HUSH_BELL (off) and HUSH_PICTURES (show, veil, off).
func preferences(env []string) (pace int, quiet bool, pictures int) {
	pace = 1
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		v = strings.ToLower(strings.TrimSpace(v))
		switch k {
		case "HUSH_FADE":
			switch v {
			case "slow", "slower":
				pace = 2
			case "slowest":
				pace = 4
			}
		case "HUSH_BELL":
			quiet = v == "off" || v == "0" || v == "no" || v == "false"
		case "HUSH_PICTURES":
			switch v {
			case "show":
				pictures = ui.PicturesShow
			case "off":
				pictures = ui.PicturesOff
			}
		}
	}
	return pace, quiet, pictures
}
