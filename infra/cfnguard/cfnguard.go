// Package cfnguard checks synthesized CloudFormation templates against the
// rules of AWS Control Tower's proactive controls with AWS CloudFormation
// Guard, as a governed account's hooks would, and holds every failure
// against the exceptions that the templates explain themselves.
//
// Guard and the rules come from the npm package
// @cdklabs/cdk-validator-cfnguard (Version), which ships the cfn-guard
// binary for Linux and macOS and the rules under
// rules/control-tower/cfn-guard; scripts/install-tools.sh cfnguard
// installs it into .tools/cfnguard.
//
// An exception is a resource's CloudFormation Metadata "guard" (the key
// tokenrefresher.GuardMetadataKey): "SuppressedRules", the Guard rule
// names, and "Exceptions", each with its control and reason. The Control
// Tower rules do not read it; Check does.
package cfnguard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

// Version is the pinned version of @cdklabs/cdk-validator-cfnguard; it
// ships cfn-guard 3.1.1.
const Version = "0.0.62"

// Package is the npm package that ships Guard and the rules.
const Package = "@cdklabs/cdk-validator-cfnguard"

// Tool is an installed cfn-guard with the Control Tower rules.
type Tool struct {
	Bin   string // the cfn-guard binary
	Rules string // rules/control-tower/cfn-guard
}

// Find locates the tool installed by npm under prefix (e.g.
// <repo>/.tools/cfnguard), for this machine's OS and architecture.
func Find(prefix string) (Tool, error) {
	pkg := filepath.Join(prefix, "node_modules", filepath.FromSlash(Package))
	osName := map[string]string{"linux": "ubuntu", "darwin": "macos"}[runtime.GOOS]
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if osName == "" || arch == "" {
		return Tool{}, fmt.Errorf("cfnguard: %s ships no cfn-guard for %s/%s", Package, runtime.GOOS, runtime.GOARCH)
	}
	t := Tool{
		Bin:   filepath.Join(pkg, "bin", osName, arch, "cfn-guard"),
		Rules: filepath.Join(pkg, "rules", "control-tower", "cfn-guard"),
	}
	for _, p := range []string{t.Bin, t.Rules} {
		if _, err := os.Stat(p); err != nil {
			return Tool{}, fmt.Errorf("cfnguard: %w (scripts/install-tools.sh cfnguard installs %s@%s)", err, Package, Version)
		}
	}
	return t, nil
}

// Failure is one resource that fails one Guard rule.
type Failure struct {
	Template string // file name
	Resource string // logical id
	Rule     string // Guard rule name
	Control  string // e.g. CT.LAMBDA.PR.3
	Message  string // the control's first line
}

func (f Failure) String() string {
	return fmt.Sprintf("%s %s: %s (%s) %s", f.Template, f.Resource, f.Control, f.Rule, f.Message)
}

// Exception is one explained exception a template declares.
type Exception struct {
	Template string
	Resource string
	Control  string `json:"Control"`
	Rule     string `json:"Rule"`
	Reason   string `json:"Reason"`
}

func (e Exception) String() string {
	return fmt.Sprintf("%s %s: %s (%s): %s", e.Template, e.Resource, e.Control, e.Rule, e.Reason)
}

// Result is the outcome of Check.
type Result struct {
	// Failures no exception explains: each fails the check.
	Unexplained []Failure
	// Explained are the exceptions that matched a failure.
	Explained []Exception
	// Unused are exceptions whose rule passed (or that say nothing): each
	// fails the check, so that the list never outlives its reason.
	Unused []Exception
	// Passed counts, per control, the templates to which the control
	// applied and that passed it.
	Passed map[string]int
}

// OK reports whether nothing is unexplained and no exception is unused.
func (r Result) OK() bool { return len(r.Unexplained) == 0 && len(r.Unused) == 0 }

// TestLog is the part of *testing.T that Report writes to.
type TestLog interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Report logs the controls that passed (with how many templates each
// applied to) and the explained exceptions, and fails t on every
// unexplained failure and every unused exception.
func (r Result) Report(t TestLog) {
	t.Helper()
	var passed []string
	for c, n := range r.Passed {
		passed = append(passed, fmt.Sprintf("%s×%d", c, n))
	}
	sort.Strings(passed)
	t.Logf("Control Tower controls passed: %s", strings.Join(passed, " "))
	for _, e := range r.Explained {
		t.Logf("explained exception: %s", e)
	}
	for _, f := range r.Unexplained {
		t.Errorf("Control Tower control fails without an explained exception: %s", f)
	}
	for _, e := range r.Unused {
		t.Errorf("exception explains no failure (remove it, or give it a reason): %s", e)
	}
}

// Templates returns the *.template.json files of a cloud assembly folder
// (cdk.out): the root stacks and every nested stack.
func Templates(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("cfnguard: no *.template.json in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// Check runs every rule against every template and holds the failures
// against the templates' exceptions.
func (t Tool) Check(ctx context.Context, templates []string) (Result, error) {
	res := Result{Passed: map[string]int{}}
	controls, err := t.Controls()
	if err != nil {
		return Result{}, err
	}
	for _, tmpl := range templates {
		failures, passed, err := t.validate(ctx, tmpl)
		if err != nil {
			return Result{}, err
		}
		for rule, n := range passed {
			c := controls[rule]
			if c == "" {
				c = rule
			}
			res.Passed[c] += n
		}
		exceptions, err := ReadExceptions(tmpl)
		if err != nil {
			return Result{}, err
		}
		used := make([]bool, len(exceptions))
		for _, f := range failures {
			explained := false
			for i, e := range exceptions {
				if e.Resource == f.Resource && e.Rule == f.Rule && strings.TrimSpace(e.Reason) != "" {
					explained, used[i] = true, true
				}
			}
			if !explained {
				res.Unexplained = append(res.Unexplained, f)
			}
		}
		for i, e := range exceptions {
			if used[i] {
				res.Explained = append(res.Explained, e)
			} else {
				res.Unused = append(res.Unused, e)
			}
		}
	}
	return res, nil
}

// Controls maps each rule name of the rules folder to its control: the
// file ct-lambda-pr-3.guard holds the rules of CT.LAMBDA.PR.3.
func (t Tool) Controls() (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(t.Rules, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".guard") {
			return err
		}
		control := strings.ToUpper(strings.ReplaceAll(strings.TrimSuffix(filepath.Base(path), ".guard"), "-", "."))
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range rulePattern.FindAllStringSubmatch(string(raw), -1) {
			out[m[1]] = control
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cfnguard: read the rules: %w", err)
	}
	return out, nil
}

// rulePattern finds the top-level rules of a rules file.
var rulePattern = regexp.MustCompile(`(?m)^rule\s+([a-z0-9_]+)\s+when`)

// ReadExceptions returns the exceptions that a template's resources
// declare in their Metadata "guard".
func ReadExceptions(template string) ([]Exception, error) {
	raw, err := os.ReadFile(template)
	if err != nil {
		return nil, fmt.Errorf("cfnguard: %w", err)
	}
	var doc struct {
		Resources map[string]struct {
			Metadata struct {
				Guard struct {
					SuppressedRules []string    `json:"SuppressedRules"`
					Exceptions      []Exception `json:"Exceptions"`
				} `json:"guard"`
			} `json:"Metadata"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("cfnguard: parse %s: %w", template, err)
	}
	var out []Exception
	for id, r := range doc.Resources {
		g := r.Metadata.Guard
		explained := map[string]bool{}
		for _, e := range g.Exceptions {
			e.Template, e.Resource = filepath.Base(template), id
			explained[e.Rule] = true
			out = append(out, e)
		}
		// A suppressed rule without its reason is an exception that
		// explains nothing: it is listed with an empty reason, and Check
		// counts it as unused.
		for _, rule := range g.SuppressedRules {
			if !explained[rule] {
				out = append(out, Exception{Template: filepath.Base(template), Resource: id, Rule: rule})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Rule < out[j].Rule
	})
	return out, nil
}

// controlPattern finds the control id in a rule's message.
var controlPattern = regexp.MustCompile(`\[(CT\.[A-Z0-9]+\.PR\.[0-9]+)\]:?\s*([^\n]*)`)

// validate runs cfn-guard on one template and returns its failures and,
// per control, how many of its rules applied and passed.
func (t Tool) validate(ctx context.Context, template string) ([]Failure, map[string]int, error) {
	cmd := exec.CommandContext(ctx, t.Bin, "validate", "-r", t.Rules, "-d", template, "-z", "-o", "json", "-S", "none")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// cfn-guard exits 19 when a rule fails and 0 otherwise; anything else
	// is an error of the tool itself.
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 19) {
		return nil, nil, fmt.Errorf("cfnguard: cfn-guard validate %s: %v\n%s", filepath.Base(template), err, stderr.String())
	}
	var reports []struct {
		NotCompliant []json.RawMessage `json:"not_compliant"`
		Compliant    []string          `json:"compliant"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &reports); err != nil {
		return nil, nil, fmt.Errorf("cfnguard: parse the report on %s: %v", filepath.Base(template), err)
	}
	var failures []Failure
	passed := map[string]int{}
	for _, r := range reports {
		for _, raw := range r.NotCompliant {
			failures = append(failures, parseNotCompliant(filepath.Base(template), raw)...)
		}
		for _, rule := range r.Compliant {
			passed[rule]++
		}
	}
	return failures, passed, nil
}

// parseNotCompliant turns one rule's report into a failure per resource
// it names.
func parseNotCompliant(template string, raw json.RawMessage) []Failure {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []Failure{{Template: template, Resource: "?", Rule: "?", Message: string(raw)}}
	}
	rule, _ := dig(v, "Rule", "name").(string)
	resources := map[string]bool{}
	var control, message string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok {
					if k == "path" && strings.HasPrefix(s, "/Resources/") {
						resources[strings.SplitN(strings.TrimPrefix(s, "/Resources/"), "/", 2)[0]] = true
					}
					if k == "custom_message" && control == "" {
						if m := controlPattern.FindStringSubmatch(s); m != nil {
							control, message = m[1], strings.TrimSpace(m[2])
						}
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	if len(resources) == 0 {
		resources["(template)"] = true
	}
	var out []Failure
	for id := range resources {
		out = append(out, Failure{Template: template, Resource: id, Rule: rule, Control: control, Message: message})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// dig follows keys through nested objects.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
