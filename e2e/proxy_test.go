package e2e

// Behind a TCP load balancer that sends PROXY protocol headers.

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	gossh "golang.org/x/crypto/ssh"

	"github.com/hush-chat/hush/app"
	"github.com/hush-chat/hush/internal/sshtest"
)

// clientBanner is how an SSH client starts talking.
var clientBanner = []byte("SSH-2.0-Go\r\n")

func TestProxyProtocol(t *testing.T) {
	t.Run("trusted proxy header is used", func(t *testing.T) {
		s := startServer(t, func(c *app.Config) {
			c.ProxyProtocol = true
			c.TrustedProxies = "10.0.0.0/8, 127.0.0.0/8,::1"
		})
		for _, c := range []struct {
			version byte
			src     *net.TCPAddr
			key     string // what the limits count it under: an IPv6 /64
		}{
			{1, &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000}, "203.0.113.7"},
			{2, &net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 40001}, "2001:db8::/64"},
		} {
			if err := proxyDial(t, s.Addr(), proxyproto.HeaderProxyFromAddrs(c.version, c.src, tcpAddr(t, s.Addr()))); err != nil {
				t.Fatalf("v%d: %v", c.version, err)
			}
			waitLog(t, s.log, `msg="session start" remote=`+c.key)
			waitLog(t, s.log, `msg=seated remote=`+c.key)
		}
		if strings.Contains(s.log.String(), "remote=127.0.0.1") {
			t.Errorf("the proxy's own address reached the log:\n%s", s.log)
		}
		// From a trusted proxy, a connection without a header is refused.
		refusedUnanswered(t, s.Addr(), clientBanner)
		if _, err := sshtest.TryDial(t, s.Addr(), "new", sshtest.Options{}); err == nil {
			t.Fatal("plain SSH from a trusted proxy address was let in")
		}
	})

	t.Run("a single trusted address may be written IPv4-mapped", func(t *testing.T) {
		s := startServer(t, func(c *app.Config) {
			c.ProxyProtocol = true
			c.TrustedProxies = " 192.0.2.1 ,::ffff:127.0.0.1, 2001:db8::/32"
		})
		src := &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 40000}
		if err := proxyDial(t, s.Addr(), proxyproto.HeaderProxyFromAddrs(2, src, tcpAddr(t, s.Addr()))); err != nil {
			t.Fatal(err)
		}
		waitLog(t, s.log, `msg=seated remote=198.51.100.9`)
	})

	t.Run("header from an untrusted address is refused", func(t *testing.T) {
		s := startServer(t, func(c *app.Config) {
			c.ProxyProtocol = true
			c.TrustedProxies = "10.0.0.0/8"
			c.Metrics = "127.0.0.1:0"
		})
		src := &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 40000}
		for _, v := range []byte{1, 2} {
			header, err := proxyproto.HeaderProxyFromAddrs(v, src, tcpAddr(t, s.Addr())).Format()
			if err != nil {
				t.Fatal(err)
			}
			refusedUnanswered(t, s.Addr(), append(header, clientBanner...))
		}
		waitMetrics(t, s.MetricsAddr(), metric{name: "hush_handshake_failures_total", want: 2})
		// Without a header, an untrusted client is an ordinary client.
		openRoom(t, s.Addr(), "new", sshtest.Options{})
		waitLog(t, s.log, `msg="session start" remote=127.0.0.1`)
		if strings.Contains(s.log.String(), "203.0.113.7") {
			t.Errorf("a refused header's address reached the log:\n%s", s.log)
		}
	})
}

func tcpAddr(t *testing.T, addr string) *net.TCPAddr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// proxyDial opens an SSH session with a PTY as user "new" through a
// connection that starts with header.
func proxyDial(t *testing.T, addr string, header *proxyproto.Header) error {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, sshtest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := header.WriteTo(conn); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(sshtest.Timeout))
	cc, chans, reqs, err := gossh.NewClientConn(conn, addr, sshtest.GuestConfig("new"))
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	client := gossh.NewClient(cc, chans, reqs)
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		return err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return sess.Shell()
}

// refusedUnanswered sends raw bytes and expects the server to close
// without a single byte (no SSH banner).
func refusedUnanswered(t *testing.T, addr string, send []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, sshtest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(send); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(sshtest.Timeout))
	got, err := io.ReadAll(conn)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("connection left open (read %q)", got)
	}
	if len(got) != 0 {
		t.Fatalf("server answered %q, want the connection closed unanswered", got)
	}
}
