package iam_test

// Black-box tests of HasPerm's answer cache on a MemoryStore (internal/answer holds the cache itself).
// The cache must never change an answer: every test compares a cached
// Checker with an uncached one (Options.CacheSlots: -1) and with Check, and
// names the docs/contract.md contract line it covers. Helpers and types carry an
// "ac" prefix so they do not collide with the other test files.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// ---------------------------------------------------------------------------
// Subjects and objects

// acPlain is a subject with no optional interface.
type acPlain string

func (p acPlain) SubjectID() string { return string(p) }

// acGrouped is a subject that names groups of its own (SubjectGroups).
type acGrouped struct {
	id     string
	groups []string
}

func (g *acGrouped) SubjectID() string       { return g.id }
func (g *acGrouped) SubjectGroups() []string { return g.groups }

// acFlagged is a subject with IsActive and IsSuperuser.
type acFlagged struct {
	id            string
	active, super bool
}

func (f *acFlagged) SubjectID() string { return f.id }
func (f *acFlagged) IsActive() bool    { return f.active }
func (f *acFlagged) IsSuperuser() bool { return f.super }

// acDynUser implements every optional Subject interface; a test changes its
// fields between two checks (no store write in between).
type acDynUser struct {
	id            string
	groups        []string
	active, super bool
}

func (u *acDynUser) SubjectID() string       { return u.id }
func (u *acDynUser) SubjectGroups() []string { return u.groups }
func (u *acDynUser) IsActive() bool          { return u.active }
func (u *acDynUser) IsSuperuser() bool       { return u.super }

// acOwned is implemented by the objects that have an owner.
type acOwned interface{ acOwner() string }

// acObj is an application object with an owner and no optional interface.
type acObj struct {
	ref   iam.Ref
	owner string
}

func (o *acObj) ObjectRef() iam.Ref { return o.ref }
func (o *acObj) acOwner() string    { return o.owner }

// acRefusing is an acObj that answers AcquireGlobalRoles.
type acRefusing struct {
	*acObj
	refuse bool
}

func (o acRefusing) AcquireGlobalRoles() bool { return !o.refuse }

// acOwnParents is an acObj that names parents of its own (Parents).
type acOwnParents struct {
	*acObj
	parents []iam.Ref
}

func (o acOwnParents) Parents() []iam.Ref { return o.parents }

// acDynObj is an object whose ref and refusal a test changes between two
// checks. It has no Parents method, so its answers may be cached.
type acDynObj struct {
	ref    iam.Ref
	refuse bool
}

func (o *acDynObj) ObjectRef() iam.Ref       { return o.ref }
func (o *acDynObj) AcquireGlobalRoles() bool { return !o.refuse }

// acParentsObj is an object whose own parents a test changes between two
// checks.
type acParentsObj struct {
	ref     iam.Ref
	parents []iam.Ref
}

func (o *acParentsObj) ObjectRef() iam.Ref { return o.ref }
func (o *acParentsObj) Parents() []iam.Ref { return o.parents }

// acClock is a settable clock for Options.Now.
type acClock struct{ ns atomic.Int64 }

func (c *acClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *acClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *acClock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func acRef(typ, id string) iam.Ref     { return iam.Ref{Type: typ, ID: id} }
func acPerm(h iam.Principal, perm string, on iam.Ref) iam.Grant {
	return iam.Grant{Holder: h, Perm: perm, On: on}
}
func acRole(h iam.Principal, role string, on iam.Ref) iam.Grant {
	return iam.Grant{Holder: h, Role: role, On: on}
}

var acT0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// ---------------------------------------------------------------------------
// The policy most tests share
//
//	doc.viewer  -> doc.view
//	doc.editor  -> doc.edit, includes doc.viewer
//	doc.admin   -> doc.delete, doc.share, includes doc.editor
//	doc.banned  -> doc.flag
//	doc.share is declared for type "doc" only.
//	rules: doc.edit    = is_owner                    (also granted by roles)
//	       doc.comment = is_owner | (has_role:doc.editor & ~has_role:doc.banned)
//	       doc.appeal  = ~has_role:doc.banned       (anonymous subjects too)

type acFixture struct {
	policy                        iam.Policy
	viewer, editor, admin, banned *iam.Role
	// ownerCalls counts the runs of the is_owner predicate.
	ownerCalls *atomic.Int64
}

const (
	acView    = "doc.view"
	acEdit    = "doc.edit"
	acDelete  = "doc.delete"
	acShare   = "doc.share"
	acFlag    = "doc.flag"
	acComment = "doc.comment"
	acAppeal  = "doc.appeal"
)

var acPerms = []string{acView, acEdit, acDelete, acShare, acFlag, acComment, acAppeal}

func acIsOwner(calls *atomic.Int64) iam.Predicate {
	return iam.Pred("is_owner", func(_ context.Context, s iam.Subject, o iam.Object) bool {
		calls.Add(1)
		ow, ok := o.(acOwned)
		return ok && s.SubjectID() != "" && ow.acOwner() == s.SubjectID()
	})
}

func acNewFixture() acFixture {
	f := acFixture{ownerCalls: new(atomic.Int64)}
	f.viewer = &iam.Role{Name: "doc.viewer", Perms: []string{acView}}
	f.editor = &iam.Role{Name: "doc.editor", Perms: []string{acEdit}, Includes: []*iam.Role{f.viewer}}
	f.admin = &iam.Role{Name: "doc.admin", Perms: []string{acDelete, acShare}, Includes: []*iam.Role{f.editor}}
	f.banned = &iam.Role{Name: "doc.banned", Perms: []string{acFlag}}
	isOwner := acIsOwner(f.ownerCalls)
	f.policy = iam.Policy{
		Roles: []*iam.Role{f.viewer, f.editor, f.admin, f.banned},
		Perms: []iam.Perm{
			{Name: acView}, {Name: acEdit}, {Name: acDelete}, {Name: acShare, Types: []string{"doc"}},
			{Name: acFlag}, {Name: acComment}, {Name: acAppeal},
		},
		Rules: map[string]iam.Predicate{
			acEdit:    isOwner,
			acComment: iam.Or(isOwner, iam.And(iam.HasRole(f.editor), iam.Not(iam.HasRole(f.banned)))),
			acAppeal:  iam.Not(iam.HasRole(f.banned)),
		},
	}
	return f
}

// acCheckers are checkers over one store: cached ones (default size, one
// slot, two slots) and an uncached one, the reference.
type acCheckers struct {
	cached   []*iam.Checker
	names    []string
	uncached *iam.Checker
}

func acNewCheckers(t *testing.T, pol iam.Policy, store *iam.MemoryStore, o iam.Options) acCheckers {
	t.Helper()
	var cs acCheckers
	for _, slots := range []int{0, 1, 2} {
		o.CacheSlots = slots
		c, err := iam.NewWithOptions(pol, store, o)
		require.NoError(t, err)
		cs.cached = append(cs.cached, c)
		cs.names = append(cs.names, fmt.Sprintf("CacheSlots=%d", slots))
	}
	o.CacheSlots = -1
	c, err := iam.NewWithOptions(pol, store, o)
	require.NoError(t, err)
	cs.uncached = c
	return cs
}

// ask asks the question times times of every checker, and Check once per
// round, and requires every answer to be want. It returns the Check error of
// the last round.
func (cs acCheckers) ask(t *testing.T, times int, s iam.Subject, perm string, obj iam.Object, want bool, msg string) error {
	t.Helper()
	ctx := context.Background()
	var err error
	for i := range times {
		for j, c := range cs.cached {
			require.Equal(t, want, c.HasPerm(ctx, s, perm, obj), "%s: HasPerm %s, round %d (%s)", cs.names[j], perm, i, msg)
		}
		require.Equal(t, want, cs.uncached.HasPerm(ctx, s, perm, obj), "uncached HasPerm %s, round %d (%s)", perm, i, msg)
		var d iam.Decision
		d, err = cs.uncached.Check(ctx, s, perm, obj)
		require.Equal(t, want, d.Allowed, "Check %s, round %d (%s): %v %v", perm, i, msg, d, err)
	}
	return err
}

// ---------------------------------------------------------------------------
// Store writes, applied to the store and to a reference model

type acWriteKind int

const (
	acGrant acWriteKind = iota
	acRevoke
	acPutProfile
	acDeleteProfile
	acSetActive
	acAddMember
	acRemoveMember
	acSetParents
	acDeleteGrantsOn
)

// acWrite is one store write.
type acWrite struct {
	kind    acWriteKind
	grant   iam.Grant
	profile iam.Profile
	holder  iam.Principal
	role    string
	active  bool
	user    string
	group   string
	ref     iam.Ref
	parents []iam.Ref
}

func (w acWrite) String() string {
	switch w.kind {
	case acGrant:
		return fmt.Sprintf("Grant(%v)", w.grant)
	case acRevoke:
		return fmt.Sprintf("Revoke(%v)", w.grant)
	case acPutProfile:
		exp := "never"
		if !w.profile.ExpiresAt.IsZero() {
			exp = w.profile.ExpiresAt.Sub(acT0).String()
		}
		return fmt.Sprintf("PutProfile(%s %s active=%v expires=t0+%s)", w.profile.Holder, w.profile.Role, w.profile.Active, exp)
	case acDeleteProfile:
		return fmt.Sprintf("DeleteProfile(%s, %s)", w.holder, w.role)
	case acSetActive:
		return fmt.Sprintf("SetProfileActive(%s, %s, %v)", w.holder, w.role, w.active)
	case acAddMember:
		return fmt.Sprintf("AddMember(%s, %s)", w.user, w.group)
	case acRemoveMember:
		return fmt.Sprintf("RemoveMember(%s, %s)", w.user, w.group)
	case acSetParents:
		return fmt.Sprintf("SetParents(%s, %v)", w.ref, w.parents)
	case acDeleteGrantsOn:
		return fmt.Sprintf("DeleteGrantsOn(%s)", w.ref)
	}
	return "?"
}

// do makes the write through the store's single-write method.
func (w acWrite) do(ctx context.Context, s *iam.MemoryStore) error {
	switch w.kind {
	case acGrant:
		return s.Grant(ctx, w.grant)
	case acRevoke:
		return s.Revoke(ctx, w.grant)
	case acPutProfile:
		return s.PutProfile(ctx, w.profile)
	case acDeleteProfile:
		return s.DeleteProfile(ctx, w.holder, w.role)
	case acSetActive:
		return s.SetProfileActive(ctx, w.holder, w.role, w.active)
	case acAddMember:
		return s.AddMember(ctx, w.user, w.group)
	case acRemoveMember:
		return s.RemoveMember(ctx, w.user, w.group)
	case acSetParents:
		return s.SetParents(ctx, w.ref, w.parents)
	case acDeleteGrantsOn:
		return s.DeleteGrantsOn(ctx, w.ref)
	}
	return errors.New("unknown write")
}

// apply makes the write in a transaction.
func (w acWrite) apply(ctx context.Context, tx iam.Store) error {
	switch w.kind {
	case acGrant:
		return tx.Grant(ctx, w.grant)
	case acRevoke:
		return tx.Revoke(ctx, w.grant)
	case acPutProfile:
		return tx.PutProfile(ctx, w.profile)
	case acDeleteProfile:
		return tx.DeleteProfile(ctx, w.holder, w.role)
	case acSetActive:
		return tx.SetProfileActive(ctx, w.holder, w.role, w.active)
	case acAddMember:
		return tx.AddMember(ctx, w.user, w.group)
	case acRemoveMember:
		return tx.RemoveMember(ctx, w.user, w.group)
	case acSetParents:
		return tx.(iam.ParentStore).SetParents(ctx, w.ref, w.parents)
	case acDeleteGrantsOn:
		return tx.DeleteGrantsOn(ctx, w.ref)
	}
	return errors.New("unknown write")
}

// acEntry is one grant of the model, without its ref.
type acEntry struct {
	holder     iam.Principal
	perm, role string
}

// acModel is a naive reference implementation of docs/contract.md over plain maps.
// It is written from the contract, not from the library's code: it has no
// cache, no memos, no snapshots and no shortcut.
type acModel struct {
	profiles map[iam.Principal]map[string]iam.Profile
	members  map[string]map[string]bool
	grants   map[iam.Ref]map[acEntry]bool
	parents  map[iam.Ref][]iam.Ref

	// From the policy: the roles each role stands for (itself and what it
	// includes, transitively), the permissions they grant, and each
	// permission's declared types.
	roleRoles map[string]map[string]bool
	rolePerms map[string]map[string]bool
	types     map[string][]string
}

func acNewModel(pol iam.Policy) *acModel {
	m := &acModel{
		profiles:  map[iam.Principal]map[string]iam.Profile{},
		members:   map[string]map[string]bool{},
		grants:    map[iam.Ref]map[acEntry]bool{},
		parents:   map[iam.Ref][]iam.Ref{},
		roleRoles: map[string]map[string]bool{},
		rolePerms: map[string]map[string]bool{},
		types:     map[string][]string{},
	}
	var walk func(top string, r *iam.Role)
	walk = func(top string, r *iam.Role) {
		m.roleRoles[top][r.Name] = true
		for _, p := range r.Perms {
			m.rolePerms[top][p] = true
		}
		for _, inc := range r.Includes {
			walk(top, inc)
		}
	}
	for _, r := range pol.Roles {
		m.roleRoles[r.Name], m.rolePerms[r.Name] = map[string]bool{}, map[string]bool{}
		walk(r.Name, r)
	}
	for _, p := range pol.Perms {
		m.types[p.Name] = p.Types
	}
	return m
}

func (m *acModel) clone() *acModel {
	c := *m
	c.profiles = map[iam.Principal]map[string]iam.Profile{}
	for k, v := range m.profiles {
		c.profiles[k] = acCloneMap(v)
	}
	c.members = map[string]map[string]bool{}
	for k, v := range m.members {
		c.members[k] = acCloneMap(v)
	}
	c.grants = map[iam.Ref]map[acEntry]bool{}
	for k, v := range m.grants {
		c.grants[k] = acCloneMap(v)
	}
	c.parents = map[iam.Ref][]iam.Ref{}
	for k, v := range m.parents {
		c.parents[k] = slices.Clone(v)
	}
	return &c
}

func acCloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m *acModel) apply(w acWrite) error {
	switch w.kind {
	case acGrant, acRevoke:
		e := acEntry{holder: w.grant.Holder, perm: w.grant.Perm, role: w.grant.Role}
		if w.kind == acGrant {
			if m.grants[w.grant.On] == nil {
				m.grants[w.grant.On] = map[acEntry]bool{}
			}
			m.grants[w.grant.On][e] = true
		} else {
			delete(m.grants[w.grant.On], e)
		}
	case acPutProfile:
		p := w.profile
		if m.profiles[p.Holder] == nil {
			m.profiles[p.Holder] = map[string]iam.Profile{}
		}
		m.profiles[p.Holder][p.Role] = p
	case acDeleteProfile:
		delete(m.profiles[w.holder], w.role)
	case acSetActive:
		p, ok := m.profiles[w.holder][w.role]
		if !ok {
			return iam.ErrNotFound
		}
		p.Active = w.active
		m.profiles[w.holder][w.role] = p
	case acAddMember:
		if m.members[w.user] == nil {
			m.members[w.user] = map[string]bool{}
		}
		m.members[w.user][w.group] = true
	case acRemoveMember:
		delete(m.members[w.user], w.group)
	case acSetParents:
		m.parents[w.ref] = slices.Clone(w.parents)
	case acDeleteGrantsOn:
		delete(m.grants, w.ref)
	}
	return nil
}

// acLink is a ref whose grants apply to a check; rolesOK: local roles on it
// count even when the object refuses global roles (the object and its
// ancestors, not type-wide or global role grants).
type acLink struct {
	ref     iam.Ref
	rolesOK bool
}

func (m *acModel) chain(obj iam.Object, perm string, refuse bool) []acLink {
	var links []acLink
	if obj == nil {
		for _, t := range m.types[perm] {
			links = append(links, acLink{ref: iam.TypeScope(t), rolesOK: !refuse})
		}
		return append(links, acLink{ref: iam.GlobalScope(), rolesOK: !refuse})
	}
	ref := obj.ObjectRef()
	seen := map[iam.Ref]bool{ref: true}
	queue := []iam.Ref{ref}
	add := func(ps []iam.Ref) {
		for _, p := range ps {
			if p.IsObject() && !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	if p, ok := obj.(interface{ Parents() []iam.Ref }); ok {
		add(p.Parents())
	}
	for i := 0; i < len(queue); i++ {
		add(m.parents[queue[i]])
	}
	for _, r := range queue {
		links = append(links, acLink{ref: r, rolesOK: true})
	}
	return append(links, acLink{ref: iam.TypeScope(ref.Type), rolesOK: !refuse}, acLink{ref: iam.GlobalScope(), rolesOK: !refuse})
}

// allowed answers a check from the model, and says how it was decided.
func (m *acModel) allowed(now time.Time, s iam.Subject, perm string, obj iam.Object) (bool, string) {
	if s == nil {
		return false, "inactive"
	}
	if a, ok := s.(interface{ IsActive() bool }); ok && !a.IsActive() {
		return false, "inactive"
	}
	if obj != nil {
		ref := obj.ObjectRef()
		if !ref.IsObject() {
			return false, "error"
		}
		if ts := m.types[perm]; len(ts) > 0 && !slices.Contains(ts, ref.Type) {
			return false, "wrong type"
		}
	}
	if su, ok := s.(interface{ IsSuperuser() bool }); ok && su.IsSuperuser() {
		return true, "superuser"
	}
	uid := s.SubjectID()
	var who []iam.Principal
	if uid != "" {
		who = append(who, iam.User(uid))
		for g := range m.members[uid] {
			who = append(who, iam.Group(g))
		}
		if g, ok := s.(interface{ SubjectGroups() []string }); ok {
			for _, name := range g.SubjectGroups() {
				who = append(who, iam.Group(name))
			}
		}
	}
	refuse := false
	if a, ok := obj.(interface{ AcquireGlobalRoles() bool }); ok && !a.AcquireGlobalRoles() {
		refuse = true
	}
	chain := m.chain(obj, perm, refuse)
	holds := func(match func(role string) bool) bool {
		if !refuse {
			for _, p := range who {
				for _, prof := range m.profiles[p] {
					if prof.Live(now) && match(prof.Role) {
						return true
					}
				}
			}
		}
		for _, l := range chain {
			if !l.rolesOK {
				continue
			}
			for e := range m.grants[l.ref] {
				if e.role != "" && slices.Contains(who, e.holder) && match(e.role) {
					return true
				}
			}
		}
		return false
	}
	if uid != "" {
		if holds(func(role string) bool { return m.rolePerms[role][perm] }) {
			return true, "role"
		}
		for _, l := range chain {
			for e := range m.grants[l.ref] {
				if e.perm == perm && slices.Contains(who, e.holder) {
					return true, "grant"
				}
			}
		}
	}
	hasRole := func(r string) bool {
		return uid != "" && holds(func(role string) bool { return m.roleRoles[role][r] })
	}
	owner := false
	if o, ok := obj.(acOwned); ok {
		owner = uid != "" && o.acOwner() == uid
	}
	var rule bool
	switch perm {
	case acEdit:
		rule = owner
	case acComment:
		rule = owner || hasRole("doc.editor") && !hasRole("doc.banned")
	case acAppeal:
		rule = !hasRole("doc.banned")
	default:
		return false, "none"
	}
	if rule {
		return true, "rule"
	}
	return false, "none"
}

// ---------------------------------------------------------------------------
// The differential test

// TestCacheDifferential: a seeded random mix of writes and checks over one
// MemoryStore. Every question is asked several times in a row of checkers
// with a default, a one-slot and a two-slot answer cache and of one without
// a cache; every answer must equal the uncached one, Check's, and the naive
// reference model's. contract 4 (4a-4d), 5, 6, 7, 14, 14b, 15.
func TestCacheDifferential(t *testing.T) {
	ctx := context.Background()
	f := acNewFixture()
	clock := &acClock{}
	clock.Set(acT0)
	store := iam.NewMemoryStore()
	cs := acNewCheckers(t, f.policy, store, iam.Options{Now: clock.Now})
	model := acNewModel(f.policy)
	rng := rand.New(rand.NewPCG(0x1a2b3c4d, 42))

	// Short IDs and UUIDs; a group with a user's ID ("u1"), so a grant
	// to the group must never be taken for the user's, nor the other way.
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5",
		"6f1c2a9e-3b7d-4c21-9a8e-5d0f7b3c2e11", "0b8d4e2f-91a6-4f3c-b7d5-2c6e8a1f9d04"}
	groups := []string{"g0", "g1", "g2", "u1"}
	roles := []string{"doc.viewer", "doc.editor", "doc.admin", "doc.banned"}
	grantable := []string{acView, acEdit, acDelete, acShare, acFlag, acComment, acAppeal}
	refs := []iam.Ref{acRef("doc", "1"), acRef("doc", "2"), acRef("doc", "3"), acRef("doc", "4"),
		acRef("folder", "1"), acRef("folder", "2"), acRef("folder", "3")}
	objs := map[iam.Ref]*acObj{}
	for _, r := range refs {
		objs[r] = &acObj{ref: r}
	}

	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	pickRef := func() iam.Ref { return refs[rng.IntN(len(refs))] }
	holder := func() iam.Principal {
		if rng.IntN(3) == 0 {
			return iam.Group(pick(groups))
		}
		return iam.User(pick(users))
	}
	on := func() iam.Ref {
		switch rng.IntN(8) {
		case 0:
			return iam.GlobalScope()
		case 1:
			return iam.TypeScope(pick([]string{"doc", "folder"}))
		}
		return pickRef()
	}
	// existing returns a grant the model holds (perm or role), in a
	// deterministic order, or false when there is none.
	existing := func(role bool) (iam.Grant, bool) {
		var all []iam.Grant
		for r, es := range model.grants {
			for e := range es {
				if (e.role != "") == role {
					all = append(all, iam.Grant{Holder: e.holder, Perm: e.perm, Role: e.role, On: r})
				}
			}
		}
		if len(all) == 0 {
			return iam.Grant{}, false
		}
		sort.Slice(all, func(i, j int) bool { return fmt.Sprint(all[i]) < fmt.Sprint(all[j]) })
		return all[rng.IntN(len(all))], true
	}
	randomWrite := func() acWrite {
		switch rng.IntN(16) {
		case 0, 1, 2:
			return acWrite{kind: acGrant, grant: acPerm(holder(), pick(grantable), on())}
		case 15:
			return acWrite{kind: acGrant, grant: acRole(holder(), pick(roles), on())}
		case 3, 4:
			if g, ok := existing(false); ok {
				return acWrite{kind: acRevoke, grant: g}
			}
			return acWrite{kind: acRevoke, grant: acPerm(holder(), pick(grantable), on())}
		case 5:
			return acWrite{kind: acGrant, grant: acRole(holder(), pick(roles), on())}
		case 6:
			if g, ok := existing(true); ok {
				return acWrite{kind: acRevoke, grant: g}
			}
			return acWrite{kind: acRevoke, grant: acRole(holder(), pick(roles), on())}
		case 7:
			p := iam.Profile{Holder: holder(), Role: pick(roles), Active: rng.IntN(5) != 0}
			switch rng.IntN(6) {
			case 0:
				p.ExpiresAt = clock.Now().Add(time.Duration(1+rng.IntN(30)) * time.Second)
			case 1:
				p.ExpiresAt = clock.Now().Add(-time.Duration(1+rng.IntN(30)) * time.Second)
			}
			return acWrite{kind: acPutProfile, profile: p}
		case 8:
			return acWrite{kind: acDeleteProfile, holder: holder(), role: pick(roles)}
		case 9:
			return acWrite{kind: acSetActive, holder: holder(), role: pick(roles), active: rng.IntN(2) == 0}
		case 10:
			return acWrite{kind: acAddMember, user: pick(users), group: pick(groups)}
		case 11:
			return acWrite{kind: acRemoveMember, user: pick(users), group: pick(groups)}
		case 12:
			// Half of the time, forget the parents: objects without stored
			// ancestry take other paths.
			var ps []iam.Ref
			if rng.IntN(2) == 0 {
				for range 1 + rng.IntN(2) {
					ps = append(ps, pickRef())
				}
			}
			return acWrite{kind: acSetParents, ref: pickRef(), parents: ps}
		default:
			return acWrite{kind: acDeleteGrantsOn, ref: on()}
		}
	}
	// A question family is one user and one permission, asked in several
	// forms at the same store generation: the keys of the cache must tell
	// them apart, and the forms that are not cached must not be.
	subject := func(id string) (iam.Subject, string) {
		switch r := rng.IntN(20); {
		case r < 10:
			return acPlain(id), "plain " + id
		case r < 13:
			gs := []string{pick(groups)}
			if rng.IntN(2) == 0 {
				gs = append(gs, pick(groups))
			}
			return &acGrouped{id: id, groups: gs}, fmt.Sprintf("grouped %s %v", id, gs)
		case r < 15:
			return &acGrouped{id: id}, "grouped " + id + " []"
		case r < 19:
			fl := &acFlagged{id: id, active: rng.IntN(6) != 0, super: rng.IntN(6) == 0}
			return fl, fmt.Sprintf("flagged %s active=%v super=%v", id, fl.active, fl.super)
		}
		return acPlain(""), "anonymous"
	}
	object := func(r, sibling iam.Ref) (iam.Object, string) {
		switch k := rng.IntN(20); {
		case k < 3:
			return nil, "nil"
		case k < 7:
			return objs[r], "obj " + r.String()
		case k < 10:
			return objs[sibling], "obj " + sibling.String()
		case k < 14:
			refuse := rng.IntN(2) == 0
			return acRefusing{objs[r], refuse}, fmt.Sprintf("refusing=%v %s", refuse, r)
		case k < 16:
			var ps []iam.Ref
			for range 1 + rng.IntN(2) {
				ps = append(ps, pickRef())
			}
			return acOwnParents{objs[r], ps}, fmt.Sprintf("own-parents %s %v", r, ps)
		}
		return r, "bare " + r.String()
	}
	type variant struct {
		s    iam.Subject
		obj  iam.Object
		desc string
	}

	// A trace of the last operations, for the failure message.
	var trace []string
	note := func(s string) {
		trace = append(trace, s)
		if len(trace) > 40 {
			trace = trace[1:]
		}
	}
	const (
		ops     = 6000
		repeats = 3
	)
	var (
		checks, allowedN, families int
		singles, batched, batches  int
		failed, flips              int
		how                        = map[string]int{}
		last                       = map[string]bool{}
	)
	for op := range ops {
		switch r := rng.IntN(100); {
		case r < 30: // one write
			w := randomWrite()
			err := w.do(ctx, store)
			merr := model.apply(w)
			require.Equal(t, merr == nil, err == nil, "op %d %s: store error %v, model error %v", op, w, err, merr)
			singles++
			if err != nil {
				failed++
			}
			note(fmt.Sprintf("op %d: %s -> %v", op, w, err))
		case r < 36: // several writes in one Update
			var ws []acWrite
			for range 2 + rng.IntN(4) {
				ws = append(ws, randomWrite())
			}
			next := model.clone()
			var merr error
			for _, w := range ws {
				if merr = next.apply(w); merr != nil {
					break
				}
			}
			err := store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
				for _, w := range ws {
					if err := w.apply(ctx, tx); err != nil {
						return err
					}
				}
				return nil
			})
			require.Equal(t, merr == nil, err == nil, "op %d Update%v: store error %v, model error %v", op, ws, err, merr)
			if err == nil {
				model = next
			} else {
				failed++
			}
			batches++
			batched += len(ws)
			note(fmt.Sprintf("op %d: Update%v -> %v", op, ws, err))
		case r < 40: // the clock moves, forwards or back
			d := time.Duration(rng.IntN(41)-15) * time.Second
			clock.Add(d)
			note(fmt.Sprintf("op %d: clock %+v -> t0+%s", op, d, clock.Now().Sub(acT0)))
		case r < 44: // an object's owner changes (no store write)
			o := objs[pickRef()]
			o.owner = pick(append([]string{""}, users...))
			note(fmt.Sprintf("op %d: owner of %s = %q", op, o.ref, o.owner))
		default: // a question family, asked in rounds
			id, perm, r := pick(users), pick(acPerms), pickRef()
			sibling := refs[rng.IntN(len(refs))]
			for sibling.Type != r.Type || sibling == r {
				sibling = refs[rng.IntN(len(refs))]
			}
			vs := []variant{{acPlain(id), objs[r], fmt.Sprintf("(plain %s, %s, obj %s)", id, perm, r)}}
			for range 3 {
				s, sdesc := subject(id)
				obj, odesc := object(r, sibling)
				vs = append(vs, variant{s, obj, fmt.Sprintf("(%s, %s, %s)", sdesc, perm, odesc)})
			}
			families++
			for round := range repeats {
				if round > 0 && rng.IntN(4) == 0 {
					// The clock moves between two rounds, with no write.
					d := time.Duration(rng.IntN(61)-30) * time.Second
					clock.Add(d)
					note(fmt.Sprintf("op %d: clock %+v -> t0+%s", op, d, clock.Now().Sub(acT0)))
				}
				for _, v := range vs {
					want, why := model.allowed(clock.Now(), v.s, perm, v.obj)
					note(fmt.Sprintf("op %d round %d: ask %s want %v (%s)", op, round, v.desc, want, why))
					fail := func(who string, got any) {
						t.Fatalf("op %d, round %d: %s%s = %v, the model says %v (%s)\nlast operations:\n%s",
							op, round, who, v.desc, got, want, why, strings.Join(trace, "\n"))
					}
					for j, c := range cs.cached {
						if got := c.HasPerm(ctx, v.s, perm, v.obj); got != want {
							fail(cs.names[j]+" HasPerm", got)
						}
					}
					if got := cs.uncached.HasPerm(ctx, v.s, perm, v.obj); got != want {
						fail("uncached HasPerm", got)
					}
					if d, err := cs.uncached.Check(ctx, v.s, perm, v.obj); d.Allowed != want {
						fail("Check", fmt.Sprintf("%v (%v)", d, err))
					}
					if d, err := cs.cached[0].Check(ctx, v.s, perm, v.obj); d.Allowed != want {
						fail("Check on the cached checker", fmt.Sprintf("%v (%v)", d, err))
					}
					if prev, ok := last[v.desc]; ok && prev != want {
						flips++
					}
					last[v.desc] = want
					checks++
					if want {
						allowedN++
					}
					how[why]++
				}
			}
		}
	}
	var hows []string
	for k, v := range how {
		hows = append(hows, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(hows)
	t.Logf("%d ops: %d single writes, %d writes in %d Update batches, %d failed (single or batch); "+
		"%d question families of 4 forms asked in %d rounds = %d checks per checker, %d allowed (%.1f%%); "+
		"%d answers changed since the same question was last asked; decided by: %s",
		ops, singles, batched, batches, failed, families, repeats, checks, allowedN,
		100*float64(allowedN)/float64(checks), flips, strings.Join(hows, " "))
	require.Greater(t, allowedN, checks/10, "too few allowed answers for the test to discriminate")
	require.Less(t, allowedN, checks*9/10, "too few denied answers for the test to discriminate")
}

// ---------------------------------------------------------------------------
// Every invalidation path, explicitly

// TestCacheInvalidation: a write that returns is seen by the next HasPerm of
// a checker that cached the answer before it, in both directions (allowed →
// denied and denied → allowed); a write that fails, or one that does not
// concern the question, leaves the answer as it was. contract 15 (and 4,
// 4b, 4c, 5, 14, 14b for what each row grants).
func TestCacheInvalidation(t *testing.T) {
	u1, u2, g1 := iam.User("u1"), iam.User("u2"), iam.Group("g1")
	doc1, doc2 := acRef("doc", "1"), acRef("doc", "2")
	f1, f2, f3 := acRef("folder", "1"), acRef("folder", "2"), acRef("folder", "3")
	docs := iam.TypeScope("doc")
	global := iam.GlobalScope()
	grant := func(g iam.Grant) acWrite { return acWrite{kind: acGrant, grant: g} }
	profile := func(h iam.Principal, role string, active bool) acWrite {
		return acWrite{kind: acPutProfile, profile: iam.Profile{Holder: h, Role: role, Active: active}}
	}
	member := func(u, g string) acWrite { return acWrite{kind: acAddMember, user: u, group: g} }
	parents := func(r iam.Ref, ps ...iam.Ref) acWrite { return acWrite{kind: acSetParents, ref: r, parents: ps} }

	tests := []struct {
		name     string
		setup    []acWrite
		subject  iam.Subject // acPlain("u1") when nil
		perm     string
		obj      iam.Object // nil: model level
		before   bool
		write    func(ctx context.Context, s *iam.MemoryStore) error
		wantErr  bool // the write fails
		after    bool
		contract string
	}{
		{
			name: "revoke an object grant", setup: []acWrite{grant(acPerm(u1, acView, doc1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4c",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Revoke(ctx, acPerm(u1, acView, doc1)) },
		},
		{
			name: "grant on the object", perm: acView, obj: doc1, before: false, after: true, contract: "4c",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acPerm(u1, acView, doc1)) },
		},
		{
			name: "revoke a type-level grant", setup: []acWrite{grant(acPerm(u1, acView, docs))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4c",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Revoke(ctx, acPerm(u1, acView, docs)) },
		},
		{
			name: "revoke a global grant, model level", setup: []acWrite{grant(acPerm(u1, acDelete, global))},
			perm: acDelete, before: true, after: false, contract: "4c, 5",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, acPerm(u1, acDelete, global))
			},
		},
		{
			name: "grant on the type, model level of a typed permission", perm: acShare, before: false, after: true, contract: "5, 7",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acPerm(u1, acShare, docs)) },
		},
		{
			name: "revoke a group's object grant", setup: []acWrite{member("u1", "g1"), grant(acPerm(g1, acView, doc1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4c, 14",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Revoke(ctx, acPerm(g1, acView, doc1)) },
		},
		{
			name: "delete a profile", setup: []acWrite{profile(u1, "doc.editor", true)},
			perm: acView, obj: doc1, before: true, after: false, contract: "4a",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteProfile(ctx, u1, "doc.editor") },
		},
		{
			name: "put a profile", perm: acDelete, before: false, after: true, contract: "4a, 5",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.admin", Active: true})
			},
		},
		{
			name: "put an inactive profile over an active one", setup: []acWrite{profile(u1, "doc.admin", true)},
			perm: acDelete, obj: doc1, before: true, after: false, contract: "4a",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.admin", Active: false})
			},
		},
		{
			name: "deactivate a profile", setup: []acWrite{profile(u1, "doc.editor", true)},
			perm: acView, before: true, after: false, contract: "4a",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, u1, "doc.editor", false)
			},
		},
		{
			name: "activate a profile", setup: []acWrite{profile(u1, "doc.editor", false)},
			perm: acView, obj: doc2, before: false, after: true, contract: "4a",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, u1, "doc.editor", true)
			},
		},
		{
			name: "deactivate a group's profile", setup: []acWrite{member("u1", "g1"), profile(g1, "doc.admin", true)},
			perm: acDelete, obj: doc1, before: true, after: false, contract: "4a, 14",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, g1, "doc.admin", false)
			},
		},
		{
			name: "delete a group's profile", setup: []acWrite{member("u1", "g1"), profile(g1, "doc.viewer", true)},
			perm: acView, before: true, after: false, contract: "4a, 14",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteProfile(ctx, g1, "doc.viewer") },
		},
		{
			name: "remove a membership: the group's role", setup: []acWrite{member("u1", "g1"), profile(g1, "doc.editor", true)},
			perm: acView, obj: doc1, before: true, after: false, contract: "4a, 14",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.RemoveMember(ctx, "u1", "g1") },
		},
		{
			name: "remove a membership: the group's grant", setup: []acWrite{member("u1", "g1"), grant(acPerm(g1, acView, f1)), parents(doc1, f1)},
			perm: acView, obj: doc1, before: true, after: false, contract: "4c, 14",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.RemoveMember(ctx, "u1", "g1") },
		},
		{
			name: "add a membership", setup: []acWrite{grant(acRole(g1, "doc.viewer", doc1))},
			perm: acView, obj: doc1, before: false, after: true, contract: "4b, 14",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.AddMember(ctx, "u1", "g1") },
		},
		{
			name: "DeleteGrantsOn the object", setup: []acWrite{grant(acPerm(u1, acView, doc1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4c, 18",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteGrantsOn(ctx, doc1) },
		},
		{
			name: "DeleteGrantsOn a parent", setup: []acWrite{parents(doc1, f1), grant(acRole(u1, "doc.viewer", f1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4b, 18",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteGrantsOn(ctx, f1) },
		},
		{
			name: "DeleteGrantsOn the type", setup: []acWrite{grant(acPerm(u1, acView, docs))},
			perm: acView, obj: doc2, before: true, after: false, contract: "4c, 18",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteGrantsOn(ctx, docs) },
		},
		{
			name: "DeleteGrantsOn global, model level", setup: []acWrite{grant(acRole(u1, "doc.admin", global))},
			perm: acDelete, before: true, after: false, contract: "4c, 5",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.DeleteGrantsOn(ctx, global) },
		},
		{
			name: "SetParents removes the granted parent", setup: []acWrite{parents(doc1, f1), grant(acPerm(u1, acView, f1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4b",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.SetParents(ctx, doc1, nil) },
		},
		{
			name: "SetParents replaces the granted grandparent", setup: []acWrite{parents(doc1, f1), parents(f1, f2), grant(acPerm(u1, acView, f2))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4b",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.SetParents(ctx, f1, []iam.Ref{f3}) },
		},
		{
			name: "SetParents adds a granted parent", setup: []acWrite{grant(acRole(u1, "doc.editor", f2))},
			perm: acEdit, obj: doc1, before: false, after: true, contract: "4b",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.SetParents(ctx, doc1, []iam.Ref{f3, f2}) },
		},
		{
			name: "revoke a local role on the object", setup: []acWrite{grant(acRole(u1, "doc.editor", doc1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4b",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, acRole(u1, "doc.editor", doc1))
			},
		},
		{
			name: "revoke a local role on a parent", setup: []acWrite{parents(doc1, f1), grant(acRole(u1, "doc.admin", f1))},
			perm: acDelete, obj: doc1, before: true, after: false, contract: "4b",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Revoke(ctx, acRole(u1, "doc.admin", f1)) },
		},
		{
			name: "revoke a role granted on the type", setup: []acWrite{grant(acRole(u1, "doc.viewer", docs))},
			perm: acView, obj: doc2, before: true, after: false, contract: "4a",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, acRole(u1, "doc.viewer", docs))
			},
		},
		{
			name: "grant a local role", perm: acDelete, obj: doc1, before: false, after: true, contract: "4b",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Grant(ctx, acRole(u1, "doc.admin", doc1))
			},
		},
		{
			name: "revoke the local role a rule's HasRole needs", setup: []acWrite{grant(acRole(u1, "doc.editor", doc1))},
			perm: acComment, obj: doc1, before: true, after: false, contract: "4d, 14b",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, acRole(u1, "doc.editor", doc1))
			},
		},
		{
			name: "a first local role flips Not(HasRole)", perm: acAppeal, obj: doc1, before: true, after: false, contract: "4d, 14b",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Grant(ctx, acRole(u1, "doc.banned", doc1))
			},
		},
		{
			name: "a first local role, on a parent, flips Not(HasRole)", setup: []acWrite{parents(doc1, f1), member("u1", "g1")},
			perm: acAppeal, obj: doc1, before: true, after: false, contract: "4d, 14, 14b",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acRole(g1, "doc.banned", f1)) },
		},
		{
			name: "SubjectGroups: a group's local role revoked", setup: []acWrite{grant(acRole(g1, "doc.viewer", doc1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "4b, 14",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Revoke(ctx, acRole(g1, "doc.viewer", doc1))
			},
			subject: &acGrouped{id: "u1", groups: []string{"g1"}},
		},
		{
			name: "a banned profile flips Not(HasRole), model level", perm: acAppeal, before: true, after: false, contract: "4d, 14b",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.banned", Active: true})
			},
		},
		{
			name: "one Update revokes and grants elsewhere", setup: []acWrite{grant(acPerm(u1, acView, doc1))},
			perm: acView, obj: doc1, before: true, after: false, contract: "15",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
					if err := tx.Revoke(ctx, acPerm(u1, acView, doc1)); err != nil {
						return err
					}
					return tx.Grant(ctx, acPerm(u2, acView, doc1))
				})
			},
		},
		{
			name: "one Update grants through a new membership and a new parent", setup: []acWrite{grant(acRole(g1, "doc.viewer", f1))},
			perm: acView, obj: doc1, before: false, after: true, contract: "15",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
					if err := tx.AddMember(ctx, "u1", "g1"); err != nil {
						return err
					}
					return tx.(iam.ParentStore).SetParents(ctx, doc1, []iam.Ref{f1})
				})
			},
		},
		{
			name: "an unrelated write keeps an allow", setup: []acWrite{grant(acPerm(u1, acView, doc1))},
			perm: acView, obj: doc1, before: true, after: true, contract: "15",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acPerm(u2, acView, doc2)) },
		},
		{
			name: "an unrelated write keeps a denial", setup: []acWrite{grant(acPerm(u1, acView, doc1))},
			perm: acView, obj: doc2, before: false, after: false, contract: "15",
			write: func(ctx context.Context, s *iam.MemoryStore) error { return s.Revoke(ctx, acPerm(u2, acView, doc2)) },
		},
		{
			name: "a failed SetProfileActive changes nothing", setup: []acWrite{grant(acPerm(u1, acView, doc1))},
			perm: acView, obj: doc1, before: true, after: true, wantErr: true, contract: "15",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.SetProfileActive(ctx, u1, "doc.viewer", false)
			},
		},
		{
			name: "a failed Update changes nothing", perm: acView, obj: doc1, before: false, after: false, wantErr: true, contract: "15",
			write: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
					if err := tx.Grant(ctx, acPerm(u1, acView, doc1)); err != nil {
						return err
					}
					return errors.New("rolled back")
				})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { // contract 15 and tc.contract
			ctx := context.Background()
			f := acNewFixture()
			store := iam.NewMemoryStore()
			for _, w := range tc.setup {
				require.NoError(t, w.do(ctx, store), "setup %s", w)
			}
			cs := acNewCheckers(t, f.policy, store, iam.Options{})
			s := tc.subject
			if s == nil {
				s = acPlain("u1")
			}
			cs.ask(t, 3, s, tc.perm, tc.obj, tc.before, "before the write")
			err := tc.write(ctx, store)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			cs.ask(t, 3, s, tc.perm, tc.obj, tc.after, "after the write")
		})
	}
}

// ---------------------------------------------------------------------------
// Expiry: the clock changes answers without any store write

// acExpStep sets the clock to acT0+at and expects want.
type acExpStep struct {
	at   time.Duration
	want bool
}

// TestCacheProfileExpiry: a profile with an expiry decides by the clock of
// each check, never by a cached answer: past the expiry it is denied, and a
// clock set back makes it held again, without any write. contract 4 (a
// global role is held iff the profile is active and not expired).
func TestCacheProfileExpiry(t *testing.T) {
	u1, g1 := iam.User("u1"), iam.Group("g1")
	doc1 := acRef("doc", "1")
	tests := []struct {
		name    string
		holder  iam.Principal
		member  bool // u1 is a member of g1
		expires time.Duration
		perm    string
		obj     iam.Object
		steps   []acExpStep
	}{
		{
			name: "own profile, object", holder: u1, expires: time.Hour, perm: acView, obj: doc1,
			steps: []acExpStep{{0, true}, {59 * time.Minute, true}, {time.Hour - 1, true}, {time.Hour, false}, {2 * time.Hour, false}, {0, true}, {time.Hour, false}},
		},
		{
			name: "own profile, model level", holder: u1, expires: time.Hour, perm: acDelete,
			steps: []acExpStep{{0, true}, {2 * time.Hour, false}, {30 * time.Minute, true}, {3 * time.Hour, false}},
		},
		{
			name: "group's profile", holder: g1, member: true, expires: time.Hour, perm: acEdit, obj: doc1,
			steps: []acExpStep{{0, true}, {2 * time.Hour, false}, {0, true}, {time.Hour, false}},
		},
		{
			name: "expired profile revived by a clock set back", holder: u1, expires: -time.Hour, perm: acView, obj: doc1,
			steps: []acExpStep{{0, false}, {-2 * time.Hour, true}, {-time.Hour, false}, {-time.Hour - 1, true}, {0, false}},
		},
		{
			name: "expiring role in a rule's HasRole", holder: u1, expires: time.Hour, perm: acComment, obj: doc1,
			steps: []acExpStep{{0, true}, {2 * time.Hour, false}, {0, true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { // contract 4
			ctx := context.Background()
			f := acNewFixture()
			clock := &acClock{}
			clock.Set(acT0)
			store := iam.NewMemoryStore()
			if tc.member {
				require.NoError(t, store.AddMember(ctx, "u1", "g1"))
			}
			require.NoError(t, store.PutProfile(ctx, iam.Profile{Holder: tc.holder, Role: "doc.admin", Active: true, ExpiresAt: acT0.Add(tc.expires)}))
			// An unrelated never-expiring profile: the subject's holding is
			// timed all the same.
			require.NoError(t, store.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.banned", Active: false}))
			cs := acNewCheckers(t, f.policy, store, iam.Options{Now: clock.Now})
			for i, st := range tc.steps {
				clock.Set(acT0.Add(st.at))
				cs.ask(t, 3, acPlain("u1"), tc.perm, tc.obj, st.want, fmt.Sprintf("step %d: clock t0%+v", i, st.at))
			}
		})
	}
}

// ---------------------------------------------------------------------------
// The subject's and the object's own answers, changing without a write

// TestCacheDynamicInterfaces: HasPerm follows what the subject and the
// object say on each call (SubjectGroups, IsActive, IsSuperuser,
// SubjectID, Parents, AcquireGlobalRoles, ObjectRef), with no store write
// in between. contract 2, 3, 4a, 4b, 14.
func TestCacheDynamicInterfaces(t *testing.T) {
	u1, g1 := iam.User("u1"), iam.Group("g1")
	doc1, doc2, f1, f2 := acRef("doc", "1"), acRef("doc", "2"), acRef("folder", "1"), acRef("folder", "2")
	type step struct {
		name   string
		change func(u *acDynUser, o *acDynObj, p *acParentsObj)
		want   bool
	}
	tests := []struct {
		name     string
		contract string
		setup    func(ctx context.Context, s *iam.MemoryStore) error
		perm     string
		parents  bool // ask about the acParentsObj, else the acDynObj (nil obj: model level)
		model    bool
		steps    []step
	}{
		{
			name: "SubjectGroups", contract: "14", perm: acView,
			setup: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acPerm(g1, acView, doc1)) },
			steps: []step{
				{"no groups", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = nil }, false},
				{"g1", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = []string{"g1"} }, true},
				{"no groups again", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = nil }, false},
				{"g2", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = []string{"g2"} }, false},
				{"g2 and g1", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = []string{"g2", "g1"} }, true},
				{"empty, not nil", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = []string{} }, false},
			},
		},
		{
			name: "SubjectGroups: a group's global role, model level", contract: "4a, 14", perm: acEdit, model: true,
			setup: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: g1, Role: "doc.editor", Active: true})
			},
			steps: []step{
				{"no groups", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = nil }, false},
				{"g1", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = []string{"g1"} }, true},
				{"no groups again", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = nil }, false},
			},
		},
		{
			name: "SubjectGroups: losing the group that held the allow", contract: "14", perm: acView,
			setup: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Grant(ctx, acRole(g1, "doc.viewer", doc1))
			},
			steps: []step{
				{"g1", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = []string{"g1"} }, true},
				{"no groups", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = nil }, false},
				{"g1 again", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.groups = []string{"g1"} }, true},
			},
		},
		{
			name: "IsActive", contract: "2", perm: acView,
			setup: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acPerm(u1, acView, doc1)) },
			steps: []step{
				{"active", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.active = true }, true},
				{"inactive", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.active = false }, false},
				{"active again", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.active = true }, true},
				{"inactive superuser", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.active, u.super = false, true }, false},
			},
		},
		{
			name: "IsSuperuser", contract: "3", perm: acDelete,
			setup: func(context.Context, *iam.MemoryStore) error { return nil },
			steps: []step{
				{"not superuser", func(*acDynUser, *acDynObj, *acParentsObj) {}, false},
				{"superuser", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.super = true }, true},
				{"not superuser again", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.super = false }, false},
				{"superuser, refusing object", func(u *acDynUser, o *acDynObj, _ *acParentsObj) { u.super, o.refuse = true, true }, true},
			},
		},
		{
			name: "SubjectID", contract: "4c, 6", perm: acView,
			setup: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acPerm(u1, acView, doc1)) },
			steps: []step{
				{"u1", func(*acDynUser, *acDynObj, *acParentsObj) {}, true},
				{"u2", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.id = "u2" }, false},
				{"anonymous", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.id = "" }, false},
				{"u1 again", func(u *acDynUser, _ *acDynObj, _ *acParentsObj) { u.id = "u1" }, true},
			},
		},
		{
			name: "ObjectRef", contract: "4c", perm: acView,
			setup: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acPerm(u1, acView, doc1)) },
			steps: []step{
				{"doc 1", func(*acDynUser, *acDynObj, *acParentsObj) {}, true},
				{"doc 2", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.ref = doc2 }, false},
				{"folder 1", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.ref = f1 }, false},
				{"doc 1 again", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.ref = doc1 }, true},
			},
		},
		{
			name: "AcquireGlobalRoles", contract: "4a", perm: acView,
			setup: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: u1, Role: "doc.editor", Active: true})
			},
			steps: []step{
				{"acquires", func(*acDynUser, *acDynObj, *acParentsObj) {}, true},
				{"refuses", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.refuse = true }, false},
				{"acquires again", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.refuse = false }, true},
			},
		},
		{
			name: "AcquireGlobalRoles: a role granted on the type, and a direct grant", contract: "4a", perm: acView,
			setup: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
					if err := tx.Grant(ctx, acRole(u1, "doc.viewer", iam.TypeScope("doc"))); err != nil {
						return err
					}
					return tx.Grant(ctx, acPerm(u1, acView, doc2))
				})
			},
			steps: []step{
				{"acquires", func(*acDynUser, *acDynObj, *acParentsObj) {}, true},
				{"refuses", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.refuse = true }, false},
				{"refuses, doc 2 granted directly", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.ref = doc2 }, true},
				{"refuses, doc 1", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.ref = doc1 }, false},
				{"acquires again", func(_ *acDynUser, o *acDynObj, _ *acParentsObj) { o.refuse = false }, true},
			},
		},
		{
			name: "Parents", contract: "4b", perm: acView, parents: true,
			setup: func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
					if err := tx.Grant(ctx, acPerm(u1, acView, f1)); err != nil {
						return err
					}
					return tx.(iam.ParentStore).SetParents(ctx, f2, []iam.Ref{f1})
				})
			},
			steps: []step{
				{"no parents", func(*acDynUser, *acDynObj, *acParentsObj) {}, false},
				{"folder 1", func(_ *acDynUser, _ *acDynObj, p *acParentsObj) { p.parents = []iam.Ref{f1} }, true},
				{"no parents again", func(_ *acDynUser, _ *acDynObj, p *acParentsObj) { p.parents = nil }, false},
				{"folder 2, whose stored parent is folder 1", func(_ *acDynUser, _ *acDynObj, p *acParentsObj) { p.parents = []iam.Ref{f2} }, true},
				{"doc 2", func(_ *acDynUser, _ *acDynObj, p *acParentsObj) { p.parents = []iam.Ref{doc2} }, false},
			},
		},
		{
			name: "Parents: a local role a rule needs", contract: "4b, 14b", perm: acAppeal, parents: true,
			setup: func(ctx context.Context, s *iam.MemoryStore) error { return s.Grant(ctx, acRole(u1, "doc.banned", f1)) },
			steps: []step{
				{"no parents", func(*acDynUser, *acDynObj, *acParentsObj) {}, true},
				{"folder 1", func(_ *acDynUser, _ *acDynObj, p *acParentsObj) { p.parents = []iam.Ref{f1} }, false},
				{"no parents again", func(_ *acDynUser, _ *acDynObj, p *acParentsObj) { p.parents = nil }, true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { // contract tc.contract
			ctx := context.Background()
			f := acNewFixture()
			store := iam.NewMemoryStore()
			require.NoError(t, tc.setup(ctx, store))
			cs := acNewCheckers(t, f.policy, store, iam.Options{})
			u := &acDynUser{id: "u1", active: true}
			o := &acDynObj{ref: doc1}
			p := &acParentsObj{ref: doc1}
			for _, st := range tc.steps {
				st.change(u, o, p)
				var obj iam.Object = o
				switch {
				case tc.model:
					obj = nil
				case tc.parents:
					obj = p
				}
				cs.ask(t, 3, u, tc.perm, obj, st.want, st.name)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Rules are never cached

// TestCacheRuleRunsOnCachedNo: when the store's answer is a cached "no", the
// permission's rule still runs on every call, so an attribute of the object
// changes the answer with no store write; when the store allows, the rule
// does not run. contract 4d, 12.
func TestCacheRuleRunsOnCachedNo(t *testing.T) {
	ctx := context.Background()
	for _, slots := range []int{0, 1, 2, -1} {
		t.Run(fmt.Sprintf("CacheSlots=%d", slots), func(t *testing.T) { // contract 4d, 12
			f := acNewFixture()
			store := iam.NewMemoryStore()
			c, err := iam.NewWithOptions(f.policy, store, iam.Options{CacheSlots: slots})
			require.NoError(t, err)
			doc := &acObj{ref: acRef("doc", "1"), owner: "u2"}
			u := acPlain("u1")
			calls := func() int64 { return f.ownerCalls.Load() }

			for i := range 5 {
				before := calls()
				require.False(t, c.HasPerm(ctx, u, acEdit, doc), "call %d", i)
				require.Equal(t, before+1, calls(), "call %d: the rule runs once per call", i)
			}
			doc.owner = "u1"
			for i := range 3 {
				before := calls()
				require.True(t, c.HasPerm(ctx, u, acEdit, doc), "owner now, call %d", i)
				require.Equal(t, before+1, calls())
			}
			doc.owner = "u2"
			for i := range 3 {
				before := calls()
				require.False(t, c.HasPerm(ctx, u, acEdit, doc), "owner no more, call %d", i)
				require.Equal(t, before+1, calls())
			}
			// doc.comment = is_owner | (has_role:editor & ~has_role:banned):
			// the same cached "no" of the store, a different rule.
			doc.owner = "u1"
			require.True(t, c.HasPerm(ctx, u, acComment, doc))
			doc.owner = ""
			require.False(t, c.HasPerm(ctx, u, acComment, doc))

			// The store allows: the rule is not needed, and does not run.
			require.NoError(t, store.Grant(ctx, acPerm(iam.User("u1"), acEdit, doc.ref)))
			before := calls()
			for i := range 3 {
				require.True(t, c.HasPerm(ctx, u, acEdit, doc), "granted, call %d", i)
			}
			require.Equal(t, before, calls(), "the rule ran although the store allowed")
			require.NoError(t, store.Revoke(ctx, acPerm(iam.User("u1"), acEdit, doc.ref)))
			require.False(t, c.HasPerm(ctx, u, acEdit, doc))
			require.Equal(t, before+1, calls())
		})
	}
}

// TestCachePanickingPredicate: a predicate that panics denies every call,
// and its "yes" of one call is never remembered for the next; a panicking
// subject or object method denies as well, and leaves the cache usable.
// contract 10, 2, 1, 17.
func TestCachePanickingPredicate(t *testing.T) {
	ctx := context.Background()
	var mode atomic.Int32 // 0: panic, 1: true, 2: false
	var runs atomic.Int64
	pred := iam.Pred("moody", func(context.Context, iam.Subject, iam.Object) bool {
		runs.Add(1)
		switch mode.Load() {
		case 0:
			panic("moody predicate")
		case 1:
			return true
		}
		return false
	})
	viewer := &iam.Role{Name: "doc.viewer", Perms: []string{acView}}
	pol := iam.Policy{
		Roles: []*iam.Role{viewer},
		Perms: []iam.Perm{{Name: acView}, {Name: acEdit}},
		Rules: map[string]iam.Predicate{acEdit: pred, acView: pred},
	}
	store := iam.NewMemoryStore()
	cs := acNewCheckers(t, pol, store, iam.Options{})
	u := acPlain("u1")
	doc := acRef("doc", "1")

	askPanics := func(perm string, msg string) {
		t.Helper()
		err := cs.ask(t, 3, u, perm, doc, false, msg)
		require.ErrorIs(t, err, iam.ErrPanic, msg)
	}
	mode.Store(0)
	askPanics(acEdit, "panics")
	mode.Store(1)
	cs.ask(t, 3, u, acEdit, doc, true, "true")
	mode.Store(0)
	runsBefore := runs.Load()
	askPanics(acEdit, "panics again: the earlier yes is not remembered")
	require.Greater(t, runs.Load(), runsBefore)
	mode.Store(2)
	cs.ask(t, 3, u, acEdit, doc, false, "false")

	// The store allows doc.view: the rule does not run, the panic does not
	// happen, and a revocation is seen.
	mode.Store(0)
	askPanics(acView, "doc.view, nothing stored")
	require.NoError(t, store.PutProfile(ctx, iam.Profile{Holder: iam.User("u1"), Role: "doc.viewer", Active: true}))
	cs.ask(t, 3, u, acView, doc, true, "doc.view from the role")
	require.NoError(t, store.SetProfileActive(ctx, iam.User("u1"), "doc.viewer", false))
	askPanics(acView, "doc.view, role deactivated")

	// Subject and object methods that panic deny, on every call, and the
	// cache still answers afterwards.
	// doc.edit: the store says no (the chain is read, so Parents is
	// called) and the rule says no without panicking.
	require.NoError(t, store.SetProfileActive(ctx, iam.User("u1"), "doc.viewer", true))
	mode.Store(2)
	cs.ask(t, 3, u, acView, doc, true, "before the panicking methods")
	require.NoError(t, cs.ask(t, 3, u, acEdit, doc, false, "before the panicking methods"))
	for _, tc := range []struct {
		name string
		s    iam.Subject
		obj  iam.Object
	}{
		{"SubjectID", acPanicSubject{method: "SubjectID"}, doc},
		{"IsActive", acPanicSubject{method: "IsActive"}, doc},
		{"IsSuperuser", acPanicSubject{method: "IsSuperuser"}, doc},
		{"SubjectGroups", acPanicSubject{method: "SubjectGroups"}, doc},
		{"ObjectRef", u, acPanicObject{method: "ObjectRef"}},
		{"AcquireGlobalRoles", u, acPanicObject{method: "AcquireGlobalRoles"}},
		{"Parents", u, acPanicObject{method: "Parents"}},
	} {
		err := cs.ask(t, 3, tc.s, acEdit, tc.obj, false, tc.name+" panics")
		require.ErrorIs(t, err, iam.ErrPanic, tc.name)
	}
	cs.ask(t, 3, u, acView, doc, true, "after the panicking methods")

	// Decided before the cache: a cancelled context (contract 17) and an
	// undeclared permission (contract 1) deny a question the cache allows.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for j, c := range cs.cached {
		require.True(t, c.HasPerm(ctx, u, acView, doc), cs.names[j])
		require.False(t, c.HasPerm(cctx, u, acView, doc), "%s: cancelled context", cs.names[j])
		require.False(t, c.HasPerm(ctx, u, "doc.vieww", doc), "%s: undeclared permission", cs.names[j])
		require.False(t, c.HasPerm(ctx, nil, acView, doc), "%s: nil subject", cs.names[j])
		require.True(t, c.HasPerm(ctx, u, acView, doc), cs.names[j])
	}
}

// acPanicSubject is a subject (with every optional interface) one of whose
// methods panics; the others answer as user u1, active, not a superuser,
// with no groups of its own.
type acPanicSubject struct{ method string }

func (s acPanicSubject) boom(m string) {
	if s.method == m {
		panic("subject " + m)
	}
}
func (s acPanicSubject) SubjectID() string       { s.boom("SubjectID"); return "u1" }
func (s acPanicSubject) IsActive() bool          { s.boom("IsActive"); return true }
func (s acPanicSubject) IsSuperuser() bool       { s.boom("IsSuperuser"); return false }
func (s acPanicSubject) SubjectGroups() []string { s.boom("SubjectGroups"); return nil }

// acPanicObject is doc 1 (with every optional interface) one of whose
// methods panics.
type acPanicObject struct{ method string }

func (o acPanicObject) boom(m string) {
	if o.method == m {
		panic("object " + m)
	}
}
func (o acPanicObject) ObjectRef() iam.Ref       { o.boom("ObjectRef"); return acRef("doc", "1") }
func (o acPanicObject) AcquireGlobalRoles() bool { o.boom("AcquireGlobalRoles"); return true }
func (o acPanicObject) Parents() []iam.Ref       { o.boom("Parents"); return nil }

// ---------------------------------------------------------------------------
// Concurrency

// TestCacheConcurrentWrites (run with -race): readers ask HasPerm in a loop,
// through a default, a one-slot and a two-slot cache, while a writer grants
// and then revokes doc.view on one object after another, and churns
// unrelated grants. A write that returned before a check started is seen by
// it: a grant that returned is allowed (until its revocation starts), a
// revocation that returned is denied, and a grant not yet started is denied
// (contract 15). The writer also asks, in its own goroutine, right after
// each of its writes. No wall-clock limit: the readers stop when the writer
// is done.
func TestCacheConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	f := acNewFixture()
	store := iam.NewMemoryStore()
	var checkers []*iam.Checker
	for _, slots := range []int{0, 1, 2} {
		c, err := iam.NewWithOptions(f.policy, store, iam.Options{CacheSlots: slots})
		require.NoError(t, err)
		checkers = append(checkers, c)
	}
	const (
		nObj    = 1000
		lag     = 7 // objects granted at once
		readers = 6
	)
	u1 := iam.User("u1")
	u := acPlain("u1")
	objs := make([]iam.Object, nObj)
	for i := range objs {
		objs[i] = acRef("doc", fmt.Sprint(i))
	}
	always, never := acRef("doc", "always"), acRef("doc", "never")
	require.NoError(t, store.Grant(ctx, acPerm(u1, acView, always)))

	var (
		gStart, gDone, rStart, rDone atomic.Int64 // objects [0, n) whose grant / revocation started / returned
		finished                     atomic.Bool
		checks, wrong                atomic.Int64
		assertedTrue, assertedFalse  atomic.Int64
		firstWrong                   sync.Once
		wrongMsg                     string
		wg                           sync.WaitGroup
	)
	report := func(format string, args ...any) {
		wrong.Add(1)
		firstWrong.Do(func() { wrongMsg = fmt.Sprintf(format, args...) })
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 99))
			c := checkers[r%len(checkers)]
			for !finished.Load() {
				// Near the writer's position, so the answers change.
				j := int(gDone.Load()) - lag - 2 + rng.IntN(2*lag+4)
				j = min(max(j, 0), nObj-1)
				gd, rd := gDone.Load(), rDone.Load()
				got := c.HasPerm(ctx, u, acView, objs[j])
				gs, rs := gStart.Load(), rStart.Load()
				checks.Add(1)
				switch {
				case int64(j) < rd:
					assertedFalse.Add(1)
					if got {
						report("reader %d: doc %d allowed after its revocation returned", r, j)
					}
				case int64(j) < gd && int64(j) >= rs:
					assertedTrue.Add(1)
					if !got {
						report("reader %d: doc %d denied after its grant returned (revocation not started)", r, j)
					}
				case int64(j) >= gs:
					assertedFalse.Add(1)
					if got {
						report("reader %d: doc %d allowed before its grant started", r, j)
					}
				}
				if !c.HasPerm(ctx, u, acView, always) {
					report("reader %d: the always-granted doc denied", r)
				}
				if c.HasPerm(ctx, u, acView, never) {
					report("reader %d: the never-granted doc allowed", r)
				}
				checks.Add(2)
			}
		}()
	}

	var werr error
	seen := func(want bool, j int, what string) {
		for i, c := range checkers {
			if got := c.HasPerm(ctx, u, acView, objs[j]); got != want {
				report("writer: checker %d: doc %d = %v right after %s", i, j, got, what)
			}
		}
	}
	for k := range nObj + lag {
		if k < nObj {
			gStart.Store(int64(k + 1))
			if err := store.Grant(ctx, acPerm(u1, acView, objs[k].ObjectRef())); err != nil && werr == nil {
				werr = err
			}
			gDone.Store(int64(k + 1))
			seen(true, k, "its grant")
		}
		if j := k - lag; j >= 0 {
			rStart.Store(int64(j + 1))
			if err := store.Revoke(ctx, acPerm(u1, acView, objs[j].ObjectRef())); err != nil && werr == nil {
				werr = err
			}
			rDone.Store(int64(j + 1))
			seen(false, j, "its revocation")
		}
		// Unrelated churn: another user, a profile, a parent.
		other := iam.User(fmt.Sprint("other", k%5))
		if err := store.Grant(ctx, acPerm(other, acView, objs[k%nObj].ObjectRef())); err != nil && werr == nil {
			werr = err
		}
		if err := store.PutProfile(ctx, iam.Profile{Holder: other, Role: "doc.viewer", Active: k%2 == 0}); err != nil && werr == nil {
			werr = err
		}
	}
	finished.Store(true)
	wg.Wait()
	require.NoError(t, werr)
	t.Logf("%d concurrent checks: %d asserted allowed, %d asserted denied (plus the always/never docs), %d wrong",
		checks.Load(), assertedTrue.Load(), assertedFalse.Load(), wrong.Load())
	require.Zero(t, wrong.Load(), "first: %s", wrongMsg)
	for j := range nObj {
		for _, c := range checkers {
			require.False(t, c.HasPerm(ctx, u, acView, objs[j]), "doc %d after every revocation", j)
		}
	}
}

// ---------------------------------------------------------------------------
// Allocations

// TestCacheAllocs: HasPerm allocates nothing on a cache hit, nor on a miss
// (questions in rotation that evict each other, so every call misses), for
// an object grant, a global role at model level and on an object, and a
// rule that runs after a cached "no" (docs/contract.md, 0 allocs/op). contract 4.
func TestCacheAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	ctx := context.Background()
	const n = 1000
	viewer := &iam.Role{Name: "doc.viewer", Perms: []string{acView}}
	editor := &iam.Role{Name: "doc.editor", Perms: []string{acEdit}}
	var calls atomic.Int64
	pol := iam.Policy{
		Roles: []*iam.Role{viewer, editor},
		Perms: []iam.Perm{{Name: acView}, {Name: acEdit}, {Name: acComment}},
		Rules: map[string]iam.Predicate{acComment: acIsOwner(&calls)},
	}
	store := iam.NewMemoryStore()
	subjects := make([]iam.Subject, n)
	objects := make([]iam.Object, n)
	owned := make([]iam.Object, n)
	require.NoError(t, store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		for i := range n {
			id := fmt.Sprint("u", i)
			subjects[i] = acPlain(id)
			ref := acRef("doc", fmt.Sprint(i))
			objects[i] = ref
			owned[i] = &acObj{ref: ref, owner: id}
			if err := tx.Grant(ctx, acPerm(iam.User(id), acView, ref)); err != nil {
				return err
			}
			if err := tx.PutProfile(ctx, iam.Profile{Holder: iam.User(id), Role: editor.Name, Active: true}); err != nil {
				return err
			}
		}
		return nil
	}))
	cases := []struct {
		name string
		perm string
		obj  func(i int) iam.Object
	}{
		{"object grant", acView, func(i int) iam.Object { return objects[i] }},
		{"global role, model level", acEdit, func(int) iam.Object { return nil }},
		{"global role, on an object", acEdit, func(i int) iam.Object { return objects[i] }},
		{"rule after the store's no", acComment, func(i int) iam.Object { return owned[i] }},
	}
	for _, slots := range []int{0, 1, 64} {
		c, err := iam.NewWithOptions(pol, store, iam.Options{CacheSlots: slots})
		require.NoError(t, err)
		for _, tc := range cases {
			// Warm every question: the memos are compiled once.
			for i := range n {
				require.True(t, c.HasPerm(ctx, subjects[i], tc.perm, tc.obj(i)), "%s %d", tc.name, i)
			}
			objs := make([]iam.Object, n)
			for i := range n {
				objs[i] = tc.obj(i)
			}
			t.Run(fmt.Sprintf("hit/CacheSlots=%d/%s", slots, tc.name), func(t *testing.T) {
				allowed := true
				allocs := testing.AllocsPerRun(1000, func() {
					allowed = allowed && c.HasPerm(ctx, subjects[5], tc.perm, objs[5])
				})
				require.True(t, allowed)
				require.Zero(t, allocs)
			})
			if slots == 0 {
				continue // 4096 slots hold every question of the rotation
			}
			t.Run(fmt.Sprintf("miss/CacheSlots=%d/%s", slots, tc.name), func(t *testing.T) {
				allowed := true
				i := 0
				allocs := testing.AllocsPerRun(2000, func() {
					allowed = allowed && c.HasPerm(ctx, subjects[i%n], tc.perm, objs[i%n])
					i++
				})
				require.True(t, allowed)
				require.Zero(t, allocs)
			})
		}
	}
}

// ---------------------------------------------------------------------------
// HasRole with no local role stored, and an ancestry cut short

// TestCacheHasRoleCutShort: with no local role ever stored, HasRole still
// cannot say "no" on an ancestry cut short (ErrTooDeep, so Not(HasRole) is
// no allow), whether the ancestry is stored or the object's own; HasPerm,
// cached or not, agrees with Check. contract 4b, 9, 14b.
func TestCacheHasRoleCutShort(t *testing.T) {
	ctx := context.Background()
	banned := &iam.Role{Name: "doc.banned", Perms: []string{acFlag}}
	notBanned := iam.And(iam.IsAuthenticated(), iam.Not(iam.HasRole(banned)))
	const report = "doc.report" // rule: has_role:doc.banned
	folder := func(i int) iam.Ref { return acRef("folder", fmt.Sprint(i)) }
	doc := acRef("doc", "d")
	pol := iam.Policy{
		Roles: []*iam.Role{banned},
		Perms: []iam.Perm{{Name: acComment}, {Name: acFlag}, {Name: report}},
		Rules: map[string]iam.Predicate{acComment: notBanned, report: iam.HasRole(banned)},
	}
	// doc → folder 1 → … → folder 6.
	line := func(ctx context.Context, s *iam.MemoryStore) error {
		return s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
			if err := tx.(iam.ParentStore).SetParents(ctx, doc, []iam.Ref{folder(1)}); err != nil {
				return err
			}
			for i := 1; i < 6; i++ {
				if err := tx.(iam.ParentStore).SetParents(ctx, folder(i), []iam.Ref{folder(i + 1)}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	wide := make([]iam.Ref, 5000)
	for i := range wide {
		wide[i] = folder(100 + i)
	}
	type want struct {
		allowed bool
		tooDeep bool
	}
	tests := []struct {
		name     string
		maxDepth int
		setup    []func(ctx context.Context, s *iam.MemoryStore) error
		subject  iam.Subject
		obj      iam.Object
		comment  want // doc.comment = is_authenticated & ~has_role:doc.banned
		report   want // doc.report = has_role:doc.banned
	}{
		{
			name: "stored ancestry cut, no role anywhere", maxDepth: 3,
			setup: []func(context.Context, *iam.MemoryStore) error{line}, obj: doc,
			comment: want{false, true}, report: want{false, true},
		},
		{
			name: "stored ancestry seen whole, no role anywhere", maxDepth: 10,
			setup: []func(context.Context, *iam.MemoryStore) error{line}, obj: doc,
			comment: want{true, false}, report: want{false, false},
		},
		{
			name: "no ancestry, no role anywhere", maxDepth: 3, obj: doc,
			comment: want{true, false}, report: want{false, false},
		},
		{
			name: "model level, no role anywhere", maxDepth: 3,
			setup:   []func(context.Context, *iam.MemoryStore) error{line},
			comment: want{true, false}, report: want{false, false},
		},
		{
			name: "the object's own parents too many", obj: acOwnParents{&acObj{ref: doc}, wide},
			comment: want{false, true}, report: want{false, true},
		},
		{
			name: "the object's own parent, stored ancestry above it cut", maxDepth: 2,
			setup: []func(context.Context, *iam.MemoryStore) error{line}, obj: acOwnParents{&acObj{ref: acRef("doc", "own")}, []iam.Ref{folder(1)}},
			comment: want{false, true}, report: want{false, true},
		},
		{
			name: "held globally, ancestry cut", maxDepth: 3,
			setup: []func(context.Context, *iam.MemoryStore) error{line, func(ctx context.Context, s *iam.MemoryStore) error {
				return s.PutProfile(ctx, iam.Profile{Holder: iam.User("u"), Role: banned.Name, Active: true})
			}},
			obj: doc, comment: want{false, true}, report: want{true, false},
		},
		{
			name: "a local role stored once, elsewhere, and revoked; ancestry cut", maxDepth: 3,
			setup: []func(context.Context, *iam.MemoryStore) error{line, func(ctx context.Context, s *iam.MemoryStore) error {
				g := acRole(iam.User("other"), banned.Name, acRef("doc", "elsewhere"))
				if err := s.Grant(ctx, g); err != nil {
					return err
				}
				return s.Revoke(ctx, g)
			}},
			obj: doc, comment: want{false, true}, report: want{false, true},
		},
		{
			name: "held locally within the cap, ancestry cut", maxDepth: 3,
			setup: []func(context.Context, *iam.MemoryStore) error{line, func(ctx context.Context, s *iam.MemoryStore) error {
				return s.Grant(ctx, acRole(iam.User("u"), banned.Name, folder(2)))
			}},
			obj: doc, comment: want{false, true}, report: want{true, false},
		},
		{
			name: "anonymous, ancestry cut", maxDepth: 3, subject: acPlain(""),
			setup: []func(context.Context, *iam.MemoryStore) error{line}, obj: doc,
			comment: want{false, false}, report: want{false, false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { // contract 4b, 9, 14b
			store := iam.NewMemoryStore()
			for _, fn := range tc.setup {
				require.NoError(t, fn(ctx, store))
			}
			cs := acNewCheckers(t, pol, store, iam.Options{MaxDepth: tc.maxDepth})
			s := tc.subject
			if s == nil {
				s = acPlain("u")
			}
			for _, q := range []struct {
				perm string
				want want
			}{{acComment, tc.comment}, {report, tc.report}} {
				// Twice: after an unrelated write as well.
				for round := range 2 {
					err := cs.ask(t, 3, s, q.perm, tc.obj, q.want.allowed, fmt.Sprintf("%s round %d", q.perm, round))
					if q.want.tooDeep {
						require.ErrorIs(t, err, iam.ErrTooDeep, q.perm)
					} else {
						require.NoError(t, err, q.perm)
					}
					require.NoError(t, store.AddMember(ctx, "someone", fmt.Sprint("group", round)))
				}
			}
		})
	}
}

// TestCacheChecksAgreeAfterEveryWrite is a table of small scenarios whose
// decisions are compared field by field (cmp.Diff) between a cached and an
// uncached checker after each write: the cache changes no Decision either,
// since Check does not use it. contract 15.
func TestCacheChecksAgreeAfterEveryWrite(t *testing.T) {
	ctx := context.Background()
	f := acNewFixture()
	store := iam.NewMemoryStore()
	cs := acNewCheckers(t, f.policy, store, iam.Options{})
	u1 := iam.User("u1")
	doc1, f1 := acRef("doc", "1"), acRef("folder", "1")
	writes := []acWrite{
		{kind: acGrant, grant: acPerm(u1, acView, doc1)},
		{kind: acSetParents, ref: doc1, parents: []iam.Ref{f1}},
		{kind: acGrant, grant: acRole(u1, "doc.editor", f1)},
		{kind: acPutProfile, profile: iam.Profile{Holder: u1, Role: "doc.banned", Active: true}},
		{kind: acRevoke, grant: acPerm(u1, acView, doc1)},
		{kind: acDeleteGrantsOn, ref: f1},
		{kind: acDeleteProfile, holder: u1, role: "doc.banned"},
	}
	type answer struct {
		Perm            string
		Cached, Checked bool
	}
	obj := &acObj{ref: doc1, owner: "u2"}
	var history [][]answer
	for _, w := range writes {
		require.NoError(t, w.do(ctx, store), w.String())
		var got, want []answer
		for _, perm := range acPerms {
			d, err := cs.uncached.Check(ctx, acPlain("u1"), perm, obj)
			require.NoError(t, err, perm)
			want = append(want, answer{perm, d.Allowed, d.Allowed})
			for _, c := range cs.cached {
				for range 2 {
					cd, _ := c.Check(ctx, acPlain("u1"), perm, obj)
					got = append(got, answer{perm, c.HasPerm(ctx, acPlain("u1"), perm, obj), cd.Allowed})
				}
			}
		}
		var wantAll []answer
		for _, a := range want {
			for range 2 * len(cs.cached) {
				wantAll = append(wantAll, a)
			}
		}
		if diff := cmp.Diff(wantAll, got); diff != "" {
			t.Fatalf("after %s (-uncached +cached):\n%s", w, diff)
		}
		history = append(history, want)
	}
	// The scenario changes answers (so the comparison above discriminates).
	changed := 0
	for i := 1; i < len(history); i++ {
		if !cmp.Equal(history[i-1], history[i]) {
			changed++
		}
	}
	require.Greater(t, changed, 3)
}
