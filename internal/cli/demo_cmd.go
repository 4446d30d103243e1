package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/tenantferry/tenantferry/internal/demo"
	"github.com/tenantferry/tenantferry/internal/migration"
)

func (e *env) demoCmd() *cobra.Command {
	var o demo.Options
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a complete cross-tenant mailbox move between two local servers, step by step",
		Long: `Start two tenantferry servers on this machine (source tenant contoso, target
tenant fabrikam), fill source mailboxes with generated mail, and perform every
step of a cross-tenant mailbox migration as Exchange Online does it: app
registration, consent, endpoint, organization relationships, scope group,
MailUser preparation, endpoint test, batch, initial and incremental sync,
completion, and mail to an old address after the cutover. Each step prints its
Exchange equivalent and the tenantferry command that does it.

Afterwards the servers keep running (unless --exit) so the moved mailboxes can
be opened with any IMAP client; Ctrl-C stops them. The data directory must be
new, empty, or a previous demo's (which is replaced).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = e.stdout
			o.Watch = watchUserViews
			_, err := demo.Run(ctx, o)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&o.DataDir, "data", demo.DefaultDataDir, "data directory of the demo's two servers (new, empty, or a previous demo's)")
	f.BoolVar(&o.Exit, "exit", false, "stop after the summary instead of serving")
	f.IntVar(&o.Users, "users", 3, "number of users to move")
	f.IntVar(&o.Items, "items", 1500, "messages per moved mailbox")
	f.IntVar(&o.AttachKB, "attach-kb", 150, "size of the attachments (5% of the messages) in KiB")
	for _, h := range []string{"users", "items", "attach-kb"} {
		f.MarkHidden(h)
	}
	return c
}

// watchUserViews shows the demo's sync progress with the `batch watch`
// display: progress bars on a terminal, indented lines elsewhere.
func watchUserViews(ctx context.Context, w io.Writer, fetch func() ([]*migration.UserView, error)) error {
	if !isTerminal(w) {
		w = &indentWriter{w: w, prefix: "    ", bol: true}
	}
	return WatchUsers(ctx, w, func() ([]userStat, error) {
		vs, err := fetch()
		if err != nil {
			return nil, err
		}
		out := make([]userStat, len(vs))
		for i, v := range vs {
			out[i] = userStat{EmailAddress: v.EmailAddress, Status: v.Status, StatusDetail: v.StatusDetail, PercentComplete: v.PercentComplete,
				ItemsTotal: v.ItemsTotal, ItemsSynced: v.ItemsSynced, BytesTotal: v.BytesTotal, BytesTransferred: v.BytesTransferred,
				CurrentBytesPerSecond: v.CurrentBytesPerSecond, DataConsistencyScore: v.DataConsistencyScore, LockWindow: v.LockWindow}
			if v.Error != nil {
				out[i].Error = &struct{ Code, Message string }{v.Error.Code, v.Error.Message}
			}
		}
		return out, nil
	}, false)
}

// indentWriter prefixes every line written through it.
type indentWriter struct {
	w      io.Writer
	prefix string
	bol    bool // at the beginning of a line
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	var b []byte
	for _, c := range p {
		if iw.bol {
			b = append(b, iw.prefix...)
		}
		b = append(b, c)
		iw.bol = c == '\n'
	}
	if _, err := iw.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}
