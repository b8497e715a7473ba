package rooms

import (
	"testing"
	"time"
)

func TestOnFanOut(t *testing.T) {
	codes, err := NewCodes("fan-out test salt")
	if err != nil {
		t.Fatal(err)
	}
	reg := NewMemory(codes)
	var got []int
	reg.OnFanOut = func(recipients int, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		got = append(got, recipients)
	}
	a, err := reg.Open(3, Member{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	a.Type("alone")
	b, err := reg.Join(a.Code(), Member{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(a.Code(), Member{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	b.Type("x")
	b.Type("") // nothing sent, nothing told
	b.Break()  // only typed text is measured
	if want := []int{0, 2}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("OnFanOut saw recipients %v, want %v", got, want)
	}
}
