// Command kubemacpool-apiserver serves the macpool.kubemacpool.io API.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"kubemacpool.io/kubemacpool/pkg/cmd/server"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	options := server.NewOptions(os.Stdout, os.Stderr)
	os.Exit(cli.Run(server.NewCommand(ctx, options)))
}
