package session

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/internal/logtest"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/talk"
)

// A bug met in one session ends that session, with a word and a logged
// stack, and the server goes on serving the next.
func TestPanicEndsOnlyItsSession(t *testing.T) {
	var logged logtest.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logged, nil)), hub: talk.NewHub(talk.Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})}
	var calls sync.Mutex
	n := 0
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(filepath.Join(t.TempDir(), "host_ed25519")),
		wish.WithKeyboardInteractiveAuth(func(ssh.Context, gossh.KeyboardInteractiveChallenge) bool { return true }),
		wish.WithMiddleware(func(ssh.Handler) ssh.Handler {
			return func(sess ssh.Session) {
				calls.Lock()
				n++
				first := n == 1
				calls.Unlock()
				if first {
					var m map[string]int
					m["typed text"]++ // a nil map: the runtime's own panic
				}
				_, _ = io.WriteString(sess, "still serving\r\n")
			}
		}, s.contain),
	)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	first := sshtest.Dial(t, ln.Addr().String(), "new", sshtest.Options{})
	if got := first.Exit(); got != 1 || !strings.Contains(first.Stderr(), talk.Unexpected) {
		t.Fatalf("the failed session: exit %d, %q", got, first.Stderr())
	}
	second := sshtest.Dial(t, ln.Addr().String(), "new", sshtest.Options{})
	second.WaitText("still serving")
	log := logged.String()
	if !strings.Contains(log, "session failed") || !strings.Contains(log, "nil map") || !strings.Contains(log, "stack=") {
		t.Fatalf("log: %s", log)
	}
	if strings.Contains(log, "typed text") {
		t.Fatalf("the log carries a string from the session: %s", log)
	}
}
