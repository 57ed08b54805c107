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

// Errors of the Manager's rules (DESIGN contract 19), matched with errors.Is.
var (
	// ErrNotManager: the actor is nil, anonymous or inactive, or lacks
	// iam.manage_roles (roles, memberships) or iam.manage_grants
	// (permission grants).
	ErrNotManager = errors.New("iam: actor may not manage this")
	// ErrEscalation: the change would hand out a permission the actor does
	// not hold itself (where it would apply).
	ErrEscalation = errors.New("iam: change would grant more than the actor holds")
	// ErrSelfChange: actors never change their own roles, profiles,
	// memberships or grants, nor those of a group they belong to; and a
	// requester never approves its own request.
	ErrSelfChange = errors.New("iam: actors cannot change their own access")
	// ErrProtected: only an active superuser changes who holds a Protected
	// role (or a role that includes one).
	ErrProtected = errors.New("iam: only a superuser can change a protected role")
	// ErrLastHolder: the change would leave a Protected role with no user
	// holding a live profile for it (groups do not count: they may have no
	// members).
	ErrLastHolder = errors.New("iam: the last holder of a protected role cannot be removed")
)

// ChangeKind names what a Change does.
type ChangeKind uint8

// The kinds of change a Manager applies.
const (
	// ChangePutProfile creates or replaces a profile: grants a global role
	// (Change.Profile, with its data and expiry), or updates it.
	ChangePutProfile ChangeKind = iota + 1
	// ChangeActivate and ChangeDeactivate switch the profile
	// (Change.Profile.Holder, Change.Profile.Role).
	ChangeActivate
	ChangeDeactivate
	// ChangeDeleteProfile removes the profile.
	ChangeDeleteProfile
	// ChangeGrant and ChangeRevoke add or remove Change.Grant: a permission
	// or a local role on an object, a type or globally.
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

// Change is one management action, as a value: Manager.Apply carries it
// out, Manager.Request records it for approval, and the audit trail reports
// it. Which fields count depends on Kind.
type Change struct {
	Kind    ChangeKind
	Profile Profile // profile kinds: Holder and Role (all fields for PutProfile)
	Grant   Grant   // ChangeGrant, ChangeRevoke
	User    string  // membership kinds
	Group   string  // membership kinds
	// Object, optionally, is the application's object a grant is on (its
	// ObjectRef must equal Grant.On). The Manager checks the actor's
	// permissions against it, so rules typed on the application's object
	// (an owner rule) apply; without it they see a bare Ref.
	Object Object
}

// where returns what a grant change is checked against: the application's
// object when given and matching, else the Ref (nil for type and global
// grants).
func (c Change) where() (Object, error) {
	if !c.Grant.On.IsObject() {
		return nil, nil
	}
	if c.Object != nil {
		if c.Object.ObjectRef() != c.Grant.On {
			return nil, fmt.Errorf("%w: Change.Object is %s, the grant is on %s", ErrInvalid, c.Object.ObjectRef().String(), c.Grant.On.String())
		}
		return c.Object, nil
	}
	return c.Grant.On, nil
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

// Request is a change asked for by one actor and applied later, by Approve,
// by another actor who passes the same rules (a promotion request). It is
// a plain value: the application stores it where it likes.
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

// Attrs returns the event as slog attributes: actor, action, target, role,
// perm, object, result and error (those that apply).
func (e AuditEvent) Attrs() []slog.Attr {
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

// Transactor is an optional interface of a store in which the Manager
// checks and writes a change atomically: fn runs while no other Transact
// on the same data runs (across processes, for a shared database), its
// reads see every change committed before it started, and its writes
// through tx commit together, or not at all if fn returns an error. The
// Manager reads only through tx, so tx should also implement RoleLister and
// HolderGrantLister when the store does.
type Transactor interface {
	Transact(ctx context.Context, fn func(ctx context.Context, tx Store) error) error
}

// RoleLister is an optional interface of a store that lists the profiles of
// a role, live or not. The Manager's last-holder rule needs it; without it,
// removing a holder of a Protected role is refused.
type RoleLister interface {
	RoleProfiles(ctx context.Context, role string) ([]Profile, error)
}

// HolderGrantLister is an optional interface of a store that lists every
// grant a principal holds directly. The Manager needs it to treat a
// membership change as granting the group's grants; without it, a
// non-superuser cannot add members to a group that holds any.
type HolderGrantLister interface {
	GrantsHeldBy(ctx context.Context, holder Principal) ([]Grant, error)
}

// ManagerOptions configure a Manager; the zero value is valid.
type ManagerOptions struct {
	// Logger receives one record per attempted change; nil means
	// slog.Default(). Applied changes log at Info, refused and failed ones
	// at Warn.
	Logger *slog.Logger
	// Audit, if set, is called once per attempted change, after the change
	// (so an application can keep an audit table). It must not block long.
	Audit func(ctx context.Context, e AuditEvent)
}

// Manager changes who holds what, under rules that stop privilege
// escalation (DESIGN contract 19), and audits every attempt. Every method
// takes the acting subject. Rules, checked in this order:
//
//   - the actor is an active, authenticated subject (else ErrNotManager);
//   - nobody changes their own access, or a group they belong to
//     (ErrSelfChange);
//   - profiles and memberships need iam.manage_roles, local roles need it on
//     the object, permission grants need iam.manage_grants on the object
//     (ErrNotManager); superusers hold both;
//   - only a superuser changes who holds a Protected role, or a role that
//     includes one (ErrProtected);
//   - the actor holds every permission the change hands out or takes away,
//     where it applies: a global role's permissions globally, a local
//     role's or a permission grant's on its object (ErrEscalation); adding
//     a member hands out everything the group holds;
//   - a Protected role keeps at least one live holder (ErrLastHolder).
//
// A change is checked and written atomically when the store implements
// Transactor; otherwise the Manager serialises its own changes in-process.
// A Manager is safe for concurrent use.
type Manager struct {
	c    *Checker
	log  *slog.Logger
	hook func(context.Context, AuditEvent)
	mu   sync.Mutex // serialises changes when the store is not a Transactor
}

// NewManager returns a Manager over the checker's policy and store.
func NewManager(c *Checker, opts ManagerOptions) *Manager {
	m := &Manager{c: c, log: opts.Logger, hook: opts.Audit}
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

// Request records that requester asks for ch: it validates the change and
// audits the request, and returns it for the application to keep until
// another actor approves it. Anyone may request, even for themselves.
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

// Approve applies a request as approver, who must pass every rule as if it
// made the change itself, and must not be the requester (ErrSelfChange).
func (m *Manager) Approve(ctx context.Context, approver Subject, r Request) error {
	var err error
	if id := safeID(approver); id != "" && id == r.RequestedBy {
		err = fmt.Errorf("%w: %s cannot approve its own request", ErrSelfChange, id)
	} else {
		err = m.apply(ctx, approver, r.Change)
	}
	m.audit(ctx, AuditEvent{Actor: safeID(approver), Stage: "approve", Change: r.Change, RequestedBy: r.RequestedBy}, err, "applied")
	return err
}

// AssignRole grants the global role p.Role to p.Holder (creating or
// replacing the profile, with its data and expiry).
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
	m.log.LogAttrs(ctx, level, "iam: change", e.Attrs()...)
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
func (m *Manager) validate(ch Change) error {
	switch {
	case ch.isProfile():
		if !ch.Profile.Holder.Valid() {
			return fmt.Errorf("%w: profile holder %+v", ErrInvalid, ch.Profile.Holder)
		}
		if m.c.pol.roles[ch.Profile.Role] == nil {
			return fmt.Errorf("%w: unknown role %q", ErrInvalid, ch.Profile.Role)
		}
	case ch.Kind == ChangeGrant || ch.Kind == ChangeRevoke:
		return m.c.ValidateGrant(ch.Grant)
	case ch.isMembership():
		if ch.User == "" || ch.Group == "" {
			return fmt.Errorf("%w: membership needs a user and a group", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: change kind %d", ErrInvalid, ch.Kind)
	}
	return nil
}

// authorize applies the rules to a validated change, reading through s (a
// transaction's view when the store is a Transactor).
func (m *Manager) authorize(ctx context.Context, s Store, actor Subject, ch Change) error {
	c := m.c
	if s != c.store {
		// Check against the transaction's view of the data.
		c = c.withStore(s)
	}
	id := subjectID(actor)
	if id == "" {
		return fmt.Errorf("%w: no authenticated actor", ErrNotManager)
	}
	if a, ok := actor.(activer); ok && !a.IsActive() {
		return fmt.Errorf("%w: actor %s is inactive", ErrNotManager, id)
	}
	// Self-change: the target is the actor, or a group the actor is in.
	target := ch.Target()
	if target == User(id) {
		return fmt.Errorf("%w: %s", ErrSelfChange, id)
	}
	if target.Kind == KindGroup {
		groups, err := actorGroups(ctx, s, actor, id)
		if err != nil {
			return err
		}
		if slices.Contains(groups, target.ID) {
			return fmt.Errorf("%w: %s is a member of %s", ErrSelfChange, id, target)
		}
	}
	super := false
	if su, ok := actor.(superuserer); ok && su.IsSuperuser() {
		super = true
	}

	// The manage permission, where the change applies.
	managePerm, where := PermManageRoles, Object(nil)
	if !ch.isProfile() && !ch.isMembership() {
		if ch.Grant.Perm != "" {
			managePerm = PermManageGrants
		}
		var err error
		if where, err = ch.where(); err != nil {
			return err
		}
	}
	if !super {
		ok, err := c.holds(ctx, actor, managePerm, where)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s lacks %s", ErrNotManager, id, managePerm)
		}
	}

	// What the change hands out or takes away, and where.
	roles, perms, complete, err := m.stakes(ctx, s, ch)
	if err != nil {
		return err
	}
	if !super && !complete {
		return fmt.Errorf("%w: the store cannot list what %s holds", ErrEscalation, Group(ch.Group))
	}
	if !super {
		for _, r := range roles {
			if c.pol.protected(r.ri) {
				return fmt.Errorf("%w: %s", ErrProtected, r.ri.name)
			}
		}
		for _, r := range roles {
			for _, pi := range c.pol.permList {
				if r.ri.perms.has(pi.idx) {
					if err := c.requireHeld(ctx, actor, pi, r.where); err != nil {
						return err
					}
				}
			}
		}
		for _, p := range perms {
			if err := c.requireHeld(ctx, actor, p.pi, p.where); err != nil {
				return err
			}
		}
	}
	return m.lastHolder(ctx, s, ch)
}

type roleStake struct {
	ri    *roleInfo
	where Object
}

type permStake struct {
	pi    *permInfo
	where Object
}

// stakes returns the roles and permissions a change hands out or takes
// away, with the object each applies to (nil: globally). complete is false
// when s cannot list a group's grants, so the stakes of a membership are
// unknown.
func (m *Manager) stakes(ctx context.Context, s Store, ch Change) (roles []roleStake, perms []permStake, complete bool, err error) {
	pol := m.c.pol
	switch {
	case ch.isProfile():
		return []roleStake{{ri: pol.roles[ch.Profile.Role]}}, nil, true, nil
	case ch.Kind == ChangeGrant || ch.Kind == ChangeRevoke:
		where, err := ch.where()
		if err != nil {
			return nil, nil, false, err
		}
		if ch.Grant.Role != "" {
			return []roleStake{{ri: pol.roles[ch.Grant.Role], where: where}}, nil, true, nil
		}
		return nil, []permStake{{pi: pol.perms[ch.Grant.Perm], where: where}}, true, nil
	}
	// A membership hands out (or takes away) everything the group holds.
	h, err := s.Holding(ctx, Group(ch.Group))
	if err != nil {
		return nil, nil, false, fmt.Errorf("iam: reading %s: %w", Group(ch.Group), err)
	}
	for _, p := range h.Profiles() {
		if ri := pol.roles[p.Role]; ri != nil {
			roles = append(roles, roleStake{ri: ri})
		}
	}
	gl, ok := s.(HolderGrantLister)
	if !ok {
		return roles, nil, false, nil
	}
	grants, err := gl.GrantsHeldBy(ctx, Group(ch.Group))
	if err != nil {
		return nil, nil, false, fmt.Errorf("iam: listing the grants of %s: %w", Group(ch.Group), err)
	}
	for _, g := range grants {
		var where Object
		if g.On.IsObject() {
			where = g.On
		}
		if g.Role != "" {
			if ri := pol.roles[g.Role]; ri != nil {
				roles = append(roles, roleStake{ri: ri, where: where})
			}
		} else if pi := pol.perms[g.Perm]; pi != nil {
			perms = append(perms, permStake{pi: pi, where: where})
		}
	}
	return roles, perms, true, nil
}

// lastHolder refuses a change that leaves a Protected role without a live
// holder.
func (m *Manager) lastHolder(ctx context.Context, s Store, ch Change) error {
	if !ch.isProfile() || ch.Kind == ChangeActivate {
		return nil
	}
	ri := m.c.pol.roles[ch.Profile.Role]
	if !ri.role.Protected {
		return nil
	}
	now := m.c.now()
	if ch.Kind == ChangePutProfile && ch.Profile.Live(now) {
		return nil // still held after the change
	}
	rl, ok := s.(RoleLister)
	if !ok {
		return fmt.Errorf("%w: the store cannot list the holders of %s", ErrLastHolder, ri.name)
	}
	ps, err := rl.RoleProfiles(ctx, ri.name)
	if err != nil {
		return fmt.Errorf("iam: listing the holders of %s: %w", ri.name, err)
	}
	// Only users count: a group holding the role may have no members.
	for _, p := range ps {
		if p.Holder.Kind == KindUser && p.Holder != ch.Profile.Holder && p.Live(now) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s would have no live holder", ErrLastHolder, ri.name)
}

// actorGroups returns the actor's stored groups plus SubjectGroups().
func actorGroups(ctx context.Context, s Store, actor Subject, id string) ([]string, error) {
	h, err := s.Holding(ctx, User(id))
	if err != nil {
		return nil, fmt.Errorf("iam: reading %s: %w", User(id), err)
	}
	groups := h.Groups()
	if g, ok := actor.(grouper); ok {
		groups = append(slices.Clip(groups), g.SubjectGroups()...)
	}
	return groups, nil
}

// holds is HasPerm that reports the error instead of hiding it.
func (c *Checker) holds(ctx context.Context, s Subject, perm string, obj Object) (bool, error) {
	d, err := c.Check(ctx, s, perm, obj)
	if err != nil {
		return false, err
	}
	return d.Allowed, nil
}

// requireHeld returns ErrEscalation unless s holds pi where (nil:
// globally).
func (c *Checker) requireHeld(ctx context.Context, s Subject, pi *permInfo, where Object) error {
	ok, err := c.holds(ctx, s, pi.name, where)
	if err != nil && !errors.Is(err, ErrWrongType) {
		return err
	}
	if !ok {
		at := "globally"
		if where != nil {
			at = "on " + where.ObjectRef().String()
		}
		return fmt.Errorf("%w: actor lacks %s %s", ErrEscalation, pi.name, at)
	}
	return nil
}

// withStore returns a checker with the same policy reading s.
func (c *Checker) withStore(s Store) *Checker {
	n := &Checker{pol: c.pol, store: s, now: c.now, maxDepth: c.maxDepth}
	if ps, ok := s.(ParentStore); ok {
		n.parents = ps
	}
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
