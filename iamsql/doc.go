// Package iamsql stores iam's profiles, memberships, object grants and
// object parents in SQL: SQLite (modernc.org/sqlite, pure Go, the embedded
// default) and PostgreSQL (github.com/jackc/pgx/v5). A *Store implements
// iam.Store and iam.ParentStore, so it plugs into iam.New (it also
// implements the optional interfaces of the access queries: iam.ObjectLister,
// iam.MemberLister and iam.RoleLister):
//
//	store, err := iamsql.OpenSQLite(ctx, "iam.db")      // or OpenPostgres(ctx, dsn)
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
// Options.SkipMigrations, which only checks the version. The tables:
// iam_profiles, iam_members, iam_grants and iam_parents hold who holds
// what (every read of a check is one lookup on a primary key), iam_audit
// the Manager's trail, iam_revision and iam_changes the change log, and
// iam_schema_migrations the applied migrations. Every value is a query parameter.
// IDs are compared byte for byte ("Admin" and "admin" differ); PostgreSQL
// rejects IDs with NUL bytes or invalid UTF-8.
//
// Opening connects before it migrates, so the error says which went wrong:
// an unreachable server or a file that cannot be opened is "iamsql:
// connecting to postgres: ..." (or sqlite; pgx's errors never show the
// DSN's password), a failed migration names its step ("iamsql: migrating
// the postgres schema: applying migration 0002_manager.sql (version 2):
// ..."). OpenSQLite takes a file path or a file: URI; it refuses an empty
// path and the URL of another database, and ":memory:" is a database on a
// single connection (see OpenSQLite).
//
// # Transactions
//
// Store.Update runs a function in a transaction that the application can use
// for its own statements: an object's row and its grants commit or roll back
// together (docs/contract.md line 18). For a transaction the application began
// itself, Store.Writer(tx) writes into it; call Writer.Committed after the
// commit. Store.DeleteGrantsOn removes every grant on an object in one call.
//
// # Access queries
//
// Store.ListObjectIDs answers iam.Checker.ListObjects ("which posts may Ann
// view?") with one query, read from the database, never from the cache: a
// WITH RECURSIVE walk that starts at the objects (of any type) on which the
// subject or one of its groups holds the permission as a grant, or a role
// granting it as a local role, and goes down iam_parents (the parents
// recorded with SetParents) at most the Checker's MaxDepth levels; a parent
// cycle ends at that bound. It returns the distinct IDs of the asked type
// in byte order (COLLATE "C" on PostgreSQL, whatever the database's
// collation), after a cursor and up to a limit, so ListOptions.Limit and
// ObjectList.Next page through them. Store.GroupMembers lists a group's
// users for Checker.Holders with ExpandGroups.
//
// For a list page, AccessFilter turns the same walk into a condition for
// the application's own query on the same database, so the page is one
// query with the application's joins, ORDER BY and LIMIT:
//
//	f, err := iamsql.AccessFilter(ctx, checker, user, "blog.view_post",
//		iamsql.FilterOptions{Type: "blog.post", Column: "p.id", FirstArg: 2})
//	if err != nil {
//		return err // show nothing
//	}
//	rows, err := db.QueryContext(ctx, `SELECT p.id, p.title FROM posts p
//		WHERE p.author_id <> $1 AND `+f.SQL+` ORDER BY p.id LIMIT 20`,
//		append([]any{blocked}, f.Args...)...)
//
// f.SQL is `p.id COLLATE "C" IN (WITH RECURSIVE ...)` on PostgreSQL (IDs
// compare byte for byte, as Check compares them: declare the ID column
// COLLATE "C", or index (id COLLATE "C"), so the lookup uses an index; see
// AccessFilter); "1=1" when the user may view
// every post (a superuser, a global role, a grant on the type: f.All and
// f.Why say so); or "1=0" when nothing stored can allow (an anonymous or
// inactive user). Its placeholders are numbered from FilterOptions.FirstArg
// ($N on PostgreSQL, ?N on SQLite), after the application's own, and
// f.NextArg is the next free number. Every value is a parameter: the column
// name is the only text taken from the caller, and it must be a plain or
// qualified identifier. An ID column that is not text (INTEGER, UUID) is
// compared as text with FilterOptions.CastToText. When the permission has a
// rule, f.Partial is set: SQL cannot run a Go predicate, so the application
// ORs its own condition for the rule (WHERE (f.SQL OR p.public)) or runs
// the candidates through iam.Filter.
//
// Neither a list nor a filter sees ancestors known only to the
// application's objects (their Parents method, not recorded with
// SetParents), nor which objects refuse global roles when access comes from
// a global role (see iam.ObjectList.All). Schema version 3 adds the indexes
// the walk and GroupMembers use.
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
// # Change log, notifications and tokens
//
// Every write appends a row to the change log (iam_changes, schema version
// 4) in its own transaction, under the transaction's revision: a counter
// (iam_revision) that the transaction raises on its first write and keeps
// locked until it commits, so revisions are dense and in commit order
// (writers through iamsql take turns on that row). Each Store with a cache
// tracks the revision its cache has applied.
//
// On PostgreSQL every write also runs pg_notify in its transaction
// ("<revision> <keys>"), and a commit trigger ends the transaction's
// notifications with its row count, so they are delivered when, and only
// if, it commits. Each Store LISTENs on a connection of its own (made with
// Options.ListenDSN, or with the settings of a connection of its pool,
// borrowed only to copy them, but never counted in the pool: point
// ListenDSN at the server when the pool goes through PgBouncer in
// transaction mode) and checks that the LISTEN is in effect there (in
// pg_listening_channels) before Open returns and at every heartbeat. It
// drops the keys named at once, and a revision whose notifications all
// arrived is applied without a query. A revision skipped, a transaction's
// notifications incomplete, a payload too large to carry its keys
// (PostgreSQL's 8000 bytes), or a reconnect sends the Store to the log:
// it reads the rows past its revision and drops exactly their keys. It also
// reads the log every Options.ChangePoll (1 s), which bounds how long a
// lost notification can go unnoticed, and is how SQLite Stores of several
// processes on one file learn of each other's writes. The whole cache is
// dropped only when the log no longer reaches back (PruneChanges,
// Options.ChangeRetention), or when it could not be read for a
// ListenHeartbeat: a Store cut off from the database while others write.
//
// A write's token (Writer.Token after its commit, or Store.Token: every
// write committed before the call) names its revision. Under
// iam.AtLeast(ctx, token), a check on any Store of the database reads
// state at least that new: a Store behind it waits up to 2 ms for its
// listener, then reads the log itself. So a request that carries the token
// of its own write, or of a revocation, is answered consistently on every
// replica. A token from another store, or newer than the database, fails
// the read (the check denies with iam.ErrInvalid). Store.Watch streams the
// log, one call per revision, resumable from any token.
//
// The TTL still bounds staleness if everything else fails; 0 disables the
// cache, and a per-call iamcache.Fresh(ctx) reads the database directly.
//
// # Failures
//
// A query error, a timeout or a cancelled context reaches the Checker as an
// error, and the check is a denial (contract 17). Errors are never cached.
//
// # Concurrency
//
// A Store is safe for concurrent use. A Writer is as safe as its *sql.Tx.
//
// Any pool size works, one connection included (SQLite ":memory:" has
// one; so may a PostgreSQL *sql.DB with SetMaxOpenConns(1)): nothing
// in the Store holds a connection while waiting for another. A write holds
// one for its transaction; a Manager change (Store.Transact) reads and
// writes through its transaction alone, so k concurrent changes hold at
// most k connections and wait for each other's lock, never for a
// connection; and the PostgreSQL listener's connection is not the pool's.
// What can still wait for ever is the application's code that runs inside
// a transaction and queries the pool instead of the transaction: a function
// given to Update that reads through the Store rather than its tx, or a
// ManagerOptions.Object or Children callback (the Manager calls them inside
// Transact) that queries the same *sql.DB. With a pool of n connections,
// n such transactions at once wait for each other (n = 1: any one of them).
package iamsql
