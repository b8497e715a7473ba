package ui

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// textFrame is a frame of width whose rows are the given lines, each a head.
func textFrame(width int, lines ...string) *Frame {
	f := &Frame{}
	f.reset(width, len(lines))
	for i, l := range lines {
		f.setRow(i, l, 0)
	}
	return f
}

// A writer that never returns stands for a client that stopped reading
// with every buffer between us full. The Screen must give up on it within
// the stall timeout, and Close must not wait for it longer than asked.
func TestScreenHangsUpOnAStalledWriter(t *testing.T) {
	const stall = 200 * time.Millisecond
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	w := writerFunc(func(p []byte) (int, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return len(p), nil
	})
	stalled := make(chan time.Time, 1)
	s := NewScreen(w, stall, func() { stalled <- time.Now() })
	s.Show(textFrame(10, "hello"))
	<-entered
	began := time.Now()
	select {
	case at := <-stalled:
		if d := at.Sub(began); d < stall/2 {
			t.Fatalf("hung up after %v, before the %v stall timeout", d, stall)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled writer was never hung up on")
	}
	// Frames keep coming while it stalls: they replace each other, never queue.
	for i := range 1000 {
		s.Show(textFrame(10, string(rune('a'+i%26))))
		s.Raw("\a")
	}
	s.mu.Lock()
	raw := len(s.raw)
	s.mu.Unlock()
	if raw > maxRaw {
		t.Fatalf("%d raw bytes queued behind a stalled writer, bound %d", raw, maxRaw)
	}
	start := time.Now()
	s.Close("bye", 100*time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close waited %v on a stalled writer", d)
	}
}

// A writer that is slow but keeps taking bytes is not a stall.
func TestScreenSlowWriterIsNotAStall(t *testing.T) {
	w := writerFunc(func(p []byte) (int, error) {
		time.Sleep(5 * time.Millisecond)
		return len(p), nil
	})
	stalled := make(chan struct{}, 1)
	s := NewScreen(w, time.Second, func() { stalled <- struct{}{} })
	for i := range 50 {
		s.Show(textFrame(10, string(rune('a'+i%26))))
	}
	s.Close("bye", 5*time.Second)
	select {
	case <-stalled:
		t.Fatal("a slow but moving writer was taken for a stalled one")
	default:
	}
}

// A frame that once held a screen full of text does not keep that memory
// once it holds little; an ordinary frame keeps its own from use to use.
func TestFrameGivesBackABigScreensMemory(t *testing.T) {
	var f Frame
	fill := func(n int) {
		f.reset(500, 200)
		for i := range n {
			f.setRow(i/400, "", 0)
			f.glyph(i/400, i%400, 1, pen{}, "日本"[:3])
		}
	}
	fill(40000)
	if cap(f.glyphs) < 40000 {
		t.Fatalf("room for %d glyphs after 40,000", cap(f.glyphs))
	}
	fill(100) // still sized from the big frame
	fill(100)
	if cap(f.glyphs) > keepGlyphs || cap(f.text) > keepText {
		t.Fatalf("a frame of 100 glyphs keeps room for %d glyphs, %d bytes", cap(f.glyphs), cap(f.text))
	}
	small := cap(f.glyphs)
	fill(100)
	if cap(f.glyphs) != small {
		t.Fatalf("an ordinary frame did not keep its memory: %d, then %d", small, cap(f.glyphs))
	}
}

// A screen at rest holds no writer, no buffer and no spare frame, and the
// frame after a rest is still drawn as a diff of the one shown.
func TestScreenAtRestGivesBackWhatDrawingNeeds(t *testing.T) {
	var mu sync.Mutex
	var writes []string
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		writes = append(writes, string(p))
		mu.Unlock()
		return len(p), nil
	})
	s := NewScreen(w, time.Second, func() { t.Error("a writer that takes everything was taken for a stalled one") })
	defer s.Close("", time.Second)
	s.Show(textFrame(10, "one", "two"))
	s.Show(textFrame(10, "one", "three"))
	resting := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.writing
	}
	deadline := time.Now().Add(10 * time.Second) // restAfter, on a loaded machine
	for !resting() {
		if time.Now().After(deadline) {
			t.Fatalf("the writer still runs %v after the last frame", 10*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	spare, buf, shown := len(s.spare), cap(s.buf), s.shown
	s.mu.Unlock()
	if spare != 0 || buf != 0 {
		t.Fatalf("at rest the screen keeps %d spare frames and a %d-byte buffer", spare, buf)
	}
	if got := shown.Lines(); len(got) != 2 || got[1] != "three" {
		t.Fatalf("at rest the screen keeps %q as the frame shown", got)
	}
	mu.Lock()
	n := len(writes)
	mu.Unlock()
	s.Show(textFrame(10, "one", "four"))
	for {
		mu.Lock()
		done := len(writes) > n
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the frame after a rest was never written")
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	last := writes[n]
	mu.Unlock()
	if strings.Contains(last, "\x1b[2J") || strings.Contains(last, "one") || !strings.Contains(last, "four") {
		t.Fatalf("the frame after a rest was written as %q, want only its changed row", last)
	}
}

// A frame that looks like the last one shown is dropped by Show: the
// writer is not woken for it.
func TestScreenDropsAnUnchangedFrame(t *testing.T) {
	s := NewScreen(io.Discard, 0, nil)
	defer s.Close("", time.Second)
	first := textFrame(10, "one", "two")
	s.Show(first)
	s.Show(textFrame(10, "one", "two"))
	s.mu.Lock()
	last, shows := s.last, s.shows
	s.mu.Unlock()
	if last != first || shows != 2 {
		t.Fatalf("after an unchanged frame the screen keeps %p (want the first, %p), %d shows", last, first, shows)
	}
	changed := textFrame(10, "one", "three")
	s.Show(changed)
	s.mu.Lock()
	last = s.last
	s.mu.Unlock()
	if last != changed {
		t.Fatal("a changed frame was not kept to be written")
	}
}
