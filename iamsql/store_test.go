package iamsql_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
	"github.com/iamgo/iam/iamsql"
	"github.com/iamgo/iam/iamtest"
)

var (
	viewer = &iam.Role{Name: "doc.viewer", Perms: []string{"doc.view"}}
	editor = &iam.Role{Name: "doc.editor", Perms: []string{"doc.edit"}, Includes: []*iam.Role{viewer}}
	policy = iam.Policy{
		Roles: []*iam.Role{viewer, editor},
		Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}, {Name: "doc.edit", Types: []string{"doc"}}},
	}
)

type user string

func (u user) SubjectID() string { return string(u) }

func doc(id string) iam.Ref { return iam.Ref{Type: "doc", ID: id} }

type opener func(t testing.TB, opts iamsql.Options) *iamsql.Store

var dialects = []struct {
	name string
	open opener
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

// Every store runs the conformance suite, with and without the cache.
func TestConformance(t *testing.T) {
	for _, d := range dialects {
		for _, c := range []struct {
			name string
			opts iamsql.Options
		}{
			{"cached", iamsql.DefaultOptions()},
			{"uncached", iamsql.Options{}},
		} {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				iamtest.TestStore(t, func(t *testing.T) iam.Store { return d.open(t, c.opts) })
			})
		}
	}
}

func TestMigrations(t *testing.T) {
	for _, d := range []iamsql.Dialect{iamsql.SQLite, iamsql.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			ms, err := iamsql.Migrations(d)
			require.NoError(t, err)
			require.Len(t, ms, iamsql.SchemaVersion(d))
			require.Equal(t, 1, ms[0].Version)
			require.Contains(t, ms[0].SQL, "CREATE TABLE iam_grants")
			script, err := iamsql.MigrationScript(d)
			require.NoError(t, err)
			require.Contains(t, script, "INSERT INTO iam_schema_migrations")
		})
	}
	_, err := iamsql.Migrations(iamsql.Dialect(9))
	require.ErrorIs(t, err, iamsql.ErrDialect)

	t.Run("sqlite/reopen is idempotent", func(t *testing.T) {
		path := t.TempDir() + "/iam.db"
		ctx := context.Background()
		s, err := iamsql.OpenSQLiteWith(ctx, path, iamsql.Options{})
		require.NoError(t, err)
		require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("a"), Perm: "doc.view", On: doc("1")}))
		require.NoError(t, s.Close())
		s, err = iamsql.OpenSQLiteWith(ctx, path, iamsql.Options{})
		require.NoError(t, err)
		defer s.Close()
		gs, err := s.Grants(ctx, doc("1"))
		require.NoError(t, err)
		require.Equal(t, 1, gs.Len())
	})

	t.Run("sqlite/SkipMigrations", func(t *testing.T) {
		ctx := context.Background()
		db, err := sql.Open("sqlite", "file:"+t.TempDir()+"/iam.db")
		require.NoError(t, err)
		defer db.Close()
		_, err = iamsql.Open(ctx, db, iamsql.SQLite, iamsql.Options{SkipMigrations: true})
		require.ErrorIs(t, err, iamsql.ErrSchema, "an empty database is not current")
		// A team applies the printed script with its own tool...
		script, err := iamsql.MigrationScript(iamsql.SQLite)
		require.NoError(t, err)
		_, err = db.Exec(script)
		require.NoError(t, err)
		// ...then opens without migrating.
		s, err := iamsql.Open(ctx, db, iamsql.SQLite, iamsql.Options{SkipMigrations: true})
		require.NoError(t, err)
		require.NoError(t, s.AddMember(ctx, "a", "g"))
	})

	t.Run("postgres/concurrent opens migrate once", func(t *testing.T) {
		dsn, ch := pgSchema(t)
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				s, err := iamsql.OpenPostgresWith(context.Background(), dsn, iamsql.Options{Channel: ch})
				if err == nil {
					err = s.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			require.NoError(t, <-errs)
		}
	})
}

// contract 18: grants written in the application's own transaction commit or
// roll back with the application's rows.
func TestAppTransaction(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := d.open(t, iamsql.DefaultOptions())
			c, err := iam.New(policy, s)
			require.NoError(t, err)
			db := s.DB()
			_, err = db.Exec(`CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT NOT NULL)`)
			require.NoError(t, err)
			ins := `INSERT INTO posts (id, title) VALUES ($1, $2)`
			if s.Dialect() == iamsql.SQLite {
				ins = `INSERT INTO posts (id, title) VALUES (?1, ?2)`
			}

			// Rolled back: neither the row nor the grant exists.
			require.False(t, c.HasPerm(ctx, user("ann"), "doc.edit", doc("p1")), "warm the cache with a denial")
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			w := s.Writer(tx)
			_, err = tx.ExecContext(ctx, ins, "p1", "draft")
			require.NoError(t, err)
			require.NoError(t, w.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Role: "doc.editor", On: doc("p1")}))
			require.NoError(t, tx.Rollback())
			w.Committed()
			require.False(t, c.HasPerm(ctx, user("ann"), "doc.edit", doc("p1")))
			require.False(t, c.HasPerm(iamcache.Fresh(ctx), user("ann"), "doc.edit", doc("p1")))
			var n int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM posts`).Scan(&n))
			require.Equal(t, 0, n)

			// Store.Update: the application's statement and the grant commit together.
			err = s.Update(ctx, func(tx *sql.Tx, w *iamsql.Writer) error {
				if _, err := tx.ExecContext(ctx, ins, "p1", "hello"); err != nil {
					return err
				}
				return w.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Role: "doc.editor", On: doc("p1")})
			})
			require.NoError(t, err)
			require.True(t, c.HasPerm(ctx, user("ann"), "doc.edit", doc("p1")), "contract 15: visible once Update returns")

			// A failing Update rolls back the grant with the row.
			boom := errors.New("boom")
			err = s.Update(ctx, func(tx *sql.Tx, w *iamsql.Writer) error {
				if _, err := tx.ExecContext(ctx, ins, "p2", "x"); err != nil {
					return err
				}
				if err := w.Grant(ctx, iam.Grant{Holder: iam.User("bob"), Perm: "doc.view", On: doc("p2")}); err != nil {
					return err
				}
				return boom
			})
			require.ErrorIs(t, err, boom)
			require.False(t, c.HasPerm(ctx, user("bob"), "doc.view", doc("p2")))
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM posts`).Scan(&n))
			require.Equal(t, 1, n)

			// Deleting an object's grants is one call.
			require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Perm: "doc.view", On: doc("p1")}))
			require.NoError(t, s.DeleteGrantsOn(ctx, doc("p1")))
			gs, err := s.Grants(iamcache.Fresh(ctx), doc("p1"))
			require.NoError(t, err)
			require.Equal(t, 0, gs.Len())
			require.False(t, c.HasPerm(ctx, user("ann"), "doc.edit", doc("p1")))
		})
	}
}

// Profiles round-trip through SQL exactly (expiry to the microsecond, data).
func TestProfileRoundTrip(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := d.open(t, iamsql.Options{})
			exp := time.Date(2031, 2, 3, 4, 5, 6, 789123000, time.UTC)
			want := []iam.Profile{
				{Holder: iam.User("Ann"), Role: "doc.editor", Active: true, ExpiresAt: exp, Data: []byte(`{"dept":"news"}`)},
				{Holder: iam.User("Ann"), Role: "doc.viewer", Active: false},
			}
			for _, p := range want {
				require.NoError(t, s.PutProfile(ctx, p))
			}
			require.NoError(t, s.AddMember(ctx, "Ann", "staff"))
			h, err := s.Holding(ctx, iam.User("Ann"))
			require.NoError(t, err)
			got := h.Profiles()
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("profiles (-want +got):\n%s", diff)
			}
			require.Equal(t, []string{"staff"}, h.Groups())
			h, err = s.Holding(ctx, iam.User("ann"))
			require.NoError(t, err)
			require.Nil(t, h, `"ann" is not "Ann"`)
		})
	}
}

func TestPayloadFallback(t *testing.T) {
	// A bulk change whose keys would not fit a NOTIFY payload names only
	// its revision: the other replica reads the keys back from the change
	// log and drops exactly them, not its whole cache.
	ctx := context.Background()
	a, b := twoStores(t)
	long := strings.Repeat("x", 9000) // compresses, so PostgreSQL can index it
	cb, err := iam.New(policy, b)
	require.NoError(t, err)
	g := iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc(long)}
	require.NoError(t, a.Grant(ctx, g))
	other := iam.Grant{Holder: iam.User("bob"), Perm: "doc.view", On: doc("1")}
	require.NoError(t, a.Grant(ctx, other))
	eventually(t, func() bool { return b.ListenerStats().Applied >= 2 }, "b has applied both grants")
	require.True(t, cb.HasPerm(ctx, user("ann"), "doc.view", doc(long)))
	require.True(t, cb.HasPerm(ctx, user("bob"), "doc.view", doc("1")))
	before := b.ListenerStats()
	require.NoError(t, a.Revoke(ctx, g))
	eventually(t, func() bool { return !cb.HasPerm(ctx, user("ann"), "doc.view", doc(long)) }, "contract 16: b drops the revoked grant")
	after := b.ListenerStats()
	require.Equal(t, before.DropAll, after.DropAll, "no whole-cache drop")
	require.Greater(t, after.CatchUps, before.CatchUps, "the keys came from the change log")
	hits := b.Cache().Stats().Hits
	require.True(t, cb.HasPerm(ctx, user("bob"), "doc.view", doc("1")))
	require.Greater(t, b.Cache().Stats().Hits, hits, "bob's entry stayed cached")
}
