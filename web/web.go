// Package web is the browser front end: a page at /CODE and a WebSocket
// per tab that speaks to the same rooms as SSH. Every rule (who gets in,
// how fast one may type, what text may enter a room, what each sentence
// says) comes from the conversation layer (package talk), so a browser
// gets exactly what a terminal gets; this package speaks HTTP, WebSocket
// and JSON, and serves the page.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hush-chat/hush/talk"
)

//go:embed static
var static embed.FS

// Config is what the web front end needs to know.
type Config struct {
	Hub *talk.Hub
	Log *slog.Logger
	// URL is the public base URL links are made from, e.g.
	// https://chat.example.org. Empty: links use the request's own host.
	URL string
	// TLS says the page is served over TLS here (adds HSTS).
	TLS bool
	// TrustedProxies may name the client in X-Forwarded-For; from any
	// other peer the header is ignored.
	TrustedProxies []netip.Prefix
	// StallTimeout is how long a browser may take nothing before it is
	// dropped, as for SSH.
	StallTimeout time.Duration
	// HelloTimeout bounds the wait for a new socket's first frame.
	HelloTimeout time.Duration
	Metrics      Metrics
	// Hosts are the names a browser may reach this server by (the Host
	// header, without a port); any other gets 421, so a page on another
	// name that resolves here (DNS rebinding) is not served. IP literals
	// and loopback names are always accepted: no other site can send them.
	Hosts []string
	// ConnsPerAddress bounds the web port's TCP connections from one
	// address (sockets and page loads together), MaxConns all of them,
	// so the file descriptors beyond stay SSH's. 0: no bound.
	ConnsPerAddress int
	MaxConns        int
}

// Metrics is told what happens on the web side; refusals and seats are
// counted by the conversation layer. Methods must not block.
type Metrics interface {
	WebSessionStarted()
	WebSessionEnded()
	SlowDropped()
}

type noMetrics struct{}

func (noMetrics) WebSessionStarted() {}
func (noMetrics) WebSessionEnded()   {}
func (noMetrics) SlowDropped()       {}

// Server serves the page and its sockets.
type Server struct {
	cfg    Config
	log    *slog.Logger
	hub    *talk.Hub
	origin string // scheme://host[:port] of cfg.URL, "" without one
	hosts  map[string]bool
	http   *http.Server

	// base ends every socket at the end of Shutdown.
	base   context.Context
	cancel context.CancelFunc
}

// New checks cfg and builds a server; Serve starts it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Hub == nil:
		return nil, errors.New("web: no hub")
	case cfg.StallTimeout <= 0:
		return nil, errors.New("web: no stall timeout")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.HelloTimeout <= 0 {
		cfg.HelloTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Log, hub: cfg.Hub}
	hosts := append(slices.Clone(cfg.Hosts), "localhost")
	if cfg.URL != "" {
		u, err := url.Parse(cfg.URL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("web: URL %q: want http(s)://host[:port]", cfg.URL)
		}
		// A browser's Origin must name the public URL exactly.
		host := u.Host
		if p := u.Port(); (p == "80" && u.Scheme == "http") || (p == "443" && u.Scheme == "https") {
			host = u.Hostname() // a browser leaves a default port out
		}
		s.origin = strings.ToLower(u.Scheme + "://" + host)
		hosts = append(hosts, u.Hostname())
	}
	s.hosts = make(map[string]bool)
	for _, h := range hosts {
		s.hosts[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /{code}", s.page)
	mux.HandleFunc("GET /static/{file}", s.asset)
	mux.HandleFunc("GET /ws", s.socket)
	s.http = &http.Server{
		Handler:           s.headers(mux),
		ReadHeaderTimeout: 5 * time.Second,
		// A page loads in a moment; a connection kept idle longer only
		// holds a file descriptor.
		IdleTimeout:    10 * time.Second,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Serve accepts connections on l until Shutdown. TLS, if any, is l's.
func (s *Server) Serve(l net.Listener) error {
	ln := s.listen(l)
	s.http.ConnState = ln.state
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown waits for every socket to say goodbye (the hub's Shutdown has
// ended their seats), then closes what is left, by the time ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.Wait(ctx)
	s.cancel()
	return s.http.Shutdown(ctx)
}

// headers sets what every answer carries: a strict policy (scripts and
// styles only from here, no framing, no string-to-code sinks), no caching,
// no referrer, and HSTS under TLS. A request for a host this server is not
// gets 421 and nothing else.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.knownHost(r) {
			s.log.Debug("web refused", "remote", talk.Key(s.clientAddr(r)), "reason", "unknown host")
			http.Error(w, "hush does not serve this host name.", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", s.csp(r))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		if s.cfg.TLS {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// knownHost says whether r asks for a name this server answers to: one of
// Config.Hosts, a loopback name or an IP literal. Behind a trusted proxy
// the name the browser used is X-Forwarded-Host, if the proxy sends one.
func (s *Server) knownHost(r *http.Request) bool {
	host := r.Host
	if s.fromProxy(r) {
		fwd := r.Header.Get("X-Forwarded-Host")
		if fwd == "" {
			return true // the proxy chose which names reach us
		}
		host = strings.TrimSpace(strings.Split(fwd, ",")[0])
	}
	return s.allowedHost(host)
}

func (s *Server) allowedHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	if name == "" {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return true // no other site can make a browser send an address
	}
	return s.hosts[name] || strings.HasSuffix(name, ".localhost")
}

// scheme is how the browser reached the page: TLS here (Config.TLS: the
// listener's connections reach net/http wrapped, so r.TLS is not set), or
// https as a trusted proxy says; anyone else's X-Forwarded-Proto is ignored.
func (s *Server) scheme(r *http.Request) string {
	if s.cfg.TLS || r.TLS != nil || (s.fromProxy(r) && r.Header.Get("X-Forwarded-Proto") == "https") {
		return "https"
	}
	return "http"
}

// fromProxy says whether r came straight from a trusted proxy.
func (s *Server) fromProxy(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && trusted(s.cfg.TrustedProxies, peer.Addr())
}

// publicHost is the host[:port] the browser reached: the configured URL's,
// else the request's own once knownHost has passed it.
func (s *Server) publicHost(r *http.Request) string {
	if s.cfg.URL != "" {
		u, _ := url.Parse(s.cfg.URL)
		return u.Host
	}
	return sanitizeHost(r.Host)
}

// csp names the socket's origin in connect-src: 'self' does not cover
// ws: in every browser.
func (s *Server) csp(r *http.Request) string {
	scheme := "ws"
	if s.cfg.URL != "" && strings.HasPrefix(s.cfg.URL, "https:") || s.cfg.URL == "" && s.scheme(r) == "https" {
		scheme = "wss"
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src " + scheme + "://" + sanitizeHost(s.publicHost(r)) + "; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'; " +
		"require-trusted-types-for 'script'; trusted-types 'none'"
}

// sameOrigin says whether a socket's Origin is this site's: exactly the
// configured URL's scheme and host, or without one, the scheme and host
// the request came by. No Origin is a client that is not a browser.
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	got := strings.ToLower(u.Scheme + "://" + u.Host)
	if s.origin != "" {
		return got == s.origin
	}
	return got == strings.ToLower(s.scheme(r)+"://"+r.Host)
}

// sanitizeHost keeps a Host header from writing anything but a host into
// the policy.
func sanitizeHost(h string) string {
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)) {
			return "'none'"
		}
	}
	if h == "" {
		return "'none'"
	}
	return h
}

// page serves the one page: at / it offers to start a room, at /CODE it
// joins that room, at /lobby it enters the lobby. Loading it never opens
// a room by itself: link previews and prefetchers load pages too.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	if code := r.PathValue("code"); code != "" {
		if to, ok := talk.Route(code); !ok || to == talk.New || to == talk.Group {
			s.notFound(w)
			return
		}
	}
	serveFile(w, "static/index.html", "text/html; charset=utf-8")
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	switch f := r.PathValue("file"); f {
	case "app.js":
		serveFile(w, "static/app.js", "text/javascript; charset=utf-8")
	case "app.css":
		serveFile(w, "static/app.css", "text/css; charset=utf-8")
	case "icon.svg":
		serveFile(w, "static/icon.svg", "image/svg+xml")
	default:
		s.notFound(w)
	}
}

func (s *Server) notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = fmt.Fprintln(w, "Not a room code. Start your own at /.")
}

func serveFile(w http.ResponseWriter, name, typ string) {
	b, err := static.ReadFile(name)
	if err != nil {
		http.Error(w, "missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", typ)
	_, _ = w.Write(b)
}

// link is the page that joins the room with code, made from the public
// URL or, without one, from the (known) host the browser used.
func (s *Server) link(r *http.Request, code string) string {
	if s.cfg.URL != "" {
		return strings.TrimSuffix(s.cfg.URL, "/") + "/" + code
	}
	return s.scheme(r) + "://" + sanitizeHost(r.Host) + "/" + code
}

// Link is the page that joins the room with code: base is the public URL
// (--web-url), else one is made from host (a name, maybe with a port that
// is dropped) and the web listener's port.
func Link(base, host string, port int, code string) string {
	if base != "" {
		return strings.TrimSuffix(base, "/") + "/" + code
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == 80 {
		return "http://" + host + "/" + code
	}
	return fmt.Sprintf("http://%s:%d/%s", host, port, code)
}

// clientAddr is the address limits count this request under: the peer's,
// or the client a trusted proxy names (the right-most address it did not
// add itself).
func (s *Server) clientAddr(r *http.Request) net.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return &net.TCPAddr{}
	}
	addr := net.TCPAddrFromAddrPort(peer)
	if !trusted(s.cfg.TrustedProxies, peer.Addr()) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !trusted(s.cfg.TrustedProxies, ip) {
			return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
		}
	}
	return addr
}

func trusted(list []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range list {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
