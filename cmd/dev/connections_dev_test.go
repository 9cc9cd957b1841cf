//go:build linux

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// devConnections are the named connections dev runs by default.
var devConnections = []string{"acme", "globex"}

// wantRows is how many rows dev's status has by default: every vendor's
// default connection, and Merchenta's acme and globex.
var wantRows = len(vendors.All()) + len(devConnections)

// findConn returns the row of vendor's connection.
func findConn(st status, vendor, connection string) vendorStatus {
	for _, v := range st.Vendors {
		if v.Vendor == vendor && v.Connection == connection {
			return v
		}
	}
	return vendorStatus{}
}

// expectedSecrets are the secrets dev creates by default, with the tags
// the stack gives them.
func expectedSecrets() map[string]map[string]string {
	want := map[string]map[string]string{}
	for _, spec := range vendors.All() {
		roles := []string{vendors.RoleCredentials, vendors.RoleToken}
		if spec.AuthCode {
			roles = append(roles, vendors.RoleRefreshToken, vendors.RoleSigningKey)
		}
		for _, role := range roles {
			want[vendors.SecretName(vendors.DefaultPrefix, spec.Name, "", role)] = vendors.SecretTags(spec.Name, vendors.DefaultConnection, role)
		}
	}
	for _, c := range devConnections {
		for _, role := range []string{vendors.RoleCredentials, vendors.RoleToken} {
			want[vendors.SecretName(vendors.DefaultPrefix, vendors.Merchenta, c, role)] = vendors.SecretTags(vendors.Merchenta, c, role)
		}
	}
	return want
}

// checkSecretTags lists dev's secrets in moto and reads each one's tags
// with DescribeSecret: every secret is one the stack would create, tagged
// as the stack tags it.
func checkSecretTags(t *testing.T, sm *secretsmanager.Client) {
	ctx := context.Background()
	want := expectedSecrets()
	seen := map[string]bool{}
	p := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.SecretList {
			seen[aws.ToString(e.Name)] = true
		}
	}
	for name := range seen {
		if _, ok := want[name]; !ok {
			t.Errorf("dev created %s, which the stack does not", name)
		}
	}
	for name, tags := range want {
		if !seen[name] {
			t.Errorf("dev did not create %s", name)
			continue
		}
		out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, tg := range out.Tags {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if !reflect.DeepEqual(got, tags) {
			t.Errorf("%s is tagged %v, want %v", name, got, tags)
		}
	}
}

// merchentaClaims are the claims of a Merchenta token that name the
// account: the advertiser and the user it was issued for.
type merchentaClaims struct {
	Adv string `json:"adv"`
	Usr string `json:"usr"`
}

func claimsOf(t *testing.T, access string) merchentaClaims {
	t.Helper()
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		t.Fatalf("merchenta token (fingerprint %s) is not JWT-shaped", token.Fingerprint(access))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c merchentaClaims
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		t.Fatalf("merchenta token (fingerprint %s): payload: %v", token.Fingerprint(access), err)
	}
	return c
}

// accountOf is the Merchenta account a connection's credentials are:
// its test-server account, advertiser and user.
func accountOf(connection string) (account string, want merchentaClaims) {
	creds := vendortest.Credentials(vendors.Merchenta)
	account = vendortest.SandboxAccount
	if connection != vendors.DefaultConnection {
		creds, account = connectionCredentials(vendors.Merchenta, connection), connection
	}
	return account, merchentaClaims{Adv: creds["advertiser"], Usr: creds["username"]}
}

// checkTokenFor checks that tok, read from connection's token secret, is
// that connection's: it names the connection, and it was issued for the
// connection's account with its advertiser.
func checkTokenFor(t *testing.T, tok token.Token, connection string) {
	t.Helper()
	_, want := accountOf(connection)
	if tok.Connection != connection {
		t.Errorf("%s's token (%s) names connection %q", connection, tok.Fingerprint, tok.Connection)
	}
	if tok.Extras["advertiser"] != want.Adv {
		t.Errorf("%s's token (%s) carries advertiser %q, want %q", connection, tok.Fingerprint, tok.Extras["advertiser"], want.Adv)
	}
	if got := claimsOf(t, tok.AccessToken); got != want {
		t.Errorf("%s's token (%s) was issued for %+v, want %+v", connection, tok.Fingerprint, got, want)
	}
}

// checkConnections proves that no Merchenta connection receives another's
// token: each connection is refreshed by its own event; after the runs,
// every version of each connection's token secret holds a token issued
// for that connection's account (as the test server's records, through
// the status, and the token's own claims say); the status and the page
// show a row per connection.
func checkConnections(t *testing.T, front string, sm *secretsmanager.Client, store *secretstore.Store, d *devClient) {
	ctx := context.Background()
	conns := append([]string{vendors.DefaultConnection}, devConnections...)
	tokens := map[string]token.Token{}
	for _, c := range conns {
		tokens[c] = waitTokenAt(t, store, vendors.Merchenta, c, 2*time.Minute, func(token.Token) bool { return true })
		checkTokenFor(t, tokens[c], c)
	}

	t.Run("each connection by its own event", func(t *testing.T) {
		for _, c := range devConnections {
			event := `{"force":true,"connection":"` + c + `"}`
			resp, err := http.Post(front+"/invoke/"+vendors.Merchenta, "application/json", strings.NewReader(event))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: HTTP %d: %s", event, resp.StatusCode, body)
			}
			var sum refresh.Summary
			if err := json.Unmarshal(body, &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Connection != c || sum.Action != refresh.ActionRefreshed || sum.Fingerprint == tokens[c].Fingerprint {
				t.Fatalf("%s replied %+v; token was %s", event, sum, tokens[c].Fingerprint)
			}
			tokens[c] = waitTokenAt(t, store, vendors.Merchenta, c, time.Minute, func(tok token.Token) bool { return tok.Fingerprint == sum.Fingerprint })
			checkTokenFor(t, tokens[c], c)
		}
		if tokens["acme"].AccessToken == tokens["globex"].AccessToken || tokens["acme"].AccessToken == tokens[vendors.DefaultConnection].AccessToken {
			t.Error("two connections hold the same token")
		}
	})

	t.Run("every version of each token secret is its own", func(t *testing.T) {
		for _, c := range conns {
			id := vendors.SecretName(vendors.DefaultPrefix, vendors.Merchenta, c, vendors.RoleToken)
			out, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id), IncludeDeprecated: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ver := range out.Versions {
				v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionId: ver.VersionId})
				if err != nil {
					t.Fatal(err)
				}
				tok, err := token.Parse(aws.ToString(v.SecretString))
				if err != nil {
					continue // the value the stack creates the secret with
				}
				n++
				checkTokenFor(t, tok, c)
			}
			if n == 0 {
				t.Errorf("%s: no token among its %d versions", id, len(out.Versions))
			}
		}
	})

	t.Run("a row per connection, each token issued for its own account", func(t *testing.T) {
		st := d.as(t).waitStatus(time.Minute, "merchenta rows with tokens", func(st status) bool {
			for _, c := range conns {
				if findConn(st, vendors.Merchenta, c).IssuedTo == "" {
					return false
				}
			}
			return true
		})
		rows := 0
		for _, v := range st.Vendors {
			if v.Vendor == vendors.Merchenta {
				rows++
			}
		}
		if rows != len(conns) {
			t.Errorf("%d merchenta rows, want %d (default, acme, globex)", rows, len(conns))
		}
		for _, c := range conns {
			v := findConn(st, vendors.Merchenta, c)
			account, _ := accountOf(c)
			if v.Key != vendors.Merchenta+"/"+c || v.Account != account || v.IssuedTo != account {
				t.Errorf("row %q: account %q, token issued to %q; want %q for both", v.Key, v.Account, v.IssuedTo, account)
			}
			if want := vendors.SecretName(vendors.DefaultPrefix, vendors.Merchenta, c, vendors.RoleToken); v.TokenSecret != want {
				t.Errorf("row %q: token secret %s, want %s", v.Key, v.TokenSecret, want)
			}
			if v.Runs == 0 || v.State != stateOK || v.Function != functionName(vendors.Merchenta) {
				t.Errorf("row %q: %d runs, state %s (%s), function %s", v.Key, v.Runs, v.State, v.StateText, v.Function)
			}
		}
		var table strings.Builder
		writeTable(&table, st)
		for _, name := range []string{"merchenta/acme", "merchenta/globex"} {
			if !strings.Contains(table.String(), "\n"+name+" ") {
				t.Errorf("the table has no row %s:\n%s", name, table.String())
			}
		}
	})
}
