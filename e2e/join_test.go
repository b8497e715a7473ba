package e2e

// Getting in: codes that open nothing, the welcome, and what is refused.

import (
	"github.com/hush-chat/hush/internal/logtest"

	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
	"github.com/hush-chat/hush/rooms"
)

func TestBadCodesAndWelcome(t *testing.T) {
	s := startServer(t)
	// A well-formed code this server could issue but never did.
	salt, err := os.ReadFile(filepath.Join(s.cfg.Data, "salt"))
	if err != nil {
		t.Fatal(err)
	}
	codes, err := rooms.NewCodes(strings.TrimSpace(string(salt)))
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := codes.New()
	if err != nil {
		t.Fatal(err)
	}
	startOwn := "Start your own: ssh -p " + s.Addr()[strings.LastIndex(s.Addr(), ":")+1:] + " new@chat.test"
	for _, tc := range []struct{ user, want string }{
		{unknown, "No room " + unknown + " is open here: it may have ended. " + startOwn},
		{"k7dm2q9xw0", "That is not a room code: check it with the person who sent it. " + startOwn},
		{"abcdefghjkmn0o1l", "That is not a room code"},
	} {
		term := sshtest.Dial(t, s.Addr(), tc.user, sshtest.Options{})
		if got := term.Exit(); got != 1 {
			t.Errorf("user %q: exit %d, want 1", tc.user, got)
		}
		if !strings.Contains(term.Stderr(), tc.want) || strings.Contains(term.Stderr(), "\x1b") {
			t.Errorf("user %q: stderr %q, want %q", tc.user, term.Stderr(), tc.want)
		}
	}
	for _, user := range []string{"root", "Alice", "k7dm2q9x!\x1b[2J"} {
		term := sshtest.Dial(t, s.Addr(), user, sshtest.Options{})
		if got := term.Exit(); got != 0 {
			t.Errorf("welcome for %q exited %d", user, got)
		}
		for _, want := range []string{"new@chat.test", "group@chat.test", "CODE@chat.test"} {
			if !strings.Contains(term.Screen(), want) {
				t.Errorf("welcome for %q lacks %q:\n%s", user, want, term.Screen())
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	s := startServer(t)
	for name, tc := range map[string]struct {
		o    sshtest.Options
		want string
	}{
		"exec":   {sshtest.Options{Command: "ls"}, "not a shell"},
		"no pty": {sshtest.Options{NoPTY: true}, "needs a terminal"},
	} {
		term := sshtest.Dial(t, s.Addr(), "new", tc.o)
		if got := term.Exit(); got != 1 || !strings.Contains(term.Stderr(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q", name, got, term.Stderr())
		}
	}

	// Subsystems, agent and port forwarding, on a raw client.
	client, err := gossh.Dial("tcp", s.Addr(), sshtest.GuestConfig("new"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := sess.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	// x/crypto reports no exit status for a subsystem; the message and the
	// closed channel are what a client sees.
	if msg, err := io.ReadAll(errPipe); err != nil || !strings.Contains(string(msg), "no file transfer") {
		t.Errorf("sftp: %v, stderr %q", err, msg)
	}

	sess, err = client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	// Agent forwarding is declined quietly (ForwardAgent yes in an ssh
	// config is common): the request fails, the person still gets a room.
	var out logtest.Buffer
	sess.Stdout = &out
	// Stdin stays open, as a person's terminal does: without it x/crypto
	// sends EOF at once, and EOF ends a session (it may before its first
	// frame is drawn).
	stdin, typing := io.Pipe()
	defer typing.Close()
	sess.Stdin = stdin
	if err := agent.RequestAgentForwarding(sess); err == nil {
		t.Error("agent forwarding was accepted")
	}
	if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, "a room despite agent forwarding", func() (bool, string) {
		return strings.Contains(out.String(), "Waiting for someone to join"), out.String()
	})
	sess.Close()

	if _, err := client.Dial("tcp", "127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), "does not forward ports") {
		t.Errorf("port forwarding: %v", err)
	}
	if _, err := client.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Errorf("remote forwarding was accepted")
	}
}
