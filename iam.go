package iam

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/iamgo/iam/internal/answer"
	"github.com/iamgo/iam/internal/typednil"
)

// Permissions the library declares in every policy; roles can grant them
// like any other (used by role management).
const (
	PermManageRoles  = "iam.manage_roles"
	PermManageGrants = "iam.manage_grants"
)

// defaultMaxDepth is how many levels of ancestors a check follows.
const defaultMaxDepth = 25

// maxChain bounds the Refs one check looks at: the object, its ancestors,
// type refs and the global ref. It bounds the work of a check on
// pathological data (an ancestry thousands of objects wide); depth is
// bounded by Options.MaxDepth, at most maxDepthCap.
const maxChain = 4096

// maxDepthCap is the largest Options.MaxDepth (a link's depth is a uint8).
const maxDepthCap = 64

// Subject is the caller whose access is checked, usually the application's
// user type. SubjectID "" means anonymous.
//
// Optional interfaces, found by type assertion:
//
//	interface{ IsActive() bool }          false: the subject has no permissions at all
//	interface{ IsSuperuser() bool }       true (and active): every declared permission
//	interface{ SubjectGroups() []string } groups known to the app, added to stored memberships
type Subject interface{ SubjectID() string }

type activer interface{ IsActive() bool }
type superuserer interface{ IsSuperuser() bool }
type grouper interface{ SubjectGroups() []string }

// isSuperuser reports whether s says it is a superuser. An anonymous
// subject (SubjectID "") never is, whatever it says: a visitor's zero
// value must not turn into root (docs/contract.md line 6).
func isSuperuser(s Subject) bool { return s.SubjectID() != "" && claimsSuperuser(s) }

// claimsSuperuser is IsSuperuser() alone, for a check that has read the
// subject's ID already (one interface call less per check).
func claimsSuperuser(s Subject) bool {
	su, ok := s.(superuserer)
	return ok && su.IsSuperuser()
}

// Policy is the application's authorization model, declared in Go at
// start-up: roles, permission declarations and rules. Only who holds what
// lives in the store.
//
// Permissions are declared by Perms. When Perms is empty, every permission a
// role grants or a rule is keyed by is declared implicitly (with no type
// restriction). When Perms is not empty it is the complete list: a role or a
// rule naming anything else is a policy error, which catches typos.
//
// New copies the policy (not the Roles it points to, which must not be
// modified after New, nor the Predicates, which are immutable): a Policy
// may be changed or reused once New has returned.
type Policy struct {
	// Roles are the roles a profile or a local-role grant can name.
	Roles []*Role
	// Perms, if not empty, declares every permission (see above).
	Perms []Perm
	// Rules are extra ways to hold a permission: the rule for a permission
	// is evaluated when no role or grant gives it.
	Rules map[string]Predicate
}

// Options tunes a Checker. The zero value is ready to use. New reads it
// once; Now and Logger are then called from any goroutine that checks.
type Options struct {
	// Now is the clock of profile and grant expiry. Nil means time.Now.
	Now func() time.Time
	// MaxDepth caps how many levels of ancestors are followed. Zero means 25;
	// values above 64 act as 64.
	MaxDepth int
	// CacheSlots sizes the answer cache of HasPerm and Decide (see
	// "Answer cache" in the package documentation): zero means 4096, a
	// negative value turns the cache off. It is rounded up to a power of
	// two, at most 1<<20; each slot takes 48 bytes. It serves stores whose
	// snapshots carry a generation, as MemoryStore's do; others are read
	// on every check (iamcache caches their reads).
	CacheSlots int
	// Logger receives a record when HasPerm or HasPerms denies because the
	// check failed (an unknown permission, a store error, a panic, a
	// predicate's error): a bool cannot carry the error, so it is not
	// lost. At most one record per permission per minute, with the count
	// of those left out (a misspelt, undeclared name counts as a permission
	// of its own, up to 256 such names); a cancelled context is logged at
	// Debug, the rest at Warn. Nil means slog.Default(); slog.New(slog.DiscardHandler)
	// turns it off. Check, Require and Explain return their errors and log
	// nothing.
	Logger *slog.Logger
}

// errorLogInterval is the least time between two records Options.Logger
// receives for failed checks of one permission.
const errorLogInterval = time.Minute

// Checker answers "may this subject do this, on this object?". It is safe
// for concurrent use; its read path takes no lock of its own, and reads the
// store through the store's concurrency contract.
type Checker struct {
	pol      *policy
	store    Store
	snaps    Snapshotter            // the store, when it is one
	trusted  atomic.Bool            // a view of snaps has named the store (see trusts)
	view     *storeView             // the Snapshot of a store that is not
	cache    *answer.Cache[Holding] // HasPerm's answers (nil: off)
	now      func() time.Time
	maxDepth int
	log      *slog.Logger
	// logs[i] rate-limits the error records of permission i; the last
	// entry is shared by the undeclared names past maxUnknownLogs, which
	// have one each in unknownLogs.
	logs        []logLimit
	unknownMu   sync.Mutex
	unknownLogs map[string]*logLimit
}

type permInfo struct {
	name     string
	idx      int
	types    []string
	typeRefs []Ref // TypeScope(t) for each of types
	handle   unique.Handle[string]
	rule     *rule
}

type policy struct {
	perms    map[string]*permInfo
	permList []*permInfo
	roles    map[string]*roleInfo
	roleList []*roleInfo
	// roleHandles finds a grant entry's role without hashing its name.
	roleHandles map[unique.Handle[string]]*roleInfo
	dataSlots   int
	emptyHM     *holdingMemo
	// The Manager's stakes from rules (see compileStakes): by role index,
	// and by group name.
	ruleByRole  []bitset
	ruleByGroup map[string]bitset
	src         Policy // as given to New, copied
	// permTable finds a declared permission by a few bytes of its name
	// (see permInfo).
	permTable [permSlots]*permInfo
}

// New validates the policy and returns a Checker over store. It is
// NewWithOptions with zero Options.
func New(p Policy, store Store) (*Checker, error) {
	return NewWithOptions(p, store, Options{})
}

// NewWithOptions validates the policy and returns a Checker over store. The
// policy is rejected (an error wrapping ErrInvalidPolicy) for duplicate role
// or permission names, roles including roles not in Policy.Roles, role
// cycles, roles or rules naming undeclared permissions (when Perms is set),
// and invalid rules.
func NewWithOptions(p Policy, store Store, o Options) (*Checker, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidPolicy)
	}
	pol, err := compilePolicy(p)
	if err != nil {
		return nil, err
	}
	c := &Checker{pol: pol, now: o.Now, maxDepth: o.MaxDepth, log: o.Logger}
	c.logs = make([]logLimit, len(pol.permList)+1)
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxDepth <= 0 {
		c.maxDepth = defaultMaxDepth
	}
	// The clamp keeps depths within the links' uint8.
	c.maxDepth = min(c.maxDepth, maxDepthCap)
	c.setStore(store)
	if o.CacheSlots >= 0 {
		c.cache = answer.New[Holding](cmp.Or(o.CacheSlots, defaultCacheSlots))
	}
	return c, nil
}

// setStore makes c read store.
func (c *Checker) setStore(store Store) {
	c.store = store
	c.view = &storeView{Store: store}
	c.view.parents, _ = store.(ParentStore)
	// A store's views are used only when they name the store itself, which
	// the check compares with ==: a store of a type == cannot compare is
	// read through its methods.
	if snaps, ok := store.(Snapshotter); ok && reflect.TypeOf(store).Comparable() {
		c.snaps = snaps
	}
}

// trusts reports whether a view whose facts name s may be read: s is the
// Checker's store. Once one view has named it, the store's views are
// trusted without comparing again.
func (c *Checker) trusts(s Store) bool {
	if c.trusted.Load() {
		return true
	}
	if s != c.store {
		return false
	}
	c.trusted.Store(true)
	return true
}

func compilePolicy(p Policy) (*policy, error) {
	pol := &policy{perms: map[string]*permInfo{}, src: p.clone()}
	declare := func(name string, types []string) *permInfo {
		pi := &permInfo{name: name, idx: len(pol.permList), types: types}
		for _, t := range types {
			pi.typeRefs = append(pi.typeRefs, TypeScope(t))
		}
		pol.perms[name] = pi
		pol.permList = append(pol.permList, pi)
		if slot := &pol.permTable[permSlot(name)]; *slot == nil {
			*slot = pi
		}
		return pi
	}
	for _, d := range p.Perms {
		if d.Name == "" || strings.ContainsAny(d.Name, " \t\n") {
			return nil, fmt.Errorf("%w: permission name %q", ErrInvalidPolicy, d.Name)
		}
		if _, dup := pol.perms[d.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate permission %q", ErrInvalidPolicy, d.Name)
		}
		types := slices.Clone(d.Types)
		for i, t := range types {
			if t == "" || slices.Contains(types[:i], t) {
				return nil, fmt.Errorf("%w: permission %q: empty or duplicate type %q", ErrInvalidPolicy, d.Name, t)
			}
		}
		declare(d.Name, types)
	}
	// The Manager's permissions are declared in every policy, strict or
	// not, before roles and rules are validated against the declarations.
	for _, name := range []string{PermManageRoles, PermManageGrants} {
		if _, ok := pol.perms[name]; !ok {
			declare(name, nil)
		}
	}
	strict := len(p.Perms) > 0
	implicit := func(name, where string) error {
		if _, ok := pol.perms[name]; ok {
			return nil
		}
		if strict || name == "" {
			return fmt.Errorf("%w: %s names undeclared permission %q", ErrInvalidPolicy, where, name)
		}
		declare(name, nil)
		return nil
	}
	for _, r := range p.Roles {
		if r == nil {
			continue // reported by compileRoles
		}
		for _, name := range r.Perms {
			if err := implicit(name, "role "+r.Name); err != nil {
				return nil, err
			}
		}
	}
	ruleNames := make([]string, 0, len(p.Rules))
	for name := range p.Rules {
		ruleNames = append(ruleNames, name)
	}
	slices.Sort(ruleNames) // deterministic indexes and errors
	for _, name := range ruleNames {
		if err := implicit(name, "a rule"); err != nil {
			return nil, err
		}
	}
	var err error
	pol.roles, pol.roleList, err = compileRoles(p.Roles, func(name string) (int, bool) {
		pi, ok := pol.perms[name]
		if !ok {
			return 0, false
		}
		return pi.idx, true
	}, len(pol.permList))
	if err != nil {
		return nil, err
	}
	if err := distinctLeaves(p.Rules, ruleNames); err != nil {
		return nil, err
	}
	for _, name := range ruleNames {
		r, err := pol.compileRule(name, p.Rules[name])
		if err != nil {
			return nil, err
		}
		pol.perms[name].rule = r
	}
	pol.roleHandles = make(map[unique.Handle[string]]*roleInfo, len(pol.roleList))
	for _, ri := range pol.roleList {
		pol.roleHandles[unique.Make(ri.name)] = ri
	}
	for _, pi := range pol.permList {
		pi.handle = unique.Make(pi.name)
	}
	pol.compileStakes()
	pol.emptyHM = &holdingMemo{pol: pol, roles: newBitset(len(pol.roleList)), perms: newBitset(len(pol.permList))}
	return pol, nil
}

// distinctLeaves refuses two different predicates under one name
// anywhere in the policy's rules: they would print alike in every
// explanation, and a check runs each named leaf once, so one would stand
// in for the other. Reusing one Predicate value in several rules is fine.
func distinctLeaves(rules map[string]Predicate, names []string) error {
	seen := map[string]*pnode{}
	var walk func(rule string, n *pnode) error
	walk = func(rule string, n *pnode) error {
		if n == nil {
			return nil
		}
		switch n.op {
		case opLeaf, opProfile, opHasRole, opInGroup:
			prev, ok := seen[n.str]
			switch {
			case !ok:
				seen[n.str] = n
			case prev != n && (n.op == opLeaf || n.op == opProfile || prev.op == opLeaf || prev.op == opProfile):
				return fmt.Errorf("%w: rule %q: two different predicates are named %q: build each once and reuse the value, or give them different names", ErrInvalidPolicy, rule, n.str)
			}
		}
		for _, k := range n.kids {
			if err := walk(rule, k); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range names {
		if err := walk(name, rules[name].n); err != nil {
			return err
		}
	}
	return nil
}

// Reason says why a Decision was made.
type Reason uint8

// Reasons of a Decision.
const (
	ReasonNone       Reason = iota // denied: nothing grants the permission
	ReasonInactive                 // denied: the subject is inactive (IsActive false)
	ReasonError                    // denied: the check could not be decided (see the error)
	ReasonSuperuser                // allowed: active superuser
	ReasonGlobalRole               // allowed: a role held globally (a profile, or a role granted on the type or globally)
	ReasonLocalRole                // allowed: a role held on the object or an ancestor
	ReasonGrant                    // allowed: the permission granted on the object, an ancestor, the type or globally
	ReasonRule                     // allowed: the permission's rule
	ReasonNoSubject                // denied: the subject is nil (no one asked)
)

var reasonNames = [...]string{"no grant", "inactive subject", "error", "superuser", "global role", "local role", "grant", "rule", "no subject"}

// String returns the reason in words, as Decision.String prints it
// ("grant", "global role", ...).
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// Decision is the answer to one check and why. It is a plain value.
type Decision struct {
	Allowed bool
	Perm    string
	Reason  Reason
	Role    string    // the role that granted it (global or local role)
	Via     Principal // who held the role or grant: the user, or one of its groups
	On      Ref       // where the role or grant is: the object, an ancestor, the type (TypeScope) or everywhere (GlobalScope, also for a role held through a profile); zero when no role or grant decided
	Rule    string    // the rule's expression, when a rule was evaluated

	rule            *rule
	done, val, errm uint64
}

// Leaves returns the value each leaf of the rule took, when a rule was
// evaluated (at most the rule's first 64 distinct leaves). Short-circuited
// leaves have Evaluated false.
func (d Decision) Leaves() []Leaf {
	if d.rule == nil {
		return nil
	}
	n := min(len(d.rule.leaves), 64)
	out := make([]Leaf, n)
	for i := range n {
		bit := uint64(1) << i
		out[i] = Leaf{Name: d.rule.leaves[i].str, Evaluated: d.done&bit != 0, Value: d.val&bit != 0, Err: d.errm&bit != 0}
	}
	return out
}

// String describes the decision in one line, e.g.
// "allowed blog.change_post: local role blog.editor held by group:staff on blog.post:1".
func (d Decision) String() string {
	var b strings.Builder
	if d.Allowed {
		b.WriteString("allowed ")
	} else {
		b.WriteString("denied ")
	}
	b.WriteString(d.Perm)
	if d.Allowed && d.Reason == ReasonNone {
		return b.String() // Decide's allow: how was not looked for
	}
	b.WriteString(": ")
	b.WriteString(d.Reason.String())
	if d.Role != "" {
		b.WriteString(" " + d.Role)
	}
	if d.Via.Valid() {
		b.WriteString(" held by " + d.Via.String())
	}
	if d.Reason == ReasonLocalRole || d.Reason == ReasonGrant || (d.Reason == ReasonGlobalRole && d.On != GlobalScope()) {
		b.WriteString(" on " + d.On.String())
	}
	if d.Rule != "" {
		if d.Reason != ReasonRule {
			b.WriteString("; rule")
		}
		b.WriteString(" " + d.Rule)
		if ls := d.Leaves(); len(ls) > 0 {
			b.WriteString(" [")
			for i, l := range ls {
				if i > 0 {
					b.WriteString(" ")
				}
				b.WriteString(l.Name + "=")
				switch {
				case !l.Evaluated:
					b.WriteString("skipped")
				case l.Err:
					b.WriteString("error")
				default:
					fmt.Fprint(&b, l.Value)
				}
			}
			b.WriteString("]")
		}
	}
	return b.String()
}

// Explanation is the full account of a check: the decision and every way the
// subject holds the permission (not only the first one found).
type Explanation struct {
	Decision Decision
	Grounds  []Decision // every allowing path, in the order checked
}

// String renders the explanation on several lines.
func (e Explanation) String() string {
	var b strings.Builder
	b.WriteString(e.Decision.String())
	for _, g := range e.Grounds {
		b.WriteString("\n  - " + g.String())
	}
	return b.String()
}

// HasPerm reports whether s may do perm on obj (nil: model level). Errors
// deny; use Check to see them. A repeated question is answered from the
// answer cache when the store numbers its snapshots (see the package
// documentation).
func (c *Checker) HasPerm(ctx context.Context, s Subject, perm string, obj Object) bool {
	var st evalState
	st.quick = true
	err := c.check(ctx, &st, s, perm, obj)
	if err != nil {
		c.swallowed(ctx, perm, s, obj, err)
	}
	return err == nil && st.allowed
}

// Decide is HasPerm that returns its error, and Check for a denial: one
// check, answered from the answer cache when it can be. An allowed
// Decision carries only Allowed and Perm (how it was allowed is not
// looked for: use Check or Explain for that); a denial is as complete as
// Check's, with the rule and its leaves. Middleware that logs refusals
// uses it to ask each request once.
func (c *Checker) Decide(ctx context.Context, s Subject, perm string, obj Object) (Decision, error) {
	var st evalState
	st.quick = true
	err := c.check(ctx, &st, s, perm, obj)
	if err == nil && st.allowed {
		return Decision{Allowed: true, Perm: perm}, nil
	}
	return st.decision(perm, false, st.why), err
}

// logLimit is the rate limit of one permission's error records.
type logLimit struct {
	mu      sync.Mutex
	next    time.Time // no record before then
	dropped int       // records left out since the last one
}

// swallowed reports err, which made HasPerm deny, to Options.Logger, at
// most once per errorLogInterval per permission.
func (c *Checker) swallowed(ctx context.Context, perm string, s Subject, obj Object, err error) {
	l := c.logLimitOf(perm)
	now := c.now()
	l.mu.Lock()
	if now.Before(l.next) {
		l.dropped++
		l.mu.Unlock()
		return
	}
	dropped := l.dropped
	l.next, l.dropped = now.Add(errorLogInterval), 0
	l.mu.Unlock()

	log := c.log
	if log == nil {
		log = slog.Default()
	}
	level := slog.LevelWarn
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{slog.String("perm", perm), slog.Any("error", err)}
	if s != nil && !typednil.Is(s) {
		attrs = append(attrs, slog.String("subject", safeSubjectID(s)))
	}
	if obj != nil && !typednil.Is(obj) {
		attrs = append(attrs, slog.String("object", safeObjectRef(obj)))
	}
	if dropped > 0 {
		attrs = append(attrs, slog.Int("left_out", dropped))
	}
	log.LogAttrs(context.WithoutCancel(ctx), level, "iam: check failed: denied", attrs...)
}

// maxUnknownLogs is how many undeclared permission names get a rate limit
// of their own; past them, made-up names share the last entry of logs, so
// they cannot grow the Checker without bound.
const maxUnknownLogs = 256

// logLimitOf returns the rate limit of perm's error records.
func (c *Checker) logLimitOf(perm string) *logLimit {
	if pi := c.pol.perms[perm]; pi != nil {
		return &c.logs[pi.idx]
	}
	c.unknownMu.Lock()
	defer c.unknownMu.Unlock()
	if l, ok := c.unknownLogs[perm]; ok {
		return l
	}
	if len(c.unknownLogs) == maxUnknownLogs {
		return &c.logs[len(c.logs)-1]
	}
	if c.unknownLogs == nil {
		c.unknownLogs = map[string]*logLimit{}
	}
	l := &logLimit{}
	// A copy: the caller's string may share a buffer it reuses.
	c.unknownLogs[strings.Clone(perm)] = l
	return l
}

// safeSubjectID and safeObjectRef read the IDs for a log record; they
// panicked during the check already if they panic, so a panic is caught.
func safeSubjectID(s Subject) (id string) {
	defer func() {
		if recover() != nil {
			id = "<panicked>"
		}
	}()
	return s.SubjectID()
}

func safeObjectRef(o Object) (ref string) {
	defer func() {
		if recover() != nil {
			ref = "<panicked>"
		}
	}()
	return o.ObjectRef().String()
}

// HasPerms reports whether s holds every permission in perms on obj. An
// empty list is false: asking for nothing grants nothing.
func (c *Checker) HasPerms(ctx context.Context, s Subject, perms []string, obj Object) bool {
	if len(perms) == 0 {
		return false
	}
	for _, p := range perms {
		if !c.HasPerm(ctx, s, p, obj) {
			return false
		}
	}
	return true
}

// Require returns nil when s may do perm on obj, and otherwise an error that
// wraps ErrDenied (and, when the check failed, the cause as well).
func (c *Checker) Require(ctx context.Context, s Subject, perm string, obj Object) error {
	d, err := c.Check(ctx, s, perm, obj)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDenied, err)
	}
	if !d.Allowed {
		return fmt.Errorf("%w: %s", ErrDenied, perm)
	}
	return nil
}

// Check decides whether s may do perm on obj (nil obj: a model-level check),
// following docs/contract.md: unknown permissions are errors, nil and inactive
// subjects are denied, active superusers are allowed, then global roles,
// local roles and grants on the object and its ancestors, type and global
// grants, and finally the permission's rule.
//
// The error is non-nil only when the check could not be decided (unknown
// permission, wrong object type, store failure, cancelled context, a rule
// that erred or panicked); the Decision is then a denial.
func (c *Checker) Check(ctx context.Context, s Subject, perm string, obj Object) (Decision, error) {
	var st evalState
	err := c.check(ctx, &st, s, perm, obj)
	return st.decision(perm, st.allowed, st.why), err
}

// Explain is Check, but it keeps looking after the first allowing path and
// reports every one of them.
func (c *Checker) Explain(ctx context.Context, s Subject, perm string, obj Object) (Explanation, error) {
	var all []Decision
	st := evalState{outcome: outcome{all: &all}}
	err := c.check(ctx, &st, s, perm, obj)
	return Explanation{Decision: st.decision(perm, st.allowed, st.why), Grounds: all}, err
}

// check decides and leaves the answer in st.allowed and, unless in quick
// mode (HasPerm without the answer cache), its ground in st.why. The error
// is non-nil only when the check could not be decided; the decision is
// then a denial.
func (c *Checker) check(ctx context.Context, st *evalState, s Subject, perm string, obj Object) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if st.all != nil && st.allowed {
				// Explain looking past an allow: Check would have
				// stopped there, so the panic changes nothing.
				return
			}
			st.allowed, st.why = false, ground{reason: ReasonError}
			err = panicked("checking "+perm, r)
		}
	}()
	st.c, st.ctx, st.s, st.obj = c, ctx, s, obj
	done, err := c.begin(ctx, &st.query, s, perm, obj)
	if err != nil {
		return st.fail(err)
	}
	if done {
		if s == nil {
			st.why.reason = ReasonNoSubject
		} else {
			st.inactive()
		}
		return nil
	}
	if st.super && (st.quickAllow() || st.record(ground{reason: ReasonSuperuser})) {
		return nil
	}
	if err := st.open(); err != nil {
		return st.fail(err)
	}
	if st.quick && c.cache != nil {
		c.askCache(st)
		if st.cached {
			return nil
		}
	}
	return c.decide(st)
}

// defaultCacheSlots is the number of answers a Checker keeps when
// Options.CacheSlots is zero (48 bytes each: 192 KB).
const defaultCacheSlots = 4096

// askCache looks for HasPerm's question in the answer cache. A kept "yes",
// or a kept "no" when no rule could change it, decides (st.cached); a kept
// "no" before a rule leaves only the rule to run (st.skipStored); a miss
// asks decide to keep what the stored roles and grants answer (st.fill).
//
// The cache cannot go stale: it serves only stores whose snapshots carry
// a Generation, every write publishes a new one, and an answer is kept
// under the generation it was computed on. Only answers that depend on
// nothing but the store and the question are kept: not those of a subject
// with its own groups or an object with its own parents, and (see decide)
// not when a profile with an expiry took part (the clock could change
// them), the ancestry was cut short or anything failed. Rules are never
// cached: after a kept "no", the rule runs as on every check.
func (c *Checker) askCache(st *evalState) {
	gen := st.facts.Generation
	if gen == 0 || st.uid == "" || len(st.extra) != 0 || st.ownParents {
		return
	}
	c.cache.Key(&st.key, st.uid, st.pi.idx, st.ref.Type, st.ref.ID, st.refuse)
	if !st.key.OK() {
		return
	}
	a, hold, hit := c.cache.Get(&st.key, gen)
	switch {
	case !hit:
		st.fill = true
	case a || st.pi.rule == nil:
		st.allowed, st.cached = a, true
	default:
		st.skipStored = true
		st.hold, st.hm, st.hmDone = hold, c.memoOf(st, hold), true
	}
}

// panicked is the error of a call that panicked (a predicate, a store, an
// application's method): what it was doing and the panic's value.
func panicked(doing string, r any) error {
	return fmt.Errorf("%w: %s: %v", ErrPanic, doing, r)
}

// nilInput is ErrInvalid for a typed-nil subject or object (a nil *User in
// the interface), which every entry point refuses before calling any of
// its methods: one that tolerates a nil receiver would describe somebody
// (an anonymous visitor, most often), one that does not would panic. The
// error names what the call was doing (verb and what: "checking" and the
// permission), built only when it is returned.
func nilInput(verb, what string, s Subject, obj Object) error {
	switch {
	case typednil.Is(s):
		return fmt.Errorf("%w: %s %s: the subject is a nil %T", ErrInvalid, verb, what, s)
	case typednil.Is(obj):
		return fmt.Errorf("%w: %s %s: the object is a nil %T", ErrInvalid, verb, what, obj)
	}
	return nil
}

// begin reads the question of a check from its arguments into q. done
// reports that the check is decided already: by an error, or by a nil or
// inactive subject (denied). An active superuser is reported in q.super.
func (c *Checker) begin(ctx context.Context, q *query, s Subject, perm string, obj Object) (done bool, err error) {
	if err := ctx.Err(); err != nil {
		return true, fmt.Errorf("iam: checking %s: %w", perm, err)
	}
	pi := c.permInfo(perm)
	if pi == nil {
		return true, fmt.Errorf("%w: %q", ErrUnknownPermission, perm)
	}
	if s == nil {
		return true, nil
	}
	if err := nilInput("checking", perm, s, obj); err != nil {
		return true, err
	}
	if a, ok := s.(activer); ok && !a.IsActive() {
		return true, nil
	}
	q.pi = pi
	if obj != nil {
		q.ref = obj.ObjectRef()
		if !q.ref.IsObject() {
			if q.ref.isScope() {
				return true, fmt.Errorf("%w: checking %s on %s: a check is on one object (nil: model level), not a scope", ErrInvalid, perm, q.ref)
			}
			return true, fmt.Errorf("%w: checking %s: the object's %s", ErrInvalid, perm, refProblem("ref", q.ref))
		}
		if len(pi.types) > 0 && !slices.Contains(pi.types, q.ref.Type) {
			return true, fmt.Errorf("%w: %s is declared for %v, not %q", ErrWrongType, perm, pi.types, q.ref.Type)
		}
		q.hasObj = true
		if g, ok := obj.(globalRoleAcquirer); ok && !g.AcquireGlobalRoles() {
			q.refuse = true
		}
		_, q.ownParents = obj.(parenter)
	}
	q.uid = s.SubjectID()
	q.super = q.uid != "" && claimsSuperuser(s)
	if g, ok := s.(grouper); ok {
		q.extra = g.SubjectGroups()
	}
	return false, nil
}

// decide answers the question begin read into st: the stored roles and
// grants (kept in the answer cache when st.fill asks for it), then the
// rule.
func (c *Checker) decide(st *evalState) error {
	pi := st.pi
	if st.uid != "" && !st.skipStored {
		stop, err := c.stored(st, pi)
		if st.fill && err == nil && !st.truncated && !st.timed {
			c.cache.Put(&st.key, st.facts.Generation, st.allowed, st.hold)
		}
		if stop {
			if err != nil {
				return st.fail(err)
			}
			return nil
		}
	}
	if pi.rule != nil {
		ok, err := st.eval(pi.rule.root)
		if err := st.ruleDecides(ok, err); err != nil || st.allowed && st.all == nil {
			return err
		}
	}
	if !st.allowed && st.truncated {
		return st.fail(st.tooDeep())
	}
	return nil
}

// ruleDecides records the rule's answer (ok, err) in st. The error is the
// check's when the rule erred and nothing allowed before it.
func (st *evalState) ruleDecides(ok bool, err error) error {
	pi := st.pi
	if st.quick {
		// Nothing allowed before the rule (quick stops at the first
		// allow), so the rule's answer, or its error, decides; a denial
		// keeps the rule for Decide's Decision.
		if err != nil {
			st.why = ground{reason: ReasonError, rule: true}
			return fmt.Errorf("iam: rule for %s: %w", pi.name, err)
		}
		st.allowed = ok
		if !ok {
			st.why = ground{reason: ReasonNone, rule: true}
		}
		return nil
	}
	switch {
	case err != nil && !st.allowed:
		st.why = ground{reason: ReasonError, rule: true}
		return fmt.Errorf("iam: rule for %s: %w", pi.name, err)
	case ok && err == nil:
		st.record(ground{reason: ReasonRule, rule: true})
	case !st.allowed:
		st.why = ground{reason: ReasonNone, rule: true}
	}
	return nil
}

// stored looks at what the store holds: global roles of the user and its
// groups, then local roles and grants along the chain of refs. stop reports
// that the check is decided.
func (c *Checker) stored(st *evalState, pi *permInfo) (stop bool, err error) {
	if st.quick && st.hasObj {
		// The user's own grants on the object first: when they allow,
		// neither its profiles nor the ancestry need be read.
		ok, err := st.ownGrant(pi)
		if ok || err != nil {
			st.allowed = ok
			return true, err
		}
	}
	hm, err := st.userMemo()
	if err != nil {
		return true, err
	}
	if !st.refuse {
		if hm.perms.has(pi.idx) {
			if st.quickAllow() || st.recordRoles(hm.live, ground{reason: ReasonGlobalRole, who: whoUser}) {
				return true, nil
			}
		}
		for i := range st.ngroups() {
			gm, _, err := st.groupMemo(i)
			if err != nil {
				return true, err
			}
			if gm.perms.has(pi.idx) {
				if st.quickAllow() || st.recordRoles(gm.live, ground{reason: ReasonGlobalRole, who: whoGroup0 + int32(i)}) {
					return true, nil
				}
			}
		}
	}
	if err := st.ensureChain(); err != nil {
		return true, err
	}
	for i := range st.n {
		l := st.link(i)
		if l.gs == nil {
			continue
		}
		rolesOK := !st.refuse || l.kind <= linkAncestor
		if st.quick && l.gm == nil {
			// Only the answer is wanted: one pass over the entries, the
			// holder looked at only for those that would grant perm.
			if st.grantedIn(l.gs, pi, rolesOK) {
				st.allowed = true
				return true, nil
			}
			continue
		}
		for j := -1; j < st.ngroups(); j++ {
			direct, role := st.holdsOn(l, st.principal(j), pi)
			if direct {
				if st.quickAllow() || st.record(ground{reason: ReasonGrant, who: whoGroup0 + int32(j), on: 1 + int32(i)}) {
					return true, nil
				}
			}
			if rolesOK && role != "" {
				r := ReasonLocalRole
				if l.kind > linkAncestor {
					r = ReasonGlobalRole
				}
				g := ground{reason: r, role: role, who: whoGroup0 + int32(j), on: 1 + int32(i)}
				if st.quickAllow() || st.all == nil && st.record(g) {
					return true, nil
				}
				// Explain: every local role there that grants it.
				st.recordRoles(st.localRoles(l, st.principal(j)), g)
			}
		}
	}
	return false, nil
}

// Policy returns the policy the checker was built with: a copy of its
// lists and map, sharing the Roles and Predicates, which must not be
// modified. Admin pages print it.
func (c *Checker) Policy() Policy { return c.pol.src.clone() }

func (p Policy) clone() Policy {
	return Policy{Roles: slices.Clone(p.Roles), Perms: slices.Clone(p.Perms), Rules: maps.Clone(p.Rules)}
}

// Declares reports whether the policy declares perm (contract 1): a
// permission it does not declare is always denied with ErrUnknownPermission.
// Middleware uses it to reject misconfigured routes at start-up.
func (c *Checker) Declares(perm string) bool { return c.pol.perms[perm] != nil }

// Store returns the store the checker reads.
func (c *Checker) Store() Store { return c.store }

// Token names a state of a store, as a store that implements Tokener hands
// it out: opaque text an application may carry between processes (a
// header, a cookie) and give back to AtLeast. Its content is the store's
// own; "" is no token.
type Token string

type tokenKey struct{}

// AtLeast returns a context under which a check reads a store state at
// least as new as t: after a write on one replica, a request carrying the
// write's token reads that write on every replica (read-your-writes), and
// a revocation's token keeps a later check from using what it revoked.
// Stores that implement Tokener honour it on their reads (a store that
// cannot catch up fails the read, so the check denies with the error);
// other stores ignore it. An empty t returns ctx.
func AtLeast(ctx context.Context, t Token) context.Context {
	if t == "" {
		return ctx
	}
	return context.WithValue(ctx, tokenKey{}, t)
}

// TokenOf returns the token AtLeast put in ctx, or "": for stores that
// honour tokens on their reads.
func TokenOf(ctx context.Context) Token {
	t, _ := ctx.Value(tokenKey{}).(Token)
	return t
}
