// Package session is the SSH front end: it accepts connections, reads
// where each session asks to go from its user name, and runs that
// person's terminal UI (package ui) on the channel. Who gets in, what
// typing may do and what every sentence says belong to the conversation
// layer (package talk); this package only speaks SSH.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/talk"
	"github.com/hush-chat/hush/ui"
)

// Config is what the SSH front end needs to know.
type Config struct {
	HostKeyPath string
	Hub         *talk.Hub
	MaxGroup    int // seats in a group room, for the welcome text
	Log         *slog.Logger
	// StallTimeout is how long one write to a client may block before the
	// client is taken to have stopped reading and is hung up on.
	StallTimeout     time.Duration
	HandshakeTimeout time.Duration // to finish the SSH handshake
	// Metrics, if set, is told what happens (see Metrics).
	Metrics Metrics
}

// Server is a hush SSH server.
type Server struct {
	cfg   Config
	ssh   *ssh.Server
	log   *slog.Logger
	hub   *talk.Hub
	fades *ui.Fades // shared by every screen
}

// New builds a server; call Serve to start it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Hub == nil:
		return nil, errors.New("session: no hub")
	case cfg.StallTimeout <= 0:
		return nil, errors.New("session: no stall timeout")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &Server{cfg: cfg, log: cfg.Log, hub: cfg.Hub, fades: ui.NewFades()}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(cfg.HostKeyPath),
		// Everyone is let in: a key gives a stable handle, no key makes a guest.
		// (A connection over its address's limits is told why in the
		// banner and let in by neither: see over.)
		wish.WithPublicKeyAuth(func(ctx ssh.Context, _ ssh.PublicKey) bool { return s.welcomeAuth(ctx) }),
		wish.WithKeyboardInteractiveAuth(func(ctx ssh.Context, _ gossh.KeyboardInteractiveChallenge) bool { return s.welcomeAuth(ctx) }),
		// The last middleware listed runs first.
		wish.WithMiddleware(
			s.route,
			s.requireShell,
			s.picture,
			s.track,
			s.contain,
		),
	)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	srv.HandshakeTimeout = cfg.HandshakeTimeout
	srv.ConnCallback = s.connect
	srv.BannerHandler = s.banner
	srv.ConnectionFailedCallback = func(net.Conn, error) { s.cfg.Metrics.HandshakeFailed() }
	srv.ChannelHandlers = map[string]ssh.ChannelHandler{
		"session": s.sessionChannel,
		"default": s.otherChannel,
	}
	srv.RequestHandlers = map[string]ssh.RequestHandler{"default": s.globalRequest}
	s.ssh = srv
	return s, nil
}

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.ssh.Serve(l)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown waits for every session to say goodbye (the hub's Shutdown
// has ended their seats), then closes every connection, by the time ctx
// ends at the latest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.Wait(ctx)
	return s.ssh.Close()
}

// track counts sessions so Shutdown can wait for them, and logs each one.
// It never logs what anyone typed. A session's exit status is sent before
// it counts as done, so a shutdown never cuts a session off without one.
// contain keeps a bug met in one session from taking the server, and
// everyone else's conversations, down with it: the session is logged with
// its stack (a panic's type and, for the runtime's own errors, its words;
// nothing typed) and closed, and every deferred goodbye and release on the
// way out has run.
func (s *Server) contain(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			what := fmt.Sprintf("%T", v)
			if err, ok := v.(runtime.Error); ok {
				what = err.Error()
			}
			s.log.Error("session failed", "remote", remoteIP(sess), "panic", what, "stack", string(debug.Stack()))
			_, _ = fmt.Fprint(sess.Stderr(), talk.Unexpected+"\r\n")
			_ = sess.Exit(1)
			_ = sess.Close()
		}()
		next(sess)
	}
}

func (s *Server) track(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		release, ok := s.hub.Hold()
		if !ok {
			wish.Fatalln(sess, talk.Refuse(talk.ShuttingDown).Text)
			return
		}
		defer release()
		s.cfg.Metrics.SessionStarted()
		defer s.cfg.Metrics.SessionEnded()
		start := s.logStart(sess)
		next(sess)
		_ = sess.Exit(0) // an error only says a refusal already exited 1
		s.logEnd(sess, start)
	}
}

// logStart and logEnd are calls of their own so that the arguments of a
// log line take no room in track's frame, which stays on the session's
// stack while it lasts.
func (s *Server) logStart(sess ssh.Session) time.Time {
	s.log.Info("session start", "remote", remoteIP(sess), "key", sess.PublicKey() != nil)
	return time.Now()
}

func (s *Server) logEnd(sess ssh.Session, start time.Time) {
	s.log.Info("session end", "remote", remoteIP(sess), "duration", time.Since(start).Round(time.Millisecond))
}

// Invite is the ssh command that connects as user to a server shown as
// host (name[:port], the port wins over port) listening on port: -p is
// left out for 22.
func Invite(host string, port int, user string) string {
	if h, p, err := net.SplitHostPort(host); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	if port != 0 && port != 22 {
		return fmt.Sprintf("ssh -p %d %s@%s", port, user, host)
	}
	return fmt.Sprintf("ssh %s@%s", user, host)
}

// remoteIP is the address a session is logged under: the same key its
// connection is counted by.
func remoteIP(sess ssh.Session) string { return talk.Key(sess.RemoteAddr()) }
