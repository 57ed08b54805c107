package iam_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// contract 7d: a grant with an expiry gives nothing from its ExpiresAt on,
// wherever it is (an object, an ancestor, a type, globally), whatever it
// names (a permission or a local role), to checks, the answer cache,
// ListObjects and Holders; granting again replaces the expiry.
func TestGrantExpiry(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := t0
	reviewer := &iam.Role{Name: "doc.reviewer", Perms: []string{"doc.view"}}
	pol := iam.Policy{Roles: []*iam.Role{reviewer}, Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc", "folder"}}}}
	folder := iam.Ref{Type: "folder", ID: "f"}
	doc := iam.Ref{Type: "doc", ID: "1"}
	later := t0.Add(time.Hour)
	for _, tc := range []struct {
		name string
		g    iam.Grant
		on   iam.Object
	}{
		{"perm on the object", iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc}, doc},
		{"local role on the object", iam.Grant{Holder: iam.User("ann"), Role: "doc.reviewer", On: doc}, doc},
		{"group grant", iam.Grant{Holder: iam.Group("staff"), Perm: "doc.view", On: doc}, doc},
		{"on an ancestor", iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: folder}, doc},
		{"on the type", iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: iam.TypeScope("doc")}, doc},
		{"globally", iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: iam.GlobalScope()}, doc},
		{"role on the type, model level", iam.Grant{Holder: iam.User("ann"), Role: "doc.reviewer", On: iam.TypeScope("doc")}, nil},
	} {
		for _, cache := range []int{0, -1} {
			t.Run(fmt.Sprintf("%s/cache=%d", tc.name, cache), func(t *testing.T) {
				clock = t0
				store := iam.NewMemoryStore()
				c, err := iam.NewWithOptions(pol, store, iam.Options{Now: func() time.Time { return clock }, CacheSlots: cache})
				require.NoError(t, err)
				require.NoError(t, store.AddMember(ctx, "ann", "staff"))
				require.NoError(t, store.SetParents(ctx, doc, []iam.Ref{folder}))
				// Nine more holders make the set large (compiled, not read
				// entry by entry).
				for i := range 9 {
					require.NoError(t, store.Grant(ctx, iam.Grant{Holder: iam.User(fmt.Sprint("x", i)), Perm: "doc.view", On: tc.g.On}))
				}
				g := tc.g
				g.ExpiresAt = later
				require.NoError(t, c.Grant(ctx, g))
				ann := &User{ID: "ann"}
				require.True(t, c.HasPerm(ctx, ann, "doc.view", tc.on), "before the expiry")
				require.True(t, c.HasPerm(ctx, ann, "doc.view", tc.on), "asked again")
				clock = later.Add(-time.Nanosecond)
				require.True(t, c.HasPerm(ctx, ann, "doc.view", tc.on), "a nanosecond before")
				clock = later
				require.False(t, c.HasPerm(ctx, ann, "doc.view", tc.on), "at the expiry: no answer outlives it")
				dec, err := c.Check(ctx, ann, "doc.view", tc.on)
				require.NoError(t, err)
				require.False(t, dec.Allowed)

				if tc.on != nil {
					list, err := c.ListObjects(ctx, ann, "doc.view", "doc", iam.ListOptions{})
					require.NoError(t, err)
					require.False(t, list.All)
					require.Empty(t, list.IDs, "expired grants list nothing")
					hl, err := c.Holders(ctx, tc.on, iam.HoldersOptions{})
					require.NoError(t, err)
					for _, h := range hl.Holders {
						require.NotEqual(t, "ann", h.Principal.ID)
						require.NotEqual(t, "staff", h.Principal.ID)
					}
				}

				// Granting again with a later expiry, then with none.
				g.ExpiresAt = later.Add(time.Hour)
				require.NoError(t, c.Grant(ctx, g))
				require.True(t, c.HasPerm(ctx, ann, "doc.view", tc.on), "re-granted until later")
				got, err := store.GrantsHeldBy(ctx, g.Holder)
				require.NoError(t, err)
				if diff := cmp.Diff([]iam.Grant{g}, got); diff != "" {
					t.Errorf("the stored grant (-want +got):\n%s", diff)
				}
				clock = later.Add(2 * time.Hour)
				require.False(t, c.HasPerm(ctx, ann, "doc.view", tc.on))
				g.ExpiresAt = time.Time{}
				require.NoError(t, c.Grant(ctx, g))
				require.True(t, c.HasPerm(ctx, ann, "doc.view", tc.on), "re-granted for good")
				require.NoError(t, c.Revoke(ctx, g))
				require.False(t, c.HasPerm(ctx, ann, "doc.view", tc.on), "revoked")
			})
		}
	}
}

// contract 7d: a grant that expires before any check gives nothing, and an expiry
// outside the years int64 nanoseconds can hold is still honoured.
func TestGrantExpiryEdges(t *testing.T) {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, store)
	require.NoError(t, err)
	ann := &User{ID: "ann"}
	for i, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Now().Add(-time.Minute), false},
		{time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Unix(0, 0), false},
	} {
		doc := iam.Ref{Type: "doc", ID: fmt.Sprint(i)}
		require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc, ExpiresAt: tc.at}))
		require.Equal(t, tc.want, c.HasPerm(ctx, ann, "doc.view", doc), "expiry %v", tc.at)
		require.Equal(t, tc.want, iam.Grant{ExpiresAt: tc.at}.Live(time.Now()))
	}
}
