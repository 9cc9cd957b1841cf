package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// defaultConnections is -connections' default: Merchenta runs two named
// connections besides its default one, as an agency's would.
const defaultConnections = "merchenta=acme,globex"

// accountVendors are the vendors whose test servers accept more accounts
// than the sandbox one (vendortest.Server.AddAccount): dev can run named
// connections of these.
var accountVendors = map[string]bool{vendors.Fyber: true, vendors.Merchenta: true, vendors.HasOffers: true}

// connectionsFlag holds -connections: vendor → its named connections, in
// the order given.
type connectionsFlag map[string][]string

// parseConnections reads -connections: groups "vendor=name,name" separated
// by spaces or semicolons, e.g. "merchenta=acme,globex fyber=staging". ""
// runs the default connections only. Errors name what is wrong.
func parseConnections(s string) (connectionsFlag, error) {
	out := connectionsFlag{}
	groups := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' || r == '\n' })
	for _, g := range groups {
		vendor, list, ok := strings.Cut(g, "=")
		if !ok || vendor == "" || list == "" {
			return nil, fmt.Errorf("dev: -connections: %q is not vendor=name[,name...] (e.g. %s)", g, defaultConnections)
		}
		spec, err := vendors.Lookup(vendor)
		if err != nil {
			var names []string
			for _, s := range vendors.All() {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("dev: -connections: unknown vendor %q (vendors: %s)", vendor, strings.Join(names, ", "))
		}
		if !accountVendors[spec.Name] {
			return nil, fmt.Errorf("dev: -connections: %s: dev runs named connections only of %s, whose test servers accept several accounts", spec.Name, strings.Join(accountVendorNames(), ", "))
		}
		if _, dup := out[spec.Name]; dup {
			return nil, fmt.Errorf("dev: -connections: %s is named twice", spec.Name)
		}
		seen := map[string]bool{}
		for _, name := range strings.Split(list, ",") {
			switch {
			case name == "":
				return nil, fmt.Errorf("dev: -connections: %s: empty connection name in %q", spec.Name, list)
			case name == vendors.DefaultConnection:
				return nil, fmt.Errorf("dev: -connections: %s: %q is the default connection, which always runs", spec.Name, name)
			case seen[name]:
				return nil, fmt.Errorf("dev: -connections: %s: connection %q is named twice", spec.Name, name)
			}
			if err := vendors.CheckConnection(name); err != nil {
				return nil, fmt.Errorf("dev: -connections: %s: %w", spec.Name, err)
			}
			seen[name] = true
			out[spec.Name] = append(out[spec.Name], name)
		}
	}
	return out, nil
}

func accountVendorNames() []string {
	var out []string
	for _, spec := range vendors.All() {
		if accountVendors[spec.Name] {
			out = append(out, spec.Name)
		}
	}
	sort.Strings(out)
	return out
}

// unchangedFields are credentials fields that name the vendor's API
// rather than the account: every account of the test server shares them.
var unchangedFields = map[string]bool{"audience": true, "integrator_id": true, "scope": true}

// connectionCredentials are the sandbox credentials of a named connection:
// the test server's sandbox credentials made the connection's own, so that
// each connection is a different account (Merchenta: its own user,
// password and advertiser code, the connection's name in capitals). They
// are public test values, not secrets.
func connectionCredentials(vendor, connection string) map[string]string {
	out := map[string]string{}
	for k, v := range vendortest.Credentials(vendor) {
		switch {
		case unchangedFields[k]:
			out[k] = v
		case vendor == vendors.Merchenta && k == "advertiser":
			out[k] = strings.ToUpper(connection)
		case vendor == vendors.Merchenta && k == "username":
			_, domain, _ := strings.Cut(v, "@")
			out[k] = connection + "@" + domain
		default:
			out[k] = v + "-" + connection
		}
	}
	return out
}
