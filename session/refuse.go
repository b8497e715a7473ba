package session

import (
	"charm.land/ssh"
	"charm.land/wish/v2"

	"github.com/hush-chat/hush/talk"
)

// Each refusal is one line that says what to do instead, and a non-zero exit.

// requireShell turns away, counted as a bad request, a session that runs
// a command or has no terminal. One middleware, not two, and the message
// chosen in a call of its own: every frame below a session's model stays
// on its stack for the whole session.
func (s *Server) requireShell(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if msg := notAShell(sess); msg != "" {
			s.hub.Refused(talk.BadRequest)
			wish.Fatalln(sess, msg)
			return
		}
		next(sess)
	}
}

// notAShell says why a session is not a chat: a command, or no terminal.
func notAShell(sess ssh.Session) string {
	if sess.RawCommand() != "" {
		return "hush is a chat, not a shell: connect without a command, e.g. ssh new@host."
	}
	if _, _, ok := sess.Pty(); !ok {
		return "hush needs a terminal: connect without -T (add -t if your client needs it)."
	}
	return ""
}

func refuseSubsystem(sess ssh.Session) {
	wish.Fatalln(sess, "hush offers no file transfer or subsystems: connect with plain ssh.")
}
