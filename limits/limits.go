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
	Conns          int           // open connections at once
	ConnsPerMinute int           // new connections
	FailsPerMinute int           // wrong room codes before a lockout
	Lockout        time.Duration // how long a lockout lasts
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
	conns   int
	starts  Bucket // new connections
	refused Bucket // refusals explained before we stop explaining
	fails   Bucket // wrong codes
	locked  time.Time
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
			starts:  perMinute(a.cfg.ConnsPerMinute),
			refused: perMinute(max(a.cfg.ConnsPerMinute, a.cfg.Conns)),
			fails:   perMinute(a.cfg.FailsPerMinute),
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
		if x.conns == 0 && now.After(x.locked) && x.starts.Full(now) && x.refused.Full(now) && x.fails.Full(now) {
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
	var once sync.Once
	return v, func() {
		once.Do(func() {
			a.mu.Lock()
			x.conns--
			a.mu.Unlock()
		})
	}
}

// Locked reports whether ip is locked out of joining, and for how long.
func (a *Addresses) Locked(ip string) (bool, time.Duration) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.get(ip, now)
	return now.Before(x.locked), x.locked.Sub(now)
}

// Failed counts a wrong code from ip and reports whether that locked it out.
func (a *Addresses) Failed(ip string) bool {
	if a.cfg.FailsPerMinute <= 0 {
		return false
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.get(ip, now)
	if x.fails.Take(1, now) == 0 {
		x.locked = now.Add(a.cfg.Lockout)
		x.fails = NewBucket(x.fails.Rate, x.fails.Burst)
		return true
	}
	return false
}

// Len is how many addresses are remembered.
func (a *Addresses) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.addrs)
}
