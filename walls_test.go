package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The architecture in one test: which package may depend on what. The core
// (rooms) stands alone; the rules every way in shares (admit, speak) know
// no terminal and no protocol; the conversation layer (talk) stands on
// them and knows no front end. The front ends (session with ui, web) stand
// on talk alone for everything about a conversation: none imports the
// rules or the core, so no rule can be applied by one front end only. The
// terminal view (ui) knows no SSH and no network, and web never borrows it.
func TestPackageWalls(t *testing.T) {
	const mod = "github.com/hush-chat/hush/"
	ssh := []string{"charm.land/ssh", "charm.land/wish/v2", "golang.org/x/crypto/ssh"}
	terminal := []string{"charm.land/bubbletea/v2", "github.com/charmbracelet/ultraviolet", "github.com/charmbracelet/colorprofile", mod + "ui"}
	network := []string{"net", "net/http", "github.com/coder/websocket", "github.com/nats-io/nats.go"}
	frontEnds := []string{mod + "session", mod + "app", mod + "web"}
	// What a front end reaches only through talk. (ui keeps clean for one
	// last check of every glyph before it reaches a terminal.)
	rules := []string{mod + "rooms", mod + "admit", mod + "speak", mod + "names", mod + "cluster"}
	// pictures is pure: bytes in, pixels out, nothing logged or run, and
	// no image format registered beyond the four it reads.
	impure := []string{"log", "log/slog", "os/exec", "golang.org/x/image/tiff", "golang.org/x/image/bmp"}
	for _, c := range []struct {
		pkg       string
		forbidden [][]string
		onlyHush  []string // the module's own packages it may use; nil: any
		direct    []string // packages it may not import itself (it may through others)
	}{
		{pkg: "rooms", onlyHush: []string{}},
		{pkg: "admit", forbidden: [][]string{ssh, terminal, frontEnds}, onlyHush: []string{"rooms", "limits"}},
		{pkg: "speak", forbidden: [][]string{ssh, terminal, network, frontEnds}, onlyHush: []string{"rooms", "limits", "clean"}},
		// talk takes a net.Addr to count a connection by; it speaks no protocol.
		{pkg: "talk", forbidden: [][]string{ssh, terminal, network[1:], frontEnds}, onlyHush: []string{"rooms", "admit", "speak", "limits", "clean", "names", "pictures"}},
		{pkg: "ui", forbidden: [][]string{ssh, network[1:], frontEnds}, direct: append(rules, "net")},
		{pkg: "session", forbidden: [][]string{network[2:], {mod + "web", mod + "app"}}, direct: rules},
		{pkg: "web", forbidden: [][]string{ssh, terminal, {mod + "session", mod + "app"}}, direct: append(rules, mod+"clean")},
		{pkg: "clean", onlyHush: []string{}},
		{pkg: "limits", onlyHush: []string{}},
		{pkg: "names", onlyHush: []string{}},
		{pkg: "pictures", forbidden: [][]string{ssh, terminal, network, frontEnds, impure}, onlyHush: []string{}},
		{pkg: "cluster", forbidden: [][]string{ssh, terminal, frontEnds}, onlyHush: []string{"rooms", "limits"}},
		// Certificates for the web front end: no SSH, no rooms, no hush.
		{pkg: "certs", forbidden: [][]string{ssh, terminal, frontEnds}, onlyHush: []string{}},
	} {
		imports, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", "./"+c.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", c.pkg, err)
		}
		for _, d := range strings.Fields(string(imports)) {
			for _, f := range c.direct {
				if d == f {
					t.Errorf("%s imports %s itself", c.pkg, d)
				}
			}
		}
		out, err := exec.Command("go", "list", "-deps", "./"+c.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", c.pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			for _, group := range c.forbidden {
				for _, f := range group {
					if d == f {
						t.Errorf("%s depends on %s", c.pkg, d)
					}
				}
			}
			if own, ok := strings.CutPrefix(d, mod); ok && c.onlyHush != nil && own != c.pkg {
				allowed := false
				for _, a := range c.onlyHush {
					allowed = allowed || own == a
				}
				if !allowed {
					t.Errorf("%s depends on hush's %s", c.pkg, own)
				}
			}
		}
	}
}
