package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func runValidate(args []string) error {
	flags := flag.NewFlagSet("validate", flag.ContinueOnError)
	layoutDir := flags.String("layout", "", "directory of an OCI layout")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *layoutDir == "" {
		return errors.New("validate: --layout must be set")
	}
	return validateLayout(*layoutDir)
}

// validateLayout runs what `crane validate` runs on an image (every
// manifest, config and layer digest and size, the layers' tar streams)
// on every index and image the layout holds, read back from disk.
func validateLayout(layoutDir string) error {
	started := time.Now()
	index, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		return fmt.Errorf("reading the OCI layout %s: %w", layoutDir, err)
	}
	if err := validate.Index(index); err != nil {
		return fmt.Errorf("the OCI layout %s is not valid: %w", layoutDir, err)
	}
	fmt.Printf("image: %s is valid (checked every digest and layer in %s)\n", layoutDir, time.Since(started).Round(100*time.Millisecond))
	return nil
}
