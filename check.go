package iam

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/iamgo/iam/internal/answer"
)

// holdingMemo is a Holding compiled against one policy at one time.
type holdingMemo struct {
	pol   *policy
	roles bitset      // live global roles, Includes followed
	perms bitset      // permissions those roles grant
	live  []*roleInfo // the live roles held directly (for Decision.Role)
	// The memo is valid at time t iff !timed, or from <= t < until: a
	// profile expires at until (0: none will), and a clock set back before
	// from may revive an expired one.
	timed bool
	from  int64
	until int64
	data  []atomic.Pointer[profileDatum]
	// next is the Holding's memo for another Checker's policy (see
	// maxMemos).
	next *holdingMemo
}

// maxMemos bounds how many Checkers' compiled forms one Holding or
// GrantSet keeps, most recently compiled first. Several Checkers over one
// store (one per tenant, or a test's and the application's) each find
// their own instead of evicting each other's on every check; one Checker
// finds its own first.
const maxMemos = 4

// chainCopy returns copies of up to maxMemos-1 memos of head's chain
// that are not for pol, to follow a new memo for pol. A chain is immutable
// once published (readers walk it without a lock), so the survivors are
// copied rather than relinked.
func chainCopy[T any](head *T, pol *policy, polOf func(*T) *policy, next func(*T) **T) *T {
	var first *T
	tail := &first
	for m, n := head, 0; m != nil && n < maxMemos-1; m = *next(m) {
		if polOf(m) == pol {
			continue
		}
		cp := *m
		*next(&cp) = nil
		*tail = &cp
		tail = next(&cp)
		n++
	}
	return first
}

type profileDatum struct {
	v   any
	err error
}

func (m *holdingMemo) roleFor(perm int) string {
	for _, ri := range m.live {
		if ri.perms.has(perm) {
			return ri.name
		}
	}
	return ""
}

// memoOf returns h compiled for c's policy at time now, reusing the compiled
// form attached to h while it is valid.
func (c *Checker) memoOf(st *evalState, h *Holding) *holdingMemo {
	if h == nil {
		return c.pol.emptyHM
	}
	head := h.memo.Load()
	for m := head; m != nil; m = m.next {
		if m.pol == c.pol {
			if !m.timed || m.valid(st.nowNanos()) {
				return m
			}
			break
		}
	}
	m := c.compileHolding(h, st.nowNanos())
	m.next = chainCopy(head, c.pol, func(m *holdingMemo) *policy { return m.pol }, func(m *holdingMemo) **holdingMemo { return &m.next })
	h.memo.Store(m)
	return m
}

// The instants int64 nanoseconds since 1970 can hold (years 1678 to 2262);
// UnixNano is undefined outside them.
var (
	firstNano = time.Unix(0, math.MinInt64)
	lastNano  = time.Unix(0, math.MaxInt64)
)

func (m *holdingMemo) valid(now int64) bool {
	return now >= m.from && (m.until == 0 || now < m.until)
}

func (c *Checker) compileHolding(h *Holding, now int64) *holdingMemo {
	pol := c.pol
	m := &holdingMemo{pol: pol, roles: newBitset(len(pol.roleList)), perms: newBitset(len(pol.permList)), from: now}
	for _, p := range h.profiles {
		ri := pol.roles[p.Role]
		if ri == nil || !p.Active {
			continue
		}
		switch {
		case p.ExpiresAt.IsZero() || p.ExpiresAt.After(lastNano):
			// Never expires, or after 2262: beyond int64 nanoseconds.
		case p.ExpiresAt.Before(firstNano):
			continue // expired before 1678
		default:
			m.timed = true
			exp := p.ExpiresAt.UnixNano()
			if now >= exp {
				continue
			}
			if m.until == 0 || exp < m.until {
				m.until = exp
			}
		}
		m.roles.or(ri.roles)
		m.perms.or(ri.perms)
		m.live = append(m.live, ri)
	}
	if pol.dataSlots > 0 {
		m.data = make([]atomic.Pointer[profileDatum], pol.dataSlots)
	}
	return m
}

// grantMemo is a GrantSet compiled against one policy.
type grantMemo struct {
	exp     []int64 // only in the memo of a set with expiring grants (see GrantSet)
	pol     *policy
	holders []memoHolder
	index   map[Principal]int32 // for large sets
	next    *grantMemo          // for another Checker's policy (see maxMemos)
}

type memoHolder struct {
	p       Principal
	direct  bitset      // permissions granted directly
	viaRole bitset      // permissions granted through local roles
	roles   bitset      // local roles held, Includes followed
	local   []*roleInfo // local roles held directly
}

func (h *memoHolder) roleFor(perm int) string {
	for _, ri := range h.local {
		if ri.perms.has(perm) {
			return ri.name
		}
	}
	return ""
}

// linearHolders is the size of a GrantSet a check reads as it is, entry by
// entry; larger sets are compiled once (grantMemo) and looked up. Most
// objects carry a grant or a few, and a compiled form for each of them
// would cost more memory than the grants themselves.
const linearHolders = 8

func (m *grantMemo) find(p Principal) *memoHolder {
	if m.index != nil {
		if i, ok := m.index[p]; ok {
			return &m.holders[i]
		}
		return nil
	}
	for i := range m.holders {
		if m.holders[i].p == p {
			return &m.holders[i]
		}
	}
	return nil
}

// holdsOn reports what p holds on link l: perm granted directly, and the
// first of its local roles there that grants perm ("" if none).
func (st *evalState) holdsOn(l *link, p Principal, pi *permInfo) (direct bool, role string) {
	c := st.c
	if l.gm != nil {
		h := l.gm.find(p)
		if h == nil {
			return false, ""
		}
		if h.viaRole.has(pi.idx) {
			role = h.roleFor(pi.idx)
		}
		return h.direct.has(pi.idx), role
	}
	for i := range l.gs.entries {
		e := &l.gs.entries[i]
		if e.kind != p.Kind || e.holder.Value() != p.ID || !st.live(l.gs, i) {
			continue
		}
		d, ri := c.pol.gives(e, pi)
		direct = direct || d
		if role == "" && ri != nil {
			role = ri.name
		}
	}
	return direct, role
}

// live reports whether entry i of gs gives anything now; only a set with
// expiring grants reads the clock.
func (st *evalState) live(gs *GrantSet, i int) bool {
	return gs.expiries() == nil || gs.live(i, st.nowNanos())
}

// gives reports how grant entry e gives perm: directly, or through the
// local role it names (nil when neither).
func (p *policy) gives(e *grantEntry, pi *permInfo) (direct bool, via *roleInfo) {
	if !e.role {
		return e.name == pi.handle, nil
	}
	if ri := p.roleHandles[e.name]; ri != nil && ri.perms.has(pi.idx) {
		return false, ri
	}
	return false, nil
}

// ownGrant reports that the user holds perm on the object itself, directly
// or through a local role there: HasPerm's first look, which needs neither
// the user's profiles nor the object's ancestry. The grants it reads are
// kept for the chain.
func (st *evalState) ownGrant(pi *permInfo) (bool, error) {
	gs, err := st.grants(st.ref)
	if err != nil {
		return false, fmt.Errorf("iam: reading grants on %s: %w", st.ref.String(), err)
	}
	st.objGrants, st.objRead = gs, true
	if gs.expiries() != nil {
		st.timed = true
	}
	if gs.Len() == 0 || gs.Len() > linearHolders {
		return false, nil
	}
	for i := range gs.entries {
		e := &gs.entries[i]
		if e.kind == KindUser && e.holder.Value() == st.uid && st.live(gs, i) {
			if d, ri := st.c.pol.gives(e, pi); d || ri != nil {
				return true, nil
			}
		}
	}
	return false, nil
}

// grantedIn reports whether the subject or one of its groups holds perm in
// gs, directly or (rolesOK) through a local role.
func (st *evalState) grantedIn(gs *GrantSet, pi *permInfo, rolesOK bool) bool {
	for i := range gs.entries {
		e := &gs.entries[i]
		if d, ri := st.c.pol.gives(e, pi); !d && (!rolesOK || ri == nil) || !st.live(gs, i) {
			continue
		}
		switch e.kind {
		case KindUser:
			if e.holder.Value() == st.uid {
				return true
			}
		case KindGroup:
			if st.inGroup(e.holder.Value()) {
				return true
			}
		}
	}
	return false
}

// holdsRoleOn reports whether p holds ri on link l, through a local role
// that is or includes it.
func (st *evalState) holdsRoleOn(l *link, p Principal, ri *roleInfo) bool {
	if l.gm != nil {
		h := l.gm.find(p)
		return h != nil && h.roles.has(ri.idx)
	}
	for i := range l.gs.entries {
		e := &l.gs.entries[i]
		if e.role && e.kind == p.Kind && e.holder.Value() == p.ID && st.live(l.gs, i) {
			if held := st.c.pol.roleHandles[e.name]; held != nil && held.roles.has(ri.idx) {
				return true
			}
		}
	}
	return false
}

// grantMemoOf returns s compiled for c's policy: attached to s when s is
// large, so later checks find it, and made afresh for a small set (the
// administrative queries that want every holder).
func (c *Checker) grantMemoOf(s *GrantSet, now int64) *grantMemo {
	if s == nil || len(s.entries) == 0 {
		return nil
	}
	if len(s.entries) <= linearHolders || s.expiries() != nil {
		// A set with expiring grants is compiled for now, and never kept.
		return c.compileGrants(s, now)
	}
	head := s.memo.Load()
	for m := head; m != nil; m = m.next {
		if m.pol == c.pol {
			return m
		}
	}
	m := c.compileGrants(s, now)
	m.next = chainCopy(head, c.pol, func(m *grantMemo) *policy { return m.pol }, func(m *grantMemo) **grantMemo { return &m.next })
	s.memo.Store(m)
	return m
}

func (c *Checker) compileGrants(s *GrantSet, now int64) *grantMemo {
	pol := c.pol
	m := &grantMemo{pol: pol}
	pos := map[Principal]int{}
	for k, e := range s.entries {
		if !s.live(k, now) {
			continue
		}
		p := e.principal()
		i, ok := pos[p]
		if !ok {
			i = len(m.holders)
			pos[p] = i
			m.holders = append(m.holders, memoHolder{p: p,
				direct: newBitset(len(pol.permList)), viaRole: newBitset(len(pol.permList)), roles: newBitset(len(pol.roleList))})
		}
		h := &m.holders[i]
		if e.role {
			if ri := pol.roles[e.name.Value()]; ri != nil {
				h.viaRole.or(ri.perms)
				h.roles.or(ri.roles)
				h.local = append(h.local, ri)
			}
		} else if pi := pol.perms[e.name.Value()]; pi != nil {
			h.direct.set(pi.idx)
		}
	}
	if len(m.holders) > linearHolders {
		m.index = make(map[Principal]int32, len(m.holders))
		for i := range m.holders {
			m.index[m.holders[i].p] = int32(i)
		}
	}
	return m
}

type linkKind uint8

const (
	linkObject linkKind = iota
	linkAncestor
	linkType
	linkGlobal
)

// link is one ref of the chain. The links of the object and of its type
// keep no ref (they are made from evalState.ref: a pointer into evalState
// would move it to the heap); every other link points at a ref that
// outlives the check (the store's or the object's parents, the policy's
// type refs, globalRef).
type link struct {
	p     *Ref
	gs    *GrantSet  // nil: no grant on the ref
	gm    *grantMemo // gs compiled, when it is large
	kind  linkKind
	depth uint8
}

// globalRef is the ref of global grants.
var globalRef = GlobalScope()

// refOf returns the ref of link l.
func (st *evalState) refOf(l *link) Ref {
	switch {
	case l.p != nil:
		return *l.p
	case l.kind == linkObject:
		return st.ref
	}
	return TypeScope(st.ref.Type) // the object's type
}

const (
	maxGroupMemos = 4
	inlineChain   = 4
)

// query is a check's question, as begin reads it from the arguments.
type query struct {
	pi     *permInfo
	ref    Ref
	uid    string
	extra  []string // SubjectGroups()
	hasObj bool
	refuse bool // the object refuses global roles
	super  bool // an active superuser
	// ownParents: the object has a Parents method (its answers are never
	// cached, whatever it returns)
	ownParents bool
}

// evalState is the per-check state, in named parts. It lives on the
// caller's stack, and every check zeroes it: keep it small (the rare parts
// live in evalRare).
type evalState struct {
	query    // the question, as begin read it
	env      // who asks, and where
	reads    // the store's view and what was read from it
	chain    // the refs whose grants apply
	leafMemo // the rule's leaves run so far
	caching  // HasPerm's answer cache
	outcome  // the answer so far and why
}

// env is what a check runs with.
type env struct {
	c       *Checker
	ctx     context.Context
	s       Subject
	obj     Object
	now     int64
	haveNow bool
}

// reads is the check's view of the store (nil until the first read) and
// the subject's holdings read through it.
type reads struct {
	view    Snapshot
	facts   *SnapshotFacts
	hold    *Holding
	timed   bool // a profile with an expiry took part
	hm      *holdingMemo
	hmDone  bool
	gms     [maxGroupMemos]*holdingMemo
	gmsDone uint32 // bit i: gms[i] loaded
}

// chain lists the object, its ancestors, its type and the global scope,
// with their grants.
type chain struct {
	chainBuf  [inlineChain]link // the first links of the chain
	n         int               // links in the chain
	chainDone bool
	chainErr  error
	truncated bool // the ancestry was cut short
	// objGrants are the object's own grants, once read (objRead).
	objGrants *GrantSet
	objRead   bool
	rare      *evalRare
}

// leafMemo remembers the first 64 leaves of the rule (see recall).
type leafMemo struct {
	done, val, errm uint64
}

// caching is HasPerm's use of the answer cache: fill asks decide to keep
// the stored part's answer under key; skipStored says the cache answered
// "no" for it already; cached that the cache decided.
type caching struct {
	fill       bool
	skipStored bool
	cached     bool
	key        answer.Key
}

// outcome is the answer so far.
type outcome struct {
	allowed bool   // the answer so far
	why     ground // how it was reached (not in quick mode)
	all     *[]Decision
	quick   bool // HasPerm: only the answer is wanted
}

// evalRare is the part of evalState that long ancestries and rules with
// errors or more than 64 leaves need. It is allocated once, with room for a
// few more links and a leaf error. (Keeping these fields in evalState
// instead costs every check the zeroing: +5-7% on Check/rule and
// object_grant_1k_uncached, measured.)
type evalRare struct {
	more []link           // the chain past chainBuf
	seen map[Ref]struct{} // the chain's refs, once it is long
	big  []uint8          // leaf memo past the first 64 leaves: 0 unknown, or leafFalse, leafTrue, leafErr
	errs []failedLeaf

	moreBuf [4]link
	errsBuf [1]failedLeaf
}

func (st *evalState) rareOf() *evalRare {
	if st.rare == nil {
		r := new(evalRare)
		r.more, r.errs = r.moreBuf[:0], r.errsBuf[:0]
		st.rare = r
	}
	return st.rare
}

type failedLeaf struct {
	i   int
	err error
}

// ground is how a check was decided, in a few words: the Decision itself
// is only built when asked for (Check, Explain), from the ground and the
// check's state, so HasPerm never builds one and evalState stays small.
type ground struct {
	reason Reason
	role   string
	who    int32 // 0: none; 1: the user; 2+i: its i-th group
	on     int32 // 0: none; 1+i: the i-th link of the chain
	rule   bool  // the permission's rule decided
}

// Values of ground.who.
const (
	whoUser   = 1
	whoGroup0 = 2
)

// decision builds the Decision of ground g for perm.
func (st *evalState) decision(perm string, allowed bool, g ground) Decision {
	d := Decision{Allowed: allowed, Perm: perm, Reason: g.reason, Role: g.role}
	if g.who > 0 {
		d.Via = st.principal(int(g.who) - whoGroup0)
	}
	switch {
	case g.on > 0:
		d.On = st.refOf(st.link(int(g.on) - 1))
	case g.reason == ReasonGlobalRole:
		d.On = globalRef // held through a profile: everywhere
	}
	if g.rule {
		r := st.pi.rule
		d.Rule, d.rule, d.done, d.val, d.errm = r.expr, r, st.done, st.val, st.errm
	}
	return d
}

// quickAllow marks the check allowed and reports true when only the answer
// is wanted; the caller then skips recording the ground.
func (st *evalState) quickAllow() bool {
	if st.quick {
		st.allowed = true
	}
	return st.quick
}

// record notes an allowing ground (not in quick mode). It reports whether
// the check can stop (always, unless Explain is collecting every ground).
func (st *evalState) record(g ground) bool {
	if !st.allowed {
		st.allowed, st.why = true, g
	}
	if st.all == nil {
		return true
	}
	*st.all = append(*st.all, st.decision(st.pi.name, true, g))
	return false
}

// recordRoles records g once for each of roles that grants the check's
// permission, in order: the first decides, and Explain lists every one.
// It reports whether the check can stop.
func (st *evalState) recordRoles(roles []*roleInfo, g ground) bool {
	for _, ri := range roles {
		if ri.perms.has(st.pi.idx) {
			g.role = ri.name
			if st.record(g) {
				return true
			}
		}
	}
	return false
}

// localRoles returns the local roles p holds directly on link l, live and
// known to the policy, in the order holdsOn meets them.
func (st *evalState) localRoles(l *link, p Principal) []*roleInfo {
	if l.gm != nil {
		if h := l.gm.find(p); h != nil {
			return h.local
		}
		return nil
	}
	var out []*roleInfo
	for i := range l.gs.entries {
		e := &l.gs.entries[i]
		if e.role && e.kind == p.Kind && e.holder.Value() == p.ID && st.live(l.gs, i) {
			if ri := st.c.pol.roleHandles[e.name]; ri != nil {
				out = append(out, ri)
			}
		}
	}
	return out
}

// inactive makes the decision a denial of an inactive (or nil) subject.
func (st *evalState) inactive() { st.why.reason = ReasonInactive }

// fail makes the decision a denial that could not be decided, and returns err.
func (st *evalState) fail(err error) error {
	st.allowed, st.why = false, ground{reason: ReasonError}
	return err
}

func (st *evalState) nowNanos() int64 {
	if !st.haveNow {
		st.now = st.c.now().UnixNano()
		st.haveNow = true
	}
	return st.now
}

func (st *evalState) userMemo() (*holdingMemo, error) {
	if st.hmDone {
		return st.hm, nil
	}
	h, err := st.holding(User(st.uid))
	if err != nil {
		return nil, fmt.Errorf("iam: reading profiles of %s: %w", User(st.uid), err)
	}
	st.hold, st.hm, st.hmDone = h, st.c.memoOf(st, h), true
	st.timed = st.timed || st.hm.timed
	return st.hm, nil
}

func (st *evalState) ngroups() int { return len(st.hold.Groups()) + len(st.extra) }

func (st *evalState) group(i int) string {
	if g := st.hold.Groups(); i < len(g) {
		return g[i]
	}
	return st.extra[i-len(st.hold.Groups())]
}

// principal returns the user (j < 0) or its j-th group.
func (st *evalState) principal(j int) Principal {
	if j < 0 {
		return User(st.uid)
	}
	return Group(st.group(j))
}

func (st *evalState) groupMemo(i int) (*holdingMemo, string, error) {
	g := st.group(i)
	if i < maxGroupMemos && st.gmsDone&(1<<i) != 0 {
		return st.gms[i], g, nil
	}
	h, err := st.holding(Group(g))
	if err != nil {
		return nil, g, fmt.Errorf("iam: reading profiles of %s: %w", Group(g), err)
	}
	m := st.c.memoOf(st, h)
	st.timed = st.timed || m.timed
	if i < maxGroupMemos {
		st.gms[i] = m
		st.gmsDone |= 1 << i
	}
	return m, g, nil
}

func (st *evalState) inGroup(g string) bool {
	for _, x := range st.hold.Groups() {
		if x == g {
			return true
		}
	}
	for _, x := range st.extra {
		if x == g {
			return true
		}
	}
	return false
}

// The store reads of a check, all through one Snapshot: the store's own,
// or the store itself when it offers none.

// open takes the check's snapshot, once.
func (st *evalState) open() error {
	if st.view != nil {
		return nil
	}
	c := st.c
	if c.snaps != nil {
		v, err := c.snaps.Snapshot(st.ctx)
		if err != nil {
			return fmt.Errorf("iam: reading the store: %w", err)
		}
		if v != nil {
			if f := v.Facts(); f != nil && c.trusts(f.Store) {
				st.view, st.facts = v, f
				return nil
			}
		}
	}
	// Not a Snapshotter, or its view is of another store (or nil): the
	// store's own methods.
	st.view, st.facts = c.view, &noFacts
	return nil
}

func (st *evalState) holding(p Principal) (*Holding, error) {
	if err := st.open(); err != nil {
		return nil, err
	}
	return st.view.Holding(st.ctx, p)
}

func (st *evalState) grants(on Ref) (*GrantSet, error) {
	if err := st.open(); err != nil {
		return nil, err
	}
	return st.view.Grants(st.ctx, on)
}

// parents returns the stored parents of ref (none when the store records
// none).
func (st *evalState) parents(ref Ref) ([]Ref, error) {
	if err := st.open(); err != nil {
		return nil, err
	}
	if st.facts.NoParents {
		return nil, nil
	}
	return st.view.Parents(st.ctx, ref)
}

// inChain reports whether ref is in the chain already.
func (st *evalState) inChain(ref Ref) bool {
	if st.rare != nil && st.rare.seen != nil {
		_, ok := st.rare.seen[ref]
		return ok
	}
	for i := range st.n {
		if st.refOf(st.link(i)) == ref {
			return true
		}
	}
	if st.n >= linearChain {
		// A wide ancestry: look refs up in a set from now on, so a check
		// stays linear in the refs it visits.
		seen := make(map[Ref]struct{}, 2*st.n)
		for i := range st.n {
			seen[st.refOf(st.link(i))] = struct{}{}
		}
		st.rareOf().seen = seen
	}
	return false
}

// linearChain is the chain length past which inChain uses a set.
const linearChain = 64

// add appends a link without looking for its ref in the chain: callers
// know it is not there (the object's type and GlobalScope() cannot equal an object
// ref, nor each other; ancestors are looked up first). p is the link's ref
// (nil for the object's own link). It reports false when the chain is full.
func (st *evalState) add(p *Ref, kind linkKind, depth uint8) bool {
	if st.n < inlineChain {
		st.chainBuf[st.n] = link{p: p, kind: kind, depth: depth}
		st.n++
		return true
	}
	return st.addMore(link{p: p, kind: kind, depth: depth})
}

// addMore is add past chainBuf.
func (st *evalState) addMore(l link) bool {
	if st.n == maxChain {
		return false
	}
	r := st.rareOf()
	r.more = append(r.more, l)
	if r.seen != nil {
		r.seen[st.refOf(&l)] = struct{}{}
	}
	st.n++
	return true
}

// link returns the i-th link of the chain. (The chain is not a slice over
// chainBuf: a pointer into itself would move evalState to the heap.)
func (st *evalState) link(i int) *link {
	if i < inlineChain {
		return &st.chainBuf[i]
	}
	return &st.rare.more[i-inlineChain]
}

// ensureChain lists the refs whose grants apply (the object, its ancestors,
// its type or the permission's types, global) and loads their grant sets.
func (st *evalState) ensureChain() error {
	if st.chainDone {
		return st.chainErr
	}
	st.chainDone = true
	st.chainErr = st.buildChain()
	return st.chainErr
}

func (st *evalState) buildChain() error {
	c := st.c
	// Room kept for the type and global refs.
	reserve := 2
	if !st.hasObj {
		reserve = len(st.pi.typeRefs) + 1
	}
	if st.hasObj {
		st.add(nil, linkObject, 0)
		for head := 0; head < st.n; head++ {
			// Not a pointer: addParents may move the links past chainBuf.
			ref, depth := st.refOf(st.link(head)), st.link(head).depth
			if head == 0 {
				if p, ok := st.obj.(parenter); ok {
					if !st.addParents(p.Parents(), depth, reserve) {
						break
					}
				}
			}
			sp, err := st.parents(ref)
			if err != nil {
				return fmt.Errorf("iam: reading parents of %s: %w", ref.String(), err)
			}
			if !st.addParents(sp, depth, reserve) {
				break
			}
		}
	}
	// The type and global links, unless the store holds no type or global
	// grant at all (their room is kept all the same, so a chain is cut
	// short at the same place on every store).
	if err := st.open(); err != nil {
		return err
	}
	if !st.facts.NoWideGrants {
		if st.hasObj {
			st.add(nil, linkType, 0)
		} else {
			for i := range st.pi.typeRefs {
				st.add(&st.pi.typeRefs[i], linkType, 0)
			}
		}
		st.add(&globalRef, linkGlobal, 0)
	}
	for i := range st.n {
		l := st.link(i)
		gs, err := st.grants(st.refOf(l))
		if i == 0 && st.objRead {
			gs, err = st.objGrants, nil // read by ownGrant already
		}
		if err != nil {
			return fmt.Errorf("iam: reading grants on %s: %w", st.refOf(l).String(), err)
		}
		if gs.Len() == 0 {
			continue
		}
		l.gs = gs
		// A set with expiring grants is read entry by entry at the check's
		// time, and no answer that read it is kept.
		if gs.expiries() != nil {
			st.timed = true
		} else if gs.Len() > linearHolders {
			l.gm = c.grantMemoOf(gs, 0)
		}
	}
	return nil
}

// addParents queues the parents of a ref at depth d. It reports false (and
// marks the check truncated) when the depth or the chain's room is exceeded.
func (st *evalState) addParents(ps []Ref, d uint8, reserve int) bool {
	for i := range ps {
		p := &ps[i]
		if !p.IsObject() || st.inChain(*p) { // a ref seen already costs no room
			continue
		}
		if int(d)+1 > st.c.maxDepth || st.n+reserve >= maxChain {
			st.truncated = true
			return false
		}
		st.add(p, linkAncestor, d+1)
	}
	return true
}

// hasRole implements HasRole (docs/contract.md line 14b).
func (st *evalState) hasRole(ri *roleInfo) (bool, error) {
	if st.uid == "" {
		return false, nil
	}
	if _, err := st.userMemo(); err != nil {
		return false, err
	}
	if !st.refuse && st.hm.roles.has(ri.idx) {
		return true, nil
	}
	if !st.refuse {
		for i := range st.ngroups() {
			gm, _, err := st.groupMemo(i)
			if err != nil {
				return false, err
			}
			if gm.roles.has(ri.idx) {
				return true, nil
			}
		}
	}
	if !st.chainDone && st.facts.NoRoleGrants && st.noAncestry() {
		// No role was ever granted on anything, and the object has no
		// ancestry that could be cut short (which is ErrTooDeep on every
		// store): the chain holds no role, and building it is work a rule
		// after a cached "no" would pay on every check.
		return false, nil
	}
	if err := st.ensureChain(); err != nil {
		return false, err
	}
	for i := range st.n {
		l := st.link(i)
		if l.gs == nil || (l.kind > linkAncestor && st.refuse) {
			continue
		}
		for j := -1; j < st.ngroups(); j++ {
			if st.holdsRoleOn(l, st.principal(j), ri) {
				return true, nil
			}
		}
	}
	if st.truncated {
		// The role may be held above the cut: "no" would let Not(HasRole)
		// allow on part of the ancestry.
		return false, st.tooDeep()
	}
	return false, nil
}

// noAncestry reports that the check's object has no parents to follow:
// none of its own, none recorded (the snapshot is open: userMemo read it).
func (st *evalState) noAncestry() bool {
	if !st.hasObj {
		return true
	}
	if st.ownParents {
		return false
	}
	ps, err := st.parents(st.ref)
	return err == nil && len(ps) == 0
}

// tooDeep is the error of a check whose ancestry was cut short.
func (st *evalState) tooDeep() error {
	return fmt.Errorf("%w: more than %d levels or %d refs above %s", ErrTooDeep, st.c.maxDepth, maxChain, st.ref.String())
}

func (st *evalState) eval(n *cnode) (bool, error) {
	switch n.op {
	case opAnd, opOr:
		// And stops at the first false, Or at the first true (contract 8);
		// an error decides only when no branch did (contract 9).
		decisive := n.op == opOr
		var firstErr error
		for _, k := range n.kids {
			var v bool
			var err error
			if k.op < opAnd { // a leaf: one call less on every rule
				v, err = st.leafValue(k)
			} else {
				v, err = st.eval(k)
			}
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if v == decisive {
				return decisive, nil
			}
		}
		if firstErr != nil {
			return false, firstErr
		}
		return !decisive, nil
	case opXor:
		var firstErr error
		odd := false
		for _, k := range n.kids {
			v, err := st.eval(k)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			odd = odd != v
		}
		if firstErr != nil {
			return false, firstErr
		}
		return odd, nil
	case opNot:
		v, err := st.eval(n.kids[0])
		if err != nil {
			return false, err
		}
		return !v, nil
	}
	return st.leafValue(n)
}

// leafValue runs a leaf, at most once per check (docs/contract.md line
// 12): later occurrences recall its value or its error.
func (st *evalState) leafValue(n *cnode) (bool, error) {
	// The first 64 leaves' memo is read and written here rather than
	// through recall and remember: they are every leaf of nearly every
	// rule, and the calls cost more than the bit tests.
	if n.leaf >= 64 {
		if known, v, err := st.recall(n.leaf); known {
			return v, err
		}
	} else if bit := uint64(1) << n.leaf; st.done&bit != 0 {
		if st.errm&bit != 0 {
			return false, st.leafError(n.leaf)
		}
		return st.val&bit != 0, nil
	}
	v, err := st.runLeaf(n)
	if n.leaf < 64 && err == nil {
		bit := uint64(1) << n.leaf
		st.done |= bit
		if v {
			st.val |= bit
		}
		return v, nil
	}
	st.remember(n.leaf, v, err)
	return v, err
}

// The leaf memo: the first 64 leaves of the rule in three bit masks (which
// a Decision keeps for Leaves), the rest one byte each, in evalRare.
const (
	leafFalse = 1 + iota
	leafTrue
	leafErr
)

func (st *evalState) recall(i int) (known, v bool, err error) {
	var m uint8
	if i < 64 {
		bit := uint64(1) << i
		switch {
		case st.done&bit == 0:
		case st.errm&bit != 0:
			m = leafErr
		case st.val&bit != 0:
			m = leafTrue
		default:
			m = leafFalse
		}
	} else if st.rare != nil && i-64 < len(st.rare.big) {
		m = st.rare.big[i-64]
	}
	switch m {
	case 0:
		return false, false, nil
	case leafErr:
		return true, false, st.leafError(i)
	}
	return true, m == leafTrue, nil
}

func (st *evalState) remember(i int, v bool, err error) {
	m := uint8(leafFalse)
	switch {
	case err != nil:
		m = leafErr
		r := st.rareOf()
		r.errs = append(r.errs, failedLeaf{i, err})
	case v:
		m = leafTrue
	}
	if i >= 64 {
		r := st.rareOf()
		if r.big == nil {
			r.big = make([]uint8, len(st.pi.rule.leaves)-64)
		}
		r.big[i-64] = m
		return
	}
	bit := uint64(1) << i
	st.done |= bit
	switch m {
	case leafErr:
		st.errm |= bit
	case leafTrue:
		st.val |= bit
	}
}

func (st *evalState) leafError(i int) error {
	for _, e := range st.rare.errs {
		if e.i == i {
			return e.err
		}
	}
	return errors.New("iam: leaf error lost")
}

func (st *evalState) runLeaf(n *cnode) (bool, error) {
	switch n.op {
	case opLeaf:
		return n.src.fn(st.ctx, st.s, st.obj)
	case opProfile:
		return st.profileLeaf(n)
	case opAlways:
		return true, nil
	case opNever:
		return false, nil
	case opAuthenticated:
		return st.uid != "", nil
	case opSuperuser:
		return st.super, nil
	case opActive:
		return true, nil // inactive subjects never reach a rule
	case opInGroup:
		if st.uid != "" {
			if _, err := st.userMemo(); err != nil {
				return false, err
			}
		}
		for _, g := range n.src.groups {
			if !st.inGroup(g) {
				return false, nil
			}
		}
		return true, nil
	case opHasRole:
		if st.hmDone && !st.refuse && st.hm.roles.has(n.role.idx) {
			return true, nil // held globally: hasRole's first answer, without the call
		}
		return st.hasRole(n.role)
	}
	return false, fmt.Errorf("%w: invalid predicate node", ErrInvalidPolicy)
}

func (st *evalState) profileLeaf(n *cnode) (bool, error) {
	// The arguments' types first, as Pred's: a subject of the wrong type
	// is an error whether or not it holds the profile.
	if err := n.src.args(st.s, st.obj); err != nil {
		return false, err
	}
	if st.uid == "" {
		return false, nil
	}
	hm, err := st.userMemo()
	if err != nil {
		return false, err
	}
	p, ok := st.hold.Profile(n.role.name)
	if !ok || !p.Live(time.Unix(0, st.nowNanos())) {
		return false, nil
	}
	slot := &hm.data[n.slot]
	d := slot.Load()
	if d == nil {
		v, err := n.src.decode(p)
		d = &profileDatum{v: v, err: err}
		slot.Store(d)
	}
	if d.err != nil {
		return false, d.err
	}
	return n.src.pfn(st.ctx, st.s, st.obj, d.v)
}

// permSlots is the number of slots of the policy's permission-name table.
const permSlots = 256

// permSlot picks a name's slot from its length and three of its bytes: no
// hash call. The slot's own name is compared in full, so two names that
// share a slot are never confused.
func permSlot(perm string) uint {
	n := len(perm)
	return (uint(n)*131 ^ uint(perm[0])*31 ^ uint(perm[n/2])*7 ^ uint(perm[n-1])) % permSlots
}

// permInfo finds perm's compiled declaration (nil: not declared). Callers
// pass the same few names again and again; the table, filled when the
// policy is compiled and never written after, costs less than the map's
// hash. A name that shares its slot with another goes to the map.
func (c *Checker) permInfo(perm string) *permInfo {
	if len(perm) == 0 {
		return nil
	}
	if pi := c.pol.permTable[permSlot(perm)]; pi != nil && pi.name == perm {
		return pi
	}
	return c.pol.perms[perm]
}
