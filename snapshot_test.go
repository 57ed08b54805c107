package iam_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// snapCounting is a third-party Snapshotter: its views are the memory
// store's, renamed as its own, and every read through them is counted.
type snapCounting struct {
	*iam.MemoryStore
	reads  atomic.Int64
	noGen  bool  // views carry no Generation (no answer cache)
	failed error // Snapshot fails with it
}

func (s *snapCounting) Snapshot(ctx context.Context) (iam.Snapshot, error) {
	if s.failed != nil {
		return nil, s.failed
	}
	v, err := s.MemoryStore.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return &countingView{Snapshot: v, s: s}, nil
}

type countingView struct {
	iam.Snapshot
	s *snapCounting
}

func (v *countingView) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	v.s.reads.Add(1)
	return v.Snapshot.Holding(ctx, p)
}

func (v *countingView) Grants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	v.s.reads.Add(1)
	return v.Snapshot.Grants(ctx, on)
}

func (v *countingView) Facts() *iam.SnapshotFacts {
	f := *v.Snapshot.Facts()
	f.Store = v.s
	if v.s.noGen {
		f.Generation = 0
	}
	return &f
}

// grantOverride embeds the memory store, inheriting its Snapshot, and
// adds a grant of its own to every read of doc:1.
type grantOverride struct{ *iam.MemoryStore }

func (g grantOverride) Grants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	if on == (iam.Ref{Type: "doc", ID: "1"}) {
		return iam.NewGrantSet([]iam.Grant{{Holder: iam.User("ann"), Perm: "doc.view"}}), nil
	}
	return g.MemoryStore.Grants(ctx, on)
}

var snapPolicy = iam.Policy{Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}, {Name: "doc.edit", Types: []string{"doc"}}}}

func TestSnapshotterThirdParty(t *testing.T) { // contract 15b
	ctx := t.Context()
	ann, doc := scUser{id: "ann"}, iam.Ref{Type: "doc", ID: "1"}
	for _, tc := range []struct {
		name        string
		noGen       bool
		wantCached  bool
		wantAllowed bool
	}{
		{"numbered views: repeated questions come from the answer cache", false, true, true},
		{"unnumbered views: every question reads the store", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &snapCounting{MemoryStore: iam.NewMemoryStore(), noGen: tc.noGen}
			require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc}))
			c, err := iam.New(snapPolicy, s)
			require.NoError(t, err)
			require.True(t, c.HasPerm(ctx, ann, "doc.view", doc))
			first := s.reads.Load()
			require.Positive(t, first, "the Checker did not read through the store's views")
			require.Equal(t, tc.wantAllowed, c.HasPerm(ctx, ann, "doc.view", doc))
			if tc.wantCached {
				require.Equal(t, first, s.reads.Load(), "a repeated question read the store again")
			} else {
				require.Greater(t, s.reads.Load(), first, "an unnumbered view's answer was kept")
			}
			// A write makes a new generation: the kept answer is not used.
			require.NoError(t, s.Revoke(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc}))
			require.False(t, c.HasPerm(ctx, ann, "doc.view", doc))
		})
	}
}

func TestSnapshotterFailsClosed(t *testing.T) { // contract 15b, contract 17
	ctx := t.Context()
	boom := errors.New("snapshot unavailable")
	s := &snapCounting{MemoryStore: iam.NewMemoryStore(), failed: boom}
	doc := iam.Ref{Type: "doc", ID: "1"}
	require.NoError(t, s.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: doc}))
	c, err := iam.NewWithOptions(snapPolicy, s, iam.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.False(t, c.HasPerm(ctx, scUser{id: "ann"}, "doc.view", doc))
	d, err := c.Check(ctx, scUser{id: "ann"}, "doc.view", doc)
	require.ErrorIs(t, err, boom)
	require.False(t, d.Allowed)
	require.Equal(t, iam.ReasonError, d.Reason)
}

func TestSnapshotWrapperReadsItsOwnMethods(t *testing.T) { // contract 15b
	ctx := t.Context()
	doc := iam.Ref{Type: "doc", ID: "1"}
	for _, cache := range []int{0, -1} {
		c, err := iam.NewWithOptions(snapPolicy, grantOverride{iam.NewMemoryStore()}, iam.Options{CacheSlots: cache})
		require.NoError(t, err)
		d, err := c.Check(ctx, scUser{id: "ann"}, "doc.view", doc)
		require.NoError(t, err)
		require.True(t, d.Allowed, "CacheSlots %d: the wrapper's Grants was bypassed: %v", cache, d)
		require.True(t, c.HasPerm(ctx, scUser{id: "ann"}, "doc.view", doc), "CacheSlots %d", cache)
	}
}

// TestSnapshotOneViewPerCheck writes from inside a check: a rule's first
// leaf grants a role on the object, its second asks HasRole of it. On the
// memory store the check reads one view, taken before the write, so the
// role is not held in that check, and is in the next.
func TestSnapshotOneViewPerCheck(t *testing.T) { // contract 15b
	ctx := t.Context()
	editor := &iam.Role{Name: "doc.editor", Perms: []string{"doc.edit"}}
	doc := iam.Ref{Type: "doc", ID: "1"}
	store := iam.NewMemoryStore()
	grantNow := iam.Pred("grant_now", func(ctx context.Context, _ iam.Subject, _ iam.Object) bool {
		return store.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Role: "doc.editor", On: doc}) == nil
	})
	c, err := iam.New(iam.Policy{Roles: []*iam.Role{editor}, Rules: map[string]iam.Predicate{
		"doc.view": iam.And(grantNow, iam.HasRole(editor)),
	}}, store)
	require.NoError(t, err)
	d, err := c.Check(ctx, scUser{id: "ann"}, "doc.view", doc)
	require.NoError(t, err)
	require.False(t, d.Allowed, "the check saw a write made during it: %v", d)
	d, err = c.Check(ctx, scUser{id: "ann"}, "doc.view", doc)
	require.NoError(t, err)
	require.True(t, d.Allowed, "the next check missed the write: %v", d)
}
