// Package talk is the conversation layer: everything a conversation is,
// whatever screen shows it. It takes a person through the gate to where
// they asked to go, carries what they type through the typing rules, turns
// what happens in the room into events a front end renders, watches for
// idleness, and words every refusal and goodbye. The SSH front end
// (session + ui) and the browser front end (web) both stand on it and on
// nothing below it, so a rule written here reaches every screen at once.
//
// It knows no front end: no SSH, no terminal, no HTTP.
package talk

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/names"
	"github.com/hush-chat/hush/pictures"
	"github.com/hush-chat/hush/rooms"
	"github.com/hush-chat/hush/speak"
)

// Peer is a member seated in a room, as front ends draw them: a lane,
// with its colour. (An alias, so that front ends need not import rooms.)
type Peer = rooms.Peer

// Palette is how many lane colours a room hands out.
const Palette = rooms.Palette

// Reasons a front end refuses for its own sake.
const (
	BadRequest      = admit.BadRequest      // a request hush does not serve
	TooManyChannels = admit.TooManyChannels // one connection asked for too many sessions
)

// Config is what every conversation on this server shares.
type Config struct {
	Gate        *admit.Gate
	Speak       speak.Config
	Linger      time.Duration // how long typed text stays before it has faded
	IdleTimeout time.Duration // a person who types nothing this long is let go; 0 never
	// Invite is the ssh command that goes to a place ("new", "group" or a
	// code, as shown); Link the web page for a room code, nil without one.
	Invite func(user string) string
	Link   func(code string) string
	Log    *slog.Logger
	// Pictures lets people show each other pictures that fade.
	Pictures bool
	// AskFor and KnockFor are how long an ask and a knock wait for an
	// answer (0: AskFor and KnockFor, the constants).
	AskFor, KnockFor time.Duration
}

// Hub holds what conversations share, and counts the front ends' sessions
// so a shutdown can wait for every goodbye. One per process.
type Hub struct {
	cfg     Config
	log     *slog.Logger
	decoder *pictures.Decoder // nil with pictures off
	uploads chan struct{}     // pictures being read from connections of their own

	mu      sync.Mutex
	closing bool
	held    sync.WaitGroup
	convs   map[*Conv]struct{} // every conversation here, for pictures sent from elsewhere
	tokens  map[string]token   // one-time lines that send a picture
}

// NewHub returns a hub for cfg.
func NewHub(cfg Config) *Hub {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.AskFor <= 0 {
		cfg.AskFor = AskFor
	}
	if cfg.KnockFor <= 0 {
		cfg.KnockFor = KnockFor
	}
	if cfg.Invite == nil {
		cfg.Invite = func(user string) string { return "ssh " + user + "@localhost" }
	}
	h := &Hub{cfg: cfg, log: cfg.Log, convs: make(map[*Conv]struct{}), tokens: make(map[string]token), uploads: make(chan struct{}, maxUploads)}
	if cfg.Pictures {
		h.decoder = pictures.New()
	}
	return h
}

// Fade is the fade schedule every screen follows.
func (h *Hub) Fade() Fade { return Schedule(h.cfg.Linger) }

// Invite is the ssh command that goes to user ("new", "group", a code).
func (h *Hub) Invite(user string) string { return h.cfg.Invite(user) }

// Hold counts one front-end session, from its first byte to its last, so
// that Wait can let it finish. It reports false once the hub is shutting
// down: the front end then says so and ends.
func (h *Hub) Hold() (release func(), ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return nil, false
	}
	h.held.Add(1)
	return sync.OnceFunc(h.held.Done), true
}

// Shutdown refuses every session from now on and ends every seat, so each
// conversation says goodbye; Wait then waits for the goodbyes.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.cfg.Gate.Shutdown()
}

// Wait returns once every held session has ended, or when ctx does. (In
// the second case its helper goroutine lingers until they have: shutdown
// ends every seat, so not for long.)
func (h *Hub) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { h.held.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Sessions is how many sessions are admitted now.
func (h *Hub) Sessions() int { return h.cfg.Gate.Sessions() }

// Refused counts a refusal a front end made for a reason of its own.
func (h *Hub) Refused(r admit.Reason) { h.cfg.Gate.Refused(r) }

// Conn is one connection's share of its address's budget.
type Conn struct {
	h *Hub
	c *admit.Conn
}

// Connect counts a new connection from addr before any protocol work. It
// returns nil for a connection far over its address's limits: close it at
// once. Otherwise Close it when the connection ends.
func (h *Hub) Connect(addr net.Addr) *Conn {
	c := h.cfg.Gate.Connect(addr)
	if c == nil {
		return nil
	}
	return &Conn{h: h, c: c}
}

// Close gives the connection's place back.
func (c *Conn) Close() { c.c.Close() }

// Key is the address limits count addr under, and logs name it by.
func Key(addr net.Addr) string { return admit.Key(addr) }

// identify names a person: by their key's bytes (stable handle and badge),
// or as a guest when key is nil.
func identify(key []byte) rooms.Member {
	if key == nil {
		return rooms.Member{Name: names.Guest(), Guest: true}
	}
	handle, badge := names.FromKey(key)
	return rooms.Member{Name: handle, Badge: badge}
}
