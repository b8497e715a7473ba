package session

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

func TestCRLF(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"one\n":           "one\r\n",
		"one\r\ntwo\n":    "one\r\ntwo\r\n",
		"\n\n":            "\r\n\r\n",
		"no line ending":  "no line ending",
		"\r\n\r\r\nthree": "\r\n\r\r\nthree",
	} {
		var b bytes.Buffer
		n, err := crlf{&b}.Write([]byte(in))
		if err != nil || n != len(in) || b.String() != want {
			t.Errorf("crlf(%q) = %q, %d, %v; want %q, %d", in, b.String(), n, err, want, len(in))
		}
	}
}

// agentRequest asks for agent forwarding, which hush never needs.
const agentRequest = "auth-agent-req@openssh.com"

// One PTY a session, with a terminal name of sensible length, asked for
// before the shell; window changes only once there is one.
func TestPTYRequests(t *testing.T) {
	sess := rawSession(t, serve(t, nil).addr)
	pty := func(term string) bool {
		ok, err := sess.SendRequest("pty-req", true, gossh.Marshal(struct {
			Term                 string
			Cols, Rows, PxW, PxH uint32
			Modes                string
		}{term, 80, 24, 0, 0, "\x00"}))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	resize := func() bool {
		ok, err := sess.SendRequest("window-change", true, gossh.Marshal(struct{ Cols, Rows, PxW, PxH uint32 }{100, 30, 0, 0}))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if resize() {
		t.Error("a window change without a PTY was taken")
	}
	if pty(strings.Repeat("x", 10<<10)) {
		t.Error("a PTY with a 10 KiB terminal name was granted")
	}
	if !pty("xterm-256color") {
		t.Fatal("a PTY for xterm-256color was refused")
	}
	if pty("xterm-256color") {
		t.Error("a second PTY was granted")
	}
	if !resize() {
		t.Error("a window change with a PTY was refused")
	}
	if ok, err := sess.SendRequest(agentRequest, true, nil); err != nil || ok {
		t.Errorf("agent forwarding: %v, %v; want refused", ok, err)
	}
}

// requestLoops counts the goroutines waiting in a session channel's
// request loop.
func requestLoops() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "session.(*channelSession).serve(")
}

// A session in a room has its model's loop read the channel's requests:
// no request loop waits beside it, and a window change still reaches the
// screen.
func TestRoomReadsItsOwnRequests(t *testing.T) {
	s := serve(t, nil)
	alice := sshtest.Dial(t, s.addr, "new", sshtest.Options{Width: 30, Height: 12})
	alice.WaitText("Waiting for someone")
	wait.Until(t, "no request loop", func() (bool, string) {
		n := requestLoops()
		return n == 0, fmt.Sprint(n, " request loops")
	})
	alice.Resize(80, 24)
	alice.WaitText("Share this:") // cut off at 30 columns
}

// A request the model's loop does not serve itself goes back to a request
// loop, which answers it and the ones after; either way, the session's
// place on the connection is given back when the channel closes.
func TestRoomGivesRequestsBack(t *testing.T) {
	s := serve(t, nil)
	for _, wantReply := range []bool{false, true} {
		c := dialRaw(t, s.addr, "new")
		room, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		room.Stdout = &out
		if _, err := room.StdinPipe(); err != nil { // open: EOF would end the session
			t.Fatal(err)
		}
		if err := room.RequestPty("xterm", 12, 30, nil); err != nil {
			t.Fatal(err)
		}
		if err := room.Shell(); err != nil {
			t.Fatal(err)
		}
		wait.Until(t, "the room's requests taken", func() (bool, string) {
			n := requestLoops()
			return n == 0, fmt.Sprint(n, " request loops")
		})
		size := gossh.Marshal(struct{ Cols, Rows, PxW, PxH uint32 }{80, 24, 0, 0})
		ok, err := room.SendRequest("window-change", wantReply, size)
		if err != nil || (wantReply && !ok) {
			t.Fatalf("window change, reply wanted %v: %v, %v", wantReply, ok, err)
		}
		if wantReply {
			if n := requestLoops(); n != 1 {
				t.Fatalf("%d request loops after a request wanting an answer, want 1", n)
			}
			if ok, err := room.SendRequest(agentRequest, true, nil); err != nil || ok {
				t.Fatalf("agent forwarding after the hand-back: %v, %v; want refused", ok, err)
			}
		}
		var others []*gossh.Session
		for range maxSessionsPerConn - 1 {
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			others = append(others, sess)
		}
		room.Close()
		wait.Until(t, "the room's place given back", func() (bool, string) {
			sess, err := c.NewSession()
			if err != nil {
				return false, err.Error()
			}
			sess.Close()
			return true, ""
		})
		for _, sess := range others {
			sess.Close()
		}
	}
}
