package iam_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestTwoCheckersOneStore: Checkers with different policies over one store
// (one per tenant, or a test's and the application's) each answer by
// their own policy when their checks alternate, and once warm neither
// evicts the other's compiled records: alternating checks allocate
// nothing. contract 4, contract 15
func TestTwoCheckersOneStore(t *testing.T) {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	// The same role name grants different permissions in the two policies.
	a, err := iam.NewWithOptions(iam.Policy{Roles: []*iam.Role{{Name: "staff", Perms: []string{"doc.read", "doc.edit"}}}}, store, iam.Options{CacheSlots: -1})
	require.NoError(t, err)
	b, err := iam.NewWithOptions(iam.Policy{Roles: []*iam.Role{{Name: "staff", Perms: []string{"doc.read"}}},
		Perms: []iam.Perm{{Name: "doc.read"}, {Name: "doc.edit"}}}, store, iam.Options{CacheSlots: -1})
	require.NoError(t, err)
	third, err := iam.New(iam.Policy{Roles: []*iam.Role{{Name: "staff"}}, Perms: []iam.Perm{{Name: "doc.read"}, {Name: "doc.edit"}}}, store)
	require.NoError(t, err)

	// Boxed once, so that asking allocates nothing of the test's own.
	var users []iam.Subject
	var docs []iam.Object
	for i := range 8 {
		id := fmt.Sprintf("u%d", i)
		doc := iam.Ref{Type: "doc", ID: fmt.Sprint(i)}
		users = append(users, &anUser{id: id})
		docs = append(docs, doc)
		require.NoError(t, a.AssignRole(ctx, iam.Profile{Holder: iam.User(id), Role: "staff", Active: true}))
		require.NoError(t, a.Grant(ctx, iam.Grant{Holder: iam.User(id), Role: "staff", On: doc}))
	}
	ask := func() {
		for i, u := range users {
			for _, c := range []*iam.Checker{a, b} {
				_ = c.HasPerm(ctx, u, "doc.edit", docs[i])
			}
		}
	}
	for range 3 {
		for i, u := range users {
			require.True(t, a.HasPerm(ctx, u, "doc.edit", docs[i]))
			require.False(t, b.HasPerm(ctx, u, "doc.edit", docs[i]))
			require.False(t, third.HasPerm(ctx, u, "doc.edit", docs[i]))
			require.True(t, b.HasPerm(ctx, u, "doc.read", nil))
			require.False(t, third.HasPerm(ctx, u, "doc.read", docs[i]))
		}
	}
	if testing.CoverMode() == "" {
		ask()
		require.Zero(t, testing.AllocsPerRun(50, ask), "alternating Checkers recompile each other's records")
	}
}
