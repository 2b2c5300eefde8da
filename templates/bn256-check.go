// gomelctl's known-answer check of the github.com/cloudflare/bn256 that a
// `--code` build compiles gomel with, run before gomel is built
// (templates/Dockerfile.code). gomel reads every committee's RMC verification
// keys with G2.Unmarshal, so a bn256 that cannot decode one key written by
// gomel's own key generator cannot run any committee. Only G2.Unmarshal is
// used, so that a test stand-in for bn256 needs nothing else.
package main

import (
	"encoding/base64"
	"os"

	"github.com/cloudflare/bn256"
)

// node1's RMC verification key in test/vectors/gomel-2019-09/docker-distributed/keys/committee.ka,
// written by gomel-keys (consensus-go 2019-09): 0x01, then x.imag, x.real, y.imag, y.real
// (docs/gomel-formats.md). bn256 before 2017-09-26 wrote 128 bytes without the 0x01.
const knownKey = "AXBYewr59fSJdHn+8NxzcIojm2/3JTjoHOoEuGy+bm9/bu1/t+YrJFpG5bK3zr6B113pjEpbtnfzmd8iQvlXcVIlI1sxbs/J4sQ3DwoGFtSXRrfdrmoQOezZDcb+MOkz30ZE194fYM70lf5Xltzl2FQQr41ktVtyNG0ur5J8bf18"

func main() {
	data, err := base64.StdEncoding.DecodeString(knownKey)
	if err != nil {
		panic(err) // our constant; never happens
	}
	rest, err := new(bn256.G2).Unmarshal(data)
	if err != nil || len(rest) != 0 {
		os.Exit(1) // the Dockerfile prints the one-line fix
	}
}
