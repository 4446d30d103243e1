// Package demo runs `tenantferry demo`: on one machine it starts two
// tenantferry servers in-process — a source server hosting the tenant
// contoso and a target server hosting fabrikam — fills source mailboxes
// with realistic generated mail, and performs every step of docs/architecture.md §1 (the
// Exchange Online cross-tenant mailbox migration flow) through the admin
// core, printing for each step its Exchange equivalent, the equivalent
// tenantferry CLI line and the result. It ends with a summary (items,
// bytes, throughput, lock windows, consistency scores) and, unless told to
// exit, keeps both servers serving so the moved mailboxes can be opened
// with any IMAP client.
//
// Invariants:
//   - The demo writes only below its data directory, and only into a
//     directory that is missing, empty, or a previous demo's (marked by
//     MarkerFile); a previous demo's content is replaced, anything else is
//     refused with DataDirNotEmpty. A lock keeps two demos off one directory.
//   - Everything is real: SQLite and blob files on disk, loopback
//     listeners, the replication API over HTTP between the servers, SMTP
//     between them for forwarded mail, IMAP for the users' view. Nothing is
//     simulated or skipped.
//   - Every failure is returned as a coded error (errs.Error) naming the
//     step it happened in; both servers are shut down before Run returns,
//     whatever happened, so no listener or goroutine outlives it.
package demo

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// DefaultDataDir is where the demo keeps its servers' data.
const DefaultDataDir = "./tenantferry-demo"

// WatchFunc shows the live progress of a batch's users until none is busy
// (the CLI passes its `batch watch` progress bars). fetch returns the
// current users.
type WatchFunc func(ctx context.Context, w io.Writer, fetch func() ([]*migration.UserView, error)) error

// Options configure a demo run.
type Options struct {
	// DataDir holds both servers' data (default DefaultDataDir).
	DataDir string
	// Exit stops after the summary instead of serving until ctx ends.
	Exit bool
	// Users is the number of moved users (default 3); one more user stays
	// on the source.
	Users int
	// Items is the number of messages of each moved primary mailbox
	// (default 1500); the first user's archive gets a fifth as many.
	Items int
	// AttachKB is the size of the attachments of 5% of the messages
	// (default 150).
	AttachKB int
	// Out receives the narration (default os.Stdout).
	Out io.Writer
	// Watch shows progress while syncing; nil prints a line per change.
	Watch WatchFunc
}

// Result is what a demo run achieved, for callers and tests.
type Result struct {
	// Users are the moved users' final statistics.
	Users []*migration.UserView
	// InitialSync is the wall time from batch creation until every user
	// was Synced; InitialItems and InitialBytes what it copied.
	InitialSync                time.Duration
	InitialItems, InitialBytes int64
	// PostCutover is where the message sent to an old source address
	// after the cutover landed (nil if it did not arrive).
	PostCutover *Arrival
	// Groupware is what the moved calendars, task lists and address books
	// hold on the target, compared with the source (nil if not checked).
	Groupware *GroupwareResult
	// Duration is the demo's total run time until the summary.
	Duration time.Duration
	// Servers are the two servers' endpoints (closed once Run returned).
	Servers []ServerInfo
}

// ServerInfo is where one demo server listens.
type ServerInfo struct {
	Role, Tenant, DataDir        string
	HTTP, IMAP, SMTP, Submission string
}

// Arrival describes a message found in a target mailbox over IMAP.
type Arrival struct {
	SentTo   string // the old source address it was sent to
	Mailbox  string // the target mailbox (its primary SMTP address)
	Folder   string
	UID      uint32
	Subject  string
	Received []string // Received header fields, newest first
	After    time.Duration
	// ArchiveMessages is what the user's moved archive holds over IMAP
	// (under imapd.ArchiveRoot), read in the same session.
	ArchiveMessages int64
}

// run is the state of one demo run.
type run struct {
	o     Options
	p     *printer
	dd    *dataDir
	log   *slog.Logger
	start time.Time

	src, tgt *node
	users    []*user // moved users, then the one that stays
	res      Result

	// docs/architecture.md §1 objects, in the order the steps create them.
	appID, issuer, secret string
	secretFile, csvFile   string
	csv                   []byte
	endpoint, scope       string
	batch                 string
	initialStart          time.Time
}

func (o *Options) defaults() {
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.Users <= 0 {
		o.Users = 3
	}
	if o.Items <= 0 {
		o.Items = 1500
	}
	if o.AttachKB <= 0 {
		o.AttachKB = 150
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
}

// Run runs the demo. With Options.Exit it returns after the summary;
// otherwise it keeps serving until ctx is cancelled (Ctrl-C), then shuts
// both servers down gracefully and returns nil.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	if o.Users > 50 || o.Items > 100000 {
		return nil, errs.Invalidf("InvalidArgument", "the demo takes at most 50 users and 100000 items per mailbox (got %d users, %d items)", o.Users, o.Items)
	}
	dd, err := openDataDir(o.DataDir)
	if err != nil {
		return nil, err
	}
	defer dd.release()
	logf, err := os.OpenFile(dd.sub(LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, wrapStep(err, "open the log file")
	}
	defer logf.Close()
	d := &run{o: o, p: newPrinter(o.Out), dd: dd, log: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo})),
		start: time.Now(), endpoint: "contoso-ep", scope: "MigrationScope", batch: "wave1"}
	defer d.shutdown()
	for _, s := range d.steps() {
		if err := ctx.Err(); err != nil {
			return nil, wrapStep(err, s.name)
		}
		if err := s.run(ctx); err != nil {
			return nil, wrapStep(err, s.name)
		}
	}
	d.res.Duration = time.Since(d.start)
	d.summary()
	if o.Exit {
		return &d.res, nil
	}
	d.connectInfo()
	<-ctx.Done()
	d.p.line("\nStopping the servers…")
	return &d.res, nil
}

// step is one named phase of the demo.
type step struct {
	name string
	run  func(context.Context) error
}

// steps lists the demo's phases: setup, then docs/architecture.md §1 steps 1–14.
func (d *run) steps() []step {
	return []step{
		{"setup: start the servers", d.setupServers},
		{"setup: create the tenants", d.setupTenants},
		{"setup: create and fill the source mailboxes", d.setupMailboxes},
		{"step 1 (app registration)", d.step1App},
		{"step 2 (consent)", d.step2Consent},
		{"step 3 (migration endpoint)", d.step3Endpoint},
		{"step 4 (target organization relationship)", d.step4TargetOrgRel},
		{"step 5 (migration scope group)", d.step5Scope},
		{"step 6 (source organization relationship)", d.step6SourceOrgRel},
		{"step 7 (mailbox identity)", d.step7MailboxShow},
		{"step 8 (mailuser prepare)", d.step8Prepare},
		{"step 9 (endpoint test)", d.step9Test},
		{"step 10 (batch create)", d.step10Batch},
		{"step 11 (initial sync)", d.step11Watch},
		{"step 11 (incremental sync)", d.step11Incremental},
		{"step 12 (batch complete)", d.step12Complete},
		{"step 13 (batch remove)", d.step13Remove},
		{"step 14 (mail after the cutover)", d.step14After},
	}
}

// shutdown stops both servers (target first: it pulls from the source).
func (d *run) shutdown() {
	d.tgt.stop()
	d.src.stop()
}
