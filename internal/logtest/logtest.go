// Package logtest collects output a test reads while others still write
// it: a server's log, a process's stderr, a session's stream.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe to write from one goroutine and read from
// another. The zero value is empty and ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
