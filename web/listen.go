package web

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/hush-chat/hush/limits"
	"github.com/hush-chat/hush/talk"
)

// What one connection to the web port may cost. Everything a browser
// sends is read at most this fast; the rest waits in the sender's own TCP
// buffers, as SSH's typed input does (session/conn.go). After the upgrade
// every WebSocket frame costs frameCost bytes more than its size, so a
// flood of empty, ping or one-byte frames is paced as well as a flood of
// big ones: 64 frames a second at most, 256 at once. A person typing 30
// keys a second spends some 9 KB a second of it; a 1,000-character paste
// fits the burst.
const (
	readRate  = 16 << 10 // bytes a second
	readBurst = 64 << 10 // bytes
	frameCost = 256      // bytes, on top of the frame's own
	// maxRead bounds one read from the socket, so the wait it may cost is
	// short and what follows a wait is a small batch.
	maxRead = 1 << 10
)

// sendBuffer bounds what the kernel holds for one browser, as for SSH: a
// tab that stops reading fills it soon and its writes then block.
const sendBuffer = 64 << 10

// listener counts the web port's connections as they are accepted, before
// any HTTP: at most perAddr from one address (except from trusted proxies,
// which carry everyone's), at most total altogether, so the file
// descriptors left over stay SSH's. Over the first, a connection is
// closed at once; at the second, a connection kept alive with no request
// in flight is closed to make room, and only if there is none is the new
// one closed.
type listener struct {
	net.Listener
	s       *Server
	perAddr int // 0: no limit
	total   int // 0: no limit

	mu    sync.Mutex
	open  int
	addrs map[string]int
	idle  map[net.Conn]struct{} // kept alive between requests
}

func (s *Server) listen(l net.Listener) *listener {
	return &listener{Listener: l, s: s, perAddr: s.cfg.ConnsPerAddress, total: s.cfg.MaxConns, addrs: make(map[string]int), idle: make(map[net.Conn]struct{})}
}

// state follows what http.Server does with each connection, to know which
// are idle.
func (l *listener) state(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st == http.StateIdle {
		l.idle[c] = struct{}{}
	} else {
		delete(l.idle, c)
	}
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted := l.keyOf(c.RemoteAddr())
		if !l.take(key, counted) {
			l.s.log.Debug("web connection closed at accept", "remote", key, "reason", "too many connections")
			l.s.hub.Refused(talk.TooManyConns)
			_ = c.Close()
			continue
		}
		boundSendBuffer(c)
		return &pacedConn{Conn: c, budget: limits.NewBucket(readRate, readBurst), done: make(chan struct{}),
			release: func() { l.give(key, counted) }}, nil
	}
}

// keyOf is the address a connection counts under, and whether it counts
// per address at all (a trusted proxy's do not).
func (l *listener) keyOf(a net.Addr) (string, bool) {
	key := talk.Key(a)
	if ap, err := netip.ParseAddrPort(a.String()); err == nil && trusted(l.s.cfg.TrustedProxies, ap.Addr()) {
		return key, false
	}
	return key, true
}

func (l *listener) take(key string, counted bool) bool {
	for range 3 {
		l.mu.Lock()
		if counted && l.perAddr > 0 && l.addrs[key] >= l.perAddr {
			l.mu.Unlock()
			return false
		}
		if l.total > 0 && l.open >= l.total {
			var idle net.Conn
			for c := range l.idle {
				idle = c
				delete(l.idle, c)
				break
			}
			l.mu.Unlock()
			if idle == nil {
				return false
			}
			_ = idle.Close() // gives its place back
			continue
		}
		l.open++
		if counted {
			l.addrs[key]++
		}
		l.mu.Unlock()
		return true
	}
	return false
}

func (l *listener) give(key string, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if counted {
		if l.addrs[key]--; l.addrs[key] <= 0 {
			delete(l.addrs, key)
		}
	}
}

// boundSendBuffer sets the kernel's send buffer of c (under TLS, of the
// TCP connection beneath it).
func boundSendBuffer(c net.Conn) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if t, ok := c.(interface{ SetWriteBuffer(int) error }); ok {
		_ = t.SetWriteBuffer(sendBuffer)
	}
}

// pacedConn reads no faster than its budget allows. Once upgraded it also
// counts the WebSocket frames that pass, beneath coder/websocket, which
// answers pings inside its own reads.
type pacedConn struct {
	net.Conn
	release func()
	once    sync.Once
	done    chan struct{}

	mu       sync.Mutex // one reader at a time; held across the wait
	budget   limits.Bucket
	upgraded bool
	frames   frameCounter
}

func (c *pacedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) > maxRead {
		p = p[:maxRead]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		cost := n
		if c.upgraded {
			cost += frameCost * c.frames.feed(p[:n])
		}
		c.wait(cost)
	}
	return n, err
}

// wait spends cost from the budget, first waiting for what is missing;
// closing the connection ends the wait.
func (c *pacedConn) wait(cost int) {
	now := time.Now()
	got := c.budget.Take(cost, now)
	if got == cost {
		return
	}
	// The debt is paid by waiting for it: the bucket is empty, and
	// what refills it in the meantime is spent on this read.
	t := time.NewTimer(time.Duration(float64(cost-got) / readRate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		c.budget.Take(cost-got, time.Now())
	case <-c.done:
	}
}

// upgrade starts counting frames: buffered is what the HTTP server had
// already read past the request, the first bytes of the first frames.
func (c *pacedConn) upgrade(buffered []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upgraded = true
	c.wait(len(buffered) + frameCost*c.frames.feed(buffered))
}

func (c *pacedConn) Close() error {
	c.once.Do(func() {
		close(c.done)
		c.release()
	})
	return c.Conn.Close()
}

// frameCounter follows a stream of WebSocket frames from a client (always
// masked) and counts the frames that start in it.
type frameCounter struct {
	head [14]byte // the header being read
	have int      // bytes of it read so far
	skip uint64   // payload bytes still to pass
}

func (f *frameCounter) feed(b []byte) (started int) {
	for len(b) > 0 {
		if f.skip > 0 {
			n := min(f.skip, uint64(len(b)))
			f.skip -= n
			b = b[n:]
			continue
		}
		if f.have == 0 {
			started++
		}
		f.head[f.have] = b[0]
		f.have++
		b = b[1:]
		if need := headerLen(f.head[:f.have]); f.have == need {
			f.skip = payloadLen(f.head[:f.have])
			f.have = 0
		}
	}
	return started
}

// headerLen is a frame header's length, once its second byte is known
// (until then, 2).
func headerLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4 // the mask
	}
	return n
}

func payloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(h[2])<<8 | uint64(h[3])
	case 127:
		var n uint64
		for _, b := range h[2:10] {
			n = n<<8 | uint64(b)
		}
		return n
	default:
		return uint64(l)
	}
}

// hijackCounting hands coder/websocket a ResponseWriter whose Hijack also
// starts counting frames on the connection.
type hijackCounting struct {
	http.ResponseWriter
}

func (w hijackCounting) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("web: cannot hijack")
	}
	conn, brw, err := h.Hijack()
	if err != nil {
		return conn, brw, err
	}
	if pc, ok := conn.(*pacedConn); ok {
		b, _ := brw.Reader.Peek(brw.Reader.Buffered())
		pc.upgrade(b)
	}
	return conn, brw, nil
}
