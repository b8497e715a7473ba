package e2e

// What someone running hush gets: the compose file, the Dockerfile, the
// errors a bad configuration gives, and the health check.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/metrics"
)

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		proxy   bool
		trusted string
		want    string // "" for no error
	}{
		{true, "", "--proxy-protocol needs --trusted-proxies"},
		{false, "10.0.0.0/8", "--proxy-protocol is off"},
		{true, "10.0.0.0/8,bogus", `"bogus"`},
		{true, " 10.0.0.0/8 ,192.0.2.1,::ffff:198.51.100.1, 2001:db8::/32", ""},
	} {
		cfg, err := app.ParseConfig(nil, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Data = t.TempDir()
		cfg.Listen = "127.0.0.1:0"
		cfg.ProxyProtocol, cfg.TrustedProxies = c.proxy, c.trusted
		a, err := app.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.Build{})
		if c.want == "" {
			if err != nil {
				t.Errorf("proxy=%v trusted=%q: %v", c.proxy, c.trusted, err)
				continue
			}
			if err := a.Shutdown(t.Context()); err != nil {
				t.Error(err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("proxy=%v trusted=%q: error %v, want it to mention %s", c.proxy, c.trusted, err, c.want)
		}
	}
	// Flags and environment both reach the settings.
	env := map[string]string{"HUSH_PROXY_PROTOCOL": "true", "HUSH_TRUSTED_PROXIES": "192.0.2.0/24"}
	cfg, err := app.ParseConfig([]string{"--metrics", "127.0.0.1:9222"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ProxyProtocol || cfg.TrustedProxies != "192.0.2.0/24" || cfg.Metrics != "127.0.0.1:9222" {
		t.Fatalf("config %+v", cfg)
	}
}

// The health check dials what a listen address means on this machine: a
// wildcard host is the loopback address, any other host itself.
func TestHealthDialsTheListenAddress(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Metrics = "127.0.0.1:0" })
	port := func(addr string) string {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	health := func(args ...string) error {
		var out bytes.Buffer
		err := app.Health(args, func(string) string { return "" }, &out)
		if err != nil {
			err = fmt.Errorf("%w (%s)", err, out.String())
		}
		return err
	}
	// Something listening on another loopback address and, if this machine
	// has IPv6, on ::1.
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, args := range [][]string{
		{"--listen", ":" + port(s.Addr())},
		{"--listen", "0.0.0.0:" + port(s.Addr())},
		{"--listen", s.Addr()},
		{"--listen", other.Addr().String()},
		{"--metrics", s.MetricsAddr()},
		{"--metrics", ":" + port(s.MetricsAddr())},
		{"--metrics", "0.0.0.0:" + port(s.MetricsAddr())},
	} {
		if err := health(args...); err != nil {
			t.Errorf("health %v: %v", args, err)
		}
	}
	if v6, err := net.Listen("tcp", "[::1]:0"); err == nil {
		defer v6.Close()
		if err := health("--listen", "[::]:"+port(v6.Addr().String())); err != nil {
			t.Errorf("health --listen [::]: %v", err)
		}
	}
	// Nothing listens at 127.0.0.2 on the server's port.
	if port(other.Addr().String()) != port(s.Addr()) && health("--listen", "127.0.0.2:"+port(s.Addr())) == nil {
		t.Error("health passed for an address nothing listens on")
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if err := health("--metrics", s.MetricsAddr()); err == nil {
		t.Error("health passed with the server stopped")
	}
}

// flagNames lists every flag name, read from the usage text.
func flagNames(t *testing.T) []string {
	t.Helper()
	var usage bytes.Buffer
	if _, err := app.ParseConfig([]string{"-h"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(usage.String(), -1) {
		names = append(names, m[1])
	}
	if len(names) < 5 {
		t.Fatalf("found flags %v in:\n%s", names, usage.String())
	}
	return names
}

func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Restart     string            `yaml:"restart"`
			Ports       []string          `yaml:"ports"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Healthcheck struct {
				Test        []string `yaml:"test"`
				Interval    string   `yaml:"interval"`
				Timeout     string   `yaml:"timeout"`
				StartPeriod string   `yaml:"start_period"`
				Retries     int      `yaml:"retries"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(doc.Services) != 1 {
		t.Fatalf("want one service, got %d", len(doc.Services))
	}
	s, ok := doc.Services["hush"]
	if !ok {
		t.Fatal("no service named hush")
	}
	if s.Restart != "unless-stopped" {
		t.Errorf("restart: %q", s.Restart)
	}
	if !slices.Contains(s.Volumes, "hush-data:/data") {
		t.Errorf("volumes %v: want hush-data:/data", s.Volumes)
	}
	if _, ok := doc.Volumes["hush-data"]; !ok {
		t.Errorf("top-level volumes %v: want hush-data", doc.Volumes)
	}
	if !slices.Contains(s.Ports, "2222:2222") {
		t.Errorf("ports %v: want 2222:2222", s.Ports)
	}
	if !strings.Contains(string(raw), `- "22:2222"`) {
		t.Error("the port-22 mapping is not documented")
	}
	if want := []string{"CMD", "/hush", "health"}; !slices.Equal(s.Healthcheck.Test, want) {
		t.Errorf("healthcheck %v, want %v", s.Healthcheck.Test, want)
	}
	for _, f := range flagNames(t) {
		env := "HUSH_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
		if _, ok := s.Environment[env]; !ok {
			t.Errorf("environment lacks %s (flag --%s)", env, f)
		}
	}
	// What the compose file sets must be a valid configuration.
	if _, err := app.ParseConfig(nil, func(k string) string { return s.Environment[k] }, io.Discard); err != nil {
		t.Errorf("compose environment: %v", err)
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	has := func(re string) bool {
		r := regexp.MustCompile(re)
		return slices.ContainsFunc(lines, r.MatchString)
	}
	var froms int
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			froms++
		}
	}
	for _, c := range []struct{ what, re string }{
		{"a golang build stage", `^FROM golang:\S+ AS build$`},
		{"a static build", `^RUN CGO_ENABLED=0 go build .*-X main\.version=\$\{VERSION\} -X main\.commit=\$\{COMMIT\}`},
		{"version build args", `^ARG VERSION`},
		{"commit build args", `^ARG COMMIT`},
		{"a minimal runtime", `^FROM gcr\.io/distroless/static\S*:nonroot`},
		{"the binary copied from the build stage", `^COPY --from=build /out/hush /hush$`},
		{"a non-root user", `^USER 65532:65532$`},
		{"a /data volume", `^VOLUME \["/data"\]$`},
		{"the SSH port", `^EXPOSE 2222$`},
		{"a healthcheck", `^HEALTHCHECK .*CMD \["/hush", "health"\]$`},
		{"the entrypoint", `^ENTRYPOINT \["/hush"\]$`},
		{"the default command", `^CMD \["--data", "/data", "--listen", ":2222"\]$`},
	} {
		if !has(c.re) {
			t.Errorf("Dockerfile lacks %s (%s)", c.what, c.re)
		}
	}
	if froms != 2 {
		t.Errorf("%d stages, want 2", froms)
	}
	if has(`^USER (root|0)\b`) {
		t.Error("Dockerfile runs as root")
	}
}
