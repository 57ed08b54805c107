package iamtest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// Grants: every read and write of iam.ObjectPermStore.

// permGrant and roleGrant build grants.
func permGrant(holder iam.Principal, perm string, on iam.Ref) iam.Grant {
	return iam.Grant{Holder: holder, Perm: perm, On: on}
}

func roleGrant(holder iam.Principal, role string, on iam.Ref) iam.Grant {
	return iam.Grant{Holder: holder, Role: role, On: on}
}

func grantAll(t *testing.T, st iam.Store, gs ...iam.Grant) {
	t.Helper()
	for _, g := range gs {
		must(t, st.Grant(t.Context(), g), "Grant(%+v)", g)
	}
}

func (s *suite) testGrantsUnknownRef(t *testing.T) {
	// Grants on a Ref with no grants is nil or an empty set, in an empty
	// store and next to grants on other refs.
	for _, populated := range []bool{false, true} {
		name := "empty store"
		if populated {
			name = "populated store"
		}
		t.Run(name, func(t *testing.T) {
			st := s.store(t)
			if populated {
				grantAll(t, st,
					permGrant(alice, permView, doc1),
					permGrant(alice, permView, iam.TypeScope(typeFolder)),
					roleGrant(staff, roleEditor, iam.Ref{Type: typeFolder, ID: "f"}))
			}
			for _, on := range []iam.Ref{doc2, docType, global, iam.TypeScope(typePage), {Type: typePage, ID: "1"}, {Type: typeDoc, ID: "10"}} {
				set, err := st.Grants(t.Context(), on)
				require.NoError(t, err, "Grants(%v)", on)
				require.Zero(t, set.Len(), "Grants(%v).Len()", on)
				require.Empty(t, set.Grants(on), "Grants(%v)", on)
			}
		})
	}
}

func (s *suite) testGrantRoundTrip(t *testing.T) {
	// Grants of permissions and local roles to users and groups, on an
	// object, a whole type and globally, read back exactly.
	for _, on := range []iam.Ref{doc1, docType, global} {
		t.Run(on.String(), func(t *testing.T) {
			st := s.store(t)
			gs := []iam.Grant{
				permGrant(alice, permView, on),
				permGrant(alice, permEdit, on),
				roleGrant(alice, roleViewer, on),
				permGrant(staff, permView, on),
				roleGrant(staff, roleEditor, on),
				permGrant(bob, permManage, on),
			}
			for i, g := range gs {
				must(t, st.Grant(t.Context(), g), "Grant(%+v)", g)
				requireGrants(t, st, on, gs[:i+1]...)
			}
			for i, g := range gs {
				must(t, st.Revoke(t.Context(), g), "Revoke(%+v)", g)
				requireGrants(t, st, on, gs[i+1:]...)
			}
		})
	}
}

func (s *suite) testGrantIdempotent(t *testing.T) {
	// Granting twice is the same as granting once: one entry.
	st := s.store(t)
	gs := []iam.Grant{
		permGrant(alice, permView, doc1),
		roleGrant(staff, roleEditor, doc1),
		permGrant(alice, permView, docType),
		permGrant(alice, permView, global),
	}
	for range 3 {
		grantAll(t, st, gs...)
	}
	requireGrants(t, st, doc1, gs[0], gs[1])
	requireGrants(t, st, docType, gs[2])
	requireGrants(t, st, global, gs[3])

	// One revoke removes the grant, however often it was granted.
	must(t, st.Revoke(t.Context(), gs[0]), "Revoke")
	requireGrants(t, st, doc1, gs[1])
}

func (s *suite) testRevokeIdempotent(t *testing.T) {
	// Revoking a missing grant is not an error and changes nothing; revoking
	// twice is the same as once.
	st := s.store(t)
	kept := []iam.Grant{
		permGrant(alice, permView, doc1),
		roleGrant(staff, roleViewer, doc1),
		permGrant(alice, permEdit, docType),
	}
	gone := permGrant(bob, permEdit, doc1)
	grantAll(t, st, append(kept, gone)...)

	must(t, st.Revoke(t.Context(), gone), "Revoke")
	must(t, st.Revoke(t.Context(), gone), "Revoke again")
	for _, g := range []iam.Grant{
		permGrant(alice, permView, doc2),              // other object
		permGrant(alice, permView, docType),           // the type, not the object
		permGrant(alice, permView, global),            // global
		permGrant(alice, permEdit, doc1),              // other permission
		roleGrant(alice, permView, doc1),              // a role of the permission's name
		permGrant(iam.Group("alice"), permView, doc1), // a group of the user's name
		permGrant(iam.User("staff"), roleViewer, doc1),
		roleGrant(iam.User("staff"), roleViewer, doc1), // a user of the group's name
		roleGrant(staff, roleEditor, doc1),             // other role
		permGrant(alice, permEdit, iam.TypeScope(typePage)),
		permGrant(iam.User("nobody"), permView, iam.Ref{Type: "nothing", ID: "here"}),
	} {
		must(t, st.Revoke(t.Context(), g), "Revoke(%+v) of a missing grant", g)
	}
	requireGrants(t, st, doc1, kept[0], kept[1])
	requireGrants(t, st, docType, kept[2])
	requireGrants(t, st, global)
}

func (s *suite) testGrantPermAndRoleDistinct(t *testing.T) {
	// A permission grant and a local-role grant of the same name are two
	// entries.
	st := s.store(t)
	p := permGrant(alice, "x", doc1)
	r := roleGrant(alice, "x", doc1)
	grantAll(t, st, p, r)
	requireGrants(t, st, doc1, p, r)
	must(t, st.Revoke(t.Context(), p), "Revoke")
	requireGrants(t, st, doc1, r)
	grantAll(t, st, p)
	must(t, st.Revoke(t.Context(), r), "Revoke")
	requireGrants(t, st, doc1, p)
}

func (s *suite) testGrantUserAndGroupDistinct(t *testing.T) {
	// Grants to User("x") and Group("x") are two entries.
	st := s.store(t)
	u := permGrant(iam.User("x"), permView, doc1)
	g := permGrant(iam.Group("x"), permView, doc1)
	grantAll(t, st, g)
	requireGrants(t, st, doc1, g)
	grantAll(t, st, u)
	requireGrants(t, st, doc1, u, g)
	must(t, st.Revoke(t.Context(), g), "Revoke")
	requireGrants(t, st, doc1, u)
	grantAll(t, st, g)
	must(t, st.Revoke(t.Context(), u), "Revoke")
	requireGrants(t, st, doc1, g)
}

func (s *suite) testGrantsExactRef(t *testing.T) {
	// Grants returns the grants on exactly the Ref asked: not those on the
	// type, globally, on another object, or on a recorded parent.
	st := s.store(t)
	folder := iam.Ref{Type: typeFolder, ID: "1"}
	onDoc1 := []iam.Grant{permGrant(alice, permView, doc1), roleGrant(staff, roleEditor, doc1)}
	onDoc2 := []iam.Grant{permGrant(bob, permEdit, doc2)}
	onDocType := []iam.Grant{permGrant(alice, permEdit, docType)}
	onGlobal := []iam.Grant{permGrant(bob, permManage, global)}
	onFolder := []iam.Grant{roleGrant(alice, roleAdmin, folder)}
	onFolderID1 := []iam.Grant{permGrant(alice, "x", iam.TypeScope("1"))} // type "1"
	for _, gs := range [][]iam.Grant{onDoc1, onDoc2, onDocType, onGlobal, onFolder, onFolderID1} {
		grantAll(t, st, gs...)
	}
	if ps, ok := st.(iam.ParentStore); ok {
		must(t, ps.SetParents(t.Context(), doc1, []iam.Ref{folder}), "SetParents")
	}
	requireGrants(t, st, doc1, onDoc1...)
	requireGrants(t, st, doc2, onDoc2...)
	requireGrants(t, st, docType, onDocType...)
	requireGrants(t, st, global, onGlobal...)
	requireGrants(t, st, folder, onFolder...)
	requireGrants(t, st, iam.TypeScope("1"), onFolderID1...)
	requireGrants(t, st, iam.TypeScope(typeFolder))
	requireGrants(t, st, iam.Ref{Type: typeDoc, ID: "3"})
}

func (s *suite) testDeleteGrantsOn(t *testing.T) {
	// DeleteGrantsOn removes every grant on exactly one Ref and leaves the
	// others: other objects, the type-level grants, the global grants.
	folder := iam.Ref{Type: typeFolder, ID: "1"}
	all := map[iam.Ref][]iam.Grant{
		doc1: {
			permGrant(alice, permView, doc1), permGrant(alice, permEdit, doc1),
			roleGrant(alice, roleEditor, doc1), permGrant(staff, permView, doc1),
			roleGrant(staff, roleViewer, doc1), permGrant(bob, permView, doc1),
		},
		doc2:                      {permGrant(alice, permView, doc2)},
		docType:                   {permGrant(alice, permView, docType), roleGrant(staff, roleViewer, docType)},
		global:                    {permGrant(alice, permView, global), roleGrant(bob, roleAdmin, global)},
		folder:                    {permGrant(alice, permView, folder)},
		iam.TypeScope(typeFolder): {permGrant(alice, permView, iam.TypeScope(typeFolder))},
	}

	for _, del := range []iam.Ref{doc1, doc2, docType, global, folder, iam.TypeScope(typeFolder), {Type: typeDoc, ID: "nothing"}, iam.TypeScope("nothing")} {
		t.Run(del.String(), func(t *testing.T) {
			st := s.store(t)
			for _, gs := range all {
				grantAll(t, st, gs...)
			}
			must(t, st.DeleteGrantsOn(t.Context(), del), "DeleteGrantsOn(%v)", del)
			for on, gs := range all {
				if on == del {
					requireGrants(t, st, on)
				} else {
					requireGrants(t, st, on, gs...)
				}
			}
			// Deleting again is not an error.
			must(t, st.DeleteGrantsOn(t.Context(), del), "DeleteGrantsOn(%v) again", del)
			requireGrants(t, st, del)
			// New grants on the ref work after the deletion.
			g := permGrant(alice, "after", del)
			grantAll(t, st, g)
			requireGrants(t, st, del, g)
		})
	}
}

func (s *suite) testGrantSetIsSnapshot(t *testing.T) {
	// A GrantSet is immutable once returned: later writes do not change it
	// (the Checker caches its compiled form on it).
	st := s.store(t)
	g1 := permGrant(alice, permView, doc1)
	g2 := roleGrant(staff, roleEditor, doc1)
	grantAll(t, st, g1, g2)
	set, err := st.Grants(t.Context(), doc1)
	require.NoError(t, err)
	want := sortedGrants([]iam.Grant{g1, g2})
	requireDiff(t, want, viewGrants(t, set, doc1), "GrantSet before writes")

	grantAll(t, st, permGrant(bob, permView, doc1))
	must(t, st.Revoke(t.Context(), g1), "Revoke")
	requireDiff(t, want, viewGrants(t, set, doc1), "GrantSet returned before Grant and Revoke")
	must(t, st.DeleteGrantsOn(t.Context(), doc1), "DeleteGrantsOn")
	requireDiff(t, want, viewGrants(t, set, doc1), "GrantSet returned before DeleteGrantsOn")
}

// testGrantInvalidRef: a grant on a Ref that is neither an object, a
// TypeScope nor the GlobalScope is refused with iam.ErrInvalid and stores
// nothing. The case that matters is an object not saved yet (a type with
// no ID): it must not become a grant on every object of the type, nor an
// unset On a grant on everything. contract 7b
func (s *suite) testGrantInvalidRef(t *testing.T) {
	st := s.store(t)
	for _, on := range []iam.Ref{{Type: typeDoc}, {}, {ID: "1"}} {
		for _, g := range []iam.Grant{permGrant(alice, permView, on), roleGrant(staff, roleViewer, on)} {
			err := st.Grant(t.Context(), g)
			require.Error(t, err, "Grant(%v)", g)
			require.True(t, errors.Is(err, iam.ErrInvalid), "Grant(%v): %v does not wrap iam.ErrInvalid", g, err)
		}
	}
	requireGrants(t, st, docType)
	requireGrants(t, st, global)
	c := newChecker(t, st, nil)
	for _, on := range []iam.Ref{doc1, doc2} {
		d, err := c.Check(t.Context(), uAlice, permView, on)
		require.NoError(t, err)
		require.False(t, d.Allowed, "alice may view %v after refused grants: %v", on, d)
	}
}

func (s *suite) testGrantExpiry(t *testing.T) {
	// A grant keeps its ExpiresAt (to the microsecond, what SQL stores
	// keep), in Grants and in a store's own listing; granting it again
	// replaces the expiry, also with none; Revoke removes it whatever its
	// expiry.
	st := s.store(t)
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	g := permGrant(alice, permView, doc1)
	g.ExpiresAt = at
	other := roleGrant(staff, roleEditor, docType)
	grantAll(t, st, g, other)
	got := grantsOn(t, st, doc1)
	require.Len(t, got, 1)
	require.True(t, got[0].ExpiresAt.Equal(at), "Grants keeps the expiry: %v, want %v", got[0].ExpiresAt, at)
	require.True(t, grantsOn(t, st, docType)[0].ExpiresAt.IsZero(), "a grant without expiry reads back without")
	if l, ok := st.(iam.HolderGrantLister); ok {
		held, err := l.GrantsHeldBy(t.Context(), alice)
		require.NoError(t, err)
		require.Len(t, held, 1)
		require.True(t, held[0].ExpiresAt.Equal(at), "GrantsHeldBy keeps the expiry")
	}
	later := at.Add(time.Hour)
	g.ExpiresAt = later
	grantAll(t, st, g)
	got = grantsOn(t, st, doc1)
	require.Len(t, got, 1, "granting again replaces, it does not add")
	require.True(t, got[0].ExpiresAt.Equal(later), "the new expiry: %v", got[0].ExpiresAt)
	g.ExpiresAt = time.Time{}
	grantAll(t, st, g)
	got = grantsOn(t, st, doc1)
	require.Len(t, got, 1)
	require.True(t, got[0].ExpiresAt.IsZero(), "granted again without expiry")
	g.ExpiresAt = later
	grantAll(t, st, g)
	g.ExpiresAt = time.Time{}
	must(t, st.Revoke(t.Context(), g), "Revoke")
	require.Empty(t, grantsOn(t, st, doc1), "Revoke ignores the expiry")
}
