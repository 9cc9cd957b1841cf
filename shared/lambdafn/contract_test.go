package lambdafn

import (
	"testing"

	"github.com/token-refresher/token-refresher/shared/refresh/refreshtest"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// The refresher reads exactly the environment the stack sets (package
// vendors); infra/tokenrefresher's tests check the stack's side.
func TestRefresherReadsTheContract(t *testing.T) {
	for _, spec := range vendors.All() {
		t.Run(spec.Name, func(t *testing.T) {
			refreshtest.EnvContract(t, spec, vendors.RefresherEnv(spec), func(getenv func(string) string) error {
				_, err := LoadConfig(spec, getenv)
				return err
			})
		})
	}
}
