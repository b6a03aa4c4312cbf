// Command models-schema prints the OpenAPI v2 definitions of the
// macpool.kubemacpool.io types, which applyconfiguration-gen needs to
// generate server-side-apply configurations that know list and map semantics.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"kubemacpool.io/kubemacpool/pkg/generated/openapi"
)

func main() {
	if err := printDefinitions(); err != nil {
		fmt.Fprintf(os.Stderr, "models-schema: %v\n", err)
		os.Exit(1)
	}
}

func printDefinitions() error {
	definitions := openapi.GetOpenAPIDefinitions(func(name string) spec.Ref {
		return spec.MustCreateRef("#/definitions/" + name)
	})
	schemas := make(map[string]spec.Schema, len(definitions))
	for name, definition := range definitions {
		schemas[name] = definition.Schema
		// Types with a separate v2 form (int-or-string and friends) carry it
		// in an extension; the generator reads OpenAPI v2.
		if embedded, ok := definition.Schema.Extensions[common.ExtensionV2Schema]; ok {
			if v2, ok := embedded.(spec.Schema); ok {
				schemas[name] = v2
			}
		}
	}
	document, err := json.Marshal(&spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        &spec.Info{InfoProps: spec.InfoProps{Title: "kubemacpool", Version: "unversioned"}},
		Definitions: schemas,
	}})
	if err != nil {
		return fmt.Errorf("encoding definitions: %w", err)
	}
	_, err = os.Stdout.Write(document)
	return err
}
