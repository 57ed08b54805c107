package iamsql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam/iamsql"
)

// pgDSNEnv names the variable that points the PostgreSQL tests at a server;
// `make test` starts a throwaway one (scripts/with-postgres).
const pgDSNEnv = "IAM_TEST_POSTGRES_DSN"

// postgresDSN returns the test server's DSN. Without one the PostgreSQL
// tests skip loudly, except under CI, where they fail: CI never goes green by
// skipping.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(pgDSNEnv)
	if dsn == "" {
		msg := "\n\n*** " + pgDSNEnv + " is not set: PostgreSQL tests NOT RUN. `make test` starts a server for them. ***\n\n"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

var schemaSeq atomic.Int64

// pgSchema creates an empty schema for one test and returns a DSN whose
// search_path is that schema, and a NOTIFY channel of its own, so tests
// never see each other's tables or notifications. The schema is dropped
// when the test ends.
func pgSchema(t testing.TB) (dsn, channel string) {
	t.Helper()
	base := postgresDSN(t)
	name := fmt.Sprintf("iamtest_%d_%d", os.Getpid(), schemaSeq.Add(1))
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	_, err = admin.Exec(`CREATE SCHEMA ` + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(`DROP SCHEMA ` + name + ` CASCADE`) })
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), name
}

// openPostgres opens a Store on a fresh schema.
func openPostgres(t testing.TB, opts iamsql.Options) *iamsql.Store {
	t.Helper()
	dsn, ch := pgSchema(t)
	opts.Channel = ch
	s, err := iamsql.OpenPostgresWith(context.Background(), dsn, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openSQLite opens a Store on a new database file.
func openSQLite(t testing.TB, opts iamsql.Options) *iamsql.Store {
	t.Helper()
	s, err := iamsql.OpenSQLiteWith(context.Background(), filepath.Join(t.TempDir(), "iam.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// faultDriver wraps a real driver: it counts queries and statements and can
// make them fail or hang until their context ends (fault injection).
type faultDriver struct {
	inner   driver.Driver
	dsn     string
	queries atomic.Int64 // QueryContext calls
	execs   atomic.Int64 // ExecContext calls
	fail    atomic.Pointer[error]
	hang    atomic.Bool
}

func (d *faultDriver) Connect(context.Context) (driver.Conn, error) { return d.Open(d.dsn) }
func (d *faultDriver) Driver() driver.Driver                        { return d }
func (d *faultDriver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: c, d: d}, nil
}

// fault is what the next statement meets: an injected error, or a hang
// until ctx ends.
func (d *faultDriver) fault(ctx context.Context) error {
	if p := d.fail.Load(); p != nil {
		return *p
	}
	if d.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (d *faultDriver) setFail(err error) {
	if err == nil {
		d.fail.Store(nil)
		return
	}
	d.fail.Store(&err)
}

type faultConn struct {
	driver.Conn
	d *faultDriver
}

func (c *faultConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.d.queries.Add(1)
	if err := c.d.fault(ctx); err != nil {
		return nil, err
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *faultConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.d.execs.Add(1)
	if err := c.d.fault(ctx); err != nil {
		return nil, err
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.d.fault(ctx); err != nil {
		return nil, err
	}
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *faultConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

// openFaultySQLite opens a SQLite Store through a faultDriver.
func openFaultySQLite(t testing.TB, opts iamsql.Options) (*iamsql.Store, *faultDriver) {
	t.Helper()
	probe, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	inner := probe.Driver()
	require.NoError(t, probe.Close())
	d := &faultDriver{inner: inner, dsn: "file:" + filepath.Join(t.TempDir(), "iam.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"}
	db := sql.OpenDB(d)
	t.Cleanup(func() { _ = db.Close() })
	s, err := iamsql.Open(context.Background(), db, iamsql.SQLite, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, d
}
