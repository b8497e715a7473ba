package rooms

import "sync"

// queue holds the events waiting for one member: bounded for what others
// type, never for arrivals, departures or the end. A registry pushes into
// it (through Place.Deliver) from any goroutine without waiting on the
// member's reader; the seat hands Ready, Drain and Err straight to the
// member. Make one with newQueue.
type queue struct {
	ready chan struct{}

	mu     sync.Mutex
	events []Event
	err    error // why the seat ended; nil while it holds
}

// newQueue returns an empty queue for a seat that holds.
func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

// push queues ev. It reports false only when ev was dropped because the
// queue is full (typed text, newlines and pictures beyond QueueLimit), so the caller
// can count it; a push after the end is ignored and reports true.
func (q *queue) push(ev Event) bool {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return true
	}
	if len(q.events) >= QueueLimit && (ev.Kind == Typed || ev.Kind == Newline || ev.Kind == Pictured || ev.Kind == Told) {
		q.mu.Unlock()
		return false
	}
	q.events = append(q.events, ev)
	q.mu.Unlock()
	q.signal()
	return true
}

// End ends the seat with cause: an Ended event about self goes last, after
// what is already waiting. It reports whether this call ended it.
func (q *queue) End(cause error, self Peer) bool {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return false
	}
	q.err = cause
	q.events = append(q.events, Event{Kind: Ended, Peer: self})
	q.mu.Unlock()
	q.signal()
	return true
}

// leave ends the seat with ErrLeft and throws away what waits: the member
// asked to go and reads no more. It reports whether this call ended it.
func (q *queue) leave() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return false
	}
	q.err = ErrLeft
	q.events = nil
	return true
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Ready is signalled when Drain has something to return.
func (q *queue) Ready() <-chan struct{} { return q.ready }

// Drain appends the waiting events to buf and returns it.
func (q *queue) Drain(buf []Event) []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf, q.events...)
	clear(q.events)
	// Give back a burst's memory: a queue that grew past 64 events. One
	// that held 64 or fewer keeps its array, even when the allocator
	// rounded it up past 64, so steady typing never allocates here.
	if len(q.events) > 64 {
		q.events = nil
	} else {
		q.events = q.events[:0]
	}
	return buf
}

// Err is nil while the seat holds, then why it ended.
func (q *queue) Err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}
