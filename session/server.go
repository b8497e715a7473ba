// Package session is the thin glue between SSH and the rest: it routes a
// connection by its user name to a room, and runs that person's UI on the
// SSH channel. Every rule about what a connection may do lives here.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/ui"
)

// Config is what the SSH side needs to know.
type Config struct {
	HostKeyPath string
	Host        string // name[:port] shown in invite lines
	Port        int    // port shown in invite lines when Host has none
	Linger      time.Duration
	MaxGroup    int
	Registry    rooms.Registry
	Log         *slog.Logger

	// StallTimeout is how long one write to a client may block before the
	// client is taken to have stopped reading and is hung up on.
	StallTimeout time.Duration

	// Metrics, if set, is told what happens (see Metrics).
	Metrics Metrics

	Limits Limits
}

// Server is a hush SSH server.
type Server struct {
	cfg Config
	ssh *ssh.Server
	log *slog.Logger

	addrs    *limits.Addresses
	sessions atomic.Int64

	mu      sync.Mutex
	closing bool
	inboxes map[chan<- tea.Msg]struct{} // every running UI, to tell of a shutdown
	wg      sync.WaitGroup
}

// New builds a server; call Serve to start it.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 5 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Log,
		inboxes: make(map[chan<- tea.Msg]struct{}),
		addrs:   limits.NewAddresses(cfg.Limits.PerAddress, nil),
	}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(cfg.HostKeyPath),
		// Everyone is let in: a key gives a stable handle, no key makes a guest.
		wish.WithPublicKeyAuth(func(ssh.Context, ssh.PublicKey) bool { return true }),
		wish.WithKeyboardInteractiveAuth(func(ssh.Context, gossh.KeyboardInteractiveChallenge) bool { return true }),
		// The last middleware listed runs first.
		wish.WithMiddleware(
			s.route,
			s.badRequest(refuseAgent),
			s.badRequest(requirePTY),
			s.badRequest(refuseCommands),
			s.admit,
			s.track,
		),
	)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	srv.HandshakeTimeout = cfg.Limits.HandshakeTimeout
	srv.ConnCallback = s.countConn
	srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{"default": s.badSubsystem}
	srv.ConnectionFailedCallback = func(net.Conn, error) { s.cfg.Metrics.HandshakeFailed() }
	srv.ChannelHandlers = map[string]ssh.ChannelHandler{
		"session":                        ssh.DefaultSessionHandler,
		"direct-tcpip":                   refuseChannel,
		"direct-streamlocal@openssh.com": refuseChannel,
	}
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

// Shutdown tells everyone in a room that the server is going away, lets
// their screens say so, and closes every connection by the time ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	inboxes := make([]chan<- tea.Msg, 0, len(s.inboxes))
	for in := range s.inboxes {
		inboxes = append(inboxes, in)
	}
	s.mu.Unlock()
	for _, in := range inboxes {
		go func() {
			select {
			case in <- ui.Shutdown{}:
			case <-ctx.Done():
			}
		}()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return s.ssh.Close()
}

// track counts sessions so Shutdown can wait for them, and logs each one.
// It never logs what anyone typed.
func (s *Server) track(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			wish.Fatalln(sess, "The hush server is restarting. Try again in a moment.")
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
		s.log.Info("session end", "remote", remoteIP(sess), "duration", time.Since(start).Round(time.Millisecond))
	}
}

func (s *Server) register(in chan<- tea.Msg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inboxes[in] = struct{}{}
	return true
}

func (s *Server) unregister(in chan<- tea.Msg) {
	s.mu.Lock()
	delete(s.inboxes, in)
	s.mu.Unlock()
}

// invite is the command that joins the room with code.
func (s *Server) invite(user string) string {
	host, port := s.cfg.Host, s.cfg.Port
	if h, p, err := net.SplitHostPort(host); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	if port != 0 && port != 22 {
		return fmt.Sprintf("ssh -p %d %s@%s", port, user, host)
	}
	return fmt.Sprintf("ssh %s@%s", user, host)
}

// roomTag names a room in logs without revealing its code.
func roomTag(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:4])
}

// remoteIP is the address the per-address limits count a session under:
// the same key countConn used for its connection.
func remoteIP(sess ssh.Session) string { return hostOf(sess.RemoteAddr()) }
