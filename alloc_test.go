package iam_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestCheckAllocs proves the warm paths allocate nothing (docs/contract.md): a
// global role, an object grant and a rule, through Check and HasPerm, with
// HasPerm's answer cache on (the default) and off.
func TestCheckAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	ctx := context.Background()
	for _, v := range []struct {
		name string
		o    iam.Options
	}{{"cached", iam.Options{}}, {"uncached", iam.Options{CacheSlots: -1}}} {
		gc, gusers, gperm := globalRoleFixture(t, benchRotate, v.o)
		oc, ousers, oobjs := objectGrantFixture(t, 10_000, benchRotate, v.o)
		rc, rusers, robjs := ruleFixture(t, v.o)
		cases := []struct {
			name string
			c    *iam.Checker
			u    *benchUser
			perm string
			obj  iam.Object
		}{
			{"global_role", gc, gusers[3], gperm, nil},
			{"object_grant", oc, ousers[5], "doc.view", oobjs[5]},
			{"rule", rc, rusers[7], "blog.change_post", robjs[7]},
		}
		for _, tc := range cases {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				d, err := tc.c.Check(ctx, tc.u, tc.perm, tc.obj) // warm: compiles the memos
				if err != nil || !d.Allowed {
					t.Fatalf("fixture denied: %v %v", d, err)
				}
				var allowed bool
				if n := testing.AllocsPerRun(1000, func() {
					d, err := tc.c.Check(ctx, tc.u, tc.perm, tc.obj)
					allowed = err == nil && d.Allowed
				}); n != 0 || !allowed {
					t.Errorf("Check: %v allocs per run (allowed %v), want 0", n, allowed)
				}
				if n := testing.AllocsPerRun(1000, func() {
					allowed = tc.c.HasPerm(ctx, tc.u, tc.perm, tc.obj)
				}); n != 0 || !allowed {
					t.Errorf("HasPerm: %v allocs per run (allowed %v), want 0", n, allowed)
				}
			})
		}
	}
}

// Many distinct permission strings (more than the name cache has slots) in
// rotation still allocate nothing: a name whose slot is taken falls back to
// the policy's map.
func TestCheckAllocsManyPerms(t *testing.T) {
	ctx := context.Background()
	const n = 600
	perms := make([]string, n)
	roles := make([]*iam.Role, n)
	for i := range n {
		perms[i] = fmt.Sprintf("app.perm%d", i)
		roles[i] = &iam.Role{Name: fmt.Sprintf("app.role%d", i), Perms: []string{perms[i]}}
	}
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{Roles: roles}, store)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User(fmt.Sprint(i % 10)), Role: roles[i].Name, Active: true}))
	}
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	u := &benchUser{id: "3"}
	for i := range n { // warm the memos
		c.HasPerm(ctx, u, perms[i], nil)
	}
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		c.HasPerm(ctx, u, perms[i%n], nil)
		i++
	})
	require.Zero(t, allocs)
}
