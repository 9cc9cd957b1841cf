//go:build ignore

// gen writes vendors_gen.go: a blank import of shared/<vendor> for every
// vendor of the table.
package main

import (
	"fmt"
	"os"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest/all/internal/imports"
)

func main() {
	src, err := imports.Source(vendors.All())
	if err == nil {
		err = os.WriteFile(imports.File, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vendortest/all: generate:", err)
		os.Exit(1)
	}
}
