package vendors

import (
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// connectionRE is the definition validConnection implements.
var connectionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func TestValidConnectionMatchesDefinition(t *testing.T) {
	inputs := []string{
		"", "a", "z", "0", "9", "-", "--", "a-", "-a", "acme", "globex", "eu-1", "a--b",
		"ACME", "Acme", "acme_eu", "acme.eu", "acme eu", " acme", "acme ", "acme\n", "\nacme",
		"acme/eu", "é", "acmé", "a\x00", "\x00", "a\u00a0", "ａ", // fullwidth a
		strings.Repeat("a", 31), strings.Repeat("a", 32), strings.Repeat("a", 33),
		"0" + strings.Repeat("-", 31), "0" + strings.Repeat("-", 32), "-" + strings.Repeat("a", 31),
		strings.Repeat("a", 31) + "A", strings.Repeat("9", 32), strings.Repeat("a-", 16), strings.Repeat("a-", 17),
	}
	// Every string of up to two characters over an alphabet with each
	// class's edges and neighbours, and a few three-character ones.
	alphabet := []byte{'a', 'b', 'y', 'z', '0', '1', '8', '9', '-', '`', '{', '/', ':', '@', '[', 'A', 'Z', '_', '.', ' ', 0x80, 0xff}
	for _, c := range alphabet {
		inputs = append(inputs, string([]byte{c}))
		for _, d := range alphabet {
			inputs = append(inputs, string([]byte{c, d}), string([]byte{'a', c, d}))
		}
	}
	// Each byte value at the first, a middle and the last of 32 places.
	for b := 0; b < 256; b++ {
		base := []byte(strings.Repeat("k", 32))
		for _, at := range []int{0, 15, 31} {
			s := append([]byte(nil), base...)
			s[at] = byte(b)
			inputs = append(inputs, string(s), string(s[:at+1]))
		}
	}
	for _, in := range inputs {
		want := connectionRE.MatchString(in)
		if got := validConnection(in); got != want {
			t.Errorf("validConnection(%q) = %v, the definition says %v", in, got, want)
		}
	}
}

func TestCheckConnection(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"empty is the default connection", "", true},
		{"default", DefaultConnection, true},
		{"plain", "acme", true},
		{"digits and dashes", "eu-2", true},
		{"32 characters", strings.Repeat("a", 32), true},
		{"33 characters", strings.Repeat("a", 33), false},
		{"leading dash", "-acme", false},
		{"upper case", "Acme", false},
		{"underscore", "acme_eu", false},
		{"slash", "acme/eu", false},
		{"trailing newline", "acme\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckConnection(tt.in)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckConnection(%q) = %v", tt.in, err)
				}
				return
			}
			want := "vendors: connection name " + strconv.Quote(tt.in) + " is not [a-z0-9][a-z0-9-]{0,31}"
			if err == nil || err.Error() != want {
				t.Fatalf("CheckConnection(%q) = %v, want %q", tt.in, err, want)
			}
		})
	}
}

// Every function's cold start initialises this package: it must not build
// a regular expression then (compiling the connection pattern cost about
// 380 allocations and 0.15 ms).
func TestNoRegexpAtInit(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if imp.Path.Value == `"regexp"` {
				t.Errorf("%s imports regexp", name)
			}
		}
	}
}

func TestLaneOf(t *testing.T) {
	// The lane is part of a deployment: the stack routes a connection's
	// schedule to it and the vendor's function hands the connection's
	// other runs to it. These values must never change.
	for _, tc := range []struct {
		name  string
		lanes int
		want  int
	}{
		{"acme", 0, 0}, {"acme", 1, 0},
		{"acme", 10, 5}, {"c0", 10, 8}, {"c999", 10, 5}, {"acme", 50, 15},
		{"", 10, LaneOf(DefaultConnection, 10)}, {"", 1, 0},
	} {
		if got := LaneOf(tc.name, tc.lanes); got != tc.want {
			t.Errorf("LaneOf(%q, %d) = %d, want %d", tc.name, tc.lanes, got, tc.want)
		}
	}
	seen := map[int]int{}
	for i := range 1000 {
		seen[LaneOf(fmt.Sprintf("c%d", i), 10)]++
	}
	for lane := range 10 {
		if n := seen[lane]; n < 70 || n > 130 {
			t.Errorf("lane %d of 10 holds %d of 1,000 connections", lane, n)
		}
	}
	if got := LaneFunctionName("token-refresher-fyber", 3); got != "token-refresher-fyber-lane-3" {
		t.Errorf("LaneFunctionName = %q", got)
	}
}

func TestScheduleSpread(t *testing.T) {
	for _, tc := range []struct {
		every, offset time.Duration
		want          string
		ok            bool
	}{
		{15 * time.Minute, 7 * time.Minute, "cron(7/15 * * * ? *)", true},
		{15 * time.Minute, 0, "cron(0/15 * * * ? *)", true},
		{6 * time.Hour, 100 * time.Minute, "cron(40 1/6 * * ? *)", true},
		{24 * time.Hour, 9*time.Hour + 40*time.Minute, "cron(40 9 * * ? *)", true},
		{7 * time.Minute, time.Minute, "", false},
		{5 * time.Hour, time.Minute, "", false},
		{15 * time.Minute, 15 * time.Minute, "", false},
		{15 * time.Minute, 30 * time.Second, "", false},
	} {
		got, ok := ScheduleCron(tc.every, tc.offset)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ScheduleCron(%s, %s) = %q, %v; want %q, %v", tc.every, tc.offset, got, ok, tc.want, tc.ok)
		}
	}
	// Offsets are whole minutes inside the period, and one lane's
	// connections use most of the period's minutes.
	slots := map[time.Duration]bool{}
	for i := range 1000 {
		name := fmt.Sprintf("c%d", i)
		off := ScheduleOffset(name, 15*time.Minute)
		if off < 0 || off >= 15*time.Minute || off%time.Minute != 0 {
			t.Fatalf("ScheduleOffset(%q) = %s", name, off)
		}
		if LaneOf(name, 5) == 0 {
			slots[off] = true
		}
	}
	if len(slots) < 14 {
		t.Errorf("lane 0 of 5 fires in %d of 15 minutes", len(slots))
	}
}
