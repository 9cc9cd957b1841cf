// Package vendorcheck holds the tests that keep "a vendor is a row, a
// package and a main" true. For every vendor in the table (package vendors)
// they fail, naming what is missing, unless it has:
//
//   - its function, functions/<vendor>/main.go (package main, at most 20
//     lines), and for an authorization-code vendor functions/<vendor>-callback;
//   - for a vendor declared by its row alone (ClientCredentials): a row
//     package clientcreds can call, whose conformance test runs every row;
//     and no package shared/<vendor> besides an optional test package
//     shared/<vendor>/<vendor>test, which then runs the suite too;
//   - for a vendor with quirks: its package, shared/<vendor>, with a test
//     that runs the shared conformance suite (refreshtest.Conformance),
//     which runs with that package's tests; the authorization-code vendor
//     Admitad is exempt, by name and with the reason, as the suite cannot
//     drive its client;
//   - a test server registered with package vendortest (vendortest.New
//     starts it; internal/testservers registers them all) and sandbox
//     credentials that fill every credentials field of the row and no
//     field the row does not list;
//
// and that no test server code is built into a Lambda function. A sixth
// vendor added in a copy of the module is checked end to end by
// TestSixthVendor (see docs/adding-a-vendor.md).
//
// The package has no non-test code.
package vendorcheck
