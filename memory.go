package iam

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unique"

	"github.com/iamgo/iam/internal/shard"
)

// MemoryStore is the in-memory Store, with every optional interface: for
// tests, for grants loaded at start-up, and the reference for other stores.
// It is safe for concurrent use. Reads take no lock (they load an immutable
// snapshot), so checks scale with cores; writes, Transact included, run one
// at a time and publish a new snapshot before they return (docs/contract.md
// line 15). The zero MemoryStore is not usable; call NewMemoryStore.
type MemoryStore struct {
	mu   sync.Mutex // serialises writes; readers never take it
	cur  atomic.Pointer[memState]
	seed maphash.Seed
}

type memState struct {
	gen   uint64 // the snapshot's number: each write publishes the next one
	of    *MemoryStore
	seed  maphash.Seed
	facts SnapshotFacts
	// localRoles: a role was ever granted (on an object, a type or
	// globally); while false, HasRole looks at profiles only.
	localRoles bool
	// expiring: a grant with an expiry was ever stored; while false, a
	// listing need not look at any grant's expiry.
	expiring bool

	users   shard.Map[string, *Holding]
	groups  shard.Map[string, *Holding]
	grants  shard.Map2[*GrantSet] // object grants, by type, then ID
	wide    map[string]*GrantSet  // type-level grants by type; global grants under ""
	parents shard.Map2[[]Ref]

	// ObjectLister's indexes, sorted so a listing merges and seeks: the
	// object IDs of each grant entry by type, and each parent's children.
	held     shard.Lists[heldKey, string]
	children shard.Lists[Ref, Ref]
	// heldNames is every (type, permission or role) an object grant was
	// ever stored under (a holder-less heldKey; never shrinks): a holder's
	// object grants are found by one index lookup under each, not by a scan.
	heldNames map[heldKey]struct{}
}

// heldKey names the objects of one type that one grant entry is on.
type heldKey struct {
	e   grantEntry
	typ unique.Handle[string]
}

var (
	_ Store             = (*MemoryStore)(nil)
	_ ParentStore       = (*MemoryStore)(nil)
	_ Transactor        = (*MemoryStore)(nil)
	_ RoleLister        = (*MemoryStore)(nil)
	_ HolderGrantLister = (*MemoryStore)(nil)
	_ ObjectLister      = (*MemoryStore)(nil)
	_ MemberLister      = (*MemoryStore)(nil)
	_ Snapshotter       = (*MemoryStore)(nil)
)

// Transact implements Transactor. Reads through tx see its writes, which all
// become visible at once if fn returns nil and ctx is not done, else none.
// tx must not be used after fn returns, and fn must write through tx: a
// write to the store inside fn waits for Transact, which waits for fn.
func (m *MemoryStore) Transact(ctx context.Context, fn func(ctx context.Context, tx Store) error) error {
	return m.update(ctx, func(tx *memTx) error { return fn(ctx, tx) })
}

// RoleProfiles implements RoleLister, scanning every principal: not for checks.
func (m *MemoryStore) RoleProfiles(_ context.Context, role string) ([]Profile, error) {
	st := m.cur.Load()
	return profilesOf(role, st.users.Range, st.groups.Range), nil
}

// GrantsHeldBy implements HolderGrantLister, sorted by Ref, then permission
// or role. It costs an index lookup per (type, permission or role) ever
// granted, not a scan of the grants.
func (m *MemoryStore) GrantsHeldBy(_ context.Context, holder Principal) ([]Grant, error) {
	st := m.cur.Load()
	held := func(k heldKey) []string { return st.held.Get(m.hashHeld(k), k) }
	var set func(Ref) *GrantSet
	if st.expiring {
		set = func(on Ref) *GrantSet { gs, _ := st.grants.Get(st.seed, on.Type, on.ID); return gs }
	}
	return grantsHeldBy(holder, st.heldNames, held, set, st.wide), nil
}

func profilesOf(role string, users, groups func(func(string, *Holding) bool)) []Profile {
	var out []Profile
	collect := func(_ string, h *Holding) bool {
		if p, ok := h.Profile(role); ok {
			out = append(out, p)
		}
		return true
	}
	users(collect)
	groups(collect)
	return out
}

// grantsHeldBy lists holder's grants from the index of object grants (held,
// under each of names) and the wide sets. The index gives the refs; set, the
// object's grant set, is read only for the expiries (nil when no grant ever
// had one).
func grantsHeldBy(holder Principal, names map[heldKey]struct{}, held func(heldKey) []string,
	set func(Ref) *GrantSet, wide map[string]*GrantSet) []Grant {
	var out []Grant
	add := func(on Ref, gs *GrantSet, i int) {
		g := gs.entries[i].grant(on)
		g.ExpiresAt = gs.expiresAt(i)
		out = append(out, g)
	}
	h := unique.Make(holder.ID)
	for k := range names {
		k.e.holder, k.e.kind = h, holder.Kind
		for _, id := range held(k) {
			on := Ref{Type: k.typ.Value(), ID: id}
			if set == nil {
				out = append(out, k.e.grant(on))
			} else if gs := set(on); gs != nil {
				if i := gs.index(k.e); i >= 0 {
					add(on, gs, i)
				}
			}
		}
	}
	for t, gs := range wide {
		for i, e := range gs.entries {
			if e.kind == holder.Kind && e.holder == h {
				add(StoredRef(t, ""), gs, i) // "" is the global set
			}
		}
	}
	slices.SortFunc(out, func(a, b Grant) int {
		return cmp.Or(compareRefs(a.On, b.On), cmp.Compare(a.Role, b.Role), cmp.Compare(a.Perm, b.Perm))
	})
	return out
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	m := &MemoryStore{seed: maphash.MakeSeed()}
	m.publish(&memState{})
	return m
}

func (m *MemoryStore) hash(s string) uint64 { return maphash.String(m.seed, s) }

func (m *MemoryStore) hashHeld(k heldKey) uint64 { return maphash.Comparable(m.seed, k) }

func (m *MemoryStore) hashRef(r Ref) uint64 {
	return maphash.String(m.seed, r.ID) ^ maphash.String(m.seed, r.Type)<<1
}

func compareRefs(a, b Ref) int { return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID)) }

// Holding implements ProfileStore.
func (m *MemoryStore) Holding(ctx context.Context, p Principal) (*Holding, error) {
	return m.cur.Load().Holding(ctx, p)
}

// Grants implements ObjectPermStore.
func (m *MemoryStore) Grants(ctx context.Context, on Ref) (*GrantSet, error) {
	return m.cur.Load().Grants(ctx, on)
}

// Parents implements ParentStore.
func (m *MemoryStore) Parents(ctx context.Context, ref Ref) ([]Ref, error) {
	return m.cur.Load().Parents(ctx, ref)
}

// Snapshot implements Snapshotter; it never fails.
func (m *MemoryStore) Snapshot(context.Context) (Snapshot, error) { return m.cur.Load(), nil }

// Token implements Tokener: the current snapshot's generation. Every write
// is visible to the next read, so a read never waits for a token.
func (m *MemoryStore) Token(context.Context) (Token, error) {
	return Token("mem:" + strconv.FormatUint(m.cur.Load().facts.Generation, 10)), nil
}

// A memState is its own Snapshot. Its reads never fail and ignore the
// context: they are map lookups in immutable data.

func (st *memState) Holding(_ context.Context, p Principal) (*Holding, error) {
	var h *Holding
	switch p.Kind {
	case KindUser:
		h, _ = st.users.Get(maphash.String(st.seed, p.ID), p.ID)
	case KindGroup:
		if st.groups.Len() == 0 { // no group holds a profile: no hashing
			return nil, nil
		}
		h, _ = st.groups.Get(maphash.String(st.seed, p.ID), p.ID)
	}
	return h, nil
}

func (st *memState) Grants(_ context.Context, on Ref) (*GrantSet, error) {
	switch {
	case !validRef(on.scope, on.Type, on.ID):
		return nil, nil // nothing is ever stored on an invalid Ref
	case on.ID == "":
		return st.wide[on.Type], nil
	}
	if in := st.grants.Of(on.Type); in != nil {
		s, _ := in.Get(maphash.String(st.seed, on.ID), on.ID)
		return s, nil
	}
	return nil, nil
}

func (st *memState) Parents(_ context.Context, ref Ref) ([]Ref, error) {
	if in := st.parents.Of(ref.Type); in != nil {
		ps, _ := in.Get(maphash.String(st.seed, ref.ID), ref.ID)
		return ps, nil
	}
	return nil, nil
}

func (st *memState) Facts() *SnapshotFacts { return &st.facts }

// publish makes st the store's current snapshot, with its facts.
func (m *MemoryStore) publish(st *memState) {
	st.of, st.seed = m, m.seed
	st.facts = SnapshotFacts{
		Store:        m,
		Generation:   st.gen + 1, // the empty store's is 0, which means none
		NoRoleGrants: !st.localRoles,
		NoWideGrants: len(st.wide) == 0,
		NoParents:    st.parents.Len() == 0,
	}
	m.cur.Store(st)
}

// memTx is the transaction of Transact: a Store over a draft of the next
// snapshot. It is used by one goroutine.
type memTx struct {
	m       *MemoryStore
	users   *shard.Batch[string, *Holding]
	groups  *shard.Batch[string, *Holding]
	grants  *shard.Batch2[*GrantSet]
	wide    map[string]*GrantSet
	wideNew bool // wide is this transaction's copy
	parents *shard.Batch2[[]Ref]

	held     *shard.ListsBatch[heldKey, string]
	children *shard.ListsBatch[Ref, Ref]
	// heldNames, copied before its first change (as wide).
	heldNames    map[heldKey]struct{}
	heldNamesNew bool

	localRoles bool
	expiring   bool
}

var (
	_ Store             = (*memTx)(nil)
	_ ParentStore       = (*memTx)(nil)
	_ RoleLister        = (*memTx)(nil)
	_ HolderGrantLister = (*memTx)(nil)
)

// The reads of a memTx see its own writes.

func (tx *memTx) Holding(_ context.Context, p Principal) (*Holding, error) {
	if !p.Valid() {
		return nil, nil
	}
	return tx.holding(p), nil
}

func (tx *memTx) Grants(_ context.Context, on Ref) (*GrantSet, error) {
	if !on.Valid() {
		return nil, nil
	}
	return tx.grantSet(on), nil
}

func (tx *memTx) Parents(_ context.Context, ref Ref) ([]Ref, error) {
	ps, _ := tx.parents.Get(ref.Type, ref.ID)
	return ps, nil
}

func (tx *memTx) RoleProfiles(_ context.Context, role string) ([]Profile, error) {
	return profilesOf(role, tx.users.Range, tx.groups.Range), nil
}

func (tx *memTx) GrantsHeldBy(_ context.Context, holder Principal) ([]Grant, error) {
	set := tx.grantSet
	if !tx.expiring {
		set = nil
	}
	return grantsHeldBy(holder, tx.heldNames, tx.held.Get, set, tx.wide), nil
}

// update runs fn with a transaction, publishing it if fn returns nil.
func (m *MemoryStore) update(ctx context.Context, fn func(tx *memTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.cur.Load()
	tx := &memTx{m: m, users: st.users.Edit(m.hash), groups: st.groups.Edit(m.hash),
		grants: st.grants.Edit(m.seed), wide: st.wide, parents: st.parents.Edit(m.seed),
		held: st.held.Edit(m.hashHeld, strings.Compare), children: st.children.Edit(m.hashRef, compareRefs),
		heldNames: st.heldNames, localRoles: st.localRoles, expiring: st.expiring}
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // cancelled while fn ran: keep nothing of it
	}
	m.publish(&memState{gen: st.gen + 1, localRoles: tx.localRoles, expiring: tx.expiring, users: tx.users.Commit(), groups: tx.groups.Commit(),
		grants: tx.grants.Commit(), wide: tx.wide, parents: tx.parents.Commit(),
		held: tx.held.Commit(), children: tx.children.Commit(), heldNames: tx.heldNames})
	return nil
}

// PutProfile implements ProfileStore.
func (m *MemoryStore) PutProfile(ctx context.Context, p Profile) error {
	return m.update(ctx, func(tx *memTx) error { return tx.PutProfile(ctx, p) })
}

// SetProfileActive implements ProfileStore.
func (m *MemoryStore) SetProfileActive(ctx context.Context, holder Principal, role string, active bool) error {
	return m.update(ctx, func(tx *memTx) error { return tx.SetProfileActive(ctx, holder, role, active) })
}

// DeleteProfile implements ProfileStore.
func (m *MemoryStore) DeleteProfile(ctx context.Context, holder Principal, role string) error {
	return m.update(ctx, func(tx *memTx) error { return tx.DeleteProfile(ctx, holder, role) })
}

// AddMember implements ProfileStore.
func (m *MemoryStore) AddMember(ctx context.Context, user, group string) error {
	return m.update(ctx, func(tx *memTx) error { return tx.AddMember(ctx, user, group) })
}

// RemoveMember implements ProfileStore.
func (m *MemoryStore) RemoveMember(ctx context.Context, user, group string) error {
	return m.update(ctx, func(tx *memTx) error { return tx.RemoveMember(ctx, user, group) })
}

// Grant implements ObjectPermStore.
func (m *MemoryStore) Grant(ctx context.Context, g Grant) error {
	return m.update(ctx, func(tx *memTx) error { return tx.Grant(ctx, g) })
}

// Revoke implements ObjectPermStore.
func (m *MemoryStore) Revoke(ctx context.Context, g Grant) error {
	return m.update(ctx, func(tx *memTx) error { return tx.Revoke(ctx, g) })
}

// DeleteGrantsOn implements ObjectPermStore.
func (m *MemoryStore) DeleteGrantsOn(ctx context.Context, on Ref) error {
	return m.update(ctx, func(tx *memTx) error { return tx.DeleteGrantsOn(ctx, on) })
}

// SetParents implements ParentStore.
func (m *MemoryStore) SetParents(ctx context.Context, ref Ref, parents []Ref) error {
	return m.update(ctx, func(tx *memTx) error { return tx.SetParents(ctx, ref, parents) })
}

// intern shares the bytes of recurring IDs and names.
func intern(s string) string { return unique.Make(s).Value() }

func (tx *memTx) holdings(p Principal) *shard.Batch[string, *Holding] {
	if p.Kind == KindGroup {
		return tx.groups
	}
	return tx.users
}

func (tx *memTx) holding(p Principal) *Holding {
	h, _ := tx.holdings(p).Get(p.ID)
	return h
}

func (tx *memTx) setHolding(p Principal, profiles []Profile, groups []string) {
	if len(profiles) == 0 && len(groups) == 0 {
		tx.holdings(p).Delete(p.ID)
		return
	}
	// NewHolding would copy again; the slices here are fresh.
	tx.holdings(p).Set(p.ID, &Holding{profiles: profiles, groups: groups})
}

func (tx *memTx) PutProfile(_ context.Context, p Profile) error {
	if !p.Holder.Valid() || p.Role == "" {
		return fmt.Errorf("%w: profile needs a valid holder and a role, got %s %q", ErrInvalid, p.Holder, p.Role)
	}
	p.Holder.ID = intern(p.Holder.ID)
	p.Role = intern(p.Role)
	p.Data = slices.Clone(p.Data)
	h := tx.holding(p.Holder)
	profiles := slices.Clone(h.Profiles())
	if i := slices.IndexFunc(profiles, func(x Profile) bool { return x.Role == p.Role }); i >= 0 {
		profiles[i] = p
	} else {
		profiles = append(profiles, p)
	}
	tx.setHolding(p.Holder, profiles, h.Groups())
	return nil
}

func (tx *memTx) SetProfileActive(_ context.Context, holder Principal, role string, active bool) error {
	h := tx.holding(holder)
	i := slices.IndexFunc(h.Profiles(), func(x Profile) bool { return x.Role == role })
	if i < 0 {
		return fmt.Errorf("%w: no profile of %s for role %q", ErrNotFound, holder, role)
	}
	profiles := slices.Clone(h.Profiles())
	profiles[i].Active = active
	tx.setHolding(holder, profiles, h.Groups())
	return nil
}

func (tx *memTx) DeleteProfile(_ context.Context, holder Principal, role string) error {
	h := tx.holding(holder)
	i := slices.IndexFunc(h.Profiles(), func(x Profile) bool { return x.Role == role })
	if i < 0 {
		return nil
	}
	tx.setHolding(holder, slices.Delete(slices.Clone(h.Profiles()), i, i+1), h.Groups())
	return nil
}

func (tx *memTx) AddMember(_ context.Context, user, group string) error {
	if user == "" || group == "" {
		return fmt.Errorf("%w: membership needs a user and a group", ErrInvalid)
	}
	u := User(intern(user))
	h := tx.holding(u)
	if slices.Contains(h.Groups(), group) {
		return nil
	}
	tx.setHolding(u, h.Profiles(), append(slices.Clip(h.Groups()), intern(group)))
	return nil
}

func (tx *memTx) RemoveMember(_ context.Context, user, group string) error {
	u := User(user)
	h := tx.holding(u)
	i := slices.Index(h.Groups(), group)
	if i < 0 {
		return nil
	}
	tx.setHolding(u, h.Profiles(), slices.Delete(slices.Clone(h.Groups()), i, i+1))
	return nil
}

func (tx *memTx) grantSet(on Ref) *GrantSet {
	if on.ID == "" {
		return tx.wide[on.Type]
	}
	s, _ := tx.grants.Get(on.Type, on.ID)
	return s
}

// setGrantSet stores s (nil: deletes) as the grants on on.
func (tx *memTx) setGrantSet(on Ref, s *GrantSet) {
	if on.ID != "" {
		if s == nil {
			tx.grants.Delete(on.Type, on.ID)
		} else {
			tx.grants.Set(on.Type, on.ID, s)
		}
		return
	}
	if !tx.wideNew {
		w := make(map[string]*GrantSet, len(tx.wide)+1)
		maps.Copy(w, tx.wide)
		tx.wide, tx.wideNew = w, true
	}
	if s == nil {
		delete(tx.wide, on.Type)
	} else {
		tx.wide[on.Type] = s
	}
}

func (tx *memTx) Grant(_ context.Context, g Grant) error {
	if !g.Valid() {
		return fmt.Errorf("%w: grant %s: %s", ErrInvalid, g, g.problem())
	}
	e, exp := entryOf(g), expNanos(g.ExpiresAt)
	on := g.On
	on.Type = intern(on.Type)
	s := tx.grantSet(on)
	tx.expiring = tx.expiring || exp != expNever
	if i := s.index(e); i >= 0 {
		if s.expiry(i) == exp {
			return nil
		}
		// The same grant with another expiry: replace the expiry (the
		// entries are shared, the old set is immutable).
		exps := make([]int64, len(s.entries))
		copy(exps, s.expiries())
		exps[i] = exp
		tx.setGrantSet(on, newGrantSet(s.entries, exps))
		return nil
	}
	entries := make([]grantEntry, 0, s.Len()+1)
	var exps []int64
	if s != nil {
		entries = append(entries, s.entries...)
		if s.expiries() != nil || exp != expNever {
			exps = make([]int64, len(s.entries), len(s.entries)+1)
			copy(exps, s.expiries())
		}
	}
	if exps != nil || exp != expNever {
		exps = append(exps, exp)
	}
	tx.setGrantSet(on, newGrantSet(append(entries, e), exps))
	tx.localRoles = tx.localRoles || e.role
	if on.ID != "" {
		k := heldKey{e, unique.Make(on.Type)}
		tx.held.Add(k, on.ID)
		k.e.holder, k.e.kind = unique.Handle[string]{}, 0
		if _, ok := tx.heldNames[k]; !ok {
			if !tx.heldNamesNew {
				names := make(map[heldKey]struct{}, len(tx.heldNames)+1)
				maps.Copy(names, tx.heldNames)
				tx.heldNames, tx.heldNamesNew = names, true
			}
			tx.heldNames[k] = struct{}{}
		}
	}
	return nil
}

func (tx *memTx) Revoke(_ context.Context, g Grant) error {
	if !g.Valid() {
		return fmt.Errorf("%w: grant %s: %s", ErrInvalid, g, g.problem())
	}
	e := entryOf(g)
	s := tx.grantSet(g.On)
	if s == nil {
		return nil
	}
	i := s.index(e)
	if i < 0 {
		return nil
	}
	if g.On.ID != "" {
		tx.held.Remove(heldKey{e, unique.Make(g.On.Type)}, g.On.ID)
	}
	if len(s.entries) == 1 {
		tx.setGrantSet(g.On, nil)
		return nil
	}
	var exps []int64
	if x := s.expiries(); x != nil {
		exps = slices.Delete(slices.Clone(x), i, i+1)
	}
	tx.setGrantSet(g.On, newGrantSet(slices.Delete(slices.Clone(s.entries), i, i+1), exps))
	return nil
}

func (tx *memTx) DeleteGrantsOn(_ context.Context, on Ref) error {
	if !on.Valid() {
		return fmt.Errorf("%w: ref %s", ErrInvalid, on)
	}
	if s := tx.grantSet(on); s != nil && on.ID != "" {
		typ := unique.Make(on.Type)
		for _, e := range s.entries {
			tx.held.Remove(heldKey{e, typ}, on.ID)
		}
	}
	tx.setGrantSet(on, nil)
	return nil
}

func (tx *memTx) SetParents(_ context.Context, ref Ref, parents []Ref) error {
	if !ref.IsObject() {
		return fmt.Errorf("%w: parents need an object ref, got %s", ErrInvalid, ref)
	}
	for _, p := range parents {
		if !p.IsObject() {
			return fmt.Errorf("%w: parent %s of %s must be an object ref", ErrInvalid, p, ref)
		}
	}
	old, _ := tx.parents.Get(ref.Type, ref.ID)
	for _, p := range old {
		tx.children.Remove(p, ref)
	}
	if len(parents) == 0 {
		tx.parents.Delete(ref.Type, ref.ID)
		return nil
	}
	ps := make([]Ref, 0, len(parents))
	child := ref
	child.Type = intern(child.Type)
	for _, p := range parents {
		if p != ref && !slices.Contains(ps, p) {
			p.Type = intern(p.Type)
			ps = append(ps, p)
			tx.children.Add(p, child)
		}
	}
	tx.parents.Set(child.Type, child.ID, ps)
	return nil
}
