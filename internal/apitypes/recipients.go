package apitypes

import "time"

// Recipient is the body of mailbox, mailuser and group create (POST) and
// set (PATCH): every optional field is omitted unless given.
type Recipient struct {
	Name                 string   `json:",omitempty"`
	Alias                string   `json:",omitempty"`
	DisplayName          *string  `json:",omitempty"`
	FirstName            *string  `json:",omitempty"`
	LastName             *string  `json:",omitempty"`
	PrimarySmtpAddress   string   `json:",omitempty"`
	Password             *string  `json:",omitempty"`
	Archive              bool     `json:",omitempty"`
	ExchangeGuid         *string  `json:",omitempty"`
	ArchiveGuid          *string  `json:",omitempty"`
	ExternalEmailAddress *string  `json:",omitempty"`
	AddAddresses         []string `json:",omitempty"`
	RemoveAddresses      []string `json:",omitempty"`
	// Type is a group's security | distribution, a mailbox's user
	// (default) | shared.
	Type string `json:",omitempty"`
	// Quota is a mailbox's ProhibitSendReceiveQuota in bytes (0:
	// unlimited).
	Quota *int64 `json:",omitempty"`
}

// RecipientView is the JSON form of a recipient (Get-Mailbox /
// Get-MailUser / Get-DistributionGroup fields).
type RecipientView struct {
	Identity             string
	Id                   string
	RecipientType        string
	RecipientTypeDetails string
	Name                 string
	Alias                string
	DisplayName          string
	FirstName            string
	LastName             string
	PrimarySmtpAddress   string
	UserPrincipalName    string
	ExchangeGuid         string
	ArchiveGuid          string
	LegacyExchangeDN     string
	EmailAddresses       []string
	ExternalEmailAddress string `json:",omitempty"`
	// Quota is a mailbox's ProhibitSendReceiveQuota in bytes (0:
	// unlimited).
	Quota       int64    `json:",omitempty"`
	Members     []string `json:",omitempty"`
	WhenCreated time.Time
	WhenChanged time.Time
}

// GroupMemberAdd is the body of POST .../groups/{id}/members.
type GroupMemberAdd struct {
	Member string
}

// MailboxStats is the reply of GET .../mailboxes/{id}/stats.
type MailboxStats struct {
	ExchangeGuid       string
	Identity           string
	PrimarySmtpAddress string
	// Statistics are the item counts and sizes, in total and per folder.
	Statistics any
}

// PermissionAdd is the body of POST .../mailboxes/{id}/permissions.
type PermissionAdd struct {
	User         string // the user the right is granted to
	AccessRights string // FullAccess | SendAs
}

// PermissionView is a mailbox permission as Get-MailboxPermission prints
// it: the mailbox (Identity), the user it is granted to and the right.
type PermissionView struct {
	Identity     string // the mailbox's primary SMTP address
	User         string // the user's primary SMTP address
	AccessRights string // FullAccess | SendAs
}

// MemberChangeView is the reply of a group membership change: the group
// and the one member added or removed, never the group's other members.
type MemberChangeView struct {
	Group    string // the group's PrimarySmtpAddress
	GroupId  string
	Change   string // Added or Removed
	Member   string // the member's PrimarySmtpAddress
	MemberId string
	// MemberType is the member's RecipientTypeDetails.
	MemberType string
}
