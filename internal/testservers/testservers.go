// Package testservers registers a test server for every vendor in the
// table (package vendors) with package vendortest: a program or test that
// starts test servers by name (vendortest.New) imports it for its side
// effects:
//
//	import _ "github.com/token-refresher/token-refresher/internal/testservers"
//
// A vendor's test server is the one its test package,
// shared/<vendor>/<vendor>test, registers; testservers_gen.go, generated
// from the table by `go generate ./internal/testservers`, imports every
// such package (a test fails while it is stale). A vendor declared by a
// row alone (vendors.ClientCredentials) and without a test package gets
// the generic server of package clientcreds/clientcredstest, built from
// its row. The package's tests also check that every vendor's test server
// honours the shared machinery of package vendortest (faults, accounts,
// the control endpoints). Nothing in it is compiled into the Lambda
// functions.
package testservers

import (
	"slices"

	"github.com/token-refresher/token-refresher/shared/clientcreds/clientcredstest"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

//go:generate go run gen.go

// The vendors' test packages, imported by testservers_gen.go, have
// registered their servers by now: Go initialises imported packages first.
func init() {
	registered := vendortest.Registered()
	for _, spec := range vendors.All() {
		if spec.ClientCredentials != nil && !slices.Contains(registered, spec.Name) {
			vendortest.Register(spec.Name, clientcredstest.Server(spec), clientcredstest.Sandbox(spec))
		}
	}
}
