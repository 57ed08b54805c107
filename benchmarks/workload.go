package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist/cache"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/internal/workload"
)

// MixEngine is one library loaded with a workload's grants, for the
// realistic mixes (BenchmarkWorkload): the root package's generator, so
// iam, casbin and OPA answer the same questions over the same grants as
// the root BenchmarkWorkload.
type MixEngine interface {
	// Prepare builds every pool question's arguments in the library's own
	// form, ahead of time, and returns a function that decides question k
	// (an index into the workload's Pool). The function is for one
	// goroutine at a time.
	Prepare() func(k int) (bool, error)
	// Grant and Revoke write one grant through the library's own write
	// API.
	Grant(g workload.Grant) error
	Revoke(g workload.Grant) error
}

// mixVerifier is a MixEngine whose Prepare answers from a cache that was
// not filled by asking the library (casbin_cached, see Warm): its
// uncached decisions are the ones to verify.
type mixVerifier interface {
	PrepareUncached() func(k int) (bool, error)
}

// mixWarmer is a MixEngine that warms itself rather than by answering
// every question once (casbin_cached, see Warm).
type mixWarmer interface {
	Warm()
}

// BuildMix loads w into the named library (one of Libraries). Only flat
// workloads (one level of objects, no groups) are modelled for every
// library.
func BuildMix(lib string, w *workload.Workload) (MixEngine, error) {
	if len(w.Spec.Levels) != 1 || w.Spec.Groups != 0 {
		return nil, fmt.Errorf("workload %s: only flat workloads are modelled for every library", w.Spec.Name)
	}
	switch lib {
	case "iam":
		return buildIAMMix(w, iam.Options{})
	case "iam_nocache":
		return buildIAMMix(w, iam.Options{CacheSlots: -1})
	case "casbin":
		return buildCasbinMix(w, false)
	case "casbin_cached":
		return buildCasbinMix(w, true)
	case "opa":
		return buildOPAMix(w)
	}
	return nil, fmt.Errorf("unknown library %q", lib)
}

// action is the permission's action for casbin and OPA: "doc.view" on a
// doc is "view".
func action(perm, typ string) string { return strings.TrimPrefix(perm, typ+".") }

// ---- iam ----

type iamMix struct {
	w *workload.Workload
	c *iam.Checker
}

func iamGrant(g workload.Grant) iam.Grant {
	return iam.Grant{Holder: iam.User(g.User), Perm: g.Perm, On: iam.Ref{Type: g.ObjectType, ID: g.ObjectID}}
}

// buildIAMMix loads every grant as Grant{Holder: User, Perm, On: Ref{doc,
// id}} in one Update, as the root benchmark does, and checks with a
// Checker over the memory store.
func buildIAMMix(w *workload.Workload, o iam.Options) (MixEngine, error) {
	store := iam.NewMemoryStore()
	err := store.Transact(context.Background(), func(ctx context.Context, tx iam.Store) error {
		for g := range w.Grants() {
			if err := tx.Grant(ctx, iamGrant(g)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pol iam.Policy
	for _, p := range w.Perms {
		pol.Perms = append(pol.Perms, iam.Perm{Name: p, Types: []string{w.Spec.Levels[0].Type}})
	}
	c, err := iam.NewWithOptions(pol, store, o)
	if err != nil {
		return nil, err
	}
	return &iamMix{w: w, c: c}, nil
}

func (e *iamMix) Prepare() func(k int) (bool, error) {
	w := e.w
	users := make([]iam.Subject, len(w.Users))
	for i, id := range w.Users {
		users[i] = &iamUser{id: id}
	}
	type question struct {
		sub  iam.Subject
		perm string
		obj  iam.Object
	}
	qs := make([]question, len(w.Pool))
	for k, q := range w.Pool {
		qs[k] = question{users[q.User], w.Perms[q.Perm], iam.Ref{Type: w.Spec.Levels[0].Type, ID: w.Objects[0][q.Object]}}
	}
	ctx := context.Background()
	c := e.c
	return func(k int) (bool, error) {
		q := &qs[k]
		return c.HasPerm(ctx, q.sub, q.perm, q.obj), nil
	}
}

// Grant and Revoke go through the Checker's validated write path, as the
// root benchmark's writes mix does.
func (e *iamMix) Grant(g workload.Grant) error  { return e.c.Grant(context.Background(), iamGrant(g)) }
func (e *iamMix) Revoke(g workload.Grant) error { return e.c.Revoke(context.Background(), iamGrant(g)) }

// ---- casbin ----

// CasbinACLModel is casbin's examples/basic_model.conf: an access control
// list, one p line per grant. The flat workloads have no groups, so the
// RBAC model's g() would only add a role lookup to every line.
const CasbinACLModel = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.obj == p.obj && r.act == p.act
`

type mixEnforcer interface {
	Enforce(rvals ...any) (bool, error)
	AddPolicy(params ...any) (bool, error)
	RemovePolicy(params ...any) (bool, error)
}

type casbinMix struct {
	w *workload.Workload
	e mixEnforcer
}

// buildCasbinMix loads one "p, user, doc, action" line per grant: the
// plain Enforcer, or the SyncedCachedEnforcer when cached.
func buildCasbinMix(w *workload.Workload, cached bool) (MixEngine, error) {
	m, err := model.NewModelFromString(CasbinACLModel)
	if err != nil {
		return nil, err
	}
	p := make([][]string, 0, w.NumGrants())
	for g := range w.Grants() {
		p = append(p, []string{g.User, g.ObjectID, action(g.Perm, g.ObjectType)})
	}
	e := &casbinMix{w: w}
	if !cached {
		pe, err := casbin.NewEnforcer(m)
		if err != nil {
			return nil, err
		}
		e.e = pe
		return e, addCasbin(pe.AddPolicies, nil, p, nil)
	}
	ce, err := casbin.NewSyncedCachedEnforcer(m)
	if err != nil {
		return nil, err
	}
	e.e = ce
	return &cachedCasbinMix{casbinMix: e, ce: ce}, addCasbin(ce.AddPolicies, nil, p, nil)
}

// cachedCasbinMix is the SyncedCachedEnforcer's engine.
type cachedCasbinMix struct {
	*casbinMix
	ce *casbin.SyncedCachedEnforcer
}

// PrepareUncached decides through the SyncedEnforcer under the cache:
// casbin's own evaluation, whatever the cache holds.
func (e *cachedCasbinMix) PrepareUncached() func(k int) (bool, error) {
	args := e.args()
	en := e.ce.SyncedEnforcer
	return func(k int) (bool, error) { return en.Enforce(args[k]...) }
}

// Warm puts every pool question's answer into the enforcer's cache, under
// the key its Enforce computes, as if each had been asked once: the state
// the other engines are timed in. The answers are the generator's, which
// casbin's evaluation agrees with on every question verified; asking
// casbin itself would take one scan of every policy line per question,
// hours for the whole pool at full scale.
func (e *cachedCasbinMix) Warm() {
	c, _ := cache.NewSyncCache()
	for k, a := range e.args() {
		if key, ok := casbin.GetCacheKey(a...); ok {
			_ = c.Set(key, e.w.Pool[k].Want)
		}
	}
	e.ce.SetCache(c)
}

// args are the Enforce arguments of every pool question.
func (e *casbinMix) args() [][]any {
	w := e.w
	typ := w.Spec.Levels[0].Type
	args := make([][]any, len(w.Pool))
	for k, q := range w.Pool {
		args[k] = []any{w.Users[q.User], w.Objects[0][q.Object], action(w.Perms[q.Perm], typ)}
	}
	return args
}

func (e *casbinMix) Prepare() func(k int) (bool, error) {
	args := e.args()
	en := e.e
	return func(k int) (bool, error) { return en.Enforce(args[k]...) }
}

func (e *casbinMix) Grant(g workload.Grant) error {
	ok, err := e.e.AddPolicy(g.User, g.ObjectID, action(g.Perm, g.ObjectType))
	if err == nil && !ok {
		err = errors.New("casbin: AddPolicy added nothing")
	}
	return err
}

func (e *casbinMix) Revoke(g workload.Grant) error {
	ok, err := e.e.RemovePolicy(g.User, g.ObjectID, action(g.Perm, g.ObjectType))
	if err == nil && !ok {
		err = errors.New("casbin: RemovePolicy removed nothing")
	}
	return err
}

// ---- OPA ----

// RegoGrants reads the grants by user, then object: one indexed lookup.
const RegoGrants = `package authz

default allow := false

# data.grants[user][doc][action] = true
allow if data.grants[input.sub][input.obj][input.act]
`

type opaMix struct {
	w     *workload.Workload
	store storage.Store
	q     rego.PreparedEvalQuery
}

func buildOPAMix(w *workload.Workload) (MixEngine, error) {
	grants := make(map[string]any, len(w.Users))
	for g := range w.Grants() {
		u, ok := grants[g.User].(map[string]any)
		if !ok {
			u = map[string]any{}
			grants[g.User] = u
		}
		o, ok := u[g.ObjectID].(map[string]any)
		if !ok {
			o = map[string]any{}
			u[g.ObjectID] = o
		}
		o[action(g.Perm, g.ObjectType)] = true
	}
	store := inmem.NewFromObjectWithOpts(map[string]any{"grants": grants}, inmem.OptRoundTripOnWrite(false))
	q, err := rego.New(
		rego.Query("data.authz.allow"),
		rego.Module("authz.rego", RegoGrants),
		rego.Store(store),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, err
	}
	return &opaMix{w: w, store: store, q: q}, nil
}

// Prepare builds each input as an ast.Value once (rego.EvalParsedInput),
// as the scenarios' OPA engine does.
func (e *opaMix) Prepare() func(k int) (bool, error) {
	w := e.w
	typ := w.Spec.Levels[0].Type
	inputs := make([]ast.Value, len(w.Pool))
	for k, q := range w.Pool {
		v, err := ast.InterfaceToValue(map[string]any{
			"sub": w.Users[q.User], "obj": w.Objects[0][q.Object], "act": action(w.Perms[q.Perm], typ),
		})
		if err != nil {
			return func(int) (bool, error) { return false, err }
		}
		inputs[k] = v
	}
	ctx := context.Background()
	return func(k int) (bool, error) {
		rs, err := e.q.Eval(ctx, rego.EvalParsedInput(inputs[k]))
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

// Grant adds data.grants[user][doc][action] in one write transaction,
// creating the user's and the document's objects when missing; the
// prepared query reads the store afresh on each evaluation.
func (e *opaMix) Grant(g workload.Grant) error {
	ctx := context.Background()
	return storage.Txn(ctx, e.store, storage.WriteParams, func(txn storage.Transaction) error {
		dir := storage.Path{"grants", g.User, g.ObjectID}
		if err := storage.MakeDir(ctx, e.store, txn, dir); err != nil {
			return err
		}
		return e.store.Write(ctx, txn, storage.AddOp, append(dir, action(g.Perm, g.ObjectType)), true)
	})
}

// Revoke removes data.grants[user][doc][action] in one write transaction,
// and the document's and the user's objects once they are empty.
func (e *opaMix) Revoke(g workload.Grant) error {
	ctx := context.Background()
	return storage.Txn(ctx, e.store, storage.WriteParams, func(txn storage.Transaction) error {
		path := storage.Path{"grants", g.User, g.ObjectID, action(g.Perm, g.ObjectType)}
		if err := e.store.Write(ctx, txn, storage.RemoveOp, path, nil); err != nil {
			return err
		}
		for n := len(path) - 1; n > 1; n-- {
			v, err := e.store.Read(ctx, txn, path[:n])
			if err != nil {
				return err
			}
			if m, ok := v.(map[string]any); !ok || len(m) > 0 {
				return nil
			}
			if err := e.store.Write(ctx, txn, storage.RemoveOp, path[:n], nil); err != nil {
				return err
			}
		}
		return nil
	})
}
