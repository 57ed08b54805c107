package iamtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// AccessSeed is the seed of the randomised fixture of TestAccess. A failure
// report names it; the fixture is the same on every run and every store.
const AccessSeed = 20261122

// TestAccess is the consistency suite of the access queries: on a
// randomised fixture (users, groups and memberships, global roles through
// active, inactive and expired profiles, grants and local roles on objects
// of two types, type-level and global grants, parent chains with a cycle,
// then revocations of every kind), for every (user, permission, object)
// triple it requires
//
//	Check allows ⇔ the object is in ListObjects (or the list is All)
//	             ⇔ the user appears in Holders with ExpandGroups, for that permission
//
// and that Perms returns exactly the permissions Check allows. ListObjects
// is also read page by page (Limit and the Next cursor) and must give the
// same IDs. The fixture makes more than 10,000 triples.
//
// The store must implement iam.ObjectLister, iam.MemberLister,
// iam.RoleLister and iam.ParentStore; newStore is called once and must
// return an empty store.
func TestAccess(t *testing.T, newStore func(t *testing.T) iam.Store) {
	t.Helper()
	st := newStore(t)
	for _, need := range []struct {
		name string
		ok   bool
	}{
		{"iam.ObjectLister", is[iam.ObjectLister](st)},
		{"iam.MemberLister", is[iam.MemberLister](st)},
		{"iam.RoleLister", is[iam.RoleLister](st)},
		{"iam.ParentStore", is[iam.ParentStore](st)},
	} {
		if !need.ok {
			t.Fatalf("iamtest.TestAccess: the store does not implement %s", need.name)
		}
	}
	ctx := t.Context()
	f := buildAccessFixture(t, ctx, st)
	t.Logf("access fixture (seed %d): %d users, %d groups, %d objects, %d permissions: %d triples checked",
		AccessSeed, len(f.users), len(f.groups), len(f.objects), len(accessPerms), f.triples())

	type triple struct {
		user, perm string
		obj        iam.Ref
	}
	var bad []string
	report := func(tr triple, check, listed, held bool) {
		if len(bad) >= 20 {
			return
		}
		ex, _ := f.c.Explain(ctx, accessUser(tr.user), tr.perm, tr.obj)
		bad = append(bad, fmt.Sprintf("user %s, %s on %s: Check %v, ListObjects %v, Holders %v\n    %s",
			tr.user, tr.perm, tr.obj, check, listed, held, strings.ReplaceAll(ex.String(), "\n", "\n    ")))
	}

	// Holders of every object, expanded to users.
	holders := map[iam.Ref]iam.HolderList{}
	for _, obj := range f.objects {
		hl, err := f.c.Holders(ctx, obj, iam.HoldersOptions{ExpandGroups: true})
		require.NoError(t, err, "Holders(%s)", obj)
		holders[obj] = hl
	}
	n := 0
	reasons := map[string]int{}
	for _, u := range f.users {
		for _, perm := range accessPerms {
			for _, typ := range accessTypes {
				if !permApplies(perm, typ) {
					_, err := f.c.ListObjects(ctx, accessUser(u), perm, typ, iam.ListOptions{})
					require.ErrorIs(t, err, iam.ErrWrongType, "contract 7: ListObjects(%s, %s, %s)", u, perm, typ)
					continue
				}
				list, err := f.c.ListObjects(ctx, accessUser(u), perm, typ, iam.ListOptions{})
				require.NoError(t, err, "ListObjects(%s, %s, %s)", u, perm, typ)
				require.False(t, list.Partial, "no rules in the fixture")
				require.Empty(t, list.Next, "an unlimited list has no next page")
				if list.All {
					require.True(t, list.Why.Allowed)
					require.Empty(t, list.IDs)
				}
				require.True(t, slices.IsSorted(list.IDs), "IDs ascending: %q", list.IDs)
				require.Len(t, slices.Compact(slices.Clone(list.IDs)), len(list.IDs), "IDs distinct")
				if !list.All && (n%7 == 0) {
					requirePaging(t, ctx, f.c, u, perm, typ, list.IDs)
				}
				n++
				for _, obj := range f.objects {
					if obj.Type != typ {
						continue
					}
					check, err := f.c.Check(ctx, accessUser(u), perm, obj)
					require.NoError(t, err, "Check(%s, %s, %s)", u, perm, obj)
					// HasPerm takes its own path (no Decision built).
					require.Equal(t, check.Allowed, f.c.HasPerm(ctx, accessUser(u), perm, obj), "HasPerm(%s, %s, %s)", u, perm, obj)
					if check.Allowed {
						k := check.Reason.String()
						switch {
						case check.On.IsObject() && check.On != obj:
							k += " on an ancestor"
						case check.On.Type != "" && !check.On.IsObject():
							k += " on the type"
						}
						if check.Via.Kind == iam.KindGroup {
							k += " via a group"
						}
						reasons[k]++
					}
					listed := list.All || slices.Contains(list.IDs, obj.ID)
					held := listsHolder(holders[obj], iam.User(u), perm)
					if check.Allowed != listed || check.Allowed != held {
						report(triple{u, perm, obj}, check.Allowed, listed, held)
					}
				}
			}
		}
	}
	t.Logf("allowed triples by reason: %v", reasons)
	if len(bad) > 0 {
		t.Fatalf("access queries disagree with Check (seed %d; first %d):\n%s", AccessSeed, len(bad), strings.Join(bad, "\n"))
	}

	// Perms: exactly the declared permissions Check allows, with reasons.
	for _, u := range f.users {
		for _, obj := range f.objects {
			ds, err := f.c.Perms(ctx, accessUser(u), obj)
			require.NoError(t, err)
			var got, want []string
			for _, d := range ds {
				require.True(t, d.Allowed)
				require.NotEqual(t, iam.ReasonNone, d.Reason)
				got = append(got, d.Perm)
			}
			for _, perm := range append(slices.Clone(accessPerms), iam.PermManageRoles, iam.PermManageGrants) {
				if permApplies(perm, obj.Type) && f.c.HasPerm(ctx, accessUser(u), perm, obj) {
					want = append(want, perm)
				}
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Perms(%s, %s) (-want +got):\n%s", u, obj, diff)
			}
		}
	}

	// Group holders list exactly the groups' own paths; every expanded
	// user path through a group names a group the user is a member of.
	for obj, hl := range holders {
		for _, h := range hl.Holders {
			for _, p := range h.Paths {
				if h.Principal.Kind == iam.KindUser && p.Via.Kind == iam.KindGroup {
					require.Contains(t, f.members[p.Via.ID], h.Principal.ID, "Holders(%s): %s listed through %s", obj, h.Principal, p.Via)
				}
			}
		}
	}
}

func is[T any](v any) bool { _, ok := v.(T); return ok }

// requirePaging reads the list again with a small Limit, following Next,
// and requires the same IDs.
func requirePaging(t *testing.T, ctx context.Context, c *iam.Checker, u, perm, typ string, want []string) {
	t.Helper()
	var got []string
	after := ""
	for range len(want) + 2 {
		page, err := c.ListObjects(ctx, accessUser(u), perm, typ, iam.ListOptions{After: after, Limit: 3})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.IDs), 3)
		got = append(got, page.IDs...)
		if page.Next == "" {
			break
		}
		require.Equal(t, page.IDs[len(page.IDs)-1], page.Next, "Next is the last ID of the page")
		after = page.Next
	}
	if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
		t.Fatalf("ListObjects(%s, %s, %s) page by page (-want +got):\n%s", u, perm, typ, diff)
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

type accessUser string

func (u accessUser) SubjectID() string { return string(u) }

var (
	accessTypes = []string{"folder", "doc"}
	accessPerms = []string{"view", "edit", "delete", "share", "audit"}
)

func permApplies(perm, typ string) bool {
	for _, p := range accessPolicy().Perms {
		if p.Name == perm {
			return len(p.Types) == 0 || slices.Contains(p.Types, typ)
		}
	}
	return true
}

func accessPolicy() iam.Policy {
	reader := &iam.Role{Name: "reader", Perms: []string{"view"}}
	writer := &iam.Role{Name: "writer", Perms: []string{"edit"}, Includes: []*iam.Role{reader}}
	owner := &iam.Role{Name: "owner", Perms: []string{"delete", "share"}, Includes: []*iam.Role{writer}}
	auditor := &iam.Role{Name: "auditor", Perms: []string{"audit", "view"}}
	sharer := &iam.Role{Name: "sharer", Perms: []string{"share"}}
	return iam.Policy{
		Roles: []*iam.Role{reader, writer, owner, auditor, sharer},
		Perms: []iam.Perm{
			{Name: "view"}, {Name: "edit"}, {Name: "audit"},
			{Name: "delete", Types: []string{"doc"}},
			{Name: "share", Types: []string{"doc", "folder"}},
		},
	}
}

type accessFixture struct {
	c       *iam.Checker
	users   []string
	groups  []string
	objects []iam.Ref
	members map[string][]string // group → users
}

func (f *accessFixture) triples() int {
	n := 0
	for _, perm := range accessPerms {
		for _, obj := range f.objects {
			if permApplies(perm, obj.Type) {
				n += len(f.users)
			}
		}
	}
	return n
}

func buildAccessFixture(t *testing.T, ctx context.Context, st iam.Store) *accessFixture {
	t.Helper()
	r := rand.New(rand.NewPCG(AccessSeed, 1))
	c, err := iam.New(accessPolicy(), st)
	require.NoError(t, err)
	ps := st.(iam.ParentStore)
	f := &accessFixture{c: c, members: map[string][]string{}}
	for i := range 40 {
		f.users = append(f.users, fmt.Sprintf("u%02d", i))
	}
	for i := range 5 {
		f.groups = append(f.groups, fmt.Sprintf("g%d", i))
	}
	var folders, docs []iam.Ref
	for i := range 15 {
		folders = append(folders, iam.Ref{Type: "folder", ID: fmt.Sprintf("f%02d", i)})
	}
	for i := range 60 {
		docs = append(docs, iam.Ref{Type: "doc", ID: fmt.Sprintf("d%02d", i)})
	}
	f.objects = append(append(f.objects, folders...), docs...)
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	must := func(err error, what string) {
		t.Helper()
		require.NoError(t, err, what)
	}

	// Memberships.
	type membership struct{ user, group string }
	var ms []membership
	for _, u := range f.users {
		for range r.IntN(3) {
			m := membership{u, pick(f.groups)}
			must(st.AddMember(ctx, m.user, m.group), "AddMember")
			ms = append(ms, m)
		}
	}
	// Folder tree (each folder under an earlier one), a cycle, docs in
	// zero to two folders, a doc under another doc.
	for i := 1; i < len(folders); i++ {
		if r.IntN(4) > 0 {
			must(ps.SetParents(ctx, folders[i], []iam.Ref{folders[r.IntN(i)]}), "SetParents")
		}
	}
	must(ps.SetParents(ctx, folders[0], []iam.Ref{folders[14]}), "SetParents (cycle)")
	for _, d := range docs {
		var parents []iam.Ref
		for range r.IntN(3) {
			parents = append(parents, folders[r.IntN(len(folders))])
		}
		must(ps.SetParents(ctx, d, parents), "SetParents")
	}
	must(ps.SetParents(ctx, docs[1], []iam.Ref{docs[0]}), "SetParents (doc under doc)")

	// Grants and local roles on objects.
	holder := func() iam.Principal {
		if r.IntN(4) == 0 {
			return iam.Group(pick(f.groups))
		}
		return iam.User(pick(f.users))
	}
	roles := []string{"reader", "writer", "owner", "auditor", "sharer"}
	var grants []iam.Grant
	for len(grants) < 220 {
		obj := f.objects[r.IntN(len(f.objects))]
		g := iam.Grant{Holder: holder(), On: obj}
		if r.IntN(2) == 0 {
			g.Role = pick(roles)
		} else {
			g.Perm = pick(accessPerms)
			if !permApplies(g.Perm, obj.Type) {
				continue
			}
		}
		must(c.Grant(ctx, g), "Grant")
		grants = append(grants, g)
	}
	// Type-level and global grants, global roles through profiles.
	now := time.Now()
	for _, g := range []iam.Grant{
		{Holder: iam.User("u05"), Perm: "view", On: iam.TypeScope("doc")},
		{Holder: iam.Group("g3"), Role: "reader", On: iam.TypeScope("folder")},
		{Holder: iam.User("u07"), Perm: "audit", On: iam.GlobalScope()},
		{Holder: iam.User("u08"), Role: "sharer", On: iam.GlobalScope()},
	} {
		must(c.Grant(ctx, g), "Grant (wide)")
	}
	for _, p := range []iam.Profile{
		{Holder: iam.User("u10"), Role: "auditor", Active: true},
		{Holder: iam.User("u11"), Role: "writer", Active: true}, // switched off below
		{Holder: iam.User("u12"), Role: "writer", Active: true, ExpiresAt: now.Add(-time.Hour)},
		{Holder: iam.User("u13"), Role: "owner", Active: true, ExpiresAt: now.Add(time.Hour)},
		{Holder: iam.Group("g4"), Role: "reader", Active: true},
		{Holder: iam.User("u14"), Role: "owner", Active: true},
		{Holder: iam.Group("g2"), Role: "sharer", Active: true},
	} {
		must(c.AssignRole(ctx, p), "AssignRole")
	}
	must(c.SetRoleActive(ctx, iam.User("u11"), "writer", false), "SetRoleActive")

	// Revocations of every kind.
	for _, g := range grants {
		if r.IntN(10) < 3 {
			must(st.Revoke(ctx, g), "Revoke")
		}
	}
	must(st.DeleteGrantsOn(ctx, docs[3]), "DeleteGrantsOn")
	must(st.SetProfileActive(ctx, iam.User("u14"), "owner", false), "SetProfileActive")
	must(st.DeleteProfile(ctx, iam.Group("g2"), "sharer"), "DeleteProfile")
	for i, m := range ms {
		if i%5 == 0 {
			must(st.RemoveMember(ctx, m.user, m.group), "RemoveMember")
		}
	}
	must(ps.SetParents(ctx, docs[2], []iam.Ref{folders[5]}), "SetParents (move)")
	must(ps.SetParents(ctx, docs[4], nil), "SetParents (clear)")

	// The memberships that remain.
	for _, u := range f.users {
		h, err := st.Holding(ctx, iam.User(u))
		require.NoError(t, err)
		for _, g := range h.Groups() {
			f.members[g] = append(f.members[g], u)
		}
	}
	return f
}

// listsHolder reports whether hl lists p holding perm.
func listsHolder(hl iam.HolderList, p iam.Principal, perm string) bool {
	for _, h := range hl.Holders {
		if h.Principal == p {
			return slices.Contains(h.Perms, perm)
		}
	}
	return false
}
