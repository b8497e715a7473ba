package session

import (
	"charm.land/ssh"
	"charm.land/wish/v2"
)

// Each refusal is one line that says what to do instead, and a non-zero exit.

func refuseCommands(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if sess.RawCommand() != "" {
			wish.Fatalln(sess, "hush is a chat, not a shell: connect without a command, e.g. ssh new@host.")
			return
		}
		next(sess)
	}
}

func requirePTY(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if _, _, ok := sess.Pty(); !ok {
			wish.Fatalln(sess, "hush needs a terminal: connect without -T (add -t if your client needs it).")
			return
		}
		next(sess)
	}
}

func refuseSubsystem(sess ssh.Session) {
	wish.Fatalln(sess, "hush offers no file transfer or subsystems: connect with plain ssh.")
}
