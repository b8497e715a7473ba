// Package session is the SSH front end: it accepts connections, asks the
// gate (package admit) who may come in, routes each session by its user
// name to a room, and runs that person's terminal UI on the channel. The
// rules themselves live in admit, speak and rooms; this package only
// speaks SSH.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/speak"
)

// Config is what the SSH front end needs to know.
type Config struct {
	HostKeyPath string
	Host        string // name[:port] shown in invite lines
	Port        int    // port shown in invite lines when Host has none
	// Link, if set, makes the web page address for a room, shown under
	// the ssh command.
	Link     func(code string) string
	Linger   time.Duration
	MaxGroup int // seats in a group room, for the welcome text
	Gate     *admit.Gate
	Speak    speak.Config
	Log      *slog.Logger
	// StallTimeout is how long one write to a client may block before the
	// client is taken to have stopped reading and is hung up on.
	StallTimeout     time.Duration
	HandshakeTimeout time.Duration // to finish the SSH handshake
	IdleTimeout      time.Duration // a person who types nothing for this long is let go; 0 never
	// Metrics, if set, is told what happens (see Metrics).
	Metrics Metrics
}

// Server is a hush SSH server.
type Server struct {
	cfg  Config
	ssh  *ssh.Server
	log  *slog.Logger
	gate *admit.Gate

	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup // sessions being served
}

// New builds a server; call Serve to start it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Gate == nil:
		return nil, errors.New("session: no gate")
	case cfg.StallTimeout <= 0:
		return nil, errors.New("session: no stall timeout")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &Server{cfg: cfg, log: cfg.Log, gate: cfg.Gate}
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
			s.badRequest(requirePTY),
			s.badRequest(refuseCommands),
			s.track,
		),
	)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	srv.HandshakeTimeout = cfg.HandshakeTimeout
	srv.ConnCallback = s.connect
	srv.BannerHandler = s.banner
	srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{"default": s.badSubsystem}
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

// Shutdown waits for every session to say goodbye (the gate's Shutdown
// has ended their seats), then closes every connection, by the time ctx
// ends at the latest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return s.ssh.Close()
}

// track counts sessions so Shutdown can wait for them, and logs each one.
// It never logs what anyone typed. A session's exit status is sent before
// it counts as done, so a shutdown never cuts a session off without one.
func (s *Server) track(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			wish.Fatalln(sess, (&admit.Refusal{Reason: admit.ShuttingDown}).Error())
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		s.cfg.Metrics.SessionStarted()
		defer s.cfg.Metrics.SessionEnded()
		start := time.Now()
		s.log.Info("session start", "remote", remoteIP(sess), "key", sess.PublicKey() != nil)
		next(sess)
		_ = sess.Exit(0) // an error only says a refusal already exited 1
		s.log.Info("session end", "remote", remoteIP(sess), "duration", time.Since(start).Round(time.Millisecond))
	}
}

// link is the web page that joins the room with code, "" without one.
func (s *Server) link(code string) string {
	if s.cfg.Link == nil {
		return ""
	}
	return s.cfg.Link(code)
}

// invite is the command that joins the room with code (or "new", "group").
func (s *Server) invite(user string) string { return Invite(s.cfg.Host, s.cfg.Port, user) }

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

// remoteIP is the address a session is logged under: the same key the
// gate counts its connection by.
func remoteIP(sess ssh.Session) string { return admit.Key(sess.RemoteAddr()) }
