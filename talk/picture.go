package talk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	pictureMaxSSH  = 8 << 20   // bytes read from `ssh CODE@HOST pic < file`
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
	// maxUploads bounds the pictures being read at once, server-wide:
	// each may hold pictureMaxSSH.
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
	errPictureLobby  = errors.New("Pictures go to rooms, never to the lobby.")
)

// Picture checks what r holds (at most max bytes), shrinks it, and shows it
// to everyone else in the room, and to the sender as theirs. The error's
// text is the sentence to show the sender.
func (c *Conv) Picture(ctx context.Context, r io.Reader, max int64, now time.Time) error {
	return c.send(ctx, r, max, now, c.budget)
}

// send is Picture with the allowance to spend: the address of the
// connection the picture came on.
func (c *Conv) send(ctx context.Context, r io.Reader, max int64, now time.Time, budget func() bool) error {
	h := c.h
	if h.decoder == nil {
		return errPicturesOff
	}
	if c.InLobby() || c.Knocking() {
		return errPictureLobby
	}
	select {
	case h.uploads <- struct{}{}:
		defer func() { <-h.uploads }()
	default:
		return errPicturesBusy
	}
	undo, err := c.reserve(now, budget)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, PictureReadFor)
	defer cancel()
	pic, err := h.decoder.Decode(ctx, &deadlineReader{r: r, ctx: ctx}, max, pictures.RGB{})
	if err == nil {
		var encoded []byte
		if encoded, err = pic.MarshalBinary(); err == nil {
			if serr := c.place().seat.Picture(string(encoded)); serr != nil {
				err = errors.New(goodbye(serr))
			}
		}
	}
	if err != nil {
		undo()
		return err
	}
	h.log.Info("picture sent", "room", c.Tag(), "width", pic.W, "height", pic.H)
	c.note(Event{Kind: Pictured, Peer: c.Self(), Picture: &pic})
	return nil
}

// reserve applies the rules a picture meets before it is read — one per
// sender every pictureEvery, a few in the room at once, the address's
// allowance — and takes its place at once, so that pictures sent at the
// same moment cannot all pass. undo gives the place back for a picture
// that was refused after all.
func (c *Conv) reserve(now time.Time, budget func() bool) (undo func(), err error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	switch {
	case !c.lastPicture.IsZero() && now.Sub(c.lastPicture) < pictureEvery:
		return nil, errPictureEvery
	case c.picturesShowing(now) >= picturesAtOnce:
		return nil, errPictureBusy
	case budget != nil && !budget():
		return nil, errPicturesMany
	}
	last, slot := c.lastPicture, c.nextPicture%len(c.pictures)
	before := c.pictures[slot]
	c.lastPicture = now
	c.sawPicture(now)
	return func() {
		c.pmu.Lock()
		defer c.pmu.Unlock()
		c.lastPicture, c.pictures[slot] = last, before
	}, nil
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
	if c.InLobby() || c.Knocking() {
		return ""
	}
	line := c.Invite() + " pic"
	if c.Self().Guest {
		tok := c.h.token(c, now)
		if tok == "" {
			return ""
		}
		line += " " + tok
	}
	return line + " < picture.png"
}

// token makes a one-time token that sends a picture as c, in place of the
// one it made before: one live line per person, so the tokens held are
// never more than the conversations.
func (h *Hub) token(c *Conv, now time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.token != "" {
		delete(h.tokens, c.token)
	}
	t := strings.ToLower(rand.Text()[:12])
	h.tokens[t] = token{conv: c, until: now.Add(tokenFor)}
	c.token = t
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
	if err := conv.send(ctx, r, pictureMaxSSH, time.Now(), c.c.Picture); err != nil {
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
		tok = strings.ToLower(tok)
		e, ok := h.tokens[tok]
		delete(h.tokens, tok)
		if ok && e.conv.token == tok {
			e.conv.token = ""
		}
		if !ok || time.Now().After(e.until) || !e.conv.in(code) {
			return nil, errPictureToken
		}
		return e.conv, nil
	}
	if key == nil {
		return nil, errPictureSeated
	}
	sum := sha256.Sum256(key)
	for c := range h.convs {
		if c.key == sum && c.in(code) {
			return c, nil
		}
	}
	return nil, errPictureSeated
}

// in reports whether the person is seated in room code (as stored: no
// dashes), and may send a picture there.
func (c *Conv) in(code string) bool {
	p := c.place()
	return p.code != "" && !c.Knocking() && p.seat.Code() == code && p.seat.Err() == nil
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
