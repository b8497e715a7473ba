package talk

import (
	"errors"
	"fmt"
	"time"

	"github.com/hush-chat/hush/admit"
	"github.com/hush-chat/hush/rooms"
)

// Every sentence a conversation says to a person, whatever their screen.

// LeftText is the goodbye to someone who left, or whose screen went away.
const LeftText = "You left the room. Nothing was kept."

const stillOpenText = "It is still open; to come back: "

// goodbye says why a seat ended when the person did not leave it.
func goodbye(err error) string {
	switch {
	case errors.Is(err, rooms.ErrClosed):
		return "The hush server is restarting. Nothing was kept; start a new room in a moment."
	case errors.Is(err, rooms.ErrLost):
		return "The room was lost: this server can no longer reach the others. Nothing was kept."
	case errors.Is(err, rooms.ErrTurnedAway):
		return noLetInText
	case errors.Is(err, rooms.ErrFull):
		return "Someone let you in, but the room is full."
	}
	return "The room ended. Nothing was kept."
}

func idleWarningText(left time.Duration) string {
	return fmt.Sprintf("You have typed nothing for a while: hush lets you go in %v unless you type.", left.Round(time.Second))
}

func idleEndText(timeout time.Duration) string {
	return fmt.Sprintf("You typed nothing for %v, so hush let you go. Nothing was kept.", timeout)
}

// Unexpected is what a person is told when something went wrong that has
// no sentence of its own.
const Unexpected = admit.Unexpected

// LeftLobbyText is the goodbye to someone who left the lobby.
const LeftLobbyText = "You left the lobby. Nothing was kept."

// LeftDoorText is the goodbye to someone who stopped knocking.
const LeftDoorText = "You stopped knocking. Nothing was kept."

// noLetInText ends a knock nobody answered or a member turned away.
const noLetInText = "Nobody let you in."

func askingText(name string) string { return fmt.Sprintf("asking %s…", name) }

func askedText(name string) string { return fmt.Sprintf("%s asks you for a private room", name) }

func noAnswerText(name string) string { return fmt.Sprintf("No answer from %s.", name) }

func movedText(name string) string {
	return fmt.Sprintf("You and %s are in a room of your own.", name)
}

func lockText(name string, locked bool) string {
	if locked {
		return name + " locked the room"
	}
	return name + " unlocked the room"
}

func knockText(name string) string { return name + " knocks" }

// knockingText is what someone knocking sees while they wait.
func knockingText(code string) string {
	return fmt.Sprintf("Knocking at room %s; someone inside may let you in.", code)
}
