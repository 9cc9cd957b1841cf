package vendorcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// guide is the walk-through of adding a vendor (docs/), which shows the
// example vendor of testdata/sixth.
const guide = "adding-a-vendor.md"

// excerptTag marks a code block of the guide that is a run of whole lines
// of a file in the module.
var excerptTag = regexp.MustCompile("(?m)^<!-- norun: excerpt of (\\S+), [^\\n]*-->\\n```go\\n((?s:.*?))```\\n")

// The guide's code is the example's code: each excerpt is a run of whole
// lines of the file it names, so the guide cannot drift from what
// TestSixthVendor adds and tests.
func TestGuideShowsTheExample(t *testing.T) {
	dir := root(t)
	doc, err := os.ReadFile(filepath.Join(dir, "docs", guide))
	if err != nil {
		t.Fatal(err)
	}
	matches := excerptTag.FindAllStringSubmatch(string(doc), -1)
	if len(matches) < 6 {
		t.Fatalf("%s has %d excerpts, want the row vendor's row, main and conformance test, and the package vendor's protocol, test server and conformance test", guide, len(matches))
	}
	for _, m := range matches {
		file, excerpt := m[1], m[2]
		src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil {
			t.Errorf("%s shows an excerpt of %s: %v", guide, file, err)
			continue
		}
		if !strings.Contains("\n"+string(src), "\n"+excerpt) {
			t.Errorf("%s shows lines that are not in %s (copy them again from the file):\n%s", guide, file, excerpt)
		}
	}
}
