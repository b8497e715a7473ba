package rooms

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Counts keeps the numbers Stats returns as rooms change, so a registry's
// Stats never walks its rooms or waits on I/O. The zero value is ready.
type Counts struct {
	// mu may be taken inside a room's own lock: Counts takes no other.
	mu      sync.Mutex
	members int
	bySize  map[int]int // members in a room → rooms of that size
	lobby   int
	dropped atomic.Uint64
}

// Lobby counts delta more people in the lobby.
func (c *Counts) Lobby(delta int) {
	c.mu.Lock()
	c.lobby += delta
	c.mu.Unlock()
}

// Resize moves one room from size from to size to (0: none).
func (c *Counts) Resize(from, to int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bySize == nil {
		c.bySize = make(map[int]int)
	}
	c.members += to - from
	if from > 0 {
		if c.bySize[from]--; c.bySize[from] == 0 {
			delete(c.bySize, from)
		}
	}
	if to > 0 {
		c.bySize[to]++
	}
}

// Dropped counts one event dropped from a full queue.
func (c *Counts) Dropped() { c.dropped.Add(1) }

// Stats is what the counts say now.
func (c *Counts) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Members: c.members, BySize: maps.Clone(c.bySize), Dropped: c.dropped.Load(), Lobby: c.lobby}
	if s.BySize == nil {
		s.BySize = map[int]int{}
	}
	for _, k := range s.BySize {
		s.Rooms += k
	}
	return s
}
