package e2e

// The real binary, as an init system or a container runs it: its version,
// a restart that keeps the host key, and its health subcommand.

import (
	"github.com/hush-chat/hush/internal/logtest"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

// binary is a hush process.
type binary struct {
	cmd    *exec.Cmd
	stderr *logtest.Buffer
	done   chan struct{}
	addr   string // SSH
	maddr  string // metrics
	data   string // its --data, when the test chose it
}

var (
	listenRE        = regexp.MustCompile(`msg=listening addr=(\S+)`)
	metricsListenRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
)

// buildHush builds the binary the way the image does, stamped with a test
// version, into a temporary directory.
func buildHush(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hush")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-X main.version=v9.9.9-test -X main.commit=abc1234", "-o", bin, "github.com/hush-chat/hush")
	build.Env = append(cleanEnv(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is this environment without HUSH_* variables, except that the
// web page is served on a free port (its default, 8080, may be taken).
func cleanEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HUSH_") })
	return append(env, "HUSH_WEB=127.0.0.1:0")
}

// startBinary starts bin with args in dir (a fresh directory if ""),
// without HUSH_* variables; it is killed, by its PID, when the test ends.
func startBinary(t *testing.T, bin, dir string, args ...string) *binary {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	b := &binary{stderr: &logtest.Buffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Dir, b.cmd.Env, b.cmd.Stderr = dir, cleanEnv(), b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.done
	})
	return b
}

func runBinary(t *testing.T, bin, data string) *binary {
	t.Helper()
	b := startBinary(t, bin, "", "--data", data, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	b.listening(t)
	return b
}

// listening waits until b says where it serves SSH and metrics; an exit
// first fails the test.
func (b *binary) listening(t *testing.T) {
	t.Helper()
	wait.Until(t, "the server to listen", func() (bool, string) {
		select {
		case <-b.done:
			t.Fatalf("hush exited: %v\n%s", b.cmd.ProcessState, b.stderr)
		default:
		}
		out := b.stderr.String()
		l, m := listenRE.FindStringSubmatch(out), metricsListenRE.FindStringSubmatch(out)
		if l == nil || m == nil {
			return false, out
		}
		b.addr, b.maddr = l[1], m[1]
		return true, ""
	})
}

// stop sends SIGTERM and returns the exit code.
func (b *binary) stop(t *testing.T) int {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.done:
	case <-time.After(sshtest.Timeout):
		t.Fatalf("no exit after SIGTERM:\n%s", b.stderr)
	}
	return b.cmd.ProcessState.ExitCode()
}

func runHealth(t *testing.T, bin string, args ...string) error {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"health"}, args...)...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func TestBinaryRestartKeepsHostKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildHush(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^hush v9\.9\.9-test \(commit abc1234, go1\.\d+`).Match(out) {
		t.Fatalf("--version: %q", out)
	}

	data := t.TempDir()
	var fingerprints []string
	for i := range 2 {
		b := runBinary(t, bin, data)
		if err := runHealth(t, bin, "--metrics", b.maddr); err != nil {
			t.Fatalf("health via /healthz: %v", err)
		}
		if err := runHealth(t, bin, "--listen", b.addr); err != nil {
			t.Fatalf("health via the SSH port: %v", err)
		}
		term := sshtest.Dial(t, b.addr, "new", sshtest.Options{})
		term.WaitFor("an invite", func(s string) bool { return strings.Contains(s, "ssh -p") })
		fingerprints = append(fingerprints, gossh.FingerprintSHA256(term.HostKey))
		term.Close()
		if code := b.stop(t); code != 0 {
			t.Fatalf("run %d: exit %d after SIGTERM:\n%s", i, code, b.stderr)
		}
		if err := runHealth(t, bin, "--metrics", b.maddr); err == nil {
			t.Fatal("health passed with the server stopped")
		}
	}
	if fingerprints[0] != fingerprints[1] {
		t.Fatalf("host key changed across a restart: %s then %s", fingerprints[0], fingerprints[1])
	}
	for _, f := range []string{"host_ed25519", "salt"} {
		st, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", f, st.Mode())
		}
	}
}
