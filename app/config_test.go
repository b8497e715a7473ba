package app

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnvAndFlags(t *testing.T) {
	env := map[string]string{"HUSH_MAX_GROUP": "4", "HUSH_LINGER": "3s", "HUSH_LISTEN": "127.0.0.1:9"}
	c, err := ParseConfig([]string{"--listen", "127.0.0.1:7"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxGroup != 4 || c.Linger != 3*time.Second || c.Listen != "127.0.0.1:7" {
		t.Fatalf("got %+v: env should set, flags should win", c)
	}
	for _, bad := range [][]string{{"--linger", "1ms"}, {"--max-group", "1"}, {"--key-rate", "0"}, {"--nope"}} {
		if _, err := ParseConfig(bad, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := ParseConfig(nil, func(k string) string { return map[string]string{"HUSH_LINGER": "soon"}[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "HUSH_LINGER") {
		t.Errorf("bad env value: %v", err)
	}
}

// Every flag is documented in the README's table, so the docs cannot drift.
func TestReadmeListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var help strings.Builder
	if _, err := ParseConfig([]string{"-h"}, func(string) string { return "" }, &help); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	for _, line := range strings.Split(help.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ = strings.Cut(name, " ")
			if !strings.Contains(string(readme), "`--"+name+"`") {
				t.Errorf("README does not document --%s", name)
			}
		}
	}
}
