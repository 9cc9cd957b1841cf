package main

import (
	"encoding/json"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildVersion is what tokenctl --version and tokenctl version report.
type buildVersion struct {
	// Module is the main module's version: a tag (v1.2.3), a pseudo-version,
	// or "(devel)" for a build from a work tree.
	Module   string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"revision_time,omitempty"`
	// Modified: the work tree had uncommitted changes.
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version,omitempty"`
}

// readVersion reads the build's module version and VCS stamp. The stamp is
// there when the binary was built in a git work tree with VCS stamping on
// (go build's default; GOFLAGS=-buildvcs=false turns it off).
func readVersion(info *debug.BuildInfo, ok bool) buildVersion {
	if !ok || info == nil {
		return buildVersion{Module: "unknown"}
	}
	v := buildVersion{Module: info.Main.Version, GoVersion: info.GoVersion}
	if v.Module == "" {
		v.Module = "(devel)"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one line tokenctl --version prints after "tokenctl".
func (v buildVersion) String() string {
	var b strings.Builder
	b.WriteString(v.Module)
	if v.Revision != "" {
		b.WriteString(" (revision " + v.Revision)
		if v.Time != "" {
			b.WriteString(", " + v.Time)
		}
		if v.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	} else {
		b.WriteString(" (no VCS revision stamped)")
	}
	if v.GoVersion != "" {
		b.WriteString(" " + v.GoVersion)
	}
	return b.String()
}

func currentVersion() buildVersion { return readVersion(debug.ReadBuildInfo()) }

func versionLine() string { return currentVersion().String() }

func (c *cli) versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print tokenctl's module version and VCS revision",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := currentVersion()
			if asJSON {
				b, _ := json.Marshal(v)
				printf(c.stdout, "%s\n", b)
				return nil
			}
			printf(c.stdout, "tokenctl %s\n", v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as JSON")
	return cmd
}
