package iamtest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// Transactions, for stores that implement iam.Transactor: the writes of one
// Transact commit together, or not at all when fn fails or the context
// ends; reads through tx see them while fn runs.

func (s *suite) testTransact(t *testing.T) {
	p := iam.Profile{Holder: alice, Role: roleEditor, Active: true}
	g := iam.Grant{Holder: alice, Perm: permEdit, On: doc1}
	boom := errors.New("changed my mind")
	writes := func(ctx context.Context, tx iam.Store) {
		must(t, tx.PutProfile(ctx, p), "tx.PutProfile")
		must(t, tx.Grant(ctx, g), "tx.Grant")
		must(t, tx.AddMember(ctx, alice.ID, "staff"), "tx.AddMember")
	}
	wantHolding := holdingView{Profiles: []iam.Profile{p}, Groups: []string{"staff"}}
	// stored reports what st holds of the writes above.
	stored := func(t *testing.T, st iam.Store) (holdingView, []iam.Grant) {
		t.Helper()
		h, err := st.Holding(t.Context(), alice)
		must(t, err, "Holding")
		gs, err := st.Grants(t.Context(), doc1)
		must(t, err, "Grants")
		return viewHolding(h), viewGrants(t, gs, doc1)
	}
	transactor := func(t *testing.T) (iam.Store, iam.Transactor) {
		st := s.store(t)
		tr, ok := st.(iam.Transactor)
		if !ok {
			t.Skipf("%T does not implement iam.Transactor", st)
		}
		return st, tr
	}

	t.Run("reads see the transaction's writes; a failure keeps none", func(t *testing.T) {
		st, tr := transactor(t)
		err := tr.Transact(t.Context(), func(ctx context.Context, tx iam.Store) error {
			writes(ctx, tx)
			h, gs := stored(t, tx)
			if diff := cmp.Diff(wantHolding, h, profileOpts); diff != "" {
				t.Errorf("tx.Holding inside the transaction (-want +got):\n%s", diff)
			}
			require.Equal(t, []iam.Grant{g}, gs, "tx.Grants inside the transaction")
			if rl, ok := tx.(iam.RoleLister); ok {
				ps, err := rl.RoleProfiles(ctx, roleEditor)
				must(t, err, "tx.RoleProfiles")
				require.True(t, slices.ContainsFunc(ps, func(x iam.Profile) bool { return x.Holder == alice }), "tx.RoleProfiles sees the new profile: %v", ps)
			}
			if hl, ok := tx.(iam.HolderGrantLister); ok {
				held, err := hl.GrantsHeldBy(ctx, alice)
				must(t, err, "tx.GrantsHeldBy")
				require.Equal(t, []iam.Grant{g}, held, "tx.GrantsHeldBy sees the new grant")
			}
			return boom
		})
		require.ErrorIs(t, err, boom, "Transact returns fn's error")
		h, gs := stored(t, st)
		require.Equal(t, holdingView{}, h, "a failed transaction stored a profile or membership")
		require.Empty(t, gs, "a failed transaction stored a grant")
	})

	t.Run("a transaction's writes land together", func(t *testing.T) {
		st, tr := transactor(t)
		require.NoError(t, tr.Transact(t.Context(), func(ctx context.Context, tx iam.Store) error {
			writes(ctx, tx)
			return nil
		}))
		h, gs := stored(t, st)
		if diff := cmp.Diff(wantHolding, h, profileOpts); diff != "" {
			t.Fatalf("after Transact (-want +got):\n%s", diff)
		}
		require.Equal(t, []iam.Grant{g}, gs)
	})

	t.Run("a context cancelled inside fn keeps nothing", func(t *testing.T) {
		st, tr := transactor(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := tr.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
			writes(ctx, tx)
			cancel()
			return nil
		})
		require.Error(t, err, "Transact committed after its context was cancelled")
		h, gs := stored(t, st)
		require.Equal(t, holdingView{}, h, "a cancelled transaction stored a profile or membership")
		require.Empty(t, gs, "a cancelled transaction stored a grant")
	})
}
