package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

// One Chromium for the whole package (it takes seconds to start on two
// cores); each test opens its own windows in it.
var chrome struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

// chromium is Debian's browser, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// browser returns a context for the shared browser, starting it on first
// use. Without Chromium the test is skipped, except in CI (CI=true), where
// that is a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	needChromium(t)
	chrome.once.Do(func() {
		// A rebinding attacker's name, resolved to this machine.
		chrome.ctx, chrome.cancel, chrome.err = startChromium(chromedp.Flag("host-resolver-rules", "MAP evil.example 127.0.0.1"))
	})
	if chrome.err != nil {
		t.Fatalf("starting Chromium: %v", chrome.err)
	}
	return chrome.ctx
}

// startChromium starts a Chromium of its own with extra flags added.
func startChromium(extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc, error) {
	dir, err := os.MkdirTemp("", "hush-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.WindowSize(800, 600),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	ctx, cancel := chromedp.NewContext(alloc)
	stop := func() { cancel(); cancelAlloc(); _ = os.RemoveAll(dir) }
	// The browser lives as long as the context its first action ran on:
	// this one, not one with a deadline.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

// needChromium skips the test without Chromium, except in CI (CI=true),
// where that is a failure.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs Chromium at %s: %v", chromium, err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium); CI runs this test", chromium)
	}
}

func stopBrowser() {
	if chrome.cancel != nil {
		chrome.cancel()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	removeBinaries()
	os.Exit(code)
}

// page is one browser window on a hush page.
type page struct {
	t   *testing.T
	ctx context.Context
}

// openPage opens url in a new window of the shared browser, closed when
// the test ends.
func openPage(t *testing.T, url string) *page {
	t.Helper()
	return openPageIn(t, browser(t), url)
}

// openPageIn opens url in a new window of the browser at browserCtx.
func openPageIn(t *testing.T, browserCtx context.Context, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	// The window lives as long as the context its first action ran on:
	// open it on this one, then give each action a deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a window: %v", err)
	}
	p := &page{t: t, ctx: ctx}
	p.do(chromedp.Navigate(url))
	return p
}

// do runs steps, failing the test after sshtest.Timeout.
func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, sshtest.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, sshtest.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition until it holds.
func (p *page) wait(what, cond string) {
	p.t.Helper()
	if !wait.Poll(sshtest.Timeout, func() bool { return eval[bool](p, "!!("+cond+")") }) {
		p.t.Fatalf("timed out waiting for %s (%s); page text:\n%s", what, cond, eval[string](p, "document.body.innerText"))
	}
}

// laneText is what a person's lane shows now (their name, or "you").
func (p *page) laneText(who string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`(() => { for (const l of document.querySelectorAll('.lane')) { if (%s) return l.querySelector('.text').textContent } return '' })()`, laneMatch(who)))
}

func laneMatch(who string) string {
	if who == "you" {
		return "l.classList.contains('own')"
	}
	return fmt.Sprintf("!l.classList.contains('own') && l.querySelector('.name').textContent.startsWith(%q)", who)
}

// waitLane waits until who's lane contains s.
func (p *page) waitLane(who, s string) {
	p.t.Helper()
	p.wait(fmt.Sprintf("%q in %s's lane", s, who), fmt.Sprintf(`(() => { for (const l of document.querySelectorAll('.lane')) { if (%s && l.querySelector('.text').textContent.includes(%q)) return true } return false })()`, laneMatch(who), s))
}

// others is the lane of the first person who is not you.
const others = "!l.classList.contains('own')"

// typeKeys types s as key presses into the focused element.
func (p *page) typeKeys(s string) {
	p.t.Helper()
	p.do(chromedp.KeyEvent(s))
}

// seatedCode waits until the page is in a room and returns its code.
func (p *page) seatedCode() string {
	p.t.Helper()
	p.wait("a seat", "location.pathname.length > 1 && !document.getElementById('type').disabled && document.querySelector('.lane.own')")
	return strings.TrimPrefix(eval[string](p, "location.pathname"), "/")
}

func webURL(s *server) string { return "http://" + s.WebAddr() }

// joinGroup has a open a group and a second page, b, take a seat in it
// from the link; it returns b and the room's code.
func joinGroup(t *testing.T, s *server, a *page) (*page, string) {
	t.Helper()
	a.do(chromedp.Click(chromedp.ID("group")))
	code := a.seatedCode()
	b := openPage(t, webURL(s)+"/"+code)
	b.seatedCode()
	return b, code
}

// sshName is the SSH member's name as the page shows it: the first word of
// their lane header on their own screen.
func sshName(term *sshtest.Term) string {
	for _, l := range term.Lines() {
		if strings.Contains(l, "· you") {
			name, _, _ := strings.Cut(strings.TrimLeft(l, "● "), " ")
			return name
		}
	}
	return ""
}

func TestBrowserAndSSHTalk(t *testing.T) {
	s := startServer(t)
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	// The waiting screen gives the web link under the ssh command.
	link := webURL(s) + "/" + code
	if !strings.Contains(alice.Screen(), strings.Replace(link, "127.0.0.1", "chat.test", 1)) {
		t.Fatalf("no web link on the waiting screen:\n%s", alice.Screen())
	}
	p := openPage(t, link)
	p.seatedCode()
	alice.WaitText("joined")
	// The text box has focus from the start: typing just works.
	if id := eval[string](p, "document.activeElement.id"); id != "type" {
		t.Fatalf("focus on %q, want the text box", id)
	}
	p.typeKeys("hello from a browser")
	alice.WaitText("hello from a browser")
	p.waitLane("you", "hello from a browser")

	alice.Type("hi from ssh")
	p.waitLane(sshName(alice), "hi from ssh")
	// Enter starts a new line on the other screen.
	p.typeKeys("\r")
	p.typeKeys("second line")
	alice.WaitText("second line")
	if lineOf(alice, "hello from a browser") == lineOf(alice, "second line") {
		t.Fatalf("Enter did not start a new line:\n%s", alice.Screen())
	}
	// Backspace sends nothing and says so, once.
	p.typeKeys("\b")
	p.wait("the no-backspace note", "document.getElementById('notice').textContent.includes('no backspace')")

	// Everything fades to nothing on the page, in place.
	p.wait("alice's words to fade away", fmt.Sprintf(`[...document.querySelectorAll('.lane')].filter(l => %s).every(l => [...l.querySelectorAll('.text span')].every(s => s.classList.contains('gone')))`, others))

	// Nothing kept in the browser either.
	if got := eval[string](p, `(async () => [document.cookie, localStorage.length, sessionStorage.length, (await indexedDB.databases()).length, !!navigator.serviceWorker.controller].join('|'))()`); got != "|0|0|0|false" {
		t.Fatalf("the page kept something: cookie|localStorage|sessionStorage|indexedDB|service worker = %s", got)
	}
}

func TestBrowserOpensSSHJoins(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Metrics = "127.0.0.1:0" })
	p := openPage(t, webURL(s)+"/")
	// Loading / opens nothing; the button does.
	p.wait("the start page", "!document.getElementById('start').hidden")
	if n := s.App.Sessions(); n != 0 {
		t.Fatalf("loading the page opened %d sessions", n)
	}
	p.do(chromedp.Click(chromedp.ID("new")))
	code := p.seatedCode()
	p.wait("the invite", "!document.getElementById('invite').hidden && document.getElementById('link').textContent.endsWith(location.pathname)")
	if !regexp.MustCompile(`^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$`).MatchString(code) {
		t.Fatalf("code %q", code)
	}
	if ssh := eval[string](p, "document.getElementById('ssh').textContent"); !strings.Contains(ssh, code+"@chat.test") {
		t.Fatalf("ssh command on the page: %q", ssh)
	}
	bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	bob.WaitText("guest") // the browser member shows as a guest
	waitMetrics(t, s.MetricsAddr(), metric{name: "hush_web_sessions", want: 1}, metric{name: "hush_sessions", want: 1},
		metric{name: "hush_joins_total", labels: []string{"op", "new"}, want: 1}, metric{name: "hush_joins_total", labels: []string{"op", "join"}, want: 1})
	p.wait("bob in the list", "document.querySelectorAll('#who li').length === 2 && document.getElementById('invite').hidden")
	bob.Type("typed on ssh")
	p.waitLane(sshName(bob), "typed on ssh")
	p.typeKeys("typed in chromium")
	bob.WaitText("typed in chromium")
	// Leaving ends the page's seat; bob sees it.
	p.do(chromedp.Click(chromedp.ID("leave")))
	bob.WaitText("left")
	p.wait("the goodbye", "document.getElementById('problem').textContent.includes('Nothing was kept')")
}

func TestBrowserRefusals(t *testing.T) {
	s := startServer(t)
	// A room that ended: its code is known to nobody now.
	gone, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	gone.Type("\x04")
	gone.Exit()
	p := openPage(t, webURL(s)+"/"+code)
	p.wait("the unknown-code sentence", "document.getElementById('problem').textContent.includes('No room') && document.getElementById('problem').textContent.includes('is open here')")
	p.wait("a way to start a room", "!document.getElementById('start').hidden && document.activeElement.id === 'new'")

	_, _, code = openPair(t, s.Addr())
	full := openPage(t, webURL(s)+"/"+code)
	full.wait("the full-room sentence", "document.getElementById('problem').textContent.includes('is full')")
	// A path that cannot be a code is not the page at all.
	resp, err := http.Get(webURL(s) + "/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /etc/passwd: %d", resp.StatusCode)
	}
}

func TestBrowserGroup(t *testing.T) {
	s := startServer(t)
	a := openPage(t, webURL(s)+"/")
	b, code := joinGroup(t, s, a)
	carol := sshtest.Dial(t, s.Addr(), code, sshtest.Options{})
	for _, p := range []*page{a, b} {
		p.wait("three people listed", "document.querySelectorAll('#who li').length === 3")
	}
	carol.Type("carol here")
	a.waitLane(sshName(carol), "carol here")
	b.waitLane(sshName(carol), "carol here")
	b.typeKeys("b here")
	carol.WaitText("b here")
	a.wait("b's words on a's page", `[...document.querySelectorAll('.lane:not(.own) .text')].some(t => t.textContent.includes('b here'))`)
}

// A page on another origin cannot use a visitor's browser to reach hush.
func TestBrowserForeignOriginRefused(t *testing.T) {
	s := startServer(t)
	evil := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><title>evil</title>`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go evil.Serve(ln)
	t.Cleanup(func() { evil.Close() })
	p := openPage(t, "http://"+ln.Addr().String()+"/")
	got := eval[string](p, fmt.Sprintf(`new Promise(done => {
		const ws = new WebSocket('ws://%s/ws');
		ws.onopen = () => done('opened');
		ws.onclose = () => done('closed');
		setTimeout(() => done('timeout'), 5000);
	})`, s.WebAddr()))
	if got != "closed" {
		t.Fatalf("a socket from a foreign page: %s", got)
	}
	if n := s.App.Sessions(); n != 0 {
		t.Fatalf("%d sessions", n)
	}
}

func TestBrowserHeaders(t *testing.T) {
	s := startServer(t)
	ctx, cancel := chromedp.NewContext(browser(t))
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	tctx, done := context.WithTimeout(ctx, sshtest.Timeout)
	defer done()
	resp, err := chromedp.Run(tctx, chromedp.NavigateResponse(webURL(s)+"/"))
	if err != nil {
		t.Fatal(err)
	}
	csp, _ := resp.Headers["Content-Security-Policy"].(string)
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src ws://"+s.WebAddr()) || !strings.Contains(csp, "require-trusted-types-for 'script'") {
		t.Fatalf("CSP %q", csp)
	}
	// The policy does not stop the page itself: it runs and shows the start.
	p := &page{t: t, ctx: ctx}
	p.wait("the start page under the policy", "!document.getElementById('start').hidden")
}

// What a hostile SSH member pastes is inert on the page: no markup, no
// control characters, no reordering.
func TestBrowserHostilePasteIsInert(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 30 * time.Second; c.KeyBurst = 100000 })
	mallory, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	p := openPage(t, webURL(s)+"/"+code)
	p.seatedCode()
	mallory.WaitText("joined")
	for i, attack := range append(attacks, `<img src=x onerror="window.pwned=1">`, `<script>window.pwned=2</script>`, `javascript:alert(1)`) {
		mallory.Paste(attack)
		mallory.Type(fmt.Sprintf("\r#%d\r", i))
		p.waitLane(sshName(mallory), fmt.Sprintf("#%d", i))
	}
	p.inert(sshName(mallory))
}

// inert checks that what name typed shows on the page as plain text only:
// no control or bidi character, no element but lines and spans, no script
// run.
func (p *page) inert(name string) {
	t := p.t
	t.Helper()
	text := p.laneText(name)
	for _, bad := range []string{"\x1b", "\u202e", "\u2066", "\u009b", "\x07", "\x08", "\x7f"} {
		if strings.Contains(text, bad) {
			t.Errorf("the page shows %q", bad)
		}
	}
	if n := eval[int](p, `document.querySelectorAll('.lane .text :not(div.line):not(span)').length`); n != 0 {
		t.Errorf("%d elements other than lines and spans in the lanes", n)
	}
	if pwned := eval[bool](p, "'pwned' in window"); pwned {
		t.Fatal("markup typed by " + name + " ran")
	}
}

// A phone keyboard sends no key events: composition, then inserted text.
func TestBrowserPhoneKeyboard(t *testing.T) {
	s := startServer(t)
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	p := openPage(t, webURL(s)+"/"+code)
	p.seatedCode()
	alice.WaitText("joined")
	p.do(
		chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			for _, s := range []string{"h", "he", "hel", "hell", "hello"} {
				if _, err := cdp.Call(ctx, t, input.ImeSetComposition, input.ImeSetCompositionParams{Text: s, SelectionStart: int64(len(s)), SelectionEnd: int64(len(s))}); err != nil {
					return err
				}
			}
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: "hello"})
			if err != nil {
				return err
			}
			_, err = cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: " phone"})
			return err
		}),
	)
	alice.WaitText("hello phone")
	if strings.Count(alice.Screen(), "hello") != 1 {
		t.Fatalf("the composition was sent more than once:\n%s", alice.Screen())
	}
	// The page fits a small phone: nothing wider than the screen.
	if w := eval[int](p, "document.documentElement.scrollWidth"); w > 320 {
		t.Fatalf("page %d px wide on a 320 px screen", w)
	}
}

// After the server drops the socket, the page comes back on its own and
// rejoins fresh.
func TestBrowserReconnects(t *testing.T) {
	s := startServer(t)
	cut := proxyTo(t, s.WebAddr())
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	p := openPage(t, "http://"+cut.addr+"/"+code)
	p.seatedCode()
	alice.WaitText("joined")
	cut.drop()
	p.wait("the page to notice", "document.getElementById('notice').textContent.includes('Reconnecting')")
	alice.WaitText("left")
	p.wait("the page back in the room", "!document.getElementById('type').disabled && document.querySelectorAll('#who li').length === 2")
	p.typeKeys("back again")
	alice.WaitText("back again")
}

// proxy passes TCP to a server and can drop every connection at once.
type proxy struct {
	addr string
	mu   sync.Mutex
	open []net.Conn
}

func proxyTo(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close(); p.drop() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// TestBrowserScreenshot takes the README's picture of a conversation. Set
// HUSH_SCREENSHOT=1 to write it to docs/web.png.
func TestBrowserScreenshot(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = time.Minute })
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	p := openPage(t, webURL(s)+"/"+code)
	p.seatedCode()
	p.do(chromedp.EmulateViewport(720, 420))
	alice.Type("are you on your phone?")
	p.waitLane(sshName(alice), "phone?")
	p.typeKeys("yes, no ssh here. it just works")
	alice.WaitText("it just works")
	p.waitLane("you", "it just works")
	shot, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 700 {
		t.Fatalf("screenshot: %v", err)
	}
	if os.Getenv("HUSH_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join("..", "docs", "web.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The page answers the server's liveness questions: with --stall-timeout
// 1s, a tab stays seated through 4 s of its peer typing (four stall
// timeouts, so at least two questions were asked and answered).
func TestBrowserAnswersLiveness(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Stall = time.Second; c.Linger = 30 * time.Second })
	alice, code := openRoom(t, s.Addr(), "new", sshtest.Options{})
	p := openPage(t, webURL(s)+"/"+code)
	p.seatedCode()
	alice.WaitText("joined")
	for start := time.Now(); time.Since(start) < 4*time.Second; time.Sleep(200 * time.Millisecond) {
		alice.Type("x")
	}
	alice.Type(" done")
	p.waitLane(sshName(alice), "done")
	if strings.Contains(alice.Screen(), "left") {
		t.Fatalf("the tab was dropped while it read everything:\n%s", alice.Screen())
	}
}

// DNS rebinding in a real browser: evil.example resolves to this server.
// The page loaded by that name is a 421, and a socket opened from it is
// refused; nothing is seated.
func TestBrowserRebindingRefused(t *testing.T) {
	s := startServer(t)
	_, port, _ := net.SplitHostPort(s.WebAddr())
	p := openPage(t, "http://evil.example:"+port+"/")
	if body := eval[string](p, "document.body.innerText"); !strings.Contains(body, "does not serve this host name") {
		t.Fatalf("the page by a foreign name: %q", body)
	}
	got := eval[string](p, `new Promise(done => {
		const ws = new WebSocket('ws://' + location.host + '/ws');
		ws.onopen = () => done('opened');
		ws.onclose = () => done('closed');
		setTimeout(() => done('timeout'), 5000);
	})`)
	if got != "closed" {
		t.Fatalf("a socket from the rebound page: %s", got)
	}
	if n := s.App.Sessions(); n != 0 {
		t.Fatalf("%d sessions", n)
	}
}
