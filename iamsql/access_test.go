package iamsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// accessDialects are the stores the access queries run on: SQLite,
// PostgreSQL, and PostgreSQL whose ID columns have a linguistic (ICU)
// collation, where "a" sorts before "B": the queries must still answer in
// byte order.
var accessDialects = []struct {
	name string
	open opener
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
	{"postgres-icu", openPostgresICU},
}

// openPostgresICU opens a PostgreSQL store and gives every ID column of the
// iam tables the ICU root collation (skipped when the server has no ICU).
func openPostgresICU(t testing.TB, opts iamsql.Options) *iamsql.Store {
	t.Helper()
	s := openPostgres(t, opts)
	var n int
	require.NoError(t, s.DB().QueryRow(`SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'`).Scan(&n))
	if n == 0 {
		t.Skip("this PostgreSQL has no ICU collation und-x-icu")
	}
	for _, stmt := range []string{
		`ALTER TABLE iam_grants ALTER COLUMN obj_id TYPE TEXT COLLATE "und-x-icu"`,
		`ALTER TABLE iam_parents ALTER COLUMN obj_id TYPE TEXT COLLATE "und-x-icu", ALTER COLUMN parent_id TYPE TEXT COLLATE "und-x-icu"`,
		`ALTER TABLE iam_members ALTER COLUMN user_id TYPE TEXT COLLATE "und-x-icu"`,
	} {
		_, err := s.DB().Exec(stmt)
		require.NoError(t, err)
	}
	return s
}

// numbered rewrites the $N placeholders of a test's own SQL to SQLite's ?N.
var numbered = regexp.MustCompile(`\$(\d+)`)

func bindFor(s *iamsql.Store, q string) string {
	if s.Dialect() == iamsql.SQLite {
		return numbered.ReplaceAllString(q, "?$1")
	}
	return q
}

// accIDs are the object IDs of the randomised fixture: byte order differs
// from linguistic order ("B" < "a", "10" < "9"), and some would break
// naive SQL (quotes, LIKE wildcards).
var accIDs = []string{"1", "2", "3", "9", "10", "B", "a", "é", "Z", "it's", `say "hi"`, "50%", "a_b", "x'; DROP TABLE iam_grants; --"}

var (
	accTypes   = []string{"doc", "folder"}
	accUsers   = []string{"u1", "u2", "u3", "U1", "u4"}
	accGroups  = []string{"g1", "g2", "g3"}
	accPermsNs = []string{"doc.view", "doc.edit"}
	accRolesNs = []string{"doc.viewer", "doc.editor"}
)

// accFixture writes the same random changes to several stores.
type accFixture struct {
	t      *testing.T
	ctx    context.Context
	rng    *rand.Rand
	stores []iam.Store
	grants []iam.Grant
}

func (f *accFixture) each(what string, fn func(s iam.Store) error) {
	f.t.Helper()
	for _, s := range f.stores {
		require.NoError(f.t, fn(s), "%s on %T", what, s)
	}
}

func pick[T any](r *rand.Rand, l []T) T { return l[r.IntN(len(l))] }

func (f *accFixture) holder() iam.Principal {
	if f.rng.IntN(3) == 0 {
		return iam.Group(pick(f.rng, accGroups))
	}
	return iam.User(pick(f.rng, accUsers))
}

func (f *accFixture) grant(on iam.Ref) {
	g := iam.Grant{Holder: f.holder(), On: on}
	if f.rng.IntN(2) == 0 {
		g.Perm = pick(f.rng, accPermsNs)
	} else {
		g.Role = pick(f.rng, accRolesNs)
	}
	f.grants = append(f.grants, g)
	f.each("Grant", func(s iam.Store) error { return s.Grant(f.ctx, g) })
}

func (f *accFixture) ref() iam.Ref {
	return iam.Ref{Type: pick(f.rng, accTypes), ID: pick(f.rng, accIDs)}
}

func (f *accFixture) setParents(ref iam.Ref, parents ...iam.Ref) {
	f.each("SetParents", func(s iam.Store) error { return s.(iam.ParentStore).SetParents(f.ctx, ref, parents) })
}

// query is a random ObjectQuery (sometimes with an invalid holder, or no
// permission and no role).
func (f *accFixture) query() iam.ObjectQuery {
	r := f.rng
	q := iam.ObjectQuery{Type: pick(r, accTypes), MaxDepth: r.IntN(6), Limit: r.IntN(5)}
	for range 1 + r.IntN(4) {
		q.Holders = append(q.Holders, f.holder())
	}
	if r.IntN(20) == 0 {
		q.Holders = append(q.Holders, iam.User(""))
	}
	for _, p := range accPermsNs {
		if r.IntN(2) == 0 {
			q.Perms = append(q.Perms, p)
		}
	}
	for _, p := range accRolesNs {
		if r.IntN(2) == 0 {
			q.Roles = append(q.Roles, p)
		}
	}
	if r.IntN(3) == 0 {
		q.After = pick(r, accIDs)
	}
	if r.IntN(10) == 0 {
		q.MaxDepth = 25
	}
	return q
}

// compare runs n random queries on the memory store (stores[0]) and the SQL
// store (stores[1]) and requires the same answer; every tenth query is
// also read page by page.
func (f *accFixture) compare(phase string, n int) {
	f.t.Helper()
	mem := f.stores[0].(iam.ObjectLister)
	sqls := f.stores[1].(iam.ObjectLister)
	nonEmpty := 0
	for i := range n {
		q := f.query()
		want, err := mem.ListObjectIDs(f.ctx, q)
		require.NoError(f.t, err)
		got, err := sqls.ListObjectIDs(f.ctx, q)
		require.NoError(f.t, err)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			f.t.Fatalf("%s: query %d %+v (-memory +sql):\n%s", phase, i, q, diff)
		}
		if len(got) > 0 {
			nonEmpty++
		}
		if i%10 == 0 {
			q.After, q.Limit = "", 0
			all, err := sqls.ListObjectIDs(f.ctx, q)
			require.NoError(f.t, err)
			var paged []string
			q.Limit = 1 + f.rng.IntN(3)
			for {
				page, err := sqls.ListObjectIDs(f.ctx, q)
				require.NoError(f.t, err)
				require.LessOrEqual(f.t, len(page), q.Limit)
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
				q.After = page[len(page)-1]
			}
			require.Equal(f.t, all, paged, "%s: paging by %d", phase, q.Limit)
		}
	}
	f.t.Logf("%s: %d queries, %d with a non-empty answer", phase, n, nonEmpty)
	require.Greater(f.t, nonEmpty, n/4, "%s: the fixture should make most answers non-empty", phase)
}

// contract 4b, 4c: ListObjectIDs answers exactly as the memory store (the
// reference) on the same randomised writes: grants and local roles on
// objects of two types, groups, type-level and global grants (which do not
// count), parent chains and a cycle, then SetParents replacement,
// revocations and DeleteGrantsOn (contract 15: visible at once).
func TestListObjectIDsMatchesMemory(t *testing.T) {
	for _, d := range accessDialects {
		t.Run(d.name, func(t *testing.T) {
			const seed = 20260517
			ctx := t.Context()
			f := &accFixture{t: t, ctx: ctx, rng: rand.New(rand.NewPCG(seed, 1)),
				stores: []iam.Store{iam.NewMemoryStore(), d.open(t, iamsql.DefaultOptions())}}
			t.Logf("seed %d", seed)

			for range 150 {
				f.grant(f.ref())
			}
			for _, typ := range accTypes {
				f.grant(iam.TypeScope(typ))
			}
			f.grant(iam.GlobalScope())
			f.compare("grants, no parents", 100)

			// Chains: doc -> folder -> folder ..., docs under docs, and a
			// cycle folder:9 -> folder:10 -> folder:9.
			for i, id := range accIDs[:8] {
				f.setParents(iam.Ref{Type: "folder", ID: id}, iam.Ref{Type: "folder", ID: accIDs[i+1]})
			}
			f.setParents(iam.Ref{Type: "folder", ID: "10"}, iam.Ref{Type: "folder", ID: "9"}) // folder:9 -> folder:10 above: a cycle
			for _, id := range accIDs {
				switch f.rng.IntN(4) {
				case 0:
				case 1:
					f.setParents(iam.Ref{Type: "doc", ID: id}, iam.Ref{Type: "folder", ID: pick(f.rng, accIDs)})
				case 2:
					f.setParents(iam.Ref{Type: "doc", ID: id}, iam.Ref{Type: "doc", ID: pick(f.rng, accIDs)}, iam.Ref{Type: "folder", ID: pick(f.rng, accIDs)})
				case 3:
					f.setParents(iam.Ref{Type: "doc", ID: id}, iam.Ref{Type: "doc", ID: pick(f.rng, accIDs)})
				}
			}
			f.compare("parents", 200)

			// SetParents replaces (and forgets) parents.
			for _, id := range accIDs[:6] {
				if f.rng.IntN(2) == 0 {
					f.setParents(iam.Ref{Type: "doc", ID: id})
				} else {
					f.setParents(iam.Ref{Type: "doc", ID: id}, iam.Ref{Type: "folder", ID: pick(f.rng, accIDs)})
				}
			}
			f.compare("parents replaced", 100)

			// Revocations and DeleteGrantsOn.
			f.rng.Shuffle(len(f.grants), func(i, j int) { f.grants[i], f.grants[j] = f.grants[j], f.grants[i] })
			for _, g := range f.grants[:len(f.grants)/3] {
				f.each("Revoke", func(s iam.Store) error { return s.Revoke(ctx, g) })
			}
			for range 4 {
				on := f.ref()
				f.each("DeleteGrantsOn", func(s iam.Store) error { return s.DeleteGrantsOn(ctx, on) })
			}
			f.compare("revoked", 200)
		})
	}
}

// ListObjectIDs on hand-made cases: byte order, paging, depth, odd IDs.
func TestListObjectIDs(t *testing.T) {
	byteOrder := []string{"10", "9", "B", "a", "é"} // Go's (byte) order; linguistic order has "a" before "B"
	view := func(q iam.ObjectQuery) iam.ObjectQuery {
		q.Type, q.Perms = "doc", []string{"doc.view"}
		if q.Holders == nil {
			q.Holders = []iam.Principal{iam.User("ann")}
		}
		return q
	}
	tests := []struct {
		name   string
		grants []iam.Grant
		// parents: child -> its parents
		parents map[iam.Ref][]iam.Ref
		q       iam.ObjectQuery
		want    []string
	}{
		{
			name:   "byte order",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "a", "é", "B", "9", "10"),
			q:      view(iam.ObjectQuery{}),
			want:   byteOrder,
		},
		{
			name:   "after, in byte order",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "a", "é", "B", "9", "10"),
			q:      view(iam.ObjectQuery{After: "9"}),
			want:   []string{"B", "a", "é"},
		},
		{
			name:   "after an ID that is not stored",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "a", "é", "B", "9", "10"),
			q:      view(iam.ObjectQuery{After: "Bz"}),
			want:   []string{"a", "é"},
		},
		{
			name:   "limit",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "a", "é", "B", "9", "10"),
			q:      view(iam.ObjectQuery{After: "10", Limit: 2}),
			want:   []string{"9", "B"},
		},
		{
			name:   "odd IDs are values, not SQL",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "it's", "50%", "a_b", `"q"`, "x'); DELETE FROM iam_grants; --"),
			q:      view(iam.ObjectQuery{After: "%"}),
			want:   []string{"50%", "a_b", "it's", "x'); DELETE FROM iam_grants; --"},
		},
		{
			name:   "LIKE wildcards in After match nothing special",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "a_b", "ab", "a%"),
			q:      view(iam.ObjectQuery{After: "a_"}),
			want:   []string{"a_b", "ab"},
		},
		{
			name: "another holder, another permission, another type: none count",
			grants: []iam.Grant{
				{Holder: iam.User("bob"), Perm: "doc.view", On: doc("1")},
				{Holder: iam.User("ann"), Perm: "doc.edit", On: doc("2")},
				{Holder: iam.User("ann"), Perm: "doc.view", On: iam.Ref{Type: "folder", ID: "3"}},
				{Holder: iam.Group("ann"), Perm: "doc.view", On: doc("4")},
				{Holder: iam.User("ann"), Perm: "doc.view", On: doc("5")},
			},
			q:    view(iam.ObjectQuery{}),
			want: []string{"5"},
		},
		{
			name: "a permission named like a role is not a role",
			grants: []iam.Grant{
				{Holder: iam.User("ann"), Perm: "doc.viewer", On: doc("1")},
				{Holder: iam.User("ann"), Role: "doc.viewer", On: doc("2")},
			},
			q:    iam.ObjectQuery{Type: "doc", Holders: []iam.Principal{iam.User("ann")}, Roles: []string{"doc.viewer"}},
			want: []string{"2"},
		},
		{
			name: "type-level and global grants are not listed",
			grants: []iam.Grant{
				{Holder: iam.User("ann"), Perm: "doc.view", On: iam.TypeScope("doc")},
				{Holder: iam.User("ann"), Perm: "doc.view", On: iam.GlobalScope()},
			},
			q: view(iam.ObjectQuery{MaxDepth: 5}),
		},
		{
			name:   "groups",
			grants: append(grantsOn(iam.Group("staff"), "doc.view", "doc", "s1", "s2"), grantsOn(iam.User("ann"), "doc.view", "doc", "s2", "u1")...),
			q:      view(iam.ObjectQuery{Holders: []iam.Principal{iam.User("ann"), iam.Group("staff")}}),
			want:   []string{"s1", "s2", "u1"},
		},
		{
			name:   "depth 0: the object only",
			grants: grantsOn(iam.User("ann"), "doc.view", "folder", "f1"),
			parents: map[iam.Ref][]iam.Ref{
				doc("d1"): {{Type: "folder", ID: "f1"}},
			},
			q: view(iam.ObjectQuery{MaxDepth: 0}),
		},
		{
			name:   "depth 1: children of a granted folder",
			grants: grantsOn(iam.User("ann"), "doc.view", "folder", "f1"),
			parents: map[iam.Ref][]iam.Ref{
				doc("d1"):                      {{Type: "folder", ID: "f1"}},
				doc("d2"):                      {{Type: "folder", ID: "f2"}},
				{Type: "folder", ID: "f2"}:     {{Type: "folder", ID: "f1"}},
				doc("d3"):                      {doc("d1")},
				{Type: "folder", ID: "f1-sib"}: {{Type: "folder", ID: "f0"}},
			},
			q:    view(iam.ObjectQuery{MaxDepth: 1}),
			want: []string{"d1"},
		},
		{
			name:   "depth 2",
			grants: grantsOn(iam.User("ann"), "doc.view", "folder", "f1"),
			parents: map[iam.Ref][]iam.Ref{
				doc("d1"):                  {{Type: "folder", ID: "f1"}},
				doc("d2"):                  {{Type: "folder", ID: "f2"}},
				{Type: "folder", ID: "f2"}: {{Type: "folder", ID: "f1"}},
				doc("d3"):                  {doc("d1")},
			},
			q:    view(iam.ObjectQuery{MaxDepth: 2}),
			want: []string{"d1", "d2", "d3"},
		},
		{
			name: "local role on an ancestor (contract 4b) and a grant on the object (4c)",
			grants: []iam.Grant{
				{Holder: iam.User("ann"), Role: "doc.viewer", On: iam.Ref{Type: "folder", ID: "f1"}},
				{Holder: iam.User("ann"), Perm: "doc.view", On: doc("d9")},
			},
			parents: map[iam.Ref][]iam.Ref{doc("d1"): {{Type: "folder", ID: "f1"}}},
			q:       iam.ObjectQuery{Type: "doc", Holders: []iam.Principal{iam.User("ann")}, Perms: []string{"doc.view"}, Roles: []string{"doc.viewer"}, MaxDepth: 25},
			want:    []string{"d1", "d9"},
		},
		{
			name:   "a parent cycle terminates",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "c1"),
			parents: map[iam.Ref][]iam.Ref{
				doc("c1"): {doc("c3")},
				doc("c2"): {doc("c1")},
				doc("c3"): {doc("c2")},
				doc("c4"): {doc("c4"), doc("c3")},
			},
			q:    view(iam.ObjectQuery{MaxDepth: 25}),
			want: []string{"c1", "c2", "c3", "c4"},
		},
		{
			name:   "no valid holder: nothing",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "1"),
			q:      view(iam.ObjectQuery{Holders: []iam.Principal{iam.User(""), {Kind: 9, ID: "ann"}}}),
		},
		{
			name:   "no permission and no role: nothing",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "1"),
			q:      iam.ObjectQuery{Type: "doc", Holders: []iam.Principal{iam.User("ann")}},
		},
		{
			name:   "duplicates in the query",
			grants: grantsOn(iam.User("ann"), "doc.view", "doc", "1", "2"),
			q:      iam.ObjectQuery{Type: "doc", Holders: []iam.Principal{iam.User("ann"), iam.User("ann")}, Perms: []string{"doc.view", "doc.view"}, Limit: 5},
			want:   []string{"1", "2"},
		},
	}
	for _, d := range accessDialects {
		t.Run(d.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := t.Context()
					s := d.open(t, iamsql.Options{})
					mem := iam.NewMemoryStore()
					for _, st := range []interface {
						iam.Store
						iam.ParentStore
					}{s, mem} {
						for _, g := range tc.grants {
							require.NoError(t, st.Grant(ctx, g))
						}
						for child, ps := range tc.parents {
							require.NoError(t, st.SetParents(ctx, child, ps))
						}
					}
					got, err := s.ListObjectIDs(ctx, tc.q)
					require.NoError(t, err)
					if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("ListObjectIDs (-want +got):\n%s", diff)
					}
					ref, err := mem.ListObjectIDs(ctx, tc.q)
					require.NoError(t, err)
					if diff := cmp.Diff(tc.want, ref, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("the memory store disagrees with the test (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

func grantsOn(h iam.Principal, perm, typ string, ids ...string) []iam.Grant {
	var out []iam.Grant
	for _, id := range ids {
		out = append(out, iam.Grant{Holder: h, Perm: perm, On: iam.Ref{Type: typ, ID: id}})
	}
	return out
}

// contract 17: a cancelled or expired context is an error, never a
// partial list; an empty query runs no SQL at all.
func TestListObjectIDsContext(t *testing.T) {
	q := iam.ObjectQuery{Type: "doc", Holders: []iam.Principal{iam.User("ann")}, Perms: []string{"doc.view"}, MaxDepth: 3}
	for _, d := range accessDialects[:2] {
		t.Run(d.name, func(t *testing.T) {
			s := d.open(t, iamsql.DefaultOptions())
			require.NoError(t, s.Grant(t.Context(), iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}))
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			ids, err := s.ListObjectIDs(ctx, q)
			require.ErrorIs(t, err, context.Canceled)
			require.Nil(t, ids)
			members, err := s.GroupMembers(ctx, "staff")
			require.ErrorIs(t, err, context.Canceled)
			require.Nil(t, members)
		})
	}
	t.Run("sqlite/hanging query", func(t *testing.T) {
		s, drv := openFaultySQLite(t, iamsql.Options{})
		require.NoError(t, s.Grant(t.Context(), iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("1")}))
		drv.hang.Store(true)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		ids, err := s.ListObjectIDs(ctx, q)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Nil(t, ids)
		drv.hang.Store(false)

		c, err := iam.New(policy, s)
		require.NoError(t, err)
		drv.setFail(sql.ErrConnDone)
		list, err := c.ListObjects(t.Context(), user("ann"), "doc.view", "doc", iam.ListOptions{})
		require.ErrorIs(t, err, sql.ErrConnDone, "a store error reaches ListObjects")
		require.Zero(t, list)
		drv.setFail(nil)

		before := drv.queries.Load()
		for _, q := range []iam.ObjectQuery{
			{Type: "doc", Perms: []string{"doc.view"}},
			{Type: "doc", Holders: []iam.Principal{iam.User("ann")}},
			{Type: "", Holders: []iam.Principal{iam.User("ann")}, Perms: []string{"doc.view"}},
		} {
			ids, err := s.ListObjectIDs(t.Context(), q)
			require.NoError(t, err)
			require.Nil(t, ids)
		}
		require.Equal(t, before, drv.queries.Load(), "an empty query asks nothing")
	})
}

// ListObjects through a Checker over the SQL store: the paging of
// ListOptions sits on ListObjectIDs' After and Limit.
func TestCheckerListObjectsSQL(t *testing.T) {
	for _, d := range accessDialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			c, err := iam.New(policy, s)
			require.NoError(t, err)
			folder := iam.Ref{Type: "folder", ID: "f"}
			require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Role: "doc.editor", On: folder}))
			require.NoError(t, s.AddMember(ctx, "ann", "staff"))
			for _, id := range []string{"a", "B", "é", "10", "9"} {
				require.NoError(t, s.SetParents(ctx, doc(id), []iam.Ref{folder}))
			}
			require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc("z")}))

			var pages [][]string
			o := iam.ListOptions{Limit: 2}
			for {
				l, err := c.ListObjects(ctx, user("ann"), "doc.view", "doc", o)
				require.NoError(t, err)
				pages = append(pages, l.IDs)
				if l.Next == "" {
					break
				}
				o.After = l.Next
			}
			require.Equal(t, [][]string{{"10", "9"}, {"B", "a"}, {"z", "é"}}, pages)

			// contract 15: a revocation is visible to the next list.
			require.NoError(t, s.RemoveMember(ctx, "ann", "staff"))
			l, err := c.ListObjects(ctx, user("ann"), "doc.view", "doc", iam.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"z"}, l.IDs)
		})
	}
}

func TestGroupMembers(t *testing.T) {
	for _, d := range accessDialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			mem := iam.NewMemoryStore()
			for _, st := range []iam.Store{s, mem} {
				for _, u := range []string{"a", "é", "B", "10", "9", "it's"} {
					require.NoError(t, st.AddMember(ctx, u, "staff"))
				}
				require.NoError(t, st.AddMember(ctx, "a", "staff")) // idempotent
				require.NoError(t, st.AddMember(ctx, "gone", "staff"))
				require.NoError(t, st.RemoveMember(ctx, "gone", "staff"))
				require.NoError(t, st.AddMember(ctx, "x", "Staff"))
			}
			for group, want := range map[string][]string{
				"staff":  {"10", "9", "B", "a", "it's", "é"},
				"Staff":  {"x"},
				"nobody": nil,
				"":       nil,
			} {
				got, err := s.GroupMembers(ctx, group)
				require.NoError(t, err)
				require.Equal(t, want, got, "GroupMembers(%q)", group)
				ref, err := mem.GroupMembers(ctx, group)
				require.NoError(t, err)
				require.Equal(t, want, ref, "the memory store on %q", group)
			}
		})
	}
}

// The AccessFilter fixture: posts in sections (recorded parents), shop items
// with INTEGER IDs, and a permission with a rule.
var (
	afReader = &iam.Role{Name: "blog.reader", Perms: []string{"blog.view_post"}}
	afEditor = &iam.Role{Name: "blog.editor", Perms: []string{"blog.change_post"}, Includes: []*iam.Role{afReader}}
	afPolicy = iam.Policy{
		Roles: []*iam.Role{afReader, afEditor},
		Perms: []iam.Perm{
			{Name: "blog.view_post", Types: []string{"blog.post"}},
			{Name: "blog.change_post", Types: []string{"blog.post"}},
			{Name: "blog.read_post", Types: []string{"blog.post"}},
			{Name: "shop.view_item", Types: []string{"shop.item"}},
		},
		Rules: map[string]iam.Predicate{
			"blog.read_post": iam.Pred("is_public", func(_ context.Context, _ iam.Subject, p *afPost) bool { return p != nil && p.Public }),
		},
	}
	afPostIDs = []string{"p1", "p2", "p3", "p4", "p5", "p6", "P7", "it's"}
)

type afPost struct {
	ID     string
	Public bool
}

func (p *afPost) ObjectRef() iam.Ref { return iam.Ref{Type: "blog.post", ID: p.ID} }

func afRef(id string) iam.Ref     { return iam.Ref{Type: "blog.post", ID: id} }
func afSection(id string) iam.Ref { return iam.Ref{Type: "blog.section", ID: id} }
func afItem(id string) iam.Ref    { return iam.Ref{Type: "shop.item", ID: id} }
func afGrant(h iam.Principal, perm string, on iam.Ref) iam.Grant {
	return iam.Grant{Holder: h, Perm: perm, On: on}
}

type inactive string

func (u inactive) SubjectID() string { return string(u) }
func (u inactive) IsActive() bool    { return false }

// afSetup creates the application's tables next to the iam tables and
// writes the fixture's grants.
func afSetup(t *testing.T, s *iamsql.Store) *iam.Checker {
	t.Helper()
	ctx := t.Context()
	c, err := iam.New(afPolicy, s)
	require.NoError(t, err)
	db := s.DB()
	for _, stmt := range []string{
		`CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT NOT NULL, public INTEGER NOT NULL)`,
		`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
	} {
		_, err := db.Exec(stmt)
		require.NoError(t, err)
	}
	for i, id := range afPostIDs {
		_, err := db.Exec(bindFor(s, `INSERT INTO posts (id, title, public) VALUES ($1, $2, $3)`), id, "title "+id, i%3)
		require.NoError(t, err)
	}
	for _, id := range []int{1, 2, 10, 42} {
		_, err := db.Exec(bindFor(s, `INSERT INTO items (id, name) VALUES ($1, $2)`), id, fmt.Sprint("item ", id))
		require.NoError(t, err)
	}
	// p2, p3 in section s1; p4 in s2, which is in s1; p6 in s3.
	for child, parent := range map[iam.Ref]iam.Ref{
		afRef("p2"): afSection("s1"), afRef("p3"): afSection("s1"), afRef("p4"): afSection("s2"),
		afSection("s2"): afSection("s1"), afRef("p6"): afSection("s3"),
	} {
		require.NoError(t, s.SetParents(ctx, child, []iam.Ref{parent}))
	}
	for _, g := range []iam.Grant{
		afGrant(iam.User("ann"), "blog.view_post", afRef("p1")),
		{Holder: iam.User("ann"), Role: "blog.reader", On: afSection("s1")},
		afGrant(iam.Group("staff"), "blog.view_post", afRef("it's")),
		{Holder: iam.User("bob"), Role: "blog.editor", On: afRef("p5")},
		{Holder: iam.User("bob"), Role: "blog.editor", On: afSection("s3")},
		afGrant(iam.User("dave"), "blog.view_post", iam.TypeScope("blog.post")),
		afGrant(iam.User("ann"), "blog.read_post", afRef("p4")),
		afGrant(iam.User("ann"), "shop.view_item", afItem("10")),
		afGrant(iam.User("ann"), "shop.view_item", afItem("2")),
		afGrant(iam.User("ann"), "shop.view_item", afItem("042")),  // "042" is not item 42
		afGrant(iam.User("erin"), "blog.view_post", afRef("nope")), // no such row
	} {
		require.NoError(t, c.Grant(ctx, g))
	}
	require.NoError(t, s.AddMember(ctx, "ann", "staff"))
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("carol"), Role: "blog.reader", Active: true}))
	return c
}

// queryIDs runs an application query and returns the first column.
func queryIDs(t *testing.T, s *iamsql.Store, q string, args ...any) []string {
	t.Helper()
	rows, err := s.DB().QueryContext(t.Context(), q, args...)
	require.NoError(t, err, "query:\n%s", q)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		out = append(out, id)
	}
	require.NoError(t, rows.Err())
	return out
}

// AccessFilter in the application's own list query returns exactly the rows
// ListObjects lists (or every row, when All), and the rows Check allows.
func TestAccessFilter(t *testing.T) {
	subjects := []struct {
		name  string
		s     iam.Subject
		all   map[string]bool // perm -> All expected
		empty bool            // nothing stored can allow: "1=0"
	}{
		{"ann: grant, local role on an ancestor two levels up, group grant (contract 4b, 4c)", user("ann"), nil, false},
		{"bob: local roles on the post and on a section", user("bob"), nil, false},
		{"carol: global role (contract 4a)", user("carol"), map[string]bool{"blog.view_post": true}, false},
		{"dave: grant on the type", user("dave"), map[string]bool{"blog.view_post": true}, false},
		{"erin: a grant on a row that does not exist", user("erin"), nil, false},
		{"frank: nothing stored", user("frank"), nil, false},
		{"anonymous (contract 6)", user(""), nil, true},
		{"inactive (contract 2)", inactive("ann"), nil, true},
		{"superuser (contract 3)", superuser("root"), map[string]bool{"blog.view_post": true, "blog.change_post": true}, false},
		{"nil subject", nil, nil, true},
	}
	for _, d := range accessDialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			c := afSetup(t, s)
			for _, sub := range subjects {
				for _, perm := range []string{"blog.view_post", "blog.change_post"} {
					t.Run(sub.name+"/"+perm, func(t *testing.T) {
						f, err := iamsql.AccessFilter(ctx, c, sub.s, perm, iamsql.FilterOptions{Type: "blog.post", Column: "p.id"})
						require.NoError(t, err)
						require.Equal(t, sub.all[perm], f.All)
						require.False(t, f.Partial)
						require.Equal(t, 1+len(f.Args), f.NextArg)
						got := queryIDs(t, s, `SELECT p.id FROM posts p WHERE `+f.SQL+` ORDER BY p.id`, f.Args...)

						list, err := c.ListObjects(ctx, sub.s, perm, "blog.post", iam.ListOptions{})
						require.NoError(t, err)
						require.Equal(t, list.All, f.All)
						require.Equal(t, list.Why, f.Why)
						var want, checked []string
						for _, id := range afPostIDs {
							if list.All || slices.Contains(list.IDs, id) {
								want = append(want, id)
							}
							if c.HasPerm(ctx, sub.s, perm, afRef(id)) {
								checked = append(checked, id)
							}
						}
						slices.Sort(want)
						slices.Sort(checked)
						require.Equal(t, want, got, "the filter keeps what ListObjects lists\nSQL: %s", f.SQL)
						require.Equal(t, checked, got, "the filter keeps what Check allows")
						switch {
						case f.All:
							require.Equal(t, "1=1", f.SQL)
							require.Empty(t, f.Args)
						case sub.empty:
							require.Equal(t, "1=0", f.SQL)
							require.Empty(t, f.Args)
						default:
							prefix := `p.id COLLATE "C" IN (WITH RECURSIVE`
							if s.Dialect() == iamsql.SQLite {
								prefix = `(typeof(p.id) = 'text' AND p.id COLLATE BINARY IN (WITH RECURSIVE`
							}
							require.True(t, strings.HasPrefix(f.SQL, prefix), f.SQL)
							require.Contains(t, f.SQL, "WITH RECURSIVE")
						}
					})
				}
			}
			// Spot checks of the fixture, so that the comparisons above are
			// not all empty.
			f, err := iamsql.AccessFilter(ctx, c, user("ann"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "id"})
			require.NoError(t, err)
			require.Equal(t, []string{"it's", "p1", "p2", "p3", "p4"}, queryIDs(t, s, `SELECT id FROM posts WHERE `+f.SQL+` ORDER BY id`, f.Args...))
			f, err = iamsql.AccessFilter(ctx, c, user("bob"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "posts.id"})
			require.NoError(t, err)
			require.Equal(t, []string{"p5", "p6"}, queryIDs(t, s, `SELECT id FROM posts WHERE `+f.SQL+` ORDER BY id`, f.Args...))
		})
	}
}

// The clause's placeholders start at FirstArg, after the application's own,
// and NextArg is free for what follows it.
func TestAccessFilterArgs(t *testing.T) {
	for _, d := range accessDialects[:2] {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			c := afSetup(t, s)
			f, err := iamsql.AccessFilter(ctx, c, user("ann"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "p.id", FirstArg: 3})
			require.NoError(t, err)
			require.Equal(t, 3+len(f.Args), f.NextArg)
			require.Contains(t, f.SQL, bindFor(s, "$3"))
			require.NotContains(t, f.SQL, bindFor(s, "$2 "))
			q := fmt.Sprintf(`SELECT p.id FROM posts p WHERE p.title <> $1 AND p.id <> $2 AND %s AND p.id <> $%d ORDER BY p.id LIMIT $%d`,
				f.SQL, f.NextArg, f.NextArg+1)
			args := append([]any{"title p2", "p3"}, f.Args...)
			args = append(args, "it's", 10)
			require.Equal(t, []string{"p1", "p4"}, queryIDs(t, s, bindFor(s, q), args...))

			// Values never reach the SQL text: only placeholders do.
			for _, v := range []string{"ann", "staff", "blog.view_post", "blog.reader", "blog.post"} {
				require.NotContains(t, f.SQL, v)
			}
			require.Contains(t, f.Args, "ann")
			require.Contains(t, f.Args, "staff")

			// All and Empty keep NextArg at FirstArg.
			f, err = iamsql.AccessFilter(ctx, c, superuser("root"), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "id", FirstArg: 4})
			require.NoError(t, err)
			require.Equal(t, iamsql.Filter{SQL: "1=1", NextArg: 4, All: true, Why: f.Why}, f)
			require.Equal(t, iam.ReasonSuperuser, f.Why.Reason)
			f, err = iamsql.AccessFilter(ctx, c, user(""), "blog.view_post", iamsql.FilterOptions{Type: "blog.post", Column: "id", FirstArg: 4})
			require.NoError(t, err)
			require.Equal(t, iamsql.Filter{SQL: "1=0", NextArg: 4}, f)
		})
	}
}

// CastToText: an INTEGER ID column compares by the text form of its value,
// so a grant on "042" is not a grant on item 42.
func TestAccessFilterCastToText(t *testing.T) {
	for _, d := range accessDialects[:2] {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			c := afSetup(t, s)
			f, err := iamsql.AccessFilter(ctx, c, user("ann"), "shop.view_item", iamsql.FilterOptions{Type: "shop.item", Column: "items.id", CastToText: true})
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(f.SQL, "CAST(items.id AS TEXT) COLLATE "), f.SQL)
			require.Equal(t, []string{"2", "10"}, queryIDs(t, s, `SELECT CAST(id AS TEXT) FROM items WHERE `+f.SQL+` ORDER BY items.id`, f.Args...))
			list, err := c.ListObjects(ctx, user("ann"), "shop.view_item", "shop.item", iam.ListOptions{})
			require.NoError(t, err)
			require.Equal(t, []string{"042", "10", "2"}, list.IDs, "the store lists what was granted, rows or not")
		})
	}
}

// A permission with a rule: the filter covers the stored grants and says
// Partial; the application ORs its own condition for the rule, and the
// result is what Check allows (contract 4d).
func TestAccessFilterPartial(t *testing.T) {
	for _, d := range accessDialects[:2] {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			s := d.open(t, iamsql.DefaultOptions())
			c := afSetup(t, s)
			for _, sub := range []iam.Subject{user("ann"), user("frank"), user("")} {
				f, err := iamsql.AccessFilter(ctx, c, sub, "blog.read_post", iamsql.FilterOptions{Type: "blog.post", Column: "id"})
				require.NoError(t, err)
				require.True(t, f.Partial)
				require.Equal(t, "is_public", f.Rule)
				require.False(t, f.All)
				got := queryIDs(t, s, `SELECT id FROM posts WHERE (`+f.SQL+` OR public = 1) ORDER BY id`, f.Args...)

				var candidates []*afPost
				for i, id := range afPostIDs {
					candidates = append(candidates, &afPost{ID: id, Public: i%3 == 1})
				}
				allowed, err := iam.Filter(ctx, c, sub, "blog.read_post", candidates)
				require.NoError(t, err)
				var want []string
				for _, p := range allowed {
					want = append(want, p.ID)
				}
				slices.Sort(want)
				require.Equal(t, want, got, "subject %v", sub)
			}
			// ann's grant on p4 is listed beside the public posts.
			f, err := iamsql.AccessFilter(ctx, c, user("ann"), "blog.read_post", iamsql.FilterOptions{Type: "blog.post", Column: "id"})
			require.NoError(t, err)
			require.Equal(t, []string{"it's", "p2", "p4", "p5"}, queryIDs(t, s, `SELECT id FROM posts WHERE (`+f.SQL+` OR public = 1) ORDER BY id`, f.Args...))
		})
	}
}

// Every error is the zero Filter: the caller shows nothing.
func TestAccessFilterErrors(t *testing.T) {
	ctx := t.Context()
	s := openSQLite(t, iamsql.DefaultOptions())
	c := afSetup(t, s)
	memChecker, err := iam.New(afPolicy, iam.NewMemoryStore())
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	good := iamsql.FilterOptions{Type: "blog.post", Column: "p.id"}
	with := func(mod func(o *iamsql.FilterOptions)) iamsql.FilterOptions {
		o := good
		mod(&o)
		return o
	}
	type errCase struct {
		name    string
		ctx     context.Context
		c       *iam.Checker
		perm    string
		o       iamsql.FilterOptions
		wantErr error
	}
	tests := []errCase{
		{"unknown permission (contract 1)", ctx, c, "blog.veiw_post", good, iam.ErrUnknownPermission},
		{"wrong type (contract 7)", ctx, c, "blog.view_post", with(func(o *iamsql.FilterOptions) { o.Type = "shop.item" }), iam.ErrWrongType},
		{"no type", ctx, c, "blog.view_post", with(func(o *iamsql.FilterOptions) { o.Type = "" }), iam.ErrInvalid},
		{"negative FirstArg", ctx, c, "blog.view_post", with(func(o *iamsql.FilterOptions) { o.FirstArg = -1 }), iam.ErrInvalid},
		{"not an iamsql store", ctx, memChecker, "blog.view_post", good, iam.ErrNotListable},
		{"nil checker", ctx, nil, "blog.view_post", good, iam.ErrInvalid},
		{"cancelled context (contract 17)", cancelled, c, "blog.view_post", good, context.Canceled},
	}
	for _, col := range []string{"", "id;", "p.id; DROP TABLE posts", "id)", "1id", `"id"`, "p id", "a.b.c.d", "id--", "p.*", "id\n", "p..id", ".id", "id.", "(id)", "CAST(id AS TEXT)", "ид"} {
		tests = append(tests, errCase{fmt.Sprintf("column %q", col), ctx, c, "blog.view_post", with(func(o *iamsql.FilterOptions) { o.Column = col }), iam.ErrInvalid})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := iamsql.AccessFilter(tc.ctx, tc.c, user("ann"), tc.perm, tc.o)
			require.ErrorIs(t, err, tc.wantErr)
			require.Zero(t, f)
		})
	}
	for _, col := range []string{"id", "p.id", "public.posts.id", "_x", "Post_ID2", "posts.user", "p.current_user", "public.posts.CURRENT_DATE", "users", "user_id", "nullable", "true_id"} {
		_, err := iamsql.AccessFilter(ctx, c, user("ann"), "blog.view_post", with(func(o *iamsql.FilterOptions) { o.Column = col }))
		require.NoError(t, err, "column %q", col)
	}
}
