// Command kubectl-macpool is the kubectl plugin `kubectl macpool`: put it on
// PATH and kubectl runs it for `kubectl macpool ...`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kubemacpool.io/kubemacpool/pkg/cmd/plugin"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(plugin.Run(plugin.NewCommand(streams, nil), streams))
}
