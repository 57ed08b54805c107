package iamtest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// Concurrent use and volume.

const (
	concWriters = 8
	concItems   = 16
	concReaders = 4
)

func concUser(w int) string    { return fmt.Sprintf("u%d", w) }
func concPerm(k int) string    { return fmt.Sprintf("p%02d", k) }
func concRole(k int) string    { return fmt.Sprintf("r%02d", k) }
func concGroup(k int) string   { return fmt.Sprintf("g%02d", k) }
func concObject(w int) iam.Ref { return iam.Ref{Type: typeDoc, ID: fmt.Sprintf("own%d", w)} }
func concTmp(w int) iam.Ref    { return iam.Ref{Type: typeDoc, ID: fmt.Sprintf("tmp%d", w)} }

var concShared = iam.Ref{Type: typeDoc, ID: "shared"}

// concPolicy declares role r<k> granting permission p<k>.
func concPolicy() iam.Policy {
	var p iam.Policy
	for k := range concItems {
		p.Roles = append(p.Roles, &iam.Role{Name: concRole(k), Perms: []string{concPerm(k)}})
	}
	return p
}

// concKeep reports whether item k survives (the writers undo odd items),
// and concActive whether its profile ends active.
func concKeep(k int) bool   { return k%2 == 0 }
func concActive(k int) bool { return k%3 == 0 || k%4 == 0 }

func (s *suite) testConcurrent(t *testing.T) {
	// Writers grant, revoke, put, deactivate, delete profiles and change
	// memberships (each on its own keys, some on a shared Ref) while
	// readers read the store and check through a Checker; afterwards the
	// store holds exactly what the writers left.
	st := s.store(t)
	ps, hasParents := st.(iam.ParentStore)
	c, err := iam.New(concPolicy(), st)
	require.NoError(t, err)
	ctx := t.Context()

	var writers, readers sync.WaitGroup
	var stop atomic.Bool
	fail := func(format string, args ...any) { t.Errorf(format, args...) }

	for w := range concWriters {
		writers.Go(func() {
			u := concUser(w)
			do := func(what string, err error) bool {
				if err != nil {
					fail("writer %d: %s: %v", w, what, err)
					return false
				}
				return true
			}
			for k := range concItems {
				if !do("Grant shared", st.Grant(ctx, permGrant(iam.User(u), concPerm(k), concShared))) ||
					!do("Grant own", st.Grant(ctx, roleGrant(iam.User(u), concRole(k), concObject(w)))) ||
					!do("Grant tmp", st.Grant(ctx, permGrant(iam.User(u), concPerm(k), concTmp(w)))) ||
					!do("PutProfile", st.PutProfile(ctx, iam.Profile{Holder: iam.User(u), Role: concRole(k), Active: k%3 == 0})) ||
					!do("AddMember", st.AddMember(ctx, u, concGroup(k))) {
					return
				}
				if hasParents && !do("SetParents", ps.SetParents(ctx, concObject(w), []iam.Ref{{Type: typeFolder, ID: fmt.Sprint(k)}, concShared})) {
					return
				}
			}
			if !do("DeleteGrantsOn tmp", st.DeleteGrantsOn(ctx, concTmp(w))) {
				return
			}
			for k := range concItems {
				if !concKeep(k) {
					if !do("Revoke shared", st.Revoke(ctx, permGrant(iam.User(u), concPerm(k), concShared))) ||
						!do("Revoke own", st.Revoke(ctx, roleGrant(iam.User(u), concRole(k), concObject(w)))) ||
						!do("DeleteProfile", st.DeleteProfile(ctx, iam.User(u), concRole(k))) ||
						!do("RemoveMember", st.RemoveMember(ctx, u, concGroup(k))) {
						return
					}
				} else if k%4 == 0 && k%3 != 0 {
					if !do("SetProfileActive", st.SetProfileActive(ctx, iam.User(u), concRole(k), true)) {
						return
					}
				}
			}
		})
	}

	validGrant := func(g iam.Grant) bool {
		return g.Valid() && g.Holder.Kind == iam.KindUser && len(g.Holder.ID) == 2 && g.Holder.ID[0] == 'u' &&
			(g.Perm == "" || (len(g.Perm) == 3 && g.Perm[0] == 'p')) && (g.Role == "" || (len(g.Role) == 3 && g.Role[0] == 'r'))
	}
	for r := range concReaders {
		readers.Go(func() {
			for i := 0; !stop.Load(); i++ {
				w, k := (i+r)%concWriters, (i*7+r)%concItems
				set, err := st.Grants(ctx, concShared)
				if err != nil {
					fail("reader %d: Grants: %v", r, err)
					return
				}
				for _, g := range set.Grants(concShared) {
					if !validGrant(g) {
						fail("reader %d: Grants returned an unexpected grant %+v", r, g)
						return
					}
				}
				h, err := st.Holding(ctx, iam.User(concUser(w)))
				if err != nil {
					fail("reader %d: Holding: %v", r, err)
					return
				}
				for _, p := range h.Profiles() {
					if p.Holder != iam.User(concUser(w)) || len(p.Role) != 3 {
						fail("reader %d: Holding(%s) returned an unexpected profile %+v", r, concUser(w), p)
						return
					}
				}
				if _, err := c.Check(ctx, subject{id: concUser(w)}, concPerm(k), concObject(w)); err != nil {
					fail("reader %d: Check: %v", r, err)
					return
				}
				if hasParents {
					if _, err := ps.Parents(ctx, concObject(w)); err != nil {
						fail("reader %d: Parents: %v", r, err)
						return
					}
				}
			}
		})
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The final state, exactly.
	var shared []iam.Grant
	for w := range concWriters {
		u := iam.User(concUser(w))
		var own []iam.Grant
		var want holdingView
		for k := range concItems {
			if !concKeep(k) {
				continue
			}
			shared = append(shared, permGrant(u, concPerm(k), concShared))
			own = append(own, roleGrant(u, concRole(k), concObject(w)))
			want.Profiles = append(want.Profiles, iam.Profile{Holder: u, Role: concRole(k), Active: concActive(k)})
			want.Groups = append(want.Groups, concGroup(k))
		}
		requireGrants(t, st, concObject(w), own...)
		requireGrants(t, st, concTmp(w))
		requireHolding(t, st, u, want)
		if hasParents {
			requireDiff(t, []iam.Ref{{Type: typeFolder, ID: fmt.Sprint(concItems - 1)}, concShared}, parentsOf(t, ps, concObject(w)), "Parents(%v)", concObject(w))
		}
		// The Checker agrees with the store (contract 15).
		for k := range concItems {
			wantShared := concKeep(k)
			wantOwn := concKeep(k) // a local role on the own object
			gotShared := c.HasPerm(ctx, subject{id: u.ID}, concPerm(k), concShared)
			gotOwn := c.HasPerm(ctx, subject{id: u.ID}, concPerm(k), concObject(w))
			wantGlobal := concKeep(k) && concActive(k)
			gotGlobal := c.HasPerm(ctx, subject{id: u.ID}, concPerm(k), nil)
			require.Equal(t, []bool{wantShared || wantGlobal, wantOwn || wantGlobal, wantGlobal}, []bool{gotShared, gotOwn, gotGlobal},
				"%s %s on the shared object, its own object, model level", u.ID, concPerm(k))
		}
	}
	requireGrants(t, st, concShared, shared...)
}

func (s *suite) testManyKeys(t *testing.T) {
	// Enough records to outgrow small-store layouts (the memory store
	// re-shards past 2048 keys): every one reads back, and removing a third
	// of them removes exactly those.
	n := 2100
	if testing.Short() {
		n = 300
	}
	st := s.store(t)
	ctx := t.Context()
	ref := func(i int) iam.Ref { return iam.Ref{Type: typeDoc, ID: fmt.Sprint(i)} }
	user := func(i int) iam.Principal { return iam.User(fmt.Sprintf("user%d", i)) }
	var typeWide []iam.Grant
	for i := range n {
		must(t, st.Grant(ctx, permGrant(user(i), permView, ref(i))), "Grant %d", i)
		must(t, st.PutProfile(ctx, iam.Profile{Holder: user(i), Role: roleViewer, Active: i%2 == 0}), "PutProfile %d", i)
		if i%10 == 0 {
			g := permGrant(user(i), permEdit, docType)
			must(t, st.Grant(ctx, g), "Grant %d", i)
			typeWide = append(typeWide, g)
		}
	}
	for i := range n {
		if i%3 == 0 {
			must(t, st.DeleteGrantsOn(ctx, ref(i)), "DeleteGrantsOn %d", i)
			must(t, st.DeleteProfile(ctx, user(i), roleViewer), "DeleteProfile %d", i)
		}
	}
	for i := range n {
		if i%3 == 0 {
			requireGrants(t, st, ref(i))
			requireNoHolding(t, st, user(i))
			continue
		}
		requireGrants(t, st, ref(i), permGrant(user(i), permView, ref(i)))
		requireHolding(t, st, user(i), profiles(iam.Profile{Holder: user(i), Role: roleViewer, Active: i%2 == 0}))
	}
	requireGrants(t, st, docType, typeWide...)
	requireGrants(t, st, iam.Ref{Type: typeDoc, ID: fmt.Sprint(n)})
}
