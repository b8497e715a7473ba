package session

import (
	"charm.land/ssh"
	"charm.land/wish/v2"
)

// Metrics is told what happens so it can be counted; Config.Metrics nil
// counts nothing. Methods must be safe for concurrent use and must not
// block. Nothing passed identifies a room or a person.
type Metrics interface {
	SessionStarted()
	SessionEnded()
	// Joined: someone was seated; op is "new", "group" or "join".
	Joined(op string)
	// Rejected: a connection was turned away; reason is one of "malformed",
	// "unknown", "full" (see reason), "rate-limited", "server-full" or
	// "bad-request".
	Rejected(reason string)
	// SlowDropped: a member was hung up on for not reading.
	SlowDropped()
	// HandshakeFailed: a connection never became an SSH session.
	HandshakeFailed()
}

type noMetrics struct{}

func (noMetrics) SessionStarted()  {}
func (noMetrics) SessionEnded()    {}
func (noMetrics) Joined(string)    {}
func (noMetrics) Rejected(string)  {}
func (noMetrics) SlowDropped()     {}
func (noMetrics) HandshakeFailed() {}

// badRequest counts a refusal when mw turns a session away (does not call
// on to the next handler).
func (s *Server) badRequest(mw wish.Middleware) wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			passed := false
			mw(func(sess ssh.Session) {
				passed = true
				next(sess)
			})(sess)
			if !passed {
				s.cfg.Metrics.Rejected("bad-request")
			}
		}
	}
}

// badSubsystem counts a refused subsystem request, then refuses it.
func (s *Server) badSubsystem(sess ssh.Session) {
	s.cfg.Metrics.Rejected("bad-request")
	refuseSubsystem(sess)
}
