// Package admit decides who gets in: per-address connection limits, the
// server-wide session cap, the wrong-code lockout and shutdown. Every front
// end (SSH, the web) goes through one Gate, so an address has one budget
// however it arrives, and a refusal reads the same everywhere.
package admit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
)

// Config sets the limits. Zero means no limit.
type Config struct {
	PerAddress  limits.Config
	MaxSessions int // sessions at once, server-wide
	MaxGroup    int // seats in a room opened as a group
	// WrongCodesPerMinute is the server-wide budget of wrong codes; past
	// it, every answer to a join slows down (see serverWrongCodes).
	WrongCodesPerMinute int
	// Shared, if set, also keeps each address's wrong codes where every
	// node of a cluster sees them; this process's own counts apply too.
	Shared SharedWrongCodes
	// LobbySize is how many people the lobby holds.
	LobbySize int
	// Tallies, if set, also keeps each address's asks and knocks where
	// every node sees them; this process's own counts apply too.
	Tallies SharedTallies
}

// What one address may do to find people. (The asks waiting on one
// person are counted where that person is: package talk.)
const (
	AsksAllowed   = 10               // asks per AsksPeriod
	AsksPeriod    = 10 * time.Minute //
	AskAgainAfter = 5 * time.Minute  // before the same person again, after no answer
	KnocksAllowed = 5                // knocks per KnocksPeriod
	KnocksPeriod  = 10 * time.Minute //
)

// SharedTallies keeps tallies (limits.Tally) beyond this process, so that
// an address spreading asks or knocks over a cluster's nodes gains
// nothing. When it cannot answer, the gate goes by its own counts.
type SharedTallies interface {
	// Take counts one under key if fewer than max fell within per.
	Take(ctx context.Context, key string, max int, per time.Duration) (bool, error)
	// Count is how many were counted under key within per.
	Count(ctx context.Context, key string, per time.Duration) (int, error)
}

// SharedWrongCodes keeps wrong codes per address beyond this process, so that a
// guesser spreading attempts over a cluster's nodes gains nothing. When it
// cannot answer, the gate goes by its own counts.
type SharedWrongCodes interface {
	// Wait is how long key's joining is paused (0: it is not).
	Wait(ctx context.Context, key string) (time.Duration, error)
	// Wrong counts one wrong code from key.
	Wrong(ctx context.Context, key string) error
}

// Op is a way into a room.
type Op uint8

const (
	OpNew   Op = iota + 1 // a room for two
	OpGroup               // a room for Config.MaxGroup
	OpJoin                // a room someone shared
	OpLobby               // the lobby
)

// Ops lists every Op, for metrics that want a series each.
func Ops() []Op { return []Op{OpNew, OpGroup, OpJoin, OpLobby} }

func (o Op) String() string {
	switch o {
	case OpNew:
		return "new"
	case OpGroup:
		return "group"
	case OpJoin:
		return "join"
	case OpLobby:
		return "lobby"
	}
	return "other"
}

// Observer is told what the gate decides, to be counted. Methods must be
// safe for concurrent use and must not block.
type Observer interface {
	Refused(Reason)
	Seated(Op)
	Knocked()
	Asked(AskOutcome)
}

// AskOutcome is what became of an ask for a private room.
type AskOutcome uint8

const (
	AskSent     AskOutcome = iota + 1 // made
	AskAccepted                       // accepted: both went to a room of their own
	AskNoAnswer                       // declined, timed out, cancelled, or the other left
)

// AskOutcomes lists every AskOutcome, for metrics that want a series each.
func AskOutcomes() []AskOutcome { return []AskOutcome{AskSent, AskAccepted, AskNoAnswer} }

func (a AskOutcome) String() string {
	switch a {
	case AskSent:
		return "sent"
	case AskAccepted:
		return "accepted"
	case AskNoAnswer:
		return "no-answer"
	}
	return "other"
}

type nobody struct{}

func (nobody) Refused(Reason)   {}
func (nobody) Seated(Op)        {}
func (nobody) Knocked()         {}
func (nobody) Asked(AskOutcome) {}

// Gate admits connections and sessions. One per process, shared by every
// front end.
type Gate struct {
	cfg   Config
	reg   rooms.Registry
	obs   Observer
	addrs *limits.Addresses

	server  *serverWrongCodes
	tallies *limits.Tallies // asks and knocks, per address

	mu       sync.Mutex
	knocking map[string]bool // address and room of every knock waiting here

	sessions atomic.Int64
	closing  atomic.Bool
	closed   sync.Once
}

// New returns a gate in front of reg. obs may be nil.
func New(reg rooms.Registry, cfg Config, obs Observer) *Gate {
	if obs == nil {
		obs = nobody{}
	}
	if cfg.MaxGroup < 2 {
		cfg.MaxGroup = 2
	}
	if cfg.LobbySize < 1 {
		cfg.LobbySize = 200
	}
	return &Gate{cfg: cfg, reg: reg, obs: obs, addrs: limits.NewAddresses(cfg.PerAddress, nil), server: newServerWrongCodes(cfg.WrongCodesPerMinute),
		tallies: limits.NewTallies(max(AsksPeriod, KnocksPeriod, AskAgainAfter), nil), knocking: make(map[string]bool)}
}

// Conn is one connection's share of its address's budget.
type Conn struct {
	g       *Gate
	key     string
	refused bool // over a limit: told why, then let go
	release func()
}

// Connect counts a new connection from addr before any protocol work. It
// returns nil for a connection far over its address's limits: close it at
// once, it is not a person waiting for an answer. Otherwise the caller
// must Close the Conn when the connection ends.
func (g *Gate) Connect(addr net.Addr) *Conn {
	key := Key(addr)
	v, release := g.addrs.Connect(key)
	if v == limits.Drop {
		g.obs.Refused(TooManyConns)
		return nil
	}
	return &Conn{g: g, key: key, refused: v == limits.Refuse, release: release}
}

// Over says why a connection just over its address's limits gets no
// session (counting the refusal), or nil for one within them. A front end
// that can tell it before any session (SSH's banner) does so and closes.
func (c *Conn) Over() *Refusal {
	if !c.refused {
		return nil
	}
	return c.g.refuse(&Refusal{Reason: TooManyConns})
}

// Refused says whether the connection is over its address's limits.
func (c *Conn) Refused() bool { return c.refused }

// Close gives the connection's place back.
func (c *Conn) Close() { c.release() }

// Picture spends one picture from the address's allowance; false when it
// is spent.
func (c *Conn) Picture() bool { return c.g.addrs.Picture(c.key) }

// Key is the address the connection is counted under.
func (c *Conn) Key() string { return c.key }

// Pass is one admitted session. Done must be called when it ends.
type Pass struct {
	g       *Gate
	key     string
	release func() // the address's session slot
	done    sync.Once
}

// Enter admits one session on c, or says why not with a *Refusal.
func (c *Conn) Enter() (*Pass, error) {
	g := c.g
	switch {
	case c.refused:
		return nil, g.refuse(&Refusal{Reason: TooManyConns})
	case g.closing.Load():
		return nil, g.refuse(&Refusal{Reason: ShuttingDown})
	}
	ok, release := g.addrs.Session(c.key)
	if !ok {
		return nil, g.refuse(&Refusal{Reason: TooManySessions})
	}
	if n := g.sessions.Add(1); g.cfg.MaxSessions > 0 && n > int64(g.cfg.MaxSessions) {
		g.sessions.Add(-1)
		release()
		return nil, g.refuse(&Refusal{Reason: ServerFull})
	}
	return &Pass{g: g, key: c.key, release: release}, nil
}

// Done gives back the session's places: its address's and the server's.
func (p *Pass) Done() {
	p.done.Do(func() {
		p.release()
		p.g.sessions.Add(-1)
	})
}

// Open starts a room (for two, or a group) and seats m in it.
func (p *Pass) Open(ctx context.Context, op Op, m rooms.Member) (rooms.Seat, error) {
	seats := 2
	if op == OpGroup {
		seats = p.g.cfg.MaxGroup
	}
	seat, err := p.g.reg.Open(ctx, seats, m)
	return p.g.seated(op, seat, err, "")
}

// Join seats m in the room named by code, unless this address has guessed
// wrong too often. While the server as a whole is over its wrong-code
// budget, every join waits a little first (never more than
// maxBeforeLookup) and a wrong answer waits longer.
func (p *Pass) Join(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	g := p.g
	if r := p.lockedOut(ctx); r != nil {
		return nil, r
	}
	pause(ctx, g.server.behind(time.Now()), maxBeforeLookup)
	seat, err := g.reg.Join(ctx, code, m)
	p.wrong(ctx, err)
	return g.seated(OpJoin, seat, err, code)
}

// lockedOut is the refusal of an address that guessed wrong too often,
// nil if it may try a code.
func (p *Pass) lockedOut(ctx context.Context) *Refusal {
	g := p.g
	locked, left := g.addrs.Locked(p.key)
	if l := g.cfg.Shared; !locked && l != nil {
		if w, err := l.Wait(ctx, p.key); err == nil && w > 0 {
			locked, left = true, w
		}
	}
	if locked {
		return g.refuse(&Refusal{Reason: LockedOut, Wait: left})
	}
	return nil
}

// wrong counts a code that named no room (err from the registry), and
// makes its answer wait while the server is over its budget.
func (p *Pass) wrong(ctx context.Context, err error) {
	if !errors.Is(err, rooms.ErrBadCode) && !errors.Is(err, rooms.ErrNoRoom) {
		return
	}
	g := p.g
	g.addrs.WrongCode(p.key)
	if l := g.cfg.Shared; l != nil {
		_ = l.Wrong(ctx, p.key) // unreachable: this node's counts still hold
	}
	g.server.wrong(time.Now())
	pause(ctx, g.server.behind(time.Now()), maxBeforeWrong)
}

// Meet seats m in the room an accepted ask opened. Its code came from
// the rooms, not from the person, so a room gone meanwhile is no wrong
// code, and a lockout for guessing does not keep them out.
func (p *Pass) Meet(ctx context.Context, code string, m rooms.Member) (rooms.Seat, error) {
	seat, err := p.g.reg.Join(ctx, code, m)
	if err != nil {
		return nil, fmt.Errorf("meet: %w", err)
	}
	p.g.obs.Seated(OpJoin)
	return seat, nil
}

// Lobby seats m in the lobby.
func (p *Pass) Lobby(ctx context.Context, m rooms.Member) (rooms.Seat, error) {
	seat, err := p.g.reg.Lobby(ctx, p.g.cfg.LobbySize, m)
	if errors.Is(err, rooms.ErrFull) {
		return nil, p.g.refuse(&Refusal{Reason: LobbyFull, Err: err})
	}
	return p.g.seated(OpLobby, seat, err, "")
}

// Knock puts m at the door of the locked room named by code: one knock
// waiting per address and room, KnocksAllowed per KnocksPeriod. Call done
// once the knock waits no more (let in, turned away, given up).
func (p *Pass) Knock(ctx context.Context, code string, m rooms.Member) (_ rooms.Seat, done func(), _ error) {
	g := p.g
	// A knock names its room by code too: the same lockout, the same
	// count of codes that name no room.
	if r := p.lockedOut(ctx); r != nil {
		return nil, nil, r
	}
	// The room, however its code is spelt: codes take any case, and dashes.
	mark := p.key + "\x00" + strings.ToLower(strings.ReplaceAll(code, "-", ""))
	g.mu.Lock()
	if g.knocking[mark] {
		g.mu.Unlock()
		return nil, nil, g.refuse(&Refusal{Reason: KnockWaiting})
	}
	g.knocking[mark] = true
	g.mu.Unlock()
	done = sync.OnceFunc(func() {
		g.mu.Lock()
		delete(g.knocking, mark)
		g.mu.Unlock()
	})
	if !g.take(ctx, "knock\x00"+p.key, KnocksAllowed, KnocksPeriod) {
		done()
		return nil, nil, g.refuse(&Refusal{Reason: TooManyKnocks})
	}
	pause(ctx, g.server.behind(time.Now()), maxBeforeLookup)
	seat, err := g.reg.Knock(ctx, code, m)
	p.wrong(ctx, err)
	if err != nil {
		done()
		if errors.Is(err, rooms.ErrNotLocked) {
			return nil, nil, err // not a refusal: join instead
		}
		return nil, nil, g.refuse(&Refusal{Reason: reasonOf(err), Code: code, Err: err})
	}
	g.obs.Knocked()
	return seat, done, nil
}

// Ask counts an ask from c to the person known as who (stable, e.g.
// their handle and badge) and shown as name, or says why it may not be
// made: the same person again within AskAgainAfter of no answer, or more
// than AsksAllowed per AsksPeriod.
func (c *Conn) Ask(ctx context.Context, who, name string) error {
	g := c.g
	if g.count(ctx, c.again(who), AskAgainAfter) > 0 {
		return g.refuse(&Refusal{Reason: AskedRecently, Name: name})
	}
	if !g.take(ctx, "ask\x00"+c.key, AsksAllowed, AsksPeriod) {
		return g.refuse(&Refusal{Reason: TooManyAsks})
	}
	g.obs.Asked(AskSent)
	return nil
}

// NoAnswer records that c's ask to who went unanswered: asking them again
// waits AskAgainAfter.
func (c *Conn) NoAnswer(ctx context.Context, who string) {
	c.g.obs.Asked(AskNoAnswer)
	c.g.take(ctx, c.again(who), 1, AskAgainAfter)
}

// Accepted counts an ask of c's that was accepted.
func (c *Conn) Accepted() { c.g.obs.Asked(AskAccepted) }

func (c *Conn) again(who string) string { return "again\x00" + c.key + "\x00" + who }

// take counts one under key here and, with shared tallies, across the
// cluster; either saying no is no. Shared tallies that cannot answer are
// left out.
func (g *Gate) take(ctx context.Context, key string, max int, per time.Duration) bool {
	if !g.tallies.Take(key, max, per) {
		return false
	}
	if t := g.cfg.Tallies; t != nil {
		if ok, err := t.Take(ctx, key, max, per); err == nil && !ok {
			return false
		}
	}
	return true
}

// count is the larger of this process's count under key and the cluster's.
func (g *Gate) count(ctx context.Context, key string, per time.Duration) int {
	n := g.tallies.Count(key, per)
	if t := g.cfg.Tallies; t != nil {
		if m, err := t.Count(ctx, key, per); err == nil {
			n = max(n, m)
		}
	}
	return n
}

func (g *Gate) seated(op Op, seat rooms.Seat, err error, code string) (rooms.Seat, error) {
	if err != nil {
		return nil, g.refuse(&Refusal{Reason: reasonOf(err), Code: code, Err: err})
	}
	g.obs.Seated(op)
	return seat, nil
}

// Refused counts a refusal a front end made for reasons of its own (a
// request it does not serve).
func (g *Gate) Refused(r Reason) { g.obs.Refused(r) }

func (g *Gate) refuse(r *Refusal) *Refusal {
	g.obs.Refused(r.Reason)
	return r
}

// Shutdown refuses every session from now on and ends every seat with
// rooms.ErrClosed, so each front end can say goodbye its own way.
func (g *Gate) Shutdown() {
	g.closed.Do(func() {
		g.closing.Store(true)
		g.reg.Close(rooms.ErrClosed)
	})
}

// Sessions is how many sessions are admitted now.
func (g *Gate) Sessions() int { return int(g.sessions.Load()) }

// Key is the address the per-address limits count a connection under: the
// IP, or for IPv6 its /64, since one subscriber usually holds a whole /64.
func Key(a net.Addr) string {
	var ip netip.Addr
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(t.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	} else {
		return a.String()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// lockoutMinutes rounds a lockout up to whole minutes for people.
func lockoutMinutes(d time.Duration) int { return int(d.Minutes()) + 1 }
