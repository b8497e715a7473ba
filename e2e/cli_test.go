package e2e

// The command line of the real binary: help, the version, a wrong word,
// and what it logs when it starts.

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

// cliRun is one finished run of the binary.
type cliRun struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runCLI runs bin with args in dir (a fresh directory if ""), with no
// HUSH_* variables, and waits at most sshtest.Timeout for it to exit: a
// command line that should not serve must not block. A process still
// running then is killed (by its PID) and the test fails.
func runCLI(t *testing.T, bin, dir string, args ...string) cliRun {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, cleanEnv(), &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(sshtest.Timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("hush %q still running after %v (it should have exited); stderr:\n%s", args, sshtest.Timeout, stderr.String())
	}
	return cliRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
}

// startCLI starts bin with args and waits for its start-up log to end
// with the command to try. It is killed when the test ends.
func startCLI(t *testing.T, bin string, args ...string) *binary {
	t.Helper()
	b := startBinary(t, bin, "", args...)
	wait.Until(t, "the start-up log", func() (bool, string) {
		select {
		case <-b.done:
			t.Fatalf("hush exited: %v\n%s", b.cmd.ProcessState, b.stderr)
		default:
		}
		out := b.stderr.String()
		l := listenRE.FindStringSubmatch(out)
		if l == nil || !tryRE.MatchString(out) {
			return false, out
		}
		b.addr = l[1]
		return true, ""
	})
	return b
}

var (
	tryRE         = regexp.MustCompile(`level=INFO msg="try it" command="([^"]*)"\n`)
	fingerprintRE = regexp.MustCompile(`level=INFO msg="host key" fingerprint=(SHA256:[A-Za-z0-9+/]{43}) file=(\S+)\n`)
	warnHostRE    = regexp.MustCompile(`level=WARN msg="--host [^"]*set --host \(HUSH_HOST\) to the name people will ssh to" host=localhost addr=(\S+)\n`)
)

func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildHush(t)

	t.Run("help", func(t *testing.T) {
		for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"-help"}, {"--listen", ":1", "--help"}, {"health", "--help"}} {
			r := runCLI(t, bin, "", args...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("hush %q: exit %d, stderr %q; want 0 and nothing", args, r.code, r.stderr)
			}
			for _, want := range []string{"Usage:", "health", "--version", "Examples:", "hush --web-domain chat.example.org", "HUSH_LISTEN"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("hush %q: help on stdout lacks %q:\n%s", args, want, r.stdout)
				}
			}
		}
	})

	t.Run("version", func(t *testing.T) {
		for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}, {"--listen", "127.0.0.1:0", "--version"}} {
			r := runCLI(t, bin, "", args...)
			if r.code != 0 || r.stderr != "" || !regexp.MustCompile(`^hush v9\.9\.9-test \(commit abc1234, go1\.\d+.*\)\n$`).MatchString(r.stdout) {
				t.Errorf("hush %q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
			}
		}
	})

	t.Run("stray", func(t *testing.T) {
		// Holding a port proves hush never tries to listen: if it did, it
		// would fail with "address already in use" (exit 1), not exit 2
		// naming the word.
		held, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		for _, c := range []struct {
			args []string
			word string
		}{
			{[]string{"stray"}, `unexpected argument "stray"`},
			{[]string{"--listen", "127.0.0.1:0", "stray"}, `unexpected argument "stray"`},
			{[]string{"--listen", held.Addr().String(), "stray"}, `unexpected argument "stray"`},
			{[]string{"--listen", "127.0.0.1:0", "health"}, `unexpected argument "health"`},
			{[]string{"--listen", "127.0.0.1:0", "--nope"}, `unknown flag "--nope"`},
		} {
			dir := t.TempDir()
			r := runCLI(t, bin, dir, c.args...)
			if r.code != 2 || r.stdout != "" {
				t.Errorf("hush %q: exit %d, stdout %q; want 2 and nothing", c.args, r.code, r.stdout)
			}
			if lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"); len(lines) != 1 ||
				!strings.Contains(r.stderr, c.word) || !strings.Contains(r.stderr, "hush --help") {
				t.Errorf("hush %q: stderr %q: want one line with %s and hush --help", c.args, r.stderr, c.word)
			}
			if strings.Contains(r.stderr, "msg=listening") {
				t.Errorf("hush %q listened:\n%s", c.args, r.stderr)
			}
			// Nothing started: the server's first step, creating ./data
			// with the host key, never happened.
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("hush %q created %v", c.args, entries)
			}
			if r.took > 5*time.Second {
				t.Errorf("hush %q took %v to give up", c.args, r.took)
			}
		}
	})

	t.Run("startup", func(t *testing.T) {
		data := t.TempDir()
		b := startCLI(t, bin, "--listen", "127.0.0.1:0", "--data", data)
		log := b.stderr.String()
		_, port, _ := net.SplitHostPort(b.addr)

		m := fingerprintRE.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no fingerprint logged:\n%s", log)
		}
		logged := m[1]
		if want := filepath.Join(data, "host_ed25519"); m[2] != want {
			t.Errorf("key file %s, want %s", m[2], want)
		}
		pub, err := os.ReadFile(filepath.Join(data, "host_ed25519.pub"))
		if err != nil {
			t.Fatal(err)
		}
		key, _, _, _, err := gossh.ParseAuthorizedKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if fp := gossh.FingerprintSHA256(key); logged != fp {
			t.Errorf("logged %s, host_ed25519.pub is %s", logged, fp)
		}
		if keygen, err := exec.LookPath("ssh-keygen"); err == nil {
			out, err := exec.Command(keygen, "-lf", filepath.Join(data, "host_ed25519.pub")).Output()
			if err != nil || !strings.Contains(string(out), " "+logged+" ") {
				t.Errorf("ssh-keygen -lf says %q (%v), logged %s", out, err, logged)
			}
		}
		term := sshtest.Dial(t, b.addr, "new", sshtest.Options{})
		term.WaitFor("an invite", func(s string) bool { return strings.Contains(s, "ssh -p") })
		if seen := gossh.FingerprintSHA256(term.HostKey); logged != seen {
			t.Errorf("logged %s, the client was shown %s", logged, seen)
		}
		if !strings.Contains(term.Screen(), "ssh -p "+port+" ") {
			t.Errorf("invite does not name port %s:\n%s", port, term.Screen())
		}
		term.Close()

		if got, want := tryRE.FindStringSubmatch(log)[1], "ssh -p "+port+" new@localhost"; got != want {
			t.Errorf("try command %q, want %q", got, want)
		}
		if strings.Contains(log, "level=WARN") {
			t.Errorf("a warning on a loopback listener:\n%s", log)
		}
		salt, err := os.ReadFile(filepath.Join(data, "salt"))
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.TrimSpace(string(salt)); len(s) < 32 || strings.Contains(b.stderr.String(), s) {
			t.Errorf("salt %q is empty or in the log", s)
		}
		if code := b.stop(t); code != 0 {
			t.Errorf("exit %d after SIGTERM:\n%s", code, b.stderr)
		}
	})

	t.Run("warns", func(t *testing.T) {
		// Every interface, the default --host: invites would say
		// localhost to people on other machines.
		b := startCLI(t, bin, "--listen", "0.0.0.0:0", "--data", t.TempDir())
		log := b.stderr.String()
		_, port, _ := net.SplitHostPort(b.addr)
		m := warnHostRE.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no warning about --host:\n%s", log)
		}
		if m[1] != b.addr {
			t.Errorf("warning names %s, listening on %s", m[1], b.addr)
		}
		if got, want := tryRE.FindStringSubmatch(log)[1], "ssh -p "+port+" new@localhost"; got != want {
			t.Errorf("try command %q, want %q", got, want)
		}
		if !fingerprintRE.MatchString(log) {
			t.Errorf("no fingerprint:\n%s", log)
		}
		term := sshtest.Dial(t, net.JoinHostPort("127.0.0.1", port), "new", sshtest.Options{})
		term.WaitFor("an invite", func(s string) bool { return strings.Contains(s, "ssh -p "+port+" ") })
		term.Close()
		if code := b.stop(t); code != 0 {
			t.Errorf("exit %d after SIGTERM:\n%s", code, b.stderr)
		}
	})

	t.Run("named host", func(t *testing.T) {
		// The same listener with --host set: no warning, and the try
		// command leaves out -p when --host says clients reach port 22.
		b := startCLI(t, bin, "--listen", "0.0.0.0:0", "--data", t.TempDir(), "--host", "chat.example.org:22")
		log := b.stderr.String()
		if strings.Contains(log, "level=WARN") {
			t.Errorf("warned with --host set:\n%s", log)
		}
		if got, want := tryRE.FindStringSubmatch(log)[1], "ssh new@chat.example.org"; got != want {
			t.Errorf("try command %q, want %q", got, want)
		}
		if code := b.stop(t); code != 0 {
			t.Errorf("exit %d after SIGTERM:\n%s", code, b.stderr)
		}
	})
}

// A unit written for an earlier release, with a renamed flag, still
// starts, and the log names the new flag.
func TestRenamedFlagStillStarts(t *testing.T) {
	hush, _ := clusterBinaries(t)
	b := startBinary(t, hush, "", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--wrong-codes-per-minute", "5")
	b.listening(t)
	if !strings.Contains(b.stderr.String(), `level=WARN msg="--wrong-codes-per-minute is now --wrong-codes (HUSH_WRONG_CODES); the old name goes in the next release"`) {
		t.Fatalf("no warning naming the new flag:\n%s", b.stderr)
	}
	if code := b.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, b.stderr)
	}
}
