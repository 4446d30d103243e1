package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantferry/tenantferry/internal/buildinfo"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// buildInfo is what `tenantferry version` reports (internal/buildinfo).
type buildInfo = buildinfo.Info

// buildVersion reads the binary's build information.
func buildVersion() buildInfo { return buildinfo.Read() }

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

// healthcheckCmd is `tenantferry healthcheck`: GET /healthz of a server,
// exit 0 when it answers 200 (a container's or a monitor's probe, with no
// curl in the image).
func (e *env) healthcheckCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	c := &cobra.Command{
		Use:     "healthcheck",
		Short:   "Check that a server answers its health endpoint (exit 0 when healthy)",
		Example: "  tenantferry healthcheck --url http://127.0.0.1:8080",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/healthz", nil)
			if err != nil {
				return usageError("--url %q is not a URL: %v", url, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return errs.New(errs.Unavailable, "ServerUnhealthy", "%s does not answer: %v", url, err).WithHint("check that tenantferry serve runs and listens there")
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errs.New(errs.Unavailable, "ServerUnhealthy", "%s/healthz answered %s", url, resp.Status).WithHint("see the server's log")
			}
			fmt.Fprintf(e.stdout, "healthy: %s\n", url)
			return nil
		},
	}
	c.Flags().StringVar(&url, "url", "http://127.0.0.1:8080", "the server's HTTP URL")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return c
}
