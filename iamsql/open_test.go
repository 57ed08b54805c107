package iamsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// TestOpenSQLiteRejectsPath: a path that names no database file (empty, a
// URL of another database) is refused before anything is opened
// or created, and the error names the problem without a DSN's password.
func TestOpenSQLiteRejectsPath(t *testing.T) {
	// A path taken for a file name would be created relative to the
	// working directory: make that an empty directory to check nothing is.
	dir := t.TempDir()
	t.Chdir(dir)
	const secret = "s3cret-pw"
	tests := []struct {
		name, path string
		want       []string // substrings of the error
	}{
		{"empty", "", []string{"SQLite path is empty", "give a file path"}},
		{"file: without a path", "file:", []string{"SQLite path is empty"}},
		{"file:// without a path", "file://", []string{"SQLite path is empty"}},
		{"file://localhost without a path", "file://localhost", []string{"SQLite path is empty"}},
		{"URI with parameters", "file::memory:?cache=shared", []string{"contains '?'"}},
		{"postgres URL", "postgres://iam:" + secret + "@db.example/iam?sslmode=disable", []string{"is a postgres:// URL", "use OpenPostgres"}},
		{"postgresql URL", "postgresql://iam:" + secret + "@db.example/iam", []string{"is a postgresql:// URL", "use OpenPostgres"}},
		{"mysql URL", "mysql://root:" + secret + "@127.0.0.1:3306/app", []string{"is a mysql:// URL", "unsupported database", "mysql://root:xxxxx@127.0.0.1:3306/app"}},
		{"unparsable URL", "mysql://root:" + secret + "@[::1/app", []string{"is a mysql:// URL", "unsupported database"}},
		{"sqlite URL", "sqlite:///var/lib/iam.db", []string{"is a sqlite:// URL, not a file path or file: URI"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := iamsql.OpenSQLite(t.Context(), tt.path)
			if s != nil {
				_ = s.Close()
			}
			require.ErrorIs(t, err, iam.ErrInvalid)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), secret, "the error shows the DSN's password")
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, ents, "a file was created for %q", tt.path)
		})
	}
}

// TestOpenSQLiteFileURI: a "file:" URI names the same file as its path, in
// each of the forms SQLite accepts.
func TestOpenSQLiteFileURI(t *testing.T) {
	dir, err := filepath.Abs(t.TempDir())
	require.NoError(t, err)
	slash := filepath.ToSlash(dir)
	if slash[0] != '/' {
		slash = "/" + slash // a Windows drive: file:///C:/...
	}
	tests := []struct{ name, path, file string }{
		{"path", filepath.Join(dir, "a.db"), "a.db"},
		{"file:/path", "file:" + slash + "/b.db", "b.db"},
		{"file:///path", "file://" + slash + "/c.db", "c.db"},
		{"file://localhost/path", "file://localhost" + slash + "/d.db", "d.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := iamsql.OpenSQLite(t.Context(), tt.path)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			_, err = os.Stat(filepath.Join(dir, tt.file))
			require.NoError(t, err, "%q did not create %s", tt.path, tt.file)
		})
	}
}

// TestOpenSQLiteMemory: an in-memory database, asked for explicitly, is
// one database: the pool has its single connection, so what one write
// stores the next read sees.
func TestOpenSQLiteMemory(t *testing.T) {
	t.Chdir(t.TempDir()) // "file::memory:" taken for a file name would land here
	for _, path := range []string{":memory:", "file::memory:"} {
		t.Run(path, func(t *testing.T) {
			ctx := t.Context()
			s, err := iamsql.OpenSQLiteWith(ctx, path, iamsql.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			require.Equal(t, 1, s.DB().Stats().MaxOpenConnections)
			require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Perm: "x.read", On: iam.GlobalScope()}))
			var n int
			require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT count(*) FROM iam_grants`).Scan(&n))
			require.Equal(t, 1, n)
			ents, err := os.ReadDir(".")
			require.NoError(t, err)
			require.Empty(t, ents, "%q created a file", path)
		})
	}
}

// closedPort returns a port on 127.0.0.1 on which nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// TestOpenConnectError: a database that cannot be reached is reported as
// such ("connecting to"), not as a failed migration, and the error does not
// show the DSN's password.
func TestOpenConnectError(t *testing.T) {
	const secret = "s3cret-pw"
	port := closedPort(t)
	tests := []struct {
		name string
		open func(ctx context.Context) (*iamsql.Store, error)
		want string
	}{
		{"postgres URL, connection refused", func(ctx context.Context) (*iamsql.Store, error) {
			return iamsql.OpenPostgres(ctx, fmt.Sprintf("postgres://iam:%s@127.0.0.1:%d/iam?connect_timeout=10", secret, port))
		}, "connection refused"},
		{"postgres keywords, connection refused", func(ctx context.Context) (*iamsql.Store, error) {
			return iamsql.OpenPostgresWith(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=iam password=%s dbname=iam connect_timeout=10", port, secret), iamsql.Options{})
		}, "connection refused"},
		{"postgres URL that does not parse", func(ctx context.Context) (*iamsql.Store, error) {
			return iamsql.OpenPostgres(ctx, "postgres://iam:"+secret+"@127.0.0.1:notaport/iam")
		}, "cannot parse"},
		{"sqlite file in a missing directory", func(ctx context.Context) (*iamsql.Store, error) {
			return iamsql.OpenSQLite(ctx, filepath.Join(t.TempDir(), "missing", "iam.db"))
		}, "iamsql: connecting to sqlite: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.open(t.Context())
			if s != nil {
				_ = s.Close()
			}
			require.Error(t, err)
			msg := err.Error()
			require.Regexp(t, `^iamsql: connecting to (postgres|sqlite): `, msg)
			require.Contains(t, msg, tt.want)
			require.NotContains(t, msg, "iam_schema_migrations")
			require.NotContains(t, msg, "migrat")
			require.NotContains(t, msg, secret, "the error shows the DSN's password")
		})
	}
}

// TestOpenMigrationError: a migration that fails is reported with its step
// (the version table, or which migration), not as a connection problem.
func TestOpenMigrationError(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T) (*iamsql.Store, error)
		want string
	}{
		{"sqlite: a table of the first migration exists", func(t *testing.T) (*iamsql.Store, error) {
			path := filepath.Join(t.TempDir(), "iam.db")
			db, err := sql.Open("sqlite", path)
			require.NoError(t, err)
			_, err = db.Exec(`CREATE TABLE iam_profiles (x INTEGER)`)
			require.NoError(t, err)
			require.NoError(t, db.Close())
			return iamsql.OpenSQLite(t.Context(), path)
		}, "iamsql: migrating the sqlite schema: applying migration 0001_init.sql (version 1): "},
		{"postgres: no schema to create the tables in", func(t *testing.T) (*iamsql.Store, error) {
			u, err := url.Parse(postgresDSN(t))
			require.NoError(t, err)
			q := u.Query()
			q.Set("search_path", fmt.Sprintf("iamtest_missing_%d", os.Getpid()))
			u.RawQuery = q.Encode()
			return iamsql.OpenPostgres(t.Context(), u.String())
		}, "iamsql: migrating the postgres schema: creating table iam_schema_migrations: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.open(t)
			if s != nil {
				_ = s.Close()
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "connecting")
		})
	}
}
