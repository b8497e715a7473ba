// Package names turns SSH keys into handles people can say out loud, and
// gives people without keys a clearly marked guest name.
package names

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// badgeLen is how many fingerprint characters a badge shows: 48 bits, enough
// that nobody can make a key that matches someone else's badge.
const badgeLen = 8

// FromKey derives a stable handle and badge from a public key in SSH wire
// format. The same key gets the same handle in every room and every restart.
func FromKey(wire []byte) (handle, badge string) {
	sum := sha256.Sum256(wire)
	fp := base64.RawStdEncoding.EncodeToString(sum[:])
	return pick(binary.BigEndian.Uint32(sum[:4])), fp[:badgeLen]
}

// Guest returns a fresh random name for someone without a key. The "guest-"
// prefix cannot be produced by FromKey, so a guest never looks like a key holder.
func Guest() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return "guest-" + pick(binary.BigEndian.Uint32(b[:]))
}

func pick(n uint32) string {
	return adjectives[n%uint32(len(adjectives))] + "-" + animals[(n>>16)%uint32(len(animals))]
}

var adjectives = strings.Fields(`
amber ashen autumn azure bold brave breezy bright brisk calm candid cheery
chilly civil clever cloudy cobalt coral cosmic crisp curious dainty dapper
daring dawn deft dusky eager early earnest easy elder ember even fabled fair
fancy feral fern fiery frosty gentle giddy glad golden grand hardy hazel hazy
honest humble icy idle indigo ivory jade jolly keen kind lavish lemon light
lilac lively lofty lucky lunar mellow merry misty modest mossy noble nimble
novel ochre olive opal patient peppy plucky polar proud quick quiet quirky
rapid rosy royal rustic rusty sable sage sandy scarlet serene shady silent
silver sleek smoky snowy solar sonic spry stark steady stormy sunny swift
tawny tidy timid tiny topaz tranquil true twilight vast velvet vivid wandering
warm wary whimsy wild windy wise witty young zany zesty
`)

var animals = strings.Fields(`
albatross alpaca anteater antelope badger bat beaver bison boar bobcat
buffalo camel capybara caribou cheetah chipmunk cobra condor cougar coyote
crane crow deer dingo dolphin donkey dove duck eagle egret elk emu falcon
ferret finch flamingo fox frog gazelle gecko gibbon giraffe goose gopher
gorilla grouse gull hare hawk hedgehog heron hippo hornet horse hyena ibex
ibis iguana impala jackal jaguar jay kestrel kiwi koala lark lemur leopard
lion llama lobster lynx magpie manatee marmot marten mink mole moose moth
newt ocelot octopus oriole orca osprey otter owl ox panda panther parrot
pelican penguin pheasant pigeon puffin puma quail rabbit raccoon raven robin
salmon seal shark sheep shrew skunk sloth snail sparrow squid stoat stork
swan tapir tiger toad toucan trout turtle viper vole walrus weasel whale
wolf wombat wren yak zebra
`)
