package db

import (
	"database/sql/driver"
	"strings"

	"modernc.org/sqlite"
)

// sqliteLower is the SQLite function Lower uses: SQLite's own LOWER folds
// only ASCII letters, so a display name "Jürgen ÖZIL" would not match a
// search for "özil" that Go lower-cased.
const sqliteLower = "tf_lower"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqliteLower, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil // NULL and numbers as they are
		}
	})
}

// Lower returns SQL that lower-cases the text expression expr by Unicode
// rules, as Go's strings.ToLower does, on either dialect: PostgreSQL's
// LOWER (in a UTF-8 database), and on SQLite a Go function registered with
// the driver. Keys the code lower-cases in Go (name_key, addr_key) compare
// equal to it.
func (d *DB) Lower(expr string) string {
	if d.Dialect == SQLite {
		return sqliteLower + "(" + expr + ")"
	}
	return "LOWER(" + expr + ")"
}
