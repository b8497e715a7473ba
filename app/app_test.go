package app

import (
	"fmt"
	"testing"
)

func TestParsePrefixes(t *testing.T) {
	ps, err := parsePrefixes(" 10.0.0.0/8 ,192.0.2.1,::ffff:198.51.100.1, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(ps)
	if want := "[10.0.0.0/8 192.0.2.1/32 198.51.100.1/32 2001:db8::/32]"; got != want {
		t.Fatalf("prefixes %s, want %s", got, want)
	}
	if _, err := parsePrefixes("10.0.0.0/8,bogus"); err == nil {
		t.Fatal("bogus accepted")
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{":2222": "127.0.0.1:2222", "0.0.0.0:9222": "127.0.0.1:9222", "[::]:22": "[::1]:22", "10.1.2.3:9": "10.1.2.3:9"} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}
