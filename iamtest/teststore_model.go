package iamtest

import (
	"slices"
	"testing"

	"github.com/iamgo/iam"
)

// A small model of store content: the tests write items, then compare what
// the store returns for every key the items touch with what the items say
// it should hold.

type itemKind uint8

const (
	itemProfile itemKind = iota + 1
	itemMember
	itemGrant
	itemParents
)

// item is one thing a store holds: a profile, a membership, a grant or the
// recorded parents of an object.
type item struct {
	kind    itemKind
	profile iam.Profile
	user    string
	group   string
	grant   iam.Grant
	ref     iam.Ref
	parents []iam.Ref
}

func profileItem(p iam.Profile) item { return item{kind: itemProfile, profile: p} }
func memberItem(user, group string) item {
	return item{kind: itemMember, user: user, group: group}
}
func grantItem(g iam.Grant) item { return item{kind: itemGrant, grant: g} }
func parentsItem(ref iam.Ref, ps ...iam.Ref) item {
	return item{kind: itemParents, ref: ref, parents: ps}
}

// keys are what a snapshot reads: holdings, grants and parents.
type keys struct {
	principals []iam.Principal
	grantRefs  []iam.Ref
	parentRefs []iam.Ref
}

func (k *keys) addPrincipal(p iam.Principal) {
	if !slices.Contains(k.principals, p) {
		k.principals = append(k.principals, p)
	}
}

func (k *keys) addGrantRef(r iam.Ref) {
	if !slices.Contains(k.grantRefs, r) {
		k.grantRefs = append(k.grantRefs, r)
	}
}

func (k *keys) addParentRef(r iam.Ref) {
	if !slices.Contains(k.parentRefs, r) {
		k.parentRefs = append(k.parentRefs, r)
	}
}

// keysOf returns every key the items touch.
func keysOf(items ...[]item) keys {
	var k keys
	for _, list := range items {
		for _, it := range list {
			switch it.kind {
			case itemProfile:
				k.addPrincipal(it.profile.Holder)
			case itemMember:
				k.addPrincipal(iam.User(it.user))
				k.addPrincipal(iam.Group(it.group))
			case itemGrant:
				k.addPrincipal(it.grant.Holder)
				k.addGrantRef(it.grant.On)
			case itemParents:
				k.addParentRef(it.ref)
			}
		}
	}
	return k
}

// snapshot is what a store returns for a set of keys. Every key is present,
// with an empty value when the store holds nothing for it.
type snapshot struct {
	Holdings map[iam.Principal]holdingView
	Grants   map[iam.Ref][]iam.Grant
	Parents  map[iam.Ref][]iam.Ref
}

// observe reads k from st with a live context. Parents are read only when
// st implements iam.ParentStore.
func observe(t *testing.T, st iam.Store, k keys) snapshot {
	t.Helper()
	s := snapshot{Holdings: map[iam.Principal]holdingView{}, Grants: map[iam.Ref][]iam.Grant{}, Parents: map[iam.Ref][]iam.Ref{}}
	for _, p := range k.principals {
		s.Holdings[p] = holding(t, st, p)
	}
	for _, r := range k.grantRefs {
		s.Grants[r] = grantsOn(t, st, r)
	}
	if ps, ok := st.(iam.ParentStore); ok {
		for _, r := range k.parentRefs {
			s.Parents[r] = parentsOf(t, ps, r)
		}
	}
	return s
}

// expect returns the snapshot of k that a store holding exactly items must
// return. hasParents tells whether parents are stored at all.
func expect(k keys, hasParents bool, items ...[]item) snapshot {
	s := snapshot{Holdings: map[iam.Principal]holdingView{}, Grants: map[iam.Ref][]iam.Grant{}, Parents: map[iam.Ref][]iam.Ref{}}
	for _, p := range k.principals {
		s.Holdings[p] = holdingView{}
	}
	for _, r := range k.grantRefs {
		s.Grants[r] = nil
	}
	if hasParents {
		for _, r := range k.parentRefs {
			s.Parents[r] = nil
		}
	}
	for _, list := range items {
		for _, it := range list {
			switch it.kind {
			case itemProfile:
				h := s.Holdings[it.profile.Holder]
				h.Profiles = append(h.Profiles, it.profile)
				s.Holdings[it.profile.Holder] = h
			case itemMember:
				h := s.Holdings[iam.User(it.user)]
				h.Groups = append(h.Groups, it.group)
				s.Holdings[iam.User(it.user)] = h
			case itemGrant:
				s.Grants[it.grant.On] = append(s.Grants[it.grant.On], it.grant)
			case itemParents:
				if hasParents && len(it.parents) > 0 {
					s.Parents[it.ref] = slices.Clone(it.parents)
				}
			}
		}
	}
	for p, h := range s.Holdings {
		// Sort as viewHolding does.
		s.Holdings[p] = viewHolding(iam.NewHolding(h.Profiles, h.Groups))
	}
	for r, gs := range s.Grants {
		s.Grants[r] = sortedGrants(gs)
	}
	return s
}

// writeItems stores every item with a live context.
func writeItems(t *testing.T, st iam.Store, items []item) {
	t.Helper()
	ps, hasParents := st.(iam.ParentStore)
	for _, it := range items {
		switch it.kind {
		case itemProfile:
			must(t, st.PutProfile(t.Context(), it.profile), "PutProfile(%+v)", it.profile)
		case itemMember:
			must(t, st.AddMember(t.Context(), it.user, it.group), "AddMember(%q, %q)", it.user, it.group)
		case itemGrant:
			must(t, st.Grant(t.Context(), it.grant), "Grant(%+v)", it.grant)
		case itemParents:
			if hasParents {
				must(t, ps.SetParents(t.Context(), it.ref, it.parents), "SetParents(%#v, %#v)", it.ref, it.parents)
			}
		}
	}
}

// removeItems removes every item with a live context. Grants are removed
// with DeleteGrantsOn when no item of others is on the same Ref, else with
// Revoke.
func removeItems(t *testing.T, st iam.Store, items, others []item) {
	t.Helper()
	ps, hasParents := st.(iam.ParentStore)
	shared := map[iam.Ref]bool{}
	for _, it := range others {
		if it.kind == itemGrant {
			shared[it.grant.On] = true
		}
	}
	deleted := map[iam.Ref]bool{}
	for _, it := range items {
		switch it.kind {
		case itemProfile:
			must(t, st.DeleteProfile(t.Context(), it.profile.Holder, it.profile.Role), "DeleteProfile(%v, %q)", it.profile.Holder, it.profile.Role)
		case itemMember:
			must(t, st.RemoveMember(t.Context(), it.user, it.group), "RemoveMember(%q, %q)", it.user, it.group)
		case itemGrant:
			on := it.grant.On
			switch {
			case deleted[on]:
			case shared[on]:
				must(t, st.Revoke(t.Context(), it.grant), "Revoke(%+v)", it.grant)
			default:
				must(t, st.DeleteGrantsOn(t.Context(), on), "DeleteGrantsOn(%#v)", on)
				deleted[on] = true
			}
		case itemParents:
			if hasParents {
				must(t, ps.SetParents(t.Context(), it.ref, nil), "SetParents(%#v, nil)", it.ref)
			}
		}
	}
}

// requireSeparate writes a, then b, removes a, writes it again and removes
// b, and checks after every step that the store holds exactly the items
// written: a and b never overwrite, hide or delete each other. b may be
// empty (a plain round trip).
func requireSeparate(t *testing.T, st iam.Store, a, b []item) {
	t.Helper()
	_, hasParents := st.(iam.ParentStore)
	k := keysOf(a, b)
	state := func(step string, items ...[]item) {
		t.Helper()
		requireDiff(t, expect(k, hasParents, items...), observe(t, st, k), "after %s: store content", step)
	}
	state("nothing")
	writeItems(t, st, a)
	state("writing a", a)
	if len(b) == 0 {
		removeItems(t, st, a, nil)
		state("removing a")
		return
	}
	writeItems(t, st, b)
	state("writing b", a, b)
	removeItems(t, st, a, b)
	state("removing a", b)
	writeItems(t, st, a)
	state("writing a again", a, b)
	removeItems(t, st, b, a)
	state("removing b", a)
	removeItems(t, st, a, nil)
	state("removing a again")
}
