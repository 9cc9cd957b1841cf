package tokenrefresher

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

var (
	synthScale    = flag.String("synth-scale", "", "synthesize 5 vendors × these connection counts, comma-separated, each optionally /<lanes> (1000/10: in 10 lanes) (make synth-scale; part of make bench)")
	synthScaleOut = flag.String("synth-scale-out", "", "also write the measurement's Markdown table to this file")
)

// TestSynthScale measures what `cdk synth` does with 5 vendors × N named
// connections each (c0, c1, ...), without lanes or in L lanes (N/L): the
// time to build and synthesize the app (cdk-nag's checks included, as in
// main), the templates written, their resources and size. A size the
// construct refuses is recorded with its message. It runs only with
// -synth-scale: 5 × 1,000 takes minutes, so it belongs to make bench, not
// make test.
func TestSynthScale(t *testing.T) {
	if *synthScale == "" {
		t.Skip("runs with -synth-scale=10,100,1000 (make synth-scale)")
	}
	var rows []string
	for _, f := range strings.Split(*synthScale, ",") {
		var n, lanes int
		conns, l, withLanes := strings.Cut(f, "/")
		if _, err := fmt.Sscan(conns, &n); err != nil {
			t.Fatalf("-synth-scale: %q is not a number", f)
		}
		if _, err := fmt.Sscan(l, &lanes); withLanes && err != nil {
			t.Fatalf("-synth-scale: %q: lanes %q is not a number", f, l)
		}
		rows = append(rows, synthRow(t, n, lanes))
		t.Log(rows[len(rows)-1])
	}
	table := "| vendors × connections | shards per vendor | lanes per vendor | result | synth time | templates (stacks) | resources in all | largest stack | parent stack | largest lanes stack | templates' size |\n|---|---|---|---|---|---|---|---|---|---|---|\n" +
		strings.Join(rows, "\n") + "\n"
	fmt.Print(table)
	if *synthScaleOut != "" {
		if err := os.WriteFile(*synthScaleOut, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func synthRow(t *testing.T, n, lanes int) (row string) {
	conns := map[string][]string{}
	for _, spec := range vendors.All() {
		for i := range n {
			conns[spec.Name] = append(conns[spec.Name], fmt.Sprintf("c%d", i))
		}
	}
	// 8 shards (the default) hold about 100 connections per vendor
	// comfortably; 32 hold 1,000 of Admitad's 7 resources each.
	shards := DefaultConnectionShards
	if n > 300 {
		shards = 32
	}
	out := t.TempDir()
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			row = fmt.Sprintf("| 5 × %d | %d | %d | refused: %v | %s | | | | | | |", n, shards, lanes, r, time.Since(start).Round(100*time.Millisecond))
		}
	}()
	ctx := map[string]any{}
	for k, v := range cdkFlags {
		ctx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
	NewStack(app, "TokenRefresher", &StackProps{Props: Props{
		AssetDir: testAssetDir, Vendors: vendors.All(), AlarmEmail: "ops@example.com", Connections: conns,
		ConnectionShards: shards, ConnectionLanes: lanes,
	}})
	app.Synth(nil)
	took := time.Since(start)

	files, _ := filepath.Glob(filepath.Join(out, "*.template.json"))
	total, largest, parent, lanesLargest, size := 0, 0, 0, 0, int64(0)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		size += int64(len(raw))
		var tpl struct{ Resources map[string]any }
		if err := json.Unmarshal(raw, &tpl); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		k := len(tpl.Resources)
		total += k
		largest = max(largest, k)
		if filepath.Base(f) == "TokenRefresher.template.json" {
			parent = k
		}
		if strings.Contains(filepath.Base(f), "Lanes") {
			lanesLargest = max(lanesLargest, k)
		}
	}
	sort.Strings(files)
	return fmt.Sprintf("| 5 × %d | %d | %d | synthesized | %s | %d | %d | %d | %d | %d | %.1f MB |", n, shards, lanes, took.Round(100*time.Millisecond), len(files), total, largest, parent, lanesLargest, float64(size)/1e6)
}
