package names

import (
	"crypto/ed25519"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

func TestFromKeyIsStable(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	pk, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	h1, b1 := FromKey(pk.Marshal())
	h2, b2 := FromKey(pk.Marshal())
	if h1 != h2 || b1 != b2 {
		t.Fatalf("same key, different names: %s/%s vs %s/%s", h1, b1, h2, b2)
	}
	if len(strings.Split(h1, "-")) != 2 || len(b1) != badgeLen {
		t.Fatalf("handle %q badge %q", h1, b1)
	}
	// The badge is the start of the fingerprint OpenSSH shows.
	if fp := gossh.FingerprintSHA256(pk); !strings.HasPrefix(fp, "SHA256:"+b1) {
		t.Fatalf("badge %q is not a prefix of %q", b1, fp)
	}
}

func TestGuestIsMarked(t *testing.T) {
	g := Guest()
	if !strings.HasPrefix(g, "guest-") {
		t.Fatalf("guest name %q", g)
	}
	for _, w := range append(adjectives, animals...) {
		if w == "guest" || strings.ContainsAny(w, "- ") {
			t.Fatalf("word %q could blur guests and key holders", w)
		}
	}
}
