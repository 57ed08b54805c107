package iam_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestRolePolicyErrors: New refuses a set of roles that cannot mean one
// thing: a nil or unnamed role, two roles of one name, an included role
// missing from the policy, a cycle of Includes.
func TestRolePolicyErrors(t *testing.T) {
	a := &iam.Role{Name: "a", Perms: []string{"x"}}
	outside := &iam.Role{Name: "outside", Perms: []string{"x"}}
	cycA := &iam.Role{Name: "cyc.a"}
	cycB := &iam.Role{Name: "cyc.b", Includes: []*iam.Role{cycA}}
	cycA.Includes = []*iam.Role{cycB}
	self := &iam.Role{Name: "self"}
	self.Includes = []*iam.Role{self}
	tests := []struct {
		name  string
		roles []*iam.Role
		want  string
	}{
		{"nil role", []*iam.Role{nil}, "nil role"},
		{"empty name", []*iam.Role{{Perms: []string{"x"}}}, "empty name"},
		{"duplicate", []*iam.Role{a, {Name: "a"}}, `duplicate role "a"`},
		{"included role not in the policy", []*iam.Role{{Name: "b", Includes: []*iam.Role{outside}}}, "not in Policy.Roles"},
		{"nil include", []*iam.Role{{Name: "b", Includes: []*iam.Role{nil}}}, "includes a nil role"},
		{"cycle", []*iam.Role{cycA, cycB}, "role cycle"},
		{"includes itself", []*iam.Role{self}, "role cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iam.New(iam.Policy{Roles: tc.roles}, iam.NewMemoryStore())
			require.ErrorIs(t, err, iam.ErrInvalidPolicy)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestRoleIncludes: holding a role holds every role it includes,
// transitively, and their permissions; a role held through a group or on
// one object includes the same. contract 4, contract 14b
func TestRoleIncludes(t *testing.T) {
	ctx := context.Background()
	reader := &iam.Role{Name: "reader", Perms: []string{"doc.read"}}
	writer := &iam.Role{Name: "writer", Perms: []string{"doc.write"}, Includes: []*iam.Role{reader}}
	admin := &iam.Role{Name: "admin", Perms: []string{"doc.delete"}, Includes: []*iam.Role{writer}}
	c, err := iam.New(iam.Policy{
		Roles: []*iam.Role{reader, writer, admin},
		Rules: map[string]iam.Predicate{"doc.review": iam.HasRole(reader)},
	}, iam.NewMemoryStore())
	require.NoError(t, err)
	doc := iam.Ref{Type: "doc", ID: "1"}
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("ann"), Role: "admin", Active: true}))
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.Group("staff"), Role: "writer", Active: true}))
	require.NoError(t, c.Store().AddMember(ctx, "sam", "staff"))
	require.NoError(t, c.Grant(ctx, iam.Grant{Holder: iam.User("lou"), Role: "writer", On: doc}))

	perms := []string{"doc.read", "doc.write", "doc.delete", "doc.review"}
	held := func(id string, obj iam.Object) []string {
		var out []string
		for _, p := range perms {
			if c.HasPerm(ctx, &anUser{id: id}, p, obj) {
				out = append(out, p)
			}
		}
		return out
	}
	got := map[string][]string{
		"ann, globally":      held("ann", nil),
		"sam, through staff": held("sam", doc),
		"lou, on the doc":    held("lou", doc),
		"lou, elsewhere":     held("lou", iam.Ref{Type: "doc", ID: "2"}),
	}
	want := map[string][]string{
		"ann, globally":      perms,
		"sam, through staff": {"doc.read", "doc.write", "doc.review"},
		"lou, on the doc":    {"doc.read", "doc.write", "doc.review"},
		"lou, elsewhere":     nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("permissions held (-want +got):\n%s", diff)
	}
	d, err := c.Check(ctx, &anUser{id: "ann"}, "doc.read", doc)
	require.NoError(t, err)
	require.Equal(t, iam.ReasonGlobalRole, d.Reason)
	require.Equal(t, "admin", d.Role, "the role held, not the included one")
	require.Equal(t, "admin", admin.String())
}

// Checker.Policy returns the policy as given, in copies of its lists and
// map: changing them changes nothing the checker decides.
func TestCheckerPolicy(t *testing.T) {
	viewer := &iam.Role{Name: "doc.viewer", Perms: []string{"doc.view"}}
	rule := iam.HasRole(viewer)
	p := iam.Policy{Roles: []*iam.Role{viewer}, Perms: []iam.Perm{{Name: "doc.view"}, {Name: "doc.review"}}, Rules: map[string]iam.Predicate{"doc.review": rule}}
	c, err := iam.New(p, iam.NewMemoryStore())
	require.NoError(t, err)
	got := c.Policy()
	require.Equal(t, []*iam.Role{viewer}, got.Roles)
	require.Equal(t, p.Perms, got.Perms)
	require.Equal(t, rule.String(), got.Rules["doc.review"].String())
	got.Roles[0], got.Perms[0].Name = nil, "changed"
	delete(got.Rules, "doc.review")
	again := c.Policy()
	require.Equal(t, []*iam.Role{viewer}, again.Roles)
	require.Equal(t, "doc.view", again.Perms[0].Name)
	require.Contains(t, again.Rules, "doc.review")
	p.Roles[0] = nil // the caller's own slice, changed after New
	require.Equal(t, viewer, c.Policy().Roles[0])
}
