package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/logtest"
	"github.com/hush-chat/hush/internal/wait"
)

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		cmd  string
		rest []string
	}{
		{nil, "serve", nil},
		{[]string{"--listen", ":2223"}, "serve", []string{"--listen", ":2223"}},
		{[]string{"help"}, "help", nil},
		{[]string{"--help"}, "help", nil},
		{[]string{"-help"}, "help", nil},
		{[]string{"-h"}, "help", nil},
		{[]string{"--listen", ":2223", "--help"}, "help", nil},
		{[]string{"health", "-h"}, "help", nil},
		{[]string{"stray", "--help"}, "help", nil},
		{[]string{"--listen", ":2223", "--version"}, "version", nil},
		{[]string{"-version"}, "version", nil},
		{[]string{"version"}, "version", nil},
		{[]string{"--version", "--help"}, "version", nil},
		{[]string{"health", "--listen", ":2223"}, "health", []string{"--listen", ":2223"}},
		{[]string{"stray"}, "serve", []string{"stray"}},
		{[]string{"--listen", ":2223", "health"}, "serve", []string{"--listen", ":2223", "health"}},
		{[]string{"--", "--help"}, "serve", []string{"--", "--help"}},
	} {
		cmd, rest := parseCommand(c.args)
		if cmd != c.cmd || !slices.Equal(rest, c.rest) {
			t.Errorf("parseCommand(%q) = %s %q, want %s %q", c.args, cmd, rest, c.cmd, c.rest)
		}
	}
}

// runArgs runs the command line args and returns its exit status, stdout
// and stderr. Only command lines that never start a server may be given.
func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runEnv(t, nil, args...)
}

// runEnv is runArgs with the HUSH_* variables in env.
func runEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(args, &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

func TestRunHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"-help"}, {"--listen", ":1", "--help"}, {"health", "--help"}, {"help", "health"}} {
		code, stdout, stderr := runArgs(t, args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "hush: ephemeral chat over SSH") ||
			!strings.Contains(stdout, "hush health") || !strings.Contains(stdout, "--version") {
			t.Errorf("%q: exit %d, stderr %q, stdout:\n%s", args, code, stderr, stdout)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}, {"--listen", "127.0.0.1:0", "--version"}, {"health", "--version"}} {
		code, stdout, stderr := runArgs(t, args...)
		if code != 0 || stderr != "" || !regexp.MustCompile(`^hush \S+ \(commit \S+, go1\.\d+.*\)\n$`).MatchString(stdout) {
			t.Errorf("%q: exit %d, stderr %q, stdout %q", args, code, stderr, stdout)
		}
	}
}

// A wrong command line exits 2 with one line on stderr that names the
// word and points to --help, before anything is created or listened on.
func TestRunRejectsWrongCommandLines(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct {
		args []string
		word string
	}{
		{[]string{"stray"}, `"stray"`},
		{[]string{"--listen", "127.0.0.1:0", "stray"}, `"stray"`},
		{[]string{"--listen", "127.0.0.1:0", "health"}, `"health"`},
		{[]string{"--nope"}, `"--nope"`},
		{[]string{"health", "stray"}, `"stray"`},
		{[]string{"health", "--nope"}, `"--nope"`},
		{[]string{"version", "stray"}, `"stray"`},
		{[]string{"--linger", "soon"}, `soon`},
		{[]string{"--max-group", "1"}, `--max-group`},
		{[]string{"--listen"}, `-listen`},
	} {
		code, stdout, stderr := runEnv(t, map[string]string{"HUSH_DATA": data}, c.args...)
		if code != 2 || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q; want 2 and nothing", c.args, code, stdout)
		}
		if !strings.HasPrefix(stderr, "hush: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "; see hush --help\n") ||
			!strings.Contains(stderr, c.word) {
			t.Errorf("%q: stderr %q: want one line naming %s and pointing to hush --help", c.args, stderr, c.word)
		}
		if strings.Contains(stderr, "listening") {
			t.Errorf("%q: started: %q", c.args, stderr)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the data directory was created: %v", err)
	}
}

// Something failing that is not the command line's fault exits 1.
func TestRunFailureExitsOne(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A data "directory" that is a file: Start fails before listening.
	code, stdout, stderr := runArgs(t, "--listen", "127.0.0.1:0", "--data", file)
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "hush: data directory:") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// A listener that dies while serving ends the process with exit 1, its
// address on stderr. The web listener is made to die as a kernel would
// kill it: shutdown(2) on its socket, so accept fails for good.
func TestRunListenerFailureExitsOne(t *testing.T) {
	var stderr logtest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--listen", "127.0.0.1:0", "--web", "127.0.0.1:0", "--data", t.TempDir(), "--host", "chat.test"}, io.Discard, &stderr, func(string) string { return "" })
	}()
	webRE := regexp.MustCompile(`msg="web listening" addr=127\.0\.0\.1:(\d+)`)
	var port int
	wait.Until(t, "the web listener", func() (bool, string) {
		if m := webRE.FindStringSubmatch(stderr.String()); m != nil {
			port, _ = strconv.Atoi(m[1])
		}
		return port != 0, stderr.String()
	})
	fd := listeningFD(t, port)
	if err := syscall.Shutdown(fd, syscall.SHUT_RD); err != nil {
		t.Fatalf("shutdown(2) on the web listener: %v", err)
	}
	select {
	case code := <-done:
		out := stderr.String()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		t.Logf("exit %d; stderr:\n%s", code, out)
		if code != 1 || !strings.Contains(out, `msg="listener failed" listener=web addr=`+addr) || !strings.Contains(out, "\nhush: web listener on "+addr+": ") {
			t.Fatalf("exit %d; stderr:\n%s", code, out)
		}
	case <-time.After(wait.Timeout):
		t.Fatalf("still serving after its web listener died; stderr:\n%s", stderr.String())
	}
}

// listeningFD is this process's listening TCP socket on port.
func listeningFD(t *testing.T, port int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			continue
		}
		in4, ok := sa.(*syscall.SockaddrInet4)
		if !ok || in4.Port != port {
			continue
		}
		if on, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err == nil && on == 1 {
			return fd
		}
	}
	t.Fatalf("no listening socket on port %d in this process", port)
	return -1
}
