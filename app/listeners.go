package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// listeners serves every listener an App starts and watches them as one,
// errgroup-style: the first that stops serving on its own (its accept
// failed, its socket was closed under it) is logged with its address and
// ends the App through Served, so the process exits instead of running on
// with a front end nobody can reach. A listener ending after stop is the
// shutdown, not a failure.
type listeners struct {
	log      *slog.Logger
	stopping atomic.Bool
	wg       sync.WaitGroup
	once     sync.Once
	ended    chan error // the first failure; nil once all ended after stop
	onFail   func()     // called once, before the failure is delivered
}

func newListeners(log *slog.Logger, onFail func()) *listeners {
	return &listeners{log: log, ended: make(chan error, 1), onFail: onFail}
}

// serve runs serve(ln) in the background and watches it. what names the
// listener in the log and the error ("ssh", "web", "metrics").
func (ls *listeners) serve(what string, ln net.Listener, serve func(net.Listener) error) {
	addr := ln.Addr().String()
	ls.wg.Go(func() {
		err := serve(ln)
		if ls.stopping.Load() {
			return
		}
		if err == nil {
			err = errors.New("stopped serving")
		}
		ls.log.Error("listener failed", "listener", what, "addr", addr, "err", err)
		ls.once.Do(func() {
			if ls.onFail != nil {
				ls.onFail()
			}
			ls.ended <- fmt.Errorf("%s listener on %s: %w", what, addr, err)
		})
	})
}

// stop says the listeners are being shut down on purpose, and delivers nil
// on ended once every one has returned (unless one failed first).
func (ls *listeners) stop() {
	ls.stopping.Store(true)
	go func() {
		ls.wg.Wait()
		ls.once.Do(func() { ls.ended <- nil })
	}()
}

// cleanup is what Start has set up so far, undone in reverse order if a
// later step fails.
type cleanup []func()

func (c *cleanup) add(f func()) { *c = append(*c, f) }

func (c cleanup) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}
