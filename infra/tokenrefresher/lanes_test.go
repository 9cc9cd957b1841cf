package tokenrefresher

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// namesInLanes returns perLane connection names <base>-<k> in each of
// lanes (among n lanes, vendors.LaneOf), lane by lane.
func namesInLanes(base string, n, perLane int, lanes ...int) []string {
	var out []string
	for _, want := range lanes {
		for k, got := 0, 0; got < perLane; k++ {
			if name := fmt.Sprintf("%s-%d", base, k); vendors.LaneOf(name, n) == want {
				out = append(out, name)
				got++
			}
		}
	}
	return out
}

// synthesized is a stack with every nested stack's template by node path.
type synthesized struct {
	stack  *Stack
	parent template
	nested map[string]template
}

// synthStack synthesizes the default stack of every vendor with props.
func synthStack(t *testing.T, props Props) synthesized {
	t.Helper()
	props.AssetDir, props.Vendors, props.AlarmEmail = testAssetDir, vendors.All(), "ops@example.com"
	s := NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: props})
	return synthesized{stack: s, parent: parseTemplate(assertions.Template_FromStack(s.Stack, nil)), nested: nestedTemplates(s.Stack)}
}

// nestedTemplates returns the template of every stack nested in root, by
// node path.
func nestedTemplates(root awscdk.Stack) map[string]template {
	out := map[string]template{}
	for _, c := range *root.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if c == nil || !*awscdk.Stack_IsStack(c) {
			continue
		}
		st := awscdk.Stack_Of(c)
		if path := *st.Node().Path(); path != *root.Node().Path() {
			out[path] = parseTemplate(assertions.Template_FromStack(st, nil))
		}
	}
	return out
}

// all returns the parent's and every nested template.
func (s synthesized) all() []template {
	out := []template{s.parent}
	for _, d := range s.nested {
		out = append(out, d)
	}
	return out
}

// lanesOf returns the template of vendor's lanes stack.
func (s synthesized) lanesOf(t *testing.T, vendor string) (*Refresher, template) {
	t.Helper()
	for _, r := range s.stack.Refreshers {
		if r.Spec.Name == vendor {
			if r.LanesStack == nil {
				t.Fatalf("%s has no lanes stack", vendor)
			}
			return r, s.nested[*r.LanesStack.Node().Path()]
		}
	}
	t.Fatalf("no vendor %s", vendor)
	return nil, template{}
}

// schedule finds the schedule named name in any template.
func (s synthesized) schedule(t *testing.T, name string) map[string]any {
	t.Helper()
	for _, d := range s.all() {
		for _, id := range d.ofType("AWS::Scheduler::Schedule") {
			if p := d.Resources[id].Properties; p["Name"] == name {
				return p
			}
		}
	}
	t.Fatalf("no schedule %s", name)
	return nil
}

// resourcesPerLane are a lane's resources: function, role, role policy,
// log group, async invoke config and errors alarm (and, in a VPC without
// given security groups, a security group).
const resourcesPerLane = 6

// The lanes tests' deployment: 3 lanes; Fyber's connections in lanes 0
// and 1 only (lane 2 is empty), Admitad's in every lane with one of them
// imported; the other vendors have no named connections.
const testLanes = 3

var (
	testLaneConnections = map[string][]string{
		vendors.Fyber:   namesInLanes("fy", testLanes, 2, 0, 1),
		vendors.Admitad: namesInLanes("ad", testLanes, 1, 0, 1, 2),
	}
	testLaneImported = testLaneConnections[vendors.Admitad][1]
	lanesFixture     *synthesized
)

// lanesStack synthesizes the lanes tests' deployment once.
func lanesStack(t *testing.T) synthesized {
	t.Helper()
	if lanesFixture == nil {
		s := synthStack(t, Props{
			Connections:            testLaneConnections,
			ConnectionLanes:        testLanes,
			CredentialsSecretNames: map[string]string{vendors.Admitad + "/" + testLaneImported: "ops/admitad-imported"},
		})
		lanesFixture = &s
	}
	return *lanesFixture
}

func TestLanes(t *testing.T) {
	s := lanesStack(t)
	front := map[string]string{}
	for _, spec := range vendors.All() {
		front[spec.Name] = s.parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, spec.FunctionName()))
	}
	laneName := func(spec vendors.Spec, i int) string {
		return vendors.LaneFunctionName(functionName(DefaultNamePrefix, spec.FunctionName()), i)
	}
	inLane := func(vendor string, i int) []string {
		var out []string
		for _, n := range testLaneConnections[vendor] {
			if vendors.LaneOf(n, testLanes) == i {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}

	for vendor, names := range testLaneConnections {
		spec := vendors.MustLookup(vendor)
		r, doc := s.lanesOf(t, vendor)
		sorted := slices.Sorted(slices.Values(names))

		t.Run(vendor+" lane functions", func(t *testing.T) {
			fp := s.parent.Resources[front[vendor]].Properties
			var want []int
			for i := range testLanes {
				name := laneName(spec, i)
				if len(inLane(vendor, i)) == 0 {
					for _, d := range s.all() {
						for _, id := range d.ofType("AWS::Lambda::Function") {
							if d.Resources[id].Properties["FunctionName"] == name {
								t.Errorf("lane %d has no connections but its function %s exists", i, name)
							}
						}
					}
					continue
				}
				want = append(want, i)
				id := doc.find(t, "AWS::Lambda::Function", "FunctionName", name)
				p := doc.Resources[id].Properties
				for k, v := range map[string]any{
					"ReservedConcurrentExecutions": float64(1),
					"Runtime":                      "provided.al2023",
					"Architectures":                []any{"arm64"},
					"Handler":                      "bootstrap",
					"MemorySize":                   fp["MemorySize"],
					"Timeout":                      float64(functionTimeout),
					"Code":                         fp["Code"], // the vendor function's bootstrap
				} {
					if !reflect.DeepEqual(p[k], v) {
						t.Errorf("%s: %s = %v, want %v", name, k, p[k], v)
					}
				}
				env := doc.env(id)
				for k, v := range map[string]any{
					vendors.EnvConnectionLanes: fmt.Sprint(testLanes),
					vendors.EnvConnectionLane:  fmt.Sprint(i),
					vendors.EnvConnections:     strings.Join(sorted, ","),
					vendors.EnvNamePrefix:      DefaultNamePrefix,
				} {
					if env[k] != v {
						t.Errorf("%s: %s = %v, want %v", name, k, env[k], v)
					}
				}
				if spec.URLEnv != "" && env[spec.URLEnv] != spec.DefaultURL {
					t.Errorf("%s: %s = %v, want the vendor function's %s", name, spec.URLEnv, env[spec.URLEnv], spec.DefaultURL)
				}
				if vendor == vendors.Admitad && env[vendors.EnvCredentialsSecretIDs] != `{"`+testLaneImported+`":"ops/admitad-imported"}` {
					t.Errorf("%s: %s = %v", name, vendors.EnvCredentialsSecretIDs, env[vendors.EnvCredentialsSecretIDs])
				}
				// Its own log group, as the vendor function's: a year, the
				// deployment's key (a parameter from the parent).
				logs := refs(p["LoggingConfig"])
				if len(logs) != 1 {
					t.Fatalf("%s: LoggingConfig %v", name, p["LoggingConfig"])
				}
				for lg := range logs {
					lp := doc.Resources[lg].Properties
					if lp["LogGroupName"] != "/aws/lambda/"+name || lp["RetentionInDays"] != float64(365) || len(refs(lp["KmsKeyId"])) != 1 {
						t.Errorf("%s: log group %v", name, lp)
					}
				}
				var retries []any
				for _, eid := range doc.ofType("AWS::Lambda::EventInvokeConfig") {
					if ep := doc.Resources[eid].Properties; reflect.DeepEqual(ep["FunctionName"], ref(id)) {
						retries = append(retries, ep["MaximumRetryAttempts"], ep["MaximumEventAgeInSeconds"])
					}
				}
				if want := []any{float64(2), clampSeconds(spec.Every, 60, 6*3600)}; !reflect.DeepEqual(retries, want) {
					t.Errorf("%s: async retries, age %v, want %v", name, retries, want)
				}
			}
			// Guard: the lanes' functions are outside a VPC, as the vendor
			// function is; their log groups get the log key from the
			// parent, which the template-level rule cannot follow.
			for id, rules := range guardExceptions(t, doc) {
				want := map[string][]string{
					"AWS::Lambda::Function": {guardFunctionVpc.Rule},
					"AWS::Logs::LogGroup":   {guardLogKeyParameter.Rule},
				}[doc.Resources[id].Type]
				if !reflect.DeepEqual(rules, want) {
					t.Errorf("%s: guard exceptions %v, want %v", id, rules, want)
				}
			}
			var got []int
			for _, l := range r.Lanes {
				got = append(got, l.Index)
				if !reflect.DeepEqual(l.Connections, inLane(vendor, l.Index)) {
					t.Errorf("lane %d serves %v, want %v", l.Index, l.Connections, inLane(vendor, l.Index))
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Refresher.Lanes %v, want %v", got, want)
			}
			if n := len(doc.Resources); n != resourcesPerLane*len(want)+1 {
				t.Errorf("lanes stack: %d resources for %d lanes, want %d each and the invoke policy", n, len(want), resourcesPerLane)
			}
		})

		t.Run(vendor+" lane grants", func(t *testing.T) {
			for _, l := range r.Lanes {
				id := doc.find(t, "AWS::Lambda::Function", "FunctionName", laneName(spec, l.Index))
				logGroup := ""
				for lg := range refs(doc.Resources[id].Properties["LoggingConfig"]) {
					logGroup = lg
				}
				imported := false
				for _, st := range roleStatements(doc, id) {
					for _, res := range st.Resources {
						j, _ := json.Marshal(res)
						switch {
						case st.Effect != "Allow":
							t.Errorf("lane %d: %v", l.Index, st)
						case reflect.DeepEqual(res, getAttArn(logGroup)):
							if !reflect.DeepEqual(st.Actions, []string{"logs:CreateLogStream", "logs:PutLogEvents"}) {
								t.Errorf("lane %d: %v on its log group", l.Index, st.Actions)
							}
						case res == "*":
							if !reflect.DeepEqual(st.Actions, []string{"secretsmanager:BatchGetSecretValue"}) {
								t.Errorf("lane %d: %v on *", l.Index, st.Actions)
							}
						case strings.Contains(string(j), ":secret:"+DefaultNamePrefix+"/"+vendor+"/*/"):
							if strings.Contains(string(j), "/credentials-") && slices.Contains(st.Actions, "secretsmanager:PutSecretValue") {
								t.Errorf("lane %d may write credentials: %v", l.Index, st)
							}
						case strings.Contains(string(j), ":secret:ops/admitad-imported-"):
							imported = true
						case l.Default && defaultSecretRef(string(j), vendor):
							// The default connection's lane: its secrets,
							// as the vendor function has them.
						default:
							t.Errorf("lane %d: %v on %s, which is not its own", l.Index, st.Actions, j)
						}
					}
				}
				if want := slices.Contains(l.Connections, testLaneImported); imported != want {
					t.Errorf("lane %d reads the imported credentials: %v, want %v", l.Index, imported, want)
				}
			}
		})

		t.Run(vendor+" default connection", func(t *testing.T) {
			d := vendors.LaneOf(vendors.DefaultConnection, testLanes)
			var lane *Lane
			for _, l := range r.Lanes {
				if l.Default != (l.Index == d) {
					t.Errorf("lane %d: Default = %v", l.Index, l.Default)
				}
				if l.Default {
					lane = l
				}
			}
			if lane == nil {
				t.Fatalf("no lane %d for the default connection", d)
			}
			// Its schedule, in the parent, invokes that lane by name.
			p := s.schedule(t, functionName(DefaultNamePrefix, vendor))
			arn, _ := json.Marshal(p["Target"].(map[string]any)["Arn"])
			if !strings.Contains(string(arn), ":function:"+laneName(spec, d)+`"`) {
				t.Errorf("the default connection's schedule targets %s, want lane %d", arn, d)
			}
			if p["ScheduleExpression"] != "rate("+strings.TrimSuffix(human(spec.Every), "s")+")" && p["ScheduleExpression"] != "rate("+human(spec.Every)+")" {
				t.Errorf("the default connection's schedule is %v, want its rate", p["ScheduleExpression"])
			}
			// Its lane may use its secrets; the other lanes may not.
			for _, l := range r.Lanes {
				id := doc.find(t, "AWS::Lambda::Function", "FunctionName", laneName(spec, l.Index))
				has := false
				for _, st := range roleStatements(doc, id) {
					for _, res := range st.Resources {
						j, _ := json.Marshal(res)
						if defaultSecretRef(string(j), vendor) && slices.Contains(st.Actions, "secretsmanager:GetSecretValue") {
							has = true
						}
					}
				}
				if has != l.Default {
					t.Errorf("lane %d reads the default connection's secrets: %v, want %v", l.Index, has, l.Default)
				}
			}
		})

		t.Run(vendor+" schedules", func(t *testing.T) {
			for _, name := range names {
				i := vendors.LaneOf(name, testLanes)
				p := s.schedule(t, functionName(DefaultNamePrefix, vendor)+"-"+name)
				target := p["Target"].(map[string]any)
				arn := refs(target["Arn"])
				if len(arn) != 1 {
					t.Fatalf("%s: target %v", name, target["Arn"])
				}
				for param := range arn {
					// A parameter of the shard: the lanes stack's output
					// of lane i's ARN.
					if lane, ok := laneOutput(param, vendor); !ok || lane != i {
						t.Errorf("%s (lane %d) targets %s", name, i, param)
					}
				}
				want := ""
				if cron, ok := vendors.ScheduleCron(spec.Every, vendors.ScheduleOffset(name, spec.Every)); ok {
					want = cron
				} else {
					t.Errorf("%s: no cron for every %s", name, spec.Every)
				}
				if p["ScheduleExpression"] != want || p["ScheduleExpressionTimezone"] != "Etc/UTC" {
					t.Errorf("%s: schedule %v (%v), want %s in UTC", name, p["ScheduleExpression"], p["ScheduleExpressionTimezone"], want)
				}
				if w := map[string]any{"Mode": "FLEXIBLE", "MaximumWindowInMinutes": float64(1)}; !reflect.DeepEqual(p["FlexibleTimeWindow"], w) {
					t.Errorf("%s: FlexibleTimeWindow %v, want %v", name, p["FlexibleTimeWindow"], w)
				}
				retry := map[string]any{"MaximumEventAgeInSeconds": clampSeconds(spec.Every, 60, 86400), "MaximumRetryAttempts": float64(5)}
				if target["Input"] != `{"connection":"`+name+`"}` || !reflect.DeepEqual(target["RetryPolicy"], retry) {
					t.Errorf("%s: input %v, retries %v", name, target["Input"], target["RetryPolicy"])
				}
				for k, part := range map[string]string{"RoleArn": exportID(vendor) + "SchedulerRole", "DeadLetterConfig": exportID(vendor) + "DeadLetterQueue"} {
					got := refs(target[k])
					if len(got) != 1 {
						t.Errorf("%s: %s = %v", name, k, target[k])
					}
					for param := range got {
						if !strings.Contains(param, part) {
							t.Errorf("%s: %s = %s, want the vendor's %s", name, k, param, part)
						}
					}
				}
			}
		})

		t.Run(vendor+" front", func(t *testing.T) {
			p := s.parent.Resources[front[vendor]].Properties
			env := s.parent.env(front[vendor])
			if env[vendors.EnvConnectionLanes] != fmt.Sprint(testLanes) || env[vendors.EnvConnectionLane] != nil {
				t.Errorf("front: %s = %v, %s = %v", vendors.EnvConnectionLanes, env[vendors.EnvConnectionLanes], vendors.EnvConnectionLane, env[vendors.EnvConnectionLane])
			}
			// It runs nothing itself and may wait for every lane at once.
			if p["Timeout"] != float64(3*functionTimeout) || p["ReservedConcurrentExecutions"] != float64(testLanes) {
				t.Errorf("front: timeout %v, reserved concurrency %v, want %d and %d", p["Timeout"], p["ReservedConcurrentExecutions"], 3*functionTimeout, testLanes)
			}
			// Exactly this vendor's lanes, unqualified, by one policy of
			// the lanes stack on the front's role and the scheduler
			// role; the parent's own policies name no lane.
			var lanes []any
			for _, l := range r.Lanes {
				lanes = append(lanes, getAttArn(doc.find(t, "AWS::Lambda::Function", "FunctionName", laneName(spec, l.Index))))
			}
			var policies []string
			for _, id := range doc.ofType("AWS::IAM::Policy") {
				p := doc.Resources[id].Properties
				var roles []string
				for param := range refs(p["Roles"]) {
					roles = append(roles, param)
				}
				if len(roles) == 1 {
					continue // a lane's own
				}
				policies = append(policies, id)
				slices.Sort(roles)
				if len(roles) != 2 || !strings.Contains(roles[0], exportID(vendor)+"FunctionRole") || !strings.Contains(roles[1], exportID(vendor)+"SchedulerRole") {
					t.Errorf("%s is on the roles %v, want the front's and the scheduler's", id, roles)
				}
				want := []statement{{Effect: "Allow", Actions: []string{"lambda:InvokeFunction"}, Resources: lanes}}
				if got := statements(p["PolicyDocument"]); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %+v, want %+v", id, got, want)
				}
			}
			if len(policies) != 1 {
				t.Errorf("invoke policies %v, want one", policies)
			}
			for _, id := range s.parent.ofType("AWS::IAM::Policy") {
				if j, _ := json.Marshal(s.parent.Resources[id].Properties); strings.Contains(string(j), "Lanes") {
					t.Errorf("parent policy %s names lanes", id)
				}
			}
			deps, _ := s.parent.Resources[front[vendor]].DependsOn.([]any)
			lanesStack := false
			for _, d := range deps {
				lanesStack = lanesStack || strings.HasPrefix(fmt.Sprint(d), exportID(vendor)+"LanesNestedStack")
			}
			if !lanesStack {
				t.Errorf("front depends on %v, not on its lanes stack", deps)
			}
		})

		t.Run(vendor+" guards", func(t *testing.T) {
			laneID := doc.find(t, "AWS::Lambda::Function", "FunctionName", laneName(spec, r.Lanes[0].Index))
			path := ""
			for role := range refs(doc.Resources[laneID].Properties["Role"]) {
				path = render(doc.Resources[role].Properties["Path"])
			}
			if path != "/"+DefaultNamePrefix+"/lanes/"+vendor+"/${AWS::Region}/" {
				t.Fatalf("lane role path %q", path)
			}
			pattern := "arn:${AWS::Partition}:iam::${AWS::AccountId}:role" + path + "*"
			roles := []string{vendors.RoleCredentials}
			if spec.AuthCode {
				roles = append(roles, vendors.RoleRefreshToken)
			}
			for _, name := range names {
				for _, role := range roles {
					if name == testLaneImported && role == vendors.RoleCredentials {
						continue
					}
					secret := vendors.SecretName(DefaultNamePrefix, vendor, name, role)
					var pol map[string]any
					for _, d := range s.nested {
						for _, id := range d.ofType("AWS::SecretsManager::Secret") {
							if d.Resources[id].Properties["Name"] == secret {
								pol = d.resourcePolicyOf(t, id)
							}
						}
					}
					sts, _ := pol["Statement"].([]any)
					if want := map[string]int{vendors.RoleCredentials: 1, vendors.RoleRefreshToken: 2}[role]; len(sts) != want {
						t.Fatalf("%s: %d guard statements, want %d", secret, len(sts), want)
					}
					for _, raw := range sts {
						st := raw.(map[string]any)
						exempt, _ := st["Condition"].(map[string]any)["ArnNotLike"].(map[string]any)["aws:PrincipalArn"].([]any)
						var got []string
						for _, e := range exempt {
							got = append(got, render(e))
						}
						if !slices.Contains(got, pattern) {
							t.Errorf("%s: %s exempts %v, not the lanes' roles %s", secret, st["Sid"], got, pattern)
						}
					}
				}
			}
		})

		t.Run(vendor+" alarms", func(t *testing.T) {
			for _, l := range r.Lanes {
				name := laneName(spec, l.Index)
				id := doc.find(t, "AWS::CloudWatch::Alarm", "AlarmName", name+"-errors")
				p := doc.Resources[id].Properties
				laneID := doc.find(t, "AWS::Lambda::Function", "FunctionName", name)
				dims := []any{map[string]any{"Name": "FunctionName", "Value": ref(laneID)}}
				if p["Namespace"] != "AWS/Lambda" || p["MetricName"] != "Errors" || !reflect.DeepEqual(p["Dimensions"], dims) {
					t.Errorf("%s: alarm on %v %v %v", name, p["Namespace"], p["MetricName"], p["Dimensions"])
				}
				topic := fmt.Sprint(s.parent.ofType("AWS::SNS::Topic"))
				for _, k := range []string{"AlarmActions", "OKActions"} {
					acts, _ := p[k].([]any)
					if len(acts) != 1 || len(refs(acts[0])) != 1 {
						t.Errorf("%s: %s %v, want the alarm topic %s", name, k, p[k], topic)
					}
				}
				if s.stack.Alarms.Errors[vendors.LaneFunctionName(spec.FunctionName(), l.Index)] == nil {
					t.Errorf("Alarms.Errors has no alarm of lane %d", l.Index)
				}
			}
		})
	}

	t.Run("vendors without named connections", func(t *testing.T) {
		for _, spec := range vendors.All() {
			if _, named := testLaneConnections[spec.Name]; named {
				continue
			}
			p := s.parent.Resources[front[spec.Name]].Properties
			if _, set := s.parent.env(front[spec.Name])[vendors.EnvConnectionLanes]; set || p["Timeout"] != float64(functionTimeout) {
				t.Errorf("%s: lanes without named connections: timeout %v", spec.Name, p["Timeout"])
			}
		}
		for _, r := range s.stack.Refreshers {
			if _, named := testLaneConnections[r.Spec.Name]; !named && (r.LanesStack != nil || len(r.Lanes) > 0) {
				t.Errorf("%s has lanes", r.Spec.Name)
			}
		}
	})

	t.Run("no resource policies", func(t *testing.T) {
		for _, d := range s.all() {
			if p := d.ofType("AWS::Lambda::Permission"); len(p) > 0 {
				t.Errorf("Lambda permissions %v: invokes are granted to roles only", p)
			}
		}
	})

	t.Run("cdk-nag", func(t *testing.T) {
		for _, f := range append(nagFindings(s.stack.Stack, true), nagFindings(s.stack.Stack, false)...) {
			t.Errorf("cdk-nag: %s", f)
		}
	})
}

// laneOutputPattern matches a reference to a lanes stack's output of lane
// i's ARN: ...<Vendor>LanesLane<i><hash>Arn.
var laneOutputPattern = regexp.MustCompile(`([A-Za-z]+)LanesLane(\d+)[0-9A-F]{8}Arn$`)

// laneOutput returns the lane whose ARN param (a parameter or output
// name) is, if it is one of vendor's.
func laneOutput(param, vendor string) (int, bool) {
	m := laneOutputPattern.FindStringSubmatch(param)
	if m == nil || !strings.HasSuffix(m[1], exportID(vendor)) {
		return 0, false
	}
	i, err := strconv.Atoi(m[2])
	return i, err == nil
}

// render writes a template value as a string: Fn::Join joined, a Ref as
// ${Name}.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if r, ok := x["Ref"].(string); ok {
			return "${" + r + "}"
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			var out []string
			for _, p := range parts {
				out = append(out, render(p))
			}
			return strings.Join(out, fmt.Sprint(j[0]))
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestLanesOff: ConnectionLanes 1 is no lanes: the template is the one
// without the prop, schedules and all.
func TestLanesOff(t *testing.T) {
	off := synthStack(t, Props{Connections: testConnections})
	one := synthStack(t, Props{Connections: testConnections, ConnectionLanes: 1})
	if !reflect.DeepEqual(off.parent, one.parent) {
		t.Error("ConnectionLanes 1 changed the parent template")
	}
	if !reflect.DeepEqual(off.nested, one.nested) {
		t.Error("ConnectionLanes 1 changed the nested templates")
	}
	for path := range one.nested {
		if strings.Contains(path, "Lanes") {
			t.Errorf("nested stack %s without lanes", path)
		}
	}
	for _, r := range one.stack.Refreshers {
		if len(r.Lanes) > 0 || r.LanesStack != nil {
			t.Errorf("%s has lanes", r.Spec.Name)
		}
		if env := one.parent.env(one.parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, r.Spec.FunctionName()))); env[vendors.EnvConnectionLanes] != nil {
			t.Errorf("%s: %s set without lanes", r.Spec.Name, vendors.EnvConnectionLanes)
		}
	}
}

// TestConnectionLanesOutOfRange: a lane count the construct cannot make
// panics, naming the prop and the context key.
func TestConnectionLanesOutOfRange(t *testing.T) {
	for _, lanes := range []int{-1, vendors.MaxLanes + 1, 1000} {
		t.Run(fmt.Sprint(lanes), func(t *testing.T) {
			defer func() {
				r := fmt.Sprint(recover())
				if !strings.Contains(r, "ConnectionLanes "+fmt.Sprint(lanes)) || !strings.Contains(r, "connectionLanes") || !strings.Contains(r, fmt.Sprint(vendors.MaxLanes)) {
					t.Errorf("panic = %s", r)
				}
			}()
			stack := awscdk.NewStack(newTestApp(), jsii.String("Host"), nil)
			New(stack, "Tokens", &Props{
				AssetDir: testAssetDir, Vendors: []vendors.Spec{vendors.MustLookup(vendors.Fyber)},
				Connections: map[string][]string{vendors.Fyber: {"acme"}}, ConnectionLanes: lanes,
			})
		})
	}
}

// TestSerialisedConnectionsWarn: more than 100 named connections of a
// vendor without lanes warn at synth that their runs queue, and point at
// connectionLanes; with lanes, or with 100, nothing is said.
func TestSerialisedConnectionsWarn(t *testing.T) {
	for _, tc := range []struct {
		connections, lanes int
		warn               bool
	}{
		{serialisedConnections, 0, false},
		{serialisedConnections + 1, 0, true},
		{serialisedConnections + 1, 2, false},
	} {
		t.Run(fmt.Sprintf("%d connections, %d lanes", tc.connections, tc.lanes), func(t *testing.T) {
			var names []string
			for i := range tc.connections {
				names = append(names, fmt.Sprintf("c%d", i))
			}
			stack := awscdk.NewStack(newTestApp(), jsii.String("Host"), nil)
			New(stack, "Tokens", &Props{
				AssetDir: testAssetDir, Vendors: []vendors.Spec{vendors.MustLookup(vendors.Merchenta)}, Dashboard: jsii.Bool(false),
				Connections: map[string][]string{vendors.Merchenta: names}, ConnectionLanes: tc.lanes,
			})
			found := *assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"),
				assertions.Match_StringLikeRegexp(jsii.String(".*connectionLanes.*how-connections-scale.*")))
			if (len(found) > 0) != tc.warn {
				t.Errorf("%d warnings about lanes, want them: %v", len(found), tc.warn)
			}
		})
	}
}

// TestFiftyLanesFit: vendors.MaxLanes lanes, every one of them used, in a
// VPC (a security group per function) with the longest name prefix fit
// in one nested stack per vendor, and the policies that name every lane
// (the vendor function's, the scheduler role's) stay within IAM's 10,240
// characters of inline policy per role, ARNs written out in full.
func TestFiftyLanesFit(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes 100 lanes")
	}
	prefix := "a-name-prefix-of-30-characters"
	app := newTestApp()
	stack := awscdk.NewStack(app, jsii.String("Host"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("ap-southeast-2")},
	})
	vpc := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("Vpc"), &awsec2.VpcAttributes{
		VpcId:             jsii.String("vpc-0123456789abcdef0"),
		AvailabilityZones: jsii.Strings("ap-southeast-2a", "ap-southeast-2b"),
		PrivateSubnetIds:  jsii.Strings("subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"),
	})
	all := make([]int, vendors.MaxLanes)
	for i := range all {
		all[i] = i
	}
	specs := []vendors.Spec{vendors.MustLookup(vendors.Admitad), vendors.MustLookup(vendors.HasOffers)}
	conns := map[string][]string{}
	for _, spec := range specs {
		conns[spec.Name] = namesInLanes("account", vendors.MaxLanes, 1, all...)
	}
	tr := New(stack, "Tokens", &Props{
		AssetDir: testAssetDir, Vendors: specs, NamePrefix: prefix, Connections: conns, ConnectionLanes: vendors.MaxLanes,
		Vpc: vpc, Dashboard: jsii.Bool(false),
	})
	parent := parseTemplate(assertions.Template_FromStack(stack, nil))
	if n := len(parent.Resources); n > 500 {
		t.Errorf("parent stack: %d resources", n)
	}
	if m := parent.ofType("AWS::IAM::ManagedPolicy"); len(m) != 3 {
		t.Errorf("managed policies %v: CDK split a role's policy", m)
	}
	for _, r := range tr.Refreshers {
		if len(r.Lanes) != vendors.MaxLanes {
			t.Fatalf("%s: %d lanes", r.Spec.Name, len(r.Lanes))
		}
		lanesDoc := parseTemplate(assertions.Template_FromStack(r.LanesStack, nil))
		n := len(lanesDoc.Resources)
		t.Logf("%s: %d lanes, %d resources in the lanes stack (%d a lane in a VPC)", r.Spec.Name, len(r.Lanes), n, n/len(r.Lanes))
		if n > maxResourcesPerShard {
			t.Errorf("%s: lanes stack of %d resources", r.Spec.Name, n)
		}
		longest := vendors.LaneFunctionName(functionName(prefix, r.Spec.FunctionName()), vendors.MaxLanes-1)
		arn := "arn:aws:lambda:ap-southeast-2:123456789012:function:" + longest
		frontID := parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(prefix, r.Spec.FunctionName()))
		scheduler := ""
		for role := range refs(parent.Resources[parent.find(t, "AWS::Scheduler::Schedule", "Name", functionName(prefix, r.Spec.Name))].Properties["Target"]) {
			if strings.Contains(role, "SchedulerRole") {
				scheduler = role
			}
		}
		// The lanes stack's invoke policy is on both roles.
		invoke := 0
		for _, pid := range lanesDoc.ofType("AWS::IAM::Policy") {
			if p := lanesDoc.Resources[pid].Properties; len(refs(p["Roles"])) == 2 {
				invoke += policySize(p["PolicyDocument"], arn)
			}
		}
		for who, role := range map[string]string{"front": firstRef(parent.Resources[frontID].Properties["Role"]), "scheduler": scheduler} {
			size := invoke
			for _, pid := range parent.ofType("AWS::IAM::Policy") {
				if p := parent.Resources[pid].Properties; refs(p["Roles"])[role] {
					size += policySize(p["PolicyDocument"], arn)
				}
			}
			t.Logf("%s %s role: inline policies of at most %d characters", r.Spec.Name, who, size)
			if invoke == 0 || size > 10240 {
				t.Errorf("%s %s role: inline policies of %d characters (%d to invoke lanes); IAM allows 10,240", r.Spec.Name, who, size, invoke)
			}
		}
	}
}

// firstRef is the one logical id v references.
func firstRef(v any) string {
	for id := range refs(v) {
		return id
	}
	return ""
}

// policySize is the length of a policy document as IAM counts it (no
// white space), with every reference written as arn (at least as long as
// any ARN it stands for) and pseudo-parameters as in ap-southeast-2.
func policySize(doc any, arn string) int {
	var resolve func(any) any
	resolve = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Ref"].(string); ok && len(x) == 1 {
				return map[string]string{"AWS::Partition": "aws", "AWS::Region": "ap-southeast-2", "AWS::AccountId": "123456789012"}[r] + map[bool]string{true: arn}[!strings.HasPrefix(r, "AWS::")]
			}
			if _, ok := x["Fn::GetAtt"]; ok && len(x) == 1 {
				return arn
			}
			if j, ok := x["Fn::Join"].([]any); ok && len(x) == 1 {
				parts, _ := j[1].([]any)
				var out []string
				for _, p := range parts {
					out = append(out, fmt.Sprint(resolve(p)))
				}
				return strings.Join(out, fmt.Sprint(j[0]))
			}
			out := map[string]any{}
			for k, e := range x {
				out[k] = resolve(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = resolve(e)
			}
			return out
		}
		return v
	}
	b, _ := json.Marshal(resolve(doc))
	return len(b)
}

// TestLaneFunctionNameTooLong: a lane whose function name would pass
// Lambda's 64 characters is refused at synth, naming the function.
func TestLaneFunctionNameTooLong(t *testing.T) {
	spec := vendors.MustLookup(vendors.Fyber)
	spec.Name = "a-vendor-name-of-27-letters"
	dir := t.TempDir()
	if err := writeDummyAssets(dir, []vendors.Spec{spec}); err != nil {
		t.Fatal(err)
	}
	prefix := "a-name-prefix-of-30-characters"
	want := vendors.LaneFunctionName(functionName(prefix, spec.FunctionName()), 0)
	if len(want) <= 64 {
		t.Fatalf("%s is not too long", want)
	}
	defer func() {
		if r := fmt.Sprint(recover()); !strings.Contains(r, "ConnectionLanes") || !strings.Contains(r, want) || !strings.Contains(r, "64") {
			t.Errorf("panic = %s", r)
		}
	}()
	stack := awscdk.NewStack(newTestApp(), jsii.String("Host"), nil)
	New(stack, "Tokens", &Props{
		AssetDir: dir, Vendors: []vendors.Spec{spec}, NamePrefix: prefix, Dashboard: jsii.Bool(false),
		Connections: map[string][]string{spec.Name: namesInLanes("c", 2, 1, 0, 1)}, ConnectionLanes: 2,
	})
}

// TestTurningLanesOnReplacesNothing: a deployment with connections keeps
// every resource, under the same logical id and type, when lanes are
// turned on; its secrets and the parent's policies stay as they are (the
// schedules, the secrets' guards and the vendor functions change in
// place), and what is new is the lanes' stacks.
func TestTurningLanesOnReplacesNothing(t *testing.T) {
	off := synthStack(t, Props{Connections: testConnections})
	on := synthStack(t, Props{Connections: testConnections, ConnectionLanes: testLanes})
	docs := func(s synthesized) map[string]template {
		out := map[string]template{"": s.parent}
		for path, d := range s.nested {
			out[path] = d
		}
		return out
	}
	onDocs := docs(on)
	for path, d := range docs(off) {
		got, ok := onDocs[path]
		if !ok {
			t.Errorf("stack %q is gone with lanes", path)
			continue
		}
		for id, r := range d.Resources {
			g, ok := got.Resources[id]
			switch {
			case !ok || g.Type != r.Type:
				t.Errorf("%s %s (%s) is gone or changed type with lanes", path, id, r.Type)
			case r.Type == "AWS::SecretsManager::Secret" || r.Type == "AWS::IAM::Policy" || r.Type == "AWS::IAM::Role":
				if !reflect.DeepEqual(g, r) {
					t.Errorf("%s %s (%s) changed with lanes", path, id, r.Type)
				}
			}
		}
	}
	for path := range onDocs {
		if _, ok := docs(off)[path]; !ok && !strings.HasSuffix(path, "Lanes") {
			t.Errorf("new stack %q with lanes", path)
		}
	}
}

// TestLanesReadTheConnectionsLayer: when the names outgrow the
// environment, every lane reads them from the vendor's connections layer,
// as the vendor's function does.
func TestLanesReadTheConnectionsLayer(t *testing.T) {
	spec := vendors.MustLookup(vendors.Merchenta)
	var names []string
	for i := range 100 {
		names = append(names, fmt.Sprintf("connection-with-a-long-name-%03d", i))
	}
	stack := awscdk.NewStack(newTestApp(), jsii.String("Host"), nil)
	tr := New(stack, "Tokens", &Props{
		AssetDir: testAssetDir, Vendors: []vendors.Spec{spec}, Dashboard: jsii.Bool(false),
		Connections: map[string][]string{spec.Name: names}, ConnectionLanes: 2,
	})
	parent := parseTemplate(assertions.Template_FromStack(stack, nil))
	front := parent.env(parent.find(t, "AWS::Lambda::Function", "FunctionName", functionName(DefaultNamePrefix, spec.FunctionName())))
	layers := parent.ofType("AWS::Lambda::LayerVersion")
	if front[vendors.EnvConnectionsFile] == nil || len(layers) != 1 {
		t.Fatalf("front: %s = %v, layers %v", vendors.EnvConnectionsFile, front[vendors.EnvConnectionsFile], layers)
	}
	r := tr.Refreshers[0]
	doc := parseTemplate(assertions.Template_FromStack(r.LanesStack, nil))
	if len(r.Lanes) != 2 {
		t.Fatalf("%d lanes", len(r.Lanes))
	}
	for _, l := range r.Lanes {
		id := doc.find(t, "AWS::Lambda::Function", "FunctionName", vendors.LaneFunctionName(functionName(DefaultNamePrefix, spec.FunctionName()), l.Index))
		env := doc.env(id)
		if env[vendors.EnvConnectionsFile] != front[vendors.EnvConnectionsFile] || env[vendors.EnvConnections] != nil {
			t.Errorf("lane %d: %s = %v, %s = %v", l.Index, vendors.EnvConnectionsFile, env[vendors.EnvConnectionsFile], vendors.EnvConnections, env[vendors.EnvConnections])
		}
		got, _ := doc.Resources[id].Properties["Layers"].([]any)
		// A parameter of the lanes stack: the parent's layer.
		if len(got) != 1 || !strings.Contains(firstRef(got[0]), exportID(spec.Name)+"ConnectionsLayer") {
			t.Errorf("lane %d: layers %v, want the parent's %s", l.Index, got, layers[0])
		}
	}
}

// defaultSecretRef reports whether a policy resource (as JSON) is the
// parent's reference to one of vendor's default connection's secrets.
func defaultSecretRef(j, vendor string) bool {
	v := exportID(vendor)
	for _, part := range []string{v + "Credentials", v + "Token", v + "ConnectRefreshToken"} {
		if strings.Contains(j, `"referenceto`) && strings.Contains(j, part) {
			return true
		}
	}
	return false
}
