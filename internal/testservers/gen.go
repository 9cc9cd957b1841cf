//go:build ignore

// gen writes testservers_gen.go: a blank import of every vendor's test
// package, shared/<vendor>/<vendor>test, that exists. It runs in
// internal/testservers (go generate's working directory).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/token-refresher/token-refresher/internal/testservers/internal/imports"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

func main() {
	src, err := imports.Source(vendors.All(), imports.InModule(filepath.Join("..", "..")))
	if err == nil {
		err = os.WriteFile(imports.File, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testservers: generate:", err)
		os.Exit(1)
	}
}
