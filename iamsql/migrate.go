package iamsql

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// A Migration is one versioned step of the schema. Versions start at 1 and
// have no gaps; each is applied once, in its own transaction, and recorded in
// the table iam_schema_migrations.
type Migration struct {
	Version int
	Name    string // file name, e.g. "0001_init.sql"
	SQL     string
}

// Migrations returns the schema migrations for d, oldest first. Teams that run
// migrations with their own tool apply these (or the output of
// MigrationScript) and open the store with Options.SkipMigrations.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", d.dirName())
	if d.dirName() == "" {
		return nil, fmt.Errorf("%w: dialect %d", ErrDialect, d)
	}
	ents, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range ents {
		name := e.Name()
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("iamsql: bad migration file name %q", name)
		}
		b, err := migrationFS.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("iamsql: migration versions must be 1..n without gaps, got %d at %d", m.Version, i+1)
		}
	}
	return out, nil
}

// MigrationScript returns every migration for d as one SQL script, including
// the statements that record the versions in iam_schema_migrations, for teams
// that apply migrations themselves.
func MigrationScript(d Dialect) (string, error) {
	ms, err := Migrations(d)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(createVersionTable + ";\n\n")
	for _, m := range ms {
		fmt.Fprintf(&b, "-- %s\n%s\nINSERT INTO iam_schema_migrations (version, applied_at) VALUES (%d, 'script');\n\n",
			m.Name, strings.TrimSpace(m.SQL), m.Version)
	}
	return b.String(), nil
}

// SchemaVersion is the schema version this package reads and writes.
func SchemaVersion(d Dialect) int {
	ms, err := Migrations(d)
	if err != nil {
		return 0
	}
	return len(ms)
}

const createVersionTable = `CREATE TABLE IF NOT EXISTS iam_schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at TEXT NOT NULL
)`

// migrate applies the missing migrations. On PostgreSQL an advisory lock
// serialises processes that open the store at the same time. Its errors
// name the step that failed (the version table, or which migration), so a
// broken migration is told apart from a database that cannot be reached
// (Open connects first).
func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	ms, err := Migrations(d)
	if err != nil {
		return fmt.Errorf("iamsql: migrating the %s schema: %w", d, err)
	}
	if err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, createVersionTable)
		return err
	}); err != nil {
		return fmt.Errorf("iamsql: migrating the %s schema: creating table iam_schema_migrations: %w", d, err)
	}
	for _, m := range ms {
		if err := applyOne(ctx, db, d, m); err != nil {
			return fmt.Errorf("iamsql: migrating the %s schema: applying migration %s (version %d): %w", d, m.Name, m.Version, err)
		}
	}
	return nil
}

// inTx runs fn in a transaction; on PostgreSQL it first takes the
// migration advisory lock, so concurrent openers take turns (even CREATE
// TABLE IF NOT EXISTS races there).
func inTx(ctx context.Context, db *sql.DB, d Dialect, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if d == Postgres {
		// Any constant works: it only has to be the same in every process.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7316052611)`); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func applyOne(ctx context.Context, db *sql.DB, d Dialect, m Migration) error {
	return inTx(ctx, db, d, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, rebind(d, `SELECT count(*) FROM iam_schema_migrations WHERE version = $1`), m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, rebind(d, `INSERT INTO iam_schema_migrations (version, applied_at) VALUES ($1, $2)`),
			m.Version, time.Now().UTC().Format(time.RFC3339))
		return err
	})
}

// checkSchema verifies that migrations someone else applied are current.
func checkSchema(ctx context.Context, db *sql.DB, d Dialect) error {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(version) FROM iam_schema_migrations`).Scan(&v)
	if err != nil {
		return fmt.Errorf("%w: reading iam_schema_migrations: %w", ErrSchema, err)
	}
	if want := SchemaVersion(d); int(v.Int64) != want {
		return fmt.Errorf("%w: database is at version %d, this package needs %d", ErrSchema, v.Int64, want)
	}
	return nil
}
