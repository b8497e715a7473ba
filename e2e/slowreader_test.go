//go:build unix

package e2e

// A member whose client stops reading is hung up on, and nobody else waits
// for them.

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

// stallConn is a client's TCP connection that stops reading when told to:
// from then on every Read blocks until the connection is closed, so the
// kernel's buffers fill up and the server's writes block, as they do for
// a client that is stuck or gone without a word.
type stallConn struct {
	net.Conn
	stalled atomic.Bool
	closed  chan struct{}
	once    sync.Once
}

func (c *stallConn) Read(p []byte) (int, error) {
	if c.stalled.Load() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// slowMember is someone seated in a room whose client can stop reading.
type slowMember struct {
	conn *stallConn
	sess *gossh.Session
}

// joinSlow seats a bare client with a 300×100 terminal in the room code
// names (it reads normally until stall). Its receive buffer is small, so
// little of what the server sends fits in the kernel once it stops.
func joinSlow(t *testing.T, addr, code string) *slowMember {
	t.Helper()
	raw := dialSocket(t, addr, "", 4<<10, 0)
	conn := &stallConn{Conn: raw, closed: make(chan struct{})}
	t.Cleanup(func() { conn.Close() })
	client := sshOver(t, conn, addr, code)
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 100, 300, nil); err != nil {
		t.Fatal(err)
	}
	// Standard input stays open (EOF would leave the room) and never
	// says anything; until the client stalls, x/crypto reads what the
	// session shows into io.Discard.
	if _, err := sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return &slowMember{conn: conn, sess: sess}
}

// stall stops reading and asks for full redraws: window changes between
// 300 and 299 columns, as many as the server takes at once (it throttles
// window changes, and a throttled request only waits in line).
func (m *slowMember) stall() {
	m.conn.stalled.Store(true)
	for i := range 16 {
		if err := m.sess.WindowChange(100, 300-i%2); err != nil {
			return // hung up on
		}
	}
}

// screenful is a paste that rewrites every line of a lane on a 300-column
// screen: eight lines of 290 letters, each line different from the last
// screenful's (a redraw skips lines that did not change).
func screenful(i int) string {
	var b strings.Builder
	for j := range 8 {
		b.WriteString(strings.Repeat(string(rune('a'+(i*8+j)%26)), 290))
		b.WriteString("\n")
	}
	return b.String()
}

func TestSlowReaderIsDroppedAndHurtsNobody(t *testing.T) {
	s := startServer(t, func(c *app.Config) {
		c.Stall = time.Second
		c.MaxGroup = 3
		c.Linger = 30 * time.Second
		c.Metrics = "127.0.0.1:0"
		c.KeyRate, c.KeyBurst, c.MaxPaste = 1e6, 1e6, 1e6 // pastes only fill screens here
	})
	baseline, _ := serverGoroutines()

	// A pair and a group, each with someone whose client will stop reading.
	alice, pair := openRoom(t, s.Addr(), "new", sshtest.Options{})
	slowPair := joinSlow(t, s.Addr(), pair)
	alice.WaitText("joined")
	ann, group := openRoom(t, s.Addr(), "group", sshtest.Options{})
	ben := sshtest.Dial(t, s.Addr(), group, sshtest.Options{})
	ben.WaitText("2 of 3 here")
	slowGroup := joinSlow(t, s.Addr(), group)
	ann.WaitText("3 of 3 here")
	ben.WaitText("3 of 3 here")
	// And a room with nobody slow in it.
	xena, other := openRoom(t, s.Addr(), "new", sshtest.Options{})
	yuri := sshtest.Dial(t, s.Addr(), other, sshtest.Options{})
	xena.WaitText("joined")

	var wg sync.WaitGroup
	wg.Go(slowPair.stall)
	wg.Go(slowGroup.stall)
	defer func() {
		// However the test ends, the stalled clients let go (closing
		// their connections ends a window change waiting to be sent).
		slowPair.conn.Close()
		slowGroup.conn.Close()
		wg.Wait()
	}()

	// While the slow ones fill up and are hung up on, everyone else keeps
	// talking, each word on a line of its own. Between words alice and ann
	// paste a screenful, so their stalled peers have plenty to be sent
	// (window changes alone make only a few KB a redraw, and the server
	// takes only so many a second).
	dropped := func() bool {
		return strings.Contains(alice.Screen(), "left") && strings.Contains(ann.Screen(), "2 of 3 here")
	}
	deadline := time.Now().Add(sshtest.Timeout)
	t0 := time.Now()
	words := 0
	for ; words < 5 || !dropped() && time.Now().Before(deadline); words++ {
		word := fmt.Sprintf("w%d", words)
		alice.Paste(screenful(words))
		ann.Paste(screenful(words))
		ann.Type("\r" + word + "\r")
		xena.Type(word + "\r")
		ben.WaitText(word)
		yuri.WaitText(word)
	}
	alice.WaitText("left")
	ann.WaitText("left")
	ann.WaitText("2 of 3 here")
	ben.WaitText("2 of 3 here")
	ann.Type("still here")
	ben.WaitText("still here")
	xena.Type("and here")
	yuri.WaitText("and here")
	// They were hung up on for not reading, not for anything else.
	waitMetrics(t, s.MetricsAddr(), metric{name: "hush_slow_members_dropped_total", want: 2})
	t.Logf("others typed %d words in %v while two members stalled and were hung up on", words, time.Since(t0).Round(time.Millisecond))

	for _, term := range []*sshtest.Term{alice, ann, ben, xena, yuri} {
		term.Close()
	}
	slowPair.conn.Close()
	slowGroup.conn.Close()
	waitGoroutines(t, baseline)
}
