package app

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/metrics"

	"github.com/hush-chat/hush/session"
)

func TestTryCommandIsTheInvite(t *testing.T) {
	for _, c := range []struct {
		host string
		port int
		want string
	}{
		{"localhost", 2222, "ssh -p 2222 new@localhost"},
		{"chat.example.org", 22, "ssh new@chat.example.org"},
		{"chat.example.org", 40123, "ssh -p 40123 new@chat.example.org"},
		{"chat.example.org:22", 2222, "ssh new@chat.example.org"},         // behind a port mapping
		{"chat.example.org:2200", 22, "ssh -p 2200 new@chat.example.org"}, // the other way round
		{"::1", 2222, "ssh -p 2222 new@::1"},
		{"[2001:db8::1]:22", 2222, "ssh new@2001:db8::1"},
	} {
		if got := session.Invite(c.host, c.port, "new"); got != c.want {
			t.Errorf("Invite(%q, %d) = %q, want %q", c.host, c.port, got, c.want)
		}
	}
}

func TestLocalOnlyHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost.": true, "localhost:22": true, "ip6-localhost": true, "hush.localhost": true,
		"127.0.0.1": true, "127.1.2.3:2222": true, "::1": true, "[::1]:22": true, "0.0.0.0": true, "": true,
		"chat.example.org": false, "chat.example.org:22": false, "192.0.2.7": false, "2001:db8::1": false, "localhostess.org": false,
	} {
		if got := localOnlyHost(host); got != want {
			t.Errorf("localOnlyHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:0": true, "[::1]:0": true, "0.0.0.0:0": false, ":0": false} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v (skipped)", addr, err) // e.g. no IPv6
			continue
		}
		if got := loopbackOnly(ln.Addr()); got != want {
			t.Errorf("listening on %s (%s): loopbackOnly %v, want %v", addr, ln.Addr(), got, want)
		}
		ln.Close()
	}
}

// startLogged starts a server on listen with host, returning what its
// start-up logged.
func startLogged(t *testing.T, listen, host string) (*App, Config, string) {
	t.Helper()
	cfg, err := ParseConfig([]string{"--listen", listen, "--host", host, "--data", t.TempDir(), "--web", "127.0.0.1:0"}, noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	logger := slog.New(slog.NewTextHandler(&log, nil))
	a, err := Start(cfg, logger, metrics.Build{Version: "test", Commit: "test", GoVersion: runtime.Version()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	log.Reset() // only what LogStartup says
	a.LogStartup(logger, cfg)
	return a, cfg, log.String()
}

func TestLogStartup(t *testing.T) {
	a, cfg, out := startLogged(t, "127.0.0.1:0", "localhost")
	port := a.ln.Addr().(*net.TCPAddr).Port

	// The fingerprint is the one ssh-keygen -lf shows for the .pub file
	// written beside the key.
	pub, err := os.ReadFile(filepath.Join(cfg.Data, "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	key, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	fp := gossh.FingerprintSHA256(key)
	if !regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q", fp)
	}
	for _, want := range []string{
		"level=INFO msg=listening addr=" + a.Addr() + "\n",
		`level=INFO msg="host key" fingerprint=` + fp + " file=" + filepath.Join(cfg.Data, "host_ed25519") + "\n",
		`level=INFO msg="try it" command="ssh -p ` + strconv.Itoa(port) + ` new@localhost"` + "\n",
		`level=INFO msg="web listening" addr=` + a.WebAddr() + ` page=http://localhost:` + strconv.Itoa(a.web.ln.Addr().(*net.TCPAddr).Port) + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WARN") {
		t.Errorf("warned with a loopback listener:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("%d lines, want 4:\n%s", n, out)
	}
	salt, err := os.ReadFile(filepath.Join(cfg.Data, "salt"))
	if err != nil || len(strings.TrimSpace(string(salt))) < 32 {
		t.Fatalf("salt %q: %v", salt, err)
	}
	if strings.Contains(out, strings.TrimSpace(string(salt))) || strings.Contains(out, "salt") {
		t.Errorf("the salt is in the log:\n%s", out)
	}
}

func TestLogStartupWarnsAboutLocalhost(t *testing.T) {
	for _, c := range []struct {
		listen, host string
		warn         bool
	}{
		{"0.0.0.0:0", "localhost", true},
		{"0.0.0.0:0", "127.0.0.1:2222", true},
		{"0.0.0.0:0", "chat.example.org", false},
		{"127.0.0.1:0", "chat.example.org", false}, // e.g. behind a proxy on this machine
	} {
		a, _, out := startLogged(t, c.listen, c.host)
		warned := regexp.MustCompile(`(?m)^time=\S+ level=WARN msg=".*set --host \(HUSH_HOST\) to the name people will ssh to" host=` +
			regexp.QuoteMeta(c.host) + ` addr=` + regexp.QuoteMeta(a.Addr()) + `$`).MatchString(out)
		if warned != c.warn {
			t.Errorf("--listen %s --host %s: warned %v, want %v:\n%s", c.listen, c.host, warned, c.warn, out)
		}
		if i, j := strings.Index(out, "WARN"), strings.Index(out, `msg="try it"`); c.warn && i > j {
			t.Errorf("the warning comes after the command to try:\n%s", out)
		}
	}
}

func TestHostKeyFingerprintErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := hostKeyFingerprint(filepath.Join(dir, "missing")); err == nil {
		t.Error("no error for a missing key")
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := hostKeyFingerprint(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad key: %v", err)
	}
}
