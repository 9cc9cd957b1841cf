package tokenrefresher

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// This file is the construct's metric factory, as cdk-monitoring-constructs
// builds every metric in one: every metric the alarms and the dashboard
// read is built here, the refreshers' own from the names the functions
// emit them under (package vendors holds them once, for both sides).

// The metrics the functions emit in CloudWatch Embedded Metric Format, with
// the dimension Vendor=<vendor name> (and Connection=<name> for a named
// connection).
const (
	MetricNamespace          = vendors.MetricNamespace
	MetricSecondsUntilExpiry = vendors.MetricSecondsUntilExpiry // Seconds; every run of an expiring vendor
	MetricRefreshSuccess     = vendors.MetricRefreshSuccess     // Count
	MetricRefreshFailure     = vendors.MetricRefreshFailure     // Count
	MetricVendorLatency      = vendors.MetricVendorLatency      // Milliseconds
	MetricDimensionVendor    = vendors.DimensionVendor
)

// MetricDimensionConnection is the metric dimension of a named
// connection's metrics, next to Vendor. The default connection's metrics
// keep the Vendor dimension alone.
const MetricDimensionConnection = vendors.DimensionConnection

// vendorMetric is one of the refresher's own metrics for vendor's default
// connection: dimension Vendor.
func vendorMetric(name, vendor, statistic string, period time.Duration) awscloudwatch.Metric {
	return newMetric(name, map[string]*string{MetricDimensionVendor: jsii.String(vendor)}, statistic, period)
}

// connectionMetric is one of the refresher's metrics for a named
// connection: dimensions Vendor and Connection.
func connectionMetric(name, vendor, connection, statistic string, period time.Duration) awscloudwatch.Metric {
	return newMetric(name, map[string]*string{
		MetricDimensionVendor:     jsii.String(vendor),
		MetricDimensionConnection: jsii.String(connection),
	}, statistic, period)
}

func newMetric(name string, dims map[string]*string, statistic string, period time.Duration) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(MetricNamespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &dims,
		Statistic:     jsii.String(statistic),
		Period:        awscdk.Duration_Seconds(jsii.Number(period.Seconds())),
	})
}

// functionErrors is a function's Errors metric.
func functionErrors(fn awslambda.IFunction, statistic string, period time.Duration) awscloudwatch.Metric {
	return fn.MetricErrors(&awscloudwatch.MetricOptions{
		Period:    awscdk.Duration_Seconds(jsii.Number(period.Seconds())),
		Statistic: jsii.String(statistic),
	})
}

// functionMetrics are a function's invocations, errors and throttles, with
// CloudWatch's defaults, for the dashboard.
func functionMetrics(fn awslambda.IFunction) *[]awscloudwatch.IMetric {
	return &[]awscloudwatch.IMetric{fn.MetricInvocations(nil), fn.MetricErrors(nil), fn.MetricThrottles(nil)}
}

// undeliveredRuns is the number of scheduled runs a vendor's dead-letter
// queue holds.
func undeliveredRuns(q awssqs.IQueue, statistic string, period time.Duration) awscloudwatch.Metric {
	return q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Period:    awscdk.Duration_Seconds(jsii.Number(period.Seconds())),
		Statistic: jsii.String(statistic),
	})
}
