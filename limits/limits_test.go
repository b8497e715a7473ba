package limits

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1e9, 0)} }

func TestBucket(t *testing.T) {
	c := newClock()
	b := NewBucket(10, 100)
	if got := b.Take(150, c.now()); got != 100 {
		t.Fatalf("burst: took %d, want 100", got)
	}
	if got := b.Take(1, c.now()); got != 0 {
		t.Fatalf("empty bucket gave %d", got)
	}
	c.add(time.Second)
	if got := b.Take(50, c.now()); got != 10 {
		t.Fatalf("after 1s took %d, want 10", got)
	}
	c.add(time.Hour)
	if !b.Full(c.now()) {
		t.Fatal("bucket did not refill")
	}
}

func TestConcurrentConnections(t *testing.T) {
	c := newClock()
	a := NewAddresses(Config{Conns: 2}, c.now)
	v1, r1 := a.Connect("192.0.2.1")
	v2, _ := a.Connect("192.0.2.1")
	v3, r3 := a.Connect("192.0.2.1")
	if v1 != Allow || v2 != Allow || v3 != Refuse {
		t.Fatalf("verdicts %v %v %v", v1, v2, v3)
	}
	if v, _ := a.Connect("192.0.2.2"); v != Allow {
		t.Fatal("another address was limited")
	}
	r3()
	r1()
	r1() // twice is harmless
	if v, _ := a.Connect("192.0.2.1"); v != Allow {
		t.Fatal("slot not released")
	}
}

func TestRateRefusesThenDrops(t *testing.T) {
	c := newClock()
	a := NewAddresses(Config{ConnsPerMinute: 3}, c.now)
	var got []Verdict
	for range 9 {
		v, release := a.Connect("192.0.2.1")
		release()
		got = append(got, v)
	}
	want := []Verdict{Allow, Allow, Allow, Refuse, Refuse, Refuse, Drop, Drop, Drop}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("verdicts %v, want %v", got, want)
	}
	c.add(time.Minute)
	if v, _ := a.Connect("192.0.2.1"); v != Allow {
		t.Fatal("not allowed again after a minute")
	}
}

func TestFailedJoinsLockOut(t *testing.T) {
	c := newClock()
	a := NewAddresses(Config{WrongCodes: 5, WrongCodesPerHour: 6, Lockout: 10 * time.Minute}, c.now)
	for i := range 4 {
		if a.WrongCode("192.0.2.1") {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if !a.WrongCode("192.0.2.1") {
		t.Fatal("fifth failure did not lock")
	}
	if locked, d := a.Locked("192.0.2.1"); !locked || d != 10*time.Minute {
		t.Fatalf("locked %v for %v", locked, d)
	}
	if locked, _ := a.Locked("192.0.2.9"); locked {
		t.Fatal("another address locked")
	}
	c.add(10*time.Minute + time.Second)
	if locked, _ := a.Locked("192.0.2.1"); locked {
		t.Fatal("lockout did not end")
	}
	// One wrong code came back in those ten minutes; the next pauses again.
	if !a.WrongCode("192.0.2.1") {
		t.Fatal("a wrong code after the lockout did not pause again")
	}
}

// A guesser that paces itself — one wrong code every six seconds, never
// ten in a minute — still gets no more than the hourly allowance.
func TestPacedGuesserIsHeldToTheHourlyRate(t *testing.T) {
	c := newClock()
	a := NewAddresses(Config{WrongCodes: 10, WrongCodesPerHour: 6, Lockout: 10 * time.Minute}, c.now)
	answered := 0
	for range 24 * 600 { // a day of one guess every 6 s
		c.add(6 * time.Second)
		if locked, _ := a.Locked("192.0.2.1"); locked {
			continue
		}
		answered++
		a.WrongCode("192.0.2.1")
	}
	if max := 10 + 24*6; answered > max {
		t.Fatalf("%d guesses answered in a day, want at most %d", answered, max)
	}
	t.Logf("%d guesses answered in a day", answered)
}

func TestSessionsPerAddress(t *testing.T) {
	a := NewAddresses(Config{Sessions: 2}, newClock().now)
	ok1, r1 := a.Session("192.0.2.1")
	ok2, _ := a.Session("192.0.2.1")
	ok3, _ := a.Session("192.0.2.1")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("sessions allowed %v %v %v", ok1, ok2, ok3)
	}
	if ok, _ := a.Session("192.0.2.2"); !ok {
		t.Fatal("another address was limited")
	}
	r1()
	r1()
	if ok, _ := a.Session("192.0.2.1"); !ok {
		t.Fatal("slot not released")
	}
}

func TestSweepForgetsIdleAddresses(t *testing.T) {
	c := newClock()
	a := NewAddresses(Config{Conns: 5, ConnsPerMinute: 10, WrongCodes: 5, WrongCodesPerHour: 60, Lockout: time.Minute}, c.now)
	for i := range 1000 {
		_, release := a.Connect(fmt.Sprint("198.51.100.", i))
		release()
	}
	_, held := a.Connect("192.0.2.1")
	c.add(2 * time.Minute)
	a.Locked("192.0.2.7") // any call sweeps once a minute
	if n := a.Len(); n != 2 {
		t.Fatalf("remembering %d addresses, want 2 (one open, one just seen)", n)
	}
	held()
}

// Pictures from one address are bounded per minute, and come back.
func TestPicturesPerAddress(t *testing.T) {
	now := time.Unix(1e9, 0)
	a := NewAddresses(Config{PicturesPerMinute: 3}, func() time.Time { return now })
	for i := range 3 {
		if !a.Picture("192.0.2.1") {
			t.Fatalf("picture %d refused", i+1)
		}
	}
	if a.Picture("192.0.2.1") {
		t.Fatal("a fourth picture in the same minute")
	}
	if !a.Picture("192.0.2.2") {
		t.Fatal("another address was refused")
	}
	now = now.Add(20 * time.Second)
	if !a.Picture("192.0.2.1") {
		t.Fatal("the allowance did not come back")
	}
}
