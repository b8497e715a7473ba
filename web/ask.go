package web

import (
	"crypto/rand"
	"sync"
)

// asks are the liveness questions a tab has yet to answer. Each carries a
// random nonce the page must send back, which it can only do once it has
// read everything sent before the question: unlike coder/websocket's
// pings, whose payload is a counter, an answer cannot be sent blind.
type asks struct {
	mu      sync.Mutex
	pending map[string]chan struct{}
}

// ask makes a new question; answered is closed when its answer comes.
func (a *asks) ask() (nonce string, answered <-chan struct{}) {
	nonce = rand.Text()
	ch := make(chan struct{})
	a.mu.Lock()
	if a.pending == nil {
		a.pending = make(map[string]chan struct{})
	}
	a.pending[nonce] = ch
	a.mu.Unlock()
	return nonce, ch
}

// forget drops a question nobody answered.
func (a *asks) forget(nonce string) {
	a.mu.Lock()
	delete(a.pending, nonce)
	a.mu.Unlock()
}

// answer takes the page's answer; one that answers nothing is ignored.
func (a *asks) answer(nonce string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch, ok := a.pending[nonce]; ok {
		close(ch)
		delete(a.pending, nonce)
	}
}
