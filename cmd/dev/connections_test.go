package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestParseConnections(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    connectionsFlag
		wantErr string
	}{
		{name: "default", in: defaultConnections, want: connectionsFlag{vendors.Merchenta: {"acme", "globex"}}},
		{name: "none", in: "", want: connectionsFlag{}},
		{name: "two vendors, spaces", in: "merchenta=acme fyber=staging,prod", want: connectionsFlag{vendors.Merchenta: {"acme"}, vendors.Fyber: {"staging", "prod"}}},
		{name: "two vendors, semicolon", in: "hasoffers=a1;merchenta=x", want: connectionsFlag{vendors.HasOffers: {"a1"}, vendors.Merchenta: {"x"}}},
		{name: "no equals", in: "merchenta", wantErr: `"merchenta" is not vendor=name`},
		{name: "no names", in: "merchenta=", wantErr: `"merchenta=" is not vendor=name`},
		{name: "unknown vendor", in: "nope=acme", wantErr: `unknown vendor "nope"`},
		{name: "vendor without accounts", in: "invoca=acme", wantErr: "invoca: dev runs named connections only of fyber, hasoffers, merchenta"},
		{name: "admitad", in: "admitad=eu", wantErr: "admitad: dev runs named connections only of"},
		{name: "vendor twice", in: "merchenta=a merchenta=b", wantErr: "merchenta is named twice"},
		{name: "empty name", in: "merchenta=acme,,globex", wantErr: "empty connection name"},
		{name: "default named", in: "merchenta=default", wantErr: `"default" is the default connection`},
		{name: "name twice", in: "merchenta=acme,acme", wantErr: `connection "acme" is named twice`},
		{name: "bad name", in: "merchenta=Acme", wantErr: `"Acme" is not [a-z0-9][a-z0-9-]{0,31}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConnections(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "dev: -connections: ") {
					t.Fatalf("error %v, want one starting \"dev: -connections: \" and containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseFlagsConnections(t *testing.T) {
	c, err := parseFlags(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (connectionsFlag{vendors.Merchenta: {"acme", "globex"}}); !reflect.DeepEqual(c.connections, want) {
		t.Errorf("default connections %v, want %v", c.connections, want)
	}
	if _, err := parseFlags([]string{"-connections", "invoca=x"}, nil); err == nil {
		t.Error("-connections invoca=x accepted")
	}
	c, err = parseFlags([]string{"-connections", ""}, nil)
	if err != nil || len(c.connections) != 0 {
		t.Errorf("-connections '': %v, %v", c.connections, err)
	}
}

// TestConnectionCredentials: every named connection is its own account:
// no field that identifies or authenticates the account is shared with the
// sandbox or another connection, and Merchenta's advertiser code is the
// connection's.
func TestConnectionCredentials(t *testing.T) {
	for _, vendor := range accountVendorNames() {
		t.Run(vendor, func(t *testing.T) {
			sandbox := vendortest.Credentials(vendor)
			acme, globex := connectionCredentials(vendor, "acme"), connectionCredentials(vendor, "globex")
			spec := vendors.MustLookup(vendor)
			for _, f := range spec.CredentialFields {
				if acme[f] == "" {
					t.Errorf("acme has no %s", f)
				}
				if unchangedFields[f] {
					if acme[f] != sandbox[f] {
						t.Errorf("%s changed: %q", f, acme[f])
					}
					continue
				}
				if acme[f] == sandbox[f] || acme[f] == globex[f] {
					t.Errorf("%s is shared: sandbox %q, acme %q, globex %q", f, sandbox[f], acme[f], globex[f])
				}
			}
		})
	}
	m := connectionCredentials(vendors.Merchenta, "acme")
	if m["advertiser"] != "ACME" || m["username"] != "acme@merchenta.com" {
		t.Errorf("merchenta acme: advertiser %q, username %q", m["advertiser"], m["username"])
	}
}

// testSystem is a system of vendor runs only, as startFakes makes them,
// without test servers or processes.
func testSystem(conns connectionsFlag) *system {
	s := &system{cfg: config{speed: 60, connections: conns}}
	for _, spec := range vendors.All() {
		v := &vendorRun{spec: spec, connection: vendors.DefaultConnection, account: vendortest.SandboxAccount,
			creds: vendortest.Credentials(spec.Name), tokenID: secretName(spec.Name, vendors.RoleToken), every: time.Minute}
		s.vendors = append(s.vendors, v)
		for _, c := range conns[spec.Name] {
			n := *v
			n.connection, n.account, n.creds = c, c, connectionCredentials(spec.Name, c)
			n.tokenID = n.secret(vendors.RoleToken)
			s.vendors = append(s.vendors, &n)
		}
	}
	return s
}

// TestSeedTags: every secret dev creates carries the stack's tags for its
// role, vendor and connection (vendors.SecretTags), and a named
// connection's secrets are named and filled for it.
func TestSeedTags(t *testing.T) {
	s := testSystem(connectionsFlag{vendors.Merchenta: {"acme", "globex"}})
	type secret struct {
		value string
		tags  map[string]string
	}
	got := map[string]secret{}
	err := s.seedAll(func(name, value string, tags map[string]string) error {
		if _, dup := got[name]; dup {
			t.Errorf("%s created twice", name)
		}
		got[name] = secret{value, tags}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{}
	for _, spec := range vendors.All() {
		roles := []string{vendors.RoleCredentials, vendors.RoleToken}
		if spec.AuthCode {
			roles = append(roles, vendors.RoleRefreshToken, vendors.RoleSigningKey)
		}
		for _, role := range roles {
			want[secretName(spec.Name, role)] = vendors.SecretTags(spec.Name, vendors.DefaultConnection, role)
		}
	}
	for _, c := range []string{"acme", "globex"} {
		for _, role := range []string{vendors.RoleCredentials, vendors.RoleToken} {
			want["token-refresher/merchenta/"+c+"/"+role] = vendors.SecretTags(vendors.Merchenta, c, role)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d secrets created, want %d", len(got), len(want))
	}
	for name, tags := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s not created", name)
			continue
		}
		if !reflect.DeepEqual(g.tags, tags) {
			t.Errorf("%s tagged %v, want %v", name, g.tags, tags)
		}
	}
	var acme map[string]string
	if err := json.Unmarshal([]byte(got["token-refresher/merchenta/acme/credentials"].value), &acme); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(acme, connectionCredentials(vendors.Merchenta, "acme")) {
		t.Errorf("acme's credentials secret holds other credentials (fields %d)", len(acme))
	}
}

// TestConnectionEvents: each connection's schedule sends its own event,
// and an event picks the row of the connection it names.
func TestConnectionEvents(t *testing.T) {
	s := testSystem(connectionsFlag{vendors.Merchenta: {"acme", "globex"}})
	for _, v := range s.vendors {
		if v.spec.Name != vendors.Merchenta {
			continue
		}
		want := `{}`
		if v.named() {
			want = `{"connection":"` + v.connection + `"}`
		}
		if string(v.event()) != want {
			t.Errorf("%s: schedule event %s, want %s", v.key(), v.event(), want)
		}
		if got := s.runFor(vendors.Merchenta, v.event()); got != v {
			t.Errorf("%s: its event picks %v", v.key(), got)
		}
	}
	cases := []struct {
		payload, want string
	}{
		{`{"force":true,"connection":"globex"}`, "merchenta/globex"},
		{`{"connection":"default"}`, "merchenta/default"},
		{`{"force":true}`, "merchenta/default"},
		{`not json`, "merchenta/default"},
		{`{"connection":"initech"}`, ""},
	}
	for _, tc := range cases {
		got := ""
		if v := s.runFor(vendors.Merchenta, []byte(tc.payload)); v != nil {
			got = v.key()
		}
		if got != tc.want {
			t.Errorf("runFor(%s) = %q, want %q", tc.payload, got, tc.want)
		}
	}
	if got := s.namedConnections(vendors.Merchenta); !reflect.DeepEqual(got, []string{"acme", "globex"}) {
		t.Errorf("named connections %v", got)
	}
	if got := s.namedConnections(vendors.Fyber); len(got) != 0 {
		t.Errorf("fyber's named connections %v", got)
	}
}
