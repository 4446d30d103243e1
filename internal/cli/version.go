package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildInfo is what `tenantferry version` reports, read from the Go build
// information embedded in the binary (module version, VCS revision and
// time, Go version); nothing is stamped by hand.
type buildInfo struct {
	// Version is the module version ("(devel)" for a build from a checkout).
	Version string
	// Revision and Time are the VCS commit and its time, when the binary
	// was built from a git checkout; Modified says the tree had changes.
	Revision, Time string
	Modified       bool
	// GoVersion, OS and Arch describe the toolchain and the platform.
	GoVersion, OS, Arch string
}

// buildVersion reads the binary's build information.
func buildVersion() buildInfo {
	b := buildInfo{Version: "(devel)", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := bi.Main.Version; v != "" {
		b.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// versionCmd is `tenantferry version`: the build information, as a table
// or with -o json.
func (e *env) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Show the version and build information of this binary",
		Example: "  tenantferry version\n  tenantferry version -o json\n  tenantferry --version",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			b := buildVersion()
			if e.output == "json" {
				raw, err := json.Marshal(b)
				if err != nil {
					return err
				}
				return e.print(raw, view{})
			}
			rev := b.Revision
			if rev == "" {
				rev = "unknown (not built from a git checkout)"
			} else if b.Modified {
				rev += " (modified)"
			}
			fmt.Fprintf(e.stdout, "tenantferry %s\n  revision  %s\n  built     %s\n  go        %s %s/%s\n", b.Version, rev, orDash(b.Time), b.GoVersion, b.OS, b.Arch)
			return nil
		},
	}
}

// orDash renders an empty string as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
