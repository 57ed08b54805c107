package iam_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestManagerChangeObject: a grant change carries the application's object,
// so rules typed on it (an owner may manage the reviewers of their post)
// decide; without it the rule sees a bare Ref and the change is refused
// with the rule's error, never allowed. contract 19, 11
func TestManagerChangeObject(t *testing.T) {
	ctx := t.Context()
	reviewer := &iam.Role{Name: "blog.reviewer", Perms: []string{"blog.view"}}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u iam.Subject, d *ctDoc) bool {
		return d != nil && d.owner == u.SubjectID()
	})
	store := iam.NewMemoryStore()
	c, err := iam.New(iam.Policy{
		Roles: []*iam.Role{reviewer},
		Perms: []iam.Perm{{Name: "blog.view"}, {Name: iam.PermManageRoles}},
		Rules: map[string]iam.Predicate{"blog.view": isOwner, iam.PermManageRoles: isOwner},
	}, store)
	require.NoError(t, err)
	// Posts have no children: the owner's rule holds on all the grant
	// reaches.
	noKids := func(context.Context, iam.Ref) ([]iam.Object, error) { return nil, nil }
	m := iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler), Children: noKids})
	post := &ctDoc{ref: iam.Ref{Type: "blog.post", ID: "1"}, owner: "ann"}
	g := iam.Grant{Holder: iam.User("rita"), Role: "blog.reviewer", On: post.ref}

	tests := []struct {
		name    string
		actor   string
		obj     iam.Object
		wantErr error
	}{
		{"bare ref: the owner rule cannot decide", "ann", nil, iam.ErrWrongType},
		{"mismatched object", "ann", &ctDoc{ref: iam.Ref{Type: "blog.post", ID: "2"}, owner: "ann"}, iam.ErrInvalid},
		{"not the owner", "bob", post, iam.ErrNotManager},
		{"the owner", "ann", post, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Apply(ctx, ctPlain(tc.actor), iam.Change{Kind: iam.ChangeGrant, Grant: g, Object: tc.obj})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.False(t, c.HasPerm(ctx, ctPlain("rita"), "blog.view", post), "a refused change wrote nothing")
				return
			}
			require.NoError(t, err)
			require.True(t, c.HasPerm(ctx, ctPlain("rita"), "blog.view", post))
		})
	}
	require.NoError(t, m.Apply(ctx, ctPlain("ann"), iam.Change{Kind: iam.ChangeRevoke, Grant: g, Object: post}))
	require.False(t, c.HasPerm(ctx, ctPlain("rita"), "blog.view", post))

	// Without Children the Manager cannot know the post has no
	// descendants, which the grant would reach and the owner's rule may
	// not: refused.
	bare := iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler)})
	err = bare.Apply(ctx, ctPlain("ann"), iam.Change{Kind: iam.ChangeGrant, Grant: g, Object: post})
	require.ErrorIs(t, err, iam.ErrEscalation)
	require.False(t, c.HasPerm(ctx, ctPlain("rita"), "blog.view", post))
}
