package talk

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hush-chat/hush/admit"
)

// KnockFor is how long a knock waits for someone to let the knocker in.
const KnockFor = 60 * time.Second

// door is a knock's wait: it ends when a member lets the knocker in, turns
// them away, or nobody answers within KnockFor.
type door struct {
	waiting atomic.Bool
	timer   *time.Timer
	done    func() // the gate's mark of this address knocking here
	once    sync.Once
}

// in ends the wait, let in; false if it had ended already (given up).
func (d *door) in() bool {
	ok := d.waiting.CompareAndSwap(true, false)
	d.stop()
	return ok
}

func (d *door) stop() {
	d.once.Do(func() {
		d.timer.Stop()
		d.done()
	})
}

// Knock knocks at the locked room code, as the person with key (nil: a
// guest). The conversation returned waits at the door (Knocking) until
// someone inside lets them in (LetIn) or it ends ("Nobody let you in.").
// The room unlocked meanwhile: they are simply seated. The error, if any,
// is a *Refusal.
func (c *Conn) Knock(ctx context.Context, code string, key []byte, via string) (*Conv, error) {
	return c.Enter(ctx, Where{Op: admit.OpJoin, Code: code, knock: true}, key, via)
}

// wait starts the knock's wait at the door; done ends the gate's mark.
func (c *Conv) wait(done func()) {
	d := &door{done: done}
	d.waiting.Store(true)
	seat := c.place().seat
	// Armed only once d.timer is set: the function stops it.
	d.timer = time.AfterFunc(time.Hour, func() {
		if d.waiting.CompareAndSwap(true, false) {
			seat.Leave()
			c.note(Event{Kind: Ended, Text: noLetInText})
		}
		d.stop()
	})
	d.timer.Reset(c.h.cfg.KnockFor)
	c.door = d
}

// KnockingText is what someone waiting at the door is shown.
func (c *Conv) KnockingText() string { return knockingText(c.Code()) }

// Locked reports whether the room is locked, as far as events tell (call
// it from the draining goroutine).
func (c *Conv) Locked() bool { return c.place().locked }

// Lock locks the room (on) or unlocks it. The event is what this person
// sees; the others see it too. A room for two is never locked: nil.
func (c *Conv) Lock(on bool) []Event {
	p := c.place()
	if !c.Group() || c.Knocking() {
		return nil
	}
	if err := p.seat.Lock(on); err != nil {
		return []Event{{Kind: Notice, Text: goodbye(err)}}
	}
	p.locked = on
	kind := Unlocked
	if on {
		kind = Locked
	}
	return []Event{{Kind: kind, Peer: p.self, Text: lockText(p.self.Name, on)}}
}

// LetIn answers p's knock: let them in, or turn them away. The first
// member to answer decides; every member then gets KnockEnded.
func (c *Conv) LetIn(p Peer, let bool) {
	if c.Knocking() {
		return
	}
	_ = c.place().seat.Answer(p.ID, let)
}
