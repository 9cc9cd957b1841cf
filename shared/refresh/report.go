package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// MetricsNamespace is the CloudWatch namespace of every metric, with the
// dimension "Vendor" (the default connection) or "Vendor" and "Connection"
// (a named connection). The names are the stack's too: package vendors
// holds them once.
const MetricsNamespace = vendors.MetricNamespace

// Metric names, a public contract of the alarms and dashboard.
const (
	MetricSuccess       = vendors.MetricRefreshSuccess
	MetricFailure       = vendors.MetricRefreshFailure
	MetricUntilExpiry   = vendors.MetricSecondsUntilExpiry
	MetricVendorLatency = vendors.MetricVendorLatency
)

// report writes the run's log line and its metrics line.
func (r *Refresher) report(ctx context.Context, res outcome, err error) {
	live := res.written
	if live == nil {
		live = res.current
	}
	now := r.now()
	if r.Log != nil {
		attrs := []slog.Attr{
			slog.String("vendor", res.vendor),
			slog.String("connection", res.connection),
			slog.String("action", res.action),
			slog.Int64("duration_ms", res.duration.Milliseconds()),
			// A whole run takes a few milliseconds, which duration_ms
			// rounds away; duration_us keeps the resolution.
			slog.Int64("duration_us", res.duration.Microseconds()),
		}
		if live != nil {
			attrs = append(attrs, slog.String("fingerprint", live.Fingerprint))
			if !live.ExpiresAt.IsZero() {
				attrs = append(attrs,
					slog.String("expires_at", live.ExpiresAt.Format(time.RFC3339)),
					slog.Int64("expires_in_s", int64(live.ExpiresAt.Sub(now).Seconds())))
			}
		}
		if res.latency > 0 {
			attrs = append(attrs, slog.Int64("vendor_latency_ms", res.latency.Milliseconds()))
		}
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", err.Error()))
			var ve *vendorhttp.Error
			if errors.As(err, &ve) {
				attrs = append(attrs, slog.Int("vendor_status", ve.Status), slog.String("vendor_code", ve.Code), slog.Bool("retryable", ve.Retryable))
			}
		}
		r.Log.LogAttrs(ctx, level, "refresh", attrs...)
	}
	if r.Metrics != nil {
		m := metrics{vendor: res.vendor}
		if res.connection != vendors.DefaultConnection {
			m.connection = res.connection
		}
		if err != nil {
			m.add(MetricFailure, "Count", 1)
		} else {
			m.add(MetricSuccess, "Count", 1)
		}
		if live != nil && !live.ExpiresAt.IsZero() {
			m.add(MetricUntilExpiry, "Seconds", live.ExpiresAt.Sub(now).Seconds())
		}
		if res.latency > 0 {
			m.add(MetricVendorLatency, "Milliseconds", float64(res.latency.Microseconds())/1000)
		}
		if line, err := m.line(now); err == nil {
			_, _ = r.Metrics.Write(line)
		}
	}
}

// metrics builds one CloudWatch Embedded Metric Format document.
type metrics struct {
	vendor string
	// connection, set for a named connection, makes the dimensions
	// (Vendor, Connection); the default connection's metrics keep Vendor
	// alone, as before connections existed, so its alarms match them.
	connection string
	defs       []map[string]string
	values     map[string]float64
}

func (m *metrics) add(name, unit string, v float64) {
	if m.values == nil {
		m.values = map[string]float64{}
	}
	m.defs = append(m.defs, map[string]string{"Name": name, "Unit": unit})
	m.values[name] = v
}

func (m *metrics) line(now time.Time) ([]byte, error) {
	dims := [][]string{{vendors.DimensionVendor}}
	if m.connection != "" {
		dims = [][]string{{vendors.DimensionVendor, vendors.DimensionConnection}}
	}
	directives := []map[string]any{{
		"Namespace":  MetricsNamespace,
		"Dimensions": dims,
		"Metrics":    m.defs,
	}}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp":         now.UnixMilli(),
			"CloudWatchMetrics": directives,
		},
		vendors.DimensionVendor: m.vendor,
	}
	if m.connection != "" {
		doc[vendors.DimensionConnection] = m.connection
	}
	for k, v := range m.values {
		doc[k] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
