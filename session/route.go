package session

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/ssh"
	"charm.land/wish/v2"

	"github.com/hush-chat/hush/names"
	"github.com/hush-chat/hush/rooms"
)

// route reads the SSH user name: "new" and "group" open a room, a code joins
// one, anything else gets the welcome.
func (s *Server) route(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		who := identify(sess)
		user := strings.ToLower(sess.User())
		var (
			seat rooms.Seat
			err  error
			op   = user
		)
		switch user {
		case "new":
			seat, err = s.cfg.Registry.Open(2, who)
		case "group":
			seat, err = s.cfg.Registry.Open(s.cfg.MaxGroup, who)
		default:
			if !looksLikeCode(user) {
				s.welcome(sess)
				return
			}
			if s.lockedOut(sess) {
				return
			}
			op = "join"
			seat, err = s.cfg.Registry.Join(user, who)
			if errors.Is(err, rooms.ErrBadCode) || errors.Is(err, rooms.ErrNoRoom) {
				s.addrs.Failed(remoteIP(sess))
			}
		}
		if err != nil {
			s.log.Info("join refused", "remote", remoteIP(sess), "reason", reason(err))
			s.cfg.Metrics.Rejected(reason(err))
			wish.Fatalln(sess, s.refusal(user, err))
			return
		}
		defer seat.Leave()
		s.cfg.Metrics.Joined(op)
		s.log.Info("seated", "remote", remoteIP(sess), "room", roomTag(seat.Code()), "op", op)
		s.runRoom(sess, seat)
		next(sess)
	}
}

// looksLikeCode tells a mistyped code (worth a precise error) from a user
// name like "root" or a local login (worth the welcome).
func looksLikeCode(user string) bool {
	if len(user) < 8 || len(user) > 32 {
		return false
	}
	for _, r := range user {
		if !strings.ContainsRune(rooms.Alphabet+"01ilo", r) {
			return false
		}
	}
	return true
}

func identify(sess ssh.Session) rooms.Member {
	if pk := sess.PublicKey(); pk != nil {
		handle, badge := names.FromKey(pk.Marshal())
		return rooms.Member{Name: handle, Badge: badge}
	}
	return rooms.Member{Name: names.Guest(), Guest: true}
}

func reason(err error) string {
	switch {
	case errors.Is(err, rooms.ErrBadCode):
		return "malformed"
	case errors.Is(err, rooms.ErrNoRoom):
		return "unknown"
	case errors.Is(err, rooms.ErrFull):
		return "full"
	}
	return "error"
}

// refusal is the one sentence someone sees when they cannot get in. It
// echoes a code only once it is known to be made of code characters.
func (s *Server) refusal(user string, err error) string {
	switch {
	case errors.Is(err, rooms.ErrBadCode):
		return "That is not a room code. Check it with the person who sent it, or start your own: " + s.invite("new")
	case errors.Is(err, rooms.ErrNoRoom):
		return fmt.Sprintf("No room %s is open here: it may have ended. Start your own: %s", user, s.invite("new"))
	case errors.Is(err, rooms.ErrFull):
		return fmt.Sprintf("Room %s is full. Start your own: %s", user, s.invite("new"))
	}
	return "Something went wrong on the server. Try again in a moment."
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
	_ = sess.Exit(0)
}
