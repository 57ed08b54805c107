package iamsql_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// sqlBenchFixture mirrors the root package's object_grant benchmark: 1,000
// users, each with a direct permission on one of 1,000 posts, 3 global
// roles, and group memberships; checks rotate over 64 (user, post) pairs.
func sqlBenchFixture(b *testing.B, s iam.Store, update func(func(w fixtureWriter) error) error) (*iam.Checker, []iam.Subject, []iam.Object) {
	b.Helper()
	ctx := context.Background()
	roles := make([]*iam.Role, 100)
	for i := range roles {
		roles[i] = &iam.Role{Name: fmt.Sprintf("blog.role%d", i), Perms: []string{fmt.Sprintf("blog.perm%d", i)}}
	}
	pol := iam.Policy{Roles: roles, Perms: []iam.Perm{{Name: "blog.change_post", Types: []string{"blog.post"}}}}
	for i := range 100 {
		pol.Perms = append(pol.Perms, iam.Perm{Name: fmt.Sprintf("blog.perm%d", i)})
	}
	c, err := iam.New(pol, s)
	require.NoError(b, err)
	const n = 1000
	err = update(func(w fixtureWriter) error {
		for i := range n {
			u := fmt.Sprintf("user%d", i)
			for r := range 3 {
				if err := w.PutProfile(ctx, iam.Profile{Holder: iam.User(u), Role: roles[(i+r*7)%100].Name, Active: true}); err != nil {
					return err
				}
			}
			if err := w.AddMember(ctx, u, fmt.Sprintf("team%d", i%10)); err != nil {
				return err
			}
			if err := w.Grant(ctx, iam.Grant{Holder: iam.User(u), Perm: "blog.change_post", On: iam.Ref{Type: "blog.post", ID: fmt.Sprint(i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(b, err)
	users := make([]iam.Subject, 64)
	posts := make([]iam.Object, 64) // interface values made once: no allocation in the loop
	for i := range 64 {
		k := i * 13 % n
		users[i] = user(fmt.Sprintf("user%d", k))
		posts[i] = iam.Ref{Type: "blog.post", ID: fmt.Sprint(k)}
	}
	return c, users, posts
}

// fixtureWriter is what both *iamsql.Writer and *iam.MemoryStore offer.
type fixtureWriter interface {
	PutProfile(ctx context.Context, p iam.Profile) error
	AddMember(ctx context.Context, user, group string) error
	Grant(ctx context.Context, g iam.Grant) error
}

// BenchmarkSQLCheck: checks through the SQL store. warm: served by the
// cache (no query, no allocation); cold: the cache is emptied before every
// check, so each one runs its (at most two) queries. memory: the same
// fixture and checks on iam.MemoryStore, the baseline for "warm within 2×".
func BenchmarkSQLCheck(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		m := iam.NewMemoryStore()
		c, users, posts := sqlBenchFixture(b, m, func(fn func(w fixtureWriter) error) error { return fn(m) })
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if !c.HasPerm(ctx, users[i&63], "blog.change_post", posts[i&63]) {
				b.Fatal("denied")
			}
		}
	})
	for _, d := range dialects {
		for _, warm := range []bool{true, false} {
			name := d.name + map[bool]string{true: "_warm", false: "_cold"}[warm]
			b.Run(name, func(b *testing.B) {
				s := d.open(b, iamsql.DefaultOptions())
				c, users, posts := sqlBenchFixture(b, s, func(fn func(w fixtureWriter) error) error {
					return s.Update(context.Background(), func(_ *sql.Tx, w *iamsql.Writer) error { return fn(w) })
				})
				ctx := context.Background()
				for i := range 64 { // fill, and check the fixture
					if !c.HasPerm(ctx, users[i], "blog.change_post", posts[i]) {
						b.Fatal("fixture: not allowed")
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if !warm {
						s.Cache().InvalidateAll()
					}
					if !c.HasPerm(ctx, users[i&63], "blog.change_post", posts[i&63]) {
						b.Fatal("denied")
					}
				}
			})
		}
	}
}
