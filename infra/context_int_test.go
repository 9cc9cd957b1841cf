package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// TestContextInt reads connectionShards as cdk.json (a number) and -c (a
// string) give it; anything else names the key.
func TestContextInt(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  int
		bad   bool
	}{
		{value: nil, want: 0},
		{value: float64(32), want: 32},
		{value: "16", want: 16},
		{value: " 16 ", want: 16},
		{value: float64(1.5), bad: true},
		{value: "16x", bad: true},
		{value: "", bad: true},
		{value: true, bad: true},
	} {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			ctx := map[string]any{}
			if tc.value != nil {
				ctx["connectionShards"] = tc.value
			}
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
			defer func() {
				r := recover()
				if tc.bad != (r != nil) || (r != nil && !strings.Contains(fmt.Sprint(r), "context connectionShards")) {
					t.Errorf("panic = %v, want one: %v", r, tc.bad)
				}
			}()
			if got := contextInt(app, "connectionShards", 0); got != tc.want {
				t.Errorf("contextInt = %v, want %v", got, tc.want)
			}
		})
	}
}
