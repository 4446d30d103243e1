package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Examples sections of the commands that do not set
// their own, by command path (without "tenantferry "). TestExamples runs
// every example line through the command tree: each names an existing
// command, with flags it has and as many arguments as it takes.
var examples = map[string]string{
	"serve": `tenantferry serve --data /var/lib/tenantferry --http :443 --public-url https://mail.example.com
tenantferry serve --db postgres://tf@db/tenantferry --blob-backend s3 --s3-endpoint https://s3.example.com --s3-bucket mail`,
	"demo":                 `tenantferry demo`,
	"bench":                `tenantferry bench --dsync=false --json`,
	"storage stats":        `tenantferry storage stats -o json`,
	"storage gc":           `tenantferry storage gc --reader-grace 0s`,
	"tenant create":        `tenantferry tenant create contoso`,
	"tenant list":          `tenantferry tenant list -o csv`,
	"tenant show":          `tenantferry tenant show contoso`,
	"tenant admin-token":   `tenantferry tenant admin-token contoso -o json`,
	"tenant token list":    `tenantferry tenant token list --tenant contoso`,
	"tenant token create":  "tenantferry tenant token create --tenant contoso --name ci --expires 720h\ntenantferry tenant token create --tenant contoso --name audit --expires 2027-01-01T00:00:00Z -o json",
	"tenant token revoke":  "tenantferry tenant token revoke --tenant contoso 0b5c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d\ntenantferry tenant token revoke --tenant contoso 0b5c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d --yes",
	"token list":           `tenantferry token list -o json`,
	"token create":         "tenantferry token create --name backup-operator\ntenantferry token create --name ci --expires 720h -o json",
	"token revoke":         "tenantferry token revoke 0b5c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d\ntenantferry token revoke 0b5c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d --yes",
	"domain add":           `tenantferry domain add --tenant contoso contoso.com`,
	"domain approve":       `tenantferry domain approve --tenant contoso contoso.com`,
	"domain verify":        `tenantferry domain verify --tenant contoso contoso.com`,
	"domain list":          `tenantferry domain list --tenant contoso`,
	"domain show":          `tenantferry domain show --tenant contoso contoso.com`,
	"domain remove":        `tenantferry domain remove --tenant contoso old.example --yes`,
	"domain dns":           `tenantferry domain dns --tenant contoso contoso.com`,
	"domain check":         `tenantferry domain check --tenant contoso contoso.com`,
	"domain dkim add":      `tenantferry domain dkim add --tenant contoso contoso.com`,
	"domain dkim list":     `tenantferry domain dkim list --tenant contoso contoso.com`,
	"domain dkim rotate":   `tenantferry domain dkim rotate --tenant contoso contoso.com`,
	"mailbox list":         "tenantferry mailbox list --tenant contoso\ntenantferry mailbox list --tenant contoso --limit 100 -o json",
	"mailbox show":         `tenantferry mailbox show --tenant contoso meganb`,
	"mailbox set":          `tenantferry mailbox set --tenant contoso meganb --quota 50GB`,
	"mailbox stats":        `tenantferry mailbox stats --tenant contoso meganb`,
	"mailbox delete":       `tenantferry mailbox delete --tenant contoso meganb`,
	"mailbox import":       `tenantferry mailbox import --tenant contoso meganb --mbox old.mbox --folder Inbox`,
	"mailuser create":      `tenantferry mailuser create --tenant fabrikam --name meganb --alias meganb --primary-smtp meganb@fabrikam.example --external-email meganb@contoso.example`,
	"mailuser prepare":     `tenantferry mailuser prepare --tenant fabrikam --endpoint contoso-ep --csv users.csv --target-delivery-domain fabrikam.example --dry-run`,
	"mailuser set":         `tenantferry mailuser set --tenant fabrikam meganb --exchange-guid 0b6c1f3e-3b1a-4d5e-9c51-2f7b8a9d0e11`,
	"mailuser list":        `tenantferry mailuser list --tenant fabrikam`,
	"mailuser show":        `tenantferry mailuser show --tenant fabrikam meganb`,
	"mailuser delete":      `tenantferry mailuser delete --tenant fabrikam meganb`,
	"group create":         `tenantferry group create --tenant contoso --name MigrationScope --type security`,
	"group add-member":     `tenantferry group add-member --tenant contoso MigrationScope meganb`,
	"group remove-member":  `tenantferry group remove-member --tenant contoso MigrationScope meganb`,
	"group members":        `tenantferry group members --tenant contoso MigrationScope`,
	"group list":           `tenantferry group list --tenant contoso`,
	"group show":           `tenantferry group show --tenant contoso MigrationScope`,
	"group delete":         `tenantferry group delete --tenant contoso MigrationScope`,
	"app create":           `tenantferry app create --tenant fabrikam --name "Mailbox migration" --permission Mailbox.Migration`,
	"app secret add":       `tenantferry app secret add --tenant fabrikam --app APPID -o json`,
	"app consent-url":      `tenantferry app consent-url --tenant fabrikam --app APPID --source-server https://mail.contoso.example --source-tenant contoso.example`,
	"app list":             `tenantferry app list --tenant fabrikam`,
	"app show":             `tenantferry app show --tenant fabrikam APPID`,
	"app delete":           `tenantferry app delete --tenant fabrikam APPID`,
	"consent grant":        `tenantferry consent grant --tenant contoso --app-id APPID --issuer https://mail.fabrikam.example/TENANTID/v2.0`,
	"consent list":         `tenantferry consent list --tenant contoso`,
	"consent revoke":       `tenantferry consent revoke --tenant contoso APPID`,
	"orgrel create":        `tenantferry orgrel create --tenant fabrikam --name contoso --domain-names SOURCE_TENANT_ID --mailbox-move-enabled --mailbox-move-capability Inbound`,
	"orgrel set":           `tenantferry orgrel set --tenant fabrikam contoso --enabled=false`,
	"orgrel list":          `tenantferry orgrel list --tenant fabrikam`,
	"orgrel show":          `tenantferry orgrel show --tenant fabrikam contoso`,
	"orgrel delete":        `tenantferry orgrel delete --tenant fabrikam contoso`,
	"endpoint create":      `tenantferry endpoint create --tenant fabrikam --name contoso-ep --remote-server https://mail.contoso.example --remote-tenant contoso.example --app-id APPID --secret-file app-secret.txt`,
	"endpoint set":         `tenantferry endpoint set --tenant fabrikam contoso-ep --max-concurrent-migrations 20`,
	"endpoint test":        `tenantferry endpoint test --tenant fabrikam contoso-ep --test-mailbox meganb@fabrikam.example`,
	"endpoint list":        `tenantferry endpoint list --tenant fabrikam`,
	"endpoint show":        `tenantferry endpoint show --tenant fabrikam contoso-ep`,
	"endpoint delete":      `tenantferry endpoint delete --tenant fabrikam contoso-ep`,
	"batch add-users":      `tenantferry batch add-users --tenant fabrikam wave1 --csv more.csv`,
	"batch list":           `tenantferry batch list --tenant fabrikam`,
	"batch show":           `tenantferry batch show --tenant fabrikam wave1`,
	"batch start":          `tenantferry batch start --tenant fabrikam wave1`,
	"batch stop":           `tenantferry batch stop --tenant fabrikam wave1`,
	"batch sync-now":       `tenantferry batch sync-now --tenant fabrikam wave1`,
	"batch remove":         `tenantferry batch remove --tenant fabrikam wave1`,
	"batch users":          `tenantferry batch users --tenant fabrikam wave1 -o csv`,
	"batch watch":          `tenantferry batch watch --tenant fabrikam wave1`,
	"batch report":         "tenantferry batch report --tenant fabrikam wave1 --user meganb@fabrikam.example\ntenantferry batch report --tenant fabrikam wave1 --format csv > wave1.csv",
	"migrationuser list":   `tenantferry migrationuser list --tenant fabrikam`,
	"migrationuser show":   `tenantferry migrationuser show --tenant fabrikam meganb@fabrikam.example`,
	"migrationuser stop":   `tenantferry migrationuser stop --tenant fabrikam meganb@fabrikam.example`,
	"migrationuser start":  `tenantferry migrationuser start --tenant fabrikam meganb@fabrikam.example`,
	"migrationuser remove": `tenantferry migrationuser remove --tenant fabrikam meganb@fabrikam.example`,
	"migrationuser complete": `tenantferry migrationuser complete --tenant fabrikam meganb@fabrikam.example
tenantferry migrationuser complete --tenant fabrikam meganb@fabrikam.example --approve-skipped-items --yes`,
	"migrationuser resync":                `tenantferry migrationuser resync --tenant fabrikam meganb@fabrikam.example`,
	"migrationuser approve-skipped-items": `tenantferry migrationuser approve-skipped-items --tenant fabrikam meganb@fabrikam.example`,
	"migration-template show":             `tenantferry migration-template show --tenant fabrikam before`,
	"migration-template reset":            `tenantferry migration-template reset --tenant fabrikam before`,
	"move-registration list":              `tenantferry move-registration list --tenant contoso`,
	"move-registration show":              `tenantferry move-registration show --tenant contoso MOVEID`,
	"move-registration cancel":            `tenantferry move-registration cancel --tenant contoso MOVEID`,
}

// addExamples sets the Examples of c's tree from examples (indented as
// cobra prints them), keeping those a command set itself.
func addExamples(c *cobra.Command) {
	for _, sub := range c.Commands() {
		addExamples(sub)
	}
	if c.Example != "" {
		return
	}
	path := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	if ex, ok := examples[path]; ok {
		c.Example = "  " + strings.ReplaceAll(ex, "\n", "\n  ")
	}
}
