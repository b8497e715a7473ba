package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The architecture in one test: which package may depend on what. The core
// (rooms) stands alone; the rules every way in shares (admit, speak) know
// no terminal and no protocol; the terminal view (ui) knows no SSH and no
// network. A front end may use them all; none of them may use a front end.
func TestPackageWalls(t *testing.T) {
	const mod = "github.com/hush-chat/hush/"
	ssh := []string{"charm.land/ssh", "charm.land/wish/v2", "golang.org/x/crypto/ssh"}
	terminal := []string{"charm.land/bubbletea/v2", "github.com/charmbracelet/ultraviolet", "github.com/charmbracelet/colorprofile", mod + "ui"}
	network := []string{"net", "net/http", "github.com/coder/websocket", "github.com/nats-io/nats.go"}
	frontEnds := []string{mod + "session", mod + "app", mod + "web"}
	for _, c := range []struct {
		pkg       string
		forbidden [][]string
		onlyHush  []string // the module's own packages it may use; nil: any
	}{
		{pkg: "rooms", onlyHush: []string{}},
		{pkg: "admit", forbidden: [][]string{ssh, terminal, frontEnds}, onlyHush: []string{"rooms", "limits"}},
		{pkg: "speak", forbidden: [][]string{ssh, terminal, network, frontEnds}, onlyHush: []string{"rooms", "limits", "clean"}},
		{pkg: "ui", forbidden: [][]string{ssh, network, frontEnds}},
		{pkg: "clean", onlyHush: []string{}},
		{pkg: "limits", onlyHush: []string{}},
		{pkg: "names", onlyHush: []string{}},
		{pkg: "cluster", forbidden: [][]string{ssh, terminal, frontEnds}, onlyHush: []string{"rooms", "limits"}},
		// Certificates for the web front end: no SSH, no rooms, no hush.
		{pkg: "certs", forbidden: [][]string{ssh, terminal, frontEnds}, onlyHush: []string{}},
	} {
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
