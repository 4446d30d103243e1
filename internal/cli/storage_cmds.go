package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tenantferry/tenantferry/internal/apitypes"
)

func (e *env) storageCmd() *cobra.Command {
	var noCompact bool
	var grace, readerGrace string
	gc := e.apiCmd("gc", "Reclaim space now: retired mailboxes and tombstones past retention, unreferenced blobs, compaction, orphans", cobra.NoArgs, false, view{},
		func(ctx context.Context, c *client, _ string, _ []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, "/api/v1/storage/gc", apitypes.StorageGC{NoCompact: noCompact, Grace: grace, ReaderGrace: readerGrace})
		})
	gc.Flags().BoolVar(&noCompact, "no-compact", false, "do not compact pack files or objects")
	gc.Flags().StringVar(&grace, "grace", "", "collect unreferenced blobs and compact containers this old (e.g. 0s for mail deleted just now; default 1h)")
	gc.Flags().StringVar(&readerGrace, "reader-grace", "", "delete retired pack files/objects once retired this long (e.g. 0s; default 15m)")
	return group("storage", "Show and reclaim the space message bytes use (operator)",
		e.apiCmd("stats", "Show blob storage: backend, blobs, files/objects and their bytes, reclaimable bytes", cobra.NoArgs, false, view{},
			get(func(string, []string) string { return "/api/v1/storage/stats" })),
		gc,
	)
}
