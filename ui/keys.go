package ui

import (
	"time"

	tea "charm.land/bubbletea/v2"
)

// key does what one key press does; it may return an effect.
func (m *Model) key(k tea.KeyPressMsg, now time.Time) tea.Cmd {
	key := k.String()
	if m.help {
		m.help = false // any key closes the help, and does nothing else
		return nil
	}
	if ok, cmd := m.pickKey(key, now); ok {
		return cmd
	}
	if key == "esc" && m.meet.asking != nil {
		return m.apply(m.conv().Cancel(), now)
	}
	switch key {
	case "esc", "ctrl+c":
		if !m.leaving.IsZero() && now.Sub(m.leaving) < leaveWithin {
			return m.leave()
		}
		m.leaving = now
		m.say("Press "+key+" again to leave (ctrl+d leaves at once).", -1, now)
		return nil
	case "ctrl+d", "alt+esc": // alt+esc: two escapes that arrived as one
		return m.leave()
	case "f1", "ctrl+_", "ctrl+/":
		m.help = true
	case "ctrl+y":
		if m.meet.lobby || m.meet.knocking {
			return nil
		}
		return m.copyInvite(now)
	case "ctrl+l":
		return m.lockKey(now)
	case "ctrl+p":
		return m.pictureLine(now)
	case "ctrl+f":
		m.nextPace(now)
	case "ctrl+g":
		m.toggleBell(now)
	case "enter":
		if m.meet.knocking {
			return nil
		}
		m.typing(now)
		ok, hint := m.cfg.Conv.Newline(now)
		if ok {
			m.you.newline(m.clock(now))
		}
		m.hint(hint, now)
	case "backspace", "delete", "left", "right", "up", "down", "home", "end", "pgup", "pgdown", "ctrl+w", "ctrl+u", "ctrl+h":
		if !m.warned {
			m.warned = true
			m.say("No taking it back: words here only fade.", -1, now)
		}
	default:
		if k.Text != "" && k.Mod&(tea.ModCtrl|tea.ModAlt) == 0 && !m.meet.knocking {
			m.typing(now)
			said, hint := m.cfg.Conv.Type(k.Text, now)
			m.you.add(said, m.clock(now))
			m.hint(hint, now)
		}
	}
	return nil
}

// copyInvite copies the invite; with a web link, Ctrl+Y alternates: the
// ssh command, then the link.
func (m *Model) copyInvite(now time.Time) tea.Cmd {
	if !m.open() {
		m.say("The room is full: there is nobody left to invite.", -1, now)
		return nil
	}
	invite, link := m.cfg.Conv.Invite(), m.cfg.Conv.Link()
	what, text := "Invite", invite
	if link != "" && m.copied%2 == 1 {
		what, text = "Web link", link
	}
	m.copied++
	msg := what + " copied to your clipboard"
	switch {
	case link == "":
		msg += " (if your terminal allows it)."
	case what == "Invite":
		msg += ". Ctrl+y again: web link."
	default:
		msg += ". Ctrl+y again: ssh command."
	}
	m.say(msg, -1, now)
	return copyText(text)
}

// pictureLine shows, and copies, the command that sends a picture into
// this room from another terminal.
func (m *Model) pictureLine(now time.Time) tea.Cmd {
	line := m.cfg.Conv.PictureLine(now)
	if line == "" {
		m.say("Pictures cannot be sent right now.", -1, now)
		return nil
	}
	// Long enough to read and copy by hand where the clipboard fails.
	m.notice = notice{text: "To send a picture, run: " + line, color: -1, until: now.Add(time.Minute)}
	return copyText(line)
}

// nextPace fades slower on this screen, then slowest, then as for everyone.
func (m *Model) nextPace(now time.Time) {
	for i, p := range paces {
		if p == m.pace {
			m.pace = paces[(i+1)%len(paces)]
			break
		}
	}
	m.refade()
	m.say(paceWords[m.pace], -1, now)
}

func (m *Model) toggleBell(now time.Time) {
	m.quiet = !m.quiet
	if m.quiet {
		m.say("Bell off: nobody arriving rings it.", -1, now)
	} else {
		m.say("Bell on.", -1, now)
	}
}
