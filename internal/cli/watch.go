package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/tenantferry/tenantferry/internal/units"
)

// printf writes formatted output to stdout.
func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.stdout, format, args...) }

// userStat is the part of a batch user the watch needs.
type userStat struct {
	EmailAddress                     string
	Status, StatusDetail             string
	PercentComplete                  int
	ItemsTotal, ItemsSynced          int64
	BytesTotal, BytesTransferred     int64
	CurrentBytesPerSecond            float64
	DataConsistencyScore, LockWindow string
	Error                            *struct{ Code, Message string }
}

// busy reports whether a user is still changing on its own.
func busy(u userStat) bool {
	if u.Status == "Synced" && (u.StatusDetail == "SyncQueued" || u.StatusDetail == "CompletionQueued") {
		return true
	}
	switch u.Status {
	case "Queued", "Validating", "Syncing", "IncrementalSyncing", "Completing", "Stopping", "Removing":
		return true
	}
	return false
}

func (e *env) watchCmd() *cobra.Command {
	var once bool
	c := &cobra.Command{
		Use:   "watch N",
		Short: "Show live progress bars of a batch's users until none is busy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			tp, err := e.tenantPath(ctx, cl)
			if err != nil {
				return err
			}
			get := func() ([]byte, error) { return cl.all(ctx, tp+"/batches/"+esc(a[0])+"/users") }
			if e.output == "json" || e.output == "yaml" {
				return watchJSON(ctx, e.stdout, get, once, e.output == "yaml")
			}
			fetch := func() ([]userStat, error) {
				raw, err := get()
				if err != nil {
					return nil, err
				}
				var us []userStat
				return us, json.Unmarshal(raw, &us)
			}
			return WatchUsers(ctx, e.stdout, fetch, once)
		},
	}
	e.tenantFlag(c)
	c.Flags().BoolVar(&once, "once", false, "print the current state once and exit")
	return c
}

// watchJSON is `batch watch -o json`: one JSON object per line (the user
// as `batch users -o json` shows it) whenever a user changes, until none
// is busy; with asYAML (-o yaml) one YAML document per change instead.
func watchJSON(ctx context.Context, w io.Writer, get func() ([]byte, error), once, asYAML bool) error {
	last := map[string]string{}
	for {
		raw, err := get()
		if err != nil {
			return err
		}
		var users []json.RawMessage
		if err := json.Unmarshal(raw, &users); err != nil {
			return err
		}
		anyBusy := false
		for _, r := range users {
			var u userStat
			if err := json.Unmarshal(r, &u); err != nil {
				return err
			}
			var compact bytes.Buffer
			json.Compact(&compact, r)
			if line := compact.String(); last[u.EmailAddress] != line {
				last[u.EmailAddress] = line
				if !asYAML {
					fmt.Fprintln(w, line)
				} else if _, err := fmt.Fprintln(w, "---"); err != nil || printYAML(w, compact.Bytes()) != nil {
					return fmt.Errorf("watch: write a YAML document")
				}
			}
			anyBusy = anyBusy || busy(u)
		}
		if once || !anyBusy {
			return nil
		}
		if err := units.Sleep(ctx, watchPoll); err != nil {
			return err
		}
	}
}

// isTerminal reports whether w is a terminal (progress bars redraw in
// place only there; elsewhere progress is printed as lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine is one user's line in the non-terminal display; before
// validation has counted the source it says so instead of 0/0 items.
func progressLine(u userStat) string {
	var line string
	if u.ItemsTotal == 0 && (u.Status == "Queued" || u.Status == "Validating") {
		line = fmt.Sprintf("%-40s %-20s       (the item count is known after validation)", u.EmailAddress, u.Status)
	} else {
		line = fmt.Sprintf("%-40s %-20s %3d%%  %s/%s items  %s", u.EmailAddress, u.Status, u.PercentComplete,
			units.Count(u.ItemsSynced), units.Count(u.ItemsTotal), units.Bytes(u.BytesTransferred))
	}
	if u.Error != nil {
		line += "  " + u.Error.Code
	}
	return line
}

// WatchUsers shows progress of a batch's users until none is busy: mpb
// progress bars on a terminal, a line per change otherwise. The demo uses
// it too.
func WatchUsers(ctx context.Context, w io.Writer, fetch func() ([]userStat, error), once bool) error {
	us, err := fetch()
	if err != nil {
		return err
	}
	if once || !isTerminal(w) {
		last := map[string]string{}
		explained := false
		for {
			anyBusy := false
			for _, u := range us {
				line := progressLine(u)
				if last[u.EmailAddress] != line {
					fmt.Fprintln(w, line)
					last[u.EmailAddress] = line
					if u.Status == "Synced" && !explained {
						explained = true
						fmt.Fprintln(w, "  (Synced shows 95%, as in Exchange: the last 5% is the completion)")
					}
				}
				anyBusy = anyBusy || busy(u)
			}
			if once || !anyBusy {
				return nil
			}
			if err := units.Sleep(ctx, watchPoll); err != nil {
				return err
			}
			if us, err = fetch(); err != nil {
				return err
			}
		}
	}
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	bars := map[string]*mpb.Bar{}
	states := map[string]*userStat{}
	for {
		anyBusy := false
		for i := range us {
			u := us[i]
			st := states[u.EmailAddress]
			if st == nil {
				st = &userStat{}
				states[u.EmailAddress] = st
			}
			*st = u
			b := bars[u.EmailAddress]
			if b == nil {
				name := u.EmailAddress
				b = p.AddBar(100,
					mpb.PrependDecorators(decor.Name(name, decor.WC{W: len(name) + 1, C: decor.DindentRight}),
						decor.Any(func(decor.Statistics) string { return fmt.Sprintf("%-20s", st.Status) })),
					mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}),
						decor.Any(func(decor.Statistics) string {
							return fmt.Sprintf("  %d/%d items  %s  %s/s", st.ItemsSynced, st.ItemsTotal, units.Bytes(st.BytesTransferred), units.Bytes(int64(st.CurrentBytesPerSecond)))
						})))
				bars[u.EmailAddress] = b
			}
			b.SetCurrent(int64(u.PercentComplete))
			anyBusy = anyBusy || busy(u)
		}
		if !anyBusy {
			for _, b := range bars {
				b.SetCurrent(100)
			}
			p.Wait()
			return nil
		}
		if err := units.Sleep(ctx, watchPoll); err != nil {
			return err
		}
		if us, err = fetch(); err != nil {
			return err
		}
	}
}
