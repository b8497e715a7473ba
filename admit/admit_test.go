package admit_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/rooms"
)

// counter records what the gate reports.
type counter struct {
	mu      sync.Mutex
	refused map[admit.Reason]int
	seated  map[admit.Op]int
}

func (c *counter) Refused(r admit.Reason) { c.mu.Lock(); c.refused[r]++; c.mu.Unlock() }
func (c *counter) Seated(op admit.Op)     { c.mu.Lock(); c.seated[op]++; c.mu.Unlock() }
func (c *counter) Knocked()               {}
func (c *counter) Asked(admit.AskOutcome) {}

func newGate(t *testing.T, cfg admit.Config) (*admit.Gate, *counter) {
	t.Helper()
	codes, err := rooms.NewCodes("admit test salt 0123456789")
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{refused: map[admit.Reason]int{}, seated: map[admit.Op]int{}}
	return admit.New(rooms.NewMemory(codes), cfg, c), c
}

func addr(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }

func reason(t *testing.T, err error) admit.Reason {
	t.Helper()
	r, ok := errors.AsType[*admit.Refusal](err)
	if !ok {
		t.Fatalf("error %v is not a refusal", err)
	}
	if r.Error() == "" {
		t.Fatalf("refusal %v has no words", r.Reason)
	}
	return r.Reason
}

func enter(t *testing.T, g *admit.Gate, ip string) *admit.Pass {
	t.Helper()
	c := g.Connect(addr(ip))
	if c == nil {
		t.Fatalf("%s dropped", ip)
	}
	t.Cleanup(c.Close)
	p, err := c.Enter()
	if err != nil {
		t.Fatalf("%s: %v", ip, err)
	}
	t.Cleanup(p.Done)
	return p
}

func TestOpenJoinAndWrongCodes(t *testing.T) {
	g, obs := newGate(t, admit.Config{MaxGroup: 3, PerAddress: limits.Config{WrongCodes: 3, WrongCodesPerHour: 6, Lockout: 600e9}})
	alice := enter(t, g, "192.0.2.1")
	seat, err := alice.Open(t.Context(), admit.OpGroup, rooms.Member{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if seat.Seats() != 3 {
		t.Fatalf("a group has %d seats, want MaxGroup", seat.Seats())
	}
	bob := enter(t, g, "192.0.2.2")
	if _, err := bob.Join(t.Context(), seat.Code(), rooms.Member{Name: "bob"}); err != nil {
		t.Fatal(err)
	}

	// Wrong codes: malformed and unknown both count; the third pauses the
	// address, even for a right code, and says for how long.
	guesser := enter(t, g, "192.0.2.9")
	if _, err := guesser.Join(t.Context(), "notacode", rooms.Member{}); reason(t, err) != admit.Malformed {
		t.Fatalf("junk: %v", err)
	}
	pair, err := alice.Open(t.Context(), admit.OpNew, rooms.Member{Name: "a2"})
	if err != nil {
		t.Fatal(err)
	}
	pair.Leave() // its code is now unknown
	_, err = guesser.Join(t.Context(), pair.Code(), rooms.Member{})
	if reason(t, err) != admit.Unknown {
		t.Fatalf("ended room: %v", err)
	}
	if r, _ := errors.AsType[*admit.Refusal](err); !r.StartOwn() || r.Code != pair.Code() {
		t.Fatalf("unknown-room refusal %+v", r)
	}
	_, _ = guesser.Join(t.Context(), "notacode", rooms.Member{})
	_, err = guesser.Join(t.Context(), seat.Code(), rooms.Member{})
	if reason(t, err) != admit.LockedOut {
		t.Fatalf("right code after a lockout: %v", err)
	}
	if r, _ := errors.AsType[*admit.Refusal](err); !strings.Contains(r.Error(), "paused for 10 more minutes") {
		t.Fatalf("lockout words: %q", r.Error())
	}
	// Another address is not locked out.
	if _, err := bob.Join(t.Context(), seat.Code(), rooms.Member{Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(t.Context(), seat.Code(), rooms.Member{Name: "dave"}); reason(t, err) != admit.Full {
		t.Fatalf("fourth in a group of three: %v", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.seated[admit.OpGroup] != 1 || obs.seated[admit.OpJoin] != 2 || obs.seated[admit.OpNew] != 1 {
		t.Errorf("seated %v", obs.seated)
	}
	if obs.refused[admit.Malformed] != 2 || obs.refused[admit.Unknown] != 1 || obs.refused[admit.LockedOut] != 1 || obs.refused[admit.Full] != 1 {
		t.Errorf("refused %v", obs.refused)
	}
}

func TestConnectionLimitsAreOneBudget(t *testing.T) {
	g, obs := newGate(t, admit.Config{PerAddress: limits.Config{Conns: 2}})
	// Two front ends, one address: the third connection is over, whichever
	// way it came in.
	a, b := g.Connect(addr("2001:db8::1")), g.Connect(addr("2001:db8::1"))
	over := g.Connect(addr("2001:db8::1"))
	if a == nil || b == nil || over == nil {
		t.Fatal("a connection just over the limit must be let in to be told")
	}
	if _, err := over.Enter(); reason(t, err) != admit.TooManyConns {
		t.Fatalf("third connection: %v", err)
	}
	over.Close()
	a.Close()
	again := g.Connect(addr("2001:db8::1"))
	if _, err := again.Enter(); err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	if obs.refused[admit.TooManyConns] != 1 {
		t.Errorf("refused %v", obs.refused)
	}
}

func TestServerFullAndShutdown(t *testing.T) {
	g, _ := newGate(t, admit.Config{MaxSessions: 1})
	p := enter(t, g, "192.0.2.1")
	c := g.Connect(addr("192.0.2.2"))
	defer c.Close()
	if _, err := c.Enter(); reason(t, err) != admit.ServerFull {
		t.Fatalf("second session: %v", err)
	}
	seat, err := p.Open(t.Context(), admit.OpNew, rooms.Member{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	p.Done()
	p.Done() // twice is harmless
	if g.Sessions() != 0 {
		t.Fatalf("%d sessions after Done", g.Sessions())
	}

	// Shutdown ends every seat with a cause the front end can word, and
	// turns everyone after it away.
	g.Shutdown()
	<-seat.Ready()
	if evs := seat.Drain(nil); len(evs) == 0 || evs[len(evs)-1].Kind != rooms.Ended || !errors.Is(seat.Err(), rooms.ErrClosed) {
		t.Fatalf("seat after shutdown: %v, %v", evs, seat.Err())
	}
	if _, err := c.Enter(); reason(t, err) != admit.ShuttingDown {
		t.Fatalf("after shutdown: %v", err)
	}
	g.Shutdown()
}

func TestEveryReasonHasWordsAndALabel(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range admit.Reasons() {
		if seen[r.String()] {
			t.Errorf("label %q used twice", r)
		}
		seen[r.String()] = true
		if (&admit.Refusal{Reason: r, Code: "abc"}).Error() == "" {
			t.Errorf("%v has no words", r)
		}
	}
}

func TestSessionsPerAddress(t *testing.T) {
	g, obs := newGate(t, admit.Config{PerAddress: limits.Config{Sessions: 2}})
	// One connection or several, SSH or web: one budget per address.
	c1, c2 := g.Connect(addr("192.0.2.1")), g.Connect(addr("192.0.2.1"))
	p1, err := c1.Enter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Enter(); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Enter(); reason(t, err) != admit.TooManySessions {
		t.Fatalf("third session: %v", err)
	}
	if _, err := g.Connect(addr("192.0.2.2")).Enter(); err != nil {
		t.Fatalf("another address: %v", err)
	}
	p1.Done()
	if _, err := c2.Enter(); err != nil {
		t.Fatalf("after one ended: %v", err)
	}
	if obs.refused[admit.TooManySessions] != 1 {
		t.Errorf("refused %v", obs.refused)
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":               "192.0.2.7",
		"::ffff:192.0.2.7":        "192.0.2.7",
		"2001:db8:1:2:aaaa::1":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:1:2:3": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":         "2001:db8:1:3::/64",
	} {
		if got := admit.Key(addr(in)); got != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
}

// Guesses spread over many addresses: each address stays within its own
// allowance, yet past the server-wide budget every wrong answer waits, and
// a right code is never held up more than half a second.
func TestServerBudgetSlowsManyAddresses(t *testing.T) {
	g, obs := newGate(t, admit.Config{WrongCodesPerMinute: 600, PerAddress: limits.Config{WrongCodes: 100, WrongCodesPerHour: 100, Lockout: time.Minute}})
	host := enter(t, g, "192.0.2.200")
	seat, err := host.Open(t.Context(), admit.OpNew, rooms.Member{Name: "host"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const addrs, each = 30, 22 // 660 wrong codes against a budget of 600 a minute
	for i := range addrs {
		p := enter(t, g, fmt.Sprintf("198.51.100.%d", i+1))
		for range each {
			if _, err := p.Join(t.Context(), "notacode", rooms.Member{}); reason(t, err) != admit.Malformed {
				t.Fatal(err)
			}
		}
	}
	took := time.Since(start)
	// 600 answered at once, the other 60 at the budget's pace (10 a
	// second), paid for in waits.
	if took < 5*time.Second {
		t.Errorf("660 wrong codes answered in %v: the server-wide budget did not slow them", took)
	}
	right := enter(t, g, "203.0.113.9")
	t0 := time.Now()
	if _, err := right.Join(t.Context(), seat.Code(), rooms.Member{Name: "friend"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 700*time.Millisecond {
		t.Errorf("a right code waited %v under the server-wide budget", d)
	}
	if obs.refused[admit.LockedOut] != 0 {
		t.Errorf("an address was locked out: %v", obs.refused)
	}
}
