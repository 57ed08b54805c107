package iamtest

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// Snapshots, for stores that implement iam.Snapshotter: a view names its
// store, never changes after it is taken, claims only facts that are true
// of it, and numbers itself apart from every later view.

// snapView is what a snapshot holds for the suite's fixture.
type snapView struct {
	Alice   holdingView
	Doc1    []iam.Grant
	DocType []iam.Grant
	Global  []iam.Grant
	Parents []iam.Ref
}

func readSnap(t *testing.T, v iam.Snapshot) snapView {
	t.Helper()
	ctx := t.Context()
	h, err := v.Holding(ctx, alice)
	require.NoError(t, err, "Snapshot.Holding")
	var out snapView
	out.Alice = viewHolding(h)
	for _, x := range []struct {
		on  iam.Ref
		dst *[]iam.Grant
	}{{doc1, &out.Doc1}, {docType, &out.DocType}, {global, &out.Global}} {
		gs, err := v.Grants(ctx, x.on)
		require.NoError(t, err, "Snapshot.Grants(%v)", x.on)
		*x.dst = viewGrants(t, gs, x.on)
	}
	ps, err := v.Parents(ctx, doc1)
	require.NoError(t, err, "Snapshot.Parents")
	if len(ps) > 0 {
		out.Parents = slices.Clone(ps)
	}
	return out
}

// requireTrueFacts fails when v's facts claim what its data contradicts.
func requireTrueFacts(t *testing.T, st iam.Store, v iam.Snapshot, what string) {
	t.Helper()
	f := v.Facts()
	require.NotNil(t, f, "%s: Facts() is nil", what)
	require.Equal(t, st, f.Store, "%s: Facts().Store is not the store the view was taken of", what)
	d := readSnap(t, v)
	role := func(gs []iam.Grant) bool {
		return slices.ContainsFunc(gs, func(g iam.Grant) bool { return g.Role != "" })
	}
	if f.NoRoleGrants {
		require.False(t, role(d.Doc1) || role(d.DocType) || role(d.Global), "%s: Facts().NoRoleGrants, but a role is granted", what)
	}
	if f.NoWideGrants {
		require.Empty(t, append(d.DocType, d.Global...), "%s: Facts().NoWideGrants, but a type or global grant is stored", what)
	}
	if f.NoParents {
		require.Empty(t, d.Parents, "%s: Facts().NoParents, but doc:1 has parents", what)
	}
}

func (s *suite) testSnapshot(t *testing.T) {
	st := s.store(t)
	sn, ok := st.(iam.Snapshotter)
	if !ok {
		t.Skipf("%T does not implement iam.Snapshotter", st)
	}
	ctx := t.Context()
	take := func(what string) iam.Snapshot {
		t.Helper()
		v, err := sn.Snapshot(ctx)
		require.NoError(t, err, "Snapshot (%s)", what)
		require.NotNil(t, v, "Snapshot (%s) returned nil", what)
		requireTrueFacts(t, st, v, what)
		return v
	}
	empty := take("empty store")

	must(t, st.PutProfile(ctx, iam.Profile{Holder: alice, Role: roleViewer, Active: true}), "PutProfile")
	grantAll(t, st, permGrant(alice, permView, doc1))
	first := take("one profile, one grant")
	want := readSnap(t, first)

	// Every kind of write after the view was taken: the view keeps what it
	// held, the next view sees the writes.
	must(t, st.DeleteProfile(ctx, alice, roleViewer), "DeleteProfile")
	must(t, st.AddMember(ctx, alice.ID, "staff"), "AddMember")
	must(t, st.Revoke(ctx, permGrant(alice, permView, doc1)), "Revoke")
	grantAll(t, st, roleGrant(alice, roleEditor, doc1), permGrant(alice, permView, docType), permGrant(alice, permManage, global))
	if ps, ok := st.(iam.ParentStore); ok {
		must(t, ps.SetParents(ctx, doc1, []iam.Ref{{Type: typeFolder, ID: "1"}}), "SetParents")
	}
	requireDiff(t, want, readSnap(t, first), "a view after later writes")
	second := take("after every kind of write")
	got := readSnap(t, second)
	require.Empty(t, got.Alice.Profiles, "the next view misses DeleteProfile")
	require.Equal(t, []string{"staff"}, got.Alice.Groups, "the next view misses AddMember")
	require.Equal(t, []iam.Grant{roleGrant(alice, roleEditor, doc1)}, got.Doc1, "the next view misses Revoke and Grant")

	gens := []uint64{empty.Facts().Generation, first.Facts().Generation, second.Facts().Generation}
	for i, g := range gens {
		for j := range i {
			if g != 0 && g == gens[j] {
				t.Fatalf("views %d and %d hold different data under one Generation %d", j, i, g)
			}
		}
	}

	// A cancelled context fails the view's reads or the Snapshot call, or
	// is ignored (an in-memory view); it never returns wrong data.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if v, err := sn.Snapshot(cancelled); err == nil && v != nil {
		if h, err := v.Holding(cancelled, alice); err == nil {
			require.Equal(t, []string{"staff"}, viewHolding(h).Groups, "Holding on a cancelled context")
		}
	}
}
