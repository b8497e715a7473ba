package app

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/session"
)

// LogStartup logs what someone starting hush needs to know, once it
// serves: where it listens (msg=listening addr=…, which tools wait for),
// the host key's fingerprint (to publish, so people can check it on first
// connect), a warning if --host names this machine only while others can
// connect, and the command to try it with. cfg is what a was started with.
// It never logs the salt.
func (a *App) LogStartup(log *slog.Logger, cfg Config) {
	addr := a.ln.Addr()
	log.Info("listening", "addr", addr.String())
	key := filepath.Join(cfg.Data, "host_ed25519")
	if fp, err := hostKeyFingerprint(key); err != nil {
		log.Warn("cannot read the host key's fingerprint", "err", err)
	} else {
		log.Info("host key", "fingerprint", fp, "file", key)
	}
	port := 0
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port = tcp.Port
	}
	if localOnlyHost(cfg.Host) && !loopbackOnly(addr) {
		log.Warn("--host names only this machine, so invites work only here, yet others can connect: "+
			"set --host (HUSH_HOST) to the name people will ssh to", "host", cfg.Host, "addr", addr.String())
	}
	log.Info("try it", "command", session.Invite(cfg.Host, port, "new"))
	if a.web != nil {
		log.Info("web listening", "addr", a.web.addr(), "page", strings.TrimSuffix(a.web.link(cfg.Host)(""), "/"))
	}
}

// hostKeyFingerprint reads the private host key at path and returns its
// public key's SHA256 fingerprint as `ssh-keygen -lf` shows it
// ("SHA256:…", unpadded base64): what a client is asked to accept.
func hostKeyFingerprint(path string) (string, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return gossh.FingerprintSHA256(signer.PublicKey()), nil
}

// localOnlyHost says whether host (--host, name[:port]) is a name or
// address that leads only to the machine it is typed on: localhost and
// its kin, a loopback address, or the unspecified address.
func localOnlyHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	switch host {
	case "", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback":
		return true
	}
	if strings.HasSuffix(host, ".localhost") {
		return true // RFC 6761
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback() || ip.IsUnspecified()
	}
	return false
}

// loopbackOnly says whether a listener on addr can be reached from this
// machine only.
func loopbackOnly(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
