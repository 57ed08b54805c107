package iam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// ChangeKind names what a Change does.
type ChangeKind uint8

// The kinds of change a Manager applies.
const (
	// ChangePutProfile creates or replaces the profile Change.Profile.
	ChangePutProfile ChangeKind = iota + 1
	// ChangeActivate, ChangeDeactivate and ChangeDeleteProfile switch or
	// remove the profile of Change.Profile.Holder for Change.Profile.Role.
	ChangeActivate
	ChangeDeactivate
	ChangeDeleteProfile
	// ChangeGrant and ChangeRevoke add or remove Change.Grant.
	ChangeGrant
	ChangeRevoke
	// ChangeAddMember and ChangeRemoveMember change Change.User's
	// membership of Change.Group.
	ChangeAddMember
	ChangeRemoveMember
)

var changeNames = [...]string{"", "put_profile", "activate", "deactivate", "delete_profile", "grant", "revoke", "add_member", "remove_member"}

// String returns the kind's name, e.g. "put_profile".
func (k ChangeKind) String() string {
	if int(k) < len(changeNames) && k != 0 {
		return changeNames[k]
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// Change is one management action, as a value, for Manager.Apply,
// Manager.Request and the audit trail. Which fields count depends on Kind.
type Change struct {
	Kind    ChangeKind
	Profile Profile // profile kinds: Holder and Role (all fields for PutProfile)
	Grant   Grant   // ChangeGrant, ChangeRevoke
	User    string  // membership kinds
	Group   string  // membership kinds
	// Object, optional, is the application's object whose ObjectRef is
	// Grant.On; the actor is judged on it (its rules, parents, refusal of
	// global roles). Without it, see ManagerOptions.Object.
	Object Object
}

// Target returns the principal whose access the change alters.
func (c Change) Target() Principal {
	switch c.Kind {
	case ChangeGrant, ChangeRevoke:
		return c.Grant.Holder
	case ChangeAddMember, ChangeRemoveMember:
		return User(c.User)
	}
	return c.Profile.Holder
}

func (c Change) isProfile() bool { return c.Kind >= ChangePutProfile && c.Kind <= ChangeDeleteProfile }
func (c Change) isMembership() bool {
	return c.Kind == ChangeAddMember || c.Kind == ChangeRemoveMember
}

// Request is a change asked for by one actor for another to Approve later
// (a promotion request); a plain value the application stores as it likes.
type Request struct {
	Change      Change
	RequestedBy string // the requester's SubjectID
	RequestedAt time.Time
}

// AuditEvent describes one attempted change, allowed or refused.
type AuditEvent struct {
	Time   time.Time
	Actor  string // the actor's SubjectID ("" for none or anonymous)
	Stage  string // "apply", "request" or "approve"
	Change Change
	// RequestedBy is the requester, for an approval.
	RequestedBy string
	// Result is "applied", "requested", "refused" (a rule said no) or
	// "failed" (invalid input or a store error).
	Result string
	Err    error
}

// attrs returns the event as slog attributes.
func (e AuditEvent) attrs() []slog.Attr {
	a := []slog.Attr{
		slog.String("actor", e.Actor),
		slog.String("stage", e.Stage),
		slog.String("action", e.Change.Kind.String()),
		slog.String("target", e.Change.Target().String()),
	}
	switch {
	case e.Change.isProfile():
		a = append(a, slog.String("role", e.Change.Profile.Role))
	case e.Change.isMembership():
		a = append(a, slog.String("group", e.Change.Group))
	case e.Change.Grant.Role != "":
		a = append(a, slog.String("role", e.Change.Grant.Role), slog.String("object", e.Change.Grant.On.String()))
	default:
		a = append(a, slog.String("perm", e.Change.Grant.Perm), slog.String("object", e.Change.Grant.On.String()))
	}
	if e.RequestedBy != "" {
		a = append(a, slog.String("requested_by", e.RequestedBy))
	}
	a = append(a, slog.String("result", e.Result))
	if e.Err != nil {
		a = append(a, slog.String("error", e.Err.Error()))
	}
	return a
}

// ManagerOptions configure a Manager; the zero value is valid.
type ManagerOptions struct {
	// Logger receives one record per attempted change (nil: slog.Default()),
	// at Info when applied, at Warn when refused or failed.
	Logger *slog.Logger
	// Audit, if set, is called after each attempted change (for an audit
	// table); it must not block long.
	Audit func(ctx context.Context, e AuditEvent)
	// Object, if set, loads the object a change is on when the Change
	// carries none, and always for Approve (a Request's object is not
	// trusted). Else, and for (nil, nil), the bare Ref is judged as refusing
	// global roles (fail closed: the Manager cannot know it acquires them).
	Object func(ctx context.Context, ref Ref) (Object, error)
	// Children, if set, lists ref's direct children ((nil, nil) for none). A
	// grant on an object reaches its descendants, so a permission held there
	// by a global role, a type-level grant, a rule or a grant on an ancestor
	// (a descendant's check need not reach that ancestor: the object's own
	// Parents method is not read from below, and MaxDepth may stop it)
	// passes on only if the actor holds it on every descendant Children
	// lists. Without Children only grants and local roles on the object
	// itself, and global grants, count.
	Children func(ctx context.Context, ref Ref) ([]Object, error)
}

// Manager changes who holds what, auditing every attempt, under these rules
// against privilege escalation, in the order checked:
//
//   - the actor is active and authenticated (else ErrNotManager);
//   - nobody changes their own access or a group's they belong to
//     (ErrSelfChange);
//   - profiles, memberships and local roles need iam.manage_roles, grants
//     of permissions iam.manage_grants, where the change applies
//     (ErrNotManager); superusers hold both;
//   - only a superuser changes who holds a Protected role or a role
//     including one (ErrProtected);
//   - the actor holds every stake of the change at its scope (ErrEscalation);
//   - after the change, some user still holds each Protected role by an
//     active profile without expiry, if one did before (ErrLastHolder; an
//     expiry counts as a removal, groups do not count).
//
// A change's stakes are the permissions it can hand out or take away: the
// role's (Includes followed); for a membership, all the group holds (live
// profiles and grants); and those whose rule it can turn by HasRole or
// PredProfile of a role the change's role is or includes, or InGroup of the
// group (an application predicate reading access state is not seen).
//
// The scope decides what of the actor's access counts:
//
//   - a global change (a profile, a membership, a grant on GlobalScope())
//     counts its global roles (its and its groups' live profiles, roles
//     granted on GlobalScope()) and global grants; never a type-level grant
//     or a rule run without an object. A permission granted on
//     GlobalScope() reaches objects that refuse global roles, so passing
//     one on, like any rule's stake, needs the actor's own global grant.
//   - a type-level change (TypeScope(t)) also counts grants on TypeScope(t).
//   - an object change counts what a check on the object answers (see
//     ManagerOptions.Object), and reaches its descendants (see
//     ManagerOptions.Children).
//
// Refused, for example: with x.share granted on TypeScope("doc"), assigning
// a role with x.share or granting it on TypeScope("folder"); with
// post.delete = HasRole(r), assigning r (even without permissions) lacking
// post.delete globally; with admin.panel = InGroup("admins"), adding bob to
// "admins"; with doc.read from a global role, granting it on a document
// refusing global roles or on a folder with such a child; extending bob's
// editor profile by a section without holding globally what its rule gives.
//
// A change is judged at the instant it is made, by what the actor holds
// then (expired profiles and grants give nothing): an actor whose own grant
// expires tomorrow may hand out one that does not, as a holder may before
// it is revoked. An application that wants delegated access to end with the
// delegate's sets ExpiresAt on what it grants.
//
// With a Transactor store a change is checked and written atomically;
// otherwise the Manager serialises its own changes in-process. A Manager is
// safe for concurrent use.
type Manager struct {
	c        *Checker
	log      *slog.Logger
	hook     func(context.Context, AuditEvent)
	load     func(context.Context, Ref) (Object, error)
	children func(context.Context, Ref) ([]Object, error)
	mu       sync.Mutex // serialises changes when the store is not a Transactor
}

// NewManager returns a Manager over the checker's policy and store.
func NewManager(c *Checker, opts ManagerOptions) *Manager {
	m := &Manager{c: c, log: opts.Logger, hook: opts.Audit, load: opts.Object, children: opts.Children}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m
}

// Apply checks ch against the rules for actor and, if they pass, writes it.
func (m *Manager) Apply(ctx context.Context, actor Subject, ch Change) error {
	err := m.apply(ctx, actor, ch)
	m.audit(ctx, AuditEvent{Actor: safeID(actor), Stage: "apply", Change: ch}, err, "applied")
	return err
}

// Authorize reports whether actor may apply ch now (nil) or which rule
// refuses it, without writing or auditing anything (for admin screens).
func (m *Manager) Authorize(ctx context.Context, actor Subject, ch Change) (err error) {
	defer recovered(&err)
	if err := m.validate(ch); err != nil {
		return err
	}
	return m.authorize(ctx, m.c.store, actor, ch)
}

// Request validates and audits requester's ask for ch, returning it to keep
// until Approve. Any authenticated subject may request, even for itself.
func (m *Manager) Request(ctx context.Context, requester Subject, ch Change) (Request, error) {
	r := Request{Change: ch, RequestedBy: safeID(requester), RequestedAt: m.c.now()}
	err := m.validate(ch)
	if err == nil && r.RequestedBy == "" {
		err = fmt.Errorf("%w: a request needs an authenticated requester", ErrNotManager)
	}
	m.audit(ctx, AuditEvent{Actor: r.RequestedBy, Stage: "request", Change: ch}, err, "requested")
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// Approve applies r as approver, who must pass every rule on the current
// state and not be the requester (ErrSelfChange). r's Change.Object, built
// by the requester, is ignored (see ManagerOptions.Object).
func (m *Manager) Approve(ctx context.Context, approver Subject, r Request) error {
	var err error
	ch := r.Change
	ch.Object = nil
	if id := safeID(approver); id != "" && id == r.RequestedBy {
		err = fmt.Errorf("%w: %s cannot approve its own request", ErrSelfChange, id)
	} else {
		err = m.apply(ctx, approver, ch)
	}
	m.audit(ctx, AuditEvent{Actor: safeID(approver), Stage: "approve", Change: ch, RequestedBy: r.RequestedBy}, err, "applied")
	return err
}

// AssignRole creates or replaces the profile p, a global role.
func (m *Manager) AssignRole(ctx context.Context, actor Subject, p Profile) error {
	return m.Apply(ctx, actor, Change{Kind: ChangePutProfile, Profile: p})
}

// SetRoleActive activates or deactivates holder's profile for role.
func (m *Manager) SetRoleActive(ctx context.Context, actor Subject, holder Principal, role string, active bool) error {
	k := ChangeDeactivate
	if active {
		k = ChangeActivate
	}
	return m.Apply(ctx, actor, Change{Kind: k, Profile: Profile{Holder: holder, Role: role}})
}

// RemoveRole deletes holder's profile for role.
func (m *Manager) RemoveRole(ctx context.Context, actor Subject, holder Principal, role string) error {
	return m.Apply(ctx, actor, Change{Kind: ChangeDeleteProfile, Profile: Profile{Holder: holder, Role: role}})
}

// Grant adds g (a permission or a local role on a Ref).
func (m *Manager) Grant(ctx context.Context, actor Subject, g Grant) error {
	return m.Apply(ctx, actor, Change{Kind: ChangeGrant, Grant: g})
}

// Revoke removes g.
func (m *Manager) Revoke(ctx context.Context, actor Subject, g Grant) error {
	return m.Apply(ctx, actor, Change{Kind: ChangeRevoke, Grant: g})
}

// AddMember makes user a member of group.
func (m *Manager) AddMember(ctx context.Context, actor Subject, user, group string) error {
	return m.Apply(ctx, actor, Change{Kind: ChangeAddMember, User: user, Group: group})
}

// RemoveMember ends user's membership of group.
func (m *Manager) RemoveMember(ctx context.Context, actor Subject, user, group string) error {
	return m.Apply(ctx, actor, Change{Kind: ChangeRemoveMember, User: user, Group: group})
}

func subjectID(s Subject) string {
	if s == nil {
		return ""
	}
	return s.SubjectID()
}

// safeID is subjectID for the audit trail, which must not panic.
func safeID(s Subject) (id string) {
	defer func() {
		if recover() != nil {
			id = "<panicked>"
		}
	}()
	return subjectID(s)
}

func (m *Manager) audit(ctx context.Context, e AuditEvent, err error, ok string) {
	e.Time, e.Err, e.Result = m.c.now(), err, ok
	level := slog.LevelInfo
	switch {
	case err == nil:
	case errors.Is(err, ErrNotManager), errors.Is(err, ErrEscalation), errors.Is(err, ErrSelfChange),
		errors.Is(err, ErrProtected), errors.Is(err, ErrLastHolder):
		e.Result, level = "refused", slog.LevelWarn
	default:
		e.Result, level = "failed", slog.LevelWarn
	}
	m.log.LogAttrs(ctx, level, "iam: change", e.attrs()...)
	if m.hook != nil {
		m.hook(ctx, e)
	}
}

// recovered turns a panic (in a subject's method, a store, a rule) into an
// error wrapping ErrPanic: the change is refused, the process goes on.
func recovered(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: managing access: %v", ErrPanic, r)
	}
}

// apply checks and writes ch atomically.
func (m *Manager) apply(ctx context.Context, actor Subject, ch Change) (err error) {
	defer recovered(&err)
	if err := m.validate(ch); err != nil {
		return err
	}
	if t, ok := m.c.store.(Transactor); ok {
		return t.Transact(ctx, func(ctx context.Context, tx Store) error {
			if err := m.authorize(ctx, tx, actor, ch); err != nil {
				return err
			}
			return write(ctx, tx, ch)
		})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.authorize(ctx, m.c.store, actor, ch); err != nil {
		return err
	}
	return write(ctx, m.c.store, ch)
}

func write(ctx context.Context, s Store, ch Change) error {
	p := ch.Profile
	switch ch.Kind {
	case ChangePutProfile:
		return s.PutProfile(ctx, p)
	case ChangeActivate, ChangeDeactivate:
		return s.SetProfileActive(ctx, p.Holder, p.Role, ch.Kind == ChangeActivate)
	case ChangeDeleteProfile:
		return s.DeleteProfile(ctx, p.Holder, p.Role)
	case ChangeGrant:
		return s.Grant(ctx, ch.Grant)
	case ChangeRevoke:
		return s.Revoke(ctx, ch.Grant)
	case ChangeAddMember:
		return s.AddMember(ctx, ch.User, ch.Group)
	case ChangeRemoveMember:
		return s.RemoveMember(ctx, ch.User, ch.Group)
	}
	return fmt.Errorf("%w: change kind %d", ErrInvalid, ch.Kind)
}

// validate checks the change's shape against the policy.
func (m *Manager) validate(ch Change) error { return m.c.validChange(ch) }

// A scope is where a change applies: globally (GlobalScope()), to a whole type
// (TypeScope(t)) or to an object and its descendants.
type scope struct {
	on  Ref
	obj Object // for an object: the application's object, or a refusingRef
}

func (sc scope) String() string {
	switch {
	case sc.on.Type == "": // GlobalScope(), or the zero scope of a profile
		return "globally"
	case !sc.on.IsObject():
		return "on every " + sc.on.Type
	}
	return "on " + sc.on.String()
}

// refusingRef is a bare Ref judged as an object that refuses global roles:
// the Manager cannot know that the application's object acquires them.
type refusingRef struct{ Ref }

func (refusingRef) AcquireGlobalRoles() bool { return false }

// A stake is a permission a change can hand out or take away, and where.
// direct: it reaches objects refusing global roles (a direct grant, a
// rule's), so at global or type scope only the actor's own grant counts.
type stake struct {
	pi     *permInfo
	sc     scope
	direct bool
}

// authorize applies the rules to a validated change, reading through s (a
// transaction's view when the store is a Transactor).
func (m *Manager) authorize(ctx context.Context, s Store, actor Subject, ch Change) error {
	c := m.c
	if s != c.store {
		c = c.withStore(s)
	}
	id := subjectID(actor)
	if id == "" {
		return fmt.Errorf("%w: no authenticated actor", ErrNotManager)
	}
	if a, ok := actor.(activer); ok && !a.IsActive() {
		return fmt.Errorf("%w: actor %s is inactive", ErrNotManager, id)
	}
	a := &actorView{m: m, c: c, s: s, subj: actor, id: id}
	target := ch.Target()
	if target == User(id) {
		return fmt.Errorf("%w: %s", ErrSelfChange, id)
	}
	if target.Kind == KindGroup {
		groups, err := a.groups(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(groups, target.ID) {
			return fmt.Errorf("%w: %s is a member of %s", ErrSelfChange, id, target)
		}
	}
	if isSuperuser(actor) {
		a.super = true
	}

	managePerm, where := PermManageRoles, scope{}
	if ch.Kind == ChangeGrant || ch.Kind == ChangeRevoke {
		if ch.Grant.Perm != "" {
			managePerm = PermManageGrants
		}
		var err error
		if where, err = m.scopeOf(ctx, ch.Grant.On, ch.Object); err != nil {
			return err
		}
	}
	if !a.super {
		ok, err := a.manages(ctx, c.pol.perms[managePerm], where)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s lacks %s %s", ErrNotManager, id, managePerm, where)
		}
	}

	roles, stakes, err := m.stakes(ctx, s, ch, where)
	if err == errUnknownStakes && !a.super {
		return fmt.Errorf("%w: the store cannot list what %s holds", ErrEscalation, Group(ch.Group))
	} else if err != nil && err != errUnknownStakes {
		return err
	}
	if !a.super {
		for _, ri := range roles {
			if c.pol.protected(ri) {
				return fmt.Errorf("%w: %s", ErrProtected, ri.name)
			}
		}
		for _, st := range stakes {
			if err := a.require(ctx, st); err != nil {
				return err
			}
		}
	}
	return m.lastHolder(ctx, s, ch)
}

// scopeOf returns the scope of a change on ref, with obj if the caller gave it.
func (m *Manager) scopeOf(ctx context.Context, ref Ref, obj Object) (scope, error) {
	if !ref.IsObject() {
		return scope{on: ref}, nil
	}
	if obj == nil && m.load != nil {
		o, err := m.load(ctx, ref)
		if err != nil {
			return scope{}, fmt.Errorf("iam: loading %s: %w", ref.String(), err)
		}
		if o != nil && o.ObjectRef() != ref {
			return scope{}, fmt.Errorf("%w: ManagerOptions.Object returned %s for %s", ErrInvalid, o.ObjectRef().String(), ref.String())
		}
		obj = o
	}
	if obj == nil {
		obj = refusingRef{ref}
	}
	return scope{on: ref, obj: obj}, nil
}

// stakes returns the roles a change hands out or takes away (for the
// Protected rule) and its stakes, or errUnknownStakes for a membership
// without a HolderGrantLister (only a superuser may go past).
func (m *Manager) stakes(ctx context.Context, s Store, ch Change, where scope) ([]*roleInfo, []stake, error) {
	pol := m.c.pol
	var (
		roles  []*roleInfo
		stakes []stake
	)
	// role adds the stakes of holding ri at sc: its permissions (not direct:
	// objects refusing global roles refuse a role), and the rules it turns.
	role := func(ri *roleInfo, sc scope) {
		roles = append(roles, ri)
		for _, pi := range pol.permList {
			if ri.perms.has(pi.idx) {
				stakes = append(stakes, stake{pi: pi, sc: sc})
			}
		}
		ruleStakes(&stakes, pol, pol.ruleByRole[ri.idx], sc)
	}
	switch {
	case ch.isProfile():
		role(pol.roles[ch.Profile.Role], scope{})
		return roles, stakes, nil
	case ch.Kind == ChangeGrant || ch.Kind == ChangeRevoke:
		if ch.Grant.Role != "" {
			role(pol.roles[ch.Grant.Role], where)
		} else {
			stakes = append(stakes, stake{pi: pol.perms[ch.Grant.Perm], sc: where, direct: true})
		}
		return roles, stakes, nil
	}
	// A membership hands out everything the group holds, and turns its rules.
	ruleStakes(&stakes, pol, pol.ruleByGroup[ch.Group], scope{})
	h, err := s.Holding(ctx, Group(ch.Group))
	if err != nil {
		return nil, nil, fmt.Errorf("iam: reading %s: %w", Group(ch.Group), err)
	}
	now := m.c.now()
	for _, p := range h.Profiles() {
		if ri := pol.roles[p.Role]; ri != nil && p.Live(now) {
			role(ri, scope{})
		}
	}
	gl, ok := s.(HolderGrantLister)
	if !ok {
		return roles, stakes, errUnknownStakes
	}
	grants, err := gl.GrantsHeldBy(ctx, Group(ch.Group))
	if err != nil {
		return nil, nil, fmt.Errorf("iam: listing the grants of %s: %w", Group(ch.Group), err)
	}
	for _, g := range grants {
		if !g.Live(now) {
			continue // an expired grant hands out nothing
		}
		sc, err := m.scopeOf(ctx, g.On, nil)
		if err != nil {
			return nil, nil, err
		}
		if ri := pol.roles[g.Role]; g.Role != "" && ri != nil {
			role(ri, sc)
		} else if pi := pol.perms[g.Perm]; g.Perm != "" && pi != nil {
			stakes = append(stakes, stake{pi: pi, sc: sc, direct: true})
		}
	}
	return roles, stakes, nil
}

// errUnknownStakes: the store cannot list a group's grants.
var errUnknownStakes = errors.New("iam: unknown stakes")

// ruleStakes adds perms (whose rules a change can turn) as direct stakes at
// sc: a rule need not ask for a global role, so it reaches refusing objects.
func ruleStakes(out *[]stake, pol *policy, perms bitset, sc scope) {
	if perms == nil {
		return
	}
	for _, pi := range pol.permList {
		if perms.has(pi.idx) {
			*out = append(*out, stake{pi: pi, sc: sc, direct: true})
		}
	}
}

// actorView answers what a change's actor holds, reading global access once.
type actorView struct {
	m     *Manager
	c     *Checker
	s     Store
	subj  Subject
	id    string
	super bool

	read       bool
	principals []Principal // the user and its groups
	gs         []string
	viaRole    bitset // permissions of the actor's global roles
	viaGrant   bitset // permissions granted to the actor on GlobalScope()
	types      map[string][2]bitset
}

// groups returns the actor's stored groups plus SubjectGroups().
func (a *actorView) groups(ctx context.Context) ([]string, error) {
	if a.gs != nil {
		return a.gs, nil
	}
	h, err := a.s.Holding(ctx, User(a.id))
	if err != nil {
		return nil, fmt.Errorf("iam: reading %s: %w", User(a.id), err)
	}
	// Never nil once read, so that it is read once.
	gs := append([]string{}, h.Groups()...)
	if g, ok := a.subj.(grouper); ok {
		gs = append(gs, g.SubjectGroups()...)
	}
	a.gs = gs
	return a.gs, nil
}

// global reads the actor's global roles and global grants.
func (a *actorView) global(ctx context.Context) error {
	if a.read {
		return nil
	}
	pol := a.c.pol
	gs, err := a.groups(ctx)
	if err != nil {
		return err
	}
	a.principals = []Principal{User(a.id)}
	for _, g := range gs {
		a.principals = append(a.principals, Group(g))
	}
	a.viaRole, a.viaGrant = newBitset(len(pol.permList)), newBitset(len(pol.permList))
	now := a.c.now()
	for _, p := range a.principals {
		h, err := a.s.Holding(ctx, p)
		if err != nil {
			return fmt.Errorf("iam: reading %s: %w", p, err)
		}
		for _, pr := range h.Profiles() {
			if ri := pol.roles[pr.Role]; ri != nil && pr.Live(now) {
				a.viaRole.or(ri.perms)
			}
		}
	}
	if a.viaRole, a.viaGrant, err = a.grantsOn(ctx, GlobalScope(), a.viaRole, a.viaGrant); err != nil {
		return err
	}
	a.read = true
	return nil
}

// grantsOn adds the permissions granted to the actor on exactly on: through
// roles to viaRole, directly to viaGrant.
func (a *actorView) grantsOn(ctx context.Context, on Ref, viaRole, viaGrant bitset) (bitset, bitset, error) {
	pol := a.c.pol
	set, err := a.s.Grants(ctx, on)
	if err != nil {
		return nil, nil, fmt.Errorf("iam: reading the grants on %s: %w", on.String(), err)
	}
	now := a.c.now()
	for _, g := range set.Grants(on) {
		if !slices.Contains(a.principals, g.Holder) || !g.Live(now) {
			continue
		}
		if ri := pol.roles[g.Role]; g.Role != "" && ri != nil {
			viaRole.or(ri.perms)
		} else if pi := pol.perms[g.Perm]; g.Perm != "" && pi != nil {
			viaGrant.set(pi.idx)
		}
	}
	return viaRole, viaGrant, nil
}

// holdsWide reports whether the actor holds pi globally or, at a type scope,
// on the type; direct counts only grants of pi itself (see stake).
func (a *actorView) holdsWide(ctx context.Context, pi *permInfo, on Ref, direct bool) (bool, error) {
	if err := a.global(ctx); err != nil {
		return false, err
	}
	if a.viaGrant.has(pi.idx) || !direct && a.viaRole.has(pi.idx) {
		return true, nil
	}
	if on.Type == "" {
		return false, nil
	}
	t, ok := a.types[on.Type]
	if !ok {
		n := len(a.c.pol.permList)
		var err error
		if t[0], t[1], err = a.grantsOn(ctx, on, newBitset(n), newBitset(n)); err != nil {
			return false, err
		}
		if a.types == nil {
			a.types = map[string][2]bitset{}
		}
		a.types[on.Type] = t
	}
	return t[1].has(pi.idx) || !direct && t[0].has(pi.idx), nil
}

// manages reports whether the actor holds the manage permission pi at sc
// (on an object: by a check, rules included).
func (a *actorView) manages(ctx context.Context, pi *permInfo, sc scope) (bool, error) {
	if sc.obj == nil {
		return a.holdsWide(ctx, pi, sc.on, false)
	}
	return a.c.holds(ctx, a.subj, pi.name, sc.obj)
}

// require returns ErrEscalation unless the actor holds the stake.
func (a *actorView) require(ctx context.Context, st stake) error {
	var (
		ok  bool
		err error
		how string
	)
	switch {
	case st.sc.obj != nil:
		ok, how, err = a.holdsOnObject(ctx, st.pi, st.sc.obj)
	case len(st.pi.types) > 0 && st.sc.on.Type != "" && !slices.Contains(st.pi.types, st.sc.on.Type):
		// A role on a type pi is not declared for gives nothing of pi.
		return nil
	default:
		ok, err = a.holdsWide(ctx, st.pi, st.sc.on, st.direct)
		if st.direct {
			how = " (a permission granted directly or by a rule needs the actor's own grant of it)"
		}
	}
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: actor lacks %s %s%s", ErrEscalation, st.pi.name, st.sc, how)
	}
	return nil
}

// maxDescendants bounds the objects the Manager looks at below one object.
const maxDescendants = 4096

// holdsOnObject reports whether the actor holds pi on obj and on every
// descendant of obj (a grant on obj reaches them all).
func (a *actorView) holdsOnObject(ctx context.Context, pi *permInfo, obj Object) (ok bool, how string, err error) {
	applies := len(pi.types) == 0 || slices.Contains(pi.types, obj.ObjectRef().Type)
	if applies {
		e, err := a.c.Explain(ctx, a.subj, pi.name, obj)
		if err != nil {
			return false, "", err
		}
		if !e.Decision.Allowed {
			return false, "", nil
		}
		for _, g := range e.Grounds {
			if reachesDescendants(g, obj.ObjectRef()) {
				return true, "", nil
			}
		}
	}
	// What the actor holds on obj need not reach its descendants: check each.
	if a.m.children == nil {
		return false, " (it is held there only in a way that does not reach the object's descendants, and ManagerOptions.Children is not set)", nil
	}
	seen := map[Ref]bool{obj.ObjectRef(): true}
	queue := []Ref{obj.ObjectRef()}
	for len(queue) > 0 {
		kids, err := a.m.children(ctx, queue[0])
		if err != nil {
			return false, "", fmt.Errorf("iam: listing the children of %s: %w", queue[0].String(), err)
		}
		queue = queue[1:]
		for _, k := range kids {
			if k == nil {
				continue
			}
			r := k.ObjectRef()
			if seen[r] {
				continue
			}
			if len(seen) >= maxDescendants {
				return false, fmt.Sprintf(" (more than %d descendants)", maxDescendants), nil
			}
			seen[r] = true
			queue = append(queue, r)
			if len(pi.types) > 0 && !slices.Contains(pi.types, r.Type) {
				continue
			}
			held, err := a.c.holds(ctx, a.subj, pi.name, k)
			if err != nil {
				return false, "", err
			}
			if !held {
				return false, " on its descendant " + r.String(), nil
			}
		}
	}
	return true, "", nil
}

// reachesDescendants reports whether an allowing ground on obj holds for
// every descendant too: a grant or local role on obj itself (a descendant's
// check reaches obj exactly where a grant the change puts on obj does), a
// global grant, a superuser. Not a global role (a descendant may refuse
// it), a type-level grant (it may be of another type), a rule, nor a grant
// on an ancestor: a descendant's check may not reach that far (obj's own
// Parents method is not read from below, and MaxDepth may stop the walk).
func reachesDescendants(g Decision, obj Ref) bool {
	switch g.Reason {
	case ReasonSuperuser:
		return true
	case ReasonLocalRole:
		return g.On == obj
	case ReasonGrant:
		return g.On == obj || g.On == GlobalScope()
	}
	return false
}

// lastHolder refuses a change that breaks the last-holder rule (see Manager):
// only active profiles without expiry, of the role or one including it, count.
func (m *Manager) lastHolder(ctx context.Context, s Store, ch Change) error {
	if !ch.isProfile() || ch.Kind == ChangeActivate {
		return nil
	}
	pol := m.c.pol
	ri := pol.roles[ch.Profile.Role]
	if !pol.protected(ri) {
		return nil
	}
	rl, ok := s.(RoleLister)
	if !ok {
		return fmt.Errorf("%w: the store cannot list the holders of %s", ErrLastHolder, ri.name)
	}
	lasting := func(p Profile) bool { return p.Holder.Kind == KindUser && p.Active && p.ExpiresAt.IsZero() }
	changed := ch.Profile.Holder
	for _, prot := range pol.roleList {
		if !prot.role.Protected || !ri.roles.has(prot.idx) {
			continue
		}
		before, after := false, ch.Kind == ChangePutProfile && lasting(ch.Profile)
		for _, holder := range pol.roleList {
			if !holder.roles.has(prot.idx) || before && after {
				continue
			}
			ps, err := rl.RoleProfiles(ctx, holder.name)
			if err != nil {
				return fmt.Errorf("iam: listing the holders of %s: %w", holder.name, err)
			}
			for _, p := range ps {
				if !lasting(p) {
					continue
				}
				before = true
				if holder != ri || p.Holder != changed {
					after = true
				}
			}
		}
		if before && !after {
			return fmt.Errorf("%w: %s would have no user holding it without expiry", ErrLastHolder, prot.name)
		}
	}
	return nil
}

// holds is HasPerm that reports the error instead of hiding it.
func (c *Checker) holds(ctx context.Context, s Subject, perm string, obj Object) (bool, error) {
	d, err := c.Check(ctx, s, perm, obj)
	if err != nil {
		return false, err
	}
	return d.Allowed, nil
}

// withStore returns a checker with the same policy reading s.
func (c *Checker) withStore(s Store) *Checker {
	n := &Checker{pol: c.pol, now: c.now, maxDepth: c.maxDepth}
	n.setStore(s)
	return n
}

// protected reports whether ri is Protected or includes a Protected role.
func (p *policy) protected(ri *roleInfo) bool {
	for _, o := range p.roleList {
		if o.role.Protected && ri.roles.has(o.idx) {
			return true
		}
	}
	return false
}

// compileStakes finds the rule stakes (see Manager) of each role and of each
// group the rules name.
func (p *policy) compileStakes() {
	p.ruleByRole = make([]bitset, len(p.roleList))
	for _, pi := range p.permList {
		if pi.rule == nil {
			continue
		}
		for _, leaf := range pi.rule.leaves {
			switch leaf.op {
			case opHasRole, opProfile:
				named := p.roles[leaf.role.Name]
				for _, ri := range p.roleList {
					if ri.roles.has(named.idx) {
						if p.ruleByRole[ri.idx] == nil {
							p.ruleByRole[ri.idx] = newBitset(len(p.permList))
						}
						p.ruleByRole[ri.idx].set(pi.idx)
					}
				}
			case opInGroup:
				for _, g := range leaf.groups {
					if p.ruleByGroup == nil {
						p.ruleByGroup = map[string]bitset{}
					}
					if p.ruleByGroup[g] == nil {
						p.ruleByGroup[g] = newBitset(len(p.permList))
					}
					p.ruleByGroup[g].set(pi.idx)
				}
			}
		}
	}
}
