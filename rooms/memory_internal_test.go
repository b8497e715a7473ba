package rooms

import "testing"

// Drain gives a burst's memory back: a queue that grew past 64 events is
// not kept at that size once read.
func TestDrainGivesMemoryBack(t *testing.T) {
	c, err := NewCodes(testSalt)
	if err != nil {
		t.Fatal(err)
	}
	reg := NewMemory(c)
	a, _ := reg.Open(t.Context(), 2, Member{Name: "a"})
	b, _ := reg.Join(t.Context(), a.Code(), Member{Name: "b"})
	a.Drain(nil)
	for range 1000 {
		b.Type("z")
	}
	s := a.(*seat)
	if got := len(a.Drain(nil)); got != 1000 {
		t.Fatalf("drained %d, want 1000", got)
	}
	s.mu.Lock()
	held := cap(s.events)
	s.mu.Unlock()
	if held > 64 {
		t.Fatalf("queue keeps room for %d events after a drain", held)
	}
	b.Type("small")
	if got := a.Drain(nil); len(got) != 1 {
		t.Fatalf("got %+v after the burst", got)
	}
}
