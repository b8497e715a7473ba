package session

import (
	"fmt"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	"github.com/hush-chat/hush/talk"
)

// picture serves `ssh CODE@HOST pic [TOKEN] < file`: a session with no
// terminal whose standard input is a picture for the room. It answers in
// one line on standard error and exits 0, or 1 with the refusal.
func (s *Server) picture(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if cmd := sess.Command(); len(cmd) > 0 && cmd[0] == "pic" {
			s.takePicture(sess, cmd)
			return
		}
		next(sess)
	}
}

// takePicture reads the picture a pic session sends and answers it.
func (s *Server) takePicture(sess ssh.Session, cmd []string) {
	if len(cmd) > 2 {
		s.hub.Refused(talk.BadRequest)
		wish.Fatalln(sess, "Send a picture with: "+s.hub.Invite("CODE")+" pic < picture.png")
		return
	}
	var tok string
	if len(cmd) == 2 {
		tok = cmd[1]
	}
	// Reading a channel cannot be cancelled: a sender still trickling
	// when the time to send a picture is over is hung up on.
	cut := time.AfterFunc(talk.PictureReadFor, func() { hangUp(sess) })
	defer cut.Stop()
	said, err := gateConn(sess).SendPicture(sess.Context(), sess.User(), keyOf(sess), tok, sess)
	if err != nil {
		s.log.Info("picture refused", "remote", remoteIP(sess))
		wish.Fatalln(sess, err.Error())
		return
	}
	_, _ = fmt.Fprintln(sess.Stderr(), said)
}
