package iamsql_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
	"github.com/iamgo/iam/iamsql"
)

// contract 17: queries that fail, time out or see a cancelled context make
// the Checker deny, with the error; nothing is cached from them.
func TestFaultsDeny(t *testing.T) {
	ctx := context.Background()
	diskFire := errors.New("disk on fire")
	tests := []struct {
		name   string
		inject func(d *faultDriver)
		ctx    func() (context.Context, context.CancelFunc)
		want   error
	}{
		{"query error", func(d *faultDriver) { d.setFail(diskFire) },
			func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }, diskFire},
		{"timeout", func(d *faultDriver) { d.hang.Store(true) },
			func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 20*time.Millisecond) }, context.DeadlineExceeded},
		{"cancelled", func(d *faultDriver) {},
			func() (context.Context, context.CancelFunc) {
				c, cancel := context.WithCancel(ctx)
				cancel()
				return c, cancel
			}, context.Canceled},
	}
	for _, cached := range []bool{true, false} {
		for _, tt := range tests {
			name := tt.name + map[bool]string{true: "/cached", false: "/uncached"}[cached]
			t.Run(name, func(t *testing.T) {
				opts := iamsql.Options{}
				if cached {
					opts = iamsql.DefaultOptions()
				}
				s, d := openFaultySQLite(t, opts)
				c, err := iam.New(policy, s)
				require.NoError(t, err)
				require.NoError(t, s.PutProfile(ctx, iam.Profile{Holder: iam.User("ann"), Role: "doc.editor", Active: true}))
				require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("bob"), Perm: "doc.view", On: doc("1")}))

				tt.inject(d)
				cctx, cancel := tt.ctx()
				defer cancel()
				for _, q := range []struct {
					who, perm string
				}{{"ann", "doc.edit"}, {"bob", "doc.view"}} {
					dec, err := c.Check(cctx, user(q.who), q.perm, doc("1"))
					require.ErrorIs(t, err, tt.want, "%s %s", q.who, q.perm)
					require.False(t, dec.Allowed)
					require.False(t, c.HasPerm(cctx, user(q.who), q.perm, doc("1")))
				}
				// A write under the fault fails and leaves nothing behind.
				g := iam.Grant{Holder: iam.User("cat"), Perm: "doc.view", On: doc("1")}
				require.Error(t, s.Grant(cctx, g))

				d.setFail(nil)
				d.hang.Store(false)
				require.True(t, c.HasPerm(ctx, user("ann"), "doc.edit", doc("1")), "errors are not cached")
				require.True(t, c.HasPerm(ctx, user("bob"), "doc.view", doc("1")))
				require.False(t, c.HasPerm(ctx, user("cat"), "doc.view", doc("1")), "the failed write did not happen")
			})
		}
	}
}

// A cold check costs at most two queries (the user with its groups'
// profiles; the object's, type's and global grants with the object's
// parents); a warm one runs none. Counted at the driver.
func TestQueriesPerCheck(t *testing.T) {
	ctx := context.Background()
	s, d := openFaultySQLite(t, iamsql.DefaultOptions())
	c, err := iam.New(policy, s)
	require.NoError(t, err)
	require.NoError(t, s.AddMember(ctx, "ann", "staff"))
	require.NoError(t, s.AddMember(ctx, "cy", "staff"))
	require.NoError(t, s.PutProfile(ctx, iam.Profile{Holder: iam.Group("staff"), Role: "doc.viewer", Active: true}))
	require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.edit", On: doc("1")}))
	require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Role: "doc.editor", On: doc("folder")}))
	require.NoError(t, s.SetParents(ctx, doc("2"), []iam.Ref{doc("folder")}))

	count := func(check func() bool, want bool) int64 {
		t.Helper()
		before := d.queries.Load()
		require.Equal(t, want, check())
		return d.queries.Load() - before
	}
	tests := []struct {
		name       string
		who, perm  string
		obj        iam.Ref
		want       bool
		maxQueries int64
	}{
		{"object grant", "ann", "doc.edit", doc("1"), true, 2},
		{"group role, denied edit", "cy", "doc.edit", doc("1"), false, 2},
		{"model level", "ann", "doc.view", iam.GlobalScope(), true, 2},
		{"via a stored parent (+1 per level)", "ann", "doc.edit", doc("2"), true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var obj iam.Object
			if tt.obj != iam.GlobalScope() {
				obj = tt.obj
			}
			check := func() bool { return c.HasPerm(ctx, user(tt.who), tt.perm, obj) }
			s.Cache().InvalidateAll()
			cold := count(check, tt.want)
			t.Logf("cold: %d queries", cold)
			require.LessOrEqual(t, cold, tt.maxQueries, "cold check")
			require.Zero(t, count(check, tt.want), "warm check runs no query")
			// Consistent read: skips the cache.
			require.Equal(t, tt.want, c.HasPerm(iamcache.Fresh(ctx), user(tt.who), tt.perm, obj))
		})
	}
	// A model-level check that reads type-level and global grants (a bundle
	// without parents) must not make later object checks costlier.
	t.Run("after a type-level read", func(t *testing.T) {
		check := func() bool { return c.HasPerm(ctx, user("ann"), "doc.edit", doc("2")) }
		s.Cache().InvalidateAll()
		before := count(check, true)
		s.Cache().InvalidateAll()
		require.False(t, c.HasPerm(ctx, user("nobody"), "doc.view", nil))
		s.Cache().InvalidateAll()
		require.Equal(t, before, count(check, true))
	})
}
