package iamsql

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// queries holds every statement, in the dialect's placeholder syntax. All
// values are parameters: no identifier or value is ever spliced into SQL.
type queries struct {
	dialect Dialect

	profiles, holdingUser, holdingWithGroups        string
	grants, grantsBundle, grantsBundleType, parents string
	roleProfiles, grantsHeldBy                      string
	managerLock                                     string

	putProfile, setActive, deleteProfile string
	addMember, removeMember              string
	grant, revoke, deleteGrantsOn        string
	deleteParents, insertParent          string
	notify                               string

	revision, nextRevision, logChange, readLog, pruneChanges string
}

func queriesFor(d Dialect) *queries {
	r := func(q string) string { return rebind(d, q) }
	return &queries{
		dialect: d,
		// Holding of a group: its profiles. Column 1 tells the row kind:
		// 0 a profile of the principal, 1 a membership, 2 a group's profile.
		profiles: r(`SELECT 0, '', role, active, expires_at_us, data FROM iam_profiles
			WHERE holder_kind = $1 AND holder_id = $2`),
		holdingUser: r(`SELECT 0, '', role, active, expires_at_us, data FROM iam_profiles
			WHERE holder_kind = 1 AND holder_id = $1
			UNION ALL SELECT 1, group_id, '', ` + boolLit(d, false) + `, NULL, NULL FROM iam_members WHERE user_id = $1`),
		holdingWithGroups: r(`SELECT 0, '', role, active, expires_at_us, data FROM iam_profiles
			WHERE holder_kind = 1 AND holder_id = $1
			UNION ALL SELECT 1, group_id, '', ` + boolLit(d, false) + `, NULL, NULL FROM iam_members WHERE user_id = $1
			UNION ALL SELECT 2, m.group_id, p.role, p.active, p.expires_at_us, p.data
				FROM iam_members m JOIN iam_profiles p ON p.holder_kind = 2 AND p.holder_id = m.group_id
				WHERE m.user_id = $1`),
		grants: r(`SELECT 0, holder_kind, holder_id, is_role, name, expires_at_us FROM iam_grants WHERE obj_type = $1 AND obj_id = $2`),
		// Grants on an object, on its type and global, and the object's
		// parents (row kind 3: holder_kind = pos, holder_id = parent type,
		// name = parent id), in one round trip.
		grantsBundle: r(`SELECT 0, holder_kind, holder_id, is_role, name, expires_at_us FROM iam_grants WHERE obj_type = $1 AND obj_id = $2
			UNION ALL SELECT 1, holder_kind, holder_id, is_role, name, expires_at_us FROM iam_grants WHERE obj_type = $1 AND obj_id = ''
			UNION ALL SELECT 2, holder_kind, holder_id, is_role, name, expires_at_us FROM iam_grants WHERE obj_type = '' AND obj_id = ''
			UNION ALL SELECT 3, pos, parent_type, ` + boolLit(d, false) + `, parent_id, NULL FROM iam_parents WHERE obj_type = $1 AND obj_id = $2`),
		// The same for a type-level Ref: its grants and the global ones.
		grantsBundleType: r(`SELECT 0, holder_kind, holder_id, is_role, name, expires_at_us FROM iam_grants WHERE obj_type = $1 AND obj_id = ''
			UNION ALL SELECT 2, holder_kind, holder_id, is_role, name, expires_at_us FROM iam_grants WHERE obj_type = '' AND obj_id = ''`),
		parents:      r(`SELECT parent_type, parent_id FROM iam_parents WHERE obj_type = $1 AND obj_id = $2 ORDER BY pos`),
		roleProfiles: r(`SELECT holder_kind, holder_id, active, expires_at_us, data FROM iam_profiles WHERE role = $1`),
		grantsHeldBy: r(`SELECT obj_type, obj_id, is_role, name, expires_at_us FROM iam_grants WHERE holder_kind = $1 AND holder_id = $2`),
		// Transact's first statement. PostgreSQL: an advisory lock. SQLite:
		// a write that matches no row takes the database's write lock even
		// in a deferred transaction (a DSN without _txlock=immediate), so
		// Transact's reads are never followed by a write that finds
		// another transaction committed in between.
		managerLock: managerLock(d),

		putProfile: r(`INSERT INTO iam_profiles (holder_kind, holder_id, role, active, expires_at_us, data)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (holder_kind, holder_id, role) DO UPDATE
			SET active = excluded.active, expires_at_us = excluded.expires_at_us, data = excluded.data`),
		setActive:     r(`UPDATE iam_profiles SET active = $4 WHERE holder_kind = $1 AND holder_id = $2 AND role = $3`),
		deleteProfile: r(`DELETE FROM iam_profiles WHERE holder_kind = $1 AND holder_id = $2 AND role = $3`),
		addMember:     r(`INSERT INTO iam_members (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`),
		removeMember:  r(`DELETE FROM iam_members WHERE user_id = $1 AND group_id = $2`),
		grant: r(`INSERT INTO iam_grants (obj_type, obj_id, holder_kind, holder_id, is_role, name, expires_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (obj_type, obj_id, holder_kind, holder_id, is_role, name) DO UPDATE SET expires_at_us = excluded.expires_at_us`),
		revoke:         r(`DELETE FROM iam_grants WHERE obj_type = $1 AND obj_id = $2 AND holder_kind = $3 AND holder_id = $4 AND is_role = $5 AND name = $6`),
		deleteGrantsOn: r(`DELETE FROM iam_grants WHERE obj_type = $1 AND obj_id = $2`),
		deleteParents:  r(`DELETE FROM iam_parents WHERE obj_type = $1 AND obj_id = $2`),
		insertParent:   r(`INSERT INTO iam_parents (obj_type, obj_id, pos, parent_type, parent_id) VALUES ($1, $2, $3, $4, $5)`),
		notify:         `SELECT pg_notify($1, $2)`,

		revision:     `SELECT rev FROM iam_revision WHERE id = 1`,
		nextRevision: nextRevision(d),
		logChange: r(`INSERT INTO iam_changes (revision, seq, at_us, op, holder_kind, holder_id, name, is_role, obj_type, obj_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`),
		readLog: r(`SELECT revision, at_us, op, holder_kind, holder_id, name, is_role, obj_type, obj_id FROM iam_changes
			WHERE revision > $1 AND revision <= $2 ORDER BY revision, seq LIMIT $3`),
		// Whole revisions only, oldest first, so the log stays contiguous.
		pruneChanges: r(`DELETE FROM iam_changes WHERE revision <= (SELECT max(revision) FROM iam_changes WHERE at_us < $1)`),
	}
}

// nextRevision takes the transaction's revision. On PostgreSQL it also
// names the NOTIFY channel for the commit trigger that ends the
// transaction's notifications (migration 0004).
func nextRevision(d Dialect) string {
	if d == Postgres {
		return `UPDATE iam_revision SET rev = rev + 1 WHERE id = 1 AND set_config('iam.channel', $1, true) IS NOT NULL RETURNING rev`
	}
	return `UPDATE iam_revision SET rev = rev + 1 WHERE id = 1 RETURNING rev`
}

func managerLock(d Dialect) string {
	if d == Postgres {
		return `SELECT pg_advisory_xact_lock(7316052612)`
	}
	return `DELETE FROM iam_members WHERE 0 = 1`
}

func boolLit(d Dialect, b bool) string {
	switch {
	case d == Postgres && b:
		return "TRUE"
	case d == Postgres:
		return "FALSE"
	case b:
		return "1"
	}
	return "0"
}

// querier runs the reads of a raw: *sql.DB (the pool) for the Store, or
// *sql.Tx for a Transact function, whose reads then see its own writes and
// need no connection besides the transaction's.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var (
	_ querier = (*sql.DB)(nil)
	_ querier = (*sql.Tx)(nil)
)

// raw is the store without a cache: every read is one query. It implements
// iam.Store reads, iam.ParentStore reads and the iamcache batch loaders.
// Writes go through Writer.
type raw struct {
	// The embedded Store gives raw its writes (a transaction, NOTIFY,
	// cache invalidation), so raw is a complete iam.Store under iamcache;
	// raw's own read methods shadow the Store's cached ones.
	*Store
	// run runs the reads: the Store's pool (Store.raw) or a transaction
	// (txStore).
	run querier
}

// holdingRows collects the profiles and groups of one query.
type holdingRows struct {
	profiles []iam.Profile
	groups   []string
	gprof    map[string][]iam.Profile
}

func (r *raw) queryHoldings(ctx context.Context, q string, args ...any) (*holdingRows, error) {
	rows, err := r.run.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &holdingRows{}
	for rows.Next() {
		var (
			kind      int
			grp, role string
			active    bool
			expires   sql.NullInt64
			data      []byte
		)
		if err := rows.Scan(&kind, &grp, &role, &active, &expires, &data); err != nil {
			return nil, err
		}
		p := iam.Profile{Role: role, Active: active, Data: data, ExpiresAt: expiresAt(expires)}
		switch kind {
		case 0:
			out.profiles = append(out.profiles, p)
		case 1:
			out.groups = append(out.groups, grp)
		case 2:
			if out.gprof == nil {
				out.gprof = make(map[string][]iam.Profile)
			}
			p.Holder = iam.Group(grp)
			out.gprof[grp] = append(out.gprof[grp], p)
		}
	}
	return out, rows.Err()
}

func holdingOf(p iam.Principal, profiles []iam.Profile, groups []string) *iam.Holding {
	if len(profiles) == 0 && len(groups) == 0 {
		return nil
	}
	for i := range profiles {
		profiles[i].Holder = p
	}
	return iam.NewHolding(profiles, groups)
}

// Holding implements iam.ProfileStore's read.
func (r *raw) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	if !p.Valid() {
		return nil, nil
	}
	var (
		hr  *holdingRows
		err error
	)
	if p.Kind == iam.KindUser {
		hr, err = r.queryHoldings(ctx, r.q.holdingUser, p.ID)
	} else {
		hr, err = r.queryHoldings(ctx, r.q.profiles, int(p.Kind), p.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("iamsql: reading %s: %w", p, err)
	}
	return holdingOf(p, hr.profiles, hr.groups), nil
}

// LoadHoldings implements iamcache.HoldingLoader: a user with the profiles
// of its groups, in one query.
func (r *raw) LoadHoldings(ctx context.Context, p iam.Principal) (*iam.Holding, map[string]*iam.Holding, error) {
	if p.Kind != iam.KindUser || !p.Valid() {
		h, err := r.Holding(ctx, p)
		return h, nil, err
	}
	hr, err := r.queryHoldings(ctx, r.q.holdingWithGroups, p.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("iamsql: reading %s: %w", p, err)
	}
	var groups map[string]*iam.Holding
	if len(hr.groups) > 0 {
		groups = make(map[string]*iam.Holding, len(hr.groups))
		for _, g := range hr.groups {
			groups[g] = holdingOf(iam.Group(g), hr.gprof[g], nil)
		}
	}
	return holdingOf(p, hr.profiles, hr.groups), groups, nil
}

// Grants implements iam.ObjectPermStore's read.
func (r *raw) Grants(ctx context.Context, on iam.Ref) (*iam.GrantSet, error) {
	if !on.Valid() {
		return nil, nil
	}
	sets, _, err := r.queryGrants(ctx, r.q.grants, on.Type, on.ID)
	if err != nil {
		return nil, fmt.Errorf("iamsql: reading grants on %s: %w", on, err)
	}
	return sets[0], nil
}

// LoadGrants implements iamcache.GrantsLoader.
func (r *raw) LoadGrants(ctx context.Context, on iam.Ref) (iamcache.GrantsBundle, error) {
	var b iamcache.GrantsBundle
	if !on.Valid() {
		return b, nil
	}
	var (
		sets    [3]*iam.GrantSet
		parents []iam.Ref
		err     error
	)
	switch {
	case on.IsObject():
		sets, parents, err = r.queryGrants(ctx, r.q.grantsBundle, on.Type, on.ID)
		b.ParentsLoaded = true
	case on.Type != "":
		sets, _, err = r.queryGrants(ctx, r.q.grantsBundleType, on.Type)
	default: // global: no wider Ref
		sets, _, err = r.queryGrants(ctx, r.q.grants, "", "")
	}
	if err != nil {
		return iamcache.GrantsBundle{}, fmt.Errorf("iamsql: reading grants on %s: %w", on, err)
	}
	b.On, b.Type, b.Global, b.Parents = sets[0], sets[1], sets[2], parents
	return b, nil
}

// queryGrants reads rows of (which, holder_kind, holder_id, is_role, name):
// which 0-2 go to sets[which], 3 are parents.
func (r *raw) queryGrants(ctx context.Context, q string, args ...any) ([3]*iam.GrantSet, []iam.Ref, error) {
	var sets [3]*iam.GrantSet
	rows, err := r.run.QueryContext(ctx, q, args...)
	if err != nil {
		return sets, nil, err
	}
	defer rows.Close()
	var (
		grants  [3][]iam.Grant
		parents []posRef
	)
	for rows.Next() {
		var (
			which, kind int
			holder      string
			isRole      bool
			name        string
		)
		var exp sql.NullInt64
		if err := rows.Scan(&which, &kind, &holder, &isRole, &name, &exp); err != nil {
			return sets, nil, err
		}
		if which == 3 {
			parents = append(parents, posRef{pos: kind, ref: iam.Ref{Type: holder, ID: name}})
			continue
		}
		g := iam.Grant{Holder: iam.Principal{Kind: iam.PrincipalKind(kind), ID: holder}, ExpiresAt: expiresAt(exp)}
		setName(&g, isRole, name)
		grants[which] = append(grants[which], g)
	}
	if err := rows.Err(); err != nil {
		return sets, nil, err
	}
	for i, gs := range grants {
		if len(gs) > 0 {
			sets[i] = iam.NewGrantSet(gs)
		}
	}
	// UNION ALL has no order: put the parents back in SetParents' order.
	slices.SortFunc(parents, func(a, b posRef) int { return cmp.Compare(a.pos, b.pos) })
	var refs []iam.Ref
	for _, p := range parents {
		refs = append(refs, p.ref)
	}
	return sets, refs, nil
}

// posRef is a parent row: its position and the parent.
type posRef struct {
	pos int
	ref iam.Ref
}

// setName puts a grant row's name into g.Role or g.Perm.
func setName(g *iam.Grant, isRole bool, name string) {
	if isRole {
		g.Role = name
	} else {
		g.Perm = name
	}
}

// expiresArg and expiresAt convert Profile.ExpiresAt to and from its column:
// Unix microseconds, NULL for never.
func expiresArg(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func expiresAt(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// Parents implements iam.ParentStore's read.
func (r *raw) Parents(ctx context.Context, ref iam.Ref) ([]iam.Ref, error) {
	if !ref.IsObject() {
		return nil, nil
	}
	rows, err := r.run.QueryContext(ctx, r.q.parents, ref.Type, ref.ID)
	if err != nil {
		return nil, fmt.Errorf("iamsql: reading parents of %s: %w", ref, err)
	}
	defer rows.Close()
	var out []iam.Ref
	for rows.Next() {
		var p iam.Ref
		if err := rows.Scan(&p.Type, &p.ID); err != nil {
			return nil, fmt.Errorf("iamsql: reading parents of %s: %w", ref, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("iamsql: reading parents of %s: %w", ref, err)
	}
	return out, nil
}
