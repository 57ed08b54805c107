package iamsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect selects the SQL spoken to the database.
type Dialect uint8

const (
	// SQLite is the embedded default (modernc.org/sqlite, pure Go, no cgo).
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL through github.com/jackc/pgx/v5.
	Postgres
)

func (d Dialect) dirName() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return ""
}

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	if n := d.dirName(); n != "" {
		return n
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// Errors of this package, matched with errors.Is.
var (
	// ErrDialect: the Options name no known dialect.
	ErrDialect = errors.New("iamsql: unknown dialect")
	// ErrSchema: with Options.SkipMigrations, the database schema is missing
	// or not at SchemaVersion.
	ErrSchema = errors.New("iamsql: database schema is not current")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("iamsql: store is closed")
)

// DefaultChannel is the PostgreSQL NOTIFY channel of cache invalidations.
const DefaultChannel = "iam_invalidate"

// DefaultHeartbeat is the listener's default Options.ListenHeartbeat.
const DefaultHeartbeat = 5 * time.Second

// Options configure a Store. The zero value is valid and safe: no cache
// (every check reads the database), migrations applied on open.
// DefaultOptions is what OpenSQLite and OpenPostgres use.
type Options struct {
	// CacheTTL is how long a read may be served from this process's cache
	// (iamcache). 0 disables the cache; it is never "forever". On
	// PostgreSQL, LISTEN/NOTIFY drops entries long before the TTL when
	// other processes write; the TTL bounds staleness if notifications stop.
	CacheTTL time.Duration
	// CacheMaxEntries bounds the cache (0: iamcache's default).
	CacheMaxEntries int
	// Channel is the NOTIFY channel (PostgreSQL); "" means DefaultChannel.
	// Every process sharing a database must use the same one.
	Channel string
	// SkipMigrations: do not migrate on open, only check that the schema is
	// at SchemaVersion (for teams that apply Migrations themselves).
	SkipMigrations bool
	// ListenHeartbeat is how long the PostgreSQL listener waits for a
	// notification before it pings the server, and how long the ping may
	// take: a dead connection is found within about twice this. 0 means
	// DefaultHeartbeat.
	ListenHeartbeat time.Duration
	// Logger receives listener reconnects and invalidation problems; nil
	// means slog.Default().
	Logger *slog.Logger
	// Now is the clock for cache TTLs and the change log's times (tests);
	// nil means time.Now. The Checker has its own clock for profile expiry.
	Now func() time.Time
	// ChangePoll is how often a Store with a cache reads the change log
	// for what no notification told it (a lost notification, a listener
	// away, SQLite written by another process); 0 means DefaultChangePoll.
	// Without notifications, other processes' writes reach this cache
	// within about this long.
	ChangePoll time.Duration
	// ChangeRetention, if positive, prunes change-log rows older than it
	// (see PruneChanges); 0 keeps them until PruneChanges is called.
	ChangeRetention time.Duration
	// ListenDSN, if set, is the PostgreSQL connection string of the
	// listener's own connection (LISTEN needs a session of its own: through
	// PgBouncer in transaction mode, point this at the server, or at a
	// session-mode pool). Empty: the listener connects with the settings of
	// the Store's pool.
	ListenDSN string
}

// DefaultOptions returns the options OpenSQLite and OpenPostgres use: a
// cache with iamcache.DefaultTTL (10 s).
func DefaultOptions() Options { return Options{CacheTTL: iamcache.DefaultTTL} }

// Store keeps profiles, memberships, grants and object parents in SQL. It
// implements iam.Store and iam.ParentStore, so iam.New accepts it, and
// iam.ObjectLister and iam.MemberLister for the access queries (see
// ListObjectIDs and AccessFilter).
//
// Reads go through a per-process cache (Options.CacheTTL) whose warm path
// runs no query and allocates nothing; a cold check costs at most two
// queries (one for the user with its groups' profiles, one for the object's,
// type's and global grants with the object's parents). Writes run in a
// transaction that also, on PostgreSQL, sends a NOTIFY; every Store listening
// on the database (other processes included) drops the affected entries.
//
// A Store is safe for concurrent use. Close it to stop the listener.
type Store struct {
	db    *sql.DB
	d     Dialect
	opts  Options
	q     *queries
	raw   *raw
	cache *iamcache.Cache // nil: no cache
	read  iam.Store       // cache or raw
	log   *slog.Logger
	ownDB bool

	heartbeat time.Duration
	poll      time.Duration
	writeTurn chan struct{} // SQLite: one Update at a time in this process
	follow    follower

	closeOnce sync.Once
	stop      context.CancelFunc
	listening chan struct{} // closed when the listener goroutine ends
	lstats    listenStats
}

var (
	_ iam.Store              = (*Store)(nil)
	_ iam.ParentStore        = (*Store)(nil)
	_ iamcache.HoldingLoader = (*raw)(nil)
	_ iamcache.GrantsLoader  = (*raw)(nil)
)

// OpenSQLite opens (creating if needed) the SQLite database file at path,
// migrates it and returns a Store with DefaultOptions. It sets WAL mode, a
// 5 s busy timeout and immediate write transactions.
//
// path is a file path or a "file:" URI without query parameters
// ("file:/var/lib/app/iam.db"); the store sets the connection parameters
// itself. An empty path is an error (SQLite would open a temporary
// database, a different one on each connection of the pool), and so is a
// URL of another scheme (postgres://, mysql://): it is never taken for a
// file name.
//
// ":memory:" (or "file::memory:") asks for an in-memory database on
// purpose. Each SQLite connection to it is a database of its own, so the
// pool then has a single connection (see the package documentation: the
// Store works on one), and the data lives as long as that connection: do
// not shrink the pool's idle connections or their lifetime through DB().
// A function given to Store.Update must then read only through its tx, as
// the Store itself does. For a throwaway store shared by many goroutines,
// a file in a temporary directory has none of these limits.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	return OpenSQLiteWith(ctx, path, DefaultOptions())
}

// OpenSQLiteWith is OpenSQLite with options.
func OpenSQLiteWith(ctx context.Context, path string, opts Options) (*Store, error) {
	dsn, memory, err := sqliteDSN(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if memory {
		// Every connection to ":memory:" is a different database, so there
		// is one connection. Transact (the Manager) reads through its
		// transaction, so this is enough; but a function given to Update
		// must not read through the Store here (only through its tx).
		db.SetMaxOpenConns(1)
	}
	s, err := Open(ctx, db, SQLite, opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ownDB = true
	return s, nil
}

// urlScheme matches the scheme of a URL ("postgres://..."). Two letters at
// least, so that a Windows drive ("C:/data/iam.db") is a path.
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+)://`)

// sqliteDSN checks OpenSQLite's path and returns the driver's DSN for it,
// with the store's pragmas, and whether it is an in-memory database.
func sqliteDSN(path string) (dsn string, memory bool, err error) {
	if m := urlScheme.FindStringSubmatch(path); m != nil && m[1] != "file" {
		// A DSN meant for another database would otherwise create a file
		// of that odd name and run on SQLite without a word.
		shown := m[1] + "://…"
		if u, err := url.Parse(path); err == nil {
			shown = u.Redacted()
		}
		var hint string
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			hint = "; use OpenPostgres for PostgreSQL"
		case "sqlite", "sqlite3":
		default:
			hint = ": unsupported database (iamsql supports SQLite and PostgreSQL)"
		}
		return "", false, fmt.Errorf("%w: SQLite path %q is a %s:// URL, not a file path or file: URI%s", iam.ErrInvalid, shown, m[1], hint)
	}
	if strings.ContainsAny(path, "?#") {
		// They would end the file name and drop the pragmas below.
		return "", false, fmt.Errorf("%w: SQLite path %q contains '?' or '#'", iam.ErrInvalid, path)
	}
	// SQLite reads a name that starts with "file:" (exactly so) as a URI;
	// anything else is a file path, which becomes one.
	name, uri := strings.CutPrefix(path, "file:")
	if uri && strings.HasPrefix(name, "//") {
		// The authority, "" or "localhost", comes before the path.
		name = strings.TrimPrefix(strings.TrimPrefix(name, "//"), "localhost")
	}
	if name == "" {
		return "", false, fmt.Errorf("%w: SQLite path is empty (SQLite would open a temporary database, a different one on each connection); give a file path, or \":memory:\" for an in-memory database on one connection", iam.ErrInvalid)
	}
	if !uri {
		path = "file:" + path
	}
	return path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate", name == ":memory:", nil
}

// OpenPostgres connects to PostgreSQL (a pgx connection string or URL),
// migrates, starts the invalidation listener and returns a Store with
// DefaultOptions.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	return OpenPostgresWith(ctx, dsn, DefaultOptions())
}

// OpenPostgresWith is OpenPostgres with options.
func OpenPostgresWith(ctx context.Context, dsn string, opts Options) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, db, Postgres, opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ownDB = true
	return s, nil
}

// Open returns a Store over db, which must use the driver of d ("sqlite"
// from modernc.org/sqlite, or "pgx" from github.com/jackc/pgx/v5/stdlib).
// It connects (an error says "connecting to"), then migrates (or checks,
// with SkipMigrations) the schema. On PostgreSQL
// with a cache it starts the LISTEN loop before returning, on a connection
// of its own: it borrows one of db's connections only to copy its settings,
// so the listener takes nothing from db's pool (SetMaxOpenConns(1) works).
// Any pool size works (see the package documentation). Close does not
// close a db passed to Open.
func Open(ctx context.Context, db *sql.DB, d Dialect, opts Options) (*Store, error) {
	if d.dirName() == "" {
		return nil, fmt.Errorf("%w: %d", ErrDialect, d)
	}
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if len(opts.Channel) > 63 {
		// PostgreSQL truncates a longer LISTEN name but rejects it in
		// pg_notify: every write would fail.
		return nil, fmt.Errorf("%w: channel name %q is longer than 63 bytes", iam.ErrInvalid, opts.Channel)
	}
	s := &Store{db: db, d: d, opts: opts, q: queriesFor(d), log: opts.Logger, heartbeat: opts.ListenHeartbeat, poll: opts.ChangePoll,
		writeTurn: make(chan struct{}, 1)}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultHeartbeat
	}
	if s.poll <= 0 {
		s.poll = DefaultChangePoll
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// Connect before migrating, so that an unreachable server or an
	// unopenable file is reported as such, not as a failed migration.
	// pgx's connection errors name the user and database, never the
	// password.
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("iamsql: connecting to %s: %w", d, err)
	}
	if opts.SkipMigrations {
		if err := checkSchema(ctx, db, d); err != nil {
			return nil, err
		}
	} else if err := migrate(ctx, db, d); err != nil {
		return nil, err
	}
	s.raw = &raw{Store: s, run: db}
	s.read = s.raw
	if opts.CacheTTL > 0 {
		s.cache = iamcache.New(s.raw, iamcache.Options{TTL: opts.CacheTTL, MaxEntries: opts.CacheMaxEntries, Now: opts.Now})
		s.read = s.cache
		if err := s.startFollower(ctx); err != nil {
			return nil, err
		}
		if d == Postgres {
			if err := s.startListener(ctx); err != nil {
				s.stopFollower()
				return nil, err
			}
		}
	}
	return s, nil
}

// Close stops the listener and, if the Store opened the database itself
// (OpenSQLite, OpenPostgres), closes it.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.listening
		}
		s.stopFollower()
		if s.ownDB {
			err = s.db.Close()
		}
	})
	return err
}

func (s *Store) stopFollower() {
	if s.follow.stop != nil {
		s.follow.stop()
		<-s.follow.done
	}
}

func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// DB returns the database the store uses.
func (s *Store) DB() *sql.DB { return s.db }

// Channel returns the NOTIFY channel (PostgreSQL).
func (s *Store) Channel() string { return s.opts.Channel }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.d }

// Cache returns the store's cache, or nil when Options.CacheTTL is 0. Use it
// for Stats, or to Invalidate by hand after changing the tables directly.
func (s *Store) Cache() *iamcache.Cache { return s.cache }

// Holding implements iam.ProfileStore.
func (s *Store) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	return s.read.Holding(ctx, p)
}

// Grants implements iam.ObjectPermStore.
func (s *Store) Grants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	if err := s.fresh(ctx); err != nil {
		return nil, err
	}
	return s.read.Grants(ctx, on)
}

// Parents implements iam.ParentStore.
func (s *Store) Parents(ctx context.Context, ref iam.Ref) ([]iam.Ref, error) {
	if s.cache != nil {
		if err := s.fresh(ctx); err != nil {
			return nil, err
		}
		return s.cache.Parents(ctx, ref)
	}
	return s.raw.Parents(ctx, ref)
}

// PutProfile implements iam.ProfileStore.
func (s *Store) PutProfile(ctx context.Context, p iam.Profile) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.PutProfile(ctx, p) })
}

// SetProfileActive implements iam.ProfileStore.
func (s *Store) SetProfileActive(ctx context.Context, holder iam.Principal, role string, active bool) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.SetProfileActive(ctx, holder, role, active) })
}

// DeleteProfile implements iam.ProfileStore.
func (s *Store) DeleteProfile(ctx context.Context, holder iam.Principal, role string) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.DeleteProfile(ctx, holder, role) })
}

// AddMember implements iam.ProfileStore.
func (s *Store) AddMember(ctx context.Context, user, group string) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.AddMember(ctx, user, group) })
}

// RemoveMember implements iam.ProfileStore.
func (s *Store) RemoveMember(ctx context.Context, user, group string) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.RemoveMember(ctx, user, group) })
}

// Grant implements iam.ObjectPermStore.
func (s *Store) Grant(ctx context.Context, g iam.Grant) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.Grant(ctx, g) })
}

// Revoke implements iam.ObjectPermStore.
func (s *Store) Revoke(ctx context.Context, g iam.Grant) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.Revoke(ctx, g) })
}

// DeleteGrantsOn implements iam.ObjectPermStore.
func (s *Store) DeleteGrantsOn(ctx context.Context, on iam.Ref) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.DeleteGrantsOn(ctx, on) })
}

// SetParents implements iam.ParentStore.
func (s *Store) SetParents(ctx context.Context, ref iam.Ref, parents []iam.Ref) error {
	return s.Update(ctx, func(_ *sql.Tx, w *Writer) error { return w.SetParents(ctx, ref, parents) })
}

// Update runs fn in a new transaction and commits it if fn returns nil
// (otherwise rolls it back). fn may run the application's own statements on
// tx; every write made through w commits or rolls back with them. After the
// commit this process's cache drops the written keys, and on PostgreSQL the
// NOTIFY sent inside the transaction reaches the other processes.
func (s *Store) Update(ctx context.Context, fn func(tx *sql.Tx, w *Writer) error) error {
	return s.update(ctx, nil, fn)
}

// update is Update with the transaction's options.
func (s *Store) update(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx, w *Writer) error) (err error) {
	if s.d == SQLite {
		// SQLite has one writer at a time and its busy handler is not
		// fair: under many writers one can starve past busy_timeout. Take
		// turns in this process first (cross-process writers still meet
		// the busy handler). A function that writes through the Store
		// instead of w would wait for itself: it gets an error, not a hang.
		t := time.NewTimer(sqliteWriteWait)
		defer t.Stop()
		select {
		case s.writeTurn <- struct{}{}:
			defer func() { <-s.writeTurn }()
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("iamsql: waited %v for this process's SQLite write turn (is a write made through the Store inside Update?)", sqliteWriteWait)
		}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	w := s.Writer(tx)
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			w.Committed() // the rolled-back writes changed nothing; dropping entries is only conservative
			panic(p)
		}
	}()
	if err := fn(tx, w); err != nil {
		_ = tx.Rollback()
		w.Committed()
		return err
	}
	err = tx.Commit()
	// After an error from Commit the outcome is unknown: drop the keys anyway.
	w.Committed()
	if err == nil {
		s.committed(w.rev)
	}
	return err
}

// sqliteWriteWait bounds the wait for a write turn.
const sqliteWriteWait = 30 * time.Second

// $N placeholders, rewritten to SQLite's ?N.
var placeholder = regexp.MustCompile(`\$(\d+)`)

func rebind(d Dialect, q string) string {
	if d == SQLite {
		return placeholder.ReplaceAllString(q, "?$1")
	}
	return q
}
