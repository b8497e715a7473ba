package session

import (
	"charm.land/ssh"
	"github.com/hush-chat/hush/talk"
)

// Metrics is told what happens on the SSH side so it can be counted;
// refusals and seats are counted by the conversation layer. Config.Metrics nil counts
// nothing. Methods must be safe for concurrent use and must not block.
// Nothing passed identifies a room or a person.
type Metrics interface {
	SessionStarted()
	SessionEnded()
	// SlowDropped: a member was hung up on for not reading.
	SlowDropped()
	// HandshakeFailed: a connection never became an SSH session.
	HandshakeFailed()
	// IdleClosed: a connection was closed for holding its place with no
	// session open.
	IdleClosed()
	// Throttled: a connection's requests were held back for coming too fast.
	Throttled()
}

type noMetrics struct{}

func (noMetrics) SessionStarted()  {}
func (noMetrics) SessionEnded()    {}
func (noMetrics) SlowDropped()     {}
func (noMetrics) HandshakeFailed() {}
func (noMetrics) IdleClosed()      {}
func (noMetrics) Throttled()       {}

// badSubsystem counts a refused subsystem request, then refuses it.
func (s *Server) badSubsystem(sess ssh.Session) {
	s.hub.Refused(talk.BadRequest)
	refuseSubsystem(sess)
}
