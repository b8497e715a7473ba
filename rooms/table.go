package rooms

import (
	"maps"
	"slices"
	"sync"
)

// Table is a registry's rooms by key and whether it has closed: the part
// every registry keeps alike, and the shape of every Close. Its lock may
// be taken inside a room's lock, never the other way round: a function
// given to Do must not take a room's lock. Make one with NewTable.
type Table[R any] struct {
	mu     sync.Mutex
	rooms  map[string]R
	closed error // nil while open, then Close's cause
}

// NewTable returns an empty, open table.
func NewTable[R any]() *Table[R] { return &Table[R]{rooms: make(map[string]R)} }

// Do runs f with the table locked: f may read and change rooms; closed
// is nil while the registry is open, then why it closed.
func (t *Table[R]) Do(f func(rooms map[string]R, closed error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(t.rooms, t.closed)
}

// Closed is nil while the registry is open, then why it closed.
func (t *Table[R]) Closed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Get is the room under key, if any.
func (t *Table[R]) Get(key string) (R, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm, ok := t.rooms[key]
	return rm, ok
}

// All lists the rooms open now.
func (t *Table[R]) All() []R {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Collect(maps.Values(t.rooms))
}

// Close marks the table closed with cause (ErrClosed if nil), so Open
// and Join refuse from now on, then calls end, unlocked, for every room
// open at that moment, to end its seats with the same cause. It reports
// whether this call closed the table: a later one does nothing.
func (t *Table[R]) Close(cause error, end func(rm R, cause error)) bool {
	if cause == nil {
		cause = ErrClosed
	}
	t.mu.Lock()
	if t.closed != nil {
		t.mu.Unlock()
		return false
	}
	t.closed = cause
	open := slices.Collect(maps.Values(t.rooms))
	t.mu.Unlock()
	for _, rm := range open {
		end(rm, cause)
	}
	return true
}
