package iam_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestCheckerWritesValidate: the Checker's write methods are the trusted
// write path, and every one of them validates against the policy, so a
// typo'd role, permission or an empty group is an error instead of a row
// that grants nothing; the writes that name no policy entry (memberships,
// parents, DeleteGrantsOn) are the store's, which refuses malformed ones.
// contract 7, contract 7b
func TestCheckerWritesValidate(t *testing.T) {
	ctx := context.Background()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.edit"}}
	post := iam.Ref{Type: "blog.post", ID: "1"}
	ann := iam.User("ann")
	bad := []struct {
		name  string
		write func(c *iam.Checker) error
	}{
		{"AssignRole: unknown role", func(c *iam.Checker) error {
			return c.AssignRole(ctx, iam.Profile{Holder: ann, Role: "blog.edtor", Active: true})
		}},
		{"AssignRole: not Active", func(c *iam.Checker) error { return c.AssignRole(ctx, iam.Profile{Holder: ann, Role: "blog.editor"}) }},
		{"AssignRole: no holder", func(c *iam.Checker) error {
			return c.AssignRole(ctx, iam.Profile{Role: "blog.editor", Active: true})
		}},
		{"SetRoleActive: unknown role", func(c *iam.Checker) error { return c.SetRoleActive(ctx, ann, "nope", true) }},
		{"RemoveRole: unknown role", func(c *iam.Checker) error { return c.RemoveRole(ctx, ann, "nope") }},
		{"Grant: unknown role", func(c *iam.Checker) error { return c.Grant(ctx, iam.Grant{Holder: ann, Role: "nope", On: post}) }},
		{"Grant: unknown permission", func(c *iam.Checker) error {
			return c.Grant(ctx, iam.Grant{Holder: ann, Perm: "blog.edt", On: post})
		}},
		{"Revoke: unknown permission", func(c *iam.Checker) error {
			return c.Revoke(ctx, iam.Grant{Holder: ann, Perm: "blog.edt", On: post})
		}},
		{"Grant: unsaved object", func(c *iam.Checker) error {
			return c.Grant(ctx, iam.Grant{Holder: ann, Perm: "blog.edit", On: iam.Ref{Type: "blog.post"}})
		}},
		{"Apply AddMember: no group", func(c *iam.Checker) error {
			return c.Apply(ctx, iam.Change{Kind: iam.ChangeAddMember, User: "ann"})
		}},
		{"Apply AddMember: no user", func(c *iam.Checker) error {
			return c.Apply(ctx, iam.Change{Kind: iam.ChangeAddMember, Group: "staff"})
		}},
		{"Apply RemoveMember: no group", func(c *iam.Checker) error {
			return c.Apply(ctx, iam.Change{Kind: iam.ChangeRemoveMember, User: "ann"})
		}},
		{"store AddMember: no group", func(c *iam.Checker) error { return c.Store().AddMember(ctx, "ann", "") }},
		{"store DeleteGrantsOn: zero Ref", func(c *iam.Checker) error { return c.Store().DeleteGrantsOn(ctx, iam.Ref{}) }},
		{"store SetParents: unsaved parent", func(c *iam.Checker) error {
			return c.Store().(iam.ParentStore).SetParents(ctx, post, []iam.Ref{{Type: "blog.section"}})
		}},
		{"Apply: no kind", func(c *iam.Checker) error { return c.Apply(ctx, iam.Change{}) }},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			store := iam.NewMemoryStore()
			c, err := iam.New(iam.Policy{Roles: []*iam.Role{editor}}, store)
			require.NoError(t, err)
			err = tc.write(c)
			require.Error(t, err)
			require.True(t, errorsIsAny(err, iam.ErrInvalid, iam.ErrUnknownPermission), "%v", err)
			h, err := store.Holding(ctx, ann)
			require.NoError(t, err)
			require.Empty(t, h.Profiles(), "nothing stored")
			require.Empty(t, h.Groups(), "nothing stored")
			gs, err := store.Grants(ctx, post)
			require.NoError(t, err)
			require.Zero(t, gs.Len(), "nothing stored")
		})
	}

	t.Run("valid writes land", func(t *testing.T) {
		store := iam.NewMemoryStore()
		c, err := iam.New(iam.Policy{Roles: []*iam.Role{editor}}, store)
		require.NoError(t, err)
		u := scUser{id: "ann"}
		steps := []struct {
			name string
			do   func() error
			want bool // ann may edit post 1 afterwards
		}{
			{"assign", func() error { return c.AssignRole(ctx, iam.Profile{Holder: ann, Role: "blog.editor", Active: true}) }, true},
			{"switch off", func() error { return c.SetRoleActive(ctx, ann, "blog.editor", false) }, false},
			{"switch on", func() error { return c.SetRoleActive(ctx, ann, "blog.editor", true) }, true},
			{"remove", func() error { return c.RemoveRole(ctx, ann, "blog.editor") }, false},
			{"group role", func() error {
				return c.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Role: "blog.editor", On: post})
			}, false},
			{"join", func() error { return store.AddMember(ctx, "ann", "staff") }, true},
			{"leave", func() error { return store.RemoveMember(ctx, "ann", "staff") }, false},
			{"grant", func() error { return c.Grant(ctx, iam.Grant{Holder: ann, Perm: "blog.edit", On: post}) }, true},
			{"revoke", func() error { return c.Revoke(ctx, iam.Grant{Holder: ann, Perm: "blog.edit", On: post}) }, false},
			{"grant again", func() error { return c.Grant(ctx, iam.Grant{Holder: ann, Perm: "blog.edit", On: post}) }, true},
			{"object deleted", func() error { return store.DeleteGrantsOn(ctx, post) }, false},
			{"parent", func() error {
				if err := c.Grant(ctx, iam.Grant{Holder: ann, Role: "blog.editor", On: iam.Ref{Type: "blog.section", ID: "s"}}); err != nil {
					return err
				}
				return store.SetParents(ctx, post, []iam.Ref{{Type: "blog.section", ID: "s"}})
			}, true},
		}
		var got, want []string
		for _, st := range steps {
			require.NoError(t, st.do(), st.name)
			got = append(got, st.name+": "+boolWord(c.HasPerm(ctx, u, "blog.edit", post)))
			want = append(want, st.name+": "+boolWord(st.want))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("after each write (-want +got):\n%s", diff)
		}
		require.ErrorIs(t, c.SetRoleActive(ctx, iam.User("bob"), "blog.editor", true), iam.ErrNotFound)
	})
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func boolWord(b bool) string {
	if b {
		return "allowed"
	}
	return "denied"
}
