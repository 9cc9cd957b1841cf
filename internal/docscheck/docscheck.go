// Package docscheck keeps the repository's Markdown documentation honest:
// every relative link and #anchor resolves, every runnable snippet is run
// by a named test or by CI, and every command a snippet names exists.
//
// # Links
//
// A link is checked when its target has no URL scheme: the file or
// folder must exist inside the repository and must not be ignored by git
// (a clone would not have it). An anchor must match a heading of the
// target Markdown file under GitHub's rules (see Slug), or an HTML id or
// name in it; #L12 and #L12-L20 must lie within the target file's lines.
//
// # Snippets
//
// Every fenced block whose language runs (sh, bash, shell, console,
// python, js, go, ...) is preceded by a tag on the nearest non-blank line:
//
//	<!-- run: TestDev -->                the named test (or Example) runs it
//	<!-- run: ci -->                     .ci/run runs the make target it names
//	<!-- run: ci, TestDev -->            both, for a block with both kinds
//	<!-- norun: needs an AWS account --> it cannot run here, and why
//
// A named test must exist in a _test.go file of the module (qualify it as
// dir.Name, e.g. shared/reader.ExampleNewFromConfig, when the name is not
// unique). For a go block the snippet must be byte for byte the body of
// that function, without its // Output: comment, or a run of whole lines
// of it, so the snippet compiles with the tests. For any other block the test's package must read the
// Markdown file (one of its _test.go files names it), as cmd/dev's tests
// read docs/apps.md.
//
// Whatever its tag, every `make X` in a shell block or in a code span of the
// text must name a target of the Makefile, and every ./cmd/...,
// ./functions/..., ./shared/..., ./internal/... or ./infra/... path such a
// command names must exist.
//
// # Contract
//
// Check reads files and, for the ignore check, runs `git check-ignore`; it
// changes nothing and starts no other process. Problems come back as a
// list, each naming the file and line; none is fatal to the others. It is
// safe for concurrent use.
package docscheck

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Problem is one thing wrong in a Markdown file.
type Problem struct {
	File string // relative to the repository root, slash-separated
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Link is a link in a Markdown file.
type Link struct {
	Line   int
	Target string
}

// Block is a fenced code block and the tag before it.
type Block struct {
	Line int    // the opening fence's line
	Lang string // the info string's first word, lower case
	Text string // the content, common indentation removed, no final newline
	Tag  string // "run: ..." or "norun: ...", or "" when untagged
}

// Doc is what Check reads from one Markdown file.
type Doc struct {
	Anchors map[string]bool
	Links   []Link
	Blocks  []Block
	// Commands are code spans in the text that run make or go, e.g.
	// `make bench` or `go run ./cmd/bench -h`.
	Commands []Link
	Lines    int
}

// runnable are the block languages that must carry a tag.
var runnable = map[string]bool{
	"sh": true, "bash": true, "shell": true, "console": true, "zsh": true,
	"python": true, "py": true, "js": true, "javascript": true, "mjs": true,
	"ts": true, "typescript": true, "go": true,
}

var shells = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true, "zsh": true}

var (
	fenceRE   = regexp.MustCompile("^(\\s*)(```+|~~~+)\\s*([^\\s`]*)")
	headingRE = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	tagRE     = regexp.MustCompile(`^\s*<!--\s*((?:no)?run):\s*(.*?)\s*-->\s*$`)
	htmlIDRE  = regexp.MustCompile(`<[a-zA-Z][^>]*\s(?:id|name)\s*=\s*"([^"]+)"`)
	linkRE    = regexp.MustCompile(`!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refDefRE  = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	codeRE    = regexp.MustCompile("`+[^`]*`+")
	schemeRE  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

	lineAnchorRE = regexp.MustCompile(`^L(\d+)(?:-L(\d+))?$`)
)

// Parse reads a Markdown document: its anchors, links and fenced blocks.
func Parse(md []byte) Doc {
	d := Doc{Anchors: map[string]bool{}}
	seen := map[string]int{}
	lines := strings.Split(strings.ReplaceAll(string(md), "\r\n", "\n"), "\n")
	d.Lines = len(lines)
	var (
		inFence   bool
		fence     string
		open      Block
		body      []string
		lastText  string // the last non-blank line outside a fence
		lastIsTag bool
	)
	for i, line := range lines {
		n := i + 1
		if inFence {
			if m := fenceRE.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[2], fence) && strings.TrimSpace(line) == m[2] {
				inFence = false
				open.Text = dedent(body)
				d.Blocks = append(d.Blocks, open)
				lastText, lastIsTag = line, false
				continue
			}
			body = append(body, line)
			continue
		}
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			inFence, fence, body = true, m[2], nil
			open = Block{Line: n, Lang: strings.ToLower(m[3])}
			if lastIsTag {
				t := tagRE.FindStringSubmatch(lastText)
				open.Tag = t[1] + ": " + t[2]
			}
			continue
		}
		if strings.TrimSpace(line) != "" {
			lastText, lastIsTag = line, tagRE.MatchString(line)
		}
		for _, m := range htmlIDRE.FindAllStringSubmatch(line, -1) {
			d.Anchors[m[1]] = true
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			s := Slug(m[2])
			if k := seen[s]; k > 0 {
				d.Anchors[s+"-"+strconv.Itoa(k)] = true
			} else {
				d.Anchors[s] = true
			}
			seen[s]++
		}
		if m := refDefRE.FindStringSubmatch(line); m != nil {
			d.Links = append(d.Links, Link{Line: n, Target: m[1]})
			continue
		}
		for _, span := range codeRE.FindAllString(line, -1) {
			text := strings.Trim(span, "`")
			if strings.HasPrefix(text, "make ") || strings.HasPrefix(text, "go ") {
				d.Commands = append(d.Commands, Link{Line: n, Target: text})
			}
		}
		// Links inside code spans are text, not links.
		plain := codeRE.ReplaceAllStringFunc(line, func(s string) string { return strings.Repeat("x", len(s)) })
		for _, m := range linkRE.FindAllStringSubmatch(plain, -1) {
			d.Links = append(d.Links, Link{Line: n, Target: m[2]})
		}
	}
	if inFence {
		open.Text = dedent(body)
		d.Blocks = append(d.Blocks, open)
	}
	return d
}

// dedent removes the indentation common to the non-blank lines (a block
// inside a list item) and the trailing blank lines.
func dedent(lines []string) string {
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ind := len(l) - len(strings.TrimLeft(l, " \t"))
		if common < 0 || ind < common {
			common = ind
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) >= common && common > 0 {
			l = l[common:]
		}
		out[i] = strings.TrimRight(l, " \t")
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}

var (
	inlineLinkRE = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTagRE    = regexp.MustCompile(`<[^>]+>`)
)

// Slug is the anchor GitHub gives a heading: the heading's text as
// rendered (code spans, links, emphasis and HTML reduced to their text),
// lower-cased, with every character that is not a letter, a digit, a
// mark, "-" or "_" dropped, and each space turned into "-". A repeated
// slug gets "-1", "-2", ... (Parse adds those).
func Slug(heading string) string {
	s := inlineLinkRE.ReplaceAllString(heading, "$1")
	s = htmlTagRE.ReplaceAllString(s, "")
	s = strings.NewReplacer("`", "", "**", "", "__", "").Replace(s)
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Check checks the Markdown files (relative, slash-separated paths) of the
// repository at root.
func Check(root string, files []string) []Problem {
	c := &checker{root: root, docs: map[string]Doc{}}
	var problems []Problem
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			problems = append(problems, Problem{File: f, Msg: err.Error()})
			continue
		}
		c.docs[f] = Parse(b)
	}
	for _, f := range files {
		d, ok := c.docs[f]
		if !ok {
			continue
		}
		for _, l := range d.Links {
			if msg := c.checkLink(f, l.Target); msg != "" {
				problems = append(problems, Problem{File: f, Line: l.Line, Msg: msg})
			}
		}
		for _, cmd := range d.Commands {
			for _, msg := range c.checkCommands(cmd.Target) {
				problems = append(problems, Problem{File: f, Line: cmd.Line, Msg: msg})
			}
		}
		for _, b := range d.Blocks {
			for _, msg := range c.checkBlock(f, b) {
				problems = append(problems, Problem{File: f, Line: b.Line, Msg: msg})
			}
		}
	}
	return problems
}

// MarkdownFiles lists README.md and docs/*.md under root.
func MarkdownFiles(root string) ([]string, error) {
	files := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		files = append(files, "docs/"+filepath.Base(d))
	}
	sort.Strings(files[1:])
	return files, nil
}

type checker struct {
	root string
	docs map[string]Doc

	funcs   map[string][]goFunc // by name, from every _test.go file
	targets map[string]bool     // the Makefile's
	ciMake  map[string]bool     // make targets .ci/run runs
	// testsAll: the Makefile's test target runs go test ./...
	testsAll bool
}

type goFunc struct {
	dir  string // slash-separated, relative to root
	body string
}

func (c *checker) checkLink(from, target string) string {
	if target == "" || schemeRE.MatchString(target) || strings.HasPrefix(target, "//") {
		return ""
	}
	path, anchor, _ := strings.Cut(target, "#")
	resolved := from
	if path != "" {
		p := filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(filepath.FromSlash(from)), filepath.FromSlash(path))))
		if p == ".." || strings.HasPrefix(p, "../") || filepath.IsAbs(path) {
			return fmt.Sprintf("link %q leaves the repository", target)
		}
		info, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Sprintf("link %q: %s does not exist", target, p)
		}
		if c.ignored(p) {
			return fmt.Sprintf("link %q: %s is ignored by git, so a clone does not have it", target, p)
		}
		if anchor != "" && info.IsDir() {
			return fmt.Sprintf("link %q: an anchor into a folder", target)
		}
		resolved = p
	}
	if anchor == "" {
		return ""
	}
	if strings.HasSuffix(resolved, ".md") {
		d, ok := c.docs[resolved]
		if !ok {
			b, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(resolved)))
			if err != nil {
				return fmt.Sprintf("link %q: %v", target, err)
			}
			d = Parse(b)
			c.docs[resolved] = d
		}
		if !d.Anchors[anchor] {
			return fmt.Sprintf("link %q: %s has no heading with the anchor #%s%s", target, resolved, anchor, suggest(anchor, d.Anchors))
		}
		return ""
	}
	if m := lineAnchorRE.FindStringSubmatch(anchor); m != nil {
		b, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(resolved)))
		if err != nil {
			return fmt.Sprintf("link %q: %v", target, err)
		}
		n := bytes.Count(b, []byte("\n")) + 1
		for _, s := range m[1:] {
			if s == "" {
				continue
			}
			if l, _ := strconv.Atoi(s); l < 1 || l > n {
				return fmt.Sprintf("link %q: %s has %d lines", target, resolved, n)
			}
		}
		return ""
	}
	return fmt.Sprintf("link %q: an anchor other than #L<line> into a file that is not Markdown", target)
}

// suggest names the closest anchors, to make a renamed heading easy to fix.
func suggest(anchor string, anchors map[string]bool) string {
	var close []string
	for a := range anchors {
		if strings.Contains(a, anchor) || strings.Contains(anchor, a) || sharedPrefix(a, anchor) >= 6 {
			close = append(close, "#"+a)
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	if len(close) > 3 {
		close = close[:3]
	}
	return " (did you mean " + strings.Join(close, ", ") + "?)"
}

func sharedPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// ignored reports whether git ignores path; false when git cannot tell.
func (c *checker) ignored(path string) bool {
	cmd := exec.Command("git", "check-ignore", "-q", "--", path)
	cmd.Dir = c.root
	return cmd.Run() == nil
}

func (c *checker) checkBlock(file string, b Block) []string {
	var msgs []string
	if shells[b.Lang] {
		msgs = append(msgs, c.checkCommands(b.Text)...)
	}
	if !runnable[b.Lang] {
		return msgs
	}
	kind, value, _ := strings.Cut(b.Tag, ": ")
	switch kind {
	case "":
		return append(msgs, fmt.Sprintf("```%s block has no tag: put <!-- run: <test name or ci> --> or <!-- norun: <why it cannot run here> --> on the line before it", b.Lang))
	case "norun":
		if strings.TrimSpace(value) == "" {
			msgs = append(msgs, "norun tag without a reason")
		}
		return msgs
	}
	names := strings.Split(value, ",")
	for _, name := range names {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			msgs = append(msgs, "run tag names nothing")
		case name == "ci":
			msgs = append(msgs, c.checkCI(b)...)
		default:
			msgs = append(msgs, c.checkRunBy(file, b, name, len(names) == 1)...)
		}
	}
	return msgs
}

// checkRunBy checks that the test or example name runs block b of file.
func (c *checker) checkRunBy(file string, b Block, name string, only bool) []string {
	c.loadFuncs()
	dir, fn := "", name
	if i := strings.LastIndex(name, "."); i >= 0 {
		dir, fn = name[:i], name[i+1:]
	}
	var found []goFunc
	for _, f := range c.funcs[fn] {
		if dir == "" || f.dir == dir {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return []string{fmt.Sprintf("run tag names %s, but no _test.go file in the module defines func %s", name, fn)}
	case 1:
	default:
		var dirs []string
		for _, f := range found {
			dirs = append(dirs, f.dir+"."+fn)
		}
		return []string{fmt.Sprintf("run tag names %s, which several packages define: qualify it as one of %s", name, strings.Join(dirs, ", "))}
	}
	f := found[0]
	if b.Lang == "go" && only {
		if !strings.Contains("\n"+f.body+"\n", "\n"+b.Text+"\n") {
			return []string{fmt.Sprintf("```go block is not the body of %s.%s (without its // Output:), nor a run of whole lines of it; the body is:\n%s", f.dir, fn, f.body)}
		}
		return nil
	}
	base := filepath.Base(file)
	if !c.dirMentions(f.dir, base) {
		return []string{fmt.Sprintf("run tag names %s, but no _test.go file in %s reads %s", name, f.dir, base)}
	}
	return nil
}

func (c *checker) dirMentions(dir, name string) bool {
	ents, err := os.ReadDir(filepath.Join(c.root, filepath.FromSlash(dir)))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(dir), e.Name()))
		if err == nil && bytes.Contains(b, []byte(`"`+name+`"`)) {
			return true
		}
	}
	return false
}

// checkCI checks that .ci/run runs block b: one of its make targets, or,
// for a block of go test commands, make test with its go test ./....
func (c *checker) checkCI(b Block) []string {
	c.loadMake()
	for _, t := range makeTargets(b.Text) {
		if c.ciMake[t] {
			return nil
		}
	}
	if c.ciMake["test"] && c.testsAll && onlyGoTest(b.Text) {
		return nil
	}
	var ci []string
	for t := range c.ciMake {
		ci = append(ci, "make "+t)
	}
	sort.Strings(ci)
	return []string{fmt.Sprintf("run tag says ci, but the block names no make target that .ci/run runs (it runs %s)", strings.Join(ci, ", "))}
}

var pathRE = regexp.MustCompile(`(?:^|[\s=(])\./((?:cmd|functions|shared|internal|infra)(?:/[A-Za-z0-9_.-]+)*)`)

// checkCommands checks that the make targets and package paths a shell
// block names exist.
func (c *checker) checkCommands(text string) []string {
	c.loadMake()
	var msgs []string
	for _, t := range makeTargets(text) {
		if c.targets[t] {
			continue
		}
		// `make synth/deploy/diff` names several targets.
		if parts := strings.Split(t, "/"); len(parts) > 1 && allTargets(c.targets, parts) {
			continue
		}
		msgs = append(msgs, fmt.Sprintf("`make %s`: the Makefile has no target %s", t, t))
	}
	for _, m := range pathRE.FindAllStringSubmatch(text, -1) {
		p := strings.TrimSuffix(strings.TrimSuffix(m[1], "/..."), "...")
		if _, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(p))); err != nil {
			msgs = append(msgs, fmt.Sprintf("./%s does not exist", p))
		}
	}
	return msgs
}

// makeTargets lists the targets of the make commands in a shell text: the
// words after "make" in each command (lines joined at a trailing
// backslash, split at ;, &&, || and |, comments, a "$ " prompt and leading
// VAR=value assignments dropped), less flags and assignments.
func makeTargets(text string) []string {
	var out []string
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, cmd := range commandSepRE.Split(line, -1) {
			words := strings.Fields(cmd)
			if len(words) > 0 && words[0] == "$" {
				words = words[1:]
			}
			for len(words) > 0 && strings.Contains(words[0], "=") {
				words = words[1:]
			}
			if len(words) == 0 || words[0] != "make" {
				continue
			}
			for i := 1; i < len(words); i++ {
				w := words[i]
				switch {
				case makeArgFlags[w]:
					i++ // the flag's argument
				case strings.HasPrefix(w, "-") || strings.Contains(w, "=") || strings.ContainsAny(w, `"'$<>`):
				default:
					out = append(out, w)
				}
			}
		}
	}
	return out
}

func allTargets(targets map[string]bool, names []string) bool {
	for _, n := range names {
		if !targets[n] {
			return false
		}
	}
	return true
}

// makeArgFlags are make's flags that take the next word as their argument.
var makeArgFlags = map[string]bool{"-C": true, "-f": true, "-I": true, "-o": true, "-W": true, "--directory": true, "--file": true}

var commandSepRE = regexp.MustCompile(`;|&&|\|\||\||&`)

func (c *checker) loadMake() {
	if c.targets != nil {
		return
	}
	c.targets, c.ciMake = map[string]bool{}, map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(c.root, "Makefile")); err == nil {
		re := regexp.MustCompile(`^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:([^=]|$)`)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				for _, t := range strings.Fields(m[1]) {
					c.targets[t] = true
				}
			}
		}
	}
	c.testsAll = testRecipeRE.Match(makeRecipe(c.root, "test"))
	if b, err := os.ReadFile(filepath.Join(c.root, ".ci", "run")); err == nil {
		for _, t := range makeTargets(string(b)) {
			c.ciMake[t] = true
		}
	}
}

var testRecipeRE = regexp.MustCompile(`(?m)^\t.*\bgo test\b.*\s\./\.\.\.(\s|$)`)

// makeRecipe is the recipe of target in root's Makefile.
func makeRecipe(root, target string) []byte {
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return nil
	}
	var out []byte
	in := false
	for _, line := range bytes.Split(b, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("\t")):
			if in {
				out = append(append(out, line...), '\n')
			}
		case len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(line, []byte("#")):
		default:
			name, _, ok := bytes.Cut(line, []byte(":"))
			in = ok && !bytes.Contains(line, []byte(":=")) && containsWord(string(name), target)
		}
	}
	return out
}

func containsWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if f == w {
			return true
		}
	}
	return false
}

// onlyGoTest reports whether every command of a shell text is a go test of
// packages in the module.
func onlyGoTest(text string) bool {
	n := 0
	for _, line := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		if len(words) < 3 || words[0] != "go" || words[1] != "test" || !strings.HasPrefix(words[2], "./") {
			return false
		}
		n++
	}
	return n > 0
}

// loadFuncs indexes the Test and Example functions of every _test.go file.
func (c *checker) loadFuncs() {
	if c.funcs != nil {
		return
	}
	c.funcs = map[string][]goFunc{}
	skip := map[string]bool{".git": true, ".tools": true, "build": true, "cdk.out": true, "node_modules": true, "testdata": true}
	_ = filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != c.root && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(c.root, filepath.Dir(path))
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Body == nil {
				continue
			}
			name := fd.Name.Name
			if !strings.HasPrefix(name, "Test") && !strings.HasPrefix(name, "Example") {
				continue
			}
			c.funcs[name] = append(c.funcs[name], goFunc{dir: filepath.ToSlash(rel), body: funcBody(fset, src, fd)})
		}
		return nil
	})
}

// funcBody is the source between a function's braces, one level of
// indentation removed, without an // Output: comment and what follows it.
func funcBody(fset *token.FileSet, src []byte, fd *ast.FuncDecl) string {
	start := fset.Position(fd.Body.Lbrace).Offset + 1
	end := fset.Position(fd.Body.Rbrace).Offset
	text := string(src[start:end])
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "// Output:" || strings.HasPrefix(t, "// Output: ") || t == "// Unordered output:" || strings.HasPrefix(t, "// Unordered output: ") {
			lines = lines[:i]
			break
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, "\t"), " \t")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}
