package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

// lobbyName waits until the page is in the lobby and returns the name it
// goes by there.
func (p *page) lobbyName() string {
	p.t.Helper()
	p.wait("the lobby", "location.pathname === '/lobby' && !document.getElementById('people').hidden && document.querySelector('#peoplelist li .name')")
	return eval[string](p, "document.querySelector('#peoplelist li .name').firstChild.textContent")
}

// row is the CSS selector of name's line in the lobby's list.
func row(name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#peoplelist li')].find(li => li.querySelector('.name').firstChild.textContent === %q)`, name)
}

// click clicks the element a JavaScript expression finds, as a person
// would (a real mouse event at its place).
func (p *page) click(what, expr string) {
	p.t.Helper()
	p.wait(what, expr)
	eval[bool](p, "(() => { const e = "+expr+"; e.dataset.e2e = 'click'; return true })()")
	p.do(chromedp.Click(chromedp.CSS(`[data-e2e="click"]`)))
	eval[bool](p, "(() => { for (const e of document.querySelectorAll('[data-e2e]')) delete e.dataset.e2e; return true })()")
}

// Two browsers meet in the lobby, see each other, one types and the
// other reads it; an ask declined reads as no answer; a third person
// ignored is heard no more; one asks, the other accepts, and both land in
// the same new room and talk there. One of them is a phone.
func TestBrowserLobby(t *testing.T) {
	s := startServer(t)
	a := openPage(t, webURL(s)+"/")
	a.do(chromedp.Click(chromedp.ID("lobby")))
	aName := a.lobbyName()
	b := openPage(t, webURL(s)+"/lobby")
	b.do(chromedp.EmulateViewport(360, 640, chromedp.EmulateMobile))
	bName := b.lobbyName()
	a.wait("b in a's list", row(bName))
	b.wait("a in b's list", row(aName))
	a.wait("the header", "document.getElementById('title').textContent.includes('2 here')")

	a.typeKeys("hello lobby")
	b.waitLane(aName, "hello lobby")
	a.waitLane("you", "hello lobby")

	// Declined, an ask reads as no answer; the screen reader hears it.
	b.click("the Ask button on a's line", row(aName)+".querySelector('button.ask')")
	a.click("Decline", "document.querySelector('#asks li button.decline')")
	noAnswer := "No answer from " + aName + "."
	b.wait("no answer", fmt.Sprintf("document.getElementById('asking').hidden && document.getElementById('notice').textContent === %q && document.getElementById('log').textContent.includes(%q)", noAnswer, noAnswer))
	a.wait("the banner gone", "document.querySelectorAll('#asks li').length === 0")

	// Ignored, a third person's text leaves the page and comes no more.
	c := openPage(t, webURL(s)+"/lobby")
	cName := c.lobbyName()
	a.wait("c in a's list", row(cName))
	c.typeKeys("from c")
	a.waitLane(cName, "from c")
	a.click("the Ignore button on c's line", row(cName)+".querySelector('button.ignore')")
	a.wait("c's lane gone and c marked", fmt.Sprintf("![...document.querySelectorAll('.lane .name')].some(n => n.textContent.startsWith(%q)) && %s.classList.contains('ignored') && !%s.querySelector('button')", cName, row(cName), row(cName)))
	c.typeKeys(" more")
	c.waitLane("you", "from c more")
	b.typeKeys("after c")
	a.waitLane(bName, "after c")
	if eval[bool](a, "document.getElementById('lanes').textContent.includes('more')") {
		t.Fatal("an ignored person's text reached the page")
	}

	a.click("the Ask button on b's line", row(bName)+".querySelector('button.ask')")
	a.wait("asking b, with a countdown and Cancel", fmt.Sprintf("!document.getElementById('asking').hidden && /^asking %s… \\(\\d+ s\\)$/.test(document.getElementById('askingtext').textContent)", bName))
	b.wait("the ask banner", fmt.Sprintf("[...document.querySelectorAll('#asks li')].some(li => li.textContent.startsWith(%q))", aName+" asks you for a private room"))
	b.wait("the ask heard by screen readers", fmt.Sprintf("document.getElementById('log').textContent.includes(%q)", aName+" asks you for a private room"))
	b.click("Accept", "document.querySelector('#asks li button.accept')")

	code := a.seatedCode()
	if got := b.seatedCode(); got != code {
		t.Fatalf("a is in %q, b in %q", code, got)
	}
	for _, p := range []*page{a, b} {
		p.wait("a room of their own", "document.getElementById('people').hidden && document.getElementById('asking').hidden && document.querySelectorAll('#who li').length === 2")
	}
	a.typeKeys("just us now")
	b.waitLane(aName, "just us now")
	b.typeKeys("yes")
	a.waitLane(bName, "yes")
	if w := eval[int](b, "document.documentElement.scrollWidth"); w > 360 {
		t.Fatalf("the phone's page is %d px wide on a 360 px screen", w)
	}
}

// A member locks a group; a browser that opens its link meets the door,
// knocks, and a member lets it in from the knock banner.
func TestBrowserKnock(t *testing.T) {
	s := startServer(t)
	a := openPage(t, webURL(s)+"/")
	b, code := joinGroup(t, s, a)
	a.wait("b in the room", "document.querySelectorAll('#who li').length === 2")
	a.click("the Lock button", "!document.getElementById('lock').hidden && document.getElementById('lock')")
	for _, p := range []*page{a, b} {
		p.wait("the room locked", "document.getElementById('lock').textContent === 'Lock: on' && document.getElementById('lock').getAttribute('aria-pressed') === 'true' && document.getElementById('notice').textContent.includes('locked the room')")
	}

	c := openPage(t, webURL(s)+"/"+code)
	c.wait("the door", "!document.getElementById('door').hidden && document.getElementById('doortext').textContent.includes('is locked') && document.activeElement.id === 'knock'")
	c.do(chromedp.Click(chromedp.ID("knock")))
	c.wait("knocking", "document.getElementById('doortext').textContent.startsWith('Knocking') && document.getElementById('knock').hidden")
	b.wait("the knock banner", "!document.getElementById('knocks').hidden && / knocks$/.test(document.getElementById('knocktext').textContent) && document.getElementById('log').textContent.includes(' knocks')")
	a.click("Let in", "!document.getElementById('knocks').hidden && document.getElementById('letin')")
	if got := c.seatedCode(); got != code {
		t.Fatalf("let into %q, want %q", got, code)
	}
	for _, p := range []*page{a, b, c} {
		p.wait("three in the room, no knock left", "document.querySelectorAll('#who li').length === 3 && document.getElementById('knocks').hidden")
	}
	c.typeKeys("thanks")
	a.wait("c's words", `[...document.querySelectorAll('.lane:not(.own) .text')].some(t => t.textContent.includes('thanks'))`)
	if locked := eval[string](c, "document.getElementById('lock').textContent"); locked != "Lock: on" {
		t.Fatalf("c's lock button says %q in a locked room", locked)
	}

	// Two more knock, from two addresses: one line, with a count. The
	// oldest is answered first.
	knock := map[string]string{"t": "hello", "op": "knock", "code": code}
	for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
		if _, first := webSeat(t, s.WebAddr(), from, knock); first != "knocking" {
			t.Fatalf("knocking from %s: %q", from, first)
		}
	}
	b.wait("two knocks on one line", "!document.getElementById('knocks').hidden && / knocks \\(\\+1\\)$/.test(document.getElementById('knocktext').textContent)")
	a.click("Turn away", "/\\(\\+1\\)$/.test(document.getElementById('knocktext').textContent) && document.getElementById('turnaway')")
	for _, p := range []*page{a, b, c} {
		p.wait("one knock left", "!document.getElementById('knocks').hidden && / knocks$/.test(document.getElementById('knocktext').textContent)")
	}
	c.click("Let in", "/ knocks$/.test(document.getElementById('knocktext').textContent) && document.getElementById('letin')")
	for _, p := range []*page{a, b, c} {
		p.wait("four in the room, no knock left", "document.querySelectorAll('#who li').length === 4 && document.getElementById('knocks').hidden")
	}
}

// What a hostile socket types into the lobby is inert on a browser's
// page there: no markup, no control characters, no reordering.
func TestBrowserLobbyHostileTextIsInert(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 30 * time.Second; c.KeyBurst = 100000 })
	p := openPage(t, webURL(s)+"/lobby")
	p.lobbyName()
	ctx, cancel := context.WithTimeout(context.Background(), sshtest.Timeout)
	defer cancel()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	mallory, _, err := websocket.Dial(ctx, "ws://"+s.WebAddr()+"/ws", &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	defer mallory.CloseNow()
	send := func(f map[string]any) {
		b, _ := json.Marshal(f)
		if err := mallory.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"t": "hello", "op": "lobby"})
	_, b, err := mallory.Read(ctx)
	var seated struct {
		T string
		P struct{ Name string }
	}
	if err == nil {
		err = json.Unmarshal(b, &seated)
	}
	if err != nil || seated.T != "seated" || seated.P.Name == "" {
		t.Fatalf("mallory in the lobby: %s, %v", b, err)
	}
	// Mallory's own socket is read (and answers pings) all along.
	go func() {
		for {
			_, b, err := mallory.Read(ctx)
			if err != nil {
				return
			}
			var f struct{ T, S string }
			if json.Unmarshal(b, &f) == nil && f.T == "ping" {
				b, _ = json.Marshal(map[string]string{"t": "pong", "s": f.S})
				_ = mallory.Write(ctx, websocket.MessageText, b)
			}
		}
	}()
	name := seated.P.Name
	p.wait("mallory listed", row(name))
	for i, attack := range append(attacks, `<img src=x onerror="window.pwned=1">`, `<script>window.pwned=2</script>`) {
		send(map[string]any{"t": "paste", "s": attack})
		send(map[string]any{"t": "nl"})
		send(map[string]any{"t": "type", "s": fmt.Sprintf("#%d", i)})
		send(map[string]any{"t": "nl"})
		p.waitLane(name, fmt.Sprintf("#%d", i))
	}
	p.inert(name)
}

// A member whose connection drops while the room is locked comes back to
// the door, knocks, and is let in again.
func TestBrowserKnocksBackIntoItsLockedRoom(t *testing.T) {
	s := startServer(t)
	cut := proxyTo(t, s.WebAddr())
	a := openPage(t, "http://"+cut.addr+"/")
	b, code := joinGroup(t, s, a)
	a.wait("b in the room", "document.querySelectorAll('#who li').length === 2")
	b.click("the Lock button", "!document.getElementById('lock').hidden && document.getElementById('lock')")
	a.wait("the room locked", "document.getElementById('lock').textContent === 'Lock: on'")
	cut.drop()
	a.wait("the door, with Knock", "!document.getElementById('door').hidden && document.getElementById('doortext').textContent.includes('is locked') && !document.getElementById('knock').hidden")
	a.do(chromedp.Click(chromedp.ID("knock")))
	b.click("Let in", "!document.getElementById('knocks').hidden && document.getElementById('letin')")
	if got := a.seatedCode(); got != code {
		t.Fatalf("back in %q, want %q", got, code)
	}
	a.wait("back in the locked room", "document.querySelectorAll('#who li').length === 2 && document.getElementById('lock').textContent === 'Lock: on'")
	a.typeKeys("back in")
	b.wait("a's words", `[...document.querySelectorAll('.lane:not(.own) .text')].some(t => t.textContent.includes('back in'))`)
}
