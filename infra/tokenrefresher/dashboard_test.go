package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// TestDashboardCanBeLeftOut: Dashboard=false removes the dashboard and
// nothing else; the alarms stay as they are.
func TestDashboardCanBeLeftOut(t *testing.T) {
	s := NewTokenRefresherStack(newTestApp(), "TokenRefresher", &TokenRefresherStackProps{
		AssetDir:   testAssetDir,
		Vendors:    vendors.All(),
		AlarmEmail: "ops@example.com",
		Dashboard:  jsii.Bool(false),
	})
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

// TestContextBool reads the dashboard flag as cdk.json and -c give it.
func TestContextBool(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  bool
		bad   bool
	}{
		{value: nil, want: true},
		{value: false, want: false},
		{value: true, want: true},
		{value: "false", want: false},
		{value: "FALSE", want: false},
		{value: "true", want: true},
		{value: "no", bad: true},
		{value: "", bad: true},
		{value: float64(0), bad: true},
	} {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			ctx := map[string]any{}
			if tc.value != nil {
				ctx["dashboard"] = tc.value
			}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
			defer func() {
				r := recover()
				if tc.bad != (r != nil) || (r != nil && !strings.Contains(fmt.Sprint(r), "context dashboard")) {
					t.Errorf("panic = %v, want one: %v", r, tc.bad)
				}
			}()
			if got := contextBool(app, "dashboard", true); got != tc.want {
				t.Errorf("contextBool = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestContextList reads principal lists as cdk.json and -c give them.
func TestContextList(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  []string
	}{
		{nil, nil},
		{"arn:a", []string{"arn:a"}},
		{"arn:a, arn:b,", []string{"arn:a", "arn:b"}},
		{[]any{"arn:a", "arn:b"}, []string{"arn:a", "arn:b"}},
	} {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			ctx := map[string]any{}
			if tc.value != nil {
				ctx["k"] = tc.value
			}
			if got := contextList(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}), "k"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("contextList = %q, want %q", got, tc.want)
			}
		})
	}
}
