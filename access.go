package iam

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// ObjectQuery asks an ObjectLister for the objects of Type on which one of
// Holders holds one of Perms as a grant or one of Roles as a local role, on
// the object or a stored ancestor (ParentStore) at most MaxDepth levels up;
// a grant on another type counts only through stored parents (a section's
// reaches the posts below it). The Checker builds it (Checker.AccessPlan)
// with Holders and Perms never empty, and reads type-level and global
// grants itself (they make the answer "every object of the type").
type ObjectQuery struct {
	Type     string
	Holders  []Principal
	Perms    []string // permission grants that count
	Roles    []string // local-role grants that count (roles granting the permission)
	MaxDepth int      // levels of stored ancestors to follow (0: the object only)
	After    string   // only IDs greater than After, in byte order ("" = from the start)
	Limit    int      // at most Limit IDs; 0 = no limit
	// At is when the grants must be live (Grant.ExpiresAt): expired grants
	// list nothing. AccessPlan sets it to the Checker's clock; zero means
	// any grant counts.
	At time.Time
}

// ListOptions pages through ListObjects. The zero value lists every ID.
type ListOptions struct {
	// After is the cursor, the previous page's ObjectList.Next: only IDs
	// greater than After (byte order) are returned.
	After string
	// Limit caps the IDs returned; 0 or less means no limit.
	Limit int
}

// ObjectList is the answer of ListObjects.
type ObjectList struct {
	// All reports that the subject holds the permission on every object of
	// the type, for the reason in Why; IDs is then empty. With
	// ReasonGlobalRole, objects refusing global roles are an exception the
	// store cannot see: an application with such objects uses Filter.
	All bool
	Why Decision
	// IDs are the objects on which a stored grant or local role (on the
	// object or a stored ancestor) gives the permission, ascending.
	IDs []string
	// Next is non-empty when more IDs follow: pass it as ListOptions.After.
	Next string
	// Partial reports that the permission has a rule (Rule): it cannot be
	// enumerated, so objects outside IDs may be allowed too; find them with
	// Filter or the rule in the application's own query.
	Partial bool
	Rule    string
}

// AccessPlan is a subject's access to the objects of one type before any
// IDs are read: the answer (All or Empty) or the Query to run.
// iamsql.AccessFilter turns it into an SQL clause.
type AccessPlan struct {
	All     bool     // as ObjectList.All
	Why     Decision // as ObjectList.Why
	Partial bool     // as ObjectList.Partial
	Rule    string   // as ObjectList.Rule
	// Query is what to ask the store, unless All or Empty.
	Query ObjectQuery
	// Empty reports that no stored grant can give the permission (the
	// subject is nil, inactive or anonymous); only a Partial rule can allow.
	Empty bool
}

// AccessPlan works out how s may hold perm on objects of objType: everywhere
// (All), by object grants (Query), by a rule (Partial) or not at all.
// Errors: ErrUnknownPermission, ErrWrongType for a type perm is not declared
// for, ErrInvalid for an empty type, and store errors (then deny).
func (c *Checker) AccessPlan(ctx context.Context, s Subject, perm, objType string) (plan AccessPlan, err error) {
	defer func() {
		if r := recover(); r != nil {
			plan, err = AccessPlan{}, panicked(fmt.Sprintf("planning %s on %s", perm, objType), r)
		}
	}()
	if err := ctx.Err(); err != nil {
		return AccessPlan{}, fmt.Errorf("iam: listing %s: %w", perm, err)
	}
	pi := c.pol.perms[perm]
	if pi == nil {
		return AccessPlan{}, fmt.Errorf("%w: %q", ErrUnknownPermission, perm)
	}
	if objType == "" {
		return AccessPlan{}, fmt.Errorf("%w: empty object type", ErrInvalid)
	}
	if len(pi.types) > 0 && !slices.Contains(pi.types, objType) {
		return AccessPlan{}, fmt.Errorf("%w: %s is declared for %v, not %q", ErrWrongType, perm, pi.types, objType)
	}
	plan.Empty = true
	if pi.rule != nil {
		plan.Partial, plan.Rule = true, pi.rule.expr
	}
	if s == nil {
		return plan, nil
	}
	if err := nilInput("listing", perm, s, nil); err != nil {
		return AccessPlan{}, err
	}
	if a, ok := s.(activer); ok && !a.IsActive() {
		plan.Partial, plan.Rule = false, "" // inactive subjects hold nothing, rules included
		return plan, nil
	}
	all := func(d Decision) (AccessPlan, error) {
		d.Allowed, d.Perm = true, perm
		return AccessPlan{All: true, Why: d}, nil
	}
	if isSuperuser(s) {
		return all(Decision{Reason: ReasonSuperuser})
	}
	st := evalState{env: env{c: c, ctx: ctx, s: s}, query: query{pi: pi, uid: s.SubjectID()}}
	if st.uid == "" {
		return plan, nil
	}
	if g, ok := s.(grouper); ok {
		st.extra = g.SubjectGroups()
	}
	hm, err := st.userMemo()
	if err != nil {
		return AccessPlan{}, err
	}
	holders := make([]Principal, 0, 1+st.ngroups())
	holders = append(holders, User(st.uid))
	if hm.perms.has(pi.idx) {
		return all(Decision{Reason: ReasonGlobalRole, Role: hm.roleFor(pi.idx), Via: User(st.uid), On: GlobalScope()})
	}
	for i := range st.ngroups() {
		gm, g, err := st.groupMemo(i)
		if err != nil {
			return AccessPlan{}, err
		}
		if gm.perms.has(pi.idx) {
			return all(Decision{Reason: ReasonGlobalRole, Role: gm.roleFor(pi.idx), Via: Group(g), On: GlobalScope()})
		}
		if !slices.Contains(holders, Group(g)) {
			holders = append(holders, Group(g))
		}
	}
	for _, on := range []Ref{TypeScope(objType), GlobalScope()} {
		gs, err := st.grants(on)
		if err != nil {
			return AccessPlan{}, fmt.Errorf("iam: reading grants on %s: %w", on.String(), err)
		}
		gm := c.grantMemoOf(gs, st.nowNanos())
		if gm == nil {
			continue
		}
		for _, who := range holders {
			h := gm.find(who)
			switch {
			case h == nil:
			case h.direct.has(pi.idx):
				return all(Decision{Reason: ReasonGrant, Via: who, On: on})
			case h.viaRole.has(pi.idx):
				return all(Decision{Reason: ReasonGlobalRole, Role: h.roleFor(pi.idx), Via: who, On: on})
			}
		}
	}
	roles := c.rolesGranting(pi)
	plan.Empty = false
	plan.Query = ObjectQuery{Type: objType, Holders: holders, Perms: []string{perm}, Roles: roles, MaxDepth: c.maxDepth, At: c.now()}
	return plan, nil
}

// rolesGranting names the roles granting pi, Includes followed.
func (c *Checker) rolesGranting(pi *permInfo) []string {
	var out []string
	for _, ri := range c.pol.roleList {
		if ri.perms.has(pi.idx) {
			out = append(out, ri.name)
		}
	}
	return out
}

// ListObjects lists the objects of objType on which s holds perm (guardian's
// get_objects_for_user; docs/contract.md lines 4 and 7d): all
// (ObjectList.All), or the IDs on which s or one of its groups holds perm by a grant or local role, on the
// object or a stored ancestor (ParentStore; an object's own Parents cannot
// be followed here). A rule makes the list Partial. A nil, inactive or
// anonymous subject gets no IDs (Partial when a rule may still allow
// anonymous access). The store must implement ObjectLister (MemoryStore and
// iamsql do), else the error wraps ErrNotListable. On any error, show nothing.
func (c *Checker) ListObjects(ctx context.Context, s Subject, perm, objType string, o ListOptions) (list ObjectList, err error) {
	defer func() {
		if r := recover(); r != nil { // a store's ListObjectIDs panicked
			list, err = ObjectList{}, panicked(fmt.Sprintf("listing %s objects for %s", objType, perm), r)
		}
	}()
	plan, err := c.AccessPlan(ctx, s, perm, objType)
	if err != nil {
		return ObjectList{}, err
	}
	out := ObjectList{All: plan.All, Why: plan.Why, Partial: plan.Partial, Rule: plan.Rule}
	if plan.All || plan.Empty {
		return out, nil
	}
	ol, ok := c.store.(ObjectLister)
	if !ok {
		return ObjectList{}, fmt.Errorf("%w: ListObjects needs an ObjectLister", ErrNotListable)
	}
	q := plan.Query
	q.After = o.After
	if o.Limit > 0 {
		q.Limit = o.Limit + 1 // one more tells whether a next page exists
	}
	ids, err := ol.ListObjectIDs(ctx, q)
	if err != nil {
		return ObjectList{}, fmt.Errorf("iam: listing %s objects for %s: %w", objType, perm, err)
	}
	if err := ctx.Err(); err != nil {
		return ObjectList{}, fmt.Errorf("iam: listing %s objects for %s: %w", objType, perm, err)
	}
	if o.Limit > 0 && len(ids) > o.Limit {
		ids = ids[:o.Limit]
		out.Next = ids[len(ids)-1]
	}
	out.IDs = ids
	return out, nil
}

// Filter returns, in order, the objs on which s holds perm, checking each
// (rules included), to complete a Partial ObjectList. On any check error it
// returns nil and the error, so no unchecked object is shown.
func Filter[O Object](ctx context.Context, c *Checker, s Subject, perm string, objs []O) ([]O, error) {
	out := make([]O, 0, len(objs))
	for _, o := range objs {
		d, err := c.Check(ctx, s, perm, o)
		if err != nil {
			return nil, err
		}
		if d.Allowed {
			out = append(out, o)
		}
	}
	return out, nil
}

// Perms returns an allowing Decision for each permission applying to obj's
// type that s holds on obj (nil: model level), sorted by permission
// (guardian's get_perms). Any check error fails the call (nil and the error).
func (c *Checker) Perms(ctx context.Context, s Subject, obj Object) (_ []Decision, err error) {
	defer func() {
		if r := recover(); r != nil { // obj's ObjectRef panicked
			err = panicked("listing permissions", r)
		}
	}()
	if err := nilInput("listing", "permissions", s, obj); err != nil {
		return nil, err
	}
	var typ string
	if obj != nil {
		typ = obj.ObjectRef().Type
	}
	var out []Decision
	for _, pi := range c.pol.permList {
		if typ != "" && len(pi.types) > 0 && !slices.Contains(pi.types, typ) {
			continue
		}
		d, err := c.Check(ctx, s, pi.name, obj)
		if err != nil {
			return nil, err
		}
		if d.Allowed {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Decision) int { return cmp.Compare(a.Perm, b.Perm) })
	return out, nil
}

// HoldersOptions tunes Holders. The zero value lists users and groups as
// stored, without expanding groups and without superusers.
type HoldersOptions struct {
	// ExpandGroups also lists each stored member of a group holder as a user
	// holder (Path.Via names the group); it needs a MemberLister.
	ExpandGroups bool
	// Superusers are the application's superuser IDs, unknown to the store,
	// each listed with every applicable permission for ReasonSuperuser.
	Superusers []string
}

// Path is one way a holder holds permissions on an object.
type Path struct {
	Reason Reason    // ReasonGrant, ReasonLocalRole, ReasonGlobalRole or ReasonSuperuser
	Role   string    // the role, for role paths
	Via    Principal // who holds the grant or role: the holder itself, or its group
	On     Ref       // where: the object, an ancestor, the type (TypeScope) or everywhere (GlobalScope, also for a profile); zero for superusers
	Perms  []string  // the permissions this path gives, sorted
}

// Holder is a principal, the permissions it holds on an object and how.
type Holder struct {
	Principal Principal
	Perms     []string // sorted, distinct
	Paths     []Path
}

// HolderList is the answer of Holders.
type HolderList struct {
	Holders []Holder // sorted by kind (users first), then ID
	// Rules, sorted: permissions whose rules (not enumerable) may allow more.
	Rules []string
}

// Holders lists every principal holding a permission applying to obj's
// type on obj through the store (guardian's get_users_with_perms): grants
// and local roles on obj and its ancestors (its Parents and stored ones),
// on its type and global, and live profiles' global roles (unless obj
// refuses them). The store does not see SubjectGroups or IsActive: a listed
// user may be inactive, and one allowed by an application group is missing.
// Global roles need a RoleLister, ExpandGroups a MemberLister; without them
// the error wraps ErrNotListable.
func (c *Checker) Holders(ctx context.Context, obj Object, o HoldersOptions) (hl HolderList, err error) {
	defer func() {
		if r := recover(); r != nil {
			hl, err = HolderList{}, panicked("listing holders", r)
		}
	}()
	if obj == nil {
		return HolderList{}, fmt.Errorf("%w: Holders needs an object", ErrInvalid)
	}
	if err := nilInput("listing", "holders", nil, obj); err != nil {
		return HolderList{}, err
	}
	ref := obj.ObjectRef()
	if !ref.IsObject() {
		return HolderList{}, fmt.Errorf("%w: object ref %q must have a type and an ID", ErrInvalid, ref.String())
	}
	if err := ctx.Err(); err != nil {
		return HolderList{}, fmt.Errorf("iam: listing holders of %s: %w", ref.String(), err)
	}
	applies := newBitset(len(c.pol.permList))
	var rules []string
	for _, pi := range c.pol.permList {
		if len(pi.types) == 0 || slices.Contains(pi.types, ref.Type) {
			applies.set(pi.idx)
			if pi.rule != nil {
				rules = append(rules, pi.name)
			}
		}
	}
	slices.Sort(rules)
	b := holderBuilder{c: c, applies: applies, byP: map[Principal]*holderAcc{}}

	st := evalState{env: env{c: c, ctx: ctx, obj: obj}, query: query{ref: ref, hasObj: true}}
	if g, ok := obj.(globalRoleAcquirer); ok && !g.AcquireGlobalRoles() {
		st.refuse = true
	}
	if err := st.ensureChain(); err != nil {
		return HolderList{}, err
	}
	if st.truncated {
		return HolderList{}, st.tooDeep()
	}
	for i := range st.n {
		l := st.link(i)
		gm := l.gm
		if gm == nil {
			gm = c.grantMemoOf(l.gs, st.nowNanos())
		}
		if gm == nil {
			continue
		}
		rolesOK := !st.refuse || l.kind <= linkAncestor
		for j := range gm.holders {
			h := &gm.holders[j]
			if h.direct.any(applies) {
				b.add(h.p, Path{Reason: ReasonGrant, Via: h.p, On: st.refOf(l)}, h.direct)
			}
			if !rolesOK {
				continue
			}
			r := ReasonLocalRole
			if l.kind > linkAncestor {
				r = ReasonGlobalRole
			}
			for _, ri := range h.local {
				if ri.perms.any(applies) {
					b.add(h.p, Path{Reason: r, Role: ri.name, Via: h.p, On: st.refOf(l)}, ri.perms)
				}
			}
		}
	}
	if !st.refuse {
		if err := b.globalRoles(ctx); err != nil {
			return HolderList{}, err
		}
	}
	if o.ExpandGroups {
		if err := b.expand(ctx); err != nil {
			return HolderList{}, err
		}
	}
	for _, id := range o.Superusers {
		if id != "" {
			b.add(User(id), Path{Reason: ReasonSuperuser, Via: User(id)}, applies)
		}
	}
	return HolderList{Holders: b.list(), Rules: rules}, nil
}

type holderAcc struct {
	perms bitset
	paths []Path
}

type holderBuilder struct {
	c       *Checker
	applies bitset
	byP     map[Principal]*holderAcc
}

// add records that p holds perms (restricted to the applicable ones) by path.
func (b *holderBuilder) add(p Principal, path Path, perms bitset) {
	acc := b.byP[p]
	if acc == nil {
		acc = &holderAcc{perms: newBitset(len(b.c.pol.permList))}
		b.byP[p] = acc
	}
	for _, pi := range b.c.pol.permList {
		if perms.has(pi.idx) && b.applies.has(pi.idx) {
			path.Perms = append(path.Perms, pi.name)
			acc.perms.set(pi.idx)
		}
	}
	slices.Sort(path.Perms)
	acc.paths = append(acc.paths, path)
}

// globalRoles adds the holders of live profiles of applicable roles.
func (b *holderBuilder) globalRoles(ctx context.Context) error {
	var rl RoleLister
	now := b.c.now()
	for _, ri := range b.c.pol.roleList {
		if !ri.perms.any(b.applies) {
			continue
		}
		if rl == nil {
			var ok bool
			if rl, ok = b.c.store.(RoleLister); !ok {
				return fmt.Errorf("%w: Holders needs a RoleLister for global roles", ErrNotListable)
			}
		}
		ps, err := rl.RoleProfiles(ctx, ri.name)
		if err != nil {
			return fmt.Errorf("iam: listing the holders of role %s: %w", ri.name, err)
		}
		for _, p := range ps {
			if p.Role == ri.name && p.Holder.Valid() && p.Live(now) {
				b.add(p.Holder, Path{Reason: ReasonGlobalRole, Role: ri.name, Via: p.Holder, On: GlobalScope()}, ri.perms)
			}
		}
	}
	return nil
}

// expand adds each group holder's stored members as users with its paths.
func (b *holderBuilder) expand(ctx context.Context) error {
	ml, ok := b.c.store.(MemberLister)
	var groups []Principal
	for p := range b.byP {
		if p.Kind == KindGroup {
			groups = append(groups, p)
		}
	}
	if len(groups) > 0 && !ok {
		return fmt.Errorf("%w: expanding groups needs a MemberLister", ErrNotListable)
	}
	slices.SortFunc(groups, comparePrincipals)
	for _, g := range groups {
		users, err := ml.GroupMembers(ctx, g.ID)
		if err != nil {
			return fmt.Errorf("iam: listing the members of %s: %w", g, err)
		}
		gacc := b.byP[g]
		for _, u := range users {
			acc := b.byP[User(u)]
			if acc == nil {
				acc = &holderAcc{perms: newBitset(len(b.c.pol.permList))}
				b.byP[User(u)] = acc
			}
			acc.perms.or(gacc.perms)
			for _, path := range gacc.paths { // Via stays the group
				path.Perms = slices.Clone(path.Perms) // each holder owns its paths
				acc.paths = append(acc.paths, path)
			}
		}
	}
	return nil
}

func (b *holderBuilder) list() []Holder {
	out := make([]Holder, 0, len(b.byP))
	for p, acc := range b.byP {
		h := Holder{Principal: p, Paths: acc.paths}
		for _, pi := range b.c.pol.permList {
			if acc.perms.has(pi.idx) {
				h.Perms = append(h.Perms, pi.name)
			}
		}
		slices.Sort(h.Perms)
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Holder) int { return comparePrincipals(a.Principal, b.Principal) })
	return out
}

func comparePrincipals(a, b Principal) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
}
