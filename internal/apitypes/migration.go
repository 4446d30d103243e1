package apitypes

// ContentFilter is what a batch or a move copies: the items' dates and
// folder rules (the fields of BatchCreate and Move).
type ContentFilter struct {
	// Since and Before bound the items' internal dates (RFC 3339 or
	// YYYY-MM-DD, UTC).
	Since, Before string `json:",omitempty"`
	// IncludeFolders and ExcludeFolders are folder rules (path globs or
	// \SpecialUse); MapFolders are "REGEX -> REPLACEMENT" renames.
	IncludeFolders, ExcludeFolders, MapFolders []string `json:",omitempty"`
}

// ItemLimits are the size cap and skipped-item counts of a batch or move.
type ItemLimits struct {
	// MaxItemSize is the size cap in bytes (0: 150 MiB).
	MaxItemSize int64
	// LargeItemLimit and BadItemLimit are counts of skipped items
	// (absent or -1: unlimited).
	LargeItemLimit, BadItemLimit *int64 `json:",omitempty"`
}

// BatchCreate is the body of POST .../batches (New-MigrationBatch).
type BatchCreate struct {
	Name     string
	Endpoint string
	// Csv is the users: EmailAddress (and for an IMAP endpoint UserName,
	// Password).
	Csv                     string
	TargetDeliveryDomain    string
	AutoStart               bool
	AutoComplete            bool
	StartAfter              string // RFC 3339
	CompleteAfter           string // RFC 3339
	IncrementalSyncInterval string // Go duration
	ItemLimits
	NotificationEmails string
	// ReportInterval is a Go duration ("" or "0": no interval reports).
	ReportInterval string
	ContentFilter
	// NotifyUsers mails each user before and after its cutover;
	// PasswordContinuity is none, carry or link.
	NotifyUsers        bool
	PasswordContinuity string
}

// BatchValidation is the reply of POST .../batches/validate (body:
// BatchCreate): the rows of the CSV with their verdicts, in line order;
// nothing is written. Valid is true when every row is OK (a problem of the
// batch as a whole is an error reply instead).
type BatchValidation struct {
	Valid bool
	Rows  []BatchRowCheck
}

// BatchRowCheck is the verdict on one CSV row: Status OK, or Error with the
// coded problem (Code, Message, Hint) batch creation would refuse or the
// move's start would fail with.
type BatchRowCheck struct {
	Line         int
	EmailAddress string
	Status       string
	Code         string `json:",omitempty"`
	Message      string `json:",omitempty"`
	Hint         string `json:",omitempty"`
}

// Verdicts of BatchRowCheck.Status.
const (
	RowOK    = "OK"
	RowError = "Error"
)

// BatchSet is the body of PATCH .../batches/{b} (batch set): times in RFC
// 3339 ("" clears a schedule), intervals as Go durations; absent fields
// keep their values.
type BatchSet struct {
	StartAfter              *string `json:",omitempty"`
	CompleteAfter           *string `json:",omitempty"`
	AutoComplete            *bool   `json:",omitempty"`
	IncrementalSyncInterval *string `json:",omitempty"`
	MaxItemSize             *int64  `json:",omitempty"`
	LargeItemLimit          *int64  `json:",omitempty"`
	BadItemLimit            *int64  `json:",omitempty"`
	NotificationEmails      *string `json:",omitempty"`
	ReportInterval          *string `json:",omitempty"`
}

// BatchAction is the (optional) body of POST .../batches/{b}/{action}.
type BatchAction struct {
	// ApproveSkippedItems completes even if skipped items make the
	// DataConsistencyScore Investigate (complete).
	ApproveSkippedItems bool
	// CompleteAfter schedules the completion instead of completing now
	// (complete; RFC 3339).
	CompleteAfter string
}

// BatchAddUsers is the body of POST .../batches/{b}/users.
type BatchAddUsers struct {
	Csv string
}

// Move is the body of POST .../moves (New-MoveRequest): a one-user batch.
type Move struct {
	EmailAddress, Endpoint, TargetDeliveryDomain string
	// UserName and Password are the source login of an IMAP endpoint.
	UserName, Password         string
	SuspendWhenReadyToComplete bool
	CompleteAfter              string // RFC 3339
	ItemLimits
	NotificationEmails string
	ContentFilter
}

// MigrationUserSet is the body of PATCH .../migration-users/{u}
// (migrationuser set): CompleteAfter in RFC 3339 ("" returns the user to
// its batch's schedule), limits as counts (-1 unlimited, -2 the batch's);
// absent fields keep their values.
type MigrationUserSet struct {
	CompleteAfter  *string `json:",omitempty"`
	LargeItemLimit *int64  `json:",omitempty"`
	BadItemLimit   *int64  `json:",omitempty"`
}

// MigrationUserAction is the (optional) body of POST
// .../migration-users/{u}/{action}.
type MigrationUserAction struct {
	// ApproveSkippedItems: complete even with skipped items.
	ApproveSkippedItems bool
}

// MigrationTemplateSet is the body of PUT .../migration-templates/{kind}:
// a Go text/template subject and body.
type MigrationTemplateSet struct {
	Subject, Body string
}

// MailUsersPrepare is the body of POST .../mailusers/prepare: create or
// update the MailUsers of a batch's CSV from the source's mailboxes.
type MailUsersPrepare struct {
	Endpoint             string
	Csv                  string
	TargetDeliveryDomain string
	DryRun               bool
}
