package iamsql_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// allowedIDs returns, sorted, the IDs among ids on which Check allows perm.
func allowedIDs(t *testing.T, c *iam.Checker, s iam.Subject, perm string, ref func(string) iam.Ref, ids []string) []string {
	t.Helper()
	var out []string
	for _, id := range ids {
		dec, err := c.Check(t.Context(), s, perm, ref(id))
		require.NoError(t, err, "Check %q", id)
		if dec.Allowed {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// sortedIDs runs an application query and returns its first column sorted
// in byte order (the application's collation may sort otherwise).
func sortedIDs(t *testing.T, s *iamsql.Store, q string, args ...any) []string {
	t.Helper()
	ids := queryIDs(t, s, q, args...)
	slices.Sort(ids)
	return ids
}

// contract 4c (a grant names its object, and Check compares IDs byte for
// byte): the filter keeps a row only when its ID is byte for byte one that
// a grant reaches, whatever the application column's collation: SQLite's
// NOCASE, or a nondeterministic (case-insensitive) ICU collation on
// PostgreSQL, where "col IN (...)" alone would match a grant on "p1" to the
// row "P1" (fail closed: no row that Check denies).
func TestAccessFilterColumnCollation(t *testing.T) {
	rows := []string{"P1", "p2", "IT'S", "P4", "p6"}
	tests := []struct {
		name  string
		open  opener
		setup []string // run before CREATE TABLE tags; a failure skips (no ICU)
		table string
	}{
		{"sqlite/NOCASE column", openSQLite, nil, `CREATE TABLE tags (id TEXT COLLATE NOCASE PRIMARY KEY)`},
		{"sqlite/plain column", openSQLite, nil, `CREATE TABLE tags (id TEXT PRIMARY KEY)`},
		{"postgres/nondeterministic ICU column", openPostgres,
			[]string{`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`},
			`CREATE TABLE tags (id TEXT COLLATE ci PRIMARY KEY)`},
		{"postgres/nondeterministic ICU varchar column", openPostgres,
			[]string{`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level1', deterministic = false)`},
			`CREATE TABLE tags (id VARCHAR(20) COLLATE ci PRIMARY KEY)`},
		{"postgres/plain column", openPostgres, nil, `CREATE TABLE tags (id TEXT PRIMARY KEY)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := tc.open(t, iamsql.DefaultOptions())
			c := afSetup(t, s)
			for _, stmt := range tc.setup {
				if _, err := s.DB().Exec(stmt); err != nil {
					t.Skipf("this server cannot %s: %v", stmt, err)
				}
			}
			_, err := s.DB().Exec(tc.table)
			require.NoError(t, err)
			for _, id := range rows {
				_, err := s.DB().Exec(bindFor(s, `INSERT INTO tags (id) VALUES ($1)`), id)
				require.NoError(t, err)
			}
			for _, sub := range []string{"ann", "bob", "frank"} {
				want := allowedIDs(t, c, user(sub), "blog.view_post", afRef, rows)
				for _, cast := range []bool{false, true} {
					f, err := iamsql.AccessFilter(ctx, c, user(sub), "blog.view_post",
						iamsql.FilterOptions{Type: "blog.post", Column: "tags.id", CastToText: cast})
					require.NoError(t, err)
					got := sortedIDs(t, s, `SELECT id FROM tags WHERE `+f.SQL, f.Args...)
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("%s, CastToText %v: the filter keeps what Check denies (-Check +filter):\n%s\nSQL: %s", sub, cast, diff, f.SQL)
					}
				}
			}
			// The fixture is not vacuous: ann may view p2 (section s1) but
			// neither P1 (her grant is on p1) nor IT'S (staff's is on it's).
			require.Equal(t, []string{"p2"}, allowedIDs(t, c, user("ann"), "blog.view_post", afRef, rows))
			require.Equal(t, []string{"p6"}, allowedIDs(t, c, user("bob"), "blog.view_post", afRef, rows))
		})
	}
}

// contract 4c, fail closed: on SQLite a column with INTEGER (or NUMERIC)
// affinity would convert a granted ID such as "042" or "4.2e1" to 42 and
// match item 42, which Check denies. Without CastToText such a column
// matches nothing on SQLite and is an error on PostgreSQL; with it the
// column compares by its text form, "42".
func TestAccessFilterTypeAffinity(t *testing.T) {
	lookAlikes := []string{"042", "4.2e1", "42.0", "+42", " 42", "42 ", "42e0", "0x2A", "42.", "00042"}
	itemIDs := []string{"1", "2", "10", "42"}
	tests := []struct {
		sub  string
		cast bool
		want []string // nil: no row
	}{
		{"zed", false, nil},            // every look-alike of 42, none of them "42"
		{"zed", true, nil},             //
		{"yuri", false, nil},           // "42" itself: without CastToText an INTEGER column matches nothing
		{"yuri", true, []string{"42"}}, //
		{"ann", false, nil},            // "2", "10" and "042"
		{"ann", true, []string{"10", "2"}},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			c := afSetup(t, s)
			for _, id := range lookAlikes {
				require.NoError(t, c.Grant(ctx, afGrant(iam.User("zed"), "shop.view_item", afItem(id))))
			}
			require.NoError(t, c.Grant(ctx, afGrant(iam.User("yuri"), "shop.view_item", afItem("42"))))
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s/cast=%v", tc.sub, tc.cast), func(t *testing.T) {
					f, err := iamsql.AccessFilter(ctx, c, user(tc.sub), "shop.view_item",
						iamsql.FilterOptions{Type: "shop.item", Column: "items.id", CastToText: tc.cast})
					require.NoError(t, err)
					q := `SELECT CAST(id AS TEXT) FROM items WHERE ` + f.SQL
					allowed := allowedIDs(t, c, user(tc.sub), "shop.view_item", afItem, itemIDs)
					if d.name == "postgres" && !tc.cast {
						// integer COLLATE "C": the query fails, it never lists.
						_, err := s.DB().QueryContext(ctx, q, f.Args...)
						require.Error(t, err, "an INTEGER column without CastToText")
						return
					}
					got := sortedIDs(t, s, q, f.Args...)
					if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("rows (-want +got):\n%s\nSQL: %s", diff, f.SQL)
					}
					for _, id := range got {
						require.Contains(t, allowed, id, "the filter keeps item %s, which Check denies", id)
					}
				})
			}
			require.Equal(t, []string{"42"}, allowedIDs(t, c, user("yuri"), "shop.view_item", afItem, itemIDs))
			require.Empty(t, allowedIDs(t, c, user("zed"), "shop.view_item", afItem, itemIDs))
		})
	}

	// A column without a type, or with NUMERIC affinity, keeps text values
	// that do not look like numbers as text: those compare exactly, the
	// numbers match nothing.
	t.Run("sqlite/mixed column", func(t *testing.T) {
		ctx := t.Context()
		s := openSQLite(t, iamsql.DefaultOptions())
		c := afSetup(t, s)
		require.NoError(t, c.Grant(ctx, afGrant(iam.User("zed"), "blog.view_post", afRef("042"))))
		require.NoError(t, c.Grant(ctx, afGrant(iam.User("zed"), "blog.view_post", afRef("p1"))))
		for _, decl := range []string{"", "NUMERIC", "INTEGER"} {
			_, err := s.DB().Exec(`DROP TABLE IF EXISTS things; CREATE TABLE things (id ` + decl + `)`)
			require.NoError(t, err)
			_, err = s.DB().Exec(`INSERT INTO things (id) VALUES ('p1'), ('P1'), (42), ('042')`)
			require.NoError(t, err)
			f, err := iamsql.AccessFilter(ctx, c, user("zed"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "things.id"})
			require.NoError(t, err)
			want := []string{"p1"}
			if decl == "" {
				want = []string{"042", "p1"} // no affinity: '042' stays the text "042"
			}
			require.Equal(t, want, sortedIDs(t, s, `SELECT CAST(id AS TEXT) FROM things WHERE `+f.SQL, f.Args...), "column type %q", decl)
		}
	})
}

// Fail closed on the one piece of caller text in the clause: an unqualified
// Column that SQL reads as a value (user, current_user, current_date, ...)
// would compare a constant, and every row would pass when a grant's ID
// equalled it. Such names are rejected with iam.ErrInvalid, in any case;
// qualified, they name a column and work.
func TestAccessFilterKeywordColumn(t *testing.T) {
	keywords := []string{
		"user", "current_user", "session_user", "system_user", "current_role",
		"current_catalog", "current_schema", "current_date", "current_time",
		"current_timestamp", "localtime", "localtimestamp", "null", "true", "false", "default",
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			c := afSetup(t, s)
			// The constant the keyword would read as, granted: before the
			// check, Column "current_user" let every post through.
			var me string
			q := `SELECT current_user`
			if s.Dialect() == iamsql.SQLite {
				q = `SELECT current_date`
			}
			require.NoError(t, s.DB().QueryRow(q).Scan(&me))
			require.NoError(t, c.Grant(ctx, afGrant(iam.User("zed"), "blog.view_post", afRef(me))))
			for _, kw := range keywords {
				for _, col := range []string{kw, strings.ToUpper(kw), strings.ToUpper(kw[:1]) + kw[1:]} {
					t.Run(col, func(t *testing.T) {
						f, err := iamsql.AccessFilter(ctx, c, user("zed"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: col})
						require.ErrorIs(t, err, iam.ErrInvalid)
						require.Zero(t, f)
					})
				}
			}

			// Qualified, the same names are the application's columns.
			_, err := s.DB().Exec(`CREATE TABLE accounts (id TEXT PRIMARY KEY, "user" TEXT NOT NULL, "current_user" TEXT NOT NULL, "current_date" TEXT NOT NULL)`)
			require.NoError(t, err)
			for _, r := range [][4]string{{"a1", "p1", "p2", me}, {"a2", "P1", me, "p3"}, {"a3", me, "x", "it's"}} {
				_, err := s.DB().Exec(bindFor(s, `INSERT INTO accounts VALUES ($1, $2, $3, $4)`), r[0], r[1], r[2], r[3])
				require.NoError(t, err)
			}
			for _, tc := range []struct {
				col  string
				sub  string
				want []string
			}{
				{"a.user", "ann", []string{"a1"}},
				{"a.user", "zed", []string{"a3"}},
				{"a.current_user", "ann", []string{"a1"}},
				{"a.current_user", "zed", []string{"a2"}},
				{"accounts.current_date", "ann", []string{"a2", "a3"}},
				{"a.id", "ann", nil},
			} {
				col := tc.col
				f, err := iamsql.AccessFilter(ctx, c, user(tc.sub), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: col})
				require.NoError(t, err, "column %q", col)
				from := `accounts a`
				if strings.HasPrefix(col, "accounts.") {
					from = `accounts`
				}
				got := sortedIDs(t, s, `SELECT id FROM `+from+` WHERE `+f.SQL, f.Args...)
				require.Equal(t, tc.want, got, "%s on %s", tc.sub, tc.col)
			}
			// p.id, the ordinary case, is unchanged.
			f, err := iamsql.AccessFilter(ctx, c, user("zed"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "p.id"})
			require.NoError(t, err)
			require.Empty(t, queryIDs(t, s, `SELECT p.id FROM posts p WHERE `+f.SQL, f.Args...))
			f, err = iamsql.AccessFilter(ctx, c, user("ann"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "p.id"})
			require.NoError(t, err)
			require.Equal(t, []string{"it's", "p1", "p2", "p3", "p4"}, sortedIDs(t, s, `SELECT p.id FROM posts p WHERE `+f.SQL, f.Args...))
		})
	}
}

// contract 4b, 4c: an object with 70 recorded parents, a local role or a
// grant on one of them. A check follows an ancestry up to 4,096 refs wide,
// so Check allows, ListObjects lists the object, and the AccessFilter rows
// include it, on SQLite, PostgreSQL and the memory store alike.
func TestWideAncestryAgrees(t *testing.T) {
	var parents []iam.Ref
	for i := range 70 {
		parents = append(parents, iam.Ref{Type: "folder", ID: fmt.Sprintf("f%02d", i)})
	}
	tests := []struct {
		name  string
		grant iam.Grant
		want  bool
	}{
		{"local role on the last parent (4b)", iam.Grant{Holder: iam.User("ann"), Role: "doc.viewer", On: parents[69]}, true},
		{"local role on the first parent (4b)", iam.Grant{Holder: iam.User("ann"), Role: "doc.viewer", On: parents[0]}, true},
		{"grant on a middle parent (4c)", iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: parents[35]}, true},
		{"group's local role on the last parent (4b)", iam.Grant{Holder: iam.Group("staff"), Role: "doc.editor", On: parents[69]}, true},
		{"someone else's role on the last parent", iam.Grant{Holder: iam.User("bob"), Role: "doc.viewer", On: parents[69]}, false},
		{"a grant on an unrelated folder", iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: iam.Ref{Type: "folder", ID: "f70"}}, false},
	}
	stores := []struct {
		name string
		open func(t *testing.T) (iam.Store, *iamsql.Store)
	}{
		{"memory", func(*testing.T) (iam.Store, *iamsql.Store) { return iam.NewMemoryStore(), nil }},
		{"sqlite", func(t *testing.T) (iam.Store, *iamsql.Store) {
			s := openSQLite(t, iamsql.DefaultOptions())
			return s, s
		}},
		{"postgres", func(t *testing.T) (iam.Store, *iamsql.Store) {
			s := openPostgres(t, iamsql.DefaultOptions())
			return s, s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := t.Context()
					store, sqlStore := st.open(t)
					c, err := iam.New(policy, store)
					require.NoError(t, err)
					ps := store.(iam.ParentStore)
					require.NoError(t, ps.SetParents(ctx, doc("d"), parents))
					require.NoError(t, store.AddMember(ctx, "ann", "staff"))
					require.NoError(t, store.Grant(ctx, tc.grant))
					var want []string
					if tc.want {
						want = []string{"d"}
					}

					dec, err := c.Check(ctx, user("ann"), "doc.view", doc("d"))
					require.NoError(t, err)
					require.Equal(t, tc.want, dec.Allowed, "Check")
					l, err := c.ListObjects(ctx, user("ann"), "doc.view", "doc", iam.ListOptions{})
					require.NoError(t, err)
					require.False(t, l.All)
					require.Equal(t, tc.want, slices.Contains(l.IDs, "d"), "ListObjects %v", l.IDs)
					if sqlStore == nil {
						return
					}
					_, err = sqlStore.DB().Exec(`CREATE TABLE docs (id TEXT PRIMARY KEY)`)
					require.NoError(t, err)
					_, err = sqlStore.DB().Exec(`INSERT INTO docs VALUES ('d'), ('x')`)
					require.NoError(t, err)
					f, err := iamsql.AccessFilter(ctx, c, user("ann"), "doc.view", iamsql.FilterOptions{Type: "doc", Column: "id"})
					require.NoError(t, err)
					got := sortedIDs(t, sqlStore, `SELECT id FROM docs WHERE `+f.SQL, f.Args...)
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("AccessFilter rows (-Check +filter):\n%s", diff)
					}
				})
			}
		})
	}
}
