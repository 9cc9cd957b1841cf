package tokenrefresher

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// DashboardProps configures the dashboard.
type DashboardProps struct {
	NamePrefix string
	Refreshers []*Refresher
}

// widgetWidth makes four widgets fill a dashboard row (24 columns).
const widgetWidth = 6

// NewDashboard creates a CloudWatch dashboard with one row per vendor: time
// left on the stored token, refresh outcomes, vendor latency, and the
// function's invocations, errors and throttles; and, for a vendor with
// lanes, a row with its lanes' together.
func NewDashboard(scope constructs.Construct, id string, props *DashboardProps) awscloudwatch.Dashboard {
	d := awscloudwatch.NewDashboard(scope, jsii.String(id), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(props.NamePrefix),
		DefaultInterval: awscdk.Duration_Days(jsii.Number(1)),
	})
	for _, r := range props.Refreshers {
		spec := r.Spec
		period := 5 * time.Minute
		var expiry awscloudwatch.IWidget
		if spec.Expires() {
			expiry = awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(spec.Name + ": seconds until expiry"),
				Width: jsii.Number(widgetWidth),
				Left:  expiryMetrics(r, period),
				LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{{
					Value: jsii.Number(expiryAlarmFraction * spec.Lifetime.Seconds()),
					Label: jsii.String("alarm"),
				}},
				LeftYAxis: &awscloudwatch.YAxisProps{Min: jsii.Number(0)},
			})
		} else {
			expiry = awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
				Markdown: jsii.String(fmt.Sprintf("### %s\nThe token does not expire on a schedule; "+
					"the refresher validates it every %s.", spec.Title, human(spec.Every))),
				Width:  jsii.Number(widgetWidth),
				Height: jsii.Number(6),
			})
		}
		d.AddWidgets(awscloudwatch.NewRow(
			expiry,
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(spec.Name + ": refreshes"),
				Width: jsii.Number(widgetWidth),
				Left: &[]awscloudwatch.IMetric{
					vendorMetric(MetricRefreshSuccess, spec.Name, "Sum", period),
					vendorMetric(MetricRefreshFailure, spec.Name, "Sum", period),
				},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(spec.Name + ": vendor latency (ms)"),
				Width: jsii.Number(widgetWidth),
				Left: &[]awscloudwatch.IMetric{
					vendorMetric(MetricVendorLatency, spec.Name, "Average", period),
					vendorMetric(MetricVendorLatency, spec.Name, "Maximum", period),
				},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(spec.Name + ": function"),
				Width: jsii.Number(widgetWidth),
				Left:  functionMetrics(r.Function),
			}),
		))
		if len(r.Lanes) > 0 {
			d.AddWidgets(lanesWidget(props.NamePrefix, r, period))
		}
	}
	return d
}

// lanesWidget graphs a vendor's lanes together: their runs, failed runs
// and throttled invocations (a lane busy with one connection when another's
// run arrives), each the sum over the lanes, so that the widget keeps one
// line per statistic however many lanes there are. The lanes' metrics are
// named by the lanes' function names, which the stack sets, rather than by
// reference into their nested stack.
func lanesWidget(prefix string, r *Refresher, period time.Duration) awscloudwatch.IWidget {
	front := functionName(prefix, r.Spec.FunctionName())
	sum := func(metric, label string) awscloudwatch.IMetric {
		using := map[string]awscloudwatch.IMetric{}
		ids := make([]string, 0, len(r.Lanes))
		for _, l := range r.Lanes {
			id := fmt.Sprintf("%s%d", strings.ToLower(metric), l.Index) // unique in the graph
			ids = append(ids, id)
			using[id] = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String("AWS/Lambda"),
				MetricName:    jsii.String(metric),
				DimensionsMap: &map[string]*string{"FunctionName": jsii.String(vendors.LaneFunctionName(front, l.Index))},
				Statistic:     jsii.String("Sum"),
				Period:        awscdk.Duration_Seconds(jsii.Number(period.Seconds())),
			})
		}
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("SUM([" + strings.Join(ids, ",") + "])"),
			UsingMetrics: &using,
			Label:        jsii.String(label),
			Period:       awscdk.Duration_Seconds(jsii.Number(period.Seconds())),
		})
	}
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String(fmt.Sprintf("%s: its %d lanes (%s-lane-*)", r.Spec.Name, len(r.Lanes), front)),
		Width: jsii.Number(4 * widgetWidth),
		Left: &[]awscloudwatch.IMetric{
			sum("Invocations", "runs"),
			sum("Errors", "failed runs"),
			sum("Throttles", "throttled invocations"),
		},
	})
}

// expiryMetrics are the SecondsUntilExpiry lines of a vendor's
// connections: the default one, then each named one.
func expiryMetrics(r *Refresher, period time.Duration) *[]awscloudwatch.IMetric {
	out := []awscloudwatch.IMetric{vendorMetric(MetricSecondsUntilExpiry, r.Spec.Name, "Minimum", period)}
	for _, c := range r.Connections {
		out = append(out, connectionMetric(MetricSecondsUntilExpiry, r.Spec.Name, c.Name, "Minimum", period))
	}
	return &out
}
