package vendortest

import (
	"fmt"
	"sort"
	"sync"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// The registry maps a vendor's name to its test server and sandbox
// credentials. A vendor's test package (shared/<vendor>/<vendor>test)
// registers its server from an init function; package internal/testservers
// imports every vendor's test package (and registers the generic server of
// every vendor declared by a row alone), so a program that imports it (make
// dev, make bench, the integration tests) finds every vendor's server
// through New.
var (
	registryMu sync.RWMutex
	registry   = map[string]registration{}
)

type registration struct {
	newServer func(Options) *Server
	sandbox   map[string]string
}

// Register makes newServer the test server of vendor, and sandbox the
// credentials it accepts (the fields of the vendor's credentials secret;
// Credentials returns a copy). It is meant for init functions: it panics on
// an empty name, a nil constructor, or a vendor registered twice.
func Register(vendor string, newServer func(Options) *Server, sandbox map[string]string) {
	if vendor == "" || newServer == nil {
		panic("vendortest: Register needs a vendor name and a constructor")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[vendor]; dup {
		panic(fmt.Sprintf("vendortest: vendor %q registered twice", vendor))
	}
	registry[vendor] = registration{newServer: newServer, sandbox: clone(sandbox)}
}

// New starts the registered test server of vendor. A vendor of the table
// with none is an error that says where the server belongs, a name that is
// neither registered nor in the table an error that says so; constructors panic only on a
// listen that fails (see Options.Addr), which New returns as an error too.
func New(vendor string, opts Options) (srv *Server, err error) {
	registryMu.RLock()
	reg, ok := registry[vendor]
	registryMu.RUnlock()
	if _, err := vendors.Lookup(vendor); !ok && err != nil {
		return nil, fmt.Errorf("vendortest: no test server for %q: it is not a vendor of the table (shared/vendors)", vendor)
	}
	if !ok {
		return nil, fmt.Errorf("vendortest: vendor %s has no test server: add one in shared/%s/%stest that calls vendortest.Register from init "+
			"(see docs/adding-a-vendor.md), then run go generate ./internal/testservers so programs import it", vendor, vendor, vendor)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vendortest: start %s test server: %v", vendor, r)
		}
	}()
	return reg.newServer(opts), nil
}

// MustNew is New for callers that cannot go on without the server: it
// panics with New's error.
func MustNew(vendor string, opts Options) *Server {
	srv, err := New(vendor, opts)
	if err != nil {
		panic(err)
	}
	return srv
}

// Registered returns the vendors that have a test server, sorted.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for v := range registry {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Credentials returns the sandbox credentials vendor's test server accepts,
// as the fields of the vendor's credentials secret: what its test package
// passed to Register. An unregistered vendor returns nil. The map is a
// fresh copy.
func Credentials(vendor string) map[string]string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	reg, ok := registry[vendor]
	if !ok {
		return nil
	}
	return clone(reg.sandbox)
}
