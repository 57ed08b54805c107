package iamsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

// Writer writes profiles, memberships, grants and parents inside one
// transaction, usually the application's own: an object's row and its
// grants commit or roll back together (docs/contract.md line 18).
//
//	tx, _ := db.BeginTx(ctx, nil)
//	w := store.Writer(tx)
//	tx.ExecContext(ctx, `INSERT INTO posts ...`)
//	w.Grant(ctx, iam.Grant{Holder: iam.User(uid), Perm: "blog.change_post", On: ref})
//	err := tx.Commit()
//	w.Committed() // also after a failed Commit: its outcome is unknown
//
// On PostgreSQL every write also queues a NOTIFY in the transaction, so the
// other processes learn of it exactly when (and only if) it commits. Call
// Committed after the commit so this process's cache drops the keys at once
// (Store.Update does all of this for you). A Writer is safe for concurrent
// use as far as its *sql.Tx is (database/sql serialises statements on a Tx).
type Writer struct {
	s  *Store
	tx *sql.Tx

	mu   sync.Mutex
	keys []iamcache.Key
	rev  int64 // the transaction's revision, taken on its first write
	seq  int
}

// Writer returns a Writer over tx, a transaction on the store's database.
func (s *Store) Writer(tx *sql.Tx) *Writer { return &Writer{s: s, tx: tx} }

// Committed drops the keys written so far from this process's cache. Call it
// after the transaction commits; calling it after a rollback is harmless.
func (w *Writer) Committed() {
	w.mu.Lock()
	keys := w.keys
	w.keys = nil
	w.mu.Unlock()
	if w.s.cache != nil && len(keys) > 0 {
		w.s.cache.Invalidate(keys...)
	}
}

// exec logs c, runs one statement, then records c's key and notifies.
func (w *Writer) exec(ctx context.Context, c Change, q string, args ...any) (sql.Result, error) {
	if err := w.logRow(ctx, c); err != nil {
		return nil, err
	}
	res, err := w.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return res, w.touched(ctx, c.key())
}

// touched records that key changed: the local cache drops it at once (a
// refill before the commit reads the old, still true data; Committed drops
// it again) and PostgreSQL is told to NOTIFY on commit.
func (w *Writer) touched(ctx context.Context, keys ...iamcache.Key) error {
	w.mu.Lock()
	w.keys = append(w.keys, keys...)
	w.mu.Unlock()
	if w.s.cache != nil {
		w.s.cache.Invalidate(keys...)
	}
	if w.s.d != Postgres {
		return nil
	}
	w.mu.Lock()
	rev := w.rev
	w.mu.Unlock()
	_, err := w.tx.ExecContext(ctx, w.s.q.notify, w.s.opts.Channel, strconv.FormatInt(rev, 10)+" "+encodeKeys(keys))
	return err
}

func checkPrincipal(p iam.Principal) error {
	if !p.Valid() {
		return fmt.Errorf("%w: principal %s", iam.ErrInvalid, p)
	}
	return nil
}

// PutProfile creates or replaces the profile for (p.Holder, p.Role).
func (w *Writer) PutProfile(ctx context.Context, p iam.Profile) error {
	if err := checkPrincipal(p.Holder); err != nil || p.Role == "" {
		return fmt.Errorf("%w: profile needs a valid holder and a role, got %s %q", iam.ErrInvalid, p.Holder, p.Role)
	}
	_, err := w.exec(ctx, Change{Op: OpPutProfile, Holder: p.Holder, Role: p.Role}, w.s.q.putProfile,
		int(p.Holder.Kind), p.Holder.ID, p.Role, p.Active, expiresArg(p.ExpiresAt), p.Data)
	return wrap("putting profile", err)
}

// SetProfileActive activates or deactivates an existing profile; a missing
// one is an error wrapping iam.ErrNotFound.
func (w *Writer) SetProfileActive(ctx context.Context, holder iam.Principal, role string, active bool) error {
	if err := checkPrincipal(holder); err != nil {
		return err
	}
	op := OpDeactivate
	if active {
		op = OpActivate
	}
	res, err := w.exec(ctx, Change{Op: op, Holder: holder, Role: role}, w.s.q.setActive, int(holder.Kind), holder.ID, role, active)
	if err != nil {
		return wrap("setting profile active", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("setting profile active", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no profile of %s for role %q", iam.ErrNotFound, holder, role)
	}
	return nil
}

// DeleteProfile removes a profile; removing a missing one is not an error.
func (w *Writer) DeleteProfile(ctx context.Context, holder iam.Principal, role string) error {
	if err := checkPrincipal(holder); err != nil {
		return err
	}
	_, err := w.exec(ctx, Change{Op: OpDeleteProfile, Holder: holder, Role: role}, w.s.q.deleteProfile, int(holder.Kind), holder.ID, role)
	return wrap("deleting profile", err)
}

// AddMember makes user a member of group (idempotent).
func (w *Writer) AddMember(ctx context.Context, user, group string) error {
	if user == "" || group == "" {
		return fmt.Errorf("%w: membership needs a user and a group", iam.ErrInvalid)
	}
	_, err := w.exec(ctx, Change{Op: OpAddMember, Holder: iam.User(user), Group: group}, w.s.q.addMember, user, group)
	return wrap("adding member", err)
}

// RemoveMember ends a membership (idempotent).
func (w *Writer) RemoveMember(ctx context.Context, user, group string) error {
	if user == "" || group == "" {
		return fmt.Errorf("%w: membership needs a user and a group", iam.ErrInvalid)
	}
	_, err := w.exec(ctx, Change{Op: OpRemoveMember, Holder: iam.User(user), Group: group}, w.s.q.removeMember, user, group)
	return wrap("removing member", err)
}

func grantArgs(g iam.Grant) []any {
	name, isRole := g.Perm, false
	if g.Role != "" {
		name, isRole = g.Role, true
	}
	return []any{g.On.Type, g.On.ID, int(g.Holder.Kind), g.Holder.ID, isRole, name}
}

// Grant adds g (idempotent). Store writes are not checked against a policy:
// use iam.Checker.Grant (or the Manager) for validated writes.
func (w *Writer) Grant(ctx context.Context, g iam.Grant) error {
	if !g.Valid() {
		return fmt.Errorf("%w: grant %+v", iam.ErrInvalid, g)
	}
	_, err := w.exec(ctx, Change{Op: OpGrant, Holder: g.Holder, Role: g.Role, Perm: g.Perm, On: g.On}, w.s.q.grant,
		append(grantArgs(g), expiresArg(g.ExpiresAt))...)
	return wrap("granting", err)
}

// Revoke removes g (idempotent).
func (w *Writer) Revoke(ctx context.Context, g iam.Grant) error {
	if !g.Valid() {
		return fmt.Errorf("%w: grant %+v", iam.ErrInvalid, g)
	}
	_, err := w.exec(ctx, Change{Op: OpRevoke, Holder: g.Holder, Role: g.Role, Perm: g.Perm, On: g.On}, w.s.q.revoke, grantArgs(g)...)
	return wrap("revoking", err)
}

// DeleteGrantsOn removes every grant on exactly on.
func (w *Writer) DeleteGrantsOn(ctx context.Context, on iam.Ref) error {
	if !on.Valid() {
		return fmt.Errorf("%w: ref %s", iam.ErrInvalid, on)
	}
	_, err := w.exec(ctx, Change{Op: OpDeleteGrantsOn, On: on}, w.s.q.deleteGrantsOn, on.Type, on.ID)
	return wrap("deleting grants", err)
}

// SetParents replaces the recorded parents of the object ref (none: forget
// them).
func (w *Writer) SetParents(ctx context.Context, ref iam.Ref, parents []iam.Ref) error {
	if !ref.IsObject() {
		return fmt.Errorf("%w: parents are recorded for objects, got %s", iam.ErrInvalid, ref)
	}
	for _, p := range parents {
		if !p.IsObject() {
			return fmt.Errorf("%w: parent %s of %s is not an object", iam.ErrInvalid, p, ref)
		}
	}
	// Record the change first: if a later statement fails and the
	// application commits what did succeed, the key is still dropped.
	if err := w.logRow(ctx, Change{Op: OpSetParents, On: ref}); err != nil {
		return wrap("setting parents", err)
	}
	if err := w.touched(ctx, iamcache.ParentsKey(ref)); err != nil {
		return wrap("setting parents", err)
	}
	if _, err := w.tx.ExecContext(ctx, w.s.q.deleteParents, ref.Type, ref.ID); err != nil {
		return wrap("setting parents", err)
	}
	for i, p := range parents {
		if _, err := w.tx.ExecContext(ctx, w.s.q.insertParent, ref.Type, ref.ID, i, p.Type, p.ID); err != nil {
			return wrap("setting parents", err)
		}
	}
	return nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("iamsql: %s: %w", what, err)
}

// Notification payloads are a JSON array of keys: {"k":1,"p":kind,"a":id}
// for a principal's holding, {"k":2|3,"a":type,"b":id} for the grants or the
// parents of a Ref. A payload over maxPayload bytes (PostgreSQL's limit is
// 8000), or with a string JSON cannot carry exactly (invalid UTF-8), is "*":
// drop everything.
const maxPayload = 7900

type wireKey struct {
	K uint8  `json:"k"`
	P uint8  `json:"p,omitempty"`
	A string `json:"a,omitempty"`
	B string `json:"b,omitempty"`
}

func encodeKeys(keys []iamcache.Key) string {
	wk := make([]wireKey, len(keys))
	for i, k := range keys {
		if !utf8.ValidString(k.Principal.ID) || !utf8.ValidString(k.Ref.Type) || !utf8.ValidString(k.Ref.ID) {
			return "*"
		}
		switch k.Kind {
		case iamcache.KeyHolding:
			wk[i] = wireKey{K: uint8(k.Kind), P: uint8(k.Principal.Kind), A: k.Principal.ID}
		default:
			wk[i] = wireKey{K: uint8(k.Kind), A: k.Ref.Type, B: k.Ref.ID}
		}
	}
	b, err := json.Marshal(wk)
	if err != nil || len(b) > maxPayload {
		return "*"
	}
	return string(b)
}

// decodeKeys parses a payload; ok is false for "*" or anything unreadable
// (the caller then drops everything).
func decodeKeys(payload string) (keys []iamcache.Key, ok bool) {
	var wk []wireKey
	if payload == "*" || json.Unmarshal([]byte(payload), &wk) != nil {
		return nil, false
	}
	keys = make([]iamcache.Key, 0, len(wk))
	for _, k := range wk {
		switch iamcache.KeyKind(k.K) {
		case iamcache.KeyHolding:
			keys = append(keys, iamcache.HoldingKey(iam.Principal{Kind: iam.PrincipalKind(k.P), ID: k.A}))
		case iamcache.KeyGrants:
			keys = append(keys, iamcache.GrantsKey(iam.StoredRef(k.A, k.B)))
		case iamcache.KeyParents:
			keys = append(keys, iamcache.ParentsKey(iam.Ref{Type: k.A, ID: k.B}))
		default:
			return nil, false
		}
	}
	return keys, true
}
