package iamsql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// Connection pools: a Manager change (Store.Transact) reads through its own
// transaction and the PostgreSQL listener has a connection of its own, so a
// pool of one connection works and k concurrent changes need no more than k
// connections. Every test bounds its waits with poolDeadline: a deadlock
// fails the test (a context deadline) instead of hanging it. The bound is a
// liveness guard, not a performance target.

const poolDeadline = 30 * time.Second

var (
	poolReader = &iam.Role{Name: "x.reader", Perms: []string{"x.read"}}
	poolAdmin  = &iam.Role{Name: "x.admin", Perms: []string{iam.PermManageRoles, iam.PermManageGrants, "x.read"}}
	poolOwner  = &iam.Role{Name: "x.owner", Perms: []string{"x.read"}, Protected: true}
	poolPolicy = iam.Policy{
		Roles: []*iam.Role{poolReader, poolAdmin, poolOwner},
		Perms: []iam.Perm{{Name: "x.read"}, {Name: iam.PermManageRoles}, {Name: iam.PermManageGrants}},
	}
)

// poolUser is a subject; poolRoot a superuser.
type poolUser string

func (u poolUser) SubjectID() string { return string(u) }

type poolRoot string

func (r poolRoot) SubjectID() string { return string(r) }
func (r poolRoot) IsSuperuser() bool { return true }

const (
	poolActor = poolUser("admin") // not a superuser: it holds x.admin globally
	poolStaff = "staff"           // a group holding x.reader and a global grant of x.read
)

// poolWorld is a checker and a Manager over one store, seeded through the
// trusted write path: the actor holds x.admin through an active global
// profile and a global grant of x.read (passing a global permission grant
// on needs the actor's own), the staff group holds x.reader and a global
// grant of x.read, and "owner" holds the Protected role x.owner.
type poolWorld struct {
	c *iam.Checker
	m *iam.Manager
}

func newPoolWorld(t *testing.T, ctx context.Context, s iam.Store) poolWorld {
	t.Helper()
	c, err := iam.New(poolPolicy, s)
	require.NoError(t, err)
	global := iam.GlobalScope()
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User(string(poolActor)), Role: "x.admin", Active: true}))
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User(string(poolActor)), Perm: "x.read", On: global}))
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.Group(poolStaff), Role: "x.reader", Active: true}))
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.Group(poolStaff), Perm: "x.read", On: global}))
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("owner"), Role: "x.owner", Active: true}))
	m := iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler)})
	return poolWorld{c: c, m: m}
}

// changes makes one Manager change of each kind on target (never the
// actor), each followed by a check of its effect. It returns the first
// failure; it does not call t (it runs in goroutines too).
func (w poolWorld) changes(ctx context.Context, target string) error {
	who := iam.User(target)
	g := iam.Grant{Holder: who, Perm: "x.read", On: iam.GlobalScope()}
	steps := []struct {
		name   string
		change func() error
		want   bool // target holds x.read afterwards
	}{
		{"AssignRole", func() error {
			return w.m.AssignRole(ctx, poolActor, iam.Profile{Holder: who, Role: "x.reader", Active: true})
		}, true},
		{"SetRoleActive(false)", func() error { return w.m.SetRoleActive(ctx, poolActor, who, "x.reader", false) }, false},
		{"SetRoleActive(true)", func() error { return w.m.SetRoleActive(ctx, poolActor, who, "x.reader", true) }, true},
		{"RemoveRole", func() error { return w.m.RemoveRole(ctx, poolActor, who, "x.reader") }, false},
		{"Grant (global permission)", func() error { return w.m.Grant(ctx, poolActor, g) }, true},
		{"Revoke (global permission)", func() error { return w.m.Revoke(ctx, poolActor, g) }, false},
		{"AddMember", func() error { return w.m.AddMember(ctx, poolActor, target, poolStaff) }, true},
		{"RemoveMember", func() error { return w.m.RemoveMember(ctx, poolActor, target, poolStaff) }, false},
		// A superuser's change of a Protected role: the last-holder rule
		// lists the role's profiles (RoleProfiles) inside the transaction.
		{"AssignRole (Protected, superuser)", func() error {
			return w.m.AssignRole(ctx, poolRoot("root"), iam.Profile{Holder: who, Role: "x.owner", Active: true})
		}, true},
		{"RemoveRole (Protected, superuser)", func() error { return w.m.RemoveRole(ctx, poolRoot("root"), who, "x.owner") }, false},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			return fmt.Errorf("%s of %s: %w", st.name, target, err)
		}
		if got := w.c.HasPerm(ctx, poolUser(target), "x.read", nil); got != st.want {
			return fmt.Errorf("after %s of %s: HasPerm(x.read) = %v, want %v", st.name, target, got, st.want)
		}
	}
	return nil
}

// checkRefusals: the rules still run inside the transaction (a refusal is
// an error, not a hang, and writes nothing).
func (w poolWorld) checkRefusals(t *testing.T, ctx context.Context) {
	t.Helper()
	err := w.m.AssignRole(ctx, poolActor, iam.Profile{Holder: iam.User("mallory"), Role: "x.owner", Active: true})
	require.ErrorIs(t, err, iam.ErrProtected)
	err = w.m.AssignRole(ctx, poolActor, iam.Profile{Holder: iam.User(string(poolActor)), Role: "x.reader", Active: true})
	require.ErrorIs(t, err, iam.ErrSelfChange)
	require.False(t, w.c.HasPerm(ctx, poolUser("mallory"), "x.read", nil))
}

// openSQLitePool opens a SQLite database file through a *sql.DB of the
// caller's making, with at most conns connections. immediate chooses
// _txlock=immediate (BEGIN takes the write lock) or SQLite's deferred
// BEGIN.
func openSQLitePool(t *testing.T, ctx context.Context, conns int, immediate bool) *iamsql.Store {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "iam.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	if immediate {
		dsn += "&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(conns)
	s, err := iamsql.Open(ctx, db, iamsql.SQLite, iamsql.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openPostgresPool opens a Store with the default options (a cache, hence
// the listener) over a *sql.DB of at most conns connections, on a fresh
// schema.
func openPostgresPool(t *testing.T, ctx context.Context, conns int) (s *iamsql.Store, dsn, channel string) {
	t.Helper()
	dsn, channel = pgSchema(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(conns)
	opts := iamsql.DefaultOptions()
	opts.Channel = channel
	s, err = iamsql.Open(ctx, db, iamsql.Postgres, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NotNil(t, s.Cache(), "DefaultOptions have a cache")
	require.Equal(t, uint64(1), s.ListenerStats().Connects, "a cached PostgreSQL store listens")
	return s, dsn, channel
}

// A non-superuser's Manager changes on a SQLite store whose pool has one
// connection (":memory:" has one; a file opened with
// SetMaxOpenConns(1)) or the default pool complete.
func TestPoolSQLiteManagerChanges(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T, ctx context.Context) *iamsql.Store
	}{
		{":memory:", func(t *testing.T, ctx context.Context) *iamsql.Store { return openSQLiteAt(t, ctx, ":memory:") }},
		{"file", func(t *testing.T, ctx context.Context) *iamsql.Store {
			return openSQLiteAt(t, ctx, filepath.Join(t.TempDir(), "iam.db"))
		}},
		{"file, pool of 1", func(t *testing.T, ctx context.Context) *iamsql.Store { return openSQLitePool(t, ctx, 1, true) }},
		{"file, pool of 1, deferred BEGIN", func(t *testing.T, ctx context.Context) *iamsql.Store {
			return openSQLitePool(t, ctx, 1, false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), poolDeadline)
			defer cancel()
			s := tt.open(t, ctx)
			w := newPoolWorld(t, ctx, s)
			require.NoError(t, w.changes(ctx, "bob"))
			w.checkRefusals(t, ctx)
			require.NoError(t, ctx.Err())
		})
	}
}

func openSQLiteAt(t *testing.T, ctx context.Context, path string) *iamsql.Store {
	t.Helper()
	s, err := iamsql.OpenSQLiteWith(ctx, path, iamsql.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// On PostgreSQL with SetMaxOpenConns(1) and the listener running: the
// listener's connection is not the pool's, the Manager's changes complete,
// and a revocation through this store reaches a second Store on the same
// database by NOTIFY.
func TestPoolPostgresOneConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), poolDeadline)
	defer cancel()
	s, dsn, ch := openPostgresPool(t, ctx, 1)
	st := s.DB().Stats()
	require.Equal(t, 1, st.MaxOpenConnections)
	require.Zero(t, st.InUse, "the listener holds no connection of the pool")

	// The listener's backend shows its LISTEN (operators, and
	// TestListenerSurvivesTerminate, find it so).
	var listeners int
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND position($1 in query) > 0 AND pid <> pg_backend_pid()`, ch).Scan(&listeners))
	require.Equal(t, 1, listeners)

	w := newPoolWorld(t, ctx, s)
	require.NoError(t, w.changes(ctx, "bob"))
	w.checkRefusals(t, ctx)

	// A second Store (a replica) whose cache keeps entries for an hour:
	// only the NOTIFY sent by this store can make it deny.
	b, err := iamsql.OpenPostgresWith(ctx, dsn, iamsql.Options{CacheTTL: time.Hour, Channel: ch})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	cb, err := iam.New(poolPolicy, b)
	require.NoError(t, err)
	g := iam.Grant{Holder: iam.User("cat"), Perm: "x.read", On: iam.GlobalScope()}
	require.NoError(t, w.m.Grant(ctx, poolActor, g))
	poolEventually(t, ctx, func() bool { return cb.HasPerm(ctx, poolUser("cat"), "x.read", nil) }, "the replica sees the grant")
	notes := b.ListenerStats().Notifications
	require.NoError(t, w.m.Revoke(ctx, poolActor, g))
	poolEventually(t, ctx, func() bool { return !cb.HasPerm(ctx, poolUser("cat"), "x.read", nil) }, "the replica sees the revocation")
	require.Greater(t, b.ListenerStats().Notifications, notes, "by notification")

	// And the other way: the pool-of-one store hears the replica.
	require.False(t, w.c.HasPerm(ctx, poolUser("dan"), "x.read", nil))
	notes = s.ListenerStats().Notifications
	require.NoError(t, b.Grant(ctx, iam.Grant{Holder: iam.User("dan"), Perm: "x.read", On: iam.GlobalScope()}))
	poolEventually(t, ctx, func() bool { return s.ListenerStats().Notifications > notes }, "the pool-of-one store hears the replica's write")
	require.True(t, w.c.HasPerm(ctx, poolUser("dan"), "x.read", nil))
	require.NoError(t, ctx.Err())
}

// The listener of a pool-of-one store reconnects when its backend is
// killed (borrowing the pool's only connection just long enough to copy its
// settings), and the Manager goes on working.
func TestPoolPostgresListenerReconnects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), poolDeadline)
	defer cancel()
	s, _, ch := openPostgresPool(t, ctx, 1)
	w := newPoolWorld(t, ctx, s)
	before := s.ListenerStats().Connects
	var killed int
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND position($1 in query) > 0 AND pid <> pg_backend_pid()`, ch).Scan(&killed))
	require.Equal(t, 1, killed)
	poolEventually(t, ctx, func() bool { return s.ListenerStats().Connects > before }, "the listener reconnects")
	require.Zero(t, s.DB().Stats().InUse, "and gave the pool's connection back")
	require.NoError(t, w.changes(ctx, "bob"))
	require.NoError(t, ctx.Err())
}

// The heartbeat, which also checks that the LISTEN is still in effect,
// does not make a healthy listener reconnect.
func TestPoolPostgresHeartbeatKeepsListening(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), poolDeadline)
	defer cancel()
	dsn, ch := pgSchema(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1)
	s, err := iamsql.Open(ctx, db, iamsql.Postgres,
		iamsql.Options{CacheTTL: time.Hour, Channel: ch, ListenHeartbeat: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	c, err := iam.New(poolPolicy, s)
	require.NoError(t, err)
	require.False(t, c.HasPerm(ctx, poolUser("ann"), "x.read", nil)) // cached

	// Many heartbeats pass (no wall-clock assertion: they are counted by
	// what they must not do).
	time.Sleep(700 * time.Millisecond)
	require.Equal(t, iamsql.ListenerStats{Connects: 1}, s.ListenerStats())

	// Another process's write (a plain connection, not a Store) arrives.
	other, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	o, err := iamsql.Open(ctx, other, iamsql.Postgres, iamsql.Options{Channel: ch})
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	require.NoError(t, o.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "x.read", On: iam.GlobalScope()}))
	poolEventually(t, ctx, func() bool { return c.HasPerm(ctx, poolUser("ann"), "x.read", nil) }, "the notification arrives")
	require.Equal(t, uint64(1), s.ListenerStats().Connects)
}

// k goroutines each make a series of Manager changes at once (distinct
// targets) on a pool of k+1 connections (and of k, and of 1): all complete
// without error.
func TestPoolConcurrentManagerChanges(t *testing.T) {
	const k = 4
	tests := []struct {
		name string
		open func(t *testing.T, ctx context.Context) *iamsql.Store
	}{
		{"sqlite file", func(t *testing.T, ctx context.Context) *iamsql.Store { return openSQLitePool(t, ctx, k+1, true) }},
		{"sqlite file, deferred BEGIN", func(t *testing.T, ctx context.Context) *iamsql.Store {
			return openSQLitePool(t, ctx, k+1, false)
		}},
		{"postgres", func(t *testing.T, ctx context.Context) *iamsql.Store {
			s, _, _ := openPostgresPool(t, ctx, k+1)
			return s
		}},
		// The database's default isolation does not apply to Transact
		// (READ COMMITTED: each read sees the previous change's commit).
		{"postgres, serializable by default", func(t *testing.T, ctx context.Context) *iamsql.Store {
			dsn, ch := pgSchema(t)
			u, err := url.Parse(dsn)
			require.NoError(t, err)
			q := u.Query()
			q.Set("default_transaction_isolation", "serializable")
			u.RawQuery = q.Encode()
			db, err := sql.Open("pgx", u.String())
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			db.SetMaxOpenConns(k + 1)
			var iso string
			require.NoError(t, db.QueryRowContext(ctx, `SHOW default_transaction_isolation`).Scan(&iso))
			require.Equal(t, "serializable", iso)
			opts := iamsql.DefaultOptions()
			opts.Channel = ch
			s, err := iamsql.Open(ctx, db, iamsql.Postgres, opts)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		// Fewer connections than changes at once: they take turns.
		{"sqlite file, pool of k", func(t *testing.T, ctx context.Context) *iamsql.Store { return openSQLitePool(t, ctx, k, true) }},
		{"sqlite file, pool of 1", func(t *testing.T, ctx context.Context) *iamsql.Store { return openSQLitePool(t, ctx, 1, true) }},
		{"postgres, pool of 1", func(t *testing.T, ctx context.Context) *iamsql.Store {
			s, _, _ := openPostgresPool(t, ctx, 1)
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), poolDeadline)
			defer cancel()
			s := tt.open(t, ctx)
			w := newPoolWorld(t, ctx, s)
			errs := make([]error, k)
			var wg sync.WaitGroup
			for i := range k {
				wg.Go(func() {
					for round := range 3 {
						if err := w.changes(ctx, fmt.Sprintf("u%d", i)); err != nil {
							errs[i] = fmt.Errorf("round %d: %w", round, err)
							return
						}
					}
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			require.NoError(t, ctx.Err())
		})
	}
}

// poolEventually waits for cond until ctx's deadline (a liveness bound).
func poolEventually(t *testing.T, ctx context.Context, cond func() bool, msg string) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not before the deadline: %v", msg, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// A Transact function's reads, on a pool of one connection, run on its
// transaction: they see its own earlier writes and what was committed
// before; after a rollback nothing of them remains.
func TestPoolTransactReadsItsOwnWrites(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T, ctx context.Context) *iamsql.Store
	}{
		{"sqlite :memory:", func(t *testing.T, ctx context.Context) *iamsql.Store { return openSQLiteAt(t, ctx, ":memory:") }},
		{"postgres, pool of 1", func(t *testing.T, ctx context.Context) *iamsql.Store {
			s, _, _ := openPostgresPool(t, ctx, 1)
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), poolDeadline)
			defer cancel()
			s := tt.open(t, ctx)
			ann, staff := iam.User("ann"), iam.Group("staff")
			committed := iam.Grant{Holder: staff, Perm: "x.read", On: iam.GlobalScope()}
			require.NoError(t, s.Grant(ctx, committed))
			g := iam.Grant{Holder: ann, Role: "x.reader", On: doc("1")}
			boom := errors.New("roll back")
			for _, fail := range []bool{false, true} {
				err := s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
					require.NoError(t, tx.PutProfile(ctx, iam.Profile{Holder: ann, Role: "x.owner", Active: true}))
					require.NoError(t, tx.AddMember(ctx, "ann", "staff"))
					require.NoError(t, tx.Grant(ctx, g))
					require.NoError(t, tx.(iam.ParentStore).SetParents(ctx, doc("1"), []iam.Ref{doc("folder")}))

					h, err := tx.Holding(ctx, ann)
					require.NoError(t, err)
					require.Equal(t, []string{"staff"}, h.Groups())
					require.Len(t, h.Profiles(), 1)
					gs, err := tx.Grants(ctx, doc("1"))
					require.NoError(t, err)
					require.Equal(t, []iam.Grant{g}, gs.Grants(doc("1")))
					ps, err := tx.(iam.ParentStore).Parents(ctx, doc("1"))
					require.NoError(t, err)
					require.Equal(t, []iam.Ref{doc("folder")}, ps)
					rp, err := tx.(iam.RoleLister).RoleProfiles(ctx, "x.owner")
					require.NoError(t, err)
					require.Len(t, rp, 1)
					require.Equal(t, ann, rp[0].Holder)
					held, err := tx.(iam.HolderGrantLister).GrantsHeldBy(ctx, ann)
					require.NoError(t, err)
					require.Equal(t, []iam.Grant{g}, held)
					held, err = tx.(iam.HolderGrantLister).GrantsHeldBy(ctx, staff)
					require.NoError(t, err)
					require.Equal(t, []iam.Grant{committed}, held, "committed before the transaction")
					if fail {
						require.NoError(t, tx.Revoke(ctx, g))
						return boom
					}
					return nil
				})
				if fail {
					require.ErrorIs(t, err, boom)
				} else {
					require.NoError(t, err)
				}
			}
			// The first transaction committed; the second rolled back.
			held, err := s.GrantsHeldBy(ctx, ann)
			require.NoError(t, err)
			require.Equal(t, []iam.Grant{g}, held)
			require.NoError(t, ctx.Err())
		})
	}
}
