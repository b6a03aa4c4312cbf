// Command printversion prints what pkg/version was stamped with, for
// TestLinkerStamp.
package main

import (
	"encoding/json"
	"os"

	"kubemacpool.io/kubemacpool/pkg/version"
)

func main() {
	_ = json.NewEncoder(os.Stdout).Encode(struct {
		Info   any
		String string
	}{version.Get(), version.String()})
}
