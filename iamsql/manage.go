package iamsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

var (
	_ iam.Transactor        = (*Store)(nil)
	_ iam.RoleLister        = (*Store)(nil)
	_ iam.HolderGrantLister = (*Store)(nil)
)

// Transact implements iam.Transactor for the Manager: fn runs inside one
// transaction that no other Transact on the database runs alongside (a
// PostgreSQL advisory lock; SQLite's write lock, taken by Transact's first
// statement), reads bypass the cache (they see every committed change), and
// fn's writes commit together — or not at all if fn returns an error.
//
// Every read fn makes through tx (Holding, Grants, Parents, RoleProfiles,
// GrantsHeldBy) runs on the transaction itself: it sees fn's earlier writes
// and everything committed before the lock was taken (on PostgreSQL the
// transaction is READ COMMITTED, whatever the database's default, so each
// read sees what the previous Transact committed). A Transact therefore
// holds exactly one connection of the pool and asks for no other, so a pool
// of one connection works (SQLite ":memory:" has one; so may a
// PostgreSQL *sql.DB with SetMaxOpenConns(1)) and k concurrent Transacts
// never wait for a connection that another of them holds. The invalidation
// listener's connection is not one of the pool's (see Open). Callbacks the
// Manager runs inside fn (ManagerOptions.Object and Children) must not
// query this pool when it has one connection: it is the transaction's.
func (s *Store) Transact(ctx context.Context, fn func(ctx context.Context, tx iam.Store) error) error {
	var opts *sql.TxOptions
	if s.d == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return s.update(ctx, opts, func(tx *sql.Tx, w *Writer) error {
		if _, err := tx.ExecContext(ctx, s.q.managerLock); err != nil {
			return fmt.Errorf("iamsql: taking the manager lock: %w", err)
		}
		return fn(iamcache.Fresh(ctx), &txStore{r: raw{Store: s, run: tx}, w: w})
	})
}

// txStore is the store as a Transact function sees it: reads and writes in
// the transaction.
type txStore struct {
	r raw // reads through the transaction, never the pool or the cache
	w *Writer
}

func (t *txStore) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	return t.r.Holding(ctx, p)
}
func (t *txStore) Grants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	return t.r.Grants(ctx, on)
}
func (t *txStore) Parents(ctx context.Context, ref iam.Ref) ([]iam.Ref, error) {
	return t.r.Parents(ctx, ref)
}
func (t *txStore) RoleProfiles(ctx context.Context, role string) ([]iam.Profile, error) {
	return t.r.RoleProfiles(ctx, role)
}
func (t *txStore) GrantsHeldBy(ctx context.Context, holder iam.Principal) ([]iam.Grant, error) {
	return t.r.GrantsHeldBy(ctx, holder)
}
func (t *txStore) PutProfile(ctx context.Context, p iam.Profile) error { return t.w.PutProfile(ctx, p) }
func (t *txStore) SetProfileActive(ctx context.Context, h iam.Principal, role string, active bool) error {
	return t.w.SetProfileActive(ctx, h, role, active)
}
func (t *txStore) DeleteProfile(ctx context.Context, h iam.Principal, role string) error {
	return t.w.DeleteProfile(ctx, h, role)
}
func (t *txStore) AddMember(ctx context.Context, u, g string) error { return t.w.AddMember(ctx, u, g) }
func (t *txStore) RemoveMember(ctx context.Context, u, g string) error {
	return t.w.RemoveMember(ctx, u, g)
}
func (t *txStore) Grant(ctx context.Context, g iam.Grant) error  { return t.w.Grant(ctx, g) }
func (t *txStore) Revoke(ctx context.Context, g iam.Grant) error { return t.w.Revoke(ctx, g) }
func (t *txStore) DeleteGrantsOn(ctx context.Context, on iam.Ref) error {
	return t.w.DeleteGrantsOn(ctx, on)
}
func (t *txStore) SetParents(ctx context.Context, ref iam.Ref, ps []iam.Ref) error {
	return t.w.SetParents(ctx, ref, ps)
}

// RoleProfiles implements iam.RoleLister: every profile for role, live or
// not (one indexed query).
func (s *Store) RoleProfiles(ctx context.Context, role string) ([]iam.Profile, error) {
	return s.raw.RoleProfiles(ctx, role)
}

func (r *raw) RoleProfiles(ctx context.Context, role string) ([]iam.Profile, error) {
	rows, err := r.run.QueryContext(ctx, r.q.roleProfiles, role)
	if err != nil {
		return nil, fmt.Errorf("iamsql: listing the holders of %q: %w", role, err)
	}
	defer rows.Close()
	var out []iam.Profile
	for rows.Next() {
		var (
			kind    int
			p       = iam.Profile{Role: role}
			expires sql.NullInt64
		)
		if err := rows.Scan(&kind, &p.Holder.ID, &p.Active, &expires, &p.Data); err != nil {
			return nil, fmt.Errorf("iamsql: listing the holders of %q: %w", role, err)
		}
		p.Holder.Kind, p.ExpiresAt = iam.PrincipalKind(kind), expiresAt(expires)
		out = append(out, p)
	}
	return out, wrap("listing role holders", rows.Err())
}

// GrantsHeldBy implements iam.HolderGrantLister: every grant held directly
// by holder (one indexed query).
func (s *Store) GrantsHeldBy(ctx context.Context, holder iam.Principal) ([]iam.Grant, error) {
	return s.raw.GrantsHeldBy(ctx, holder)
}

func (r *raw) GrantsHeldBy(ctx context.Context, holder iam.Principal) ([]iam.Grant, error) {
	rows, err := r.run.QueryContext(ctx, r.q.grantsHeldBy, int(holder.Kind), holder.ID)
	if err != nil {
		return nil, fmt.Errorf("iamsql: listing the grants of %s: %w", holder, err)
	}
	defer rows.Close()
	var out []iam.Grant
	for rows.Next() {
		var (
			g      = iam.Grant{Holder: holder}
			isRole bool
			name   string
		)
		var typ, id string
		var exp sql.NullInt64
		if err := rows.Scan(&typ, &id, &isRole, &name, &exp); err != nil {
			return nil, fmt.Errorf("iamsql: listing the grants of %s: %w", holder, err)
		}
		g.On, g.ExpiresAt = iam.StoredRef(typ, id), expiresAt(exp)
		setName(&g, isRole, name)
		out = append(out, g)
	}
	return out, wrap("listing grants", rows.Err())
}

// AuditRecord is one row of the audit table.
type AuditRecord struct {
	ID    int64
	Event iam.AuditEvent // Err is replaced by ErrText
	// ErrText is the error's text ("" when none).
	ErrText string
}

// RecordAudit stores e in the audit table (iam_audit).
func (s *Store) RecordAudit(ctx context.Context, e iam.AuditEvent) error {
	ch := e.Change
	t := ch.Target()
	var role, perm, grp string
	var on iam.Ref
	switch ch.Kind {
	case iam.ChangeGrant, iam.ChangeRevoke:
		role, perm, on = ch.Grant.Role, ch.Grant.Perm, ch.Grant.On
	case iam.ChangeAddMember, iam.ChangeRemoveMember:
		grp = ch.Group
	default:
		role = ch.Profile.Role
	}
	errText := ""
	if e.Err != nil {
		errText = e.Err.Error()
	}
	_, err := s.db.ExecContext(ctx, rebind(s.d, `INSERT INTO iam_audit
		(at_us, actor, stage, action, target_kind, target_id, role, perm, obj_type, obj_id, grp, requested_by, result, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`),
		e.Time.UnixMicro(), e.Actor, e.Stage, ch.Kind.String(), int(t.Kind), t.ID, role, perm, on.Type, on.ID, grp,
		e.RequestedBy, e.Result, errText)
	return wrap("recording audit event", err)
}

// AuditHook returns an iam.ManagerOptions.Audit hook that records every
// event with RecordAudit; a failure to record is logged (the change itself
// has already been decided).
func (s *Store) AuditHook() func(context.Context, iam.AuditEvent) {
	return func(ctx context.Context, e iam.AuditEvent) {
		if err := s.RecordAudit(context.WithoutCancel(ctx), e); err != nil {
			s.log.Error("iamsql: audit event not recorded", "err", err, "actor", e.Actor, "action", e.Change.Kind.String())
		}
	}
}

// AuditQuery selects audit records: by actor, by target, or all; newest
// first. Limit 0 means 100.
type AuditQuery struct {
	Actor  string         // "" : any
	Target *iam.Principal // nil: any
	Limit  int
	// Before, if not zero, keeps records older than the record of that ID
	// (AuditRecord.ID): the cursor of the next page.
	Before int64
}

// AuditLog lists audit records, newest first.
func (s *Store) AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	where, args := "", []any{}
	if q.Actor != "" {
		args = append(args, q.Actor)
		where += fmt.Sprintf(" AND actor = $%d", len(args))
	}
	if q.Target != nil {
		args = append(args, int(q.Target.Kind), q.Target.ID)
		where += fmt.Sprintf(" AND target_kind = $%d AND target_id = $%d", len(args)-1, len(args))
	}
	if q.Before != 0 {
		args = append(args, q.Before)
		where += fmt.Sprintf(" AND id < $%d", len(args))
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, rebind(s.d, `SELECT id, at_us, actor, stage, action, target_kind, target_id,
		role, perm, obj_type, obj_id, grp, requested_by, result, error FROM iam_audit WHERE 1 = 1`+where+
		fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))), args...)
	if err != nil {
		return nil, fmt.Errorf("iamsql: reading the audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var (
			r                        AuditRecord
			at                       int64
			action                   string
			tkind                    int
			tid, role, perm, ot, oid string
			grp                      string
		)
		if err := rows.Scan(&r.ID, &at, &r.Event.Actor, &r.Event.Stage, &action, &tkind, &tid, &role, &perm, &ot, &oid,
			&grp, &r.Event.RequestedBy, &r.Event.Result, &r.ErrText); err != nil {
			return nil, fmt.Errorf("iamsql: reading the audit log: %w", err)
		}
		r.Event.Time = time.UnixMicro(at).UTC()
		r.Event.Change = changeFromRow(action, iam.Principal{Kind: iam.PrincipalKind(tkind), ID: tid}, role, perm, iam.StoredRef(ot, oid), grp)
		out = append(out, r)
	}
	return out, wrap("reading the audit log", rows.Err())
}

// AuditEvents lists audit events newest first, as iamadmin's audit page
// reads them (it implements iamadmin.AuditSource): by actor and by target
// (a Principal's String, such as "user:ann"; "" for any), older than the
// cursor before ("" for the newest), at most limit, with the cursor of
// the next page ("" when there is none). Err is the recorded error text.
func (s *Store) AuditEvents(ctx context.Context, actor, target, before string, limit int) ([]iam.AuditEvent, string, error) {
	if limit <= 0 {
		limit = 100
	}
	q := AuditQuery{Actor: actor, Limit: limit + 1}
	if target != "" {
		kind, id, ok := strings.Cut(target, ":")
		p := iam.Principal{Kind: iam.KindUser, ID: id}
		if kind == "group" {
			p.Kind = iam.KindGroup
		}
		if !ok || (kind != "user" && kind != "group") || id == "" {
			return nil, "", fmt.Errorf("%w: audit target %q is not user:ID or group:ID", iam.ErrInvalid, target)
		}
		q.Target = &p
	}
	if before != "" {
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n <= 0 {
			return nil, "", fmt.Errorf("%w: audit cursor %q", iam.ErrInvalid, before)
		}
		q.Before = n
	}
	recs, err := s.AuditLog(ctx, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		next = strconv.FormatInt(recs[limit-1].ID, 10)
	}
	out := make([]iam.AuditEvent, len(recs))
	for i, r := range recs {
		out[i] = r.Event
		if r.ErrText != "" {
			out[i].Err = errors.New(r.ErrText)
		}
	}
	return out, next, nil
}

func changeFromRow(action string, target iam.Principal, role, perm string, on iam.Ref, grp string) iam.Change {
	var ch iam.Change
	for k := iam.ChangePutProfile; k <= iam.ChangeRemoveMember; k++ {
		if k.String() == action {
			ch.Kind = k
		}
	}
	switch ch.Kind {
	case iam.ChangeGrant, iam.ChangeRevoke:
		ch.Grant = iam.Grant{Holder: target, Role: role, Perm: perm, On: on}
	case iam.ChangeAddMember, iam.ChangeRemoveMember:
		ch.User, ch.Group = target.ID, grp
	default:
		ch.Profile = iam.Profile{Holder: target, Role: role}
	}
	return ch
}
