package tokenrefresher

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestDashboardCanBeLeftOut: Dashboard=false removes the dashboard and
// nothing else; the alarms stay as they are.
func TestDashboardCanBeLeftOut(t *testing.T) {
	s := NewStack(newTestApp(), "TokenRefresher", &StackProps{Props: Props{
		AssetDir:   testAssetDir,
		Vendors:    vendors.All(),
		AlarmEmail: "ops@example.com",
		Dashboard:  jsii.Bool(false),
	}})
	if s.Dashboard != nil {
		t.Error("stack.Dashboard is set")
	}
	doc := parseTemplate(assertions.Template_FromStack(s.Stack, nil))
	if ids := doc.ofType("AWS::CloudWatch::Dashboard"); len(ids) != 0 {
		t.Errorf("dashboards: %v, want none", ids)
	}
	count := func(d template) map[string]int {
		out := map[string]int{}
		for _, r := range d.Resources {
			if r.Type != "AWS::CloudWatch::Dashboard" {
				out[r.Type]++
			}
		}
		return out
	}
	if with, without := count(testDoc), count(doc); !reflect.DeepEqual(with, without) {
		t.Errorf("leaving out the dashboard changed other resources:\nwith    %v\nwithout %v", with, without)
	}
	for _, f := range nagFindings(s.Stack, true) {
		t.Errorf("cdk-nag error at %s", f)
	}
}

// TestDashboardIsOnByDefault: no Dashboard prop means a dashboard.
func TestDashboardIsOnByDefault(t *testing.T) {
	if testStack.Dashboard == nil || len(testDoc.ofType("AWS::CloudWatch::Dashboard")) != 1 {
		t.Error("the default stack has no dashboard")
	}
}

// TestDashboardShowsTheLanes: a vendor with lanes gets a widget with its
// lanes' runs, failed runs and throttles, each summed over exactly its
// lanes, named by their function names.
func TestDashboardShowsTheLanes(t *testing.T) {
	s := lanesStack(t)
	body := ""
	for _, id := range s.parent.ofType("AWS::CloudWatch::Dashboard") {
		b, _ := json.Marshal(s.parent.Resources[id].Properties["DashboardBody"])
		body = string(b)
	}
	if body == "" {
		t.Fatal("no dashboard")
	}
	for vendor := range testLaneConnections {
		spec := vendors.MustLookup(vendor)
		r, _ := s.lanesOf(t, vendor)
		front := functionName(DefaultNamePrefix, spec.FunctionName())
		if want := fmt.Sprintf(`%s: its %d lanes (%s-lane-*)`, vendor, len(r.Lanes), front); !strings.Contains(body, want) {
			t.Errorf("no widget titled %q", want)
		}
		for i := range testLanes {
			name := vendors.LaneFunctionName(front, i)
			in := strings.Contains(body, `\"FunctionName\",\"`+name+`\"`)
			exists := false
			for _, l := range r.Lanes {
				exists = exists || l.Index == i
			}
			if in != exists {
				t.Errorf("%s on the dashboard: %v, but the lane exists: %v", name, in, exists)
			}
		}
	}
	for _, stat := range []string{"runs", "failed runs", "throttled invocations"} {
		if n := strings.Count(body, `\"label\":\"`+stat+`\"`); n != len(testLaneConnections) {
			t.Errorf("%d lines labelled %q, want one per vendor with lanes", n, stat)
		}
	}
}
