package docscheck

import (
	"os"
	"path/filepath"
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
