package docscheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"How it works", "how-it-works"},
		{"Run it locally: `make dev`", "run-it-locally-make-dev"},
		{"Go: `shared/reader`", "go-sharedreader"},
		{"Simulation: this reader vs a randomised-TTL cache", "simulation-this-reader-vs-a-randomised-ttl-cache"},
		{"The token secret (public contract)", "the-token-secret-public-contract"},
		{"Node.js (AWS SDK v3)", "nodejs-aws-sdk-v3"},
		{"Never losing the refresh token — what is guaranteed", "never-losing-the-refresh-token--what-is-guaranteed"},
		{"`set-credentials`", "set-credentials"},
		{"**Bold** and [a link](x.md)", "bold-and-a-link"},
		{"snake_case stays", "snake_case-stays"},
		{"Ünïcode Größe", "ünïcode-größe"},
		{"TTL ≤ 1 h?", "ttl--1-h"},
	}
	for _, tt := range tests {
		t.Run(tt.heading, func(t *testing.T) {
			if got := Slug(tt.heading); got != tt.want {
				t.Errorf("Slug(%q) = %q, want %q", tt.heading, got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	md := strings.Join([]string{
		"# Title",
		"See [the contract](docs/contract.md#the-token-secret) and ![pic](img.png \"t\").",
		"`[not a link](nowhere.md)` is code.",
		"## Usage",
		"## Usage",
		"<a id=\"custom\"></a>",
		"[ref]: docs/apps.md",
		"",
		"<!-- run: TestDev -->",
		"",
		"```sh",
		"make dev",
		"```",
		"",
		"```python",
		"print(1)",
		"```",
		"- item",
		"",
		"  <!-- norun: needs AWS -->",
		"  ```sh",
		"  aws s3 ls",
		"    indented",
		"  ```",
		"```text",
		"# not a heading",
		"[not a link](inside-fence.md)",
		"```",
	}, "\n")
	d := Parse([]byte(md))
	for _, a := range []string{"title", "usage", "usage-1", "custom"} {
		if !d.Anchors[a] {
			t.Errorf("anchor %q missing; have %v", a, d.Anchors)
		}
	}
	if d.Anchors["not-a-heading"] {
		t.Error("a # line inside a fence counted as a heading")
	}
	var links []string
	for _, l := range d.Links {
		links = append(links, l.Target)
	}
	if want := []string{"docs/contract.md#the-token-secret", "img.png", "docs/apps.md"}; !reflect.DeepEqual(links, want) {
		t.Errorf("links = %q, want %q", links, want)
	}
	want := []Block{
		{Line: 11, Lang: "sh", Text: "make dev", Tag: "run: TestDev"},
		{Line: 15, Lang: "python", Text: "print(1)"},
		{Line: 21, Lang: "sh", Text: "aws s3 ls\n  indented", Tag: "norun: needs AWS"},
		{Line: 25, Lang: "text", Text: "# not a heading\n[not a link](inside-fence.md)"},
	}
	if !reflect.DeepEqual(d.Blocks, want) {
		t.Errorf("blocks =\n%+v\nwant\n%+v", d.Blocks, want)
	}
}

func TestMakeTargets(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"make dev    # run it", []string{"dev"}},
		{"make dev DEV_ARGS=\"-speed 600\"", []string{"dev"}},
		{"make deploy CDK_ARGS=\"-c dashboard=false\"", []string{"deploy"}},
		{"git checkout A && make bench && git checkout B && make bench", []string{"bench", "bench"}},
		{"$ make -C . test lint", []string{"test", "lint"}},
		{"FOO=1 make build; echo make", []string{"build"}},
		{"go build \\\n  make", nil},
		{"pip install \"moto[server]\"   # once, for make dev", nil},
	}
	for _, tt := range tests {
		if got := makeTargets(tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("makeTargets(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// repo writes files into a temporary repository root.
func repo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func messages(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	const exampleTest = "package x_test\n\nfunc ExampleThing() {\n\tx := 1\n\tfmt.Println(x)\n\n\t// Output:\n\t// 1\n}\n\nfunc TestReadsDoc(t *testing.T) { _ = \"apps.md\" }\n\nfunc TestOther(t *testing.T) {}\n"
	base := map[string]string{
		"Makefile":        "dev: tools ## run\n\t@true\ntest lint: ## both\n\tgo vet ./...\n\tgo test -race ./...\nX := 1\n",
		".ci/run":         "#!/bin/sh\nmake test\nmake lint\n",
		"cmd/dev/main.go": "package main\n",
		"x/x_test.go":     exampleTest,
		"y/y_test.go":     "package y\n\nfunc TestOther(t *testing.T) {}\n",
		"docs/apps.md":    "# Apps\n\n## Go: `reader`\n\ntext\n",
		"code.go":         "package x\n\n// two\n// lines\n",
	}
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the problems, in order; none for a clean doc
	}{
		{name: "good links", doc: "[a](docs/apps.md) [b](docs/apps.md#go-reader) [c](#top) [d](code.go#L2-L4) [e](https://example.com/x.md#nope) [f](cmd/dev)\n# Top\n"},
		{name: "missing file", doc: "[a](docs/nope.md)\n", want: []string{`docs/nope.md does not exist`}},
		{name: "missing anchor with a suggestion", doc: "[a](docs/apps.md#go-reader-x)\n", want: []string{`has no heading with the anchor #go-reader-x (did you mean #go-reader?)`}},
		{name: "own anchor missing", doc: "[a](#nowhere)\n", want: []string{`README.md has no heading with the anchor #nowhere`}},
		{name: "line past the end", doc: "[a](code.go#L9)\n", want: []string{`code.go has 5 lines`}},
		{name: "outside the repository", doc: "[a](../x.md)\n", want: []string{`leaves the repository`}},
		{name: "untagged runnable block", doc: "```sh\nmake dev\n```\n", want: []string{"```sh block has no tag"}},
		{name: "untagged output is fine", doc: "```\nVENDOR TOKEN\n```\n```json\n{}\n```\n"},
		{name: "norun needs a reason", doc: "<!-- norun: -->\n```sh\nls\n```\n", want: []string{"norun tag without a reason"}},
		{name: "ci runs make test", doc: "<!-- run: ci -->\n```sh\nmake test\n```\n"},
		{name: "ci runs go test ./... through make test", doc: "<!-- run: ci -->\n```sh\ngo test ./cmd/dev -run Sim -v   # the day\n```\n"},
		{name: "ci does not run go run", doc: "<!-- run: ci -->\n```sh\ngo test ./cmd/dev\ngo run ./cmd/dev\n```\n", want: []string{"names no make target that .ci/run runs"}},
		{name: "ci does not run make dev", doc: "<!-- run: ci -->\n```sh\nmake dev\n```\n", want: []string{"names no make target that .ci/run runs (it runs make lint, make test)"}},
		{name: "ci and a test", doc: "<!-- run: ci, x.TestReadsDoc -->\n```sh\nmake dev\nmake test\n```\n", want: []string{"no _test.go file in x reads README.md"}},
		{name: "unknown make target", doc: "<!-- norun: why -->\n```sh\nmake deploy\n```\n", want: []string{"the Makefile has no target deploy"}},
		{name: "missing package path", doc: "<!-- norun: why -->\n```sh\ngo run ./cmd/nope -h\ngo test ./cmd/dev/...\n```\n", want: []string{"./cmd/nope does not exist"}},
		{name: "commands in code spans", doc: "Run `make dev`, `make test/lint`, `go run ./cmd/dev -h`, `make dev | head`.\n"},
		{name: "wrong commands in code spans", doc: "Run `make deploy` or `go test ./cmd/nope`, and `make dev/deploy`.\n", want: []string{"no target deploy", "./cmd/nope does not exist", "no target dev/deploy"}},
		{name: "unknown test", doc: "<!-- run: TestNope -->\n```python\nx\n```\n", want: []string{"no _test.go file in the module defines func TestNope"}},
		{name: "ambiguous test", doc: "<!-- run: TestOther -->\n```python\nx\n```\n", want: []string{"qualify it as one of x.TestOther, y.TestOther"}},
		{name: "go block is the example's body", doc: "<!-- run: ExampleThing -->\n```go\nx := 1\nfmt.Println(x)\n```\n"},
		{name: "go block is lines of the example's body", doc: "<!-- run: ExampleThing -->\n```go\nfmt.Println(x)\n```\n"},
		{name: "go block drifted", doc: "<!-- run: x.ExampleThing -->\n```go\nx := 2\nfmt.Println(x)\n```\n", want: []string{"is not the body of x.ExampleThing"}},
		{name: "go block is part of a line", doc: "<!-- run: x.ExampleThing -->\n```go\nPrintln(x)\n```\n", want: []string{"is not the body of x.ExampleThing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"README.md": tt.doc}
			for k, v := range base {
				files[k] = v
			}
			ps := Check(repo(t, files), []string{"README.md"})
			got := messages(ps)
			if len(ps) != len(tt.want) {
				t.Fatalf("problems:\n%swant %d: %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(ps[i].Msg, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ps[i].Msg, w)
				}
			}
		})
	}
}

func TestTestReadingTheDoc(t *testing.T) {
	root := repo(t, map[string]string{
		"docs/apps.md":            "# Apps\n\n<!-- run: TestReadsDoc -->\n```python\nprint(1)\n```\n",
		"cmd/dev/snippet_test.go": "package main\n\nfunc TestReadsDoc(t *testing.T) { _ = filepath.Join(\"docs\", \"apps.md\") }\n",
	})
	if ps := Check(root, []string{"docs/apps.md"}); len(ps) != 0 {
		t.Errorf("problems:\n%s", messages(ps))
	}
}

func TestIgnoredTarget(t *testing.T) {
	root := repo(t, map[string]string{
		".gitignore":         "/build/\n",
		"build/shot.png":     "png",
		"README.md":          "![shot](build/shot.png)\n",
		"docs/kept/note.txt": "x",
	})
	if err := runGit(root, "init", "-q"); err != nil {
		t.Skipf("git: %v", err)
	}
	ps := Check(root, []string{"README.md"})
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "ignored by git") {
		t.Errorf("problems:\n%s", messages(ps))
	}
}

func runGit(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	return cmd.Run()
}
