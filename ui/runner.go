package ui

import (
	"context"
	"sync"

	tea "charm.land/bubbletea/v2"
)

// runner runs a model's commands off its loop, one after another in the
// order Update returned them, so an effect (the clipboard) is never
// overtaken by a later one (quitting). Their messages come back on
// results. The goroutine that runs them lives only while there are some: a
// session at rest has none.
type runner struct {
	ctx     context.Context
	results chan tea.Msg
	pending int // commands whose message has not come back (the loop's alone)

	mu      sync.Mutex
	queue   []tea.Cmd
	running bool
}

func newRunner(ctx context.Context) *runner {
	return &runner{ctx: ctx, results: make(chan tea.Msg)}
}

// run queues cmd, starting the goroutine if none is running.
func (r *runner) run(cmd tea.Cmd) {
	r.pending++
	r.mu.Lock()
	r.queue = append(r.queue, cmd)
	start := !r.running
	r.running = true
	r.mu.Unlock()
	if start {
		go r.drain()
	}
}

// waiting is the channel the commands' messages come back on: nil, which
// never delivers, while none is pending, so a session at rest does not
// wait on it.
func (r *runner) waiting() <-chan tea.Msg {
	if r.pending == 0 {
		return nil
	}
	return r.results
}

func (r *runner) drain() {
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		cmd := r.queue[0]
		r.queue = r.queue[1:]
		r.mu.Unlock()
		select {
		case r.results <- cmd():
		case <-r.ctx.Done():
			return
		}
	}
}
