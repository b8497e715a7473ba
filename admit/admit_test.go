package admit_test

import (
	"errors"
	"net"
	"sync"
	"testing"

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
	g, obs := newGate(t, admit.Config{MaxGroup: 3, PerAddress: limits.Config{FailsPerMinute: 2, Lockout: 600e9}})
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

	// Wrong codes: malformed and unknown both count; the third locks the
	// address out, even for a right code, and says for how long.
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
