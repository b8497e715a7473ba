// Package limits keeps one address, or one person, from spoiling the server
// for everyone else. It knows addresses and counts, nothing of SSH.
package limits

import (
	"sync"
	"time"
)

// Bucket is a token bucket: Burst tokens at most, refilled at Rate per
// second. The zero value allows nothing; it is not safe for concurrent use.
type Bucket struct {
	Rate   float64
	Burst  float64
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket.
func NewBucket(rate, burst float64) Bucket {
	return Bucket{Rate: rate, Burst: burst, tokens: burst}
}

func (b *Bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		b.tokens = min(b.Burst, b.tokens+now.Sub(b.last).Seconds()*b.Rate)
	}
	b.last = now
}

// Take spends up to n tokens and returns how many it could spend.
func (b *Bucket) Take(n int, now time.Time) int {
	b.refill(now)
	got := min(n, int(b.tokens))
	b.tokens -= float64(got)
	return got
}

// Give puts n tokens back, up to the burst.
func (b *Bucket) Give(n int) { b.tokens = min(b.Burst, b.tokens+float64(n)) }

// Full reports whether the bucket has refilled completely.
func (b *Bucket) Full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.Burst
}

// Verdict is what to do with a new connection.
type Verdict int

const (
	Allow  Verdict = iota
	Refuse         // over a limit: let it in far enough to be told why
	Drop           // far over: close at once, it is not a person
)

// Config sets the per-address limits. Zero means no limit.
type Config struct {
	Conns             int           // open connections at once
	ConnsPerMinute    int           // new connections
	Sessions          int           // sessions at once, over every connection and front end
	WrongCodes        int           // wrong room codes before joining is paused
	WrongCodesPerHour float64       // how fast that allowance comes back
	Lockout           time.Duration // how long joining stays paused, at least, once it is spent
	PicturesPerMinute int           // pictures sent into rooms
}

// Addresses counts what each remote address is doing.
type Addresses struct {
	cfg Config
	now func() time.Time

	mu        sync.Mutex
	addrs     map[string]*addr
	lastSweep time.Time
}

type addr struct {
	conns    int
	sessions int
	starts   Bucket          // new connections
	refused  Bucket          // refusals explained before we stop explaining
	wrong    WrongCodeRecord // wrong codes
	pictures Bucket          // pictures sent
}

// NewAddresses applies cfg; now is time.Now unless a test supplies a clock.
func NewAddresses(cfg Config, now func() time.Time) *Addresses {
	if now == nil {
		now = time.Now
	}
	return &Addresses{cfg: cfg, now: now, addrs: make(map[string]*addr)}
}

func (a *Addresses) get(ip string, now time.Time) *addr {
	if now.Sub(a.lastSweep) > time.Minute {
		a.sweep(now)
	}
	x := a.addrs[ip]
	if x == nil {
		perMinute := func(n int) Bucket { return NewBucket(float64(n)/60, float64(n)) }
		x = &addr{
			starts:   perMinute(a.cfg.ConnsPerMinute),
			refused:  perMinute(max(a.cfg.ConnsPerMinute, a.cfg.Conns)),
			pictures: perMinute(a.cfg.PicturesPerMinute),
		}
		a.addrs[ip] = x
	}
	return x
}

// sweep forgets addresses that have nothing to remember, so the map stays
// as small as the set of recent visitors.
func (a *Addresses) sweep(now time.Time) {
	a.lastSweep = now
	for ip, x := range a.addrs {
		if x.conns == 0 && x.sessions == 0 && x.starts.Full(now) && x.refused.Full(now) && x.pictures.Full(now) && a.cfg.forgotten(x.wrong, now) {
			delete(a.addrs, ip)
		}
	}
}

// Connect counts a new connection from ip. Unless the verdict is Drop, the
// caller must call release when the connection closes.
func (a *Addresses) Connect(ip string) (Verdict, func()) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.get(ip, now)
	v := Allow
	if (a.cfg.Conns > 0 && x.conns >= a.cfg.Conns) ||
		(a.cfg.ConnsPerMinute > 0 && x.starts.Take(1, now) == 0) {
		v = Refuse
		if x.refused.Take(1, now) == 0 {
			return Drop, func() {}
		}
	}
	x.conns++
	return v, a.releaser(func() { x.conns-- })
}

// Session counts a new session from ip, over whatever connections and
// front ends it came by. If ok, the caller must call release when it ends.
func (a *Addresses) Session(ip string) (ok bool, release func()) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.get(ip, now)
	if a.cfg.Sessions > 0 && x.sessions >= a.cfg.Sessions {
		return false, func() {}
	}
	x.sessions++
	return true, a.releaser(func() { x.sessions-- })
}

// releaser returns a func that runs undo once, under the lock.
func (a *Addresses) releaser(undo func()) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			undo()
			a.mu.Unlock()
		})
	}
}

// Locked reports whether ip is paused from joining, and for how long:
// for the lockout, and after it until the allowance has a wrong code to
// spend again.
func (a *Addresses) Locked(ip string) (bool, time.Duration) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	wait := a.cfg.Wait(a.get(ip, now).wrong, now)
	return wait > 0, wait
}

// WrongCode counts a wrong code from ip and reports whether that paused it:
// after WrongCodes wrong codes, joining pauses for Lockout, and the allowance
// comes back at WrongCodesPerHour, not all at once when the pause ends, so a
// guesser who paces itself gets no more than that.
func (a *Addresses) WrongCode(ip string) bool {
	if a.cfg.WrongCodes <= 0 {
		return false
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.get(ip, now)
	var paused bool
	x.wrong, paused = a.cfg.Wrong(x.wrong, now)
	return paused
}

// Picture spends one picture from ip's allowance, and reports false when
// it is spent.
func (a *Addresses) Picture(ip string) bool {
	if a.cfg.PicturesPerMinute <= 0 {
		return true
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.get(ip, now).pictures.Take(1, now) == 1
}

// Len is how many addresses are remembered.
func (a *Addresses) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.addrs)
}
