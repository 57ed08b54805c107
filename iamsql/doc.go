// Package iamsql stores iam's profiles, memberships, object grants and
// object parents in SQL: SQLite (modernc.org/sqlite, pure Go, the embedded
// default) and PostgreSQL (github.com/jackc/pgx/v5). A *Store implements
// iam.Store and iam.ParentStore, so it plugs into iam.New:
//
//	store, err := iamsql.OpenSQLite("iam.db")           // or OpenPostgres(ctx, dsn)
//	checker, err := iam.New(policy, store)
//
// # Schema and migrations
//
// The schema is embedded and versioned (Migrations, SchemaVersion); Open
// applies missing migrations in transactions (serialised across processes
// on PostgreSQL by an advisory lock) and records them in
// iam_schema_migrations. Teams that run migrations themselves print the
// script (MigrationScript, or `go run
// github.com/iamgo/iam/iamsql/cmd/iam-schema postgres`) and open with
// Options.SkipMigrations, which only checks the version. Four tables:
// iam_profiles, iam_members, iam_grants and iam_parents; every read of a
// check is one lookup on a primary key. Every value is a query parameter.
// IDs are compared byte for byte ("Admin" and "admin" differ); PostgreSQL
// rejects IDs with NUL bytes or invalid UTF-8.
//
// # Transactions
//
// Store.Update runs a function in a transaction that the application can use
// for its own statements: an object's row and its grants commit or roll back
// together (DESIGN contract 18). For a transaction the application began
// itself, Store.Writer(tx) writes into it; call Writer.Committed after the
// commit. Store.DeleteGrantsOn removes every grant on an object in one call.
//
// # Cache and invalidation
//
// With Options.CacheTTL > 0 (DefaultOptions: 10 s), reads go through an
// iamcache.Cache: a warm check runs no query and allocates nothing; a cold
// check runs at most two queries (the user's profiles, memberships and
// groups' profiles in one; the object's, its type's and the global grants
// with the object's recorded parents in the other), plus one per stored
// ancestor level. A write returns only after this process's cache dropped
// what it changed (contract 15).
//
// On PostgreSQL every write also runs pg_notify in its transaction, so the
// notification is delivered when, and only if, it commits. Each Store
// LISTENs on one connection of its pool and drops the entries named in the
// payload (or everything, for a payload that would exceed PostgreSQL's 8000
// bytes). If the listening connection breaks, the cache is dropped at once,
// the listener reconnects with backoff, LISTENs again and then drops the
// cache again, so nothing committed while it was away is served stale. The
// TTL bounds staleness if notifications stop for any other reason; 0
// disables the cache, and a per-call iamcache.Fresh(ctx) reads the
// database directly.
//
// SQLite has no notifications: use one process per database file, or a
// short TTL.
//
// # Failures
//
// A query error, a timeout or a cancelled context reaches the Checker as an
// error, and the check is a denial (contract 17). Errors are never cached.
//
// # Concurrency
//
// A Store is safe for concurrent use. A Writer is as safe as its *sql.Tx.
package iamsql
