package tokenrefresher

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"
)

// ModulePath is the Go module whose functions/ the construct builds.
const ModulePath = "github.com/token-refresher/token-refresher"

// GoBuildFlags are the flags of every function build, as `make build` has
// them: no RPC mode of aws-lambda-go (provided.al2023 needs none), paths
// trimmed so that the binary, and with it the asset hash, is the same on
// every machine, and no symbol table.
var GoBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// functionCode is the code of the function in functions/<folder>: the
// prebuilt <assetDir>/<folder>/bootstrap when assetDir is set, else a
// build from source at synth time (CDK local bundling: `go build` for
// linux/arm64 in sourceDir, no Docker).
//
// It panics when a prebuilt bootstrap is missing or is not a linux/arm64
// ELF executable, and when the source is not found.
func functionCode(assetDir, sourceDir, folder string) awslambda.Code {
	if assetDir != "" {
		dir := filepath.Join(assetDir, folder)
		if err := checkBootstrap(filepath.Join(dir, "bootstrap")); err != nil {
			panic(fmt.Sprintf("tokenrefresher: function %s: %v", folder, err))
		}
		return awslambda.Code_FromAsset(jsii.String(dir), nil)
	}
	module, err := moduleDir(sourceDir)
	if err != nil {
		panic(fmt.Sprintf("tokenrefresher: function %s: %v", folder, err))
	}
	src := filepath.Join(module, "functions", folder)
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		panic(fmt.Sprintf("tokenrefresher: function %s: no source in %s: %v", folder, src, err))
	}
	return awslambda.Code_FromAsset(jsii.String(src), &awss3assets.AssetOptions{
		// The asset is what the build produced: a -trimpath build is the
		// same bytes for the same source and toolchain, so the hash is
		// stable, and a change anywhere in the module that reaches the
		// function changes it.
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Never pulled: the local bundler always builds, and CDK
			// falls back to the image only when it declines.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang:" + strings.TrimPrefix(runtime.Version(), "go"))),
			Local: &goBundler{module: module, pkg: "./functions/" + folder},
		},
	})
}

// goBundler builds one function's bootstrap with the local Go toolchain
// (awscdk.ILocalBundling).
type goBundler struct {
	module string // the module's root folder
	pkg    string // ./functions/<folder>
}

var _ awscdk.ILocalBundling = (*goBundler)(nil)

// buildMu serializes the builds: each uses every core already.
var buildMu sync.Mutex

// bundleLog receives the output of a failed build.
var bundleLog io.Writer = os.Stderr

// TryBundle builds the bootstrap into outputDir. A failed build writes the
// compiler's output to stderr and leaves outputDir empty, so that CDK
// stops the synth ("Bundling did not produce any output") instead of
// falling back to Docker; a panic here would not cross back into CDK's
// JavaScript cleanly.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	buildMu.Lock()
	defer buildMu.Unlock()
	out := filepath.Join(*outputDir, "bootstrap")
	args := append(append([]string{"build"}, GoBuildFlags...), "-o", out, b.pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = b.module
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err := cmd.Run()
	if err == nil {
		err = checkBootstrap(out)
	}
	if err != nil {
		os.Remove(out)
		fmt.Fprintf(bundleLog, "tokenrefresher: build %s for linux/arm64 in %s: %v\n%s", b.pkg, b.module, err, output.String())
	}
	return jsii.Bool(true)
}

// checkBootstrap returns an error unless path is a 64-bit little-endian
// ELF executable for arm64 (EM_AARCH64), which is what the functions'
// runtime (provided.al2023 on arm64) runs.
func checkBootstrap(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s not found (run `make build`, pass another asset folder, or leave AssetDir empty to build from source): %w", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.IsDir() {
		return fmt.Errorf("%s is not a file (run `make build`)", path)
	}
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || !bytes.Equal(h[:4], []byte(elf.ELFMAG)) {
		return fmt.Errorf("%s is not an ELF executable (a script or an empty file?); the function runs provided.al2023 on arm64: "+
			"build it with `make build` (GOOS=linux GOARCH=arm64)", path)
	}
	class, data := elf.Class(h[elf.EI_CLASS]), elf.Data(h[elf.EI_DATA])
	var machine elf.Machine
	if data == elf.ELFDATA2LSB {
		machine = elf.Machine(binary.LittleEndian.Uint16(h[18:20]))
	} else {
		machine = elf.Machine(binary.BigEndian.Uint16(h[18:20]))
	}
	if class != elf.ELFCLASS64 || data != elf.ELFDATA2LSB || machine != elf.EM_AARCH64 {
		return fmt.Errorf("%s is an ELF for %s (%s, %s), not linux/arm64 (EM_AARCH64): build it with GOOS=linux GOARCH=arm64 (`make build`)",
			path, machine, class, data)
	}
	return nil
}

// moduleDir finds the root folder of this module: dir when given, else
// the folder this package was compiled from (a build without -trimpath),
// else what `go list -m` says in the current folder (the app's module,
// which requires or replaces this one).
func moduleDir(dir string) (string, error) {
	check := func(d string) error {
		raw, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err != nil {
			return err
		}
		if !bytes.Contains(raw, []byte("module "+ModulePath+"\n")) {
			return fmt.Errorf("%s/go.mod is not module %s", d, ModulePath)
		}
		return nil
	}
	if dir != "" {
		if err := check(dir); err != nil {
			return "", fmt.Errorf("SourceDir: %w", err)
		}
		return dir, nil
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if check(d) == nil {
			return d, nil
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", ModulePath).Output()
	if err != nil {
		return "", fmt.Errorf("find the source of %s (go list -m): %v; set SourceDir, or pass AssetDir with prebuilt functions", ModulePath, err)
	}
	d := strings.TrimSpace(string(out))
	if err := check(d); err != nil {
		return "", err
	}
	return d, nil
}
