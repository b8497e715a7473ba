package session

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/ssh"
	"charm.land/wish/v2"
	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/names"
	"github.com/hush-chat/hush/rooms"
)

// route reads the SSH user name: "new" and "group" open a room, a code joins
// one, anything else gets the welcome. The gate decides whether any of it
// happens.
func (s *Server) route(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		pass, err := gateConn(sess).Enter()
		if err != nil {
			s.refuse(sess, err)
			return
		}
		// The address's place is given back only once the session's end
		// (its exit status and close) has been sent: a client never sees
		// more sessions of its address open than the limit.
		defer func() { _ = sess.Exit(0); pass.Done() }()
		user := strings.ToLower(sess.User())
		who := identify(sess)
		var seat rooms.Seat
		op := admit.OpJoin
		switch user {
		case "new":
			op = admit.OpNew
			seat, err = pass.Open(sess.Context(), op, who)
		case "group":
			op = admit.OpGroup
			seat, err = pass.Open(sess.Context(), op, who)
		default:
			if !rooms.LooksLikeCode(user) {
				s.welcome(sess)
				return
			}
			seat, err = pass.Join(sess.Context(), user, who)
		}
		if err != nil {
			s.refuse(sess, err)
			return
		}
		defer seat.Leave()
		s.log.Info("seated", "remote", remoteIP(sess), "room", rooms.Tag(seat.Code()), "op", op.String())
		s.runRoom(sess, seat)
		next(sess)
	}
}

// refuse tells someone in one line why they cannot get in, and exits 1.
func (s *Server) refuse(sess ssh.Session, err error) {
	msg, reason := "Something went wrong on the server. Try again in a moment.", admit.Other
	if r, ok := errors.AsType[*admit.Refusal](err); ok {
		msg, reason = r.Error(), r.Reason
		if r.StartOwn() {
			msg += " Start your own: " + s.invite("new")
		}
	}
	s.log.Info("refused", "remote", remoteIP(sess), "reason", reason.String())
	wish.Fatalln(sess, msg)
}

func identify(sess ssh.Session) rooms.Member {
	if pk := sess.PublicKey(); pk != nil {
		handle, badge := names.FromKey(pk.Marshal())
		return rooms.Member{Name: handle, Badge: badge}
	}
	return rooms.Member{Name: names.Guest(), Guest: true}
}

func (s *Server) welcome(sess ssh.Session) {
	text := fmt.Sprintf(`hush: talk that fades.
  %-36s open a room for two
  %-36s open a room for up to %d
  %-36s join a room someone shared with you
Every key you press shows up on the other screen as you type it,
then fades away after a few seconds. Nothing is kept.
`, s.invite("new"), s.invite("group"), s.cfg.MaxGroup, s.invite("CODE"))
	_, _ = fmt.Fprint(sess, text)
}
