package session

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"sync/atomic"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// countingConn counts the bytes written through it.
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkSSHWrite is the last step of a key: one frame written to a
// session channel (golang.org/x/crypto/ssh, as the server's session uses
// it) with the client reading it, over a loopback TCP connection, so the
// write system call is in it too.
// wire-bytes/write is what the frame costs on the connection, SSH framing,
// padding and MAC included. The sizes are a relayed key (1 B) and hush's
// frames for one key and for a fade step (about 20 and 40 B; see
// ui.BenchmarkKeyLife).
func BenchmarkSSHWrite(b *testing.B) {
	for _, cipher := range []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"} {
		for _, size := range []int{1, 20, 40} {
			b.Run(cipher[:6]+"/"+string(rune('0'+size/10))+string(rune('0'+size%10))+"B", func(b *testing.B) {
				ch, wire := sshPipe(b, cipher)
				payload := bytes.Repeat([]byte("x"), size)
				wire.n.Store(0)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ch.Write(payload); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(wire.n.Load())/float64(b.N), "wire-bytes/write")
			})
		}
	}
}

// sshPipe connects an SSH client and server over loopback TCP and returns
// the server's end of a session channel, whose output the client discards,
// and the server's side of the connection, counting.
func sshPipe(b *testing.B, cipher string) (gossh.Channel, *countingConn) {
	b.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(key)
	if err != nil {
		b.Fatal(err)
	}
	cc, sc := tcpPair(b)
	wire := &countingConn{Conn: sc}
	cfg := &gossh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	chans := make(chan gossh.Channel, 1)
	go func() {
		_, incoming, reqs, err := gossh.NewServerConn(wire, cfg)
		if err != nil {
			close(chans)
			return
		}
		go gossh.DiscardRequests(reqs)
		for nc := range incoming {
			ch, reqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go gossh.DiscardRequests(reqs)
			chans <- ch
		}
	}()
	ccfg := &gossh.ClientConfig{User: "bench", HostKeyCallback: gossh.InsecureIgnoreHostKey()}
	ccfg.Ciphers = []string{cipher}
	conn, cchans, creqs, err := gossh.NewClientConn(cc, "pipe", ccfg)
	if err != nil {
		b.Fatal(err)
	}
	client := gossh.NewClient(conn, cchans, creqs)
	b.Cleanup(func() { client.Close() })
	cch, reqs, err := client.OpenChannel("session", nil)
	if err != nil {
		b.Fatal(err)
	}
	go gossh.DiscardRequests(reqs)
	go func() { _, _ = io.Copy(io.Discard, cch) }()
	ch, ok := <-chans
	if !ok {
		b.Fatal("no channel")
	}
	return ch, wire
}

// tcpPair is both ends of a loopback TCP connection, closed when tb ends.
func tcpPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { server.Close(); client.Close() })
	return client, server
}
