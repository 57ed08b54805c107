package iam_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/iamgo/iam"
)

// benchUser is a minimal application user for benchmarks.
type benchUser struct{ id string }

func (u *benchUser) SubjectID() string { return u.id }

// benchPost is an object with an owner.
type benchPost struct {
	ref   iam.Ref
	owner string
}

func (p *benchPost) ObjectRef() iam.Ref { return p.ref }

// benchRotate is the working set of every named benchmark: the checks
// rotate over this many different (user, object) pairs, so the numbers are
// not one cached answer, yet the working set is the same at 1k and at 1M
// grants: the ratio object_grant_1M / object_grant_1k then shows how the
// cost grows with the store, not with the CPU cache. The *_cold variants
// rotate over 65,536 pairs to show the cache-miss cost too.
const benchRotate = 64

// globalRoleFixture: 100 roles of 5 permissions each, 10,000 users holding
// 3 roles each; the checked users hold the permission through one of them.
func globalRoleFixture(tb testing.TB, rotate int, o iam.Options) (*iam.Checker, []*benchUser, string) {
	tb.Helper()
	ctx := context.Background()
	roles := make([]*iam.Role, 100)
	for i := range roles {
		perms := make([]string, 5)
		for j := range perms {
			perms[j] = fmt.Sprintf("app.perm_%d_%d", i, j)
		}
		roles[i] = &iam.Role{Name: fmt.Sprintf("app.role_%d", i), Perms: perms}
	}
	store := iam.NewMemoryStore()
	err := store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		for u := range 10_000 {
			for k := range 3 {
				r := roles[(u*7+k*31)%100]
				if err := tx.PutProfile(ctx, iam.Profile{Holder: iam.User(fmt.Sprint("u", u)), Role: r.Name, Active: true}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := iam.NewWithOptions(iam.Policy{Roles: roles}, store, o)
	if err != nil {
		tb.Fatal(err)
	}
	// Every user u holds roles[(u*7)%100], which grants app.perm_R_2. Pick
	// users holding role 0 so one permission name serves all of them.
	var users []*benchUser
	for u := 0; len(users) < rotate; u++ {
		if (u*7)%100 == 0 {
			users = append(users, &benchUser{id: fmt.Sprint("u", u%10_000)})
		}
	}
	return c, users, "app.perm_0_2"
}

// objectGrantFixture: n grants of doc.view, each to one of 10,000 users on
// its own document (no parents, no groups).
func objectGrantFixture(tb testing.TB, n, rotate int, o iam.Options) (*iam.Checker, []*benchUser, []iam.Object) {
	tb.Helper()
	ctx := context.Background()
	store := iam.NewMemoryStore()
	err := store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		for i := range n {
			g := iam.Grant{Holder: iam.User(fmt.Sprint("u", i%10_000)), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: fmt.Sprint("d", i)}}
			if err := tx.Grant(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := iam.NewWithOptions(iam.Policy{Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}}}, store, o)
	if err != nil {
		tb.Fatal(err)
	}
	users := make([]*benchUser, rotate)
	objs := make([]iam.Object, rotate)
	step := n / rotate
	for k := range rotate {
		i := (k*step + k*7919) % n
		users[k] = &benchUser{id: fmt.Sprint("u", i%10_000)}
		objs[k] = &benchPost{ref: iam.Ref{Type: "doc", ID: fmt.Sprint("d", i)}}
	}
	return c, users, objs
}

// ruleFixture: blog.change_post is held only through the rule
// Or(HasRole(editor), And(HasRole(author), is_owner)); the subjects are
// authors who own the posts.
func ruleFixture(tb testing.TB, o iam.Options) (*iam.Checker, []*benchUser, []iam.Object) {
	tb.Helper()
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.view_post"}}
	author := &iam.Role{Name: "blog.author", Perms: []string{"blog.view_post"}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *benchUser, p *benchPost) bool {
		return p != nil && p.owner == u.id
	})
	policy := iam.Policy{
		Roles: []*iam.Role{editor, author},
		Rules: map[string]iam.Predicate{
			"blog.change_post": iam.Or(iam.HasRole(editor), iam.And(iam.HasRole(author), isOwner)),
		},
	}
	store := iam.NewMemoryStore()
	users := make([]*benchUser, benchRotate)
	objs := make([]iam.Object, benchRotate)
	err := store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		for u := range 10_000 {
			role := author
			if u%10 == 0 {
				role = editor
			}
			if err := tx.PutProfile(ctx, iam.Profile{Holder: iam.User(fmt.Sprint("u", u)), Role: role.Name, Active: true}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for k := range benchRotate {
		id := fmt.Sprint("u", (k*10+1)%10_000) // authors, not editors
		users[k] = &benchUser{id: id}
		objs[k] = &benchPost{ref: iam.Ref{Type: "blog.post", ID: fmt.Sprint("p", k)}, owner: id}
	}
	c, err := iam.NewWithOptions(policy, store, o)
	if err != nil {
		tb.Fatal(err)
	}
	return c, users, objs
}

func benchChecks(b *testing.B, c *iam.Checker, users []*benchUser, perm string, objs []iam.Object) {
	ctx := context.Background()
	// Warm the compiled forms, and make sure the benchmark measures allows.
	for k := range users {
		var o iam.Object
		if objs != nil {
			o = objs[k]
		}
		if d, err := c.Check(ctx, users[k], perm, o); err != nil || !d.Allowed {
			b.Fatalf("fixture check %d denied: %v %v", k, d, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i, mask := 0, len(users)-1 // len is a power of two
	for b.Loop() {
		k := i & mask
		var o iam.Object
		if objs != nil {
			o = objs[k]
		}
		if !c.HasPerm(ctx, users[k], perm, o) {
			b.Fatal("denied")
		}
		i++
	}
}

// BenchmarkCheck: the docs/contract.md benchmarks. The named ones run the Checker
// as iam.New makes it: HasPerm answers a repeated question from the answer
// cache. The _uncached variants turn that cache off (CacheSlots: -1), so
// every check does the lookups in the store: what a check costs right
// after a write, or for a question not asked before.
func BenchmarkCheck(b *testing.B) {
	for _, v := range []struct {
		suffix string
		o      iam.Options
	}{{"", iam.Options{}}, {"_uncached", iam.Options{CacheSlots: -1}}} {
		b.Run("global_role"+v.suffix, func(b *testing.B) {
			c, users, perm := globalRoleFixture(b, benchRotate, v.o)
			benchChecks(b, c, users, perm, nil)
		})
		b.Run("global_role_cold"+v.suffix, func(b *testing.B) {
			c, users, perm := globalRoleFixture(b, 1024, v.o)
			benchChecks(b, c, users, perm, nil)
		})
		b.Run("object_grant_1k"+v.suffix, func(b *testing.B) {
			c, users, objs := objectGrantFixture(b, 1_000, benchRotate, v.o)
			benchChecks(b, c, users, "doc.view", objs)
		})
		b.Run("object_grant_1M"+v.suffix, func(b *testing.B) {
			c, users, objs := objectGrantFixture(b, 1_000_000, benchRotate, v.o)
			benchChecks(b, c, users, "doc.view", objs)
		})
		b.Run("object_grant_1M_cold"+v.suffix, func(b *testing.B) {
			c, users, objs := objectGrantFixture(b, 1_000_000, 1<<16, v.o)
			benchChecks(b, c, users, "doc.view", objs)
		})
		b.Run("rule"+v.suffix, func(b *testing.B) {
			c, users, objs := ruleFixture(b, v.o)
			benchChecks(b, c, users, "blog.change_post", objs)
		})
		b.Run("parallel"+v.suffix, func(b *testing.B) {
			c, users, perm := globalRoleFixture(b, benchRotate, v.o)
			ctx := context.Background()
			for _, u := range users {
				c.HasPerm(ctx, u, perm, nil)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if !c.HasPerm(ctx, users[i&(benchRotate-1)], perm, nil) {
						b.Error("denied")
						return
					}
					i++
				}
			})
		})
	}
}
