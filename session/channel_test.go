package session

import (
	"bytes"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
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
