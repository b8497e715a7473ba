package e2e

// Pictures that fade: sent with `ssh CODE@HOST pic < file` by the real
// OpenSSH client, shown veiled, revealed with tab enter, gone after.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/picturetest"
	"github.com/hush-chat/hush/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// sshPic runs `ssh -p PORT [-i key] user@127.0.0.1 pic [tok] < file` with
// the real OpenSSH client (no terminal: stdin is the file) and returns its
// exit status and standard error.
func sshPic(t *testing.T, addr, user, key, tok, file string) (int, string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-F", "/dev/null", "-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"}
	if key != "" {
		args = append(args, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey", "-i", key)
	} else { // a guest: keyboard-interactive with no questions, which BatchMode would refuse
		args = append(args, "-o", "PubkeyAuthentication=no")
	}
	args = append(args, user+"@"+host, "pic")
	if tok != "" {
		args = append(args, tok)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("ssh", args...)
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("the OpenSSH client is needed: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(sshtest.Timeout):
		_ = cmd.Process.Kill()
		t.Fatalf("ssh … pic did not finish: %s", stderr.String())
	}
	return cmd.ProcessState.ExitCode(), strings.TrimSpace(stderr.String())
}

// keyFile writes a fresh ed25519 key for OpenSSH and returns its path.
func keyFile(t *testing.T) string {
	t.Helper()
	path, _ := keyPair(t)
	return path
}

// keyPair writes a fresh ed25519 key for OpenSSH and returns its path and
// the key as x/crypto signs with it.
func keyPair(t *testing.T) (string, gossh.Signer) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return path, signer
}

// halves writes a PNG whose left half is red and right half blue.
func halves(t *testing.T) string {
	t.Helper()
	return writeFile(t, "halves.png", picturetest.Halves(64, 32))
}

// gradient writes a PNG that runs from red on the left to blue on the
// right: every column differs, so a veil (blocks of one colour) shows.
func gradient(t *testing.T) string {
	t.Helper()
	return writeFile(t, "gradient.png", picturetest.Gradient(64, 32))
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pictureCells finds the picture's cells on term (drawn as half-blocks:
// a background colour, and ▀ in another foreground where the two pixels
// of a cell differ) and returns the colours of the first row's leftmost
// and rightmost cell.
func pictureCells(term *sshtest.Term, w, h int) (left, right color.Color, ok bool) {
	for y := range h {
		x0, x1 := -1, -1
		for x := range w {
			if _, _, bg := term.CellAt(x, y); bg != nil {
				if x0 < 0 {
					x0 = x
				}
				x1 = x
			}
		}
		if x0 >= 0 {
			_, _, left = term.CellAt(x0, y)
			_, _, right = term.CellAt(x1, y)
			return left, right, true
		}
	}
	return nil, nil, false
}

func redder(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r > 2*b && r > 2*g
}

func bluer(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return b > 2*r && b > 2*g
}

func TestPictureOverSSH(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 3 * time.Second })
	key := keyFile(t)
	alice := openssh(t, s.Addr(), "new", key)
	code := sshtest.InviteCode(t, alice, s.Addr())
	bob := sshtest.Dial(t, s.Addr(), code, sshtest.Options{Width: 100, Height: 30, Env: map[string]string{"COLORTERM": "truecolor"}})
	alice.WaitText("joined")

	// Refused before anything reaches the room, each with its sentence
	// and exit status 1.
	if got, msg := sshPic(t, s.Addr(), code, key, "", writeFile(t, "notes.txt", []byte("just text"))); got != 1 || msg != "Only PNG, JPEG, GIF or WebP pictures." {
		t.Fatalf("a text file: exit %d, %q", got, msg)
	}
	if got, msg := sshPic(t, s.Addr(), code, keyFile(t), "", halves(t)); got != 1 || !strings.Contains(msg, "Your key is not in that room") {
		t.Fatalf("a key not in the room: exit %d, %q", got, msg)
	}
	if got, msg := sshPic(t, s.Addr(), "new", key, "", halves(t)); got != 1 || !strings.Contains(msg, "Pictures go to a room") {
		t.Fatalf("pic to new: exit %d, %q", got, msg)
	}

	// From alice's own key: bob sees it veiled, reveals it, it fades.
	if got, msg := sshPic(t, s.Addr(), code, key, "", halves(t)); got != 0 || msg != "sent to room "+code {
		t.Fatalf("pic from a seated key: exit %d, %q", got, msg)
	}
	bob.WaitText("sent a picture · tab enter shows it")
	t.Logf("bob's screen, veiled (the picture's rows are coloured cells):\n%s", bob.Screen())
	if l, r, ok := pictureCells(bob, 100, 30); !ok || redder(r) || bluer(l) {
		t.Fatalf("veiled: want a smear, got left %v right %v:\n%s", l, r, bob.Screen())
	}
	bob.Type("\t")
	bob.WaitText("Picking")
	bob.Type("\r")
	bob.WaitFor("the picture in its colours", func(string) bool {
		l, r, ok := pictureCells(bob, 100, 30)
		return ok && redder(l) && bluer(r)
	})
	bob.WaitFor("the picture to fade away", func(string) bool { _, _, ok := pictureCells(bob, 100, 30); return !ok })

	// Within 20 s of alice's first, her second is refused.
	if got, msg := sshPic(t, s.Addr(), code, key, "", halves(t)); got != 1 || msg != "One picture every 20 seconds." {
		t.Fatalf("a second picture at once: exit %d, %q", got, msg)
	}

	// Bob, a guest, gets a one-time line with ctrl+p; it works once.
	bob.Type("\x10")
	bob.WaitText("To send a picture, run:")
	m := regexp.MustCompile(` pic ([a-z0-9]+) < picture\.png`).FindStringSubmatch(bob.Screen())
	if m == nil {
		t.Fatalf("no one-time line:\n%s", bob.Screen())
	}
	if got, msg := sshPic(t, s.Addr(), code, "", m[1], halves(t)); got != 0 || msg != "sent to room "+code {
		t.Fatalf("the one-time line: exit %d, %q", got, msg)
	}
	alice.WaitText("sent a picture · tab enter shows it")
	if got, msg := sshPic(t, s.Addr(), code, "", m[1], halves(t)); got != 1 || !strings.Contains(msg, "has been used") {
		t.Fatalf("the one-time line again: exit %d, %q", got, msg)
	}

	// Typing goes on after all of it.
	bob.Type("still here")
	alice.WaitText("still here")
}

// A decompression bomb costs nothing and is refused; pictures can be
// turned off server-wide.
func TestPictureRefusals(t *testing.T) {
	s := startServer(t)
	key := keyFile(t)
	alice := openssh(t, s.Addr(), "new", key)
	code := sshtest.InviteCode(t, alice, s.Addr())
	bomb := bombPNG(t)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for range 3 {
		if got, msg := sshPic(t, s.Addr(), code, key, "", bomb); got != 1 || !strings.HasPrefix(msg, "That picture is too large") {
			t.Fatalf("a bomb: exit %d, %q", got, msg)
		}
	}
	// The server runs in this process: three bombs of 10 gigapixels each
	// leave its heap where it was (a few MB of noise from the sessions).
	if after := heap(); after > before+8<<20 {
		t.Fatalf("three bombs grew the heap from %d to %d bytes", before, after)
	}
	alice.Type("talking")
	alice.WaitText("talking")

	off := startServer(t, func(c *app.Config) { c.Pictures = false })
	bob := openssh(t, off.Addr(), "new", key)
	offCode := sshtest.InviteCode(t, bob, off.Addr())
	if got, msg := sshPic(t, off.Addr(), offCode, key, "", halves(t)); got != 1 || msg != "Pictures are off on this server." {
		t.Fatalf("pictures off: exit %d, %q", got, msg)
	}
}

// bombPNG is a PNG whose header claims 100,000 × 100,000 pixels.
func bombPNG(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	// IHDR's width and height follow the 8-byte signature, the chunk's
	// length and its type; its CRC covers type and data (13 bytes).
	for i, v := range []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0} {
		raw[16+i] = v
	}
	crc := crc32.ChecksumIEEE(raw[12:29])
	raw[29], raw[30], raw[31], raw[32] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return writeFile(t, "bomb.png", raw)
}

// A picture from a terminal is drawn on the page, veiled until shown; a
// picture chosen on the page reaches the terminal, veiled there too.
func TestPictureBetweenPageAndSSH(t *testing.T) {
	s := startServer(t, func(c *app.Config) { c.Linger = 3 * time.Second })
	key := keyFile(t)
	alice := openssh(t, s.Addr(), "new", key)
	code := sshtest.InviteCode(t, alice, s.Addr())
	p := openPage(t, webURL(s)+"/"+code)
	p.seatedCode()
	alice.WaitText("joined")

	if got, msg := sshPic(t, s.Addr(), code, key, "", gradient(t)); got != 0 {
		t.Fatalf("pic from a seated key: exit %d, %q", got, msg)
	}
	p.wait("a veiled picture", "document.querySelector('.pic.veiled canvas') && !document.getElementById('showpic').hidden")
	pixel := func(x string) []float64 {
		return eval[[]float64](p, `(() => { const c = document.querySelector('.pic canvas'); return Array.from(c.getContext('2d').getImageData(`+x+`, 1, 1, 1).data.slice(0, 3)) })()`)
	}
	red := func(c []float64) bool { return c[0] > 200 && c[1] < 60 && c[2] < 60 }
	blue := func(c []float64) bool { return c[2] > 200 && c[0] < 60 && c[1] < 60 }
	// Veiled: a block of one colour where the picture has many.
	if a, b := pixel("1"), pixel("12"); a[0] != b[0] || a[2] != b[2] {
		t.Fatalf("the veil shows the picture's columns: %v, %v", a, b)
	}
	p.do(chromedp.Click(chromedp.ID("showpic")))
	p.wait("the picture shown", "document.querySelector('.pic canvas') && !document.querySelector('.pic.veiled')")
	if l, r := pixel("1"), pixel("c.width - 2"); !red(l) || !blue(r) || l[0] == pixel("12")[0] {
		t.Fatalf("shown: left %v, right %v; want red, then blue, every column its own", l, r)
	}
	p.wait("the picture to fade away", "!document.querySelector('.pic')")

	// From the page: a pasted picture, shrunk on a canvas, sent in a
	// binary frame, checked again by the server.
	eval[bool](p, `(async () => {
		const c = document.createElement('canvas'); c.width = 64; c.height = 32;
		const g = c.getContext('2d'); g.fillStyle = '#f00'; g.fillRect(0, 0, 32, 32); g.fillStyle = '#00f'; g.fillRect(32, 0, 32, 32);
		const blob = await new Promise((done) => c.toBlob(done, 'image/png'));
		const dt = new DataTransfer(); dt.items.add(new File([blob], 'pasted.png', { type: 'image/png' }));
		document.getElementById('type').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
		return true })()`)
	alice.WaitText("sent a picture · tab enter shows it")
	p.wait("the page's own picture in its lane", "document.querySelector('.lane.own .pic canvas')")
	alice.Type("\t")
	alice.Type("\r")
	alice.WaitFor("the pasted picture in its colours", func(string) bool {
		l, r, ok := pictureCells(alice, 80, 24)
		return ok && redder(l) && bluer(r)
	})

	// And from the file picker, after the 20 s a sender waits between two:
	// the server says so, on the page.
	p.do(chromedp.SetUploadFiles(chromedp.ID("picfile"), []string{halves(t)}))
	p.wait("the one-picture-every-20-seconds hint", "document.getElementById('notice').textContent.includes('One picture every 20 seconds.')")
}

// Across two nodes through NATS: a picture sent to one node reaches a
// viewer on the other (its small pixels cross once; the original never).
func TestPictureAcrossNodes(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	n := startNATS(t, natsBin, 0)
	a := startNode(t, hush, t.TempDir(), nil, n.url, "--node", "a")
	b := startNode(t, hush, t.TempDir(), a, n.url, "--node", "b")
	key := keyFile(t)
	alice := openssh(t, a.addr, "new", key)
	code := sshtest.InviteCode(t, alice, a.addr)
	bob := sshtest.Dial(t, b.addr, code, sshtest.Options{Width: 100, Height: 30, Env: map[string]string{"HUSH_PICTURES": "show"}})
	alice.WaitText("joined")
	if got, msg := sshPic(t, a.addr, code, key, "", halves(t)); got != 0 || msg != "sent to room "+code {
		t.Fatalf("pic on node a: exit %d, %q", got, msg)
	}
	// HUSH_PICTURES=show: shown at once, no veil.
	bob.WaitFor("the picture in its colours on node b", func(string) bool {
		l, r, ok := pictureCells(bob, 100, 30)
		return ok && redder(l) && bluer(r)
	})
}
