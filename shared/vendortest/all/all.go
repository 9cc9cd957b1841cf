// Package all imports the package of every vendor in the table (package
// vendors), so that each vendor's test server is registered with package
// vendortest: a program or test that starts test servers by name
// (vendortest.New) imports it for its side effects:
//
//	import _ "github.com/token-refresher/token-refresher/shared/vendortest/all"
//
// vendors_gen.go is generated from the table by `go generate
// ./shared/vendortest/all`; a test fails while it is stale. Nothing in it is
// compiled into the Lambda functions.
package all

//go:generate go run gen.go
