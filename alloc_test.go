package iam_test

import (
	"context"
	"testing"

	"github.com/iamgo/iam"
)

// TestCheckAllocs proves the warm paths allocate nothing (DESIGN §5): a
// global role, an object grant and a rule, through Check and HasPerm.
func TestCheckAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	ctx := context.Background()
	gc, gusers, gperm := globalRoleFixture(t, benchRotate)
	oc, ousers, oobjs := objectGrantFixture(t, 10_000, benchRotate)
	rc, rusers, robjs := ruleFixture(t)
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
		t.Run(tc.name, func(t *testing.T) {
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
