package vendorcheck

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/token-refresher/token-refresher/internal/testservers"
	"github.com/token-refresher/token-refresher/shared/clientcreds"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

const (
	module         = "github.com/token-refresher/token-refresher"
	refreshtestPkg = module + "/shared/refresh/refreshtest"
	// rowsConformance is the test of package clientcreds that runs the
	// conformance suite for every vendor declared by a row.
	rowsConformance = "TestRowsConformance"
	howTo           = " (see docs/adding-a-vendor.md)"
	// maxMainLines bounds a function's main.go: everything else belongs in
	// the vendor's package.
	maxMainLines = 20
)

// noConformance are vendors whose client the conformance suite cannot
// drive, with the reason: the suite hands a client the credentials and the
// endpoint only.
var noConformance = map[string]string{
	vendors.Admitad: "an authorization-code client reads and rotates its refresh-token secret, which the suite does not provide",
}

// root is the module root: this package is internal/vendorcheck.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", dir, err)
	}
	return dir
}

func TestEveryVendorIsARowAPackageAndAMain(t *testing.T) {
	dir := root(t)
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			checkMain(t, dir, spec.Name, spec.FunctionName())
			if cb := spec.CallbackFunctionName(); cb != "" {
				checkMain(t, dir, spec.Name, cb)
			}
			checkTestServer(t, spec)
			if spec.ClientCredentials != nil {
				checkRow(t, dir, spec)
				return
			}
			checkConformance(t, dir, spec.Name)
		})
	}
}

// checkMain fails unless functions/<folder>/main.go is a short package main.
func checkMain(t *testing.T, dir, vendor, folder string) {
	t.Helper()
	rel := "functions/" + folder + "/main.go"
	src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Errorf("vendor %s has no function: %s is missing; add it%s", vendor, rel, howTo)
		return
	}
	f, err := parser.ParseFile(token.NewFileSet(), rel, src, parser.PackageClauseOnly)
	if err != nil || f.Name.Name != "main" {
		t.Errorf("vendor %s: %s is not a package main (%v)", vendor, rel, err)
	}
	if n := bytes.Count(src, []byte("\n")); n > maxMainLines && folder == vendor {
		t.Errorf("vendor %s: %s has %d lines, more than %d: move the logic into shared/%s%s", vendor, rel, n, maxMainLines, vendor, howTo)
	}
}

// checkTestServer fails unless the registry starts a test server for the
// vendor that accepts what Credentials returns.
func checkTestServer(t *testing.T, spec vendors.Spec) {
	t.Helper()
	srv, err := vendortest.New(spec.Name, vendortest.Options{})
	if err != nil {
		t.Error(err)
		return
	}
	defer srv.Close()
	if srv.Vendor() != spec.Name {
		t.Errorf("vendor %s: its registered test server says it is %q", spec.Name, srv.Vendor())
	}
	if !strings.HasPrefix(srv.TokenURL(), "http://127.0.0.1:") {
		t.Errorf("vendor %s: test server token URL %s is not on 127.0.0.1", spec.Name, srv.TokenURL())
	}
	creds := vendortest.Credentials(spec.Name)
	for _, f := range spec.CredentialFields {
		if creds[f] == "" {
			t.Errorf("vendor %s: the sandbox credentials it registered lack %s, a credentials field of its row%s", spec.Name, f, howTo)
		}
	}
	known := append(slices.Clone(spec.CredentialFields), spec.OptionalFields...)
	for f := range creds {
		if !slices.Contains(known, f) {
			t.Errorf("vendor %s: the sandbox credentials have %s, which its row does not list", spec.Name, f)
		}
	}
}

// checkRow fails unless a vendor declared by a row is one package
// clientcreds can call, and that package's conformance test runs every row.
// A row vendor may keep a test package of its own
// (shared/<vendor>/<vendor>test); then a test there runs the suite too.
func checkRow(t *testing.T, dir string, spec vendors.Spec) {
	t.Helper()
	if err := clientcreds.Check(spec); err != nil {
		t.Errorf("vendor %s: its row cannot be called: %v%s", spec.Name, err, howTo)
	}
	calls, err := conformanceCalls(filepath.Join(dir, "shared", "clientcreds"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(calls, "clientcreds_test.go:"+rowsConformance) {
		t.Errorf("no test of shared/clientcreds runs the conformance suite for every row (%s)", rowsConformance)
	}
	own := filepath.Join(dir, "shared", spec.Name, spec.Name+"test")
	if _, err := os.Stat(own); err == nil {
		if calls, err := conformanceCalls(own); err != nil || len(calls) == 0 {
			t.Errorf("vendor %s has a test server of its own in shared/%s/%stest but no test there calls refreshtest.Conformance%s", spec.Name, spec.Name, spec.Name, howTo)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "shared", spec.Name, spec.Name+".go")); err == nil {
		t.Errorf("vendor %s is declared by a row (ClientCredentials) and has a package too: shared/%s/%s.go; keep one", spec.Name, spec.Name, spec.Name)
	}
}

// checkConformance fails unless a test of shared/<vendor> calls
// refreshtest.Conformance. The call itself runs with that package's tests.
func checkConformance(t *testing.T, dir, vendor string) {
	t.Helper()
	pkg := filepath.Join(dir, "shared", vendor)
	if _, err := os.Stat(pkg); err != nil {
		t.Errorf("vendor %s has no package: shared/%s is missing; it holds the vendor's protocol (or declare the vendor by its row alone: ClientCredentials)%s", vendor, vendor, howTo)
		return
	}
	calls, err := conformanceCalls(pkg)
	if err != nil {
		t.Fatal(err)
	}
	reason, exempt := noConformance[vendor]
	switch {
	case exempt && len(calls) > 0:
		t.Errorf("vendor %s now runs the conformance suite (%s): remove it from noConformance", vendor, strings.Join(calls, ", "))
	case exempt:
		t.Logf("vendor %s does not run the conformance suite: %s", vendor, reason)
	case len(calls) == 0:
		t.Errorf("vendor %s does not pass the conformance suite: no test in shared/%s calls refreshtest.Conformance; add one%s", vendor, vendor, howTo)
	}
}

// conformanceCalls lists the tests (file:Func) in dir whose body calls
// refreshtest.Conformance.
func conformanceCalls(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, file := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		name := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == refreshtestPkg {
				name = "refreshtest"
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			continue
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Conformance" {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
						out = append(out, filepath.Base(file)+":"+fn.Name.Name)
					}
				}
				return true
			})
		}
	}
	return out, nil
}

func TestNoStrayPieces(t *testing.T) {
	dir := root(t)
	folders := map[string]bool{}
	for _, spec := range vendors.All() {
		folders[spec.FunctionName()] = true
		if cb := spec.CallbackFunctionName(); cb != "" {
			folders[cb] = true
		}
	}
	mains, err := filepath.Glob(filepath.Join(dir, "functions", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mains {
		if folder := filepath.Base(filepath.Dir(m)); !folders[folder] {
			t.Errorf("functions/%s has a main.go but no row in the vendor table (shared/vendors): the stack would not deploy it", folder)
		}
	}
	for _, name := range vendortest.Registered() {
		if _, err := vendors.Lookup(name); err != nil {
			t.Errorf("a test server is registered for %q, which has no row in the vendor table", name)
		}
	}
}

// Test servers and net/http/httptest stay out of the Lambda bootstraps,
// which are built with -tags lambda.norpc: a vendor package's test server
// file starts with //go:build !lambda.norpc.
func TestTestServersStayOutOfLambdaBuilds(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./functions/...")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	banned := []string{"net/http/httptest", module + "/shared/vendortest"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		for _, dep := range fields[1:] {
			for _, b := range banned {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s built for Lambda (-tags lambda.norpc) imports %s: put the vendor's test server in a file that starts with //go:build !lambda.norpc%s", strings.TrimPrefix(fields[0], module+"/"), dep, howTo)
				}
			}
		}
	}
}
