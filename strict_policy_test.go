package iam_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestStrictPolicyDeclaresManagerPerms: with Policy.Perms set (a strict
// policy), roles and rules may name iam.manage_roles and iam.manage_grants
// without declaring them: the library declares them in every policy.
// contract 1, 19
func TestStrictPolicyDeclaresManagerPerms(t *testing.T) {
	admin := &iam.Role{Name: "admin", Perms: []string{"doc.read", iam.PermManageRoles, iam.PermManageGrants}}
	tests := []struct {
		name    string
		policy  iam.Policy
		wantErr error
	}{
		{"role grants the manage permissions", iam.Policy{
			Roles: []*iam.Role{admin},
			Perms: []iam.Perm{{Name: "doc.read"}},
		}, nil},
		{"rule for a manage permission", iam.Policy{
			Roles: []*iam.Role{admin},
			Perms: []iam.Perm{{Name: "doc.read"}},
			Rules: map[string]iam.Predicate{iam.PermManageGrants: iam.HasRole(admin)},
		}, nil},
		{"declared explicitly too", iam.Policy{
			Roles: []*iam.Role{admin},
			Perms: []iam.Perm{{Name: "doc.read"}, {Name: iam.PermManageRoles}, {Name: iam.PermManageGrants}},
		}, nil},
		{"a typo is still refused", iam.Policy{
			Roles: []*iam.Role{{Name: "r", Perms: []string{"iam.manage_role"}}},
			Perms: []iam.Perm{{Name: "doc.read"}},
		}, iam.ErrInvalidPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := iam.New(tc.policy, iam.NewMemoryStore())
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, c.Declares(iam.PermManageRoles))
			require.True(t, c.Declares(iam.PermManageGrants))
		})
	}
}
