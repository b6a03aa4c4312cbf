// Command kmp-image builds the kubemacpool-apiserver container image without
// a container engine, with github.com/google/go-containerregistry, and reads
// it back:
//
//	kmp-image build    an OCI image index (one image per platform) from
//	                   binaries cross-compiled by `go build`, written as an
//	                   OCI layout and as one docker-style tarball per platform
//	kmp-image extract  a file out of the image's own layers for one platform,
//	                   with the image's labels, so a test can run exactly
//	                   what the image ships
//	kmp-image validate what `crane validate` checks, on every image of an
//	                   OCI layout
//
// It is its own module so that go-containerregistry and its dependencies
// never move the product's go.mod. `make image` drives it.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(os.Args[2:])
	case "extract":
		err = runExtract(os.Args[2:])
	case "validate":
		err = runValidate(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kmp-image:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kmp-image build|extract|validate [flags]; -h after a command lists its flags")
	os.Exit(2)
}
