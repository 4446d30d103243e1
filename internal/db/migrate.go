package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations
var migrationsFS embed.FS

func (d *DB) migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dir = "migrations/postgres"
		dialect = goose.DialectPostgres
	}
	sub, err := fs.Sub(migrationsFS, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, d.W, sub)
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("db: migrate schema: %w", err)
	}
	return d.migrateRiver(ctx)
}

func (d *DB) migrateRiver(ctx context.Context) error {
	var err error
	if d.Dialect == Postgres {
		mig, e := rivermigrate.New(riverdatabasesql.New(d.W), nil)
		if e != nil {
			return fmt.Errorf("db: river migrations: %w", e)
		}
		_, err = mig.Migrate(ctx, rivermigrate.DirectionUp, nil)
	} else {
		mig, e := rivermigrate.New(riversqlite.New(d.W), nil)
		if e != nil {
			return fmt.Errorf("db: river migrations: %w", e)
		}
		_, err = mig.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		return fmt.Errorf("db: migrate job tables: %w", err)
	}
	return nil
}
