package docscheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// moduleRoot is the folder of the go.mod above the test's folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// TestRepositoryDocs checks README.md and docs/*.md: every relative link
// and anchor resolves, every runnable snippet is tagged with what runs it
// (or why nothing can), and every make target and package path a command
// names exists.
func TestRepositoryDocs(t *testing.T) {
	root := moduleRoot(t)
	files, err := MarkdownFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Check(root, files) {
		t.Error(p)
	}
}

// alarmNameRE finds the fixed end of an alarm's name in the stack's code:
// AlarmName: jsii.String(prefix + "-" + name + "-errors").
var alarmNameRE = regexp.MustCompile(`AlarmName:\s*jsii\.String\([^)]*\+\s*"(-[a-z-]+)"\)`)

// TestRunbookNamesEveryAlarm checks that the runbook in docs/operations.md
// has a section for every kind of alarm the stack creates, so a new alarm
// cannot ship without saying what to do when it fires.
func TestRunbookNamesEveryAlarm(t *testing.T) {
	root := moduleRoot(t)
	ops, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, line := range strings.Split(string(ops), "\n") {
		if strings.HasPrefix(line, "### ") {
			headings = append(headings, line)
		}
	}
	sources, err := filepath.Glob(filepath.Join(root, "infra", "tokenrefresher", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, src := range sources {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range alarmNameRE.FindAllStringSubmatch(string(b), -1) {
			found[m[1]] = filepath.Base(src)
		}
	}
	if len(found) == 0 {
		t.Fatal("no AlarmName found in infra/tokenrefresher: the pattern this test looks for has changed")
	}
	for suffix, src := range found {
		ok := false
		for _, h := range headings {
			if strings.Contains(h, suffix+"`") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("the alarm <...>%s (%s) has no runbook section in docs/operations.md: add a \"### `<prefix>-...%s`\" heading saying what it means and what to do", suffix, src, suffix)
		}
	}
}
