package tokenrefresher

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// parseRate reads a Scheduler rate expression back into a duration.
func parseRate(expr string) (time.Duration, error) {
	m := regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`).FindStringSubmatch(expr)
	if m == nil {
		return 0, fmt.Errorf("not a rate expression: %q", expr)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
	if (n == 1) != !strings.HasSuffix(m[2], "s") {
		return 0, fmt.Errorf("unit %q does not agree with %d in %q", m[2], n, expr)
	}
	return time.Duration(n) * unit, nil
}

func TestOneFunctionAndSchedulePerVendor(t *testing.T) {
	specs := vendors.All()
	callbacks := 0
	for _, s := range specs {
		if s.AuthCode {
			callbacks++
		}
	}
	if got, want := len(testDoc.ofType("AWS::Lambda::Function")), len(specs)+callbacks; got != want {
		t.Errorf("functions: got %d, want %d (one per vendor plus callbacks)", got, want)
	}
	if got := len(testDoc.ofType("AWS::Scheduler::Schedule")); got != len(specs) {
		t.Errorf("schedules: got %d, want %d", got, len(specs))
	}
	fns := functionIDs(t)
	for _, spec := range specs {
		t.Run(spec.Name, func(t *testing.T) {
			fnID := fns[spec.FunctionName()]
			fn := testDoc.Resources[fnID].Properties
			want := map[string]any{
				"Runtime":                      "provided.al2023",
				"Architectures":                []any{"arm64"},
				"Handler":                      "bootstrap",
				"MemorySize":                   float64(128),
				"Timeout":                      float64(functionTimeout),
				"ReservedConcurrentExecutions": float64(1),
			}
			for k, v := range want {
				if !reflect.DeepEqual(fn[k], v) {
					t.Errorf("function %s: %s = %v, want %v", spec.Name, k, fn[k], v)
				}
			}
			if lc, _ := fn["LoggingConfig"].(map[string]any); lc == nil || len(refs(lc["LogGroup"])) != 1 {
				t.Errorf("function %s: no log group of its own: %v", spec.Name, fn["LoggingConfig"])
			}

			var schedules []string
			for _, id := range testDoc.ofType("AWS::Scheduler::Schedule") {
				target, _ := testDoc.Resources[id].Properties["Target"].(map[string]any)
				if reflect.DeepEqual(target["Arn"], getAttArn(fnID)) {
					schedules = append(schedules, id)
				}
			}
			if len(schedules) != 1 {
				t.Fatalf("schedules targeting %s: %v, want exactly one", spec.Name, schedules)
			}
			sch := testDoc.Resources[schedules[0]].Properties
			every, err := parseRate(fmt.Sprint(sch["ScheduleExpression"]))
			if err != nil {
				t.Fatal(err)
			}
			if every != spec.Every {
				t.Errorf("schedule of %s runs every %s, the table says %s", spec.Name, every, spec.Every)
			}
			if ftw, _ := sch["FlexibleTimeWindow"].(map[string]any); ftw["Mode"] != "OFF" {
				t.Errorf("schedule of %s: flexible window %v, want OFF", spec.Name, ftw)
			}
			target := sch["Target"].(map[string]any)
			if target["Input"] != "{}" {
				t.Errorf("schedule of %s: input %v, want {}", spec.Name, target["Input"])
			}
			rp, _ := target["RetryPolicy"].(map[string]any)
			if n, _ := rp["MaximumRetryAttempts"].(float64); n < 1 {
				t.Errorf("schedule of %s: retry policy %v", spec.Name, rp)
			}
			dlq, _ := target["DeadLetterConfig"].(map[string]any)
			dlqRefs := refs(dlq)
			if len(dlqRefs) != 1 {
				t.Fatalf("schedule of %s: dead-letter config %v", spec.Name, dlq)
			}
			for id := range dlqRefs {
				q := testDoc.Resources[id]
				if q.Type != "AWS::SQS::Queue" || q.Properties["SqsManagedSseEnabled"] != true {
					t.Errorf("dead-letter queue of %s is not an encrypted queue: %v", spec.Name, q)
				}
			}
		})
	}
}

func TestEnvironmentPointsAtSecrets(t *testing.T) {
	fns := functionIDs(t)
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			creds := ref(testDoc.secret(t, credentialsSecretName(DefaultNamePrefix, spec.Name)))
			token := ref(testDoc.secret(t, tokenSecretName(DefaultNamePrefix, spec.Name)))
			want := map[string]any{"CREDENTIALS_SECRET_ID": creds, "TOKEN_SECRET_ID": token}
			for k, v := range vendors.FunctionEnvironment {
				want[k] = v
			}
			if spec.DefaultURL != "" {
				want[spec.URLEnv] = spec.DefaultURL
			}
			if spec.AuthCode {
				want["REFRESH_SECRET_ID"] = ref(testDoc.secret(t, refreshSecretName(DefaultNamePrefix, spec.Name)))
			}
			if got := testDoc.env(fns[spec.FunctionName()]); !reflect.DeepEqual(got, want) {
				t.Errorf("refresher %s environment:\n got %v\nwant %v", spec.Name, got, want)
			}

			if !spec.AuthCode {
				return
			}
			cb := testDoc.env(fns[spec.CallbackFunctionName()])
			for k, v := range map[string]any{
				"CREDENTIALS_SECRET_ID":   creds,
				"TOKEN_SECRET_ID":         token,
				"REFRESH_SECRET_ID":       want["REFRESH_SECRET_ID"],
				"SIGNING_KEY_SECRET_ID":   ref(testDoc.secret(t, signingKeySecretName(DefaultNamePrefix, spec.Name))),
				spec.URLEnv:               spec.DefaultURL,
				"AUTHORIZE_URL":           authorizeURLs[spec.Name],
				"REFRESHER_FUNCTION_NAME": functionName(DefaultNamePrefix, spec.FunctionName()),
			} {
				if !reflect.DeepEqual(cb[k], v) {
					t.Errorf("callback %s: %s = %v, want %v", spec.Name, k, cb[k], v)
				}
			}
			apiID := testDoc.ofType("AWS::ApiGatewayV2::Api")
			wantCallback := map[string]any{"Fn::Join": []any{"", []any{
				map[string]any{"Fn::GetAtt": []any{apiID[0], "ApiEndpoint"}}, "/" + spec.Name + "/callback",
			}}}
			if !reflect.DeepEqual(cb["CALLBACK_URL"], wantCallback) {
				t.Errorf("callback %s: CALLBACK_URL = %v, want %v", spec.Name, cb["CALLBACK_URL"], wantCallback)
			}
		})
	}
}

// TestInvocaURLComesFromCredentials checks that a vendor without a default
// URL gets no URL variable: it reads validate_url from its credentials.
func TestInvocaURLComesFromCredentials(t *testing.T) {
	spec := vendors.MustLookup(vendors.Invoca)
	env := testDoc.env(functionIDs(t)[spec.FunctionName()])
	if v, ok := env[spec.URLEnv]; ok {
		t.Errorf("%s = %v, want unset", spec.URLEnv, v)
	}
}

func TestReaderPolicyGrantsTokenSecretsOnly(t *testing.T) {
	var want []string
	for _, spec := range vendors.All() {
		want = append(want, testDoc.secret(t, tokenSecretName(DefaultNamePrefix, spec.Name)))
	}
	sort.Strings(want)

	id := testDoc.find(t, "AWS::IAM::ManagedPolicy", "Description", "Read the token-refresher token secrets (and nothing else)")
	sts := statements(testDoc.Resources[id].Properties["PolicyDocument"])
	if len(sts) != 1 {
		t.Fatalf("reader policy has %d statements, want 1: %v", len(sts), sts)
	}
	st := sts[0]
	slices.Sort(st.Actions)
	if st.Effect != "Allow" || !reflect.DeepEqual(st.Actions, []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}) {
		t.Errorf("reader statement: %v %v", st.Effect, st.Actions)
	}
	var got []string
	for _, r := range st.Resources {
		m, ok := r.(map[string]any)
		if !ok || len(refs(m)) != 1 || m["Ref"] == nil {
			t.Errorf("reader resource %v is not a reference to one secret", r)
			continue
		}
		got = append(got, m["Ref"].(string))
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reader may read %v, want exactly the token secrets %v", got, want)
	}
}

// grantsOf returns, for each function id, the secret ids its role's
// policies name per action.
func grantsOf(t *testing.T) map[string]map[string]map[string]bool {
	t.Helper()
	roleToFn := map[string]string{}
	for _, id := range testDoc.ofType("AWS::Lambda::Function") {
		for role := range refs(testDoc.Resources[id].Properties["Role"]) {
			roleToFn[role] = id
		}
	}
	out := map[string]map[string]map[string]bool{}
	for _, pid := range testDoc.ofType("AWS::IAM::Policy") {
		p := testDoc.Resources[pid].Properties
		for role := range refs(p["Roles"]) {
			fn, ok := roleToFn[role]
			if !ok {
				continue
			}
			for _, st := range statements(p["PolicyDocument"]) {
				for _, a := range st.Actions {
					for res := range refs(st.Resources) {
						if testDoc.Resources[res].Type != "AWS::SecretsManager::Secret" {
							continue
						}
						if out[fn] == nil {
							out[fn] = map[string]map[string]bool{}
						}
						if out[fn][a] == nil {
							out[fn][a] = map[string]bool{}
						}
						out[fn][a][res] = true
					}
				}
			}
		}
	}
	return out
}

func TestFunctionsTouchOnlyTheirOwnSecrets(t *testing.T) {
	fns := functionIDs(t)
	grants := grantsOf(t)
	set := func(ids ...string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	for _, spec := range vendors.All() {
		creds := testDoc.secret(t, credentialsSecretName(DefaultNamePrefix, spec.Name))
		token := testDoc.secret(t, tokenSecretName(DefaultNamePrefix, spec.Name))
		want := map[string]map[string]bool{
			"secretsmanager:GetSecretValue": set(creds, token),
			"secretsmanager:DescribeSecret": set(creds, token),
			"secretsmanager:PutSecretValue": set(token),
			// Counting the token secret's versions: rejects stop before
			// Secrets Manager's quota of versions a day.
			"secretsmanager:ListSecretVersionIds": set(token),
		}
		var wantCallback map[string]map[string]bool
		if spec.AuthCode {
			refresh := testDoc.secret(t, refreshSecretName(DefaultNamePrefix, spec.Name))
			key := testDoc.secret(t, signingKeySecretName(DefaultNamePrefix, spec.Name))
			for _, a := range []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"} {
				want[a][refresh] = true
			}
			want["secretsmanager:UpdateSecretVersionStage"] = set(refresh)
			want["secretsmanager:ListSecretVersionIds"] = set(token, refresh)
			wantCallback = map[string]map[string]bool{
				"secretsmanager:GetSecretValue":           set(creds, token, refresh, key),
				"secretsmanager:DescribeSecret":           set(creds, token, refresh, key),
				"secretsmanager:PutSecretValue":           set(token, refresh),
				"secretsmanager:UpdateSecretVersionStage": set(refresh),
				"secretsmanager:ListSecretVersionIds":     set(token, refresh),
			}
		}
		t.Run(spec.Name, func(t *testing.T) {
			if got := grants[fns[spec.FunctionName()]]; !reflect.DeepEqual(got, want) {
				t.Errorf("refresher %s may touch secrets\n got %v\nwant %v", spec.Name, got, want)
			}
			if spec.AuthCode {
				if got := grants[fns[spec.CallbackFunctionName()]]; !reflect.DeepEqual(got, wantCallback) {
					t.Errorf("callback %s may touch secrets\n got %v\nwant %v", spec.Name, got, wantCallback)
				}
			}
		})
	}
	// No other function of the stack is granted any secret.
	known := map[string]bool{}
	for _, id := range fns {
		known[id] = true
	}
	for fn := range grants {
		if !known[fn] {
			t.Errorf("unexpected function %s with secret grants", fn)
		}
	}
}

// The one grant on "*" is BatchGetSecretValue, to the refreshers only: it
// returns nothing the role may not also GetSecretValue.
func TestOnlyBatchReadIsGrantedOnAnyResource(t *testing.T) {
	fns := functionIDs(t)
	refreshers := map[string]bool{}
	for _, spec := range vendors.All() {
		refreshers[fns[spec.FunctionName()]] = true
	}
	roleToFn := map[string]string{}
	for _, id := range testDoc.ofType("AWS::Lambda::Function") {
		for role := range refs(testDoc.Resources[id].Properties["Role"]) {
			roleToFn[role] = id
		}
	}
	batch := map[string]bool{}
	for _, pid := range testDoc.ofType("AWS::IAM::Policy") {
		p := testDoc.Resources[pid].Properties
		for role := range refs(p["Roles"]) {
			fn := roleToFn[role]
			for _, st := range statements(p["PolicyDocument"]) {
				if !slices.Contains(st.Resources, any("*")) {
					continue
				}
				for _, a := range st.Actions {
					if !strings.HasPrefix(a, "secretsmanager:") {
						continue
					}
					if a != "secretsmanager:BatchGetSecretValue" || !refreshers[fn] {
						t.Errorf("%s (role %s) has %s on every resource", fn, role, a)
					}
					batch[fn] = true
				}
			}
		}
	}
	for fn := range refreshers {
		if !batch[fn] {
			t.Errorf("refresher %s cannot read its secrets in one call (no secretsmanager:BatchGetSecretValue)", fn)
		}
	}
}

func TestNoFunctionReadsAnotherVendorsCredentials(t *testing.T) {
	fns := functionIDs(t)
	grants := grantsOf(t)
	owner := map[string]string{} // credentials secret id → vendor
	for _, spec := range vendors.All() {
		owner[testDoc.secret(t, credentialsSecretName(DefaultNamePrefix, spec.Name))] = spec.Name
	}
	for _, spec := range vendors.All() {
		for _, fn := range []string{spec.FunctionName(), spec.CallbackFunctionName()} {
			if fn == "" {
				continue
			}
			for action, secrets := range grants[fns[fn]] {
				for id := range secrets {
					if v, isCreds := owner[id]; isCreds && v != spec.Name {
						t.Errorf("%s has %s on the credentials of %s", fn, action, v)
					}
				}
			}
		}
	}
}

func TestHTTPAPIRoutes(t *testing.T) {
	for _, spec := range vendors.All() {
		if !spec.AuthCode {
			continue
		}
		for _, route := range []string{"GET /" + spec.Name + "/authorize", "GET /" + spec.Name + "/callback"} {
			testTemplate.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{
				"RouteKey": route,
			})
		}
	}
	testTemplate.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Route"), jsii.Number(2))
	testTemplate.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Integration"), map[string]any{
		"IntegrationType":      "AWS_PROXY",
		"PayloadFormatVersion": "2.0",
	})
	testTemplate.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
		"StageName":  "$default",
		"AutoDeploy": true,
		"DefaultRouteSettings": map[string]any{
			"ThrottlingBurstLimit": connectBurstLimit,
			"ThrottlingRateLimit":  connectRateLimit,
		},
		"AccessLogSettings": map[string]any{
			"DestinationArn": assertions.Match_AnyValue(),
			"Format":         assertions.Match_StringLikeRegexp(jsii.String(`routeKey`)),
		},
	})
	for _, spec := range vendors.All() {
		if !spec.AuthCode {
			continue
		}
		id := testDoc.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, spec.CallbackFunctionName()))
		if to, _ := testDoc.Resources[id].Properties["Timeout"].(float64); to <= 0 || to >= 30 {
			t.Errorf("callback %s timeout %vs, want below the HTTP API's 30 s integration limit", spec.Name, to)
		}
	}
	if strings.Contains(accessLogFormat, "$context.path") || strings.Contains(accessLogFormat, "querystring") {
		t.Errorf("access log format may record the query string (code, state): %s", accessLogFormat)
	}
}

func TestAlarmsForEveryVendor(t *testing.T) {
	fns := functionIDs(t)
	topic := testDoc.ofType("AWS::SNS::Topic")
	if len(topic) != 1 {
		t.Fatalf("topics: %v, want one", topic)
	}
	if refs(testDoc.Resources[topic[0]].Properties["KmsMasterKeyId"])[testDoc.ofType("AWS::KMS::Key")[0]] != true {
		t.Errorf("alarm topic is not encrypted with the stack's key")
	}
	alarms := testDoc.ofType("AWS::CloudWatch::Alarm")
	findAlarm := func(match func(p map[string]any) bool) (map[string]any, bool) {
		for _, id := range alarms {
			p := testDoc.Resources[id].Properties
			if match(p) {
				return p, true
			}
		}
		return nil, false
	}
	dims := func(p map[string]any) map[string]any {
		out := map[string]any{}
		list, _ := p["Dimensions"].([]any)
		for _, d := range list {
			m := d.(map[string]any)
			out[fmt.Sprint(m["Name"])] = m["Value"]
		}
		return out
	}
	notifies := func(t *testing.T, name string, p map[string]any) {
		t.Helper()
		if !refs(p["AlarmActions"])[topic[0]] {
			t.Errorf("%s alarm does not notify the topic: %v", name, p["AlarmActions"])
		}
	}
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			var names []string
			names = append(names, spec.FunctionName())
			if spec.AuthCode {
				names = append(names, spec.CallbackFunctionName())
			}
			for _, fn := range names {
				p, ok := findAlarm(func(p map[string]any) bool {
					return p["MetricName"] == "Errors" && reflect.DeepEqual(dims(p)["FunctionName"], ref(fns[fn]))
				})
				if !ok {
					t.Errorf("no Errors alarm for %s", fn)
					continue
				}
				if p["Threshold"] != float64(0) || p["ComparisonOperator"] != "GreaterThanThreshold" {
					t.Errorf("errors alarm of %s: %v %v", fn, p["ComparisonOperator"], p["Threshold"])
				}
				notifies(t, fn+" errors", p)
			}

			p, ok := findAlarm(func(p map[string]any) bool {
				if p["MetricName"] != "ApproximateNumberOfMessagesVisible" {
					return false
				}
				q := dims(p)["QueueName"]
				for id := range refs(q) {
					if strings.HasPrefix(id, exportID(spec.Name)+"DeadLetterQueue") {
						return true
					}
				}
				return false
			})
			if !ok {
				t.Errorf("no dead-letter alarm for %s", spec.Name)
			} else {
				notifies(t, spec.Name+" dead letters", p)
			}

			p, ok = findAlarm(func(p map[string]any) bool {
				return p["MetricName"] == MetricSecondsUntilExpiry && reflect.DeepEqual(dims(p), map[string]any{"Vendor": spec.Name})
			})
			if !spec.Expires() {
				if ok {
					t.Errorf("%s tokens do not expire, yet it has an expiry alarm", spec.Name)
				}
				return
			}
			if !ok {
				t.Fatalf("no %s alarm for %s", MetricSecondsUntilExpiry, spec.Name)
			}
			want := map[string]any{
				"Namespace":          MetricNamespace,
				"Statistic":          "Minimum",
				"Period":             spec.Every.Seconds(),
				"ComparisonOperator": "LessThanThreshold",
				"Threshold":          expiryAlarmFraction * spec.Lifetime.Seconds(),
				"TreatMissingData":   "breaching",
			}
			for k, v := range want {
				if !reflect.DeepEqual(p[k], v) {
					t.Errorf("expiry alarm of %s: %s = %v, want %v", spec.Name, k, p[k], v)
				}
			}
			// The alarm must fire before the token expires, yet not
			// while a healthy refresher keeps it above RefreshBelow.
			if th := p["Threshold"].(float64); th >= spec.RefreshBelow*spec.Lifetime.Seconds() || th <= 0 {
				t.Errorf("expiry alarm of %s: threshold %vs outside (0, %vs)", spec.Name, th, spec.RefreshBelow*spec.Lifetime.Seconds())
			}
			notifies(t, spec.Name+" expiry", p)
		})
	}
}

func TestDashboardHasARowPerVendor(t *testing.T) {
	ids := testDoc.ofType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("dashboards: %v", ids)
	}
	body := fmt.Sprint(testDoc.Resources[ids[0]].Properties["DashboardBody"])
	for _, spec := range vendors.All() {
		if !strings.Contains(body, spec.Name+": refreshes") {
			t.Errorf("dashboard has no row for %s", spec.Name)
		}
	}
}

// valueKeys are the properties that give a secret a value in the template.
var valueKeys = []string{"SecretString", "GenerateSecretString"}

// TestCredentialsSecretsCarryNoValue: the template creates every
// credentials secret empty, so no stack update can write over what an
// operator filled in; the description says what to fill in and how.
func TestCredentialsSecretsCarryNoValue(t *testing.T) {
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			p := testDoc.Resources[testDoc.secret(t, credentialsSecretName(DefaultNamePrefix, spec.Name))].Properties
			for _, k := range valueKeys {
				if v, ok := p[k]; ok {
					t.Errorf("credentials secret has %s in the template: %v", k, v)
				}
			}
			desc := fmt.Sprint(p["Description"])
			for _, want := range append([]string{"tokenctl set-credentials " + spec.Name}, spec.CredentialFields...) {
				if !strings.Contains(desc, want) {
					t.Errorf("description %q lacks %q", desc, want)
				}
			}
		})
	}
}

// TestChangedCredentialFieldsLeaveTheValueAlone synthesizes the stack
// again with other credentials fields (a required field added to Fyber,
// an optional one to Invoca, one dropped from Merchenta) and compares each
// credentials secret: everything but the description is the same, and
// neither template carries a value that an update would write.
func TestChangedCredentialFieldsLeaveTheValueAlone(t *testing.T) {
	specs := vendors.All()
	for i := range specs {
		s := &specs[i]
		switch s.Name {
		case vendors.Fyber:
			s.CredentialFields = append(slices.Clone(s.CredentialFields), "region")
		case vendors.Invoca:
			s.OptionalFields = append(slices.Clone(s.OptionalFields), "account_id")
		case vendors.Merchenta:
			s.CredentialFields = slices.Clone(s.CredentialFields[:len(s.CredentialFields)-1])
		}
	}
	changed := parseTemplate(assertions.Template_FromStack(newTestStackOf(testAssetDir, specs, nil).Stack, nil))
	withoutDescription := func(p map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range p {
			if k != "Description" {
				out[k] = v
			}
		}
		return out
	}
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			name := credentialsSecretName(DefaultNamePrefix, spec.Name)
			before := testDoc.Resources[testDoc.secret(t, name)].Properties
			after := changed.Resources[changed.secret(t, name)].Properties
			if !reflect.DeepEqual(withoutDescription(before), withoutDescription(after)) {
				t.Errorf("credentials secret changed beyond its description:\nbefore %v\n after %v", before, after)
			}
			for _, k := range valueKeys {
				if v, ok := after[k]; ok {
					t.Errorf("changed table puts %s in the template: %v", k, v)
				}
			}
			touched := spec.Name == vendors.Fyber || spec.Name == vendors.Invoca || spec.Name == vendors.Merchenta
			if got := before["Description"] != after["Description"]; got != touched {
				t.Errorf("description changed = %v, want %v (the test changed this vendor's fields: %v)", got, touched, touched)
			}
		})
	}
}

func TestTokenSecretsHaveNoValue(t *testing.T) {
	for _, spec := range vendors.All() {
		id := testDoc.secret(t, tokenSecretName(DefaultNamePrefix, spec.Name))
		if v, ok := testDoc.Resources[id].Properties["SecretString"]; ok {
			t.Errorf("%s token secret has a value in the template: %v", spec.Name, v)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "rate(15 minutes)", want: 15 * time.Minute},
		{in: "rate(1 day)", want: 24 * time.Hour},
		{in: "rate(6 hours)", want: 6 * time.Hour},
		{in: "rate(1 days)", bad: true},
		{in: "cron(0 * * * ? *)", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseRate(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("parseRate(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

// TestImportedCredentials deploys with the Admitad and Fyber credentials
// imported by name: no placeholder secret is created for them, the
// functions get the name, and the nag checks still pass.
func TestImportedCredentials(t *testing.T) {
	imported := map[string]string{vendors.Admitad: "ops/admitad-credentials", vendors.Fyber: "ops/fyber"}
	s := newTestStack(testAssetDir, imported)
	doc := parseTemplate(assertions.Template_FromStack(s.Stack, nil))
	for vendor, name := range imported {
		for _, id := range doc.ofType("AWS::SecretsManager::Secret") {
			if doc.Resources[id].Properties["Name"] == credentialsSecretName(DefaultNamePrefix, vendor) {
				t.Errorf("%s: placeholder credentials secret created although one was imported", vendor)
			}
		}
		spec := vendors.MustLookup(vendor)
		fns := []string{spec.FunctionName()}
		if spec.AuthCode {
			fns = append(fns, spec.CallbackFunctionName())
		}
		for _, fn := range fns {
			id := doc.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, fn))
			if got := doc.env(id)["CREDENTIALS_SECRET_ID"]; got != name {
				t.Errorf("%s: CREDENTIALS_SECRET_ID = %v, want %s", fn, got, name)
			}
		}
		if got := doc.Outputs[exportID(vendor)+"CredentialsSecret"].Value; got != name {
			t.Errorf("%s: credentials output = %v, want %s", vendor, got, name)
		}
	}
	if got, want := len(doc.ofType("AWS::SecretsManager::Secret")), 12-len(imported); got != want {
		t.Errorf("secrets: got %d, want %d", got, want)
	}
	for _, f := range nagFindings(s.Stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
}

func TestInvalidPropsPanic(t *testing.T) {
	empty := t.TempDir()
	script, amd64 := t.TempDir(), t.TempDir()
	fyber := vendors.MustLookup(vendors.Fyber)
	for dir, content := range map[string][]byte{
		script: []byte("#!/bin/sh\necho hello\n"),
		amd64:  elfHeader(elf.EM_X86_64, "fyber"),
	} {
		if err := os.MkdirAll(filepath.Join(dir, fyber.FunctionName()), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fyber.FunctionName(), "bootstrap"), content, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		props Props
		want  string
	}{
		{"no vendors", Props{AssetDir: testAssetDir}, "no vendors"},
		{"bad prefix", Props{AssetDir: testAssetDir, Vendors: vendors.All(), NamePrefix: "Token_Refresher"}, "name prefix"},
		{"unknown import", Props{AssetDir: testAssetDir, Vendors: vendors.All(),
			CredentialsSecretNames: map[string]string{"nobody": "x"}}, `unknown vendor "nobody"`},
		{"bad operator ARN", Props{AssetDir: testAssetDir, Vendors: vendors.All(),
			OperatorPrincipalArns: []string{"token-operators"}}, "OperatorPrincipalArns"},
		{"bad break-glass ARN", Props{AssetDir: testAssetDir, Vendors: vendors.All(),
			BreakGlassPrincipalArns: []string{"arn:aws:iam::1:role/a,arn:aws:iam::1:role/b"}}, "BreakGlassPrincipalArns"},
		{"connections of an unknown vendor", Props{AssetDir: testAssetDir, Vendors: vendors.All(),
			Connections: map[string][]string{"nobody": {"acme"}}}, `connections given for unknown vendor "nobody"`},
		{"bad connection name", Props{AssetDir: testAssetDir, Vendors: vendors.All(),
			Connections: map[string][]string{vendors.Merchenta: {"Acme Corp"}}}, `connection name "Acme Corp"`},
		{"default listed", Props{AssetDir: testAssetDir, Vendors: vendors.All(),
			Connections: map[string][]string{vendors.Merchenta: {"default"}}}, "always deployed"},
		{"connection listed twice", Props{AssetDir: testAssetDir, Vendors: vendors.All(),
			Connections: map[string][]string{vendors.Merchenta: {"acme", "acme"}}}, `"acme" listed twice`},
		{"missing bootstrap", Props{AssetDir: empty, Vendors: vendors.All()}, "bootstrap not found"},
		{"script bootstrap", Props{AssetDir: script, Vendors: []vendors.Spec{fyber}}, "bootstrap is not an ELF executable"},
		{"amd64 bootstrap", Props{AssetDir: amd64, Vendors: []vendors.Spec{fyber}}, "is an ELF for EM_X86_64 (ELFCLASS64, ELFDATA2LSB), not linux/arm64"},
		{"subnets without a VPC", Props{AssetDir: testAssetDir, Vendors: vendors.All(), VpcSubnets: &awsec2.SubnetSelection{}}, "without Vpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Errorf("panic = %v, want one containing %q", r, tc.want)
				}
			}()
			New(awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Host"), nil), "Bad", &tc.props)
		})
	}
}
