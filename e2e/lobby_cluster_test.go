package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-chat/hush/internal/sshtest"
	"github.com/hush-chat/hush/internal/wait"
)

// Two nodes through a real nats-server share one lobby: people on either
// see each other and each other's text, an ask crosses, the accepted room
// lives on one node and both talk in it; a node killed takes its lobby
// people out of the list within the lease.
func TestClusterLobby(t *testing.T) {
	hush, natsBin := clusterBinaries(t)
	n := startNATS(t, natsBin, 0)
	a := startNode(t, hush, t.TempDir(), nil, n.url, "--node", "a")
	b := startNode(t, hush, t.TempDir(), a, n.url, "--node", "b")

	ana := sshtest.Dial(t, a.addr, "lobby", sshtest.Options{})
	bo := sshtest.Dial(t, b.addr, "lobby", sshtest.Options{})
	ana.WaitText("lobby · 2 here")
	bo.WaitText("lobby · 2 here")
	boName := selfName(t, bo)
	ana.WaitText(boName)

	ana.Type("from node a")
	bo.WaitText("from node a")
	bo.Type("from node b")
	ana.WaitText("from node b")

	bo.Type(keyTab + keyEnter)
	ana.WaitText(boName + " asks you for a private room")
	ana.Type(keyTab + keyEnter)
	ana.WaitText("2 of 2 here")
	bo.WaitText("2 of 2 here")
	if roomOf(t, ana) != roomOf(t, bo) {
		t.Fatalf("ana in %s, bo in %s", roomOf(t, ana), roomOf(t, bo))
	}
	bo.Type("across nodes")
	ana.WaitText("across nodes")

	// Node b dies without a word: its lobby people leave a's list within
	// the lease (15 s by default).
	cy := sshtest.Dial(t, a.addr, "lobby", sshtest.Options{})
	di := sshtest.Dial(t, b.addr, "lobby", sshtest.Options{})
	cy.WaitText("lobby · 2 here")
	diName := selfName(t, di)
	cy.WaitText(diName)
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := wait.Within(t, 25*time.Second, "di to leave the lobby after node b was killed", func() (bool, string) {
		s := cy.Screen()
		return strings.Contains(s, "lobby · 1 here") && !strings.Contains(s, diName), s
	})
	t.Logf("node b killed: its lobby person left the list after %v", took.Round(100*time.Millisecond))
}
