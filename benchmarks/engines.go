package benchmarks

import (
	"context"
	"errors"
	"fmt"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/iamgo/iam"
)

// Libraries are the engines compared, in table order.
// "iam" is a Checker as iam.New makes it (HasPerm answers repeated
// questions from its answer cache); "iam_nocache" is the same Checker with
// the answer cache off (iam.Options{CacheSlots: -1}): every check does the
// lookups.
var Libraries = []string{"iam", "iam_nocache", "casbin", "casbin_cached", "opa"}

// Engine is one library loaded with one scenario's data.
type Engine interface {
	// Prepare builds each request's arguments in the library's own form,
	// ahead of time, and returns a function that decides rs[i]. The timed
	// loop calls it; it is safe for concurrent use.
	Prepare(rs []Request) func(i int) (bool, error)
	// Revoke removes the role (RBAC) that user holds, through the
	// library's own write API.
	Revoke(user int) error
}

// Options tune Build.
type Options struct {
	// Concurrent: the engine is called from several goroutines. casbin's
	// plain Enforcer is not safe for that; it becomes a SyncedEnforcer.
	Concurrent bool
}

// Build loads scenario s into the named library.
func Build(lib string, s *Scenario, o Options) (Engine, error) {
	switch lib {
	case "iam":
		return buildIAM(s, iam.Options{})
	case "iam_nocache":
		return buildIAM(s, iam.Options{CacheSlots: -1})
	case "casbin":
		return buildCasbin(s, false, o.Concurrent)
	case "casbin_cached":
		return buildCasbin(s, true, o.Concurrent)
	case "opa":
		return buildOPA(s)
	}
	return nil, fmt.Errorf("unknown library %q", lib)
}

// ---- iam ----

type iamUser struct{ id string }

func (u *iamUser) SubjectID() string { return u.id }

type iamPost struct {
	ref   iam.Ref
	owner string
}

func (p *iamPost) ObjectRef() iam.Ref { return p.ref }

type iamEngine struct {
	s     *Scenario
	c     *iam.Checker
	store *iam.MemoryStore
}

// buildIAM models the scenarios the way an iam application would:
//   - RBAC: each casbin role is an iam.Role granting "dataN.read"; a user's
//     role is a Profile (roles are profiles); a check is model-level.
//   - ObjectGrants: Grant{Holder: User|Group, Perm: "doc.view", On: Ref{doc, id}},
//     memberships with AddMember.
//   - OwnerRule: Rules{"post.edit": Or(HasRole(editor), Pred(is_owner))},
//     editors hold the role through a Profile.
func buildIAM(s *Scenario, o iam.Options) (Engine, error) {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	var pol iam.Policy
	var write func(ctx context.Context, tx iam.Store) error
	switch s.Kind {
	case RBAC:
		pol.Roles = make([]*iam.Role, s.Roles)
		for r := range pol.Roles {
			pol.Roles[r] = &iam.Role{Name: s.Names.Role[r], Perms: []string{s.Names.Perm[s.RoleResource[r]]}}
		}
		write = func(ctx context.Context, tx iam.Store) error {
			for u, r := range s.UserRole {
				if err := tx.PutProfile(ctx, iam.Profile{Holder: iam.User(s.Names.User[u]), Role: s.Names.Role[r], Active: true}); err != nil {
					return err
				}
			}
			return nil
		}
	case ObjectGrants:
		pol.Perms = []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}}
		write = func(ctx context.Context, tx iam.Store) error {
			for u, gs := range s.Members {
				for _, g := range gs {
					if err := tx.AddMember(ctx, s.Names.User[u], s.Names.Group[g]); err != nil {
						return err
					}
				}
			}
			for _, g := range s.Grants {
				holder := iam.User(s.Names.User[g.Holder])
				if g.Group {
					holder = iam.Group(s.Names.Group[g.Holder])
				}
				if err := tx.Grant(ctx, iam.Grant{Holder: holder, Perm: "doc.view", On: iam.Ref{Type: "doc", ID: s.Names.Doc[g.Doc]}}); err != nil {
					return err
				}
			}
			return nil
		}
	case OwnerRule:
		editor := &iam.Role{Name: "blog.editor", Perms: []string{"post.view"}}
		isOwner := iam.Pred("is_owner", func(_ context.Context, u *iamUser, p *iamPost) bool {
			return p != nil && p.owner == u.id
		})
		pol.Roles = []*iam.Role{editor}
		pol.Rules = map[string]iam.Predicate{"post.edit": iam.Or(iam.HasRole(editor), isOwner)}
		write = func(ctx context.Context, tx iam.Store) error {
			for u, e := range s.Editor {
				if !e {
					continue
				}
				if err := tx.PutProfile(ctx, iam.Profile{Holder: iam.User(s.Names.User[u]), Role: editor.Name, Active: true}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := store.Transact(ctx, write); err != nil {
		return nil, err
	}
	c, err := iam.NewWithOptions(pol, store, o)
	if err != nil {
		return nil, err
	}
	return &iamEngine{s: s, c: c, store: store}, nil
}

func (e *iamEngine) Prepare(rs []Request) func(i int) (bool, error) {
	s := e.s
	subs := make([]iam.Subject, len(rs))
	perms := make([]string, len(rs))
	objs := make([]iam.Object, len(rs))
	for i, q := range rs {
		subs[i] = &iamUser{id: s.Names.User[q.User]}
		switch s.Kind {
		case RBAC:
			perms[i] = s.Names.Perm[q.Obj]
		case ObjectGrants:
			perms[i] = "doc.view"
			objs[i] = iam.Ref{Type: "doc", ID: s.Names.Doc[q.Obj]}
		case OwnerRule:
			perms[i] = "post.edit"
			objs[i] = &iamPost{ref: iam.Ref{Type: "blog.post", ID: s.Names.Post[q.Obj]}, owner: s.Names.User[s.PostOwner[q.Obj]]}
		}
	}
	ctx := context.Background()
	c := e.c
	return func(i int) (bool, error) {
		return c.HasPerm(ctx, subs[i], perms[i], objs[i]), nil
	}
}

func (e *iamEngine) Revoke(user int) error {
	if e.s.Kind != RBAC {
		return errors.New("revoke: RBAC scenarios only")
	}
	return e.store.DeleteProfile(context.Background(), iam.User(e.s.Names.User[user]), e.s.Names.Role[e.s.UserRole[user]])
}

// ---- casbin ----

// CasbinRBACModel is casbin's examples/rbac_model.conf: used for RBAC and
// for per-object grants (a group is a casbin role).
const CasbinRBACModel = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
`

// CasbinOwnerModel is casbin's ABAC idiom (r.obj.Owner) with the editor
// role as a grouping policy: no p lines, the matcher is evaluated once.
const CasbinOwnerModel = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == "edit" && (r.sub == r.obj.Owner || g(r.sub, "editor"))
`

// CasbinPost is the object of the owner_rule scenario for casbin. It
// implements casbin.CacheableParam, so the SyncedCachedEnforcer can cache
// requests about it.
type CasbinPost struct {
	ID    string
	Owner string
}

// GetCacheKey implements casbin.CacheableParam.
func (p *CasbinPost) GetCacheKey() string { return p.ID + "/" + p.Owner }

type enforcer interface {
	Enforce(rvals ...any) (bool, error)
	RemoveGroupingPolicy(params ...any) (bool, error)
}

type casbinEngine struct {
	s *Scenario
	e enforcer
}

func buildCasbin(s *Scenario, cached, concurrent bool) (Engine, error) {
	text := CasbinRBACModel
	if s.Kind == OwnerRule {
		text = CasbinOwnerModel
	}
	m, err := model.NewModelFromString(text)
	if err != nil {
		return nil, err
	}
	var p, g [][]string
	switch s.Kind {
	case RBAC:
		p = make([][]string, s.Roles)
		for r := range p {
			p[r] = []string{s.Names.Role[r], s.Names.Resource[s.RoleResource[r]], "read"}
		}
		g = make([][]string, s.Users)
		for u, r := range s.UserRole {
			g[u] = []string{s.Names.User[u], s.Names.Role[r]}
		}
	case ObjectGrants:
		p = make([][]string, len(s.Grants))
		for i, gr := range s.Grants {
			holder := s.Names.User[gr.Holder]
			if gr.Group {
				holder = s.Names.Group[gr.Holder]
			}
			p[i] = []string{holder, s.Names.Doc[gr.Doc], "view"}
		}
		for u, gs := range s.Members {
			for _, gi := range gs {
				g = append(g, []string{s.Names.User[u], s.Names.Group[gi]})
			}
		}
	case OwnerRule:
		for u, e := range s.Editor {
			if e {
				g = append(g, []string{s.Names.User[u], "editor"})
			}
		}
	}
	var (
		e   enforcer
		add func() error
	)
	switch {
	case cached:
		ce, err := casbin.NewSyncedCachedEnforcer(m)
		if err != nil {
			return nil, err
		}
		e = ce
		add = func() error { return addCasbin(ce.AddPolicies, ce.AddGroupingPolicies, p, g) }
	case concurrent:
		se, err := casbin.NewSyncedEnforcer(m)
		if err != nil {
			return nil, err
		}
		e = se
		add = func() error { return addCasbin(se.AddPolicies, se.AddGroupingPolicies, p, g) }
	default:
		pe, err := casbin.NewEnforcer(m)
		if err != nil {
			return nil, err
		}
		e = pe
		add = func() error { return addCasbin(pe.AddPolicies, pe.AddGroupingPolicies, p, g) }
	}
	if err := add(); err != nil {
		return nil, err
	}
	return &casbinEngine{s: s, e: e}, nil
}

func addCasbin(addP, addG func([][]string) (bool, error), p, g [][]string) error {
	if len(p) > 0 {
		if ok, err := addP(p); err != nil || !ok {
			return fmt.Errorf("casbin: adding %d policies: %v %v", len(p), ok, err)
		}
	}
	if len(g) > 0 {
		if ok, err := addG(g); err != nil || !ok {
			return fmt.Errorf("casbin: adding %d grouping policies: %v %v", len(g), ok, err)
		}
	}
	return nil
}

func (e *casbinEngine) Prepare(rs []Request) func(i int) (bool, error) {
	s := e.s
	args := make([][]any, len(rs))
	for i, q := range rs {
		switch s.Kind {
		case RBAC:
			args[i] = []any{s.Names.User[q.User], s.Names.Resource[q.Obj], "read"}
		case ObjectGrants:
			args[i] = []any{s.Names.User[q.User], s.Names.Doc[q.Obj], "view"}
		case OwnerRule:
			args[i] = []any{s.Names.User[q.User], &CasbinPost{ID: s.Names.Post[q.Obj], Owner: s.Names.User[s.PostOwner[q.Obj]]}, "edit"}
		}
	}
	en := e.e
	return func(i int) (bool, error) { return en.Enforce(args[i]...) }
}

func (e *casbinEngine) Revoke(user int) error {
	if e.s.Kind != RBAC {
		return errors.New("revoke: RBAC scenarios only")
	}
	ok, err := e.e.RemoveGroupingPolicy(e.s.Names.User[user], e.s.Names.Role[e.s.UserRole[user]])
	if err == nil && !ok {
		err = errors.New("casbin: RemoveGroupingPolicy removed nothing")
	}
	return err
}

// ---- OPA ----

// The rego policies. Data is keyed by ID, so every lookup is an indexed
// read of the store, not a scan.
const (
	RegoRBAC = `package authz

default allow := false

# data.user_roles[user] = [role]; data.role_perms[role][resource][action] = true
allow if {
	some r in data.user_roles[input.sub]
	data.role_perms[r][input.obj][input.act]
}
`
	RegoObjects = `package authz

default allow := false

# data.user_grants[doc][user][action] = true
allow if data.user_grants[input.obj][input.sub][input.act]

# data.members[user] = [group]; data.group_grants[doc][group][action] = true
allow if {
	some g in data.members[input.sub]
	data.group_grants[input.obj][g][input.act]
}
`
	RegoOwner = `package authz

default allow := false

allow if {
	input.act == "edit"
	input.obj.owner == input.sub
}

# data.editors[user] = true
allow if {
	input.act == "edit"
	data.editors[input.sub]
}
`
)

type opaEngine struct {
	s     *Scenario
	store storage.Store
	q     rego.PreparedEvalQuery
}

func buildOPA(s *Scenario) (Engine, error) {
	data := map[string]any{}
	var src string
	switch s.Kind {
	case RBAC:
		src = RegoRBAC
		ur := make(map[string]any, s.Users)
		for u, r := range s.UserRole {
			ur[s.Names.User[u]] = []any{s.Names.Role[r]}
		}
		rp := make(map[string]any, s.Roles)
		for r := range s.Roles {
			rp[s.Names.Role[r]] = map[string]any{s.Names.Resource[s.RoleResource[r]]: map[string]any{"read": true}}
		}
		data["user_roles"], data["role_perms"] = ur, rp
	case ObjectGrants:
		src = RegoObjects
		ug := map[string]any{}
		gg := map[string]any{}
		for _, gr := range s.Grants {
			doc := s.Names.Doc[gr.Doc]
			m, names := ug, s.Names.User
			if gr.Group {
				m, names = gg, s.Names.Group
			}
			d, ok := m[doc].(map[string]any)
			if !ok {
				d = map[string]any{}
				m[doc] = d
			}
			d[names[gr.Holder]] = map[string]any{"view": true}
		}
		members := make(map[string]any, s.Users)
		for u, gs := range s.Members {
			l := make([]any, len(gs))
			for i, g := range gs {
				l[i] = s.Names.Group[g]
			}
			members[s.Names.User[u]] = l
		}
		data["user_grants"], data["group_grants"], data["members"] = ug, gg, members
	case OwnerRule:
		src = RegoOwner
		ed := map[string]any{}
		for u, e := range s.Editor {
			if e {
				ed[s.Names.User[u]] = true
			}
		}
		data["editors"] = ed
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(false))
	q, err := rego.New(
		rego.Query("data.authz.allow"),
		rego.Module("authz.rego", src),
		rego.Store(store),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, err
	}
	return &opaEngine{s: s, store: store, q: q}, nil
}

// Prepare builds each input as an ast.Value once (rego.EvalParsedInput),
// the fastest documented way to pass input to a prepared query.
func (e *opaEngine) Prepare(rs []Request) func(i int) (bool, error) {
	s := e.s
	inputs := make([]ast.Value, len(rs))
	for i, q := range rs {
		in := map[string]any{"sub": s.Names.User[q.User]}
		switch s.Kind {
		case RBAC:
			in["obj"], in["act"] = s.Names.Resource[q.Obj], "read"
		case ObjectGrants:
			in["obj"], in["act"] = s.Names.Doc[q.Obj], "view"
		case OwnerRule:
			in["obj"] = map[string]any{"id": s.Names.Post[q.Obj], "owner": s.Names.User[s.PostOwner[q.Obj]]}
			in["act"] = "edit"
		}
		v, err := ast.InterfaceToValue(in)
		if err != nil {
			panic(err)
		}
		inputs[i] = v
	}
	ctx := context.Background()
	return func(i int) (bool, error) {
		rs, err := e.q.Eval(ctx, rego.EvalParsedInput(inputs[i]))
		if err != nil {
			return false, err
		}
		if len(rs) != 1 || len(rs[0].Expressions) != 1 {
			return false, fmt.Errorf("opa: unexpected result %v", rs)
		}
		allow, ok := rs[0].Expressions[0].Value.(bool)
		if !ok {
			return false, fmt.Errorf("opa: non-boolean result %v", rs[0].Expressions[0].Value)
		}
		return allow, nil
	}
}

// Revoke deletes the user's roles from the store in a write transaction;
// the prepared query reads the store afresh on each evaluation.
func (e *opaEngine) Revoke(user int) error {
	if e.s.Kind != RBAC {
		return errors.New("revoke: RBAC scenarios only")
	}
	path := storage.Path{"user_roles", e.s.Names.User[user]}
	return storage.WriteOne(context.Background(), e.store, storage.RemoveOp, path, nil)
}
