package e2e

// Stopping and starting again, in this process.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

func TestHostKeyKeptAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	var keys []string
	for range 2 {
		s := startServer(t, func(c *app.Config) { c.Data = dir })
		term := sshtest.Dial(t, s.Addr(), "root", sshtest.Options{})
		term.Exit()
		keys = append(keys, gossh.FingerprintSHA256(term.HostKey))
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	}
	if keys[0] != keys[1] {
		t.Fatalf("host key changed across restart: %v", keys)
	}
	for _, f := range []string{"host_ed25519", "salt"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, want 0600", f, st.Mode())
		}
	}
}

func TestShutdownTellsEveryone(t *testing.T) {
	s := startServer(t)
	alice, bob, _ := openPair(t, s.Addr())
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, term := range []*sshtest.Term{alice, bob} {
		term.Exit()
		if !strings.Contains(term.Screen(), "server is restarting") {
			t.Fatalf("screen after shutdown:\n%s", term.Screen())
		}
	}
}
