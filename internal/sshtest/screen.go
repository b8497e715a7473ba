package sshtest

import (
	"bytes"
	"fmt"
	"image/color"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// What a test reads off a terminal: its text, its cells and what hostile
// bytes could have changed.

// Screen is the text the terminal shows now, trailing blanks trimmed.
func (tm *Term) Screen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.emu.String()
}

// Lines is Screen split into rows, each with trailing spaces removed.
func (tm *Term) Lines() []string {
	lines := strings.Split(tm.Screen(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// Raw is every byte the server wrote to the terminal so far.
func (tm *Term) Raw() []byte {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return bytes.Clone(tm.raw.Bytes())
}

// Stderr is what the server wrote to standard error.
func (tm *Term) Stderr() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.stderr.String()
}

// State reports what a hostile byte could have changed in the terminal.
type State struct {
	Bells int
	Title string
	Modes []ansi.Mode
}

// State returns the emulator's side effects so far.
func (tm *Term) State() State {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return State{Bells: tm.bells, Title: tm.title, Modes: append([]ansi.Mode(nil), tm.modes...)}
}

// Cursor returns where the cursor is.
func (tm *Term) Cursor() (x, y int) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	p := tm.emu.CursorPosition()
	return p.X, p.Y
}

// CellStyle describes how the first cell showing s is drawn (colour and
// attributes), or "" if s is not on screen.
func (tm *Term) CellStyle(s string) string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for y, line := range strings.Split(tm.emu.String(), "\n") {
		if x := strings.Index(line, s); x >= 0 {
			c := tm.emu.CellAt(ansi.StringWidth(line[:x]), y)
			if c == nil {
				return ""
			}
			return fmt.Sprintf("%v/%v", c.Style.Fg, c.Style.Attrs)
		}
	}
	return ""
}

// CellFg returns the foreground colour of the first cell showing s, and
// whether s is on screen and coloured.
func (tm *Term) CellFg(s string) (color.Color, bool) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for y, line := range strings.Split(tm.emu.String(), "\n") {
		if x := strings.Index(line, s); x >= 0 {
			c := tm.emu.CellAt(ansi.StringWidth(line[:x]), y)
			if c == nil || c.Style.Fg == nil {
				return nil, false
			}
			return c.Style.Fg, true
		}
	}
	return nil, false
}

// CellAt returns the content and colours of the cell at column x, row y
// (nil colours for the terminal's own).
func (tm *Term) CellAt(x, y int) (content string, fg, bg color.Color) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	c := tm.emu.CellAt(x, y)
	if c == nil {
		return "", nil, nil
	}
	return c.Content, c.Style.Fg, c.Style.Bg
}
