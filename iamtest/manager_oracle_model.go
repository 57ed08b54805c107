package iamtest

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/iamgo/iam"
)

// The oracle's own account of what a user can do, from the fixture's model
// of the store (docs/contract.md lines 2-6, 7, 7d, 9, 14 and 14b). The
// escalation judgement rests on it rather than on the Checker, so that a
// mistake shared by the Checker and the Manager (both read access through
// the same code) cannot hide an escalation; the Checker's answers are
// compared with it after every change, which keeps the model honest.

// oPredOp is the kind of a node of a rule as the oracle builds it.
type oPredOp uint8

const (
	opObj     oPredOp = iota + 1 // a leaf on the subject and the object (fn)
	opRole                       // HasRole(role)
	opGroup                      // InGroup(group)
	opProfile                    // PredProfile of role, with sectionsAllow
	opNot
	opAnd
	opOr
)

// oPred is a rule node: the oracle's tree and the policy's Predicate for
// the same rule.
type oPred struct {
	op    oPredOp
	role  string
	group string
	fn    func(s iam.Subject, o *oObj) bool
	kids  []*oPred
	pred  iam.Predicate
}

func preds(ps []*oPred) []iam.Predicate {
	out := make([]iam.Predicate, len(ps))
	for i, p := range ps {
		out[i] = p.pred
	}
	return out
}

// grantKey is a grant's identity: its holder, what it names and where. The
// expiry is an attribute of the grant, which granting again replaces.
func grantKey(g iam.Grant) iam.Grant {
	g.ExpiresAt = time.Time{}
	return g
}

func withExpiry(g iam.Grant, exp time.Time) iam.Grant {
	g.ExpiresAt = exp
	return g
}

// live reports whether something expiring at exp (zero: never) still
// gives what it names on the fixture's clock.
func (f *oFixture) live(exp time.Time) bool { return exp.IsZero() || f.now.Before(exp) }

// oIndex is the fixture's policy and objects in the form the model reads:
// bit sets of roles and permissions, refs by number.
type oIndex struct {
	perm      map[string]int
	role      map[string]int
	roleRoles []uint64 // the roles each role is or includes
	rolePerms []uint64 // the permissions of those
	ref       map[iam.Ref]int
	nRefs     int
	global    int
	// chain lists, for each object, the refs whose grants a check on it
	// reads besides its type and the global scope: the object, its own
	// Parents, and from there the parents recorded in the store (a check
	// reads an ancestor's parents only from the store).
	chain [][]int
	// wide lists the type and global refs a check reads: for each
	// object its type and the global scope, for each permission at model
	// level the types it is declared for and the global scope.
	wideObj, widePerm [][]int
	rules             []*oPred // by permission
}

func (f *oFixture) index() *oIndex {
	if f.ix != nil {
		return f.ix
	}
	ix := &oIndex{perm: map[string]int{}, role: map[string]int{}, ref: map[iam.Ref]int{}}
	for i, p := range f.perms {
		ix.perm[p.Name] = i
	}
	for i, r := range f.roles {
		ix.role[r.Name] = i
	}
	for _, r := range f.roles {
		var roles, perms uint64
		var walk func(r *iam.Role)
		walk = func(r *iam.Role) {
			roles |= 1 << ix.role[r.Name]
			for _, p := range r.Perms {
				perms |= 1 << ix.perm[p]
			}
			for _, inc := range r.Includes {
				walk(inc)
			}
		}
		walk(r)
		ix.roleRoles = append(ix.roleRoles, roles)
		ix.rolePerms = append(ix.rolePerms, perms)
	}
	for i, r := range f.refs() {
		ix.ref[r] = i
	}
	ix.nRefs = len(ix.ref)
	ix.global = ix.ref[iam.GlobalScope()]
	for _, o := range f.objects {
		chain := []int{ix.ref[o.ref]}
		seen := map[iam.Ref]bool{o.ref: true}
		queue := slices.Clone(o.parents)
		for len(queue) > 0 {
			r := queue[0]
			queue = queue[1:]
			if seen[r] {
				continue
			}
			seen[r] = true
			chain = append(chain, ix.ref[r])
			if a := f.byRef[r]; a.stored {
				queue = append(queue, a.parents...)
			}
		}
		ix.chain = append(ix.chain, chain)
		ix.wideObj = append(ix.wideObj, []int{ix.ref[iam.TypeScope(o.ref.Type)], ix.global})
	}
	for _, p := range f.perms {
		var wide []int
		for _, t := range p.Types {
			if i, ok := ix.ref[iam.TypeScope(t)]; ok {
				wide = append(wide, i)
			}
		}
		ix.widePerm = append(ix.widePerm, append(wide, ix.global))
		ix.rules = append(ix.rules, f.rules[p.Name])
	}
	f.ix = ix
	return ix
}

// oAccess is what one user holds in a model: through its live profiles
// and its groups', and by live grants to it or its groups, ref by ref.
type oAccess struct {
	user   *oUser
	groups map[string]bool
	roles  uint64   // global roles (Includes followed)
	perms  uint64   // their permissions
	direct []uint64 // by ref: permissions granted directly
	local  []uint64 // by ref: roles granted there (Includes followed)
	lperms []uint64 // by ref: the permissions of those roles
}

func (f *oFixture) access(m *oModel, u *oUser) *oAccess {
	ix := f.index()
	a := &oAccess{user: u, groups: map[string]bool{},
		direct: make([]uint64, ix.nRefs), local: make([]uint64, ix.nRefs), lperms: make([]uint64, ix.nRefs)}
	for _, g := range f.groups {
		if m.members[memberKey{u.id, g}] || slices.Contains(u.appGroups, g) {
			a.groups[g] = true
		}
	}
	holds := func(p iam.Principal) bool {
		return p == iam.User(u.id) || p.Kind == iam.KindGroup && a.groups[p.ID]
	}
	for k, p := range m.profiles {
		if holds(k.holder) && p.Active && f.live(p.ExpiresAt) {
			if ri, ok := ix.role[k.role]; ok {
				a.roles |= ix.roleRoles[ri]
				a.perms |= ix.rolePerms[ri]
			}
		}
	}
	for g, exp := range m.grants {
		ri, ok := ix.ref[g.On]
		if !ok || !holds(g.Holder) || !f.live(exp) {
			continue
		}
		if g.Role != "" {
			if r, ok := ix.role[g.Role]; ok {
				a.local[ri] |= ix.roleRoles[r]
				a.lperms[ri] |= ix.rolePerms[r]
			}
		} else if p, ok := ix.perm[g.Perm]; ok {
			a.direct[ri] |= 1 << p
		}
	}
	return a
}

// where is the part of a check that depends on its object.
type where struct {
	obj         *oObj // nil: model level
	refuse      bool
	chain, wide []int
}

func (f *oFixture) whereOf(perm, obj int) where {
	ix := f.index()
	if obj < 0 {
		return where{wide: ix.widePerm[perm]}
	}
	o := f.objects[obj]
	return where{obj: o, refuse: o.refuse, chain: ix.chain[obj], wide: ix.wideObj[obj]}
}

// canIn reports whether the user of a can do perm on obj (-1: model level):
// a global role (unless the object refuses them), a grant or local role
// on the object or an ancestor, a grant on the type or globally (a role
// granted there is a global role), else the permission's rule, which
// allows only when it is true without an error.
func (f *oFixture) canIn(m *oModel, a *oAccess, perm, obj int) bool {
	ix := f.index()
	w := f.whereOf(perm, obj)
	bit := uint64(1) << perm
	if !w.refuse && a.perms&bit != 0 {
		return true
	}
	for _, r := range w.chain {
		if (a.direct[r]|a.lperms[r])&bit != 0 {
			return true
		}
	}
	for _, r := range w.wide {
		if a.direct[r]&bit != 0 || !w.refuse && a.lperms[r]&bit != 0 {
			return true
		}
	}
	rule := ix.rules[perm]
	if rule == nil {
		return false
	}
	v, failed := f.evalRule(m, a, rule, w)
	return v && !failed
}

// evalRule evaluates a rule node: its value, or failed when it errs (And is
// false if any branch is, else failed if any branch is; Or the dual; Not
// passes a failure on).
func (f *oFixture) evalRule(m *oModel, a *oAccess, n *oPred, w where) (v, failed bool) {
	switch n.op {
	case opObj:
		return n.fn(a.user, w.obj), false
	case opGroup:
		return a.groups[n.group], false
	case opRole:
		return f.hasRole(a, n.role, w), false
	case opProfile:
		p, ok := m.profiles[profKey{iam.User(a.user.id), n.role}]
		if !ok || !p.Active || !f.live(p.ExpiresAt) {
			return false, false
		}
		var d oData
		if len(p.Data) > 0 {
			if err := json.Unmarshal(p.Data, &d); err != nil {
				return false, true
			}
		}
		return sectionsAllow(w.obj, d), false
	case opNot:
		v, failed := f.evalRule(m, a, n.kids[0], w)
		return !v && !failed, failed
	case opAnd, opOr:
		decisive := n.op == opOr
		anyFailed := false
		for _, k := range n.kids {
			v, failed := f.evalRule(m, a, k, w)
			if failed {
				anyFailed = true
			} else if v == decisive {
				return decisive, false
			}
		}
		if anyFailed {
			return false, true
		}
		return !decisive, false
	}
	panic("oracle: unknown rule node")
}

// hasRole is HasRole: the role or one including it held globally (unless
// the object refuses global roles), locally on the object or an ancestor,
// or granted on the type or globally (a global role too).
func (f *oFixture) hasRole(a *oAccess, role string, w where) bool {
	bit := uint64(1) << f.index().role[role]
	if !w.refuse && a.roles&bit != 0 {
		return true
	}
	for _, r := range w.chain {
		if a.local[r]&bit != 0 {
			return true
		}
	}
	if !w.refuse {
		for _, r := range w.wide {
			if a.local[r]&bit != 0 {
				return true
			}
		}
	}
	return false
}

// evalModel fills out with the model's answer for every triple of m.
func (f *oFixture) evalModel(m *oModel, out []bool) {
	for k := range f.evalUsers {
		f.evalModelUser(m, out, k)
	}
}

// evalModelAfter fills out with the model's answers in m after ch, from
// the answers before it: only the users ch concerns can answer otherwise,
// since in the model a user's access reads only its own and its groups'
// holdings (the Checker is held to the same, see FullEvalEvery).
func (f *oFixture) evalModelAfter(m *oModel, ch iam.Change, before, out []bool) {
	copy(out, before)
	for _, k := range f.concerned(ch) {
		f.evalModelUser(m, out, k)
	}
}

func (f *oFixture) evalModelUser(m *oModel, out []bool, k int) {
	n := len(f.tripleIdx)
	a := f.access(m, f.users[f.evalUsers[k]])
	for i := k * n; i < (k+1)*n; i++ {
		tr := f.triples[i]
		out[i] = f.canIn(m, a, tr.perm, tr.obj)
	}
}

// clone returns a copy of m to apply a change to.
func (m *oModel) clone() *oModel {
	return &oModel{
		profiles: maps.Clone(m.profiles),
		members:  maps.Clone(m.members),
		grants:   maps.Clone(m.grants),
	}
}
