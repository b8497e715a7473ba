package e2e

// The real OpenSSH client, not only x/crypto.

import (
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// openssh runs the real OpenSSH client under a PTY against addr. With key
// set it authenticates with that key file; without, as a guest.
func openssh(t *testing.T, addr, user, key string) *sshtest.Term {
	t.Helper()
	bin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("the OpenSSH client is needed (apt-get install openssh-client): %v", err)
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-F", "/dev/null", "-p", port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
	if key != "" {
		args = append(args, "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey", "-i", key)
	} else {
		args = append(args, "-o", "PubkeyAuthentication=no")
	}
	cmd := exec.Command(bin, append(args, user+"@"+host)...)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "SSH_AUTH_SOCK=")
	return sshtest.Spawn(t, cmd, 80, 24)
}

func TestOpenSSHInterop(t *testing.T) {
	s := startServer(t)
	alice := openssh(t, s.Addr(), "new", "")
	code := sshtest.InviteCode(t, alice, s.Addr())
	bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	alice.WaitText("joined")
	bob.Type("over x/crypto")
	alice.WaitText("over x/crypto")
	alice.Type("over openssh")
	bob.WaitText("over openssh")
	if !regexp.MustCompile(`● guest-[a-z]+-[a-z]+ · guest, no key · you`).MatchString(alice.Screen()) {
		t.Fatalf("OpenSSH guest not marked:\n%s", alice.Screen())
	}
	alice.Type("\x1b")
	alice.WaitText("again to leave")
	alice.Type("\x1b")
	if got := alice.Exit(); got != 0 {
		t.Fatalf("ssh exited %d", got)
	}
	if !strings.Contains(alice.Screen(), "You left the room") {
		t.Fatalf("terminal after leaving:\n%s", alice.Screen())
	}
	bob.WaitText("left")

	// With a key, OpenSSH users get the handle and badge of that key.
	keyFile, signer := keyPair(t)
	keyed := openssh(t, s.Addr(), "new", keyFile)
	keyed.WaitText("· you")
	badge := regexp.MustCompile(`· key ([A-Za-z0-9+/]{8}) · you`).FindStringSubmatch(keyed.Screen())
	if badge == nil || !strings.HasPrefix(gossh.FingerprintSHA256(signer.PublicKey()), "SHA256:"+badge[1]) {
		t.Fatalf("badge %v for %s:\n%s", badge, gossh.FingerprintSHA256(signer.PublicKey()), keyed.Screen())
	}
	keyed.Type("\x04")
	keyed.Exit()
}

// Over its address's connection limit, OpenSSH prints the server's banner
// (why, in one line) and gives up: the server closed the connection.
func TestOpenSSHOverLimitSeesTheBanner(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.ConnsPerIP = 1 })
	openRoom(t, s.Addr(), "new", sshtest.Options{})
	// As people run it: LogLevel INFO, the default, shows banners (the
	// helper's ERROR hides them).
	host, port, _ := net.SplitHostPort(s.Addr())
	cmd := exec.Command("ssh", "-F", "/dev/null", "-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PubkeyAuthentication=no", "new@"+host)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "SSH_AUTH_SOCK=")
	over := sshtest.Spawn(t, cmd, 80, 24)
	if got := over.Exit(); got == 0 {
		t.Fatalf("ssh over the limit exited 0:\n%s", over.Screen())
	}
	if !strings.Contains(over.Screen(), "Too many connections from your address") {
		t.Fatalf("OpenSSH did not print why:\n%s", over.Screen())
	}
}
