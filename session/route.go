package session

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	"github.com/hush-chat/hush/talk"
)

// route reads where the SSH user name asks to go ("new", "group", a code)
// and takes the session there; anything else gets the welcome.
func (s *Server) route(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		conv := s.enter(sess)
		if conv == nil {
			return
		}
		// The address's place is given back only once the session's end
		// (its exit status and close) has been sent: a client never sees
		// more sessions of its address open than the limit.
		defer func() { _ = sess.Exit(0); conv.Close() }()
		s.runRoom(sess, conv)
		next(sess)
	}
}

// enter takes the session where its user name asks, knocking if the room
// is locked. nil: it went nowhere, and was told why (or chose to leave).
// A call of its own, so its frame is not on the session's stack while it
// lasts.
func (s *Server) enter(sess ssh.Session) *talk.Conv {
	where, ok := talk.Route(sess.User())
	if !ok {
		s.welcome(sess)
		return nil
	}
	conv, err := gateConn(sess).Enter(sess.Context(), where, keyOf(sess), "ssh")
	if r, ok := errors.AsType[*talk.Refusal](err); ok && r.Knock {
		conv, err = s.knock(sess, r)
		if conv == nil && err == nil {
			_ = sess.Exit(0)
			return nil
		}
	}
	if err != nil {
		s.refuse(sess, err)
		return nil
	}
	return conv
}

// knockFor bounds how long the locked room's question waits for a key.
const knockFor = time.Minute

// knock tells someone the room is locked and knocks if they press Enter.
// Both nil: they chose to leave.
func (s *Server) knock(sess ssh.Session, r *talk.Refusal) (*talk.Conv, error) {
	_, _ = fmt.Fprint(sess, r.Text+" Enter knocks, Esc leaves.\r\n")
	key := make(chan byte, 1)
	go func() {
		var b [16]byte
		n, err := sess.Read(b[:])
		if err != nil || n == 0 {
			key <- 0
			return
		}
		key <- b[0]
	}()
	t := time.NewTimer(knockFor)
	defer t.Stop()
	select {
	case k := <-key:
		if k == '\r' || k == '\n' {
			return gateConn(sess).Knock(sess.Context(), r.Code, keyOf(sess), "ssh")
		}
	case <-t.C:
	case <-sess.Context().Done():
	}
	_, _ = fmt.Fprint(sess, "You did not knock. Nothing was kept.\r\n")
	return nil, nil
}

// keyOf is the bytes of the key the session authenticated with, nil for a
// guest.
func keyOf(sess ssh.Session) []byte {
	if pk := sess.PublicKey(); pk != nil {
		return pk.Marshal()
	}
	return nil
}

// refuse tells someone in one line why they cannot get in, and exits 1.
func (s *Server) refuse(sess ssh.Session, err error) {
	msg := talk.Unexpected
	if r, ok := errors.AsType[*talk.Refusal](err); ok {
		msg = r.Text
		if r.StartOwn {
			msg += " Start your own: " + s.hub.Invite("new")
		}
	}
	wish.Fatalln(sess, msg)
}

func (s *Server) welcome(sess ssh.Session) {
	text := fmt.Sprintf(`hush: talk that fades.
  %-36s open a room for two
  %-36s open a room for up to %d
  %-36s join a room someone shared with you
  %-36s meet people who chose to be listed
Every key you press shows up on the other screen as you type it,
then fades away after a few seconds. Nothing is kept.
`, s.hub.Invite("new"), s.hub.Invite("group"), s.cfg.MaxGroup, s.hub.Invite("CODE"), s.hub.Invite("lobby"))
	_, _ = fmt.Fprint(sess, strings.ReplaceAll(text, "\n", "\r\n")) // the terminal is in raw mode
}
