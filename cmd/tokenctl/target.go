package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/token-refresher/token-refresher/shared/vendors"
)

// target is one vendor connection: <vendor> (its default connection) or
// <vendor>/<connection>.
type target struct {
	spec vendors.Spec
	// connection is "" for the default connection.
	connection string
}

// String is the target as the operator writes it.
func (t target) String() string {
	if t.connection == "" {
		return t.spec.Name
	}
	return t.spec.Name + "/" + t.connection
}

// connectionName is the connection as status --json and tags name it.
func (t target) connectionName() string {
	if t.connection == "" {
		return vendors.DefaultConnection
	}
	return t.connection
}

// secret is the name of the target's secret of the given role.
func (c *cli) secret(t target, role string) string {
	return vendors.SecretName(c.prefix, t.spec.Name, t.connection, role)
}

// parseTarget reads "<vendor>" or "<vendor>/<connection>". An unknown
// vendor's error suggests the nearest name.
func parseTarget(arg string) (target, error) {
	name, conn, hasConn := strings.Cut(arg, "/")
	spec, err := vendors.Lookup(name)
	if err != nil {
		msg := fmt.Sprintf("unknown vendor %q", name)
		if s := suggest(name, vendorList()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return target{}, usageErr("%s (vendors: %s)", msg, strings.Join(vendorList(), ", "))
	}
	if hasConn {
		if conn == "" {
			return target{}, usageErr("%q: empty connection name after %q", arg, name+"/")
		}
		if err := vendors.CheckConnection(conn); err != nil {
			return target{}, usageErr("%q: connection name %q is not [a-z0-9][a-z0-9-]{0,31}", arg, conn)
		}
		if conn == vendors.DefaultConnection {
			conn = ""
		}
	}
	return target{spec: spec, connection: conn}, nil
}

// oneTarget is the Args check of a command that takes exactly one target.
func oneTarget(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErr("%s: want one target, <vendor> or <vendor>/<connection> (vendors: %s), got %d arguments",
			cmd.CommandPath(), strings.Join(vendorList(), ", "), len(args))
	}
	return nil
}

func vendorList() []string {
	var names []string
	for _, s := range vendors.All() {
		names = append(names, s.Name)
	}
	return names
}

// completeVendors completes the first argument with the vendor names.
func completeVendors(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return completeVendorList(toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeManyVendors completes every argument with the vendor names not
// given yet.
func completeManyVendors(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	given := map[string]bool{}
	for _, a := range args {
		given[a] = true
	}
	var out []cobra.Completion
	for _, v := range completeVendorList(toComplete) {
		if !given[v] {
			out = append(out, v)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func completeVendorList(prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, s := range vendors.All() {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, cobra.CompletionWithDesc(s.Name, s.Title))
		}
	}
	return out
}

// suggest returns the candidate within edit distance 2 of s (or having s as
// a prefix), the nearest first; "" when none is close.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(s, c)
		if s != "" && strings.HasPrefix(c, s) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
