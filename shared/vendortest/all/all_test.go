package all_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
	_ "github.com/token-refresher/token-refresher/shared/vendortest/all"
	"github.com/token-refresher/token-refresher/shared/vendortest/all/internal/imports"
)

func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := imports.Source(vendors.All())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(imports.File)
	if err != nil {
		t.Fatalf("%v: run go generate ./shared/vendortest/all", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s does not import the package of every vendor in the table: run go generate ./shared/vendortest/all\n--- want\n%s", imports.File, want)
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
