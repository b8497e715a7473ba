package main

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/charmbracelet/x/vt"

	"github.com/hush-chat/hush/internal/sshtest"
)

// forEach runs f(0..n-1) on at most conc goroutines and returns the first
// error (after letting started calls finish).
func forEach(n, conc int, f func(i int) error) error {
	var (
		next  atomic.Int64
		first error
		once  sync.Once
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for range max(1, min(conc, n)) {
		wg.Go(func() {
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return first
}

// closeAll hangs up every terminal, a few at a time.
func closeAll(terms []*term) {
	_ = forEach(len(terms), 64, func(i int) error {
		if terms[i] != nil {
			terms[i].close()
		}
		return nil
	})
}

// pair is one room of two: a types, b watches.
type pair struct {
	a, b *term
}

// openPair opens a room as new@ and joins it with the code read off the
// creator's screen. Only b decodes its screen, and only if decode.
func openPair(srv *server, o *opts, decode bool, env ...string) (*pair, error) {
	return openPairOn(srv, srv, o, decode, env...)
}

// openCreator opens a room as new@ on srv and reads its code off the
// creator's output; the creator decodes its screen if decode.
func openCreator(srv *server, o *opts, decode bool) (*term, string, error) {
	var emu *vt.Emulator
	if decode {
		emu = newEmulator(o.width, o.height)
	}
	a, err := dial(srv.addr, "new", o.width, o.height, emu)
	if err != nil {
		return nil, "", fmt.Errorf("dial new@: %w", err)
	}
	var code string
	if _, err := a.wait("the invite", func() bool {
		c, _, ok := sshtest.Invite(string(a.raw))
		code = c
		return ok
	}); err != nil {
		a.close()
		return nil, "", err
	}
	return a, code, nil
}

// openPairOn opens a room on srvA and joins it on srvB (another node of the
// same cluster, or the same server).
func openPairOn(srvA, srvB *server, o *opts, decode bool, env ...string) (*pair, error) {
	a, code, err := openCreator(srvA, o, false)
	if err != nil {
		return nil, err
	}
	var emu *vt.Emulator
	row := -1
	if decode {
		emu = newEmulator(o.width, o.height)
		row = 0
	}
	b, err := dial(srvB.addr, code, o.width, o.height, emu, env...)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("dial %s@: %w", code, err)
	}
	if _, err := b.waitText("2 of 2 here", row); err != nil {
		a.close()
		b.close()
		return nil, err
	}
	return &pair{a: a, b: b}, nil
}

func openPairs(srv *server, o *opts, n int, decode func(i int) bool) ([]*pair, error) {
	return openPairsOn(srv, srv, o, n, decode)
}

// openPairsOn opens n rooms on srvA and joins each on srvB.
func openPairsOn(srvA, srvB *server, o *opts, n int, decode func(i int) bool) ([]*pair, error) {
	pairs := make([]*pair, n)
	err := forEach(n, o.dialConc, func(i int) error {
		p, err := openPairOn(srvA, srvB, o, decode(i))
		pairs[i] = p
		return err
	})
	if err != nil {
		closePairs(pairs)
		return nil, err
	}
	return pairs, nil
}

func closePairs(pairs []*pair) {
	var terms []*term
	for _, p := range pairs {
		if p != nil {
			terms = append(terms, p.a, p.b)
		}
	}
	closeAll(terms)
}
