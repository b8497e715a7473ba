package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hush-chat/hush/internal/sshtest"
)

// One lobby for both front ends: a browser asks someone on SSH, and
// someone on SSH asks a browser; either way both land in one new room and
// talk.
func TestLobbyBrowserAndSSH(t *testing.T) {
	for _, browserAsks := range []bool{true, false} {
		t.Run(fmt.Sprintf("browser asks %v", browserAsks), func(t *testing.T) {
			s := startServer(t)
			term := sshtest.Dial(t, s.Addr(), "lobby", sshtest.Options{})
			term.WaitText("lobby · 1 here")
			sshName := selfName(t, term)
			p := openPage(t, webURL(s)+"/lobby")
			pageName := p.lobbyName()
			term.WaitText("lobby · 2 here")
			term.WaitText(pageName)
			p.wait("the ssh person listed", row(sshName))

			// Lobby text crosses both ways.
			term.Type("from the terminal")
			p.waitLane(sshName, "from the terminal")
			p.typeKeys("from the page")
			term.WaitText("from the page")

			if browserAsks {
				p.click("Ask", row(sshName)+".querySelector('button.ask')")
				term.WaitText(pageName + " asks you for a private room")
				term.Type(keyTab + keyEnter)
			} else {
				term.Type(keyTab + keyEnter)
				term.WaitText("asking " + pageName + "…")
				p.wait("the ask banner", fmt.Sprintf("[...document.querySelectorAll('#asks li')].some(li => li.textContent.startsWith(%q))", sshName+" asks you for a private room"))
				p.click("Accept", "document.querySelector('#asks li button.accept')")
			}
			p.wait("the page in the new room", "location.pathname !== '/lobby'")
			code := p.seatedCode()
			term.WaitText("2 of 2 here")
			if got := roomOf(t, term); !strings.EqualFold(strings.ReplaceAll(got, "-", ""), strings.ReplaceAll(code, "-", "")) {
				t.Fatalf("the terminal is in %s, the page in %s", got, code)
			}
			term.Type("in our room")
			p.waitLane(sshName, "in our room")
			p.typeKeys("here too")
			term.WaitText("here too")
		})
	}
}
