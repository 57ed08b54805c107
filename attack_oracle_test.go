package iam_test

// An independent brute-force model of how a check is decided (docs/contract.md
// lines 2-7d, 14, 14b and 15), written from the contract and the package
// documentation alone, compared with the Checker over many random small
// fixtures while they are written to. Functions and types carry an "ao" prefix
// so they do not collide with the other test files of package iam_test.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// ---------------------------------------------------------------------------
// The application's types.

// aoSubject has every optional Subject interface; the harness changes its
// fields between checks, as an application's user record changes.
type aoSubject struct {
	id     string
	active bool
	super  bool
	groups []string
}

func (s *aoSubject) SubjectID() string       { return s.id }
func (s *aoSubject) IsActive() bool          { return s.active }
func (s *aoSubject) IsSuperuser() bool       { return s.super }
func (s *aoSubject) SubjectGroups() []string { return s.groups }

// aoPlain is a subject with no optional interface: active, no superuser, no
// application groups.
type aoPlain string

func (p aoPlain) SubjectID() string { return string(p) }

// Objects are contract_test.go's ctDoc: their own parents, an owner for the
// owner rule and a switch to refuse global roles.

// aoOwnerPred is one leaf shared by both policies: the object's owner is the
// subject. A bare Ref or a subject of another Go type is ErrWrongType
// (contract 11).
var aoOwnerPred = iam.Pred("ao_owner", func(_ context.Context, s *aoSubject, o *ctDoc) bool {
	return s != nil && o != nil && s.id != "" && o.owner == s.id
})

// ---------------------------------------------------------------------------
// Policies, described once and turned both into an iam.Policy and into the
// model's tables.

const (
	aoRead   = "doc.read"      // untyped
	aoEdit   = "doc.edit"      // doc only
	aoShare  = "doc.share"     // doc and folder
	aoCreate = "folder.create" // folder only
	aoView   = "doc.view"      // untyped, ruled
	aoAdmin  = "site.admin"    // untyped
	aoPub    = "pub.read"      // untyped, ruled
	aoAOnly  = "a.only"        // declared by policy A only
	aoBOnly  = "b.only"        // declared by policy B only
	aoGhost  = "ghost.perm"    // declared by neither
)

type aoRoleSpec struct {
	name     string
	perms    []string
	includes []string
}

// aoExpr is a rule as data, so that the model evaluates exactly the rule the
// Checker was given.
type aoExpr struct {
	op     string // role, group, auth, always, never, owner, not, and, or
	role   string
	groups []string
	kids   []aoExpr
}

func aoRole(r string) aoExpr                 { return aoExpr{op: "role", role: r} }
func aoGroup(g ...string) aoExpr             { return aoExpr{op: "group", groups: g} }
func aoLeaf(op string) aoExpr                { return aoExpr{op: op} }
func aoNotE(e aoExpr) aoExpr                 { return aoExpr{op: "not", kids: []aoExpr{e}} }
func aoAndE(es ...aoExpr) aoExpr             { return aoExpr{op: "and", kids: es} }
func aoOrE(es ...aoExpr) aoExpr              { return aoExpr{op: "or", kids: es} }
func aoPerm(n string, ts ...string) iam.Perm { return iam.Perm{Name: n, Types: ts} }

type aoPolSpec struct {
	perms []iam.Perm
	roles []aoRoleSpec
	rules map[string]aoExpr
}

func aoSpecA() aoPolSpec {
	return aoPolSpec{
		perms: []iam.Perm{aoPerm(aoRead), aoPerm(aoEdit, "doc"), aoPerm(aoShare, "doc", "folder"),
			aoPerm(aoCreate, "folder"), aoPerm(aoView), aoPerm(aoAdmin), aoPerm(aoPub), aoPerm(aoAOnly)},
		roles: []aoRoleSpec{
			{"viewer", []string{aoRead}, nil},
			{"editor", []string{aoEdit}, []string{"viewer"}},
			{"owner", []string{aoShare}, []string{"editor"}},
			{"admin", []string{aoAdmin, iam.PermManageRoles}, []string{"owner"}},
			{"foldr", []string{aoCreate, aoShare}, nil},
			{"mgr", []string{iam.PermManageGrants, aoAOnly}, nil},
			{"aonly", []string{aoAOnly}, []string{"viewer"}},
		},
		rules: map[string]aoExpr{
			aoView:   aoOrE(aoRole("editor"), aoGroup("g1", "g2"), aoLeaf("owner")),
			aoAdmin:  aoAndE(aoLeaf("auth"), aoGroup("g3"), aoNotE(aoRole("viewer"))),
			aoPub:    aoLeaf("always"),
			aoCreate: aoRole("owner"),
			aoEdit:   aoAndE(aoLeaf("owner"), aoNotE(aoRole("aonly"))),
		},
	}
}

// aoSpecB shares role names with A but gives them other permissions, so a
// compiled form of a Holding or GrantSet kept for one policy is wrong for
// the other.
func aoSpecB() aoPolSpec {
	return aoPolSpec{
		perms: []iam.Perm{aoPerm(aoRead), aoPerm(aoEdit, "doc"), aoPerm(aoShare, "doc", "folder"),
			aoPerm(aoCreate, "folder"), aoPerm(aoView), aoPerm(aoAdmin), aoPerm(aoPub), aoPerm(aoBOnly)},
		roles: []aoRoleSpec{
			{"viewer", []string{aoRead, aoShare}, nil},
			{"editor", []string{aoEdit}, nil},
			{"admin", []string{aoAdmin}, []string{"editor"}},
			{"foldr", []string{aoCreate}, nil},
			{"mgr", []string{iam.PermManageGrants}, nil},
			{"bonly", []string{aoBOnly, aoRead}, []string{"viewer"}},
		},
		rules: map[string]aoExpr{
			aoView:  aoRole("viewer"),
			aoRead:  aoGroup("g2"),
			aoPub:   aoLeaf("auth"),
			aoBOnly: aoRole("admin"),
			aoShare: aoOrE(aoLeaf("never"), aoNotE(aoLeaf("auth"))),
		},
	}
}

// aoPol is a policy as the model reads it.
type aoPol struct {
	name    string
	types   map[string][]string        // declared permission -> its types (nil: any)
	closure map[string]map[string]bool // role -> every role holding it means holding (itself included)
	rperms  map[string]map[string]bool // role -> every permission it grants
	rules   map[string]aoExpr
	perms   []string // declared, sorted
	roles   []string // sorted
	policy  iam.Policy
}

func aoCompile(name string, spec aoPolSpec) *aoPol {
	p := &aoPol{
		name:    name,
		types:   map[string][]string{iam.PermManageRoles: nil, iam.PermManageGrants: nil},
		closure: map[string]map[string]bool{},
		rperms:  map[string]map[string]bool{},
		rules:   spec.rules,
	}
	for _, d := range spec.perms {
		p.types[d.Name] = d.Types
	}
	if len(spec.perms) == 0 {
		// Implicit: what the roles grant and the rules are keyed by,
		// untyped.
		for _, r := range spec.roles {
			for _, pm := range r.perms {
				p.types[pm] = nil
			}
		}
		for pm := range spec.rules {
			p.types[pm] = nil
		}
	}
	byName := map[string]aoRoleSpec{}
	for _, r := range spec.roles {
		byName[r.name] = r
		p.roles = append(p.roles, r.name)
	}
	for _, r := range spec.roles {
		seen := map[string]bool{}
		var walk func(n string)
		walk = func(n string) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, inc := range byName[n].includes {
				walk(inc)
			}
		}
		walk(r.name)
		p.closure[r.name] = seen
		perms := map[string]bool{}
		for n := range seen {
			for _, pm := range byName[n].perms {
				perms[pm] = true
			}
		}
		p.rperms[r.name] = perms
	}
	for n := range p.types {
		p.perms = append(p.perms, n)
	}
	sort.Strings(p.perms)
	sort.Strings(p.roles)

	roles := map[string]*iam.Role{}
	for _, r := range spec.roles {
		roles[r.name] = &iam.Role{Name: r.name, Perms: r.perms}
	}
	for _, r := range spec.roles {
		for _, inc := range r.includes {
			roles[r.name].Includes = append(roles[r.name].Includes, roles[inc])
		}
		p.policy.Roles = append(p.policy.Roles, roles[r.name])
	}
	p.policy.Perms = spec.perms
	p.policy.Rules = map[string]iam.Predicate{}
	memo := map[string]iam.Predicate{}
	var compile func(e aoExpr) iam.Predicate
	compile = func(e aoExpr) iam.Predicate {
		key := e.op + ":" + e.role + ":" + strings.Join(e.groups, ",")
		if pr, ok := memo[key]; ok && len(e.kids) == 0 {
			return pr
		}
		var pr iam.Predicate
		var kids []iam.Predicate
		for _, k := range e.kids {
			kids = append(kids, compile(k))
		}
		switch e.op {
		case "role":
			pr = iam.HasRole(roles[e.role])
		case "group":
			pr = iam.InGroup(e.groups...)
		case "auth":
			pr = iam.IsAuthenticated()
		case "always":
			pr = iam.Always()
		case "never":
			pr = iam.Never()
		case "owner":
			pr = aoOwnerPred
		case "not":
			return iam.Not(kids[0])
		case "and":
			return iam.And(kids...)
		case "or":
			return iam.Or(kids...)
		default:
			panic("ao: unknown op " + e.op)
		}
		memo[key] = pr
		return pr
	}
	for perm, e := range spec.rules {
		p.policy.Rules[perm] = compile(e)
	}
	return p
}

// holds reports whether holding role h means holding role r under p.
func (p *aoPol) holds(h, r string) bool { return p.closure[h][r] }

// gives reports whether role r grants perm under p; a role p does not know
// grants nothing.
func (p *aoPol) gives(r, perm string) bool { return p.rperms[r][perm] }

func (p *aoPol) applies(perm, typ string) bool {
	ts, ok := p.types[perm]
	return ok && (len(ts) == 0 || slices.Contains(ts, typ))
}

// grantErr is what the Checker's validated write of g must answer (contract
// 7, 7b).
func (p *aoPol) grantErr(g iam.Grant) error {
	if g.Perm != "" {
		ts, ok := p.types[g.Perm]
		if !ok {
			return iam.ErrUnknownPermission
		}
		if len(ts) > 0 && g.On != iam.GlobalScope() && !slices.Contains(ts, g.On.Type) {
			return iam.ErrWrongType
		}
		return nil
	}
	if _, ok := p.rperms[g.Role]; !ok {
		return iam.ErrInvalid
	}
	return nil
}

// ---------------------------------------------------------------------------
// Three-valued (and partly unknown) rule values: a set of the values a
// predicate may take where the contract leaves the choice open.

type aoTri uint8

const (
	aoF aoTri = 1
	aoT aoTri = 2
	aoE aoTri = 4
)

func aoEach(a aoTri, f func(aoTri)) {
	for _, v := range []aoTri{aoF, aoT, aoE} {
		if a&v != 0 {
			f(v)
		}
	}
}

func aoNot(a aoTri) aoTri {
	var r aoTri
	aoEach(a, func(v aoTri) {
		switch v {
		case aoF:
			r |= aoT
		case aoT:
			r |= aoF
		default:
			r |= aoE
		}
	})
	return r
}

// aoCombine folds And or Or over two value sets (contract 9: And is false if
// any branch is, else an error if any erred; Or the other way round).
func aoCombine(and bool, a, b aoTri) aoTri {
	var r aoTri
	aoEach(a, func(x aoTri) {
		aoEach(b, func(y aoTri) {
			switch {
			case and && (x == aoF || y == aoF):
				r |= aoF
			case !and && (x == aoT || y == aoT):
				r |= aoT
			case x == aoE || y == aoE:
				r |= aoE
			case and:
				r |= aoT
			default:
				r |= aoF
			}
		})
	})
	return r
}

// ---------------------------------------------------------------------------
// The model's state: what the store holds, and the clock.

type aoGKey struct {
	holder iam.Principal
	perm   string
	role   string
	on     iam.Ref
}

func (k aoGKey) grant(exp time.Time) iam.Grant {
	return iam.Grant{Holder: k.holder, Perm: k.perm, Role: k.role, On: k.on, ExpiresAt: exp}
}

type aoPKey struct {
	holder iam.Principal
	role   string
}

type aoProf struct {
	active bool
	exp    time.Time
}

type aoHR struct {
	holder iam.Principal
	on     iam.Ref
}

type aoEntry struct{ perm, role string }

type aoModel struct {
	now      time.Time
	grants   map[aoGKey]time.Time
	profiles map[aoPKey]aoProf
	members  map[string]map[string]bool
	parents  map[iam.Ref][]iam.Ref

	// Derived after every change: live grants by (holder, ref), live profile
	// roles by holder.
	idx  map[aoHR][]aoEntry
	live map[iam.Principal][]string
}

func newAOModel(now time.Time) *aoModel {
	return &aoModel{
		now:      now,
		grants:   map[aoGKey]time.Time{},
		profiles: map[aoPKey]aoProf{},
		members:  map[string]map[string]bool{},
		parents:  map[iam.Ref][]iam.Ref{},
	}
}

// alive: an expiry gives nothing from that instant on (contract 7d); zero
// never expires.
func (m *aoModel) alive(exp time.Time) bool { return exp.IsZero() || m.now.Before(exp) }

func (m *aoModel) rebuild() {
	m.idx = map[aoHR][]aoEntry{}
	for k, exp := range m.grants {
		if m.alive(exp) {
			hr := aoHR{k.holder, k.on}
			m.idx[hr] = append(m.idx[hr], aoEntry{k.perm, k.role})
		}
	}
	m.live = map[iam.Principal][]string{}
	for k, p := range m.profiles {
		if p.active && m.alive(p.exp) {
			m.live[k.holder] = append(m.live[k.holder], k.role)
		}
	}
}

// ancestors follows the object's own parents and the stored parents of the
// object and of every ancestor (contract 4b), each at its shortest distance;
// within are those at most depth levels up, cut whether any lie beyond.
func (m *aoModel) ancestors(ref iam.Ref, own []iam.Ref, depth int) (within []iam.Ref, cut bool) {
	dist := map[iam.Ref]int{ref: 0}
	var frontier []iam.Ref
	for _, p := range append(slices.Clone(own), m.parents[ref]...) {
		if _, ok := dist[p]; !ok {
			dist[p] = 1
			frontier = append(frontier, p)
		}
	}
	for d := 1; len(frontier) > 0; d++ {
		var next []iam.Ref
		for _, r := range frontier {
			if d <= depth {
				within = append(within, r)
			} else {
				cut = true
			}
			for _, p := range m.parents[r] {
				if _, ok := dist[p]; !ok {
					dist[p] = d + 1
					next = append(next, p)
				}
			}
		}
		frontier = next
	}
	return within, cut
}

// ---------------------------------------------------------------------------
// Subjects and objects of a fixture.

type aoSubjKind uint8

const (
	aoSubjFull aoSubjKind = iota
	aoSubjPlain
	aoSubjNil
	aoSubjTypedNil
)

type aoSubjCase struct {
	kind aoSubjKind
	s    *aoSubject
	id   string // aoSubjPlain
}

func (c *aoSubjCase) subject() iam.Subject {
	switch c.kind {
	case aoSubjFull:
		return c.s
	case aoSubjPlain:
		return aoPlain(c.id)
	case aoSubjTypedNil:
		return (*aoSubject)(nil)
	}
	return nil
}

func (c *aoSubjCase) String() string {
	switch c.kind {
	case aoSubjFull:
		return fmt.Sprintf("subject{id:%q active:%v super:%v groups:%v}", c.s.id, c.s.active, c.s.super, c.s.groups)
	case aoSubjPlain:
		return fmt.Sprintf("plain(%q)", c.id)
	case aoSubjTypedNil:
		return "(*aoSubject)(nil)"
	}
	return "nil subject"
}

type aoObjKind uint8

const (
	aoObjFull aoObjKind = iota
	aoObjBare
	aoObjNil
	aoObjTypedNil
	aoObjInvalid // a Ref that names no object: no ID, a scope, the zero Ref
)

type aoObjCase struct {
	kind aoObjKind
	o    *ctDoc
	ref  iam.Ref // aoObjBare
}

func (c *aoObjCase) object() iam.Object {
	switch c.kind {
	case aoObjFull:
		return c.o
	case aoObjBare:
		return c.ref
	case aoObjTypedNil:
		return (*ctDoc)(nil)
	case aoObjInvalid:
		if c.o != nil {
			return c.o
		}
		return c.ref
	}
	return nil
}

func (c *aoObjCase) theRef() iam.Ref {
	if c.kind == aoObjFull {
		return c.o.ref
	}
	return c.ref
}

func (c *aoObjCase) String() string {
	switch c.kind {
	case aoObjFull:
		return fmt.Sprintf("object{%v parents:%v refuse:%v owner:%q}", c.o.ref, c.o.parents, c.o.refuse, c.o.owner)
	case aoObjBare:
		return fmt.Sprintf("bare(%v)", c.ref)
	case aoObjTypedNil:
		return "(*ctDoc)(nil)"
	case aoObjInvalid:
		return fmt.Sprintf("invalid(%#v)", c.theRef())
	}
	return "nil object"
}

// ---------------------------------------------------------------------------
// The model's decision.

// aoX is what a check of one subject on one object reads, whatever the
// permission.
type aoX struct {
	id         string
	anon       bool
	principals []iam.Principal
	groups     map[string]bool
	isObj      bool
	objType    string
	objRefs    []iam.Ref // the object and its ancestors within depth
	refuse     bool
	cut        bool
	owner      aoTri
}

// globalRefs are the scopes whose roles count as global and whose grants
// count: GlobalScope and the object's type, or, model-level, the
// permission's declared types (contract 5).
func (x *aoX) globalRefs(types []string) []iam.Ref {
	if x.isObj {
		return []iam.Ref{iam.GlobalScope(), iam.TypeScope(x.objType)}
	}
	out := []iam.Ref{iam.GlobalScope()}
	for _, t := range types {
		out = append(out, iam.TypeScope(t))
	}
	return out
}

func (h *aoHarness) context(depth int, sc *aoSubjCase, oc *aoObjCase) *aoX {
	x := &aoX{groups: map[string]bool{}}
	var sgroups []string
	switch sc.kind {
	case aoSubjFull:
		x.id, sgroups = sc.s.id, sc.s.groups
	case aoSubjPlain:
		x.id = sc.id
	}
	x.anon = x.id == ""
	// contract 14: stored memberships plus SubjectGroups(); an anonymous
	// subject has no stored ones, and its groups hold nothing for it
	// (contract 6), but InGroup reads them.
	for _, g := range sgroups {
		x.groups[g] = true
	}
	if !x.anon {
		for g := range h.m.members[x.id] {
			x.groups[g] = true
		}
		x.principals = append(x.principals, iam.User(x.id))
		gs := make([]string, 0, len(x.groups))
		for g := range x.groups {
			gs = append(gs, g)
		}
		sort.Strings(gs)
		for _, g := range gs {
			x.principals = append(x.principals, iam.Group(g))
		}
	}
	switch oc.kind {
	case aoObjFull, aoObjBare:
		x.isObj = true
		ref := oc.theRef()
		x.objType = ref.Type
		var own []iam.Ref
		if oc.kind == aoObjFull {
			own, x.refuse = oc.o.parents, oc.o.refuse
		}
		anc, cut := h.m.ancestors(ref, own, depth)
		x.objRefs = append([]iam.Ref{ref}, anc...)
		x.cut = cut
	}
	// The owner leaf: Pred's assertion of subject and object (contract 11).
	var subj *aoSubject
	wrong := false
	switch sc.kind {
	case aoSubjFull:
		subj = sc.s
	case aoSubjPlain:
		wrong = sc.id != ""
	}
	var obj *ctDoc
	switch oc.kind {
	case aoObjFull:
		obj = oc.o
	case aoObjBare:
		wrong = true
	}
	switch {
	case wrong:
		x.owner = aoE
	case subj != nil && obj != nil && subj.id != "" && obj.owner == subj.id:
		x.owner = aoT
	default:
		x.owner = aoF
	}
	return x
}

type aoGround struct {
	reason iam.Reason
	via    iam.Principal
	on     iam.Ref
	held   string // the role held, for role grounds
}

// grounds lists every stored way principals hold perm (contract 4a-c).
func (m *aoModel) grounds(pol *aoPol, x *aoX, perm string, global []iam.Ref, principals []iam.Principal) []aoGround {
	var out []aoGround
	for _, p := range principals {
		if !x.refuse {
			for _, r := range m.live[p] {
				if pol.gives(r, perm) {
					out = append(out, aoGround{iam.ReasonGlobalRole, p, iam.GlobalScope(), r})
				}
			}
			for _, on := range global {
				for _, e := range m.idx[aoHR{p, on}] {
					if e.role != "" && pol.gives(e.role, perm) {
						out = append(out, aoGround{iam.ReasonGlobalRole, p, on, e.role})
					}
				}
			}
		}
		for _, on := range x.objRefs {
			for _, e := range m.idx[aoHR{p, on}] {
				switch {
				case e.role != "" && pol.gives(e.role, perm):
					out = append(out, aoGround{iam.ReasonLocalRole, p, on, e.role})
				case e.perm == perm:
					out = append(out, aoGround{iam.ReasonGrant, p, on, ""})
				}
			}
		}
		for _, on := range global {
			for _, e := range m.idx[aoHR{p, on}] {
				if e.perm == perm {
					out = append(out, aoGround{iam.ReasonGrant, p, on, ""})
				}
			}
		}
	}
	return out
}

// hasRole is HasRole(r) (contract 14b).
func (m *aoModel) hasRole(pol *aoPol, x *aoX, global []iam.Ref, r string) aoTri {
	for _, p := range x.principals {
		if !x.refuse {
			for _, h := range m.live[p] {
				if pol.holds(h, r) {
					return aoT
				}
			}
			for _, on := range global {
				for _, e := range m.idx[aoHR{p, on}] {
					if e.role != "" && pol.holds(e.role, r) {
						return aoT
					}
				}
			}
		}
		for _, on := range x.objRefs {
			for _, e := range m.idx[aoHR{p, on}] {
				if e.role != "" && pol.holds(e.role, r) {
					return aoT
				}
			}
		}
	}
	if x.cut {
		// Not found in the ancestry followed, and more lies beyond: "no"
		// would decide on part of the ancestry (contract 4b), so Not(HasRole)
		// could allow.
		return aoE
	}
	return aoF
}

func (m *aoModel) eval(pol *aoPol, x *aoX, global []iam.Ref, e aoExpr) aoTri {
	switch e.op {
	case "always":
		return aoT
	case "never":
		return aoF
	case "auth":
		if x.anon {
			return aoF
		}
		return aoT
	case "owner":
		return x.owner
	case "role":
		if x.anon {
			return aoF // contract 6
		}
		return m.hasRole(pol, x, global, e.role)
	case "group":
		for _, g := range e.groups {
			if !x.groups[g] {
				return aoF
			}
		}
		return aoT
	case "not":
		return aoNot(m.eval(pol, x, global, e.kids[0]))
	case "and", "or":
		v := m.eval(pol, x, global, e.kids[0])
		for _, k := range e.kids[1:] {
			v = aoCombine(e.op == "and", v, m.eval(pol, x, global, k))
		}
		return v
	}
	panic("ao: unknown op " + e.op)
}

// aoWant is the model's answer to one check.
type aoWant struct {
	known    bool // false: the contract leaves this answer open
	allowed  bool
	sentinel error      // a denial that must wrap this error
	reason   iam.Reason // a denial for a nil or inactive subject
	super    bool
	grounds  []aoGround
	rule     aoTri
	hasRule  bool
	cut      bool
	errOK    bool // bad input: the denial may carry an error
}

// mayErr: Check may return an error for this denial.
func (w aoWant) mayErr() bool {
	return w.errOK || w.sentinel != nil || (!w.allowed && (w.cut || w.rule&aoE != 0))
}

func (h *aoHarness) want(cfg *aoCfg, si int, perm string, oi int) aoWant {
	sc, oc := h.subjects[si], h.objects[oi]
	pol := cfg.pol
	types, declared := pol.types[perm]
	normalSubj := sc.kind == aoSubjFull || sc.kind == aoSubjPlain
	if !declared {
		// contract 1, superusers included
		w := aoWant{known: true, errOK: true}
		if normalSubj && oc.kind < aoObjTypedNil {
			w.sentinel = iam.ErrUnknownPermission
		}
		return w
	}
	switch sc.kind {
	case aoSubjNil:
		w := aoWant{known: true, errOK: oc.kind >= aoObjTypedNil}
		if oc.kind < aoObjTypedNil {
			w.reason = iam.ReasonNoSubject // contract 2
		}
		return w
	case aoSubjTypedNil:
		return aoWant{known: true, sentinel: iam.ErrInvalid} // contract 2
	}
	var id string
	active, super := true, false
	if sc.kind == aoSubjFull {
		id, active, super = sc.s.id, sc.s.active, sc.s.super
	} else {
		id = sc.id
	}
	if !active {
		w := aoWant{known: true, errOK: oc.kind >= aoObjTypedNil}
		if oc.kind < aoObjTypedNil {
			w.reason = iam.ReasonInactive // contract 2
		}
		return w
	}
	if oc.kind == aoObjTypedNil {
		return aoWant{known: true, sentinel: iam.ErrInvalid} // contract 2
	}
	if oc.kind == aoObjInvalid {
		// contract 7b: never "the whole type" or "everything", superusers
		// included
		return aoWant{known: true, sentinel: iam.ErrInvalid}
	}
	super = super && id != "" // contract 2: an anonymous subject is never a superuser
	if oc.kind != aoObjNil && len(types) > 0 && !slices.Contains(types, oc.theRef().Type) {
		if super {
			return aoWant{super: true} // the contract does not order 3 and 7
		}
		return aoWant{known: true, sentinel: iam.ErrWrongType} // contract 7
	}
	x := h.ctxFor(cfg.depth, si, oi)
	global := x.globalRefs(types)
	w := aoWant{known: true, super: super, cut: x.cut}
	w.grounds = h.m.grounds(pol, x, perm, global, x.principals)
	if e, ok := pol.rules[perm]; ok {
		w.hasRule = true
		w.rule = h.m.eval(pol, x, global, e)
	} else {
		w.rule = aoF
	}
	switch {
	case super || len(w.grounds) > 0 || w.rule == aoT:
		w.allowed = true
	case w.rule&aoT != 0:
		w.known = false
	case w.cut && !x.anon && w.rule&aoE == 0:
		// 4b: cut short, no allowing path (an anonymous subject has no
		// stored path to look for; a rule's own error may be the one
		// returned)
		w.sentinel = iam.ErrTooDeep
	}
	return w
}

func (h *aoHarness) ctxFor(depth, si, oi int) *aoX {
	k := [3]int{depth, si, oi}
	if x, ok := h.xs[k]; ok {
		return x
	}
	x := h.context(depth, h.subjects[si], h.objects[oi])
	h.xs[k] = x
	return x
}

// sound reports whether d is one of the allowing grounds the model knows.
func (w *aoWant) sound(pol *aoPol, perm string, d iam.Decision) bool {
	if !d.Allowed {
		return false
	}
	switch d.Reason {
	case iam.ReasonSuperuser:
		return w.super
	case iam.ReasonRule:
		return w.rule&aoT != 0
	case iam.ReasonGrant:
		for _, g := range w.grounds {
			if g.reason == iam.ReasonGrant && g.via == d.Via && g.on == d.On {
				return true
			}
		}
	case iam.ReasonGlobalRole, iam.ReasonLocalRole:
		for _, g := range w.grounds {
			if g.reason == d.Reason && g.via == d.Via && g.on == d.On &&
				(d.Role == g.held || (pol.holds(g.held, d.Role) && pol.gives(d.Role, perm))) {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// The harness.

type aoCfg struct {
	name  string
	pol   *aoPol
	depth int // as the Checker applies Options.MaxDepth
	c     *iam.Checker
}

type aoHarness struct {
	t        *testing.T
	rng      *rand.Rand
	ctx      context.Context
	store    *iam.MemoryStore
	m        *aoModel
	cfgs     []*aoCfg
	subjects []*aoSubjCase
	objects  []*aoObjCase
	perms    []string
	refs     []iam.Ref // object refs grants and parents name
	users    []string
	groups   []string
	log      []string
	xs       map[[3]int]*aoX
	n        int // comparisons made
	lists    int
	// backwards lets the clock step back a minute, as a wall clock may.
	backwards bool
	// sparse: few grants at a time, often none of a kind, so what the
	// store's views claim of the whole store (no role granted, no wide
	// grant, no parents) flips.
	sparse bool
	stats  map[string]int
}

var aoBase = time.Date(2031, 3, 4, 5, 6, 0, 0, time.UTC)

// aoLongID is a user ID longer than the answer cache keeps.
var aoLongID = "u-" + strings.Repeat("long", 40)

func newAOHarness(t *testing.T, seed uint64) *aoHarness {
	h := &aoHarness{
		t:      t,
		rng:    rand.New(rand.NewPCG(seed, seed^0x5eed)),
		ctx:    context.Background(),
		store:  iam.NewMemoryStore(),
		m:      newAOModel(aoBase),
		users:  []string{"u1", "u2", "u3", "u4", "u5", aoLongID},
		groups: []string{"g1", "g2", "g3", "g4", "g5", "g6"},
		stats:  map[string]int{},
	}
	polA, polB := aoCompile("A", aoSpecA()), aoCompile("B", aoSpecB())
	implicitA := aoSpecA()
	implicitA.perms = nil
	polA2, polB2 := aoCompile("A implicit", implicitA), aoCompile("B", aoSpecB())
	clock := func() time.Time { return h.m.now }
	quiet := slog.New(slog.DiscardHandler)

	// Depths: usually the default; sometimes small, around a chain built
	// below, so the answer turns on the last level followed.
	depths := [3]int{0, 0, 0}
	deep := h.rng.IntN(10)
	chain := 0
	switch {
	case deep < 3:
		d := 2 + h.rng.IntN(4)
		depths = [3]int{d, d + 1 - 2*h.rng.IntN(2), 0}
		chain = d + h.rng.IntN(3)
	case deep < 4:
		chain = 23 + h.rng.IntN(5)
	case deep < 5 && h.rng.IntN(3) == 0:
		// Above the cap: MaxDepth 100 follows 64 levels.
		depths = [3]int{100, 63, 0}
		chain = 63 + h.rng.IntN(4)
	}
	h.sparse = deep >= 5 && h.rng.IntN(3) == 0
	mk := func(name string, pol *aoPol, o iam.Options) *aoCfg {
		c, err := iam.NewWithOptions(pol.policy, h.store, o)
		require.NoError(t, err)
		d := o.MaxDepth
		switch {
		case d == 0:
			d = 25
		case d > 64:
			d = 64
		}
		return &aoCfg{name: name, pol: pol, depth: d, c: c}
	}
	h.cfgs = []*aoCfg{
		// A: the default answer cache.
		mk("A", polA, iam.Options{Now: clock, Logger: quiet, MaxDepth: depths[0]}),
		// B: another policy over the same store, with a tiny cache so answers
		// collide in it.
		mk("B", polB, iam.Options{Now: clock, Logger: quiet, MaxDepth: depths[1], CacheSlots: 1 + h.rng.IntN(3)}),
		// C: A's policy without a cache.
		mk("C", polA, iam.Options{Now: clock, Logger: quiet, MaxDepth: depths[2], CacheSlots: -1}),
		// D and E: five Checkers in all, more than the compiled forms one
		// Holding or GrantSet keeps, so they are evicted and rebuilt. E
		// declares A's permissions implicitly: untyped, so the same grants
		// count in other places.
		mk("D", polB2, iam.Options{Now: clock, Logger: quiet, MaxDepth: depths[2]}),
		mk("E", polA2, iam.Options{Now: clock, Logger: quiet, MaxDepth: depths[0], CacheSlots: 2}),
	}
	seen := map[string]bool{}
	for _, p := range append(slices.Clone(polA.perms), polB.perms...) {
		if !seen[p] {
			seen[p] = true
			h.perms = append(h.perms, p)
		}
	}
	h.perms = append(h.perms, aoGhost)

	doc := func(id string) iam.Ref { return iam.Ref{Type: "doc", ID: id} }
	folder := func(id string) iam.Ref { return iam.Ref{Type: "folder", ID: id} }
	h.refs = []iam.Ref{doc("1"), doc("2"), doc("3"), folder("a"), folder("b"), folder("c")}
	var links []iam.Ref
	for i := 1; i <= chain; i++ {
		links = append(links, folder(fmt.Sprintf("k%02d", i)))
	}
	h.refs = append(h.refs, links...)

	for _, u := range []string{"u1", "u2", "u3", "u4", aoLongID} {
		h.subjects = append(h.subjects, &aoSubjCase{kind: aoSubjFull, s: &aoSubject{id: u, active: true}})
	}
	h.subjects = append(h.subjects,
		&aoSubjCase{kind: aoSubjPlain, id: "u5"},
		// The same ID as a full subject, without its groups, flags or
		// SubjectGroups: an answer kept for one is not the other's.
		&aoSubjCase{kind: aoSubjPlain, id: "u1"},
		&aoSubjCase{kind: aoSubjFull, s: &aoSubject{id: "", active: true}},
		&aoSubjCase{kind: aoSubjFull, s: &aoSubject{id: "", active: true, super: true, groups: []string{"g1", "g3"}}},
		&aoSubjCase{kind: aoSubjNil},
		&aoSubjCase{kind: aoSubjTypedNil},
	)
	full := func(ref iam.Ref) *aoObjCase {
		return &aoObjCase{kind: aoObjFull, o: &ctDoc{ref: ref, owner: h.users[h.rng.IntN(5)]}}
	}
	h.objects = []*aoObjCase{
		full(doc("1")), full(doc("2")), full(folder("a")), full(folder("b")),
		{kind: aoObjBare, ref: doc("3")}, {kind: aoObjBare, ref: folder("c")},
		// The same Refs as full objects, without their parents or refusal.
		{kind: aoObjBare, ref: doc("1")}, {kind: aoObjBare, ref: folder("a")},
		{kind: aoObjNil}, {kind: aoObjTypedNil},
		{kind: aoObjInvalid, o: &ctDoc{ref: iam.Ref{Type: "doc"}}},
		{kind: aoObjInvalid, ref: iam.TypeScope(h.pick("doc", "folder"))},
		{kind: aoObjInvalid, ref: h.pickRef(iam.GlobalScope(), iam.Ref{})},
	}
	if h.rng.IntN(4) == 0 {
		// Dense: more grants on a few refs than a check reads entry by
		// entry, so their sets are compiled and the compiled form shared.
		for range 40 {
			k := aoGKey{holder: h.randHolder(), on: h.pickRef(iam.GlobalScope(), iam.TypeScope("doc"), doc("1"), folder("a"))}
			if h.rng.IntN(2) == 0 {
				k.perm = h.pick(aoRead, aoView, aoAdmin, aoPub, aoAOnly, aoBOnly, iam.PermManageGrants)
			} else {
				k.role = h.pick("viewer", "editor", "owner", "admin", "foldr", "mgr", "aonly", "bonly")
			}
			exp := time.Time{}
			if h.rng.IntN(4) == 0 {
				exp = h.randExp()
			}
			h.storeGrant(k, exp)
		}
	}
	if chain > 0 {
		bottom := full(doc("4"))
		bottom.o.parents = []iam.Ref{links[0]}
		h.refs = append(h.refs, doc("4"))
		h.objects = append(h.objects, bottom, &aoObjCase{kind: aoObjBare, ref: links[chain/2]})
		for i := 0; i+1 < len(links); i++ {
			h.setParents(links[i], []iam.Ref{links[i+1]})
		}
		// Something to find at every level near the cut.
		for i := max(0, chain-4); i < chain; i++ {
			h.storeGrant(aoGKey{holder: h.randHolder(), perm: h.pick(aoRead, aoShare), on: links[i]}, time.Time{})
			h.storeGrant(aoGKey{holder: h.randHolder(), role: h.pick("viewer", "editor", "owner"), on: links[i]}, time.Time{})
		}
	}
	return h
}

func (h *aoHarness) pick(xs ...string) string { return xs[h.rng.IntN(len(xs))] }

func (h *aoHarness) pick2(a, b int) int {
	if h.rng.IntN(2) == 0 {
		return a
	}
	return b
}

func (h *aoHarness) pickRef(xs ...iam.Ref) iam.Ref { return xs[h.rng.IntN(len(xs))] }

func (h *aoHarness) logf(format string, args ...any) {
	h.log = append(h.log, fmt.Sprintf(format, args...))
}

func (h *aoHarness) fail(format string, args ...any) {
	h.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, format, args...)
	fmt.Fprintf(&b, "\n--- now %v (base+%v)\n--- writes:\n", h.m.now, h.m.now.Sub(aoBase))
	for _, l := range h.log {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("--- subjects:\n")
	for _, s := range h.subjects {
		b.WriteString("  " + s.String() + "\n")
	}
	b.WriteString("--- objects:\n")
	for _, o := range h.objects {
		b.WriteString("  " + o.String() + "\n")
	}
	h.t.Fatal(b.String())
}

// ---------------------------------------------------------------------------
// Comparing one check.

func (h *aoHarness) compare(cfg *aoCfg, si int, perm string, oi int, explain bool) {
	h.t.Helper()
	sc, oc := h.subjects[si], h.objects[oi]
	w := h.want(cfg, si, perm, oi)
	s, o := sc.subject(), oc.object()
	var has bool
	var dec iam.Decision
	var err error
	// Ask in either order: a cached answer must not leak into Check, nor a
	// check's state into the cache.
	if h.rng.IntN(2) == 0 {
		has = cfg.c.HasPerm(h.ctx, s, perm, o)
		dec, err = cfg.c.Check(h.ctx, s, perm, o)
	} else {
		dec, err = cfg.c.Check(h.ctx, s, perm, o)
		has = cfg.c.HasPerm(h.ctx, s, perm, o)
	}
	dd, _ := cfg.c.Decide(h.ctx, s, perm, o)
	h.n++
	where := func() string {
		return fmt.Sprintf("checker %s (depth %d): %v %s on %v", cfg.name, cfg.depth, sc, perm, oc)
	}
	if has != dec.Allowed || dd.Allowed != dec.Allowed {
		h.fail("%s: HasPerm %v, Check %v (%v), Decide %v", where(), has, dec.Allowed, dec, dd.Allowed)
	}
	if !w.known {
		h.stats["left open by the contract: "+perm+" "+dec.Reason.String()]++
		return
	}
	if w.allowed {
		h.stats["allowed "+dec.Reason.String()]++
	} else {
		h.stats["denied"]++
	}
	if dec.Allowed != w.allowed {
		h.fail("%s: Check %v, err %v; the model says %v\n  model grounds %+v rule %v cut %v", where(), dec, err, w.allowed, w.grounds, w.rule, w.cut)
	}
	if dec.Perm != perm && w.sentinel != iam.ErrUnknownPermission {
		h.fail("%s: Decision.Perm %q", where(), dec.Perm)
	}
	if dec.Allowed {
		if err != nil || !w.sound(cfg.pol, perm, dec) {
			h.fail("%s: allowed by %v (err %v), not a ground of the model %+v (rule %v)", where(), dec, err, w.grounds, w.rule)
		}
	} else {
		if w.sentinel != nil && !errors.Is(err, w.sentinel) {
			h.fail("%s: denied with %v (%v), want %v", where(), err, dec, w.sentinel)
		}
		if err != nil && !w.mayErr() {
			h.fail("%s: denied with an error %v (%v) where none is due", where(), err, dec)
		}
		if w.reason != iam.ReasonNone && dec.Reason != w.reason {
			h.fail("%s: denied for %v, want %v", where(), dec.Reason, w.reason)
		}
	}
	if !explain {
		return
	}
	ex, exErr := cfg.c.Explain(h.ctx, s, perm, o)
	if ex.Decision.Allowed != dec.Allowed {
		h.fail("%s: Explain %v (err %v), Check %v", where(), ex, exErr, dec)
	}
	if !dec.Allowed {
		if len(ex.Grounds) != 0 {
			h.fail("%s: denied, yet Explain lists grounds %v", where(), ex.Grounds)
		}
		return
	}
	if len(ex.Grounds) == 0 || exErr != nil {
		h.fail("%s: allowed, yet Explain lists no ground or fails: %v, %v", where(), ex, exErr)
	}
	for _, g := range ex.Grounds {
		if !w.sound(cfg.pol, perm, g) {
			h.fail("%s: Explain ground %v is not one of the model's %+v (rule %v)", where(), g, w.grounds, w.rule)
		}
	}
	// Every way the model knows is listed (at the granularity of reason,
	// holder and place), a rule that surely holds included.
	if w.rule == aoT && !slices.ContainsFunc(ex.Grounds, func(g iam.Decision) bool { return g.Reason == iam.ReasonRule }) {
		h.fail("%s: Explain %v misses the rule, which holds", where(), ex)
	}
	for _, mg := range w.grounds {
		found := false
		for _, g := range ex.Grounds {
			if g.Reason == mg.reason && g.Via == mg.via && g.On == mg.on {
				found = true
				break
			}
		}
		if !found {
			h.fail("%s: Explain %v misses the ground %+v", where(), ex, mg)
		}
	}
}

// comparePerms checks HasPerms on a random list against every permission's
// model answer.
func (h *aoHarness) compareHasPerms(cfg *aoCfg, si, oi int) {
	n := h.rng.IntN(4)
	perms := make([]string, n)
	want := n > 0 // an empty list is false
	for i := range perms {
		perms[i] = h.perms[h.rng.IntN(len(h.perms))]
		w := h.want(cfg, si, perms[i], oi)
		if !w.known {
			return
		}
		want = want && w.allowed
	}
	got := cfg.c.HasPerms(h.ctx, h.subjects[si].subject(), perms, h.objects[oi].object())
	h.n++
	if got != want {
		h.fail("checker %s: HasPerms(%v, %v, %v) = %v, the model says %v", cfg.name, h.subjects[si], perms, h.objects[oi], got, want)
	}
}

// sweep asks every (subject, permission, object) of every checker, the
// checkers interleaved in a random order for each question.
func (h *aoHarness) sweep(explain bool) {
	h.t.Helper()
	h.m.rebuild()
	h.xs = map[[3]int]*aoX{}
	order := make([]int, len(h.cfgs))
	for i := range order {
		order[i] = i
	}
	for si, sc := range h.subjects {
		for oi, oc := range h.objects {
			perms := h.perms
			if sc.kind == aoSubjTypedNil || oc.kind >= aoObjTypedNil {
				// Bad input is refused before anything is read: one
				// permission a sweep is enough (and a typed nil costs a
				// recovered panic).
				perms = perms[h.rng.IntN(len(perms)):][:1]
			}
			for _, perm := range perms {
				h.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for _, ci := range order {
					h.compare(h.cfgs[ci], si, perm, oi, explain)
				}
			}
			h.compareHasPerms(h.cfgs[h.rng.IntN(len(h.cfgs))], si, oi)
		}
	}
}

// ---------------------------------------------------------------------------
// Access queries against the same model.

func (h *aoHarness) listAll(cfg *aoCfg, s iam.Subject, perm, typ string) (iam.ObjectList, error) {
	limit := h.rng.IntN(4)
	var all iam.ObjectList
	after := ""
	for page := 0; ; page++ {
		l, err := cfg.c.ListObjects(h.ctx, s, perm, typ, iam.ListOptions{After: after, Limit: limit})
		if err != nil {
			return l, err
		}
		if page == 0 {
			all = l
		} else {
			all.IDs = append(all.IDs, l.IDs...)
		}
		if l.Next == "" || page > 100 {
			all.Next = ""
			return all, nil
		}
		after = l.Next
	}
}

// checkList compares ListObjects with the model on bare refs of typ:
// All for a global way (contract 4a, 4c), else exactly the objects a stored
// grant or local role on the object or a stored ancestor reaches.
func (h *aoHarness) checkList(cfg *aoCfg, si int, perm, typ string) {
	sc := h.subjects[si]
	s := sc.subject()
	pol := cfg.pol
	where := fmt.Sprintf("checker %s: ListObjects(%v, %s, %s)", cfg.name, sc, perm, typ)
	got, err := h.listAll(cfg, s, perm, typ)
	h.lists++
	if !pol.applies(perm, typ) {
		if err == nil {
			h.fail("%s: no error for a permission that does not apply", where)
		}
		return
	}
	if sc.kind == aoSubjNil || sc.kind == aoSubjTypedNil {
		if err == nil && (got.All || len(got.IDs) > 0) {
			h.fail("%s: lists %v for no subject", where, got)
		}
		return
	}
	var id string
	active, super := true, false
	if sc.kind == aoSubjFull {
		id, active, super = sc.s.id, sc.s.active, sc.s.super
	} else {
		id = sc.id
	}
	if !active || id == "" {
		if err != nil || got.All || len(got.IDs) > 0 {
			h.fail("%s: lists %v (err %v) for an inactive or anonymous subject", where, got, err)
		}
		return
	}
	if err != nil {
		h.fail("%s: %v", where, err)
	}
	if super {
		// contract 3: every declared permission, on every object
		if !got.All || got.Why.Reason != iam.ReasonSuperuser {
			h.fail("%s: %v for a superuser", where, got)
		}
		return
	}
	types := pol.types[perm]
	probe := &aoObjCase{kind: aoObjBare, ref: iam.Ref{Type: typ, ID: "~never-stored"}}
	psc := &aoSubjCase{kind: sc.kind, s: sc.s, id: sc.id}
	x := h.context(cfg.depth, psc, probe)
	global := x.globalRefs(types)
	everywhere := len(h.m.grounds(pol, x, perm, global, x.principals)) > 0
	if everywhere != got.All {
		h.fail("%s: All %v, the model says %v (%v)", where, got.All, everywhere, got)
	}
	if got.All {
		return
	}
	var want []string
	for _, r := range h.refs {
		if r.Type != typ {
			continue
		}
		x := h.context(cfg.depth, psc, &aoObjCase{kind: aoObjBare, ref: r})
		if len(h.m.grounds(pol, x, perm, x.globalRefs(types), x.principals)) > 0 {
			want = append(want, r.ID)
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, got.IDs, cmpopts.EquateEmpty()); diff != "" {
		h.fail("%s: IDs (-model +got):\n%s", where, diff)
	}
	_, ruled := pol.rules[perm]
	if got.Partial != ruled {
		h.fail("%s: Partial %v, rule %v", where, got.Partial, ruled)
	}
}

// checkHolders compares Holders with the stored holdings of every principal
// on the object (contract 4, 7d).
func (h *aoHarness) checkHolders(cfg *aoCfg, oi int, expand bool) {
	oc := h.objects[oi]
	ref := oc.theRef()
	pol := cfg.pol
	where := fmt.Sprintf("checker %s: Holders(%v, expand %v)", cfg.name, oc, expand)
	var supers []string
	for _, u := range h.users {
		if h.rng.IntN(6) == 0 {
			supers = append(supers, u)
		}
	}
	got, err := cfg.c.Holders(h.ctx, oc.object(), iam.HoldersOptions{ExpandGroups: expand, Superusers: supers})
	h.lists++
	x := h.context(cfg.depth, &aoSubjCase{kind: aoSubjNil}, oc)
	if err != nil {
		if x.cut {
			return
		}
		h.fail("%s: %v", where, err)
	}
	want := map[iam.Principal][]string{}
	var principals []iam.Principal
	for _, u := range h.users {
		principals = append(principals, iam.User(u))
	}
	for _, g := range h.groups {
		principals = append(principals, iam.Group(g))
	}
	for _, p := range principals {
		via := []iam.Principal{p}
		if expand && p.Kind == iam.KindUser {
			for _, g := range h.groups {
				if h.m.members[p.ID][g] {
					via = append(via, iam.Group(g))
				}
			}
		}
		super := p.Kind == iam.KindUser && slices.Contains(supers, p.ID)
		for _, perm := range pol.perms {
			if !pol.applies(perm, ref.Type) {
				continue
			}
			if super || len(h.m.grounds(pol, x, perm, x.globalRefs(nil), via)) > 0 {
				want[p] = append(want[p], perm)
			}
		}
	}
	gotMap := map[iam.Principal][]string{}
	for _, hd := range got.Holders {
		if len(hd.Perms) > 0 {
			gotMap[hd.Principal] = hd.Perms
		}
	}
	if diff := cmp.Diff(want, gotMap, cmpopts.EquateEmpty()); diff != "" {
		h.fail("%s: holders (-model +got):\n%s", where, diff)
	}
}

// checkPerms compares Perms with the model's answer for each permission
// applying to the object.
func (h *aoHarness) checkPerms(cfg *aoCfg, si, oi int) {
	sc, oc := h.subjects[si], h.objects[oi]
	if sc.kind == aoSubjNil || sc.kind == aoSubjTypedNil || oc.kind == aoObjTypedNil {
		return
	}
	if oc.kind == aoObjInvalid {
		if sc.kind == aoSubjPlain || sc.s.active {
			_, err := cfg.c.Perms(h.ctx, sc.subject(), oc.object())
			if !errors.Is(err, iam.ErrInvalid) {
				h.fail("checker %s: Perms(%v, %v): %v, want ErrInvalid (contract 7b)", cfg.name, sc, oc, err)
			}
		}
		return
	}
	pol := cfg.pol
	var want []string
	mayErr, mustErr := false, false
	for _, perm := range pol.perms {
		if oc.kind != aoObjNil && !pol.applies(perm, oc.theRef().Type) {
			continue
		}
		w := h.want(cfg, si, perm, oi)
		if !w.known {
			return
		}
		if w.allowed {
			want = append(want, perm)
		}
		mayErr = mayErr || w.mayErr()
		mustErr = mustErr || (!w.allowed && (w.sentinel != nil || w.rule == aoE))
	}
	got, err := cfg.c.Perms(h.ctx, sc.subject(), oc.object())
	h.lists++
	where := fmt.Sprintf("checker %s: Perms(%v, %v)", cfg.name, sc, oc)
	if err != nil {
		if !mayErr {
			h.fail("%s: %v", where, err)
		}
		return
	}
	if mustErr {
		h.fail("%s: no error, yet a check of one of them fails", where)
	}
	var names []string
	for _, d := range got {
		names = append(names, d.Perm)
	}
	if diff := cmp.Diff(want, names, cmpopts.EquateEmpty()); diff != "" {
		h.fail("%s: (-model +got):\n%s", where, diff)
	}
}

func (h *aoHarness) queries() {
	h.m.rebuild()
	h.xs = map[[3]int]*aoX{}
	cfg := h.cfgs[h.rng.IntN(len(h.cfgs))]
	for si := range h.subjects {
		for _, perm := range h.perms {
			h.checkList(cfg, si, perm, h.pick("doc", "folder"))
		}
		for oi := range h.objects {
			h.checkPerms(cfg, si, oi)
		}
	}
	for oi, oc := range h.objects {
		switch oc.kind {
		case aoObjFull, aoObjBare:
			h.checkHolders(cfg, oi, h.rng.IntN(2) == 0)
		case aoObjInvalid:
			if _, err := cfg.c.Holders(h.ctx, oc.object(), iam.HoldersOptions{}); !errors.Is(err, iam.ErrInvalid) {
				h.fail("checker %s: Holders(%v): %v, want ErrInvalid (contract 7b)", cfg.name, oc, err)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Writes, applied to the store (through a Checker or directly) and to the
// model alike.

func (h *aoHarness) randHolder() iam.Principal {
	if h.rng.IntN(3) == 0 {
		return iam.Group(h.groups[h.rng.IntN(len(h.groups))])
	}
	return iam.User(h.users[h.rng.IntN(len(h.users))])
}

func (h *aoHarness) randRef() iam.Ref { return h.refs[h.rng.IntN(len(h.refs))] }

func (h *aoHarness) randOn() iam.Ref {
	switch h.rng.IntN(10) {
	case 0:
		return iam.GlobalScope()
	case 1, 2:
		return iam.TypeScope(h.pick("doc", "folder"))
	}
	return h.randRef()
}

// onFor picks a place perm may be granted under pol's declared types.
func (h *aoHarness) onFor(pol *aoPol, perm string) iam.Ref {
	for range 20 {
		on := h.randOn()
		if pol.grantErr(iam.Grant{Holder: iam.User("x"), Perm: perm, On: on}) == nil {
			return on
		}
	}
	return iam.GlobalScope()
}

// randExp: no expiry, or one on the clock's minute grid, in the past,
// exactly now or ahead (contract 7d).
func (h *aoHarness) randExp() time.Time {
	if h.rng.IntN(2) == 0 {
		return time.Time{}
	}
	return h.m.now.Add(time.Duration(h.rng.IntN(6)-1) * time.Minute)
}

func (h *aoHarness) storeGrant(k aoGKey, exp time.Time) {
	require.NoError(h.t, h.store.Grant(h.ctx, k.grant(exp)))
	h.m.grants[k] = exp
	h.logf("store.Grant(%v exp %v)", k.grant(exp), h.expStr(exp))
}

func (h *aoHarness) setParents(ref iam.Ref, parents []iam.Ref) {
	require.NoError(h.t, h.store.SetParents(h.ctx, ref, parents))
	if len(parents) == 0 {
		delete(h.m.parents, ref)
	} else {
		h.m.parents[ref] = slices.Clone(parents)
	}
	h.logf("store.SetParents(%v, %v)", ref, parents)
}

func (h *aoHarness) expStr(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return "base" + t.Sub(aoBase).String()
}

func (h *aoHarness) randRefs(max int) []iam.Ref {
	n := h.rng.IntN(max + 1)
	var out []iam.Ref
	for range n {
		r := h.randRef()
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func (h *aoHarness) existingGrant() (aoGKey, bool) {
	if len(h.m.grants) == 0 {
		return aoGKey{}, false
	}
	keys := make([]aoGKey, 0, len(h.m.grants))
	for k := range h.m.grants {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	return keys[h.rng.IntN(len(keys))], true
}

// writerFor returns a Checker whose policy validates k, or nil for the
// store itself.
func (h *aoHarness) writerFor(k aoGKey) *aoCfg {
	cfg := h.cfgs[h.rng.IntN(2)]
	if cfg.pol.grantErr(k.grant(time.Time{})) == nil && h.rng.IntN(3) > 0 {
		return cfg
	}
	return nil
}

func (h *aoHarness) write() {
	h.t.Helper()
	ctx := h.ctx
	op := h.rng.IntN(23)
	if h.sparse && len(h.m.grants) > 2 && h.rng.IntN(2) == 0 {
		op = h.pick2(5, 20)
	}
	switch op {
	case 20, 21: // all grants on one ref removed: the object is deleted
		h.deleteGrantsOn()
	case 22: // a write under a cancelled context fails and leaves nothing
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		k := aoGKey{holder: h.randHolder(), perm: aoRead, on: h.randOn()}
		var err error
		switch h.rng.IntN(3) {
		case 0:
			err = h.store.Grant(cctx, k.grant(time.Time{}))
		case 1:
			err = h.cfgs[0].c.Grant(cctx, k.grant(time.Time{}))
		default:
			if old, ok := h.existingGrant(); ok {
				err = h.store.DeleteGrantsOn(cctx, old.on)
			} else {
				err = h.store.AddMember(cctx, "u1", "g1")
			}
		}
		h.logf("a write under a cancelled context = %v", err)
		require.ErrorIs(h.t, err, context.Canceled)
	case 19: // a grant on a Ref that names nothing: refused (contract 7b)
		g := iam.Grant{Holder: h.randHolder(), Perm: aoRead, On: h.pickRef(iam.Ref{}, iam.Ref{Type: "doc"}, iam.Ref{ID: "1"})}
		var err error
		if h.rng.IntN(2) == 0 {
			err = h.cfgs[h.rng.IntN(2)].c.Grant(ctx, g)
		} else {
			err = h.store.Grant(ctx, g)
		}
		require.ErrorIs(h.t, err, iam.ErrInvalid, "contract 7b: %#v", g)
	case 0, 1, 2: // a validated grant, perhaps one the policy refuses
		cfg := h.cfgs[h.rng.IntN(2)]
		k := aoGKey{holder: h.randHolder()}
		if h.rng.IntN(2) == 0 {
			k.perm = cfg.pol.perms[h.rng.IntN(len(cfg.pol.perms))]
			k.on = h.onFor(cfg.pol, k.perm)
			if h.rng.IntN(8) == 0 {
				k.on = h.randOn()
			}
		} else {
			k.role = cfg.pol.roles[h.rng.IntN(len(cfg.pol.roles))]
			k.on = h.randOn()
		}
		exp := h.randExp()
		err := cfg.c.Grant(ctx, k.grant(exp))
		h.logf("%s.Grant(%v exp %v) = %v", cfg.name, k.grant(exp), h.expStr(exp), err)
		if want := cfg.pol.grantErr(k.grant(exp)); want != nil {
			require.ErrorIs(h.t, err, want, "contract 7: %v", k.grant(exp))
			return
		}
		require.NoError(h.t, err)
		h.m.grants[k] = exp
	case 3, 4: // a grant the store takes unvalidated: names a policy may not know
		k := aoGKey{holder: h.randHolder(), on: h.randOn()}
		if h.rng.IntN(2) == 0 {
			k.perm = h.pick(aoRead, aoView, aoAdmin, aoPub, aoAOnly, aoBOnly, aoGhost, iam.PermManageGrants)
		} else {
			k.role = h.pick("viewer", "editor", "owner", "admin", "foldr", "mgr", "aonly", "bonly", "ghost.role")
		}
		h.storeGrant(k, h.randExp())
	case 5, 6: // revoke, whatever the expiry named
		k, ok := h.existingGrant()
		if !ok {
			return
		}
		g := k.grant(h.randExp())
		if cfg := h.writerFor(k); cfg != nil {
			require.NoError(h.t, cfg.c.Revoke(ctx, g))
			h.logf("%s.Revoke(%v)", cfg.name, g)
		} else {
			require.NoError(h.t, h.store.Revoke(ctx, g))
			h.logf("store.Revoke(%v)", g)
		}
		delete(h.m.grants, k)
	case 7: // grant again with another expiry: it replaces the old one
		k, ok := h.existingGrant()
		if !ok {
			return
		}
		exp := h.randExp()
		if cfg := h.writerFor(k); cfg != nil {
			require.NoError(h.t, cfg.c.Grant(ctx, k.grant(exp)))
			h.logf("%s.Grant again(%v exp %v)", cfg.name, k.grant(exp), h.expStr(exp))
			h.m.grants[k] = exp
		} else {
			h.storeGrant(k, exp)
		}
	case 8:
		h.deleteGrantsOn()
	case 9, 10: // a profile
		holder := h.randHolder()
		exp := h.randExp()
		if h.rng.IntN(3) > 0 {
			cfg := h.cfgs[h.rng.IntN(2)]
			role := cfg.pol.roles[h.rng.IntN(len(cfg.pol.roles))]
			p := iam.Profile{Holder: holder, Role: role, Active: h.rng.IntN(6) > 0, ExpiresAt: exp}
			err := cfg.c.AssignRole(ctx, p)
			h.logf("%s.AssignRole(%+v) = %v", cfg.name, p, err)
			if !p.Active {
				require.ErrorIs(h.t, err, iam.ErrInvalid, "contract 7b")
				return
			}
			require.NoError(h.t, err)
			h.m.profiles[aoPKey{holder, role}] = aoProf{true, exp}
		} else {
			role := h.pick("viewer", "editor", "owner", "admin", "foldr", "mgr", "aonly", "bonly", "ghost.role")
			p := iam.Profile{Holder: holder, Role: role, Active: h.rng.IntN(2) == 0, ExpiresAt: exp}
			require.NoError(h.t, h.store.PutProfile(ctx, p))
			h.logf("store.PutProfile(%+v)", p)
			h.m.profiles[aoPKey{holder, role}] = aoProf{p.Active, exp}
		}
	case 11: // switch a profile on or off
		holder := h.randHolder()
		cfg := h.cfgs[h.rng.IntN(2)]
		role := cfg.pol.roles[h.rng.IntN(len(cfg.pol.roles))]
		active := h.rng.IntN(2) == 0
		var err error
		if h.rng.IntN(2) == 0 {
			err = cfg.c.SetRoleActive(ctx, holder, role, active)
			h.logf("%s.SetRoleActive(%v, %s, %v) = %v", cfg.name, holder, role, active, err)
		} else {
			err = h.store.SetProfileActive(ctx, holder, role, active)
			h.logf("store.SetProfileActive(%v, %s, %v) = %v", holder, role, active, err)
		}
		k := aoPKey{holder, role}
		p, ok := h.m.profiles[k]
		if !ok {
			require.ErrorIs(h.t, err, iam.ErrNotFound)
			return
		}
		require.NoError(h.t, err)
		p.active = active
		h.m.profiles[k] = p
	case 12: // remove a profile
		holder := h.randHolder()
		cfg := h.cfgs[h.rng.IntN(2)]
		role := cfg.pol.roles[h.rng.IntN(len(cfg.pol.roles))]
		if h.rng.IntN(2) == 0 {
			require.NoError(h.t, cfg.c.RemoveRole(ctx, holder, role))
		} else {
			require.NoError(h.t, h.store.DeleteProfile(ctx, holder, role))
		}
		h.logf("remove profile %v %s", holder, role)
		delete(h.m.profiles, aoPKey{holder, role})
	case 13: // a membership
		u, g := h.users[h.rng.IntN(len(h.users))], h.groups[h.rng.IntN(len(h.groups))]
		if h.rng.IntN(2) == 0 {
			require.NoError(h.t, h.store.AddMember(ctx, u, g))
			h.logf("store.AddMember(%s, %s)", u, g)
			if h.m.members[u] == nil {
				h.m.members[u] = map[string]bool{}
			}
			h.m.members[u][g] = true
		} else {
			require.NoError(h.t, h.store.RemoveMember(ctx, u, g))
			h.logf("store.RemoveMember(%s, %s)", u, g)
			delete(h.m.members[u], g)
		}
	case 14: // stored parents: chains, diamonds, cycles
		h.setParents(h.randRef(), h.randRefs(2))
	case 15: // the application's object changes (same Ref)
		var fulls []*aoObjCase
		for _, o := range h.objects {
			if o.kind == aoObjFull {
				fulls = append(fulls, o)
			}
		}
		o := fulls[h.rng.IntN(len(fulls))].o
		switch h.rng.IntN(3) {
		case 0:
			o.parents = h.randRefs(2)
		case 1:
			o.refuse = !o.refuse
		default:
			o.owner = h.users[h.rng.IntN(len(h.users))]
		}
		h.logf("object %v now parents %v refuse %v owner %s", o.ref, o.parents, o.refuse, o.owner)
	case 16: // the application's user changes (same ID)
		var fulls []*aoSubject
		for _, s := range h.subjects {
			if s.kind == aoSubjFull {
				fulls = append(fulls, s.s)
			}
		}
		s := fulls[h.rng.IntN(len(fulls))]
		switch h.rng.IntN(3) {
		case 0:
			s.active = !s.active
		case 1:
			s.super = !s.super
		default:
			var gs []string
			for _, g := range h.groups {
				if h.rng.IntN(6) == 0 {
					gs = append(gs, g)
				}
			}
			s.groups = gs
		}
		h.logf("subject %q now active %v super %v groups %v", s.id, s.active, s.super, s.groups)
	case 17: // the clock moves: a minute or two, onto an expiry, or back
		switch h.rng.IntN(6) {
		case 0:
			var exps []time.Time
			for _, e := range h.m.grants {
				if !e.IsZero() {
					exps = append(exps, e)
				}
			}
			for _, p := range h.m.profiles {
				if !p.exp.IsZero() {
					exps = append(exps, p.exp)
				}
			}
			if len(exps) > 0 {
				slices.SortFunc(exps, time.Time.Compare)
				h.m.now = exps[h.rng.IntN(len(exps))]
			}
		case 1:
			if h.backwards {
				h.m.now = h.m.now.Add(-time.Minute)
			}
		default:
			h.m.now = h.m.now.Add(time.Duration(1+h.rng.IntN(2)) * time.Minute)
		}
		h.logf("clock at %v", h.expStr(h.m.now))
	case 18: // several writes in one transaction, perhaps rolled back
		h.transact()
	}
}

// deleteGrantsOn removes every grant on one ref, usually one some grant
// names, so that answers kept for it must be retired.
func (h *aoHarness) deleteGrantsOn() {
	ctx := h.ctx
	on := h.randOn()
	if h.rng.IntN(5) > 0 {
		if k, ok := h.existingGrant(); ok {
			on = k.on
		}
	}
	require.NoError(h.t, h.store.DeleteGrantsOn(ctx, on))
	h.logf("store.DeleteGrantsOn(%v)", on)
	for k := range h.m.grants {
		if k.on == on {
			delete(h.m.grants, k)
		}
	}
}

func (h *aoHarness) transact() {
	type change struct {
		k      aoGKey
		exp    time.Time
		revoke bool
		prof   *iam.Profile
	}
	var changes []change
	for range 1 + h.rng.IntN(3) {
		switch h.rng.IntN(3) {
		case 0:
			k := aoGKey{holder: h.randHolder(), on: h.randOn()}
			if h.rng.IntN(2) == 0 {
				k.perm = h.pick(aoRead, aoView, aoAdmin)
			} else {
				k.role = h.pick("viewer", "editor", "owner", "admin")
			}
			changes = append(changes, change{k: k, exp: h.randExp()})
		case 1:
			if k, ok := h.existingGrant(); ok {
				changes = append(changes, change{k: k, revoke: true})
			}
		default:
			p := iam.Profile{Holder: h.randHolder(), Role: h.pick("viewer", "editor", "owner", "admin"), Active: true, ExpiresAt: h.randExp()}
			changes = append(changes, change{prof: &p})
		}
	}
	rollback := h.rng.IntN(4) == 0
	cancelled := !rollback && h.rng.IntN(6) == 0
	errRollback := errors.New("ao: roll back")
	tctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	err := h.store.Transact(tctx, func(ctx context.Context, tx iam.Store) error {
		for _, c := range changes {
			var err error
			switch {
			case c.prof != nil:
				err = tx.PutProfile(ctx, *c.prof)
			case c.revoke:
				err = tx.Revoke(ctx, c.k.grant(time.Time{}))
			default:
				err = tx.Grant(ctx, c.k.grant(c.exp))
			}
			if err != nil {
				return err
			}
		}
		if rollback {
			return errRollback
		}
		if cancelled {
			cancel() // while fn runs: nothing of it is kept
		}
		return nil
	})
	h.logf("store.Transact(%d changes, rollback %v, cancelled %v) = %v", len(changes), rollback, cancelled, err)
	switch {
	case rollback:
		require.ErrorIs(h.t, err, errRollback)
		return
	case cancelled:
		require.ErrorIs(h.t, err, context.Canceled)
		return
	}
	require.NoError(h.t, err)
	for _, c := range changes {
		switch {
		case c.prof != nil:
			h.m.profiles[aoPKey{c.prof.Holder, c.prof.Role}] = aoProf{true, c.prof.ExpiresAt}
		case c.revoke:
			delete(h.m.grants, c.k)
		default:
			h.m.grants[c.k] = c.exp
		}
	}
}

// ---------------------------------------------------------------------------

// aoRaceEnabled reports whether the test binary runs under the race
// detector, which makes every check many times slower.
func aoRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// TestAttackOracle compares Check, HasPerm, Decide, HasPerms and Explain
// (its grounds sound and complete), and ListObjects, Holders and Perms,
// with an independent brute-force model of the contract, over random small
// fixtures on one MemoryStore: every (subject, permission, object) of the
// fixture is asked of five Checkers, in a random order per question, after
// every write and every move of their shared clock. The Checkers are policy
// A with the default answer cache, policy B (the same role names meaning
// other things) with a cache of one to three slots, policy A uncached, B
// again and A with implicit permissions: more policies than a Holding or a
// GrantSet keeps compiled forms for.
//
// A fixture has users with and without SubjectGroups, a plain subject
// sharing a user's ID, anonymous ones (one claiming superuser and groups),
// nil and typed-nil subjects; objects with their own parents and a refusal
// of global roles, bare Refs (some the same Refs as those objects), invalid
// Refs, model-level checks. Some fixtures are dense (compiled grant sets),
// some sparse (the store's "no role granted anywhere" kind of facts flip),
// some deep (a chain around MaxDepth, also past the cap of 64), some let
// the clock step back. Writes are grants, revocations and re-grants with
// another expiry (past, exactly now, ahead) through either Checker or the
// store unvalidated, DeleteGrantsOn, profiles put, switched, expiring and
// removed, memberships, stored parents (chains, diamonds, cycles), changes
// of the application's own users and objects, transactions (committed,
// rolled back, cancelled) and writes under a cancelled context.
//
// Mutants planted in the library one at a time, each caught by this test:
// an expired grant still counted on HasPerm's quick path; the answer cache
// ignoring the store's generation; DeleteGrantsOn publishing without a new
// generation (a cached answer survives the write); SubjectGroups ignored;
// roles granted on the type taken by an object refusing global roles;
// ancestry followed one level short; a profile live at its expiry instant;
// a Holding's compiled form for one policy used by another; ListObjects
// walking down from expired grants; Holders listing expired profiles.
//
// Typed nils here are the kind whose methods panic; see
// TestTypedNilWithoutPanic (typednil_test.go) for those that do not.
//
// contract 2, contract 3, contract 4, contract 5, contract 6, contract 7,
// contract 7b, contract 7d, contract 14, contract 14b, contract 15
func TestAttackOracle(t *testing.T) {
	fixtures, steps := 10, 60
	if aoRaceEnabled() {
		fixtures, steps = 6, 20
	}
	if testing.Short() {
		fixtures = 4
	}
	start := time.Now()
	total, lists := 0, 0
	stats := map[string]int{}
	for f := range fixtures {
		h := newAOHarness(t, uint64(f)+1)
		h.backwards = f%3 == 2
		if !h.sparse {
			for range 6 + h.rng.IntN(6) {
				h.write()
			}
		}
		for step := range steps {
			h.sweep(step%3 == 0)
			if step%3 == 0 {
				h.queries()
			}
			// Mostly one write between sweeps, so the first question after
			// it meets what the previous sweep left in the caches.
			for range 1 + h.rng.IntN(4)/3 {
				h.write()
			}
		}
		h.sweep(true)
		total += h.n
		lists += h.lists
		for k, v := range h.stats {
			stats[k] += v
		}
	}
	// What was asked, so that a change of the fixtures that makes the
	// comparison vacuous shows.
	t.Logf("answers: %v", stats)
	t.Logf("%d checks compared, %d access queries, in %v", total, lists, time.Since(start))
}
