package testservers

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/token-refresher/token-refresher/internal/testservers/internal/imports"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := imports.Source(vendors.All(), imports.InModule(filepath.Join("..", "..")))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(imports.File)
	if err != nil {
		t.Fatalf("%v: run go generate ./internal/testservers", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not import the test package of every vendor in the table: run go generate ./internal/testservers\n--- want\n%s", imports.File, want)
	}
}

func TestEveryVendorHasATestServer(t *testing.T) {
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			srv, err := vendortest.New(spec.Name, vendortest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if srv.Vendor() != spec.Name {
				t.Errorf("test server of %s says it is %s", spec.Name, srv.Vendor())
			}
		})
	}
}
