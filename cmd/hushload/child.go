package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// childEnv tells a re-executed hushload to be the baseline relay instead.
const childEnv = "HUSHLOAD_CHILD"

func runChild(kind string) error {
	if kind == "relay" {
		return runRelay()
	}
	return fmt.Errorf("unknown %s=%q", childEnv, kind)
}

// ---- the baseline: a bare relay ----

// relayRoom pairs two channels; what one member types is written, as is, to
// the other's terminal. No UI, no parsing, no redraws: the floor any SSH
// chat sits on.
type relayRoom struct {
	mu   sync.Mutex
	peer [2]ssh.Channel
}

type relay struct {
	port  int
	mu    sync.Mutex
	rooms map[string]*relayRoom
}

func runRelay() error {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	cfg := &ssh.ServerConfig{
		// Same auth round trips as hush gives a guest.
		KeyboardInteractiveCallback: func(ssh.ConnMetadata, ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			return nil, nil
		},
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r := &relay{port: ln.Addr().(*net.TCPAddr).Port, rooms: make(map[string]*relayRoom)}
	slog.New(slog.NewTextHandler(os.Stderr, nil)).Info("listening", "addr", ln.Addr().String())
	stopOnSignal(func() { ln.Close() })
	for {
		conn, err := ln.Accept()
		if err != nil {
			return nil
		}
		go r.serve(conn, cfg)
	}
}

func stopOnSignal(f func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-ch
		f()
		os.Exit(0)
	}()
}

func (r *relay) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.Prohibited, "sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go r.session(sc.User(), ch, creqs)
	}
}

func (r *relay) session(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	started := false
	for req := range reqs {
		ok := false
		switch req.Type {
		case "pty-req", "env", "window-change":
			ok = true
		case "shell":
			ok = !started
			if ok {
				started = true
				go r.run(user, ch)
			}
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
	if !started {
		ch.Close()
	}
}

func (r *relay) run(user string, ch ssh.Channel) {
	defer ch.Close()
	const clear = "\x1b[?1049h\x1b[2J\x1b[H"
	var rm *relayRoom
	side := 0
	if user == "new" {
		var raw [6]byte
		_, _ = rand.Read(raw[:])
		code := hex.EncodeToString(raw[:])
		rm = &relayRoom{peer: [2]ssh.Channel{ch, nil}}
		r.mu.Lock()
		r.rooms[code] = rm
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			delete(r.rooms, code)
			r.mu.Unlock()
		}()
		fmt.Fprintf(ch, "%srelay · room %s · 1 of 2 here\r\n  ssh -p %d %s@127.0.0.1\r\n", clear, code, r.port, code)
	} else {
		r.mu.Lock()
		rm = r.rooms[user]
		r.mu.Unlock()
		if rm == nil {
			fmt.Fprintf(ch, "no room %s\r\n", user)
			return
		}
		rm.mu.Lock()
		if rm.peer[1] != nil {
			rm.mu.Unlock()
			fmt.Fprintf(ch, "room %s is full\r\n", user)
			return
		}
		rm.peer[1] = ch
		rm.mu.Unlock()
		side = 1
		fmt.Fprintf(ch, "%srelay · room %s · 2 of 2 here\r\n\r\n", clear, user)
	}
	buf := make([]byte, 2048)
	for {
		n, err := ch.Read(buf)
		if n > 0 {
			rm.mu.Lock()
			other := rm.peer[1-side]
			rm.mu.Unlock()
			if other != nil {
				_, _ = other.Write(buf[:n])
			}
		}
		if err != nil {
			break
		}
	}
	rm.mu.Lock()
	rm.peer[side] = nil
	other := rm.peer[1-side]
	rm.mu.Unlock()
	if other != nil {
		other.Close()
	}
}

// control sends a profiling command to a -profile server and waits for it
// to be carried out; it does nothing for other servers.
func (s *server) control(cmd string) {
	if s.ctl == nil {
		return
	}
	if _, err := io.WriteString(s.ctl, cmd+"\n"); err != nil {
		return
	}
	select {
	case <-s.acks:
	case <-time.After(waitLimit):
		progress("%s: no answer to %q from the profiled server", s.kind, cmd)
	}
}
