package talk

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/pictures"
)

// How pictures may be sent. The sizes are the most read from each way in;
// everything else is the same for every front end.
const (
	PictureMaxSSH  = 8 << 20   // bytes read from `ssh CODE@HOST pic < file`
	PictureMaxPage = 512 << 10 // bytes a page sends, after shrinking it itself
	// PictureReadFor bounds how long a picture may take to arrive; a front
	// end whose reads cannot be cancelled closes its transport then.
	PictureReadFor = 10 * time.Second
	pictureEvery   = 20 * time.Second // one picture per sender
	// VeiledFor is how long a picture nobody revealed stays veiled before
	// it is gone.
	VeiledFor = 30 * time.Second
	// picturesAtOnce bounds the pictures in a room at one time: one on
	// screen and one more.
	picturesAtOnce = 2
	tokenFor       = 2 * time.Minute
	maxTokens      = 4096 // one-time lines waiting at once, server-wide
	// maxUploads bounds the pictures being read from their own
	// connections at once, server-wide: each may hold PictureMaxSSH.
	maxUploads = 8
)

// A refusal of a picture is one of these sentences.
var (
	errPicturesOff   = errors.New("Pictures are off on this server.")
	errPictureEvery  = errors.New("One picture every 20 seconds.")
	errPicturesMany  = errors.New("Too many pictures from your address; try again in a minute.")
	errPictureBusy   = errors.New("A picture is already waiting in this room; try again in a moment.")
	errPictureWhere  = errors.New("Pictures go to a room: ssh CODE@HOST pic < picture.png")
	errPictureSeated = errors.New("Your key is not in that room right now. From your room screen, ctrl+p gives you a line that sends one.")
	errPictureToken  = errors.New("That line has been used or is too old: press ctrl+p in the room for a new one.")
	errPicturesBusy  = errors.New("The server is busy with pictures; try again in a moment.")
)

// Picture checks what r holds (at most max bytes), shrinks it, and shows it
// to everyone else in the room, and to the sender as theirs. The error's
// text is the sentence to show the sender.
func (c *Conv) Picture(ctx context.Context, r io.Reader, max int64, now time.Time) error {
	h := c.h
	if h.decoder == nil {
		return errPicturesOff
	}
	if err := c.mayPicture(now); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, PictureReadFor)
	defer cancel()
	pic, err := h.decoder.Decode(ctx, &deadlineReader{r: r, ctx: ctx}, max, pictures.RGB{})
	if err != nil {
		return err
	}
	encoded, err := pic.MarshalBinary()
	if err != nil {
		return err
	}
	if err := c.seat.Picture(string(encoded)); err != nil {
		return errors.New(goodbye(err))
	}
	c.pmu.Lock()
	c.lastPicture = now
	c.sawPicture(now)
	c.pmu.Unlock()
	h.log.Info("picture sent", "room", c.Tag(), "width", pic.W, "height", pic.H)
	c.note(Event{Kind: Pictured, Peer: c.self, Picture: &pic})
	return nil
}

// mayPicture applies the rules a picture meets before it is read: one per
// sender every pictureEvery, a few in the room at once, and the
// address's allowance.
func (c *Conv) mayPicture(now time.Time) error {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	switch {
	case !c.lastPicture.IsZero() && now.Sub(c.lastPicture) < pictureEvery:
		return errPictureEvery
	case c.picturesShowing(now) >= picturesAtOnce:
		return errPictureBusy
	case c.budget != nil && !c.budget():
		return errPicturesMany
	}
	return nil
}

// picturesShowing counts the pictures that may still be on screens in the
// room, as far as this conversation has seen. c.pmu is held.
func (c *Conv) picturesShowing(now time.Time) int {
	n := 0
	for _, t := range c.pictures {
		if now.Sub(t) < VeiledFor {
			n++
		}
	}
	return n
}

// sawPicture notes a picture entering the room. c.pmu is held.
func (c *Conv) sawPicture(now time.Time) {
	c.pictures[c.nextPicture%len(c.pictures)] = now
	c.nextPicture++
}

// picture turns a picture's bytes from the room into an event; false for
// bytes that are not one (nothing is shown).
func (c *Conv) picture(e *Event, encoded string) bool {
	var p pictures.Picture
	if err := p.UnmarshalBinary([]byte(encoded)); err != nil {
		return false
	}
	c.pmu.Lock()
	c.sawPicture(time.Now())
	c.pmu.Unlock()
	e.Kind, e.Picture = Pictured, &p
	return true
}

// PictureLine is the command that sends a picture into this room from
// another terminal: as is for someone seated with their key, and with a
// one-time token (valid two minutes, once) for anyone else.
func (c *Conv) PictureLine(now time.Time) string {
	line := c.Invite() + " pic"
	if c.self.Guest {
		tok := c.h.token(c, now)
		if tok == "" {
			return ""
		}
		line += " " + tok
	}
	return line + " < picture.png"
}

// token makes a one-time token that sends a picture as c.
func (h *Hub) token(c *Conv, now time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for t, e := range h.tokens {
		if now.After(e.until) || e.conv.seat.Err() != nil {
			delete(h.tokens, t)
		}
	}
	if len(h.tokens) >= maxTokens {
		return ""
	}
	t := strings.ToLower(rand.Text()[:12])
	h.tokens[t] = token{conv: c, until: now.Add(tokenFor)}
	return t
}

type token struct {
	conv  *Conv
	until time.Time
}

// SendPicture sends a picture that arrived on its own connection (`ssh
// CODE@HOST pic [TOKEN] < file`) into the room the name routes to, as the
// person seated there with key, or as whoever the one-time token was made
// for. It returns the sentence to show on success.
func (c *Conn) SendPicture(ctx context.Context, name string, key []byte, tok string, r io.Reader) (string, error) {
	h := c.h
	if h.decoder == nil {
		return "", errPicturesOff
	}
	where, ok := Route(name)
	if !ok || where.Op != admit.OpJoin {
		return "", errPictureWhere
	}
	if err := c.Refusal("ssh"); err != nil {
		return "", err
	}
	conv, err := h.seatedAs(where.Code, key, tok)
	if err != nil {
		return "", err
	}
	select {
	case h.uploads <- struct{}{}:
		defer func() { <-h.uploads }()
	default:
		return "", errPicturesBusy
	}
	if err := conv.Picture(ctx, r, PictureMaxSSH, time.Now()); err != nil {
		return "", err
	}
	return "sent to room " + conv.Code(), nil
}

// seatedAs finds the conversation in room code that a picture may be sent
// as: the one whose person connected with key, or the one the token was
// made for.
func (h *Hub) seatedAs(code string, key []byte, tok string) (*Conv, error) {
	code = strings.ToLower(strings.ReplaceAll(code, "-", ""))
	h.mu.Lock()
	defer h.mu.Unlock()
	if tok != "" {
		e, ok := h.tokens[strings.ToLower(tok)]
		delete(h.tokens, strings.ToLower(tok))
		if !ok || time.Now().After(e.until) || e.conv.seat.Code() != code || e.conv.seat.Err() != nil {
			return nil, errPictureToken
		}
		return e.conv, nil
	}
	if key == nil {
		return nil, errPictureSeated
	}
	who := Identify(key)
	for c := range h.convs {
		if c.seat.Code() == code && !c.self.Guest && c.seat.Self().Name == who.Name && c.seat.Err() == nil {
			return c, nil
		}
	}
	return nil, errPictureSeated
}

// deadlineReader stops reading once ctx is done, between reads: a sender
// that trickles a picture is cut off at the deadline.
type deadlineReader struct {
	r   io.Reader
	ctx context.Context
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if err := d.ctx.Err(); err != nil {
		return 0, errPictureSlow
	}
	return d.r.Read(p)
}

var errPictureSlow = errors.New("That picture took too long to arrive.")
