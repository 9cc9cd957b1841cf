package tokenrefresher

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// testConnections are the named connections of the connections tests.
var testConnections = map[string][]string{
	vendors.Merchenta: {"globex", "acme"},
	vendors.Fyber:     {"staging"},
	vendors.Admitad:   {"eu"},
}

// connectionsStack synthesizes the default stack with testConnections:
// the parent template and the template of every shard stack by path.
func connectionsStack(t *testing.T, props Props) (*Stack, template, map[string]template) {
	t.Helper()
	props.AssetDir, props.Vendors, props.AlarmEmail = testAssetDir, vendors.All(), "ops@example.com"
	s := NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: props})
	parent := parseTemplate(assertions.Template_FromStack(s.Stack, nil))
	nested := map[string]template{}
	for _, r := range s.Refreshers {
		for _, c := range r.Connections {
			ns := awscdk.Stack_Of(c.Construct)
			if _, ok := nested[*ns.Node().Path()]; !ok {
				nested[*ns.Node().Path()] = parseTemplate(assertions.Template_FromStack(ns, nil))
			}
		}
	}
	return s, parent, nested
}

// connectionResources finds a connection's resources in the shard stacks.
func connectionOf(t *testing.T, s *Stack, nested map[string]template, vendor, name string) (*Connection, template) {
	t.Helper()
	for _, r := range s.Refreshers {
		for _, c := range r.Connections {
			if r.Spec.Name == vendor && c.Name == name {
				return c, nested[*awscdk.Stack_Of(c.Construct).Node().Path()]
			}
		}
	}
	t.Fatalf("no connection %s/%s", vendor, name)
	return nil, template{}
}

func TestNamedConnections(t *testing.T) {
	s, parent, nested := connectionsStack(t, Props{Connections: testConnections})
	fns := map[string]string{}
	for _, spec := range vendors.All() {
		fns[spec.Name] = parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, spec.Name))
	}

	t.Run("default connection unchanged", func(t *testing.T) {
		// Every resource of the stack without connections is still there,
		// under the same logical id and type: nothing is replaced.
		for id, r := range testDoc.Resources {
			got, ok := parent.Resources[id]
			if !ok || got.Type != r.Type {
				t.Errorf("resource %s (%s) is gone or changed type", id, r.Type)
			}
		}
		for id, r := range testDoc.Resources {
			switch r.Type {
			case "AWS::SecretsManager::Secret", "AWS::Scheduler::Schedule", "AWS::SecretsManager::ResourcePolicy", "AWS::Lambda::Alias":
				if !reflect.DeepEqual(parent.Resources[id], r) {
					t.Errorf("%s %s changed:\n got %v\nwant %v", r.Type, id, parent.Resources[id], r)
				}
			}
		}
	})

	for vendor, names := range testConnections {
		spec := vendors.MustLookup(vendor)
		t.Run(vendor+" environment", func(t *testing.T) {
			sorted := append([]string(nil), names...)
			sort.Strings(sorted)
			fnIDs := []string{fns[vendor]}
			if spec.AuthCode {
				fnIDs = append(fnIDs, parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, spec.CallbackFunctionName())))
			}
			for _, id := range fnIDs {
				env := parent.env(id)
				if env[EnvConnections] != strings.Join(sorted, ",") || env[EnvNamePrefix] != DefaultNamePrefix {
					t.Errorf("%s: %s = %v, %s = %v", id, EnvConnections, env[EnvConnections], EnvNamePrefix, env[EnvNamePrefix])
				}
				if _, ok := env[EnvCredentialsSecretIDs]; ok {
					t.Errorf("%s: %s set without imported credentials", id, EnvCredentialsSecretIDs)
				}
			}
			if got := parent.Outputs[exportID(vendor)+"Connections"].Value; got != "default,"+strings.Join(sorted, ",") {
				t.Errorf("connections output = %v", got)
			}
		})
		for _, name := range names {
			t.Run(vendor+"/"+name, func(t *testing.T) {
				c, doc := connectionOf(t, s, nested, vendor, name)
				if got, want := shardOf(name), *awscdk.Stack_Of(c.Construct).Node().Id(); want != exportID(vendor)+"Connections"+fmt.Sprint(got) {
					t.Errorf("connection in %s, want shard %d", want, got)
				}
				roles := []string{vendors.RoleCredentials, vendors.RoleToken}
				if spec.AuthCode {
					roles = append(roles, vendors.RoleRefreshToken)
				}
				for _, role := range roles {
					secretName := vendors.SecretName(DefaultNamePrefix, vendor, name, role)
					if !strings.HasPrefix(secretName, DefaultNamePrefix+"/"+vendor+"/"+name+"/") {
						t.Fatalf("secret name %s", secretName)
					}
					id := doc.secret(t, secretName)
					if got, want := doc.tagsOf(id), vendors.SecretTags(vendor, name, role); !reflect.DeepEqual(got, want) {
						t.Errorf("%s tags %v, want %v", secretName, got, want)
					}
					// Values as the default connection's secrets have
					// them: credentials none, the others CDK's constant
					// generated placeholder.
					defaultID := testDoc.secret(t, vendors.SecretName(DefaultNamePrefix, vendor, "", role))
					for _, k := range valueKeys {
						if got, want := doc.Resources[id].Properties[k], testDoc.Resources[defaultID].Properties[k]; !reflect.DeepEqual(got, want) {
							t.Errorf("%s: %s = %v, want %v as the default connection's", secretName, k, got, want)
						}
					}
					pol := doc.resourcePolicyOf(t, id)
					if role == vendors.RoleToken {
						if pol != nil {
							t.Errorf("token secret %s has a resource policy", secretName)
						}
						continue
					}
					if pol == nil {
						t.Fatalf("%s has no read guard", secretName)
					}
					// The exempt roles come from the parent stack as
					// parameters: one per function that reads the secret.
					st := pol["Statement"].([]any)[0].(map[string]any)
					exempt, _ := st["Condition"].(map[string]any)["ArnNotLike"].(map[string]any)["aws:PrincipalArn"].([]any)
					want := 1
					if spec.AuthCode {
						want = 2
					}
					if st["Effect"] != "Deny" || st["Action"] != "secretsmanager:GetSecretValue" || len(exempt) != want {
						t.Errorf("read guard of %s: %v", secretName, st)
					}
					for _, e := range exempt {
						for p := range refs(e) {
							if !strings.Contains(p, exportID(vendor)) || !strings.Contains(p, "Role") {
								t.Errorf("read guard of %s exempts %s, not one of %s's function roles", secretName, p, vendor)
							}
						}
					}
				}

				sch := doc.find(t, "AWS::Scheduler::Schedule", "Name", functionName(DefaultNamePrefix, vendor)+"-"+name)
				target := doc.Resources[sch].Properties["Target"].(map[string]any)
				if target["Input"] != `{"connection":"`+name+`"}` {
					t.Errorf("schedule input %v", target["Input"])
				}
				every, err := parseRate(fmt.Sprint(doc.Resources[sch].Properties["ScheduleExpression"]))
				if err != nil || every != spec.Every {
					t.Errorf("schedule every %v (%v), want %s", every, err, spec.Every)
				}
				for p := range refs(target["Arn"]) {
					if !strings.Contains(p, exportID(vendor)+"Function") {
						t.Errorf("schedule targets %s", p)
					}
				}

				var alarms []string
				for _, id := range doc.ofType("AWS::CloudWatch::Alarm") {
					p := doc.Resources[id].Properties
					if p["MetricName"] == MetricSecondsUntilExpiry {
						alarms = append(alarms, id)
						dims := map[string]any{}
						for _, d := range p["Dimensions"].([]any) {
							m := d.(map[string]any)
							dims[fmt.Sprint(m["Name"])] = m["Value"]
						}
						if !reflect.DeepEqual(dims, map[string]any{"Vendor": vendor, "Connection": name}) {
							t.Errorf("expiry alarm dimensions %v", dims)
						}
						if p["AlarmName"] != DefaultNamePrefix+"-"+vendor+"-"+name+"-token-expiring" || p["TreatMissingData"] != "breaching" {
							t.Errorf("expiry alarm %v %v", p["AlarmName"], p["TreatMissingData"])
						}
						if len(p["AlarmActions"].([]any)) != 1 {
							t.Errorf("expiry alarm notifies %v", p["AlarmActions"])
						}
					}
				}
				if len(alarms) == 0 && spec.Expires() {
					t.Errorf("no dead man's switch for %s/%s", vendor, name)
				}
			})
		}
	}

	t.Run("grants by pattern", func(t *testing.T) {
		for _, spec := range vendors.All() {
			pattern := func(role string) string {
				return "secret:" + DefaultNamePrefix + "/" + spec.Name + "/*/" + role + "-??????"
			}
			var got []string
			for _, st := range roleStatements(parent, fns[spec.Name]) {
				for _, r := range st.Resources {
					if j := fmt.Sprint(r); strings.Contains(j, "/*/") {
						got = append(got, strings.Join(st.Actions, "+")+" "+j)
					}
				}
			}
			_, named := testConnections[spec.Name]
			if !named {
				if len(got) != 0 {
					t.Errorf("%s has no named connections but pattern grants %v", spec.Name, got)
				}
				continue
			}
			all := strings.Join(got, "\n")
			for _, want := range []string{pattern(vendors.RoleCredentials), pattern(vendors.RoleToken)} {
				if !strings.Contains(all, want) {
					t.Errorf("%s: no grant on %s in\n%s", spec.Name, want, all)
				}
			}
			for _, line := range got {
				if strings.Contains(line, "PutSecretValue") && strings.Contains(line, "/credentials-") {
					t.Errorf("%s may write named connections' credentials: %s", spec.Name, line)
				}
				for _, other := range vendors.All() {
					if other.Name != spec.Name && strings.Contains(line, "/"+other.Name+"/") {
						t.Errorf("%s reaches %s's connections: %s", spec.Name, other.Name, line)
					}
				}
			}
		}
	})

	t.Run("app and operator policies", func(t *testing.T) {
		policy := func(description string) string {
			id := parent.find(t, "AWS::IAM::ManagedPolicy", "Description", description)
			return fmt.Sprint(parent.Resources[id].Properties["PolicyDocument"])
		}
		reader := policy("Read the token-refresher token secrets (and nothing else)")
		operator := policy("Run tokenctl against token-refresher: status, set-credentials, refresh, connect")
		rejecter := policy("Ask the token-refresher refreshers for a new token after a vendor refused one")
		for _, spec := range vendors.All() {
			token := DefaultNamePrefix + "/" + spec.Name + "/*/token-??????"
			creds := DefaultNamePrefix + "/" + spec.Name + "/*/credentials-??????"
			_, named := testConnections[spec.Name]
			if strings.Contains(reader, token) != named || strings.Contains(operator, token) != named || strings.Contains(operator, creds) != named {
				t.Errorf("%s (named connections: %v): reader or operator policy disagrees on %s / %s", spec.Name, named, token, creds)
			}
			if strings.Contains(reader, creds) || strings.Contains(reader, "refresh-token") {
				t.Errorf("reader policy reaches %s credentials or refresh tokens", spec.Name)
			}
		}
		if strings.Contains(rejecter, "secretsmanager") {
			t.Errorf("rejecter policy reaches secrets: %s", rejecter)
		}
	})

	t.Run("cdk-nag", func(t *testing.T) {
		for _, f := range nagFindings(s.Stack, true) {
			t.Errorf("cdk-nag error at %s", f)
		}
		// The parent's annotations include those of its nested stacks.
		for _, f := range nagFindings(s.Stack, false) {
			t.Errorf("cdk-nag warning at %s", f)
		}
	})
}

// TestNamedConnectionsInAnEnvironment: a stack given a concrete account
// and region, as every `cdk deploy` gives it (the CLI sets
// CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION), passes cdk-nag with
// connections declared, as the environment-agnostic one does.
func TestNamedConnectionsInAnEnvironment(t *testing.T) {
	for _, env := range []*awscdk.Environment{
		nil,
		{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")},
		{Account: jsii.String("210987654321"), Region: jsii.String("eu-central-1")},
	} {
		name := "agnostic"
		if env != nil {
			name = *env.Account + "/" + *env.Region
		}
		t.Run(name, func(t *testing.T) {
			s := NewStack(newTestApp(), "TokenRefresher", &StackProps{
				StackProps: awscdk.StackProps{Env: env},
				Props: Props{
					AssetDir: testAssetDir, Vendors: vendors.All(), Connections: testConnections, AlarmEmail: "ops@example.com",
				},
			})
			for _, f := range nagFindings(s.Stack, true) {
				t.Errorf("cdk-nag error at %s", f)
			}
			for _, f := range nagFindings(s.Stack, false) {
				t.Errorf("cdk-nag warning at %s", f)
			}
		})
	}
}

// TestReaderPolicyForOneConnection: an app that may read merchenta/acme
// gets exactly that token secret.
func TestReaderPolicyForOneConnection(t *testing.T) {
	s := NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: Props{
		AssetDir: testAssetDir, Vendors: vendors.All(), Connections: testConnections,
	}})
	pol := s.ReaderPolicyFor(s.Stack, "AcmeReader", vendors.Merchenta, "acme")
	doc := parseTemplate(assertions.Template_FromStack(s.Stack, nil))
	id := *s.Stack.GetLogicalId(pol.Node().DefaultChild().(awscdk.CfnElement))
	sts := statements(doc.Resources[id].Properties["PolicyDocument"])
	if len(sts) != 1 || len(sts[0].Resources) != 1 {
		t.Fatalf("statements %v", sts)
	}
	// The token secret lives in a shard stack: the policy names its
	// output, Outputs.<...>ConnectionacmeToken<hash>Ref.
	if got := fmt.Sprint(sts[0].Resources[0]); !strings.Contains(got, "Connectionacme") || !strings.Contains(got, "Token") ||
		strings.Contains(got, "RefreshToken") || strings.Contains(got, "Credentials") {
		t.Errorf("reader of merchenta/acme reads %s", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `no connection "nobody"`) {
			t.Errorf("panic = %v", r)
		}
	}()
	s.ReaderPolicyFor(s.Stack, "Nobody", vendors.Merchenta, "nobody")
}

// TestImportedConnectionCredentials: a named connection's credentials can
// be imported by name, as the default connection's can.
func TestImportedConnectionCredentials(t *testing.T) {
	s, parent, nested := connectionsStack(t, Props{
		Connections:            testConnections,
		CredentialsSecretNames: map[string]string{"merchenta/acme": "ops/merchenta-acme"},
	})
	fn := parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, vendors.Merchenta))
	if got := parent.env(fn)[EnvCredentialsSecretIDs]; got != `{"acme":"ops/merchenta-acme"}` {
		t.Errorf("%s = %v", EnvCredentialsSecretIDs, got)
	}
	_, doc := connectionOf(t, s, nested, vendors.Merchenta, "acme")
	for _, id := range doc.ofType("AWS::SecretsManager::Secret") {
		if doc.Resources[id].Properties["Name"] == vendors.SecretName(DefaultNamePrefix, vendors.Merchenta, "acme", vendors.RoleCredentials) {
			t.Error("credentials secret created although imported")
		}
	}
	for _, f := range nagFindings(s.Stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
}

// TestScaleFiveVendorsTimesHundredConnections synthesizes 5 vendors × 100
// connections and compares each stack's resources with CloudFormation's
// limit of 500.
func TestScaleFiveVendorsTimesHundredConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes about 2,700 resources")
	}
	conns := map[string][]string{}
	for _, spec := range vendors.All() {
		for i := 0; i < 100; i++ {
			conns[spec.Name] = append(conns[spec.Name], fmt.Sprintf("account-%03d", i))
		}
	}
	s, parent, nested := connectionsStack(t, Props{Connections: conns})
	total := len(parent.Resources)
	t.Logf("parent stack: %d resources, %d outputs", len(parent.Resources), len(parent.Outputs))
	if len(parent.Resources) > 500 || len(parent.Outputs) > 200 {
		t.Errorf("parent stack: %d resources, %d outputs; CloudFormation allows 500 and 200", len(parent.Resources), len(parent.Outputs))
	}
	paths := make([]string, 0, len(nested))
	for p := range nested {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		n := len(nested[p].Resources)
		total += n
		t.Logf("%s: %d resources", p, n)
		if n > 500 {
			t.Errorf("%s: %d resources, over CloudFormation's 500", p, n)
		}
	}
	t.Logf("total: %d resources in %d stacks", total, 1+len(nested))
	for _, r := range s.Refreshers {
		if len(r.Connections) != 100 {
			t.Errorf("%s: %d connections", r.Spec.Name, len(r.Connections))
		}
	}
}
