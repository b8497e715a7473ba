package app

import (
	"errors"
	"flag"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestConfigFromEnvAndFlags(t *testing.T) {
	env := map[string]string{"HUSH_MAX_GROUP": "4", "HUSH_LINGER": "3s", "HUSH_LISTEN": "127.0.0.1:9"}
	c, err := ParseConfig([]string{"--listen", "127.0.0.1:7"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxGroup != 4 || c.Linger != 3*time.Second || c.Listen != "127.0.0.1:7" {
		t.Fatalf("got %+v: env should set, flags should win", c)
	}
	for _, bad := range [][]string{{"--linger", "1ms"}, {"--max-group", "1"}, {"--key-rate", "0"}, {"--nope"}, {"--listen"}, {"--linger", "soon"},
		{"--proxy-protocol"}, {"--trusted-proxies", "10.0.0.0/8"}, {"--proxy-protocol", "--trusted-proxies", "10.0.0.0/8,bogus"}} {
		if _, err := ParseConfig(bad, noEnv, io.Discard); !errors.As(err, new(*UsageError)) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	if _, err := ParseConfig(nil, func(k string) string { return map[string]string{"HUSH_LINGER": "soon"}[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "HUSH_LINGER") || !errors.As(err, new(*UsageError)) {
		t.Errorf("bad env value: %v", err)
	}
}

// Stray words and unknown flags are errors that name what was typed, on
// one line, and nothing is printed: the caller says it.
func TestConfigRejectsStrayArguments(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"--listen", "127.0.0.1:0", "stray", "--data", "x"}, `unexpected argument "stray"`},
		{[]string{"--listen", "127.0.0.1:0", "health"}, `unexpected argument "health": a subcommand goes first, as in hush health [flags]`},
		{[]string{"--", "--listen"}, `unexpected argument "--listen"`},
		{[]string{"--nope"}, `unknown flag "--nope"`},
		{[]string{"--listen", ":1", "-nope=3"}, `unknown flag "-nope=3"`},
		{[]string{"--listen"}, `flag needs an argument: -listen`},
	} {
		var out strings.Builder
		_, err := ParseConfig(c.args, noEnv, &out)
		if err == nil || err.Error() != c.want && !strings.HasPrefix(err.Error(), c.want+":") {
			t.Errorf("%q: error %v, want %s", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error on more than one line: %q", c.args, err)
		}
		if out.Len() != 0 {
			t.Errorf("%q: printed %q", c.args, out.String())
		}
	}
}

func TestHelpListsEverything(t *testing.T) {
	var help strings.Builder
	if _, err := ParseConfig([]string{"--listen", ":1", "-h"}, noEnv, &help); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	var direct strings.Builder
	WriteHelp(&direct)
	if help.String() != direct.String() {
		t.Fatal("ParseConfig -h and WriteHelp differ")
	}
	text := help.String()
	for _, want := range []string{
		"ephemeral chat over SSH", "Usage:", "hush health [flags]", "hush version", "hush help",
		"--version", "--help", "Examples:", "\n  hush\n", "hush --web-domain chat.example.org --listen :22 --data /var/lib/hush",
		"HUSH_<NAME>", "Exit status",
		`  -listen string    (HUSH_LISTEN, default ":2222")`,
		`  -data string    (HUSH_DATA, default "./data")`,
		`  -metrics string    (HUSH_METRICS, default "")`,
		`  -max-group int    (HUSH_MAX_GROUP, default 8)`,
		`  -linger duration    (HUSH_LINGER, default 5s)`,
		`  -proxy-protocol    (HUSH_PROXY_PROTOCOL, default false)`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	// Every flag: a line with its variable and default, then its meaning.
	n := 0
	flags(&Config{}).VisitAll(func(f *flag.Flag) {
		n++
		re := regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(f.Name) + `( \w+)?    \(` + envName(f.Name) + `, default .+\)\n      \S`)
		if !re.MatchString(text) {
			t.Errorf("help has no line for -%s", f.Name)
		}
	})
	if n < 20 {
		t.Errorf("only %d flags", n)
	}
	// Other readers take every line that starts with blanks and a dash
	// for a flag (e2e's flagNames, cmd/hushload): only flags may.
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	var want []string
	flags(&Config{}).VisitAll(func(f *flag.Flag) { want = append(want, f.Name) })
	if !slices.Equal(names, want) {
		t.Errorf("flag names read from the help: %q, want %q", names, want)
	}
	for _, l := range strings.Split(text, "\n") {
		if len(l) > 100 {
			t.Errorf("help line longer than 100: %q", l)
		}
	}
}

// Every flag is documented in the README's table, so the docs cannot drift.
func TestReadmeListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var help strings.Builder
	if _, err := ParseConfig([]string{"-h"}, noEnv, &help); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	n := 0
	for _, line := range strings.Split(help.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			n++
			name, _, _ = strings.Cut(name, " ")
			if !strings.Contains(string(readme), "`--"+name+"`") {
				t.Errorf("README does not document --%s", name)
			}
			if !strings.Contains(string(readme), "`"+envName(name)+"`") {
				t.Errorf("README does not document %s", envName(name))
			}
		}
	}
	if n < 20 {
		t.Fatalf("read %d flags from the help", n)
	}
}

// Settings for the web page and the cluster that would expose more than
// meant are refused before anything listens.
func TestConfigRefusesExposure(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"--web", "0.0.0.0:8080"}, "would serve plain HTTP beyond this machine"},
		{[]string{"--web", ":8080"}, "would serve plain HTTP beyond this machine"},
		{[]string{"--web", ":8080", "--web-insecure"}, ""},
		{[]string{"--web", ":8080", "--web-tls-cert", "c.pem", "--web-tls-key", "k.pem"}, ""},
		{[]string{"--web-tls-cert", "c.pem"}, "go together"},
		{[]string{"--web", "[::1]:8080"}, ""},
		{[]string{"--web", ""}, ""},
		{[]string{"--web-url", "chat.example.org"}, "want http(s)://host[:port]"},
		{[]string{"--web-url", "https://chat.example.org/sub"}, "want http(s)://host[:port]"},
		{[]string{"--web-trusted-proxies", "nope"}, "--web-trusted-proxies"},
		{[]string{"--nats", "nats://10.0.0.5:4222"}, "is another machine and the connection has no TLS"},
		{[]string{"--nats", "nats://user:secret@10.0.0.5:4222"}, "nats://user@10.0.0.5:4222"},
		{[]string{"--nats", "nats://10.0.0.5:4222", "--nats-insecure"}, ""},
		{[]string{"--nats", "tls://10.0.0.5:4222"}, ""},
		{[]string{"--nats", "nats://10.0.0.5:4222", "--nats-ca", "ca.pem"}, ""},
		{[]string{"--nats", "nats://127.0.0.1:4222,nats://localhost:4223"}, ""},
		{[]string{"--nats", "http://127.0.0.1:4222"}, `scheme "http"`},
		{[]string{"--nats-creds", "x.creds"}, "need --nats"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-creds", "a", "--nats-nkey", "b"}, "give one"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-lease", "1500ms"}, "whole seconds"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-replicas", "0"}, "want 1 to 5"},
	} {
		_, err := ParseConfig(c.args, noEnv, io.Discard)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want an error with %q", c.args, err, c.want)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("%q: the error shows the password: %v", c.args, err)
		}
		if err != nil {
			if _, ok := errors.AsType[*UsageError](err); !ok {
				t.Errorf("%q: %T, want a usage error", c.args, err)
			}
		}
	}
}

// A renamed setting still works by its old name, flag or variable, with
// one warning naming the new one; the new name wins where both are given.
func TestRenamedSettingsStillWork(t *testing.T) {
	for _, r := range renamed {
		oldEnv, newEnv := envName(r.old), envName(r.new)
		for _, c := range []struct {
			name string
			args []string
			env  map[string]string
			want string // the new flag's value
			warn string
		}{
			{"old flag", []string{"--" + r.old, "7"}, nil, "7", "--" + r.old + " is now --" + r.new},
			{"old variable", nil, map[string]string{oldEnv: "7"}, "7", oldEnv + " is now " + newEnv},
			{"old and new variable", nil, map[string]string{oldEnv: "7", newEnv: "5"}, "5", oldEnv + " is ignored: " + newEnv + " is set"},
			{"old flag over new variable", []string{"-" + r.old + "=7"}, map[string]string{newEnv: "5"}, "7", "--" + r.old + " is now --" + r.new},
		} {
			cfg, err := ParseConfig(c.args, func(k string) string { return c.env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("%s %s: %v", r.old, c.name, err)
			}
			want, err := ParseConfig([]string{"--" + r.new, c.want}, noEnv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			warnings := cfg.Renamed
			cfg.Renamed = nil
			if !reflect.DeepEqual(cfg, want) {
				t.Errorf("%s %s: got %+v, want what --%s %s gives: %+v", r.old, c.name, cfg, r.new, c.want, want)
			}
			cfg.Renamed = warnings
			if len(cfg.Renamed) != 1 || !strings.HasPrefix(cfg.Renamed[0], c.warn) || strings.Contains(cfg.Renamed[0], "\n") {
				t.Errorf("%s %s: warnings %q, want one line starting %q", r.old, c.name, cfg.Renamed, c.warn)
			}
		}
		var help strings.Builder
		WriteHelp(&help)
		if strings.Contains(help.String(), "  -"+r.old+" ") {
			t.Errorf("the help still lists --%s", r.old)
		}
	}
	if cfg, _ := ParseConfig(nil, noEnv, io.Discard); len(cfg.Renamed) != 0 {
		t.Errorf("warnings with no old name given: %q", cfg.Renamed)
	}
}

// README.md's table of renamed settings is this package's table.
func TestReadmeListsRenamedSettings(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range renamed {
		row := "| `--" + r.old + "` (`" + envName(r.old) + "`) | `--" + r.new + "` (`" + envName(r.new) + "`) |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row starting %s", row)
		}
	}
}

// A domain is all a public server needs: HTTPS on 443 and invites to it,
// unless told otherwise; settings that cannot work are usage errors.
func TestConfigWebDomain(t *testing.T) {
	c, err := ParseConfig([]string{"--web-domain", " Chat.Example.org., hush.example.net"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Web != ":443" || c.Host != "chat.example.org" || !slices.Equal(c.WebDomains(), []string{"chat.example.org", "hush.example.net"}) {
		t.Fatalf("web %q, host %q, domains %q", c.Web, c.Host, c.WebDomains())
	}
	env := map[string]string{"HUSH_WEB_DOMAIN": "chat.example.org", "HUSH_WEB": "127.0.0.1:8443"}
	c, err = ParseConfig([]string{"--host", "ssh.example.org"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Web != "127.0.0.1:8443" || c.Host != "ssh.example.org" {
		t.Fatalf("given --web and --host were not kept: %q %q", c.Web, c.Host)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--web-domain", "chat.example.org", "--web-tls-cert", "c", "--web-tls-key", "k"}, "not both"},
		{[]string{"--web-domain", "https://chat.example.org"}, "want a DNS name"},
		{[]string{"--web-domain", "chat.example.org:443"}, "want a DNS name"},
		{[]string{"--web-domain", "*.example.org"}, "want a DNS name"},
		{[]string{"--web-domain", "192.0.2.1"}, "want a DNS name"},
		{[]string{"--web-domain", "localhost"}, "want a DNS name"},
		{[]string{"--web-domain", "chat.example.org", "--web", ""}, "need --web"},
		{[]string{"--acme-email", "me@example.org"}, "which is not set"},
		{[]string{"--web-domain", "chat.example.org", "--acme-ca", "http://ca.example.org/dir"}, "want the https:// URL"},
		{[]string{"--web-http", ":80"}, "needs --web-domain or --web-tls-cert"},
		{[]string{"--web-domain", "chat.example.org", "--web-http", "80"}, "want host:port"},
	} {
		_, err := ParseConfig(bad.args, noEnv, io.Discard)
		if !errors.As(err, new(*UsageError)) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want a usage error saying %q", bad.args, err, bad.want)
		}
	}
}
